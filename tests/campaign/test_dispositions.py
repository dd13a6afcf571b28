"""The AMI-outcome -> AAPOR disposition table: one test per row, plus the traces' cases."""

import pytest

from dialer.campaign.dispositions import (
    OUTCOMES,
    RULES,
    CallFacts,
    SurveyResult,
    classify,
    rule_for,
)


@pytest.mark.parametrize(
    "index", range(len(RULES)), ids=[f"{i}-{r.outcome}" for i, r in enumerate(RULES)]
)
def test_row(index):
    """Each row's example is decided by that very row (so no row is shadowed) and gives its outcome."""
    rule = RULES[index]
    assert rule.matches(rule.example)
    assert rule_for(rule.example) is rule
    assert classify(rule.example) is OUTCOMES[rule.outcome]


def test_every_outcome_has_aapor_code():
    """Every outcome has a dotted AAPOR code in the 1-4 families and a bilingual label."""
    for outcome in OUTCOMES.values():
        family, _, _ = outcome.aapor.partition(".")
        assert family in {"1", "2", "3", "4"}, outcome
        assert outcome.en and outcome.zh


def test_every_rule_names_a_known_outcome():
    """No row points at an outcome missing from OUTCOMES."""
    assert {r.outcome for r in RULES} <= set(OUTCOMES)


UP = {"originate_response": "Success", "reason": 4, "answered": True}


@pytest.mark.parametrize(
    ("facts", "name", "code"),
    [
        # the reference traces
        (
            CallFacts(originate_response="Failure", reason=5, hangup_cause=17, dial_status="BUSY"),
            "busy",
            "3.12",
        ),
        (CallFacts(originate_response="Failure", reason=3, hangup_cause=19), "no_answer", "3.13"),
        (
            CallFacts(
                originate_response="Failure", reason=0, hangup_cause=19, dial_status="NOANSWER"
            ),
            "no_answer",
            "3.13",
        ),
        (
            CallFacts(
                originate_response="Failure", reason=8, hangup_cause=34, dial_status="CONGESTION"
            ),
            "congestion",
            "3.16",
        ),
        (
            CallFacts(
                originate_response="Failure", reason=0, hangup_cause=21, dial_status="NOANSWER"
            ),
            "rejected",
            "3.15",
        ),
        (
            CallFacts(
                originate_response="Failure", reason=0, hangup_cause=1, dial_status="NOANSWER"
            ),
            "invalid",
            "4.31",
        ),
        (CallFacts(originate_response="Failure", reason=0), "failed", "3.11"),
        (
            CallFacts(**UP, bridged=True, hangup_cause=16, survey=SurveyResult.COMPLETE),
            "complete",
            "1.1",
        ),
        (
            CallFacts(
                **UP, ivr=True, abandoned=True, hangup_cause=16, survey=SurveyResult.COMPLETE
            ),
            "complete",
            "1.1",
        ),
        (CallFacts(**UP, ivr=True, abandoned=True, hangup_cause=16), "abandoned", "2.35"),
        (CallFacts(**UP, machine=True, hangup_cause=16), "machine", "3.14"),
        (CallFacts(**UP, lost=True), "lost", "3.16"),
        (CallFacts(lost=True), "lost", "3.16"),
    ],
)
def test_trace_cases(facts, name, code):
    """Outcomes seen in the Asterisk 22 reference traces map to the expected AAPOR codes."""
    outcome = classify(facts)
    assert (outcome.name, outcome.aapor) == (name, code)


def test_failed_does_not_count():
    """A dial that never left the PBX does not use up one of the contact's attempts."""
    assert not OUTCOMES["failed"].counts_as_attempt
    assert OUTCOMES["no_answer"].counts_as_attempt


def test_final_outcomes():
    """Completes, partials, hard refusals and invalid numbers finish a contact; busy does not."""
    assert all(OUTCOMES[n].final for n in ["complete", "partial", "hard_refusal", "invalid", "dnc"])
    assert not any(OUTCOMES[n].final for n in ["busy", "no_answer", "machine", "refusal"])
