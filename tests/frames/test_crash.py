"""A process killed in the middle of an import leaves the store as it was."""

import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from dialer.scripts.units import DEMO_UNITS, read_units
from dialer.store.engine import create_engine
from dialer.store.frames import thd_upsert_units
from dialer.store.migrate import upgrade


@pytest.mark.slow
def test_sigkill_mid_import(tmp_path):
    """SIGKILL after batches were written: no contact and no import row survive."""
    db = tmp_path / "d.db"
    engine = create_engine(f"sqlite:///{db}")
    upgrade(engine)
    with engine.begin() as conn:
        thd_upsert_units(conn, read_units(DEMO_UNITS))
    big = tmp_path / "big.csv"
    with big.open("w", encoding="utf-8") as f:
        f.write("电话\n")
        f.writelines(f"138{i:08d}\n" for i in range(600_000))
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dialer",
            "--db",
            f"sqlite:///{db}",
            "contacts",
            "import",
            str(big),
            "--unit",
            "451202",
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wal = tmp_path / "d.db-wal"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        if wal.exists() and wal.stat().st_size > 2_000_000:  # several batches written
            break
        time.sleep(0.02)
    assert child.poll() is None, "the import finished before it could be killed"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    engine.dispose()
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM contacts")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM imports")).scalar() == 0
    engine.dispose()
