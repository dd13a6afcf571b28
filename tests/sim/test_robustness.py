"""Malformed input never crashes the simulator: it answers or closes the connection."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sim.harness import AGIFactory, connect_client, login, make_sim, new_clock, run_for

ACTIONS = [
    "Login",
    "Ping",
    "Originate",
    "Hangup",
    "Redirect",
    "Status",
    "Getvar",
    "Setvar",
    "CoreShowChannels",
    "BridgeList",
    "Command",
    "Events",
    "Challenge",
    "Nope",
]
KEYS = [
    "Channel",
    "Context",
    "Exten",
    "Priority",
    "Timeout",
    "Async",
    "Variable",
    "Cause",
    "Command",
    "EventMask",
    "Secret",
    "Username",
    "Key",
    "AuthType",
    "ChannelId",
]
VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            "Local/10003@callee",
            "Local/x@nowhere",
            "/.*/",
            "survey",
            "s",
            "true",
            "-1",
            "abc",
            "PJSIP/1@trunk",
            "Bogus/1",
            "core restart now",
        ]
    ),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"),
        max_size=12,
    ),
)
MESSAGE = st.tuples(
    st.sampled_from(ACTIONS), st.lists(st.tuples(st.sampled_from(KEYS), VALUES), max_size=6)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(MESSAGE, max_size=8), st.binary(max_size=64))
def test_random_actions_and_bytes(messages, junk):
    """Random actions then random bytes: no exception escapes, the sim keeps serving others."""
    clock = new_clock()
    sim = make_sim(clock, agi_factory=AGIFactory(["ANSWER", "NOOP"], clock, linger=0.1))
    c = connect_client(sim, clock)
    login(c, clock)
    for name, headers in messages:
        c.send(name, headers, action_id="x")
        run_for(clock, 0.2, step=0.05)
    if not c.closed:
        c.transport.write(junk + b"\r\n\r\n")
    run_for(clock, 70.0, step=0.5)
    if sim.pbx is None:  # a random "core stop now"
        sim.start()
    other = connect_client(sim, clock, "other")
    login(other, clock)
    assert other.response("login-1")["Response"] == "Success"


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\x00"),
            max_size=30,
        ),
        min_size=1,
        max_size=6,
    )
)
def test_random_agi_commands_get_replies(lines):
    """Every FastAGI command line, however odd, gets a 200/5xx reply and the call ends cleanly."""
    clock = new_clock()
    agi = AGIFactory(lines, clock, linger=0.1)
    sim = make_sim(clock, agi_factory=agi)
    c = connect_client(sim, clock)
    login(c, clock)
    c.send(
        "Originate",
        [
            ("Channel", "Local/10009@callee"),
            ("Context", "survey"),
            ("Exten", "s"),
            ("Priority", "1"),
            ("Async", "true"),
        ],
        action_id="o",
    )
    run_for(clock, 80.0, step=0.5)
    session = agi.sessions[0]
    finals = [r for r in session.replies if r[:3] in ("200", "510", "511") or r.startswith("520 ")]
    assert len(finals) == len(lines)
    assert sim.live_channels() == 0
