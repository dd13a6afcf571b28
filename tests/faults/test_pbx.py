"""The simulated Asterisk goes away under the daemon (traces g1 and g3), both as subprocesses."""

import socket
import sqlite3
import time

import pytest

from tests.faults.procs import Observer, Proc, healthy, make_rig, port_open, wait_for


def counts(db_path):
    con = sqlite3.connect(db_path)
    try:
        return dict(
            con.execute(
                "SELECT coalesce(outcome, status), count(*) FROM attempts GROUP BY 1"
            ).fetchall()
        )
    finally:
        con.close()


def live(db_path):
    """Attempts not ended yet (ringing ones may still read pending): id -> status."""
    con = sqlite3.connect(db_path)
    try:
        return dict(con.execute("SELECT id, status FROM attempts WHERE status != 'ended'"))
    finally:
        con.close()


def outcomes(db_path, ids):
    """id -> (status, outcome) for the given attempts."""
    con = sqlite3.connect(db_path)
    try:
        rows = con.execute("SELECT id, status, outcome FROM attempts").fetchall()
        return {i: (st, out) for i, st, out in rows if i in ids}
    finally:
        con.close()


def ami_command(port, command):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"Action: Login\r\nUsername: dialer\r\nSecret: dialer\r\n\r\n")
        s.sendall(f"Action: Command\r\nCommand: {command}\r\n\r\n".encode())
        time.sleep(0.3)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_pbx_killed_and_restarted(tmp_path):
    """g3: Asterisk kill -9ed with calls up: the daemon pauses, reconnects, ends them as lost, dials again."""
    db_path, ami, http, sim_args = make_rig(tmp_path)
    sim = Proc([*sim_args, "--seed", "1"], tmp_path / "sim1.log")
    daemon = observer = None
    try:
        wait_for(lambda: port_open(ami), 20, "the simulator")
        daemon = Proc(["run", "--config", str(tmp_path / "dialer.toml")], tmp_path / "run.log")
        wait_for(lambda: healthy(http), 60, "the daemon")
        wait_for(lambda: counts(db_path).get("bridged", 0) >= 50, 30, "bridged calls")
        sim.kill9()
        wait_for(lambda: not healthy(http), 10, "/healthz to report the AMI down")
        time.sleep(1.0)
        # the PBX is gone: the daemon can learn nothing more about these calls
        up_at_kill = live(db_path)
        assert len(up_at_kill) >= 50
        sim = Proc([*sim_args, "--seed", "2"], tmp_path / "sim2.log")
        wait_for(lambda: port_open(ami), 20, "the simulator again")
        observer = Observer(ami)
        observer.start()
        wait_for(lambda: healthy(http), 30, "the daemon to reconnect")
        wait_for(
            lambda: counts(db_path).get("lost", 0) >= len(up_at_kill),
            15,
            "the calls to be ended as lost",
        )
        wait_for(lambda: len(observer.dials) > 0, 15, "dialing to resume")
        # every call that was up when the PBX died ended as lost, and only those
        ended = outcomes(db_path, set(up_at_kill))
        assert ended == dict.fromkeys(up_at_kill, ("ended", "lost"))
        assert counts(db_path)["lost"] == len(up_at_kill)
        # what is on the PBX now was all dialed after the restart
        assert min(live(db_path), default=max(up_at_kill) + 1) > max(up_at_kill)
    finally:
        if observer is not None:
            observer.close()
        if daemon is not None:
            daemon.stop()
        sim.stop()


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_pbx_core_restart_now(tmp_path):
    """g1: `core restart now`: every call hung up with events, Shutdown, reconnect, dialing again."""
    db_path, ami, http, sim_args = make_rig(tmp_path)
    sim = Proc([*sim_args, "--seed", "3"], tmp_path / "sim.log")
    daemon = observer = None
    try:
        wait_for(lambda: port_open(ami), 20, "the simulator")
        daemon = Proc(["run", "--config", str(tmp_path / "dialer.toml")], tmp_path / "run.log")
        wait_for(lambda: healthy(http), 60, "the daemon")
        wait_for(lambda: counts(db_path).get("bridged", 0) >= 50, 30, "bridged calls")
        ami_command(ami, "core restart now")
        wait_for(lambda: not healthy(http), 10, "/healthz to report the AMI down")
        wait_for(lambda: healthy(http), 30, "the daemon to reconnect")
        observer = Observer(ami)
        observer.start()
        wait_for(lambda: len(observer.dials) > 0, 15, "dialing to resume")
        c = counts(db_path)
        # the restart hung the calls up with Hangup events: they end with real outcomes
        assert (
            sum(v for k, v in c.items() if k not in ("bridged", "answered", "pending", "lost"))
            >= 50
        )
    finally:
        if observer is not None:
            observer.close()
        if daemon is not None:
            daemon.stop()
        sim.stop()
