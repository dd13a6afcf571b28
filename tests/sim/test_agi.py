"""The simulator's FastAGI client: quoting, replies, HANGUP notices, never closing first."""

from __future__ import annotations

import pytest

from dialer.sim.agi import parse_command, parse_url
from tests.sim.harness import AGIFactory, connect_client, login, make_sim, new_clock, run_for


@pytest.mark.parametrize(
    "line, words",
    [
        (
            'STREAM FILE demo-congrats "0123456789*#"',
            ["STREAM", "FILE", "demo-congrats", "0123456789*#"],
        ),
        ('SET VARIABLE SURVEY_STATE "started"', ["SET", "VARIABLE", "SURVEY_STATE", "started"]),
        ('VERBOSE "a \\"quoted\\" word" 1', ["VERBOSE", 'a "quoted" word', "1"]),
        ('STREAM FILE beep ""', ["STREAM", "FILE", "beep", ""]),
    ],
)
def test_parse_command(line, words):
    """Words split like Asterisk: quotes group, backslash escapes, "" is an empty word."""
    assert parse_command(line) == words


def test_parse_url():
    """agi://host[:port]/script."""
    assert parse_url("agi://127.0.0.1:4573/survey") == ("127.0.0.1", 4573, "survey")
    assert parse_url("agi://dialer/survey") == ("dialer", 4573, "survey")
    assert parse_url("/usr/bin/script.sh") is None


def _call(script, number="10002", linger=5.0):
    clock = new_clock()
    agi = AGIFactory(script, clock, linger=linger)
    sim = make_sim(clock, agi_factory=agi)
    c = connect_client(sim, clock)
    login(c, clock)
    c.send(
        "Originate",
        [
            ("Channel", f"Local/{number}@callee"),
            ("Context", "survey"),
            ("Exten", "s"),
            ("Priority", "1"),
            ("Async", "true"),
        ],
        action_id="o",
    )
    return clock, sim, c, agi


def test_hangup_notice_when_idle_and_socket_left_open():
    """Callee hangs up while the server is idle: 'HANGUP' 50 ms later; the sim never closes."""
    # 10002 answers after 2 s and hangs up ~5.5 s later; the script idles after ANSWER.
    clock, _sim, c, agi = _call(["ANSWER"], linger=30.0)
    run_for(clock, 9.0)
    session = agi.sessions[0]
    lines = [line for _, d, line in session.log if d == "<<"]
    assert "HANGUP" in lines
    assert not session.closed
    one = [m for m in c.events("Hangup") if m["Channel"].endswith(";1")]
    assert one == []  # the ;1 leg waits for the FastAGI server to close the socket
    run_for(clock, 30.0)
    assert session.closed
    assert [m["Cause"] for m in c.events("Hangup") if m["Channel"].endswith(";1")] == ["16"]


def test_dead_channel_replies():
    """After the hang-up: STREAM FILE gets 511, GET VARIABLE still answers, HANGUP precedes."""
    script = [
        "ANSWER",
        'STREAM FILE tt-monkeys "12#"',
        "GET VARIABLE CHANNEL",
        'STREAM FILE beep ""',
        'VERBOSE "x" 1',
    ]
    clock, _sim, _c, agi = _call(script)
    run_for(clock, 12.0)
    replies = agi.sessions[0].replies
    assert replies[1].startswith("200 result=-1 endpos=")
    assert replies[2].startswith("200 result=1 (Local/10002@callee-")
    assert replies[3].startswith("511 ")
    assert replies[4] == "200 result=1"
    log = [line for _, d, line in agi.sessions[0].log]
    assert log.index("HANGUP") < log.index(replies[2])


def test_usage_and_unknown_command():
    """510 for an unknown command, 520 multi-line usage for bad syntax."""
    clock, _sim, _c, agi = _call(["FOO BAR", "STREAM FILE", "NOOP"], number="10009")
    run_for(clock, 2.0)
    replies = agi.sessions[0].replies
    assert replies[0] == "510 Invalid or unknown command"
    assert replies[1] == "520-Invalid command syntax.  Proper usage follows:"
    assert replies[-2] == "520 End of proper usage."
    assert replies[-1] == "200 result=0"


def test_redirect_during_agi():
    """Redirect mid-survey: the script gets HANGUP and 511s; once it closes, the call moves on."""
    clock, sim, c, agi = _call(
        ["ANSWER", "WAIT FOR DIGIT 20000", 'STREAM FILE beep ""'], number="10009", linger=1.0
    )
    run_for(clock, 2.0)
    one = next(n for n in sim.pbx.channels if n.endswith(";1"))
    c.send(
        "Redirect",
        [("Channel", one), ("Context", "hold"), ("Exten", "s"), ("Priority", "1")],
        action_id="r",
    )
    run_for(clock, 3.0)
    session = agi.sessions[0]
    assert "HANGUP" in [line for _, d, line in session.log if d == "<<"]
    assert session.replies[1] == "200 result=-1" and session.replies[2].startswith("511 ")
    assert session.closed
    hold = [m for m in c.events("Newexten") if m["Channel"] == one and m["Context"] == "hold"]
    assert [m["Application"] for m in hold][:3] == ["NoOp", "Answer", "AMD"]
    assert sim.pbx.find(one) is not None
    status = [m["Value"] for m in c.events("VarSet") if m["Variable"] == "AGISTATUS"]
    assert status == ["HANGUP"]
