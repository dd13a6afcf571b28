"""
The life of one call (pure): states, the events that move it, and what is known.

::

    pending ─▶ originating ─▶ dialing ─▶ ringing ─▶ answered ─┬─▶ bridged ─▶ wrapup ─▶ ended
       │            │            │          │          │       └─▶ ivr ───────────────▶ ended
       └────────────┴────────────┴──────────┴──────────┴──────────────────────────────▶ ended

C{pending}: the attempt row is written, Originate not sent yet. C{originating}: sent,
not acknowledged. C{dialing}: Asterisk queued it. C{answered}: the callee picked up and
waits in C{hold} for an agent (at most 2 s, then it is abandoned to the IVR). C{wrapup}:
the line is down but the agent has not yet given the interview result.

L{advance} takes a L{Call} and an event and returns the new L{Call}. Late or
duplicated events (a C{Ringing} after the answer, a second hangup) change nothing;
a call never leaves C{ended}. When a call ends, L{dialer.campaign.dispositions.classify}
turns its L{CallFacts} into the disposition.
"""

# test-case-name: tests.campaign.test_calls

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

from dialer.campaign.dispositions import CallFacts, Outcome, SurveyResult, classify


class CallState(enum.StrEnum):
    PENDING = "pending"
    ORIGINATING = "originating"
    DIALING = "dialing"
    RINGING = "ringing"
    ANSWERED = "answered"
    BRIDGED = "bridged"
    IVR = "ivr"
    WRAPUP = "wrapup"
    ENDED = "ended"


LIVE_STATES = frozenset(CallState) - {CallState.ENDED}
# States in which a channel exists (or may exist) on the PBX.
ON_PBX = frozenset(
    {
        CallState.ORIGINATING,
        CallState.DIALING,
        CallState.RINGING,
        CallState.ANSWERED,
        CallState.BRIDGED,
        CallState.IVR,
    }
)
_ORDER = {s: i for i, s in enumerate(CallState)}


# ---------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OriginateSent:
    at: float


@dataclass(frozen=True)
class OriginateQueued:
    """The Originate action got C{Response: Success}."""

    at: float


@dataclass(frozen=True)
class OriginateRefused:
    """The Originate action got C{Response: Error} (or timed out): nothing was dialed."""

    at: float
    message: str = ""


@dataclass(frozen=True)
class ChannelUp:
    """A channel of this attempt exists (Newchannel) or rings (Newstate Ringing)."""

    at: float
    ringing: bool = False
    channel: str | None = None


@dataclass(frozen=True)
class OriginateResult:
    """The C{OriginateResponse} event."""

    at: float
    response: str  # Success | Failure
    reason: int
    channel: str | None = None


@dataclass(frozen=True)
class Answered:
    """The callee is up (Newstate Up on our leg, or OriginateResponse reason 4)."""

    at: float
    channel: str | None = None


@dataclass(frozen=True)
class MachineDetected:
    at: float


@dataclass(frozen=True)
class Routed:
    """The dialer sent the answered call to an agent or to the IVR."""

    at: float
    to: str  # agent | ivr
    agent: str | None = None
    abandoned: bool = False


@dataclass(frozen=True)
class Bridged:
    """The callee's channel entered a bridge with an agent."""

    at: float
    agent: str | None = None


@dataclass(frozen=True)
class Abandoned:
    """Answered and never given to an interviewer or the IVR (nobody routed it: the
    dialer was down); it waited in C{hold} and heard the safe-harbour message."""

    at: float


@dataclass(frozen=True)
class IvrStarted:
    at: float


@dataclass(frozen=True)
class DialEnded:
    """C{DialEnd} with its C{DialStatus} (BUSY, NOANSWER, CONGESTION, ...)."""

    at: float
    status: str


@dataclass(frozen=True)
class HungUp:
    """A leg of this attempt hung up; C{primary} is our own (the ;1) leg."""

    at: float
    cause: int
    primary: bool


@dataclass(frozen=True)
class SurveyDone:
    """The interview result from the agent or the IVR runner."""

    at: float
    result: SurveyResult


@dataclass(frozen=True)
class Lost:
    """The PBX went away, or reconciliation found no channel: end with what is known."""

    at: float


@dataclass(frozen=True)
class WrapupTimeout:
    """The agent gave no result in time."""

    at: float


CallEvent = (
    OriginateSent
    | OriginateQueued
    | OriginateRefused
    | ChannelUp
    | OriginateResult
    | Answered
    | MachineDetected
    | Routed
    | Abandoned
    | Bridged
    | IvrStarted
    | DialEnded
    | HungUp
    | SurveyDone
    | Lost
    | WrapupTimeout
)


# ---------------------------------------------------------------------------
# The call
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    attempt_id: int
    campaign_id: int
    contact_id: int
    unit_id: int
    attempt_no: int
    action_id: str
    uniqueid: str  # the ChannelId we gave Originate
    created_at: float
    state: CallState = CallState.PENDING
    server: str | None = None
    channel: str | None = None
    originated_at: float | None = None
    answered_at: float | None = None
    bridged_at: float | None = None
    ended_at: float | None = None
    mode: str | None = None  # agent | ivr
    agent: str | None = None
    channel_seen: bool = False
    facts: CallFacts = dataclasses.field(default_factory=CallFacts)

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    @property
    def ended(self) -> bool:
        return self.state is CallState.ENDED

    @property
    def outcome(self) -> Outcome | None:
        return classify(self.facts) if self.ended else None

    def _with(self, **changes: object) -> Call:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def _facts(self, **changes: object) -> CallFacts:
        return dataclasses.replace(self.facts, **changes)  # type: ignore[arg-type]

    def _to(self, state: CallState, **changes: object) -> Call:
        """Move forward only: a late event never takes a call back to an earlier state."""
        if _ORDER[state] < _ORDER[self.state]:
            return self._with(**changes)
        return self._with(state=state, **changes)

    def _end(self, at: float, **facts: object) -> Call:
        return self._with(state=CallState.ENDED, ended_at=at, facts=self._facts(**facts))


def advance(call: Call, event: CallEvent) -> Call:
    """The call after C{event}."""
    if call.ended:
        return call
    match event:
        case OriginateSent(at):
            return call._to(CallState.ORIGINATING, originated_at=call.originated_at or at)
        case OriginateQueued():
            return call._to(CallState.DIALING)
        case OriginateRefused(at):
            return call._end(at, originate_accepted=False)
        case ChannelUp(_, ringing, channel):
            state = CallState.RINGING if ringing else CallState.DIALING
            return call._to(state, channel_seen=True, channel=call.channel or channel)
        case OriginateResult(at, response, reason, channel):
            if response == "Success":
                answered = call._facts(originate_response=response, reason=reason, answered=True)
                return call._to(
                    CallState.ANSWERED,
                    answered_at=call.answered_at or at,
                    channel=channel or call.channel,
                    facts=answered,
                )
            failed = call._with(facts=call._facts(originate_response=response, reason=reason))
            if not call.channel_seen:
                # No channel was ever created (bad technology, missing context):
                # no Hangup will follow.
                return failed._end(at)
            return failed
        case Answered(at, channel):
            return call._to(
                CallState.ANSWERED,
                answered_at=call.answered_at or at,
                channel=call.channel or channel,
                channel_seen=True,
                facts=call._facts(answered=True),
            )
        case MachineDetected():
            return call._with(facts=call._facts(machine=True))
        case Routed(_, to, agent, abandoned):
            if to == "ivr":
                return call._to(
                    CallState.IVR,
                    mode="ivr",
                    agent=None,  # an interviewer it was moved to never took it
                    facts=call._facts(ivr=True, abandoned=abandoned or call.facts.abandoned),
                )
            return call._with(mode="agent", agent=agent)
        case Abandoned():
            return call._with(facts=call._facts(abandoned=True))
        case Bridged(at, agent):
            return call._to(
                CallState.BRIDGED,
                bridged_at=call.bridged_at or at,
                mode="agent",
                agent=agent or call.agent,
                facts=call._facts(bridged=True),
            )
        case IvrStarted():
            return call._to(CallState.IVR, mode=call.mode or "ivr", facts=call._facts(ivr=True))
        case DialEnded(_, status):
            if call.facts.answered:
                return call
            return call._with(facts=call._facts(dial_status=status))
        case HungUp(at, cause, primary):
            facts = call.facts
            if cause and facts.hangup_cause is None:
                facts = dataclasses.replace(facts, hangup_cause=cause)
            if not primary:
                return call._with(facts=facts)
            if call.state is CallState.BRIDGED and facts.survey is None:
                return call._with(state=CallState.WRAPUP, facts=facts)
            return call._with(facts=facts)._end(at)
        case SurveyDone(at, result):
            done = call._with(facts=call._facts(survey=result))
            if call.state is CallState.WRAPUP:
                return done._end(at)
            return done
        case Lost(at):
            # A call whose line was up with an agent and then lost keeps whatever
            # result the agent gave; otherwise it is a lost call.
            return call._end(at, lost=call.facts.survey is None)
        case WrapupTimeout(at):
            return call._end(at)
    raise AssertionError(f"unknown call event {event!r}")  # pragma: no cover
