"""End to end on virtual time: the simulated PBX originates calls into [survey], runs AGI()
against our FastAGI factory, and its simulated respondents press valid keys, invalid keys,
nothing, '*' to repeat, '#' to confirm, hang up mid-survey and speak a comment. The stored
answers (question, code, key, tries, attempt, mode=ivr) and each attempt's AAPOR disposition
are checked afterwards."""

import random
from pathlib import Path

import pytest
import sqlalchemy as sa
from twisted.internet.task import Clock

from dialer.agi.runner import RunnerConfig, SurveyRunner
from dialer.agi.server import FastAGIFactory
from dialer.events import EventBus, SurveyFinished
from dialer.sim.loopback import LoopbackEndpoint
from dialer.sim.pbx import OriginateRequest
from dialer.sim.profile import CalleeBehaviour, Dist, Profile, RespondentBehaviour
from dialer.sim.respondent import Respondent, prompt_keys_of
from dialer.sim.server import SimulatedPBX
from dialer.store import answers as store
from dialer.store import schema
from dialer.surveys import loader
from tests.agi.seed import seed
from tests.agi.test_runner import SyncStore

ROOT = Path(__file__).resolve().parents[2]
T5 = loader.load(Path(__file__).parent / "data" / "t5.yaml")
HECHI = loader.load(ROOT / "ivr_scripts" / "hechi_annual.yaml")
SUBSTANTIVE = {"q1", "q1_why", "q2", "q3", "q4", "q5"}
#: result -> AAPOR code (dialer.campaign.dispositions)
AAPOR = {"complete": "1.1", "partial": "1.2", "breakoff": "2.12", "hangup_intro": "2.11"}


@pytest.fixture
def engine(sqlite_engine):
    return sqlite_engine


def _profile(keys=(("1", 0.4), ("2", 0.3), ("3", 0.2), ("4", 0.1)), **respondent):
    return Profile(
        callee=CalleeBehaviour(
            shares=(("answer", 1.0),),
            ring=Dist("fixed", 1.0, lo=1.0, hi=1.0),
            talk=Dist("fixed", 900.0, lo=900.0, hi=900.0),
        ),
        respondent=RespondentBehaviour(
            hesitation=Dist("uniform", 0.3, 2.0, 0.3, 2.0), keys=keys, **respondent
        ),
    )


class Run:
    """C{calls} survey calls originated in the simulator and run to the end; the store after."""

    def __init__(
        self, engine, profile, calls, *, seed_value=7, script=T5, turns=None, understands=True
    ):
        clock = Clock()
        with engine.begin() as conn:
            self.attempt_ids = seed(conn, attempts=calls, questionnaire=script.id)
        self.engine = engine
        self.finished = []
        self.people = {}
        bus = EventBus()
        bus.subscribe(SurveyFinished, self.finished.append)
        runner = SurveyRunner(
            SyncStore(engine), lambda name: script, clock, RunnerConfig(), bus=bus
        )
        self.factory = FastAGIFactory(clock, {"survey": runner})
        keys = prompt_keys_of(script) if understands else None

        def planner(callee):
            """Call n's respondent: scripted turns (turns[n]) or drawn from the profile."""
            n = int(callee.exten[4:])
            callee.person = Respondent(
                profile.respondent,
                random.Random(seed_value * 1000 + n),
                keys,
                script=turns[n] if turns else (),
            )
            self.people[n] = callee.person
            return None  # the profile decides the rest (answer, talk time)

        self.sim = SimulatedPBX(
            clock=clock,
            rng=random.Random(seed_value),
            profile=profile,
            agi_endpoint=lambda host, port: LoopbackEndpoint(clock, self.factory, port),
            planner=planner,
            prompt_keys=keys,
        )
        for n, attempt_id in enumerate(self.attempt_ids):
            self.sim.pbx.originate(
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
            if len(self.finished) == calls and self.all_ended():
                break

    def session(self, n):
        with self.engine.connect() as conn:
            return store.thd_ivr_session(conn, self.attempt_ids[n])

    def answers(self, n):
        with self.engine.connect() as conn:
            return {a.question: a for a in store.thd_answers(conn, self.attempt_ids[n])}

    def attempt(self, n):
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(schema.attempts).where(schema.attempts.c.id == self.attempt_ids[n])
            ).one()

    def all_ended(self):
        """Every call ended: our sockets closed, Asterisk's channels gone."""
        return self.factory.sessions == set() and self.sim.live_channels() == 0


# Scripted respondents on t5 (keys fixed to "2": a valid answer is always 2). Turns are
# consumed per question as asked; a "#" read-back and each re-ask are turns of their own.
V = "valid"
SCENARIOS = {
    "valid keys, # to confirm, comment ended with #": (
        [V, V, V, V, V, V, "comment#"],
        {"q1": (2, "2", 1), "q2": (2, "2", 1), "q3": (2, "2", 1), "q4": (2, "2", 1)}
        | {"q5": (2, "2", 1), "q_comment": (None, None, 1)},
        ("complete", "completed"),
    ),
    "invalid key, silence and * before answering; skipped after two wrong/no keys": (
        # q1 wrong then 2; q2 nothing then 2, #; q3 '*' then 2#; q4 wrong twice; q5 nothing
        # twice; a comment that ends on silence
        ["invalid", V, "none", V, V, "star", V, "invalid", "invalid", "none", "none", "comment"],
        {"q1": (2, "2", 2), "q2": (2, "2", 2), "q3": (2, "2", 1), "q_comment": (None, None, 1)},
        ("partial", "completed"),  # 3 of 5 answered
    ),
    "hang-up at q4 after three answers": (
        [V, V, V, V, "hangup"],
        {"q1": (2, "2", 1), "q2": (2, "2", 1), "q3": (2, "2", 1)},
        ("partial", "hangup"),  # 3 of 5
    ),
    "hang-up at q3 after two answers": (
        [V, V, V, "hangup"],
        {"q1": (2, "2", 1), "q2": (2, "2", 1)},
        ("breakoff", "hangup"),  # 2 of 5
    ),
    "hang-up during the intro": (
        ["hangup"],
        {},
        ("hangup_intro", "hangup"),
    ),
    "hang-up while speaking the comment: the comment is kept": (
        [V, V, V, V, V, V, "hangup"],
        {"q1": (2, "2", 1), "q2": (2, "2", 1), "q3": (2, "2", 1), "q4": (2, "2", 1)}
        | {"q5": (2, "2", 1), "q_comment": (None, None, 1)},
        ("complete", "hangup"),  # 5 of 5: the hang-up came after the last question
    ),
    "silent during the comment: nothing recorded": (
        [V, V, V, V, V, V, "none"],
        {"q1": (2, "2", 1), "q2": (2, "2", 1), "q3": (2, "2", 1), "q4": (2, "2", 1)}
        | {"q5": (2, "2", 1)},
        ("complete", "completed"),
    ),
    "'*' at the read-back asks q2 again": (
        [V, V, "star", V, V, V, V, V, "comment#"],
        {"q1": (2, "2", 1), "q2": (2, "2", 1), "q3": (2, "2", 1), "q4": (2, "2", 1)}
        | {"q5": (2, "2", 1), "q_comment": (None, None, 1)},
        ("complete", "completed"),
    ),
}


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    """One simulator run with one call per scenario (module-scoped: it is the slow part)."""
    from dialer.store.engine import create_engine
    from dialer.store.migrate import upgrade

    eng = create_engine(f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'agi.db'}")
    upgrade(eng)
    turns = [turns for turns, _, _ in SCENARIOS.values()]
    run = Run(eng, _profile(keys=(("2", 1.0),)), len(turns), turns=turns)
    yield run
    eng.dispose()


@pytest.mark.parametrize("n", range(len(SCENARIOS)), ids=list(SCENARIOS))
def test_scripted_respondent(scripted, n):
    """What the simulated caller did is exactly what is stored, with the AAPOR disposition."""
    turns, expected, (result, end_reason) = list(SCENARIOS.values())[n]
    run = scripted
    person = run.people[n]
    assert [kind for kind, _ in person.actions] == turns  # each turn was used, no more
    for kind, key in person.actions:
        if kind == "invalid":
            assert key not in ("1", "2", "3", "4", "*", "#")
        if kind == "star":
            assert key == "*"
    answers = run.answers(n)
    got = {q: (a.code, a.key, a.tries) for q, a in answers.items()}
    assert got == expected
    attempt = run.attempt(n)
    for a in answers.values():
        assert (a.attempt_id, a.contact_id, a.mode, a.language) == (
            attempt.id,
            attempt.contact_id,
            "ivr",
            "zh-CN",
        )
        assert (a.unit_id is not None) == (a.question in ("q1", "q2", "q3"))
    if "q_comment" in answers:
        assert answers["q_comment"].value.endswith(f"{attempt.id}-q_comment.wav")
    session = run.session(n)
    substantive = [q for q in answers if q in SUBSTANTIVE]
    assert (session.result, session.end_reason, session.answered) == (
        result,
        end_reason,
        len(substantive),
    )
    assert (attempt.outcome, attempt.disposition, attempt.mode) == (result, AAPOR[result], "ivr")
    assert {e.result for e in run.finished if e.uniqueid == f"call-{n}"} == {result}
    assert run.all_ended()


def test_same_seed_same_respondents(engine):
    """Two runs with the same seed give the same actions and the same stored answers."""
    profile = _profile(no_input=0.1, invalid=0.1, star=0.05, hangup=0.05, barge_in=0.2)
    first = Run(engine, profile, calls=6, seed_value=3)
    second = Run(engine, profile, calls=6, seed_value=3)
    for n in range(6):
        assert first.people[n].actions == second.people[n].actions
        assert {q: (a.code, a.key, a.tries) for q, a in first.answers(n).items()} == {
            q: (a.code, a.key, a.tries) for q, a in second.answers(n).items()
        }


def test_well_behaved_respondents_complete(engine):
    """Respondents who always press a valid key complete, read-backs confirmed with #."""
    run = Run(engine, _profile(no_input=0.0, invalid=0.0, star=0.0, hangup=0.0), calls=20)
    assert len(run.finished) == 20
    assert {e.result for e in run.finished} == {"complete"}
    for n in range(20):
        session, answers = run.session(n), run.answers(n)
        assert session.result == "complete" and session.end_reason == "completed"
        assert {"q1", "q2", "q3", "q4", "q5"} <= set(answers)  # q2 confirmed with '#'
        assert ("q1_why" in answers) == (answers["q1"].code == 3)  # skip logic
        assert all(a.tries == 1 and a.code == int(a.key) for a in answers.values() if a.key)
        assert ("q_comment" in answers) == (run.people[n].actions[-1][0] != "none")
    assert run.all_ended()


def test_mixed_respondents_hang_up_per_question(engine):
    """With an 8 % hang-up chance per question, about that share of questions ends a call."""
    profile = _profile(no_input=0.12, invalid=0.12, star=0.06, hangup=0.08)
    run = Run(engine, profile, calls=40, seed_value=11)
    assert len(run.finished) == 40
    results, hung, questions = {}, 0, 0
    for n in range(40):
        session, answers = run.session(n), run.answers(n)
        person = run.people[n]
        questions += person.questions
        hung += person.actions[-1][0] == "hangup"
        substantive = [a for q, a in answers.items() if q in SUBSTANTIVE]
        assert session.answered == len(substantive)
        assert all(a.tries >= 1 and a.mode == "ivr" for a in answers.values())
        results[session.result] = results.get(session.result, 0) + 1
        assert run.attempt(n).disposition == AAPOR[session.result]
        if session.end_reason == "completed":  # skipped questions can still make a partial
            share = session.answered / session.asked
            expected = "complete" if share >= 0.8 else "partial" if share >= 0.5 else "breakoff"
            assert session.result == expected
        else:
            assert session.end_reason == "hangup" and person.actions[-1][0] == "hangup"
    # Per sound file (four per question) it was 23 of 40; per question it is near 8 %.
    assert 0.03 < hung / questions < 0.14
    assert hung < 20
    stored = [a for n in range(40) for a in run.answers(n).values()]
    assert any(a.tries > 1 for a in stored)  # retried after a wrong key or silence
    assert any(a.question == "q_comment" for a in stored)
    assert results.get("complete", 0) > 0
    assert sum(results.get(r, 0) for r in ("partial", "breakoff", "hangup_intro")) > 0
    assert run.all_ended()


def test_hechi_scripted_complete(engine):
    """The shipped Hechi survey: consent, screener, the unit's questions with read-back, comment."""
    # consent 1, resident 1, q_overall 1 + '#', visits 1#, four choices, age, offer 1, comment
    turns = ["valid"] * 11 + ["comment#"]
    run = Run(engine, _profile(keys=(("1", 1.0),)), calls=1, script=HECHI, turns=[turns])
    answers = run.answers(0)
    assert {q: (a.code, a.key) for q, a in answers.items() if a.key} == {
        "consent": (1, "1"),
        "q_resident": (1, "1"),
        "q_overall": (1, "1"),
        "q_visits": (1, "1"),
        "q_efficiency": (1, "1"),
        "q_attitude": (1, "1"),
        "q_integrity": (1, "1"),
        "q_city": (1, "1"),
        "q_age": (1, "1"),
        "q_comment_offer": (1, "1"),
    }
    assert answers["q_comment"].value.endswith("-q_comment.wav")
    assert {a.mode for a in answers.values()} == {"ivr"}
    session = run.session(0)
    assert (session.result, session.end_reason) == ("complete", "completed")
    assert run.attempt(0).disposition == "1.1"
    assert run.all_ended()


def test_hechi_mixed_respondents(engine):
    """The Hechi survey with mixed respondents: codes are the script's, dispositions follow AAPOR."""
    # Keys are weighted, not understood: '1' (agree, yes, satisfied) is the likeliest.
    keys = (("1", 0.6), ("2", 0.2), ("3", 0.1), ("4", 0.1))
    profile = _profile(keys=keys, no_input=0.08, invalid=0.08, star=0.04, hangup=0.04)
    run = Run(engine, profile, calls=30, seed_value=5, script=HECHI)
    assert len(run.finished) == 30
    codes = {q.id: {o.code for o in q.options} for _, q in HECHI.questions()}
    results = set()
    for n in range(30):
        session, answers = run.session(n), run.answers(n)
        results.add(session.result)
        assert (
            run.attempt(n).disposition
            == {**AAPOR, "refusal": "2.11", "ineligible": "4.70"}[session.result]
        )
        for q, a in answers.items():
            if codes.get(q) and a.key is not None:
                assert a.code in codes[q]
        if "q_overall" in answers:
            assert answers["q_overall"].key in "1234"  # confirmed with '#'
        if session.result == "complete":
            assert "q_overall" in answers
    assert "complete" in results and len(results) > 1
    assert run.all_ended()
