"""Restart, stop and kill of the simulated Asterisk (traces g1, g2, g3)."""

from __future__ import annotations

from twisted.internet import protocol

from tests.sim.harness import connect_client, login, make_sim, new_clock, run_for


def _originate(c, number="10009", context="toagent"):
    c.send(
        "Originate",
        [
            ("Channel", f"Local/{number}@callee"),
            ("Context", context),
            ("Exten", "s"),
            ("Priority", "1"),
            ("Async", "true"),
        ],
        action_id="o",
    )


def test_restart_refuses_then_logs_in_before_fully_booted():
    """core restart now: Shutdown, EOF, refused ~0.75 s, then Login before FullyBooted (Uptime 0)."""
    clock = new_clock()
    sim = make_sim(clock)
    c = connect_client(sim, clock)
    login(c, clock)
    _originate(c)
    run_for(clock, 1.0)
    c.send("Command", [("Command", "core restart now")], action_id="r")
    run_for(clock, 1.2)
    assert c.events("Shutdown")[0]["Restart"] == "True"
    assert c.closed
    refused = []
    sim.ami_endpoint().connect(protocol.Factory.forProtocol(protocol.Protocol)).addErrback(
        refused.append
    )
    assert refused
    run_for(clock, 0.8)
    again = connect_client(sim, clock, "again")
    login(again, clock)
    assert again.response("login-1")["Response"] == "Success"
    assert again.events("FullyBooted") == []
    run_for(clock, 0.2)
    booted = again.events("FullyBooted")
    assert booted and booted[0]["Uptime"] == "0"
    _originate(again)
    run_for(clock, 0.1)
    assert again.events("Newchannel")[0]["Channel"].endswith("-00000000;1")


def test_stop_stays_down_until_started():
    """core stop now: Shutdown Restart False, then nothing accepts until start()."""
    clock = new_clock()
    sim = make_sim(clock)
    c = connect_client(sim, clock)
    login(c, clock)
    c.send("Command", [("Command", "core stop now")], action_id="s")
    run_for(clock, 0.1)
    assert c.events("Shutdown")[0]["Restart"] == "False"
    run_for(clock, 5.0)
    assert not sim.accepting
    sim.start()
    assert sim.accepting


def test_kill_sends_nothing_but_eof():
    """kill(): the live call gets no Hangup events, the connection just closes."""
    clock = new_clock()
    sim = make_sim(clock)
    c = connect_client(sim, clock)
    login(c, clock)
    _originate(c)
    run_for(clock, 1.0)
    before = len(c.messages)
    sim.kill()
    run_for(clock, 1.0)
    assert c.closed
    assert len(c.messages) == before
