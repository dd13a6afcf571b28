"""The shipped questionnaire (ivr_scripts/hechi_annual.yaml) run by the runner, key by key."""

from pathlib import Path

import pytest

from dialer.surveys import loader
from tests.agi import test_runner
from tests.agi.fake_asterisk import HANGUP

EXAMPLE = Path(__file__).resolve().parents[2] / "ivr_scripts" / "hechi_annual.yaml"


@pytest.fixture
def engine(sqlite_engine):
    return sqlite_engine


@pytest.fixture(scope="module")
def hechi():
    return loader.load(EXAMPLE)


def test_whole_example(engine, hechi):
    """Consent, screener, 不满意 with read-back and its follow-up, a number, the city block, a comment."""
    keys = ["1", "1", "3", "#", "2", "5#", "1", "2", "1", "2", "3", "1", ("speak#", 6.0)]
    call = test_runner.Call(engine, keys, script=hechi)
    answers = call.answers()
    assert answers["consent"].code == 1
    assert answers["q_overall"].code == 3
    assert answers["q_improve"].code == 2  # asked only after 不满意
    assert answers["q_visits"].code == 5
    assert answers["q_age"].code == 3
    assert answers["q_comment"].value.endswith(".wav")
    assert call.session().result == "complete"
    assert call.attempt().disposition == "1.1"


def test_example_consent_declined(engine, hechi):
    """Pressing 2 at consent is a refusal (AAPOR 2.11) with the consent answer kept."""
    call = test_runner.Call(engine, ["2"], script=hechi)
    assert call.answers()["consent"].code == 2
    assert (call.session().result, call.attempt().disposition) == ("refusal", "2.11")


def test_example_not_resident(engine, hechi):
    """A caller screened out (not a resident) is ineligible (AAPOR 4.70)."""
    call = test_runner.Call(engine, ["1", "2"], script=hechi)
    assert (call.session().result, call.attempt().disposition) == ("ineligible", "4.70")


def test_example_hangup_mid_survey(engine, hechi):
    """Hanging up at the visits question keeps consent, screener and the overall rating."""
    call = test_runner.Call(engine, ["1", "1", "1", "#", HANGUP], script=hechi)
    assert sorted(call.answers()) == ["consent", "q_overall", "q_resident"]
    assert call.session().end_reason == "hangup"
    assert call.attempt().outcome == "breakoff"
