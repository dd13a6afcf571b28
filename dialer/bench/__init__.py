"""
Benchmarks for `dialer bench NAME`: one module per name.

Each module defines C{add_arguments(parser)} and C{run(args) -> dict} returning the
figures; the command prints them, and with C{--json} prints them last as one JSON object.
Benchmarks report figures; they assert nothing (tests do that).
"""
