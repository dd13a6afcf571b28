"""The AstDB outcome record: parsing (pure) and settling a call from it through the one table."""

from __future__ import annotations

import pytest

from dialer.campaign.calls import Call, CallState
from dialer.campaign.dispositions import CallFacts
from dialer.campaign.outcomes import (
    OutcomeRecordError,
    format_record,
    parse_record,
    settle,
)

T = 1_795_600_000.0


def _call(state=CallState.DIALING, **kw) -> Call:
    base = dict(
        attempt_id=7,
        campaign_id=1,
        contact_id=3,
        unit_id=1,
        attempt_no=1,
        action_id="mnyab-1-7",
        uniqueid="mny-1-7",
        created_at=T,
        state=state,
        originated_at=T,
        channel_seen=True,
    )
    base.update(kw)
    return Call(**base)


def _settle(call, text, *, amd=True, grace=2.0):
    return settle(call, parse_record(text, call.attempt_id), now=T + 500, amd=amd, grace=grace)


def test_parse_the_dialplan_s_value():
    """Every field of a full record is read; the agent comes from DIALEDPEERNUMBER."""
    rec = parse_record(
        "v=1;tok=mnyab-1-7;end=1795600060;cause=16;state=Up;ans=1795600005.250000;"
        "amd=HUMAN;dial=ANSWER;peer=agent3@agents;talk=50;agi=",
        7,
    )
    assert rec.attempt_id == 7
    assert (rec.ended_at, rec.cause, rec.answered, rec.answered_at) == (
        1795600060.0,
        16,
        True,
        1795600005.25,
    )
    assert (rec.amd, rec.dial_status, rec.agent, rec.talk, rec.agi) == (
        "HUMAN",
        "ANSWER",
        "agent3",
        50.0,
        None,
    )
    assert rec.reached_agent and not rec.ivr_ran and rec.matches("mnyab-1-7")
    assert not rec.matches("other")


def test_parse_unanswered_and_empty_fields():
    """Empty values are 'not set'; ans 0.000000 means never answered; unknown fields are ignored."""
    rec = parse_record("v=1;tok=;end=;cause=19;state=Ringing;ans=0.000000;amd=;x=new", 9)
    assert (rec.cause, rec.answered, rec.answered_at, rec.ended_at, rec.amd, rec.token) == (
        19,
        False,
        None,
        None,
        None,
        None,
    )
    assert rec.matches("anything")


def test_format_record_round_trips():
    """format_record writes what parse_record reads (the dialplan's layout)."""
    text = format_record(token="t", ended_at=T, cause=17, state="Down")
    rec = parse_record(text, 1)
    assert (rec.token, rec.ended_at, rec.cause, rec.answered) == ("t", T, 17, False)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("cause=16;state=Up", "v"),
        ("v=2;cause=16", "v"),
        ("v=1;cause=abc", "cause"),
        ("v=1;cause=16.5", "cause"),
        ("v=1;end=-3", "end"),
        ("v=1;ans=nan", "ans"),
        ("v=1;amd=ROBOT", "amd"),
        ("v=1;cause=16;cause=17", "cause"),
        ("v=1;garbage", "garbage"),
        ("v=1;talk=1e", "talk"),
    ],
)
def test_garbled_values_name_attempt_and_field(text, field):
    """A garbled record is an OutcomeRecordError naming the attempt and the field."""
    with pytest.raises(OutcomeRecordError) as e:
        parse_record(text, 42)
    assert e.value.attempt_id == 42 and e.value.field == field
    assert "attempt 42" in str(e.value) and repr(field) in str(e.value)


def test_settle_busy_on_a_sip_trunk():
    """Unanswered with cause 17: busy, as the live path's 'callee leg cause 17' row."""
    call = _settle(_call(), format_record(ended_at=T + 3, cause=17))
    assert call.ended and call.outcome.name == "busy" and call.ended_at == T + 3


def test_settle_no_answer_rejected_invalid():
    """Causes 19, 21 and 1 map as they do live."""
    for cause, name in ((19, "no_answer"), (21, "rejected"), (1, "invalid")):
        call = _settle(_call(), format_record(ended_at=T + 3, cause=cause, state="Ringing"))
        assert call.outcome.name == name


def test_settle_unknown_unanswered_is_no_answer_not_lost():
    """A Local ;1 dropped by the dial (cause 0, never answered): the table's fallback row."""
    call = _settle(_call(), format_record(ended_at=T + 1, cause=0))
    assert call.outcome.name == "no_answer" and not call.facts.lost


def test_settle_machine_with_and_without_amd():
    """AMDSTATUS MACHINE: machine when the campaign acts on AMD; otherwise an abandoned answer."""
    text = format_record(ended_at=T + 130, cause=16, state="Up", answered_at=T + 10, amd="MACHINE")
    assert _settle(_call(), text).outcome.name == "machine"
    unattended = _settle(_call(), text, amd=False)
    assert unattended.outcome.name == "abandoned" and unattended.facts.abandoned


def test_settle_answered_and_left_in_hold_is_abandoned():
    """A person answered while nobody routed calls: abandoned (AAPOR 2.35), answer time kept."""
    text = format_record(ended_at=T + 60, cause=16, state="Up", answered_at=T + 8, amd="HUMAN")
    call = _settle(_call(), text)
    assert call.outcome.name == "abandoned" and call.answered_at == T + 8
    assert not call.facts.ivr


def test_settle_hung_up_within_grace_is_answered_hangup():
    """Hung up within the grace time of the answer: not an abandonment."""
    text = format_record(ended_at=T + 9, cause=16, state="Up", answered_at=T + 8, amd="NOTSURE")
    assert _settle(_call(), text).outcome.name == "answered_hangup"


def test_settle_interviewer_reached_waits_for_the_result():
    """Reached an interviewer: wrap-up (the interviewer gives the result), agent from the record."""
    text = format_record(
        ended_at=T + 90,
        cause=16,
        state="Up",
        answered_at=T + 5,
        dial="ANSWER",
        peer="agent4@agents",
    )
    call = _settle(_call(), text)
    assert call.state is CallState.WRAPUP and call.agent == "agent4" and call.facts.bridged


def test_settle_bridged_before_the_crash():
    """A call the store says was bridged ends in wrap-up too, keeping its agent."""
    before = _call(
        CallState.BRIDGED,
        answered_at=T + 5,
        bridged_at=T + 6,
        mode="agent",
        agent="agent1",
        facts=CallFacts(originate_response="Success", reason=4, answered=True, bridged=True),
    )
    text = format_record(ended_at=T + 90, cause=16, state="Up", dial="ANSWER", peer="agent1@agents")
    call = _settle(before, text)
    assert call.state is CallState.WRAPUP and call.agent == "agent1"


def test_settle_ivr_that_ran_hung_up_before_a_result():
    """AGISTATUS HANGUP: the respondent hung up in the IVR; no result -> the IVR row (the
    store's own result wins later)."""
    text = format_record(ended_at=T + 40, cause=16, state="Up", answered_at=T + 3, agi="HANGUP")
    call = _settle(_call(), text)
    assert call.ended and call.facts.ivr and call.outcome.name == "hangup_intro"


def test_settle_ivr_cut_by_the_server_going_away():
    """AGISTATUS SUCCESS: the FastAGI server closed with the call up; without a stored result
    the dialer's death cut it: lost, with the hang-up cause kept."""
    text = format_record(ended_at=T + 40, cause=16, state="Up", answered_at=T + 3, agi="SUCCESS")
    call = _settle(_call(), text)
    assert call.ended and call.facts.ivr and call.facts.lost
    assert call.outcome.name == "lost" and call.facts.hangup_cause == 16


def test_settle_ivr_connect_failure_is_not_an_ivr():
    """AGISTATUS FAILURE (nothing listened): the IVR never ran; an unrouted answer is abandoned."""
    text = format_record(ended_at=T + 40, cause=16, state="Up", answered_at=T + 3, agi="FAILURE")
    call = _settle(_call(), text)
    assert not call.facts.ivr and call.outcome.name == "abandoned"
