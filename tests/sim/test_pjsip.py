"""Simulated SIP calls: Originate PJSIP/<number>@trunk gives one visible channel."""

from __future__ import annotations

from tests.sim.harness import AGIFactory, connect_client, login, make_sim, new_clock, run_for


def _originate(c, channel, context="survey", exten="s"):
    c.send(
        "Originate",
        [
            ("Channel", channel),
            ("Context", context),
            ("Exten", exten),
            ("Priority", "1"),
            ("Timeout", "25000"),
            ("Async", "true"),
            ("CallerID", '"Survey" <5550100>'),
        ],
        action_id="o",
    )


def _channels(c):
    """Channels named by events (a failed OriginateResponse names the dial string instead)."""
    return {
        m.get("Channel") for m in c.events() if m.get("Channel") and m.name != "OriginateResponse"
    }


def test_busy_trunk_call():
    """PJSIP/<number>@trunk, busy (last digit 0): DialEnd BUSY, Reason 5, Hangup 17, one channel."""
    clock = new_clock()
    sim = make_sim(clock)
    c = connect_client(sim, clock)
    login(c, clock)
    _originate(c, "PJSIP/13800000000@trunk")
    run_for(clock, 2.0)
    assert _channels(c) == {"PJSIP/trunk-00000000"}
    assert [m["DialStatus"] for m in c.events("DialEnd")] == ["BUSY"]
    assert c.events("OriginateResponse")[0]["Reason"] == "5"
    assert [m["Cause"] for m in c.events("Hangup")] == ["17"]
    assert sim.live_channels() == 0


def test_answered_trunk_call_runs_the_survey():
    """An answered SIP call runs survey -> FastAGI with agi_type PJSIP and gets the callee's DTMF."""
    clock = new_clock()
    agi = AGIFactory(["ANSWER", 'STREAM FILE demo-congrats "0123456789*#"'], clock, linger=1.0)
    sim = make_sim(clock, agi_factory=agi)
    c = connect_client(sim, clock)
    login(c, clock)
    _originate(c, "PJSIP/13800000003@trunk")
    run_for(clock, 12.0)
    env = dict(line.split(": ", 1) for line in agi.sessions[0].env if ": " in line)
    assert env["agi_channel"] == "PJSIP/trunk-00000000" and env["agi_type"] == "PJSIP"
    assert agi.sessions[0].replies[1].startswith("200 result=49 ")
    assert [m["Digit"] for m in c.events("DTMFEnd")][:1] == ["1"]
    assert c.events("OriginateResponse")[0]["Reason"] == "4"
    assert not any(ch.startswith(("far/", "Local/")) for ch in _channels(c))


def test_trunk_call_bridged_to_an_agent_and_listed():
    """toagent from a SIP call: bridged with the interviewer's Local leg; listings show no far end."""
    clock = new_clock()
    sim = make_sim(clock)
    c = connect_client(sim, clock)
    login(c, clock)
    _originate(c, "PJSIP/13800000005@trunk", context="toagent")
    run_for(clock, 4.0)
    assert {m["Channel"] for m in c.events("BridgeEnter")} == {
        "PJSIP/trunk-00000000",
        "Local/agent1@agents-00000000;1",
    }
    c.send("CoreShowChannels", action_id="l")
    run_for(clock, 0.1)
    listed = [m["Channel"] for m in c.events("CoreShowChannel")]
    assert "PJSIP/trunk-00000000" in listed and not any(x.startswith("far/") for x in listed)
    run_for(clock, 30.0)
    assert sim.live_channels() == 0
