"""
A throw-away PostgreSQL cluster from Debian's binaries: initdb in a temp dir, unix
socket only (no TCP port), fsync off. Used by the test fixtures and by
`dialer bench import --postgres`.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def pg_bindir() -> Path | None:
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
