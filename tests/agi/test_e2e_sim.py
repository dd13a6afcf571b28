"""End to end on virtual time: the simulated PBX originates calls into [survey], runs AGI()
against our FastAGI factory, and its simulated respondents press keys (valid, invalid,
nothing, '*'), leave comments and hang up mid-survey. The store is checked afterwards."""

import random
from pathlib import Path

import pytest
from twisted.internet.task import Clock

from dialer.agi.runner import RunnerConfig, SurveyRunner
from dialer.agi.server import FastAGIFactory
from dialer.events import EventBus, SurveyFinished
from dialer.sim.loopback import LoopbackEndpoint
from dialer.sim.pbx import OriginateRequest
from dialer.sim.profile import CalleeBehaviour, Dist, Profile, RespondentBehaviour
from dialer.sim.server import SimulatedPBX
from dialer.store import answers as store
from dialer.surveys import loader
from tests.agi.seed import seed
from tests.agi.test_runner import SyncStore

T5 = loader.load(Path(__file__).parent / "data" / "t5.yaml")
SUBSTANTIVE = {"q1", "q1_why", "q2", "q3", "q4", "q5"}


@pytest.fixture
def engine(sqlite_engine):
    return sqlite_engine


def _profile(**respondent):
    return Profile(
        callee=CalleeBehaviour(
            shares=(("answer", 1.0),),
            ring=Dist("fixed", 1.0, lo=1.0, hi=1.0),
            talk=Dist("fixed", 900.0, lo=900.0, hi=900.0),
        ),
        respondent=RespondentBehaviour(
            hesitation=Dist("uniform", 0.3, 2.0, 0.3, 2.0),
            keys=(("1", 0.4), ("2", 0.3), ("3", 0.2), ("4", 0.1)),
            **respondent,
        ),
    )


def _run(engine, profile, calls, seed_value=7):
    """Originate C{calls} survey calls in the simulator and run them to the end."""
    clock = Clock()
    with engine.begin() as conn:
        attempt_ids = seed(conn, attempts=calls, questionnaire="t5")
    finished = []
    bus = EventBus()
    bus.subscribe(SurveyFinished, finished.append)
    runner = SurveyRunner(SyncStore(engine), lambda name: T5, clock, RunnerConfig(), bus=bus)
    factory = FastAGIFactory(clock, {"survey": runner})
    sim = SimulatedPBX(
        clock=clock,
        rng=random.Random(seed_value),
        profile=profile,
        agi_endpoint=lambda host, port: LoopbackEndpoint(clock, factory, port),
    )
    for n, attempt_id in enumerate(attempt_ids):
        sim.pbx.originate(
            OriginateRequest(
                channel=f"Local/2000{n:04d}@callee",
                context="survey",
                exten="s",
                variables=[("MINYI_ATTEMPT", str(attempt_id)), ("CAMPAIGN", "1")],
                channel_id=f"call-{n}",
            ),
            None,
        )
    for _ in range(3000):  # 3000 virtual seconds at most
        clock.advance(1.0)
        if len(finished) == calls and not factory.sessions and sim.live_channels() == 0:
            break
    return attempt_ids, finished, factory, sim


def _stored(engine, attempt_ids):
    with engine.connect() as conn:
        return {
            a: (store.thd_ivr_session(conn, a), store.thd_answers(conn, a)) for a in attempt_ids
        }


def test_well_behaved_respondents_complete(engine):
    """Respondents who always press a valid key all complete; every answer is stored."""
    profile = _profile(no_input=0.0, invalid=0.0, star=0.0, hangup=0.0)
    attempt_ids, finished, factory, sim = _run(engine, profile, calls=20)
    assert len(finished) == 20
    assert {e.result for e in finished} == {"complete"}
    for session, answers in _stored(engine, attempt_ids).values():
        assert session.result == "complete" and session.end_reason == "completed"
        questions = {a.question for a in answers}
        # q2 asks "press # to confirm": the simulated respondent only knows digit keys
        # (dialer.sim.profile.react), so it fails the read-back and q2 is skipped.
        assert {"q1", "q3", "q4", "q5"} <= questions
        comment = [a for a in answers if a.question == "q_comment"]
        assert comment and comment[0].value.endswith(".wav")  # the simulated caller talks
    assert factory.sessions == set()  # we closed every socket
    assert sim.live_channels() == 0  # so Asterisk's dialplan went on and hung up


def test_mixed_respondents(engine):
    """Invalid keys, silence, '*' and hang-ups: every call ends, answers match each session."""
    profile = _profile(no_input=0.12, invalid=0.12, star=0.06, hangup=0.08)
    attempt_ids, finished, factory, sim = _run(engine, profile, calls=40, seed_value=11)
    assert len(finished) == 40
    results = {}
    for session, answers in _stored(engine, attempt_ids).values():
        assert session.ended_at is not None
        substantive = [a for a in answers if a.question in SUBSTANTIVE]
        assert session.answered == len(substantive)
        assert len({a.question for a in substantive}) == len(substantive)  # one answer each
        assert all(a.tries >= 1 for a in answers)
        results[session.result] = results.get(session.result, 0) + 1
        if session.result == "hangup_intro":
            assert session.end_reason == "hangup" and session.answered == 0
        if session.end_reason == "completed":  # skipped questions can still make a partial
            share = session.answered / session.asked
            expected = "complete" if share >= 0.8 else "partial" if share >= 0.5 else "breakoff"
            assert session.result == expected
    stored = [a for _, answers in _stored(engine, attempt_ids).values() for a in answers]
    assert any(a.tries > 1 for a in stored)  # retried after a wrong key or silence
    assert any(a.question == "q_comment" for a in stored)  # comments recorded
    assert results.get("complete", 0) > 0
    assert sum(results.get(r, 0) for r in ("partial", "breakoff", "hangup_intro")) > 0
    assert factory.sessions == set()
    assert sim.live_channels() == 0
