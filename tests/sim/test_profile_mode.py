"""Profile mode end to end: outcomes, determinism, respondents in the IVR, agents, recordings."""

from __future__ import annotations

import wave
from collections import Counter
from dataclasses import replace
from pathlib import Path

from dialer.sim.profile import load_profile
from tests.conftest import AUDIO_FIXTURES
from tests.sim.harness import (
    AGIFactory,
    connect_client,
    login,
    make_sim,
    new_clock,
    originate_into_hold,
    run_for,
)

PROFILES = Path(__file__).resolve().parents[2] / "dialer" / "sim" / "profiles"
REASON = {
    "answer": "4",
    "machine": "4",
    "busy": "5",
    "congestion": "8",
    "rejected": "0",
    "unallocated": "0",
    "no_answer": "3",
}


def _run(
    seed,
    n=60,
    context="hold",
    agi=None,
    recordings=None,
    seconds=60.0,
    audio=None,
    clock=None,
    profile=None,
):
    clock = clock or new_clock()
    sim = make_sim(
        clock,
        profile=profile or load_profile(PROFILES / "evening.toml"),
        seed=seed,
        agi_factory=agi,
        recordings=recordings,
        audio=audio,
    )
    c = connect_client(sim, clock)
    login(c, clock)
    for i in range(n):
        c.send(
            "Originate",
            [
                ("Channel", f"Local/1380000{i:04d}@callee"),
                ("Context", context),
                ("Exten", "s"),
                ("Priority", "1"),
                ("Timeout", "25000"),
                ("Async", "true"),
            ],
            action_id=f"o{i}",
        )
    run_for(clock, seconds, step=0.05)
    return sim, c


def test_same_seed_same_wire():
    """Two runs with the same seed send byte-identical AMI streams; another seed differs."""

    def wire(seed):
        _, c = _run(seed, n=30, seconds=40.0)
        return [tuple(m.headers) for _, m in c.messages if m.name not in ("SuccessfulAuth",)]

    first, second = wire(5), wire(5)
    assert first == second
    assert wire(6) != first


def test_outcomes_give_asterisk_reasons():
    """Each drawn outcome ends in the OriginateResponse reason Asterisk gives for it."""
    sim, c = _run(11, n=120, seconds=40.0)
    reasons = Counter(m["Reason"] for m in c.events("OriginateResponse"))
    expected = Counter()
    for outcome, count in sim.pbx.outcomes.items():
        expected[REASON[outcome]] += count
    assert reasons == expected
    assert set(sim.pbx.outcomes) >= {"answer", "busy", "no_answer"}


def test_respondents_press_keys_in_the_ivr():
    """Answering respondents react to GET DATA: mostly valid keys, some timeouts, some '*'."""
    script = ["ANSWER"] + ["GET DATA q 3000 1"] * 6 + ["HANGUP"]
    clock = new_clock()
    agi = AGIFactory(script, clock, linger=0.5)
    evening = load_profile(PROFILES / "evening.toml")
    # evening.toml's 1 % '*' gives one or two in a run this size; 5 % makes them certain.
    profile = replace(evening, respondent=replace(evening.respondent, star=0.05))
    sim, c = _run(3, n=80, context="survey", agi=agi, seconds=120.0, clock=clock, profile=profile)
    results = Counter()
    for s in agi.sessions:
        for r in s.replies[1:7]:
            results[r] += 1
    assert results["200 result=1"] > results["200 result=4"] > 0
    assert results["200 result= (timeout)"] > 0
    assert any(m["Digit"] == "*" for m in c.events("DTMFEnd")) or results["200 result=*"]
    assert len(agi.sessions) == sim.pbx.outcomes["answer"] + sim.pbx.outcomes.get("machine", 0)


def test_agents_talk_and_recordings_hold_speech(tmp_path):
    """toagent calls are bridged to simulated interviewers; MixMonitor files hold speech."""
    audio = sorted(AUDIO_FIXTURES.glob("*_8k.wav"))
    sim, c = _run(2, n=20, context="toagent", recordings=tmp_path, seconds=1200.0, audio=audio)
    bridged = {m["Channel"] for m in c.events("BridgeEnter")}
    assert bridged and sim.live_channels() == 0
    files = sorted(tmp_path.glob("*.wav"))
    assert len(files) == sim.pbx.outcomes["answer"] + sim.pbx.outcomes.get("machine", 0)
    with wave.open(str(files[0])) as w:
        frames = w.readframes(w.getnframes())
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
    assert w.getnframes() > 8000 * 10
    assert any(frames[i] for i in range(0, len(frames), 101))


def test_hold_timeout_goes_to_safe_harbour():
    """A call nobody redirects leaves hold after 120 s for the safe-harbour message."""
    from dialer.sim.profile import CalleeBehaviour, Dist, Profile

    clock = new_clock()
    always = Profile(
        mode="profile",
        callee=CalleeBehaviour(shares=(("answer", 1.0),), ring=Dist("fixed", 1.0, lo=1.0, hi=1.0)),
    )
    sim = make_sim(clock, profile=always)
    c = connect_client(sim, clock)
    login(c, clock)
    originate_into_hold(c, clock, 130.0, step=0.1)
    apps = [
        (m["Context"], m["Application"])
        for m in c.events("Newexten")
        if m["Channel"].endswith(";1") and m["Context"] in ("hold", "safeharbour")
    ]
    assert apps == [
        ("hold", "NoOp"),
        ("hold", "Answer"),
        ("hold", "AMD"),
        ("hold", "UserEvent"),
        ("hold", "Wait"),
        ("hold", "Goto"),
        ("safeharbour", "NoOp"),
        ("safeharbour", "Answer"),
        ("safeharbour", "Playback"),
        ("safeharbour", "Hangup"),
    ]
    assert [m["Cause"] for m in c.events("Hangup")] == ["16", "16"]


def test_planner_overrides_the_profile():
    """A planner decides each callee's dialplan, outcome label and respondent flag."""
    from dialer.sim import Plan, Step

    def planner(chan):
        if chan.context != "callee":
            return None
        busy = chan.exten.endswith("0")
        steps = (
            [Step("Wait", "1"), Step("Busy", "5")]
            if busy
            else [
                Step("Ringing", ""),
                Step("Wait", "2"),
                Step("Answer", ""),
                Step("Wait", "3"),
                Step("Hangup", "16"),
            ]
        )
        return Plan(steps, outcome="busy" if busy else "live", respondent=not busy)

    clock = new_clock()
    sim = make_sim(clock, profile=load_profile(PROFILES / "evening.toml"))
    sim.planner = planner
    sim.start()
    c = connect_client(sim, clock)
    login(c, clock)
    for i in range(10):
        c.send(
            "Originate",
            [
                ("Channel", f"Local/1390000000{i}@callee"),
                ("Context", "hold"),
                ("Exten", "s"),
                ("Priority", "1"),
                ("Async", "true"),
            ],
        )
    run_for(clock, 10.0)
    assert sim.pbx.outcomes == {"busy": 1, "live": 9}
    assert Counter(m["Reason"] for m in c.events("OriginateResponse")) == {"5": 1, "4": 9}


def _toagent_apps(agent_answers_after):
    from dialer.sim.profile import AgentBehaviour, CalleeBehaviour, Dist, Profile

    clock = new_clock()
    profile = Profile(
        mode="profile",
        callee=CalleeBehaviour(shares=(("answer", 1.0),), ring=Dist("fixed", 1.0, lo=1.0, hi=1.0)),
        agents=AgentBehaviour(
            answer_after=agent_answers_after, talk=Dist("fixed", 5.0, lo=5.0, hi=5.0)
        ),
    )
    sim = make_sim(clock, profile=profile)
    c = connect_client(sim, clock)
    login(c, clock)
    c.send(
        "Originate",
        [
            ("Channel", "Local/13800000000@callee"),
            ("Context", "toagent"),
            ("Exten", "agent3"),
            ("Priority", "1"),
            ("Async", "true"),
        ],
        action_id="o",
    )
    run_for(clock, 45.0, step=0.1)
    return [
        (m["Context"], m["Application"], m["AppData"])
        for m in c.events("Newexten")
        if m["Channel"].startswith("Local/13800000000@callee") and m["Channel"].endswith(";1")
    ]


def test_toagent_unanswered_interviewer_goes_to_survey():
    """The interviewer's phone rings out (Dial 30 s, NOANSWER): GotoIf sends the respondent to the survey, not a hang-up."""
    apps = _toagent_apps(40.0)
    assert apps[4:7] == [
        ("toagent", "NoOp", "DIALSTATUS=NOANSWER"),
        ("toagent", "GotoIf", "1?survey,s,1"),
        ("survey", "NoOp", "IVR survey campaign="),
    ]
    assert ("survey", "AGI", "agi://127.0.0.1:4573/survey") in apps


def test_toagent_answered_interviewer_hangs_up_after():
    """The interviewer answered and the call ended: DIALSTATUS=ANSWER, the GotoIf falls through to Hangup."""
    apps = _toagent_apps(0.0)
    assert ("toagent", "GotoIf", "0?survey,s,1") in apps
    assert not any(ctx == "survey" for ctx, _, _ in apps)
