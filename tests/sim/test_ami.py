"""The simulator's AMI server: banner, logins, permissions, event masks, bad input."""

from __future__ import annotations

import hashlib

from dialer.ami.message import Message
from dialer.sim.ami import BANNER
from tests.sim.harness import connect_client, login, make_sim, new_clock, run_for


def _setup():
    clock = new_clock()
    sim = make_sim(clock)
    return clock, sim, connect_client(sim, clock)


def test_banner_is_one_line_without_blank_line():
    """The banner is exactly 'Asterisk Call Manager/11.0.0\\r\\n'."""
    _clock, _sim, c = _setup()
    assert BANNER == b"Asterisk Call Manager/11.0.0\r\n"
    assert c.framer.banner == "Asterisk Call Manager/11.0.0"
    assert c.messages == []


def test_md5_challenge_login():
    """Challenge + Login AuthType md5 with md5(challenge + secret) is accepted."""
    clock, _sim, c = _setup()
    c.send("Challenge", [("AuthType", "MD5")], action_id="ch")
    clock.advance(0)
    challenge = c.response("ch")["Challenge"]
    key = hashlib.md5((challenge + "dialer").encode()).hexdigest()
    c.send("Login", [("AuthType", "MD5"), ("Username", "dialer"), ("Key", key)], action_id="l")
    clock.advance(0)
    assert c.response("l")["Message"] == "Authentication accepted"
    assert [m.name for m in c.events()][:2] == ["FullyBooted", "SuccessfulAuth"]


def test_wrong_secret_fails_after_a_second_and_closes():
    """A bad login is answered after about 1 s, then the server closes; others see InvalidPassword."""
    clock, sim, main = _setup()
    login(main, clock)
    bad = connect_client(sim, clock, "bad")
    bad.send("Login", [("Username", "dialer"), ("Secret", "nope")], action_id="x")
    clock.advance(0)
    clock.advance(0.5)
    assert bad.response("x") is None
    assert main.events("InvalidPassword")
    run_for(clock, 0.6)
    assert bad.response("x")["Message"] == "Authentication failed"
    assert bad.closed


def test_actions_before_login_are_denied_and_the_connection_stays():
    """Ping before Login: Permission denied, connection still open, then Login works."""
    clock, _sim, c = _setup()
    c.send("Ping", action_id="p")
    clock.advance(0)
    assert c.response("p")["Message"] == "Permission denied"
    assert not c.closed
    login(c, clock)
    assert c.response("login-1")["Response"] == "Success"


def test_unknown_and_missing_actions():
    """Unknown action and a message without Action get the Asterisk texts."""
    clock, _sim, c = _setup()
    login(c, clock)
    c.send("NoSuchAction", action_id="u")
    c.send_raw(Message([("ActionID", "m")]))
    clock.advance(0)
    assert c.response("u")["Message"].startswith("Invalid/unknown command: NoSuchAction.")
    assert c.response("m")["Message"] == "Missing action in request"
    assert len(c.events("RequestBadFormat")) == 2


def _originate(c, number, context="hold", action_id="o"):
    c.send(
        "Originate",
        [
            ("Channel", f"Local/{number}@callee"),
            ("Context", context),
            ("Exten", "s"),
            ("Priority", "1"),
            ("Async", "true"),
        ],
        action_id=action_id,
    )


def test_event_mask_filters_classes():
    """Events: call,system drops dialplan events (Newexten, VarSet) but keeps call events."""
    clock, _sim, c = _setup()
    login(c, clock)
    c.send("Events", [("EventMask", "call,system")], action_id="e")
    clock.advance(0)
    assert c.response("e")["Events"] == "On"
    _originate(c, "10009")
    run_for(clock, 1.0)
    names = {m.name for m in c.events()}
    assert "Newchannel" in names and "OriginateResponse" in names
    assert "Newexten" not in names and "VarSet" not in names


def test_events_off_and_login_events_header():
    """Login with Events: off receives no events."""
    clock, _sim, c = _setup()
    c.send(
        "Login", [("Username", "dialer"), ("Secret", "dialer"), ("Events", "off")], action_id="l"
    )
    clock.advance(0)
    _originate(c, "10009")
    run_for(clock, 1.0)
    assert c.events() == []
    assert c.response("o")["Message"] == "Originate successfully queued"


def test_garbage_closes_the_connection():
    """A line that is not 'Key: Value' closes the session (nothing crashes)."""
    clock, sim, c = _setup()
    login(c, clock)
    c.transport.write(b"this is not AMI\r\n\r\n")
    run_for(clock, 0.1)
    assert c.closed
    other = connect_client(sim, clock, "other")
    login(other, clock)
    assert other.response("login-1")["Response"] == "Success"


def test_sync_originate_reply_waits_for_the_answer():
    """Without Async the response comes when the call is answered (e2)."""
    clock, _sim, c = _setup()
    login(c, clock)
    c.send(
        "Originate",
        [("Channel", "Local/10005@callee"), ("Context", "hold"), ("Exten", "s"), ("Priority", "1")],
        action_id="s",
    )
    run_for(clock, 1.0)
    assert c.response("s") is None
    run_for(clock, 2.0)
    assert c.response("s")["Message"] == "Originate successfully queued"
    assert not c.events("OriginateResponse")


def test_hangup_while_ringing_ends_the_originate():
    """Hangup of a ringing ;1 gives DialEnd CANCEL and a failed OriginateResponse."""
    clock, sim, c = _setup()
    login(c, clock)
    _originate(c, "10001", "survey")
    run_for(clock, 2.0)
    one = next(n for n in sim.pbx.channels if n.endswith(";1"))
    c.send("Hangup", [("Channel", one)], action_id="h")
    run_for(clock, 0.5)
    assert [m["DialStatus"] for m in c.events("DialEnd")] == ["CANCEL"]
    assert c.events("OriginateResponse")[0]["Response"] == "Failure"
    assert sim.live_channels() == 0


def test_hangup_by_regex_lists_the_channels():
    """Hangup Channel: /regex/ is a list action: items, then ChannelsHungupListComplete."""
    clock, sim, c = _setup()
    login(c, clock)
    _originate(c, "10009")
    run_for(clock, 1.0)
    c.send("Hangup", [("Channel", "/^Local/10009@callee-.*;1$/")], action_id="rx")
    run_for(clock, 0.5)
    assert c.response("rx")["EventList"] == "start"
    assert next(m["Channel"] for m in c.events("ChannelHungup")).endswith(";1")
    done = c.events("ChannelsHungupListComplete")[0]
    assert done["ListItems"] == "1" and done["ActionID"] == "rx"
    assert sim.live_channels() == 0


def test_redirect_out_of_a_bridge():
    """Redirecting a bridged caller to hold breaks the bridge and ends the interviewer's leg."""
    clock, sim, c = _setup()
    login(c, clock)
    _originate(c, "10009", context="toagent")
    run_for(clock, 2.0)
    caller = next(n for n in sim.pbx.channels if n.startswith("Local/10009") and n.endswith(";1"))
    c.send(
        "Redirect",
        [("Channel", caller), ("Context", "hold"), ("Exten", "s"), ("Priority", "1")],
        action_id="r",
    )
    run_for(clock, 1.0)
    assert c.response("r")["Message"] == "Redirect successful"
    assert len(c.events("BridgeLeave")) == 2 and c.events("BridgeDestroy")
    ended = {m["Channel"] for m in c.events("Hangup")}
    assert all(ch.startswith("Local/agent1@agents") for ch in ended) and len(ended) == 2
    assert sim.pbx.find(caller).context == "hold"
