"""Helpers shared by the tests and the benchmarks (a throw-away PostgreSQL server)."""
