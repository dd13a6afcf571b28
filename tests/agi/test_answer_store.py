"""PoolAnswerStore: writes are group-committed and acknowledged only after their commit."""

import pytest
from twisted.internet import defer

from dialer.agi.runner import PoolAnswerStore
from dialer.store import answers as store
from tests.agi.seed import seed


class ManualPool:
    """A DBThreadPool stand-in whose transactions run when the test says so."""

    def __init__(self, engine):
        self.engine = engine
        self.calls = []

    def do_with_transaction(self, fn, *args, **kwargs):
        d = defer.Deferred()
        self.calls.append((fn, args, kwargs, d))
        return d

    def commit_next(self):
        fn, args, kwargs, d = self.calls.pop(0)
        with self.engine.begin() as conn:
            result = fn(conn, *args, **kwargs)
        d.callback(result)

    def fail_next(self):
        _, _, _, d = self.calls.pop(0)
        d.errback(RuntimeError("database is locked"))


def _answer(attempt_id, question):
    return store.NewAnswer(
        attempt_id=attempt_id,
        campaign_id=1,
        contact_id=1,
        block="b",
        question=question,
        answered_at=1.0,
        code=1,
        key="1",
    )


@pytest.fixture
def engine(sqlite_engine):
    return sqlite_engine


@pytest.fixture
def attempt(engine):
    with engine.begin() as conn:
        return seed(conn)[0]


def test_group_commit(engine, attempt):
    """The first answer is written at once; answers given meanwhile share the next commit."""
    pool = ManualPool(engine)
    answers = PoolAnswerStore(pool)
    first = answers.record_answer(_answer(attempt, "q1"))
    second = answers.record_answer(_answer(attempt, "q2"))
    third = answers.record_answer(_answer(attempt, "q3"))
    assert len(pool.calls) == 1  # only q1 is being written
    assert not first.called
    pool.commit_next()
    assert first.called and not second.called and not third.called
    assert len(pool.calls) == 1  # q2 and q3 together
    assert [a.question for a in pool.calls[0][1][0]] == ["q2", "q3"]
    pool.commit_next()
    assert second.called and third.called
    with engine.connect() as conn:
        assert [a.question for a in store.thd_answers(conn, attempt)] == ["q1", "q2", "q3"]


def test_failed_batch_fails_its_answers_only(engine, attempt):
    """A failed transaction fails the answers in it; later answers are still written."""
    pool = ManualPool(engine)
    answers = PoolAnswerStore(pool)
    first = answers.record_answer(_answer(attempt, "q1"))
    second = answers.record_answer(_answer(attempt, "q2"))
    errors = []
    first.addErrback(errors.append)
    pool.fail_next()
    assert len(errors) == 1 and not second.called
    pool.commit_next()
    assert second.called


def test_opens_and_ends_group_committed(engine, attempt):
    """Session opens and ends are batched too, and each caller gets its own result."""
    pool = ManualPool(engine)
    answers = PoolAnswerStore(pool)
    first = answers.open_session(attempt, 1.0, "u1")
    unknown = answers.open_session(attempt + 100, 1.0, "u2")
    pool.commit_next()  # the first open alone
    pool.commit_next()  # the second
    context, session_id = first.result
    assert context.attempt_id == attempt
    assert unknown.result is None
    a = answers.finish_session(session_id, 2.0, result="complete", end_reason="completed")
    b = answers.finish_session(session_id, 3.0, result="complete", end_reason="completed")
    assert len(pool.calls) == 1
    pool.commit_next()
    pool.commit_next()
    assert a.called and b.called
    with engine.connect() as conn:
        assert store.thd_ivr_session(conn, attempt).ended_at == 3.0


def test_parallel_writers(engine, attempt):
    """With two writers (PostgreSQL), two transactions run at once; the rest wait for one."""
    from dialer.agi.runner import GroupCommit

    pool = ManualPool(engine)
    commit = GroupCommit(pool, store.thd_record_answers, in_flight=2)
    done = [commit.submit(_answer(attempt, f"q{n}")) for n in range(4)]
    assert len(pool.calls) == 2  # q0 and q1, each in its own transaction
    pool.commit_next()
    assert done[0].called
    assert len(pool.calls) == 2  # q2 and q3 together in the next one
    pool.commit_next()
    pool.commit_next()
    assert all(d.called for d in done)
