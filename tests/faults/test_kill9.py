"""kill -9 the daemon with ~100 calls live against the simulator (both real subprocesses).

Checks the rules of DESIGN.md §7: no acknowledged disposition is lost, no number is
dialed twice, and dialing resumes within 5 s of the restart. Calls that end while the
daemon is dead get their real disposition from the AstDB record Asterisk's hangup
handler wrote (not `lost`), and none of their numbers is dialed again.
"""

import sqlite3
import time

import pytest

from tests.faults.procs import PROFILE, Observer, Proc, healthy, make_rig, port_open, wait_for

# Interviewers talk 3-60 s, so some interviews end while the daemon is dead.
SHORT_TALKS = PROFILE.replace(
    "[agents]\nanswer_after = 0.2\ntalk = 300",
    "[agents]\nanswer_after = 0.2\ntalk = { min = 3, max = 60 }",
)
DEAD = 8.0  # seconds the daemon stays dead
INTERVIEW = {"complete", "partial", "refusal", "hard_refusal", "callback", "hangup_intro"}


def outcomes_of(db_path, numbers):
    """number -> [(attempt id, status, outcome)] for those numbers' attempts."""
    con = sqlite3.connect(db_path)
    try:
        rows = con.execute(
            "SELECT c.number, a.id, a.status, a.outcome FROM attempts a "
            "JOIN contacts c ON c.id = a.contact_id ORDER BY a.id"
        ).fetchall()
    finally:
        con.close()
    found = {}
    for number, aid, status, outcome in rows:
        if number in numbers:
            found.setdefault(number, []).append((aid, status, outcome))
    return found


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
    assert SHORT_TALKS != PROFILE
    db_path, ami, http, sim_args = make_rig(tmp_path, SHORT_TALKS)
    sim = Proc([*sim_args, "--seed", "5"], tmp_path / "sim.log")
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
        killed = time.monotonic()
        dials_at_kill = len(observer.dials)
        time.sleep(DEAD)
        assert len(observer.dials) == dials_at_kill  # nothing dials while the daemon is dead
        restarted = time.monotonic()
        # the calls whose channel hung up while no daemon listened
        causes = {n: cause for t, n, cause in observer.hangups if killed <= t < restarted}
        ended_dead = set(causes)
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
        # the calls that ended while the daemon was dead: their real dispositions, not lost
        assert len(ended_dead) >= 3, ended_dead
        wait_for(
            lambda: all(
                st == "ended" for rs in outcomes_of(db_path, ended_dead).values() for _, st, _ in rs
            ),
            30,
            "the calls that ended while the daemon was dead to get their dispositions",
        )
        dead = outcomes_of(db_path, ended_dead)
        assert set(dead) == ended_dead
        assert all(len(rs) == 1 for rs in dead.values()), "a number ended while dead was redialed"
        got = {number: rs[0][2] for number, rs in dead.items()}
        assert "lost" not in got.values(), got
        assert set(got.values()) & INTERVIEW, got  # interviews given their results after restart
        # each as the call really ended (the hang-up cause the simulator announced)
        expected = {19: {"no_answer"}, 1: {"invalid"}, 16: INTERVIEW | {"abandoned", "machine"}}
        for number, outcome in got.items():
            # cause 0: a Local ;1 the dial itself dropped (busy / congestion in this rig)
            assert outcome in expected.get(causes[number], {"no_answer"}), (causes[number], outcome)
        log2 = (tmp_path / "run2.log").read_text(encoding="utf-8", errors="replace")
        assert "ended while away (AstDB)" in log2
        print(f"ended while dead {len(ended_dead)}: {sorted(got.values())}")
        (tmp_path / "figures.txt").write_text(
            f"resume {resume:.3f}\nended_while_dead {len(ended_dead)}\n", encoding="utf-8"
        )
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
