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

# What each row must give, written out independently of the table (AAPOR Standard
# Definitions, RDD telephone codes; Q.850 hang-up causes as Asterisk reports them), one
# entry per row of RULES in the same order. Changing a row's outcome or code, or adding a
# row without an entry here, fails test_expected_rows / test_every_row_has_an_expectation.
_UP = {"originate_response": "Success", "reason": 4, "answered": True}
_NO = {"originate_response": "Failure"}
EXPECTED = [
    # 3.11 not attempted: Asterisk answered the Originate action with Response: Error
    (CallFacts(originate_accepted=False), "failed", "3.11"),
    # 3.16 technical phone problem: the PBX died under an answered call
    (CallFacts(**_UP, bridged=True, hangup_cause=16, lost=True), "lost", "3.16"),
    # 1.1 complete / 1.2 partial / 2.12 break-off, whoever ran the interview
    (
        CallFacts(**_UP, bridged=True, hangup_cause=16, survey=SurveyResult.COMPLETE),
        "complete",
        "1.1",
    ),
    (CallFacts(**_UP, ivr=True, hangup_cause=16, survey=SurveyResult.PARTIAL), "partial", "1.2"),
    (
        CallFacts(**_UP, bridged=True, hangup_cause=16, survey=SurveyResult.BREAKOFF),
        "breakoff",
        "2.12",
    ),
    # 2.112 known-respondent refusal (do not call again), 2.11 refusals
    (
        CallFacts(**_UP, ivr=True, hangup_cause=16, survey=SurveyResult.HARD_REFUSAL),
        "hard_refusal",
        "2.112",
    ),
    (CallFacts(**_UP, ivr=True, hangup_cause=16, survey=SurveyResult.REFUSAL), "refusal", "2.11"),
    (
        CallFacts(**_UP, bridged=True, hangup_cause=16, survey=SurveyResult.HANGUP_INTRO),
        "hangup_intro",
        "2.11",
    ),
    # 2.21 respondent not available now: an appointment
    (CallFacts(**_UP, ivr=True, hangup_cause=16, survey=SurveyResult.CALLBACK), "callback", "2.21"),
    # 4.70 no eligible respondent, 2.33 language, 4.51 business, 4.20 fax/data line
    (
        CallFacts(**_UP, ivr=True, hangup_cause=16, survey=SurveyResult.INELIGIBLE),
        "ineligible",
        "4.70",
    ),
    (CallFacts(**_UP, ivr=True, hangup_cause=16, survey=SurveyResult.LANGUAGE), "language", "2.33"),
    (
        CallFacts(**_UP, ivr=True, hangup_cause=16, survey=SurveyResult.NONRESIDENTIAL),
        "nonresidential",
        "4.51",
    ),
    (CallFacts(**_UP, bridged=True, hangup_cause=16, survey=SurveyResult.FAX), "fax", "4.20"),
    # 3.14 answering machine, unknown if household (AMD said MACHINE; nobody was bridged)
    (CallFacts(**_UP, machine=True, hangup_cause=16), "machine", "3.14"),
    # an answered call no interviewer took within 2 s, the IVR got no result
    (CallFacts(**_UP, abandoned=True, ivr=True, hangup_cause=16), "abandoned", "2.35"),
    # answered, reached a person or the IVR, hung up before any result: a refusal (2.11)
    (CallFacts(**_UP, bridged=True, hangup_cause=16), "hangup_intro", "2.11"),
    (CallFacts(**_UP, ivr=True, hangup_cause=16), "hangup_intro", "2.11"),
    # answered, hung up while still waiting for routing
    (CallFacts(**_UP, hangup_cause=16), "answered_hangup", "2.35"),
    # 3.12 busy: OriginateResponse reason 5, or the callee leg's cause 17 (user busy)
    (CallFacts(**_NO, reason=5, hangup_cause=17, dial_status="BUSY"), "busy", "3.12"),
    (CallFacts(**_NO, reason=0, hangup_cause=17), "busy", "3.12"),
    # 3.16 technical: OriginateResponse reason 8 (congestion)
    (CallFacts(**_NO, reason=8, hangup_cause=34, dial_status="CONGESTION"), "congestion", "3.16"),
    # 3.13 no answer: the Originate timeout expired while ringing (reason 3)
    (CallFacts(**_NO, reason=3, dial_status="NOANSWER"), "no_answer", "3.13"),
    # 4.31 non-working number: cause 1 unallocated number
    (CallFacts(**_NO, reason=0, hangup_cause=1, dial_status="NOANSWER"), "invalid", "4.31"),
    # 4.41 number changed: cause 22
    (CallFacts(**_NO, reason=0, hangup_cause=22), "number_changed", "4.41"),
    # 4.33 temporarily out of service: cause 27 destination out of order
    (CallFacts(**_NO, reason=0, hangup_cause=27), "out_of_service", "4.33"),
    # 3.13 no answer: cause 18 no user responding (phone off / out of coverage)
    (CallFacts(**_NO, reason=0, hangup_cause=18), "unreachable", "3.13"),
    # 3.15 technological barrier (call rejected / blocked): cause 21
    (CallFacts(**_NO, reason=0, hangup_cause=21, dial_status="NOANSWER"), "rejected", "3.15"),
    # 3.16 technical: cause 3 no route to destination (a broken trunk route gives it for
    # every number: retried, never final) and the network congestion causes (34 no
    # circuit ... 47 resource unavailable)
    (CallFacts(**_NO, reason=0, hangup_cause=3), "congestion", "3.16"),
    # 3.13 no answer: cause 19 no answer from user (alerted)
    (CallFacts(**_NO, reason=0, hangup_cause=19, dial_status="NOANSWER"), "no_answer", "3.13"),
    # DialEnd status when the leg's cause is unknown
    (CallFacts(**_NO, reason=0, dial_status="BUSY"), "busy", "3.12"),
    (CallFacts(**_NO, reason=0, dial_status="CONGESTION"), "congestion", "3.16"),
    (CallFacts(**_NO, reason=0, dial_status="NOANSWER"), "no_answer", "3.13"),
    # 3.16 technical: the PBX went away before an answer
    (CallFacts(lost=True, originate_response=None), "lost", "3.16"),
    # 3.11 not worked: Failure with no channel at all (bad technology, trace e)
    (CallFacts(**_NO, reason=0), "failed", "3.11"),
    # nothing known: counted as no answer (3.13), the contact is tried again
    (CallFacts(hangup_cause=16), "no_answer", "3.13"),
]


def test_every_row_has_an_expectation():
    """EXPECTED has exactly one entry per row of RULES (a new row needs its expected outcome)."""
    assert len(EXPECTED) == len(RULES)


@pytest.mark.parametrize(
    ("index", "facts", "name", "code"),
    [(i, *e) for i, e in enumerate(EXPECTED)],
    ids=[f"{i}-{e[1]}" for i, e in enumerate(EXPECTED)],
)
def test_expected_rows(index, facts, name, code):
    """Row `index` decides the written-out facts and gives the expected outcome and AAPOR code."""
    assert rule_for(facts) is RULES[index]
    outcome = classify(facts)
    assert (outcome.name, outcome.aapor) == (name, code)


@pytest.mark.parametrize(
    ("cause", "name", "code"),
    [
        (1, "invalid", "4.31"),
        (3, "congestion", "3.16"),
        (28, "invalid", "4.31"),
        (22, "number_changed", "4.41"),
        (27, "out_of_service", "4.33"),
        (18, "unreachable", "3.13"),
        (20, "unreachable", "3.13"),
        (21, "rejected", "3.15"),
        (34, "congestion", "3.16"),
        (38, "congestion", "3.16"),
        (41, "congestion", "3.16"),
        (42, "congestion", "3.16"),
        (44, "congestion", "3.16"),
        (47, "congestion", "3.16"),
        (19, "no_answer", "3.13"),
        (17, "busy", "3.12"),
    ],
)
def test_unanswered_causes(cause, name, code):
    """Every Q.850 cause the table names, on an unanswered call, gives its outcome and code."""
    outcome = classify(CallFacts(originate_response="Failure", reason=0, hangup_cause=cause))
    assert (outcome.name, outcome.aapor) == (name, code)


@pytest.mark.parametrize(
    "index", range(len(RULES)), ids=[f"{i}-{r.outcome}" for i, r in enumerate(RULES)]
)
def test_row_example(index):
    """Each row's own example is decided by that very row, so no row is shadowed by an earlier one."""
    rule = RULES[index]
    assert rule.matches(rule.example)
    assert rule_for(rule.example) is rule


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


def test_technical_outcomes_are_the_line_failures():
    """The breaker's category: 3.11 and 3.16 outcomes except lost; busy, no answer, invalid and answered calls are not."""
    technical = {name for name, o in OUTCOMES.items() if o.technical}
    assert technical == {"failed", "congestion"}
    no_route = classify(CallFacts(originate_response="Failure", reason=0, hangup_cause=3))
    assert no_route.technical and not no_route.final
