"""The call state machine, driven by event sequences as seen in the reference traces."""

import pytest

from dialer.campaign.calls import (
    Answered,
    Bridged,
    Call,
    CallState,
    ChannelUp,
    DialEnded,
    HungUp,
    IvrStarted,
    Lost,
    MachineDetected,
    OriginateQueued,
    OriginateRefused,
    OriginateResult,
    OriginateSent,
    Routed,
    SurveyDone,
    WrapupTimeout,
    advance,
)
from dialer.campaign.dispositions import SurveyResult


def new_call():
    return Call(
        attempt_id=1,
        campaign_id=1,
        contact_id=7,
        unit_id=2,
        attempt_no=1,
        action_id="a-1",
        uniqueid="mny-1-1",
        created_at=100.0,
    )


def run(*events):
    call = new_call()
    for e in events:
        call = advance(call, e)
    return call


START = (OriginateSent(100.0), OriginateQueued(100.01), ChannelUp(100.02))


def test_busy_b0():
    """b0: ;2 hangs up 17, OriginateResponse reason 5, then ;1 hangs up 0 -> busy."""
    call = run(
        *START,
        DialEnded(100.5, "BUSY"),
        HungUp(100.5, 17, primary=False),
        OriginateResult(100.5, "Failure", 5),
        HungUp(100.51, 0, primary=True),
    )
    assert call.state is CallState.ENDED and call.outcome.name == "busy"
    assert call.facts.hangup_cause == 17 and call.ended_at == 100.51


def test_failure_waits_for_primary_hangup():
    """b1x: OriginateResponse reason 0 comes before the Hangups carrying the cause."""
    call = run(
        *START,
        ChannelUp(101, ringing=True),
        DialEnded(130, "NOANSWER"),
        OriginateResult(130, "Failure", 0),
    )
    assert call.state is CallState.RINGING
    call = advance(call, HungUp(130.1, 19, primary=True))
    assert call.outcome.name == "no_answer"


def test_unallocated_b7():
    """b7: cause 1 -> invalid number (final)."""
    call = run(
        *START,
        DialEnded(100.1, "NOANSWER"),
        OriginateResult(100.1, "Failure", 0),
        HungUp(100.1, 1, primary=False),
        HungUp(100.1, 1, primary=True),
    )
    assert call.outcome.name == "invalid" and call.outcome.final


def test_bad_technology_ends_without_hangup():
    """Failure with no channel ever seen ends at once (no Hangup will come)."""
    call = run(OriginateSent(100), OriginateQueued(100.01), OriginateResult(100.02, "Failure", 0))
    assert call.ended and call.outcome.name == "failed"


def test_originate_refused():
    """An Originate answered with Error ends as failed (not counted as an attempt)."""
    call = run(OriginateSent(100), OriginateRefused(100.01, "Extension does not exist."))
    assert call.ended and call.outcome.name == "failed" and not call.outcome.counts_as_attempt


def test_agent_call_with_result_b5():
    """b5: answered, bridged to an agent, callee hangs up, agent records complete."""
    call = run(
        *START,
        ChannelUp(101, ringing=True),
        OriginateResult(102, "Success", 4, "Local/x;1"),
        Routed(102.05, "agent", agent="agent1"),
        Bridged(102.1, "agent1"),
    )
    assert call.state is CallState.BRIDGED and call.answered_at == 102 and call.bridged_at == 102.1
    call = advance(call, HungUp(122, 16, primary=True))
    assert call.state is CallState.WRAPUP and call.live
    call = advance(call, SurveyDone(130, SurveyResult.COMPLETE))
    assert call.ended and call.outcome.aapor == "1.1" and call.ended_at == 130


def test_wrapup_timeout():
    """An agent who never gives a result: the call still ends (hung up during intro)."""
    call = run(
        *START,
        Answered(102),
        Bridged(102.1, "a"),
        HungUp(110, 16, primary=True),
        WrapupTimeout(400),
    )
    assert call.ended and call.outcome.name == "hangup_intro"


def test_result_before_hangup():
    """A result given while still on the line ends the call at hangup, without wrap-up."""
    call = run(
        *START,
        Answered(102),
        Bridged(102.1, "a"),
        SurveyDone(150, SurveyResult.REFUSAL),
        HungUp(151, 16, primary=True),
    )
    assert call.ended and call.outcome.name == "refusal"


def test_abandoned_to_ivr():
    """No agent in 2 s: routed to the IVR as abandoned; IVR complete still counts complete."""
    call = run(
        *START,
        OriginateResult(102, "Success", 4),
        Routed(104, "ivr", abandoned=True),
        IvrStarted(104.1),
    )
    assert call.state is CallState.IVR and call.facts.abandoned and call.mode == "ivr"
    done = advance(
        advance(call, SurveyDone(200, SurveyResult.COMPLETE)), HungUp(201, 16, primary=True)
    )
    assert done.outcome.name == "complete"
    quit_ = advance(call, HungUp(110, 16, primary=True))
    assert quit_.outcome.name == "abandoned"


def test_machine():
    """AMD says machine, the dialer hangs up: answering machine."""
    call = run(
        *START,
        OriginateResult(102, "Success", 4),
        MachineDetected(105),
        HungUp(105.1, 16, primary=True),
    )
    assert call.outcome.name == "machine"


def test_lost_while_ringing_and_while_answered():
    """The PBX going away ends live calls as lost, whatever their state."""
    assert run(*START, Lost(105)).outcome.name == "lost"
    assert run(*START, Answered(102), Lost(105)).outcome.name == "lost"


def test_lost_in_wrapup_keeps_result():
    """An agent result already given survives a later loss."""
    call = run(
        *START, Answered(102), Bridged(103), SurveyDone(120, SurveyResult.PARTIAL), Lost(121)
    )
    assert call.outcome.name == "partial"


@pytest.mark.parametrize(
    "late", [ChannelUp(105, ringing=True), OriginateQueued(105), DialEnded(105, "BUSY")]
)
def test_late_events_do_not_go_back(late):
    """A late Ringing/queued/DialEnd after the answer neither moves the state back nor changes facts."""
    call = run(*START, Answered(102))
    after = advance(call, late)
    assert after.state is CallState.ANSWERED and after.facts == call.facts


def test_ended_is_final():
    """Nothing moves an ended call."""
    call = run(OriginateSent(100), OriginateRefused(100.1))
    assert advance(call, Answered(101)) is call
