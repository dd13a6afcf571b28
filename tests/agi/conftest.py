"""Fixtures of the FastAGI tests."""

import pytest


@pytest.fixture
def sqlite_engine(tmp_path):
    """A SQLite store at head (the thd_* functions also run on PostgreSQL in test_store_answers)."""
    from dialer.store.engine import create_engine
    from dialer.store.migrate import upgrade

    eng = create_engine(f"sqlite:///{tmp_path / 'agi.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()
