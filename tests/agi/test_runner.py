"""The IVR survey runner against a scripted Asterisk and a real store (SQLite and PostgreSQL)."""

from pathlib import Path

import pytest
from twisted.internet import defer
from twisted.internet.task import Clock

from dialer.agi.protocol import FastAGIProtocol
from dialer.agi.runner import RunnerConfig, SurveyRunner, parse_args
from dialer.campaign.dispositions import survey_result
from dialer.events import EventBus, SurveyFinished
from dialer.store import answers as store
from dialer.store import schema
from dialer.surveys import flow, loader
from tests.agi import traces
from tests.agi.fake_asterisk import (
    GARBAGE,
    HANGUP,
    HANGUP_BEFORE_REPLY,
    SILENCE,
    WEDGE,
    FakeAsterisk,
    Raw,
)
from tests.agi.seed import UNIT_CODE, seed

T5 = loader.load(Path(__file__).parent / "data" / "t5.yaml")


@pytest.fixture
def engine(sqlite_engine):
    """The runner tests run on SQLite only."""
    return sqlite_engine


class SyncStore:
    """The real thd_* functions run inline on one engine (no thread pool), for Clock-driven tests."""

    def __init__(self, engine):
        self.engine = engine
        self.writes = []

    def _run(self, fn, *args, **kwargs):
        with self.engine.begin() as conn:
            return defer.succeed(fn(conn, *args, **kwargs))

    def open_session(self, attempt_id, started_at, uniqueid):
        return self._run(store.thd_open_ivr_session, attempt_id, started_at, uniqueid=uniqueid)

    def record_answer(self, answer):
        self.writes.append(answer.question)
        return self._run(store.thd_record_answer, answer)

    def finish_session(self, session_id, ended_at, **kwargs):
        return self._run(store.thd_finish_ivr_session, session_id, ended_at, **kwargs)


class Call:
    """One call: a runner on a protocol, a FakeAsterisk caller, the store rows afterwards."""

    def __init__(
        self,
        engine,
        actions,
        *,
        attempt=True,
        args=(),
        language=None,
        chunk=0,
        env=None,
        store_cls=SyncStore,
        script=None,
    ):
        with engine.begin() as conn:
            (self.attempt_id,) = seed(conn, questionnaire="t5")
        self.engine = engine
        self.clock = Clock()
        self.latencies = []
        self.results = []
        self.finished = []
        bus = EventBus()
        bus.subscribe(SurveyFinished, self.finished.append)
        runner = SurveyRunner(
            store_cls(engine),
            lambda name: script or T5,
            self.clock,
            RunnerConfig(recordings_dir="/rec"),
            bus=bus,
            answer_written=self.latencies.append,
        )

        def session(agi):
            d = defer.Deferred.fromCoroutine(runner(agi))
            d.addCallback(self.results.append)
            return d

        protocol = FastAGIProtocol(self.clock, lambda env: session, command_timeout=30)
        variables = {}
        if attempt:
            variables["MINYI_ATTEMPT"] = str(self.attempt_id)
        if language:
            variables["MINYI_LANGUAGE"] = language
        self.asterisk = FakeAsterisk(
            protocol, self.clock, actions, variables=variables, chunk=chunk
        )
        self.asterisk.start(args=args, env=env)
        self.asterisk.run()

    @property
    def result(self):
        return self.results[0]

    def answers(self):
        with self.engine.connect() as conn:
            return {(a.question): a for a in store.thd_answers(conn, self.attempt_id)}

    def session(self):
        with self.engine.connect() as conn:
            return store.thd_ivr_session(conn, self.attempt_id)

    def attempt(self):
        with self.engine.connect() as conn:
            return conn.execute(
                schema.attempts.select().where(schema.attempts.c.id == self.attempt_id)
            ).one()

    def commands(self, verb):
        return [c for c in self.asterisk.commands if c.startswith(verb)]


# q1 1, q2 2 + "#" to confirm, q3 12#, q4 1, q5 4, a 4 s comment ended with #
FULL = ["1", "2", "#", "12#", "1", "4", ("speak#", 4.0)]


def test_full_survey(engine):
    """A caller answering everything: six answers stored, complete (AAPOR 1.1), socket closed."""
    call = Call(engine, FULL)
    answers = call.answers()
    assert {q: a.code for q, a in answers.items()} == {
        "q1": 1,
        "q2": 2,
        "q3": 12,
        "q4": 1,
        "q5": 4,
        "q_comment": None,
    }
    assert answers["q_comment"].value == "/rec/" + str(call.attempt().campaign_id) + (
        f"/{call.attempt_id}-q_comment.wav"
    )
    assert answers["q1"].unit_id is not None and answers["q4"].unit_id is None
    assert {a.mode for a in answers.values()} == {"ivr"}
    assert answers["q1"].language == "zh-CN"
    session = call.session()
    assert (session.result, session.end_reason, session.answered, session.asked) == (
        "complete",
        "completed",
        5,
        5,
    )
    attempt = call.attempt()
    assert (attempt.outcome, attempt.disposition, attempt.mode) == ("complete", "1.1", "ivr")
    assert call.asterisk.closed_by_server
    assert call.result.outcome == "complete"
    assert call.asterisk.commands[:2] == [
        'GET FULL VARIABLE "${MINYI_ATTEMPT}|${MINYI_LANGUAGE}"',
        "ANSWER",
    ]
    assert call.commands('STREAM FILE minyi/t5/zh-CN/thanks ""')  # the closing prompt
    assert call.commands("RECORD FILE /rec/") == [
        f'RECORD FILE /rec/{attempt.campaign_id}/{call.attempt_id}-q_comment wav "#" 30000 BEEP s=3'
    ]


def test_answer_written_before_next_question(engine):
    """Each answer is in the store before the next question is asked."""
    call = Call(engine, FULL)
    commands = call.asterisk.commands
    # q1's answer came with the GET DATA of scale_sat; the next GET DATA is q2's.
    assert len(call.latencies) == 6
    assert all(latency == 0 for latency in call.latencies)  # inline store: no delay
    assert commands.index("GET DATA minyi/t5/zh-CN/scale_sat 5000 1") < len(commands)


class BrokenStore(SyncStore):
    """A store whose second answer write fails (a database error)."""

    def record_answer(self, answer):
        if self.writes:
            return defer.fail(RuntimeError("database is locked"))
        return super().record_answer(answer)


def test_store_failure_ends_survey(engine):
    """An answer that cannot be stored ends the survey: no more questions, the session says why."""
    call = Call(engine, FULL, store_cls=BrokenStore)
    assert sorted(call.answers()) == ["q1"]
    assert call.session().end_reason == "store_error"
    assert not call.commands("GET DATA minyi/t5/zh-CN/q3")
    assert call.asterisk.closed_by_server


def test_survey_finished_published(engine):
    """The end of the questionnaire is published for the controller, keyed by agi_uniqueid."""
    call = Call(engine, ["1", HANGUP])
    assert [(e.uniqueid, e.result) for e in call.finished] == [("1795594831.2", "breakoff")]


@pytest.mark.parametrize("hangup", [HANGUP, HANGUP_BEFORE_REPLY])
def test_hangup_after_question_3_is_partial(engine, hangup):
    """Hanging up during question 4 keeps answers 1-3 and makes a partial (AAPOR 1.2)."""
    call = Call(engine, ["1", "2", "#", "12#", hangup])
    assert sorted(call.answers()) == ["q1", "q2", "q3"]
    session = call.session()
    assert (session.result, session.end_reason, session.answered, session.asked) == (
        "partial",
        "hangup",
        3,
        5,
    )
    assert (call.attempt().outcome, call.attempt().disposition) == ("partial", "1.2")
    assert call.asterisk.closed_by_server


def test_hangup_after_question_1_is_breakoff(engine):
    """Hanging up after one answer of five is a break-off (AAPOR 2.12)."""
    call = Call(engine, ["1", HANGUP])
    assert sorted(call.answers()) == ["q1"]
    assert (call.attempt().outcome, call.attempt().disposition) == ("breakoff", "2.12")


def test_hangup_during_intro(engine):
    """A hang-up in the introduction is AAPOR 2.11, kept apart as hangup_intro."""
    call = Call(engine, [Raw(traces.replies_to(traces.B2, 'STREAM FILE tt-monkeys "12#"'), True)])
    assert call.answers() == {}
    assert (call.attempt().outcome, call.attempt().disposition) == ("hangup_intro", "2.11")
    assert call.result.end_reason == "hangup"


def test_hangup_while_recording_keeps_comment(engine):
    """A caller who hangs up while leaving a comment: what was recorded is kept."""
    call = Call(engine, [*FULL[:-1], Raw(("200 result=-1 (hangup) endpos=16000", "HANGUP"))])
    answers = call.answers()
    assert answers["q_comment"].value.endswith("-q_comment.wav")
    assert call.session().end_reason == "hangup"
    assert call.attempt().outcome == "complete"


def test_get_data_missing_prompt(engine):
    """GET DATA -1 with the channel still up (a missing prompt) falls back to WAIT FOR DIGIT."""
    call = Call(engine, [Raw(("200 result=-1",)), *FULL])
    assert call.answers()["q1"].code == 1
    assert call.commands("CHANNEL STATUS")
    assert call.commands("WAIT FOR DIGIT 5000")
    assert call.session().result == "complete"


def test_get_data_hangup(engine):
    """GET DATA -1 then the HANGUP line: a hang-up, not a missing prompt."""
    call = Call(engine, ["1", Raw(("200 result=-1", "HANGUP"))])
    assert sorted(call.answers()) == ["q1"]
    assert call.session().end_reason == "hangup"


def test_recording_cannot_be_written(engine):
    """RECORD FILE that cannot write its file skips the comment; the call is not a hang-up."""
    call = Call(engine, [*FULL[:-1], Raw(("200 result=-1 (writefile)",))])
    assert "q_comment" not in call.answers()
    assert call.session().end_reason == "completed"
    assert call.commands('STREAM FILE minyi/t5/zh-CN/thanks ""')


def test_invalid_key_then_valid(engine):
    """A wrong key gets the invalid prompt and the question again; tries counts both."""
    call = Call(engine, ["9", "1", *FULL[1:]])
    assert call.answers()["q1"].tries == 2
    assert call.commands('STREAM FILE minyi/t5/zh-CN/invalid "1234*"')


def test_no_input_twice_skips(engine):
    """Silence twice (max_no_input 1) skips the question; the rest is still asked."""
    call = Call(engine, [SILENCE, SILENCE, *FULL[1:]])
    answers = call.answers()
    assert "q1" not in answers and "q2" in answers
    assert call.commands('STREAM FILE minyi/t5/zh-CN/no_input "1234*"')
    assert call.session().result == "complete"  # 4 of 5 = 0.8


def test_star_repeats(engine):
    """'*' plays the question again; the answer after it is stored with one try."""
    call = Call(engine, ["*", "1", *FULL[1:]])
    assert call.answers()["q1"].code == 1
    assert len(call.commands("STREAM FILE minyi/t5/zh-CN/q1-1")) == 2


def test_branching(engine):
    """不满意 (3) on q1 asks q1_why; otherwise it is skipped."""
    call = Call(engine, ["3", "2", *FULL[1:]])
    answers = call.answers()
    assert (answers["q1"].code, answers["q1_why"].code) == (3, 2)
    assert "q1_why" not in Call(engine, FULL).answers()


def test_confirm_star_asks_again(engine):
    """On a confirmed question, '*' at the read-back asks again and the new choice is kept."""
    call = Call(engine, ["1", "2", "*", "3", "#", "12#", "1", "4", SILENCE])
    assert call.answers()["q2"].code == 3


def test_barge_in_and_wait_for_digit(engine):
    """A key during a prompt answers at once; a number goes on with WAIT FOR DIGIT until '#'."""
    call = Call(engine, [">1", "2", "#", ">4", "2#", "1", "4", SILENCE])
    answers = call.answers()
    assert answers["q1"].code == 1
    assert answers["q3"].code == 42
    assert call.commands("WAIT FOR DIGIT 5000")


@pytest.mark.parametrize(
    ("reply", "stored"),
    [
        ("200 result=1 (timeout) endpos=8000", False),  # silence at once: 1 s of it kept
        ("200 result=1 (timeout) endpos=12000", True),  # half a second said, then silence
        ("200 result=35 (dtmf) endpos=8000", True),  # a short comment ended with '#'
    ],
)
def test_comment_ended_by_silence_at_once_not_stored(engine, reply, stored):
    """Asterisk keeps 1 s of the silence that ends a recording: 1 s alone is no comment."""
    call = Call(engine, [*FULL[:-1], Raw((reply,))])
    assert ("q_comment" in call.answers()) == stored
    assert call.session().result == "complete"


def test_silent_comment_not_stored(engine):
    """A comment with nothing recorded stores no answer and does not spoil the interview."""
    call = Call(engine, [*FULL[:-1], SILENCE])
    assert "q_comment" not in call.answers()
    assert call.session().result == "complete"


def test_511_without_hangup_line(engine):
    """A 511 reply alone (no HANGUP line seen) ends the survey as a hang-up."""
    dead = traces.replies_to(traces.B2, 'STREAM FILE beep ""')
    call = Call(engine, ["1", "2", "#", Raw(dead)])
    assert sorted(call.answers()) == ["q1", "q2"]
    assert call.session().end_reason == "hangup"
    assert call.asterisk.closed_by_server


def test_520_usage_reply_ends_session(engine):
    """A 520 multi-line usage reply (b3, verbatim) to a command ends the session, answers kept."""
    usage = traces.replies_to(traces.B3, "STREAM FILE")
    assert usage[0].startswith("520-") and usage[-1] == "520 End of proper usage."
    call = Call(engine, ["1", Raw(usage)])
    assert sorted(call.answers()) == ["q1"]
    assert call.session().end_reason == "error"
    assert call.asterisk.closed_by_server


def test_wedged_peer_times_out(engine):
    """A peer that stops answering times out: the session ends, earlier answers stay."""
    call = Call(engine, ["1", WEDGE])
    assert sorted(call.answers()) == ["q1"]
    assert call.session().end_reason == "timeout"
    assert call.asterisk.closed_by_server


def test_malformed_stream_ends_session(engine):
    """Garbage from the peer closes that session; earlier answers stay."""
    call = Call(engine, ["1", GARBAGE])
    assert sorted(call.answers()) == ["q1"]
    assert call.session().end_reason == "malformed"
    assert call.asterisk.closed_by_server


def test_attempt_from_args(engine):
    """attempt=N as an AGI argument is used without asking for the variable."""
    with engine.begin() as conn:
        attempt_id = seed(conn, questionnaire="t5")[0] + 1  # the Call seeds the next one
    call = Call(engine, FULL, attempt=False, args=(f"attempt={attempt_id}", "language=en"))
    assert call.attempt_id == attempt_id
    assert not call.commands("GET FULL VARIABLE")
    assert call.answers()["q1"].language == "en"
    assert call.session().language == "en"
    assert call.commands('STREAM FILE minyi/t5/en/welcome "*#"')


def test_language_variable(engine):
    """MINYI_LANGUAGE picks the prompts' language."""
    call = Call(engine, FULL, language="en")
    assert call.commands("GET DATA minyi/t5/en/scale_sat 5000 1")


#: t5 with a language menu first (1 = 中文, 2 = English).
T5_MENU = loader.loads(
    (Path(__file__).parent / "data" / "t5.yaml")
    .read_text(encoding="utf-8")
    .replace(
        "intro: [welcome]",
        'language_menu: {prompt: lang_menu, keys: {"1": zh-CN, "2": en}, timeout: 3}\n'
        "intro: [welcome]",
    )
    .replace(
        "prompts:\n",
        'prompts:\n  lang_menu: {zh-CN: "普通话请按1", en: "For English, press 2"}\n',
        1,
    ),
    "t5-menu.yaml",
)


@pytest.mark.parametrize(("key", "language"), [("2", "en"), ("1", "zh-CN"), (None, "zh-CN")])
def test_language_menu_choice_is_stored(engine, key, language):
    """The language picked in the menu (or the default on no key) is stored with every answer."""
    call = Call(engine, [key or SILENCE, *FULL], script=T5_MENU)
    assert call.commands("STREAM FILE minyi/t5/zh-CN/lang_menu")  # the menu, in each language
    assert call.commands("GET DATA minyi/t5/en/lang_menu 3000 1")
    assert call.commands(f"GET DATA minyi/t5/{language}/scale_sat 5000 1")
    answers = call.answers()
    assert set(answers) == {"q1", "q2", "q3", "q4", "q5", "q_comment"}
    assert {a.language for a in answers.values()} == {language}
    assert call.session().language == language
    assert call.session().result == "complete"


def test_unknown_language(engine):
    """A language the questionnaire lacks ends the session before anything is played."""
    call = Call(engine, FULL, language="fr")
    assert call.result.end_reason == "error"
    assert not call.commands("ANSWER")
    assert call.session().end_reason == "error"
    assert call.attempt().disposition is None


def test_no_attempt_id(engine):
    """Without MINYI_ATTEMPT the session ends at once: nothing played, nothing stored."""
    call = Call(engine, FULL, attempt=False)
    assert call.result.end_reason == "unidentified"
    assert not call.commands("ANSWER")
    assert call.session() is None
    assert call.asterisk.closed_by_server


@pytest.mark.parametrize("size", traces.CHUNK_SIZES)
def test_b3_through_runner(engine, size):
    """b3's environment and reply lines, verbatim, drive a survey (chunked), ending in its HANGUP."""
    b3 = traces.B3
    pressed_1 = traces.replies_to(b3, 'STREAM FILE demo-congrats "0123456789*#"')
    actions = [
        Raw(pressed_1, True, match="STREAM FILE minyi/t5/zh-CN/q1-1"),  # q1: 1 (ASCII 49)
        Raw(traces.replies_to(b3, "GET DATA beep 6000 1")),  # q2: 3
        Raw(traces.replies_to(b3, "GET DATA beep 2000 4")),  # read-back: timeout accepts
        Raw(pressed_1, True, match="STREAM FILE minyi/t5/zh-CN/q3-1"),  # q3: 1
        Raw(traces.replies_to(b3, "WAIT FOR DIGIT 5000")),  # '#' (ASCII 35) ends the number
        Raw(traces.replies_to(b3, "GET VARIABLE SURVEY_Q1")),  # q4: HANGUP, then a reply
    ]
    call = Call(engine, actions, chunk=size, env=traces.environment_bytes(b3))
    answers = call.answers()
    assert {q: a.code for q, a in answers.items()} == {"q1": 1, "q2": 3, "q3": 1}
    assert call.session().uniqueid == "1795594831.2"
    assert call.session().end_reason == "hangup"
    assert call.attempt().outcome == "partial"
    assert call.asterisk.closed_by_server


@pytest.mark.parametrize("size", traces.CHUNK_SIZES)
def test_b2_through_runner(engine, size):
    """b2 verbatim: positional args ignored, playback cut at endpos 44160 ends the run cleanly."""
    b2 = traces.B2
    actions = [Raw((*traces.replies_to(b2, 'STREAM FILE tt-monkeys "12#"'), "HANGUP"), True)]
    call = Call(engine, actions, chunk=size, env=traces.environment_bytes(b2))
    assert call.asterisk.commands[:2] == [
        'GET FULL VARIABLE "${MINYI_ATTEMPT}|${MINYI_LANGUAGE}"',
        "ANSWER",
    ]
    assert call.answers() == {}
    assert call.result.end_reason == "hangup"
    assert call.attempt().disposition == "2.11"
    assert call.asterisk.closed_by_server


def test_survey_result_mapping():
    """The flow's outcomes map onto the campaign engine's survey results."""
    end = flow.End("refused", "2.11", "hangup", 0, 0)
    assert survey_result(end).value == "hangup_intro"
    assert survey_result(flow.End("refused", "2.11", "declined", 0, 0)).value == "refusal"
    assert survey_result(flow.End("break_off", "2.12", "hangup", 1, 5)).value == "breakoff"


def test_parse_args():
    """Only key=value arguments count; keys are case-insensitive."""
    assert parse_args(("test", "arg two", "Attempt=42", "language = en")) == {
        "attempt": "42",
        "language": "en",
    }


def test_unit_code_matches_seed():
    """The test survey asks about the seeded unit."""
    assert UNIT_CODE in T5.units


def test_bad_peers_end_only_their_own_sessions(engine):
    """On one FastAGI factory, a garbage peer and a wedged peer end their sessions; a third survey completes."""
    from dialer.agi.server import FastAGIFactory

    with engine.begin() as conn:
        ids = seed(conn, attempts=3, questionnaire="t5")
    clock = Clock()
    runner = SurveyRunner(SyncStore(engine), lambda name: T5, clock, RunnerConfig())
    factory = FastAGIFactory(clock, {"survey": runner})
    peers = []
    for attempt_id, actions in zip(ids, (["1", GARBAGE], ["1", WEDGE], FULL), strict=True):
        protocol = factory.buildProtocol(None)
        peer = FakeAsterisk(protocol, clock, actions, variables={"MINYI_ATTEMPT": str(attempt_id)})
        peers.append(peer)
    for peer in peers:
        peer.start()
    for _ in range(100_000):
        if all(p.closed_by_server for p in peers):
            break
        clock.advance(0.01)
    with engine.connect() as conn:
        sessions = [store.thd_ivr_session(conn, a) for a in ids]
        answers = [[a.question for a in store.thd_answers(conn, i)] for i in ids]
    assert [s.end_reason for s in sessions] == ["malformed", "timeout", "completed"]
    assert answers[:2] == [["q1"], ["q1"]]
    assert answers[2] == ["q1", "q2", "q3", "q4", "q5", "q_comment"]
    assert sessions[2].result == "complete"
    assert all(p.closed_by_server for p in peers)
