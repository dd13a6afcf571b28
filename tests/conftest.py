"""
Shared fixtures.

C{db_url} runs a store test twice: on a SQLite file and on a real PostgreSQL started
from Debian's binaries in a temporary directory (unix socket only, no TCP port). When
the binaries are absent the PostgreSQL run is skipped with a message saying how to get
them; under CI (CI=true) their absence is an error.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TRACES = SHARED / "asterisk-reference" / "traces"
AUDIO_FIXTURES = SHARED / "audio-fixtures"


def _pg_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for c in candidates:
        if (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return Path(c)
    return None


class PostgresServer:
    """A throw-away PostgreSQL cluster listening on a unix socket in a temp dir."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="dialer-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.socket_dir.mkdir()
        self._user_args: list[str] = []
        self._counter = 0
        if os.geteuid() == 0:
            # initdb refuses to run as root: run the cluster as the `postgres` user.
            shutil.chown(self.root, "postgres")
            shutil.chown(self.socket_dir, "postgres")
            self._user_args = ["runuser", "-u", "postgres", "--"]

    def _run(self, *cmd: str) -> None:
        subprocess.run(
            [*self._user_args, *cmd], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "dialer",
            "-E",
            "UTF8",
            "--locale=C",
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-w",
            "-l",
            str(self.root / "log"),
            "-o",
            f"-c listen_addresses='' -k {self.socket_dir} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off",
            "start",
        )

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def new_database(self) -> str:
        """Create a fresh database and return its SQLAlchemy URL."""
        self._counter += 1
        name = f"t{self._counter}"
        self._run(str(self.bindir / "createdb"), "-h", str(self.socket_dir), "-U", "dialer", name)
        return f"postgresql+psycopg://dialer@/{name}?host={self.socket_dir}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _pg_bindir()
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
