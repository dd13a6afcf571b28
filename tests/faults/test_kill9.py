"""kill -9 the daemon with ~100 calls live against the simulator (both real subprocesses).

Checks the rules of DESIGN.md §7: no acknowledged disposition is lost, no number is
dialed twice, and dialing resumes within 5 s of the restart.
"""

import sqlite3
import time

import pytest

from dialer.store import campaigns as store
from dialer.store.engine import create_engine
from dialer.store.migrate import upgrade
from tests.campaign.storehelp import make_campaign, seed_frame
from tests.faults.procs import ROOT, Observer, Proc, free_port, healthy, port_open, wait_for

AGENTS = 100

PROFILE = """
version = 1
mode = "profile"
description = "fault test: most numbers answer fast, long calls"
[callee]
answer = 0.85
busy = 0.05
unallocated = 0.02
no_answer_after = 6
ring = { min = 0.5, max = 2.0 }
talk = 300
[agents]
answer_after = 0.2
talk = 300
"""


def config(tmp_path, db, ami, agi, http):
    names = ", ".join(f'"agent{i}"' for i in range(1, AGENTS + 1))
    return f"""
[database]
url = "{db}"
[[ami]]
name = "pbx1"
endpoint = "tcp:127.0.0.1:{ami}"
secret = "dialer"
lines = 160
[agi]
endpoint = "tcp:{agi}:interface=127.0.0.1"
scripts = "{ROOT / "ivr_scripts"}"
[http]
endpoint = "tcp:{http}:interface=127.0.0.1"
[dialer]
always_open = true
heartbeat = 0.5
drain_timeout = 2.0
[agents]
names = [{names}]
simulated = true
wrap_mean = 5.0
[campaigns]
poll = 0.5
"""


def ended_rows(db_path):
    con = sqlite3.connect(db_path)
    try:
        return dict(
            con.execute(
                "SELECT id, outcome || '|' || disposition FROM attempts WHERE status = 'ended'"
            ).fetchall()
        )
    finally:
        con.close()


def live_count(db_path):
    con = sqlite3.connect(db_path)
    try:
        return con.execute("SELECT count(*) FROM attempts WHERE status != 'ended'").fetchone()[0]
    finally:
        con.close()


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_kill9_daemon_with_100_live_calls(tmp_path):
    """Kill -9 mid-campaign, restart: dispositions kept, nobody dialed twice, dialing back within 5 s."""
    db_path = tmp_path / "fault.db"
    url = f"sqlite:///{db_path}"
    eng = create_engine(url)
    upgrade(eng)
    with eng.begin() as conn:
        seed_frame(conn, n_units=4, per_unit=100)
        cid = make_campaign(conn, mode="progressive")
        store.thd_set_status(conn, cid, "running", time.time())
    eng.dispose()
    ami, agi, http = free_port(), free_port(), free_port()
    (tmp_path / "profile.toml").write_text(PROFILE, encoding="utf-8")
    (tmp_path / "dialer.toml").write_text(config(tmp_path, url, ami, agi, http), encoding="utf-8")
    sim = Proc(
        [
            "sim",
            "--ami",
            f"127.0.0.1:{ami}",
            "--agi",
            f"127.0.0.1:{agi}",
            "--profile",
            str(tmp_path / "profile.toml"),
            "--seed",
            "5",
            "--recordings",
            str(tmp_path / "rec"),
        ],
        tmp_path / "sim.log",
    )
    daemon = observer = None
    try:
        wait_for(lambda: port_open(ami), 20, "the simulator's AMI port")
        observer = Observer(ami)
        observer.start()
        daemon = Proc(["run", "--config", str(tmp_path / "dialer.toml")], tmp_path / "run1.log")
        wait_for(lambda: healthy(http), 60, "the daemon's /healthz")
        wait_for(lambda: live_count(db_path) >= 95, 30, "about 100 live calls")
        time.sleep(2.0)
        before = ended_rows(db_path)
        live_before = live_count(db_path)
        daemon.kill9()
        dials_at_kill = len(observer.dials)
        time.sleep(1.0)
        assert len(observer.dials) == dials_at_kill  # nothing dials while the daemon is dead
        restarted = time.monotonic()
        daemon = Proc(["run", "--config", str(tmp_path / "dialer.toml")], tmp_path / "run2.log")
        first_new = wait_for(
            lambda: len(observer.dials) > dials_at_kill and observer.dials[dials_at_kill][0],
            20,
            "a new dial after the restart",
        )
        resume = first_new - restarted
        time.sleep(3.0)
        after = ended_rows(db_path)
        # every disposition acknowledged before the kill is still there, unchanged
        assert {k: after[k] for k in before} == before
        numbers = [n for _, n in observer.dials]
        assert len(numbers) == len(set(numbers)), "a number was dialed twice"
        log2 = (tmp_path / "run2.log").read_text(encoding="utf-8", errors="replace")
        assert "reconciled pbx1" in log2
        assert live_before >= 95
        print(
            f"\nlive at kill {live_before}, dials {len(numbers)}, resume after restart {resume:.2f} s"
        )
        assert resume < 5.0  # measured from the restart command: process start included
        (tmp_path / "figures.txt").write_text(f"resume {resume:.3f}\n", encoding="utf-8")
        # SIGTERM: the controller drains (drain_timeout 2 s) while AMI is still connected
        daemon.stop()
        log2 = (tmp_path / "run2.log").read_text(encoding="utf-8", errors="replace")
        assert "Received SIGTERM" in log2
        after = log2[log2.index("Received SIGTERM") :]
        assert after.index("stopping with") < after.index("FastAGIFactory")
    finally:
        if observer is not None:
            observer.close()
        if daemon is not None:
            daemon.stop()
        sim.stop()
