"""
Shared fixtures.

C{db_url} runs a store test twice: on a SQLite file and on a real PostgreSQL started
from Debian's binaries in a temporary directory (unix socket only, no TCP port). When
the binaries are absent the PostgreSQL run is skipped with a message saying how to get
them; under CI (CI=true) their absence is an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.testing.pgserver import PostgresServer, pg_bindir

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TRACES = SHARED / "asterisk-reference" / "traces"
AUDIO_FIXTURES = SHARED / "audio-fixtures"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = pg_bindir()
    if bindir is None:
        message = (
            "PostgreSQL binaries not found: `apt-get install postgresql` "
            "(or run `make test` as root) to run the store tests on PostgreSQL too"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = PostgresServer(bindir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dialer.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database()


@pytest.fixture
def engine(db_url: str):
    """An engine on an empty database upgraded to the newest schema."""
    from dialer.store.engine import create_engine
    from dialer.store.migrate import upgrade

    eng = create_engine(db_url)
    upgrade(eng)
    try:
        yield eng
    finally:
        eng.dispose()
