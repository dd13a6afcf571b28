"""thd_* functions for answers and IVR sessions, on SQLite and PostgreSQL."""

from dialer.store import answers as store
from dialer.store import schema
from tests.agi.seed import UNIT_CODE, seed


def test_attempt_context(engine):
    """An attempt's campaign, contact, unit code and questionnaire are found by its id."""
    with engine.begin() as conn:
        (attempt_id,) = seed(conn)
        ctx = store.thd_attempt_context(conn, attempt_id)
        assert ctx is not None
        assert (ctx.attempt_id, ctx.unit_code, ctx.questionnaire) == (
            attempt_id,
            UNIT_CODE,
            "test-survey",
        )
        assert store.thd_attempt_context(conn, attempt_id + 100) is None


def test_answers_round_trip(engine):
    """Answers come back in the order given, with the unit code resolved to its id."""
    with engine.begin() as conn:
        (attempt_id,) = seed(conn)
        ctx = store.thd_attempt_context(conn, attempt_id)
        for n, (code, unit) in enumerate([(1, UNIT_CODE), (3, "dept-police"), (None, None)]):
            store.thd_record_answer(
                conn,
                store.NewAnswer(
                    attempt_id=attempt_id,
                    campaign_id=ctx.campaign_id,
                    contact_id=ctx.contact_id,
                    block="b",
                    question=f"q{n}",
                    answered_at=100.0 + n,
                    unit_code=unit,
                    code=code,
                    key=None if code is None else str(code),
                    value="/rec/x.wav" if code is None else None,
                    tries=2,
                    language="zh-CN",
                ),
            )
        rows = store.thd_answers(conn, attempt_id)
    assert [r.question for r in rows] == ["q0", "q1", "q2"]
    assert [r.code for r in rows] == [1, 3, None]
    assert rows[0].unit_id == ctx.unit_id
    assert rows[1].unit_id not in (None, ctx.unit_id)
    assert rows[2].unit_id is None and rows[2].value == "/rec/x.wav"
    assert {r.mode for r in rows} == {"ivr"}
    assert rows[0].tries == 2


def test_session_marks_attempt(engine):
    """Finishing a session stores its result and marks the attempt's outcome and AAPOR code."""
    with engine.begin() as conn:
        (attempt_id,) = seed(conn)
        session_id = store.thd_start_ivr_session(
            conn, attempt_id, "test-survey", 10.0, uniqueid="1.2", language="zh-CN"
        )
        store.thd_finish_ivr_session(
            conn,
            session_id,
            20.0,
            result="break_off",
            end_reason="hangup",
            answered=1,
            asked=5,
            outcome="breakoff",
            disposition="2.12",
        )
        session = store.thd_ivr_session(conn, attempt_id)
        attempt = conn.execute(
            schema.attempts.select().where(schema.attempts.c.id == attempt_id)
        ).one()
    assert (session.result, session.end_reason, session.answered, session.asked) == (
        "break_off",
        "hangup",
        1,
        5,
    )
    assert (attempt.outcome, attempt.disposition, attempt.mode) == ("breakoff", "2.12", "ivr")


def test_session_without_outcome_leaves_attempt(engine):
    """A session that ends with no result does not touch the attempt's disposition."""
    with engine.begin() as conn:
        (attempt_id,) = seed(conn)
        session_id = store.thd_start_ivr_session(conn, attempt_id, "s", 1.0)
        store.thd_finish_ivr_session(
            conn, session_id, 2.0, result=None, end_reason="error", answered=0, asked=0
        )
        attempt = conn.execute(
            schema.attempts.select().where(schema.attempts.c.id == attempt_id)
        ).one()
        assert attempt.disposition is None
        assert store.thd_ivr_session(conn, attempt_id).end_reason == "error"


def test_open_session(engine):
    """Opening a session returns the attempt's context and a new session id; unknown: None."""
    with engine.begin() as conn:
        (attempt_id,) = seed(conn)
        context, session_id = store.thd_open_ivr_session(conn, attempt_id, 5.0, uniqueid="u")
        assert context.attempt_id == attempt_id
        assert store.thd_ivr_session(conn, attempt_id).id == session_id
        assert store.thd_open_ivr_session(conn, attempt_id + 100, 5.0) is None
