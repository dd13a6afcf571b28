"""The process-AGI shim: a real child process speaking AGI over stdin/stdout."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dialer.store import answers as store
from dialer.store.engine import create_engine
from dialer.store.migrate import upgrade
from tests.agi.fake_asterisk import HANGUP, FakeAsterisk, environment
from tests.agi.seed import seed

DATA = Path(__file__).parent / "data"


def _run_shim(db_url, actions, variables, *, sighup=False):
    """Play Asterisk to a shim process until it closes stdout; the commands it sent."""
    env = dict(os.environ, DIALER_DB=db_url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dialer.agi.shim", "--scripts", str(DATA), "attempt=ignored"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    peer = FakeAsterisk(None, None, actions, variables=variables)
    text = environment().decode().replace("agi_network: yes\n", "")
    proc.stdin.write(text.encode())
    proc.stdin.flush()
    try:
        for raw in proc.stdout:
            replies = peer.answer(raw.decode().rstrip("\n"))
            if sighup and peer.hung_up:
                proc.send_signal(1)  # Asterisk's SIGHUP on hang-up must not kill it
                sighup = False
            for line in replies or ():
                proc.stdin.write(line.encode() + b"\n")
            proc.stdin.flush()
    except BrokenPipeError:
        pass
    proc.stdin.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=30) == 0, stderr
    return peer.commands


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'shim.db'}"
    engine = create_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        (attempt_id,) = seed(conn, questionnaire="t5")
    yield url, engine, attempt_id
    engine.dispose()


@pytest.mark.slow
def test_shim_runs_a_survey(db):
    """Over stdin/stdout the shim runs the whole survey and stores every answer."""
    url, engine, attempt_id = db
    actions = ["1", "2", "#", "12#", "1", "4", ("speak#", 2.0)]
    commands = _run_shim(url, actions, {"MINYI_ATTEMPT": str(attempt_id)})
    assert commands[:2] == ['GET FULL VARIABLE "${MINYI_ATTEMPT}|${MINYI_LANGUAGE}"', "ANSWER"]
    with engine.connect() as conn:
        answers = store.thd_answers(conn, attempt_id)
        session = store.thd_ivr_session(conn, attempt_id)
    assert [a.question for a in answers] == ["q1", "q2", "q3", "q4", "q5", "q_comment"]
    assert session.result == "complete"


@pytest.mark.slow
def test_shim_survives_sighup(db):
    """A hang-up with SIGHUP still ends cleanly: answers kept, break-off written."""
    url, engine, attempt_id = db
    _run_shim(url, ["1", HANGUP], {"MINYI_ATTEMPT": str(attempt_id)}, sighup=True)
    with engine.connect() as conn:
        session = store.thd_ivr_session(conn, attempt_id)
        answers = store.thd_answers(conn, attempt_id)
    assert [a.question for a in answers] == ["q1"]
    assert (session.result, session.end_reason) == ("breakoff", "hangup")
