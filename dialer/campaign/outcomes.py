"""
What Asterisk itself recorded about a call's end, for calls that ended while no dialer
listened (pure; no Twisted, no clock).

The dialer's Originate pushes a hangup handler on the channel it creates
(C{CHANNEL(hangup_handler_push)=minyi-outcome,s,1}, see C{asterisk_conf/extensions.conf}).
Hangup handlers run whenever the channel is hung up, answered or not, so when the call
ends Asterisk writes one AstDB entry: family L{FAMILY}, key the attempt id
(C{MINYI_ATTEMPT}), value a compact C{field=value;...} string, e.g.::

    v=1;tok=mny1a2b3c4d-1-17;end=1795594360;cause=16;state=Up;ans=1795594344.250000;
    amd=HUMAN;dial=ANSWER;peer=agent3@agents;talk=14;agi=

L{parse_record} reads it into a L{HangupRecord} (a garbled value is an
L{OutcomeRecordError} naming the attempt and the field). L{settle} replays it on the
attempt's L{Call} as the same events the live path feeds L{dialer.campaign.calls.advance},
so the disposition comes from the one table, L{dialer.campaign.dispositions.RULES}.

Fields (all written by the handler; empty values mean "not set on the channel"):

==========  =====================================================================
C{v}        record version, C{1}
C{tok}      C{MINYI_TOKEN}: the Originate's ActionID (a stale key from an older store
            whose attempt ids were reused does not match the attempt's)
C{end}      C{EPOCH} when the handler ran (seconds)
C{cause}    C{HANGUPCAUSE} of our channel (Q.850; 0 when the dial dropped it itself)
C{state}    C{CHANNEL(state)}: C{Up} once answered
C{ans}      C{CDR(answer,u)}: epoch of the answer, C{0.000000} if never answered
C{amd}      C{AMDSTATUS} from C{AMD()} in C{hold}
C{dial}     C{DIALSTATUS} of C{toagent}'s C{Dial()}: C{ANSWER} = reached an interviewer
C{peer}     C{DIALEDPEERNUMBER}: C{agentN@agents}, the interviewer
C{talk}     C{ANSWEREDTIME}: seconds bridged with the interviewer
C{agi}      C{AGISTATUS}: the IVR ran (C{SUCCESS}/C{HANGUP}) or could not (C{FAILURE})
==========  =====================================================================
"""

# test-case-name: tests.campaign.test_outcomes

from __future__ import annotations

from dataclasses import dataclass

from dialer.campaign import calls as c
from dialer.campaign.calls import Call, CallState

__all__ = [
    "FAMILY",
    "HANDLER",
    "HangupRecord",
    "OutcomeRecordError",
    "format_record",
    "parse_record",
    "settle",
]

#: The AstDB family the hangup handler writes (key: the attempt id).
FAMILY = "minyi_outcome"
#: Where the hangup handler lives in the dialplan (C{context,exten,priority}).
HANDLER = "minyi-outcome,s,1"
VERSION = "1"
_KNOWN = frozenset(
    {"v", "tok", "end", "cause", "state", "ans", "amd", "dial", "peer", "talk", "agi"}
)
_AMD = frozenset({"MACHINE", "HUMAN", "NOTSURE", "HANGUP"})
_IVR_RAN = frozenset({"SUCCESS", "HANGUP"})


class OutcomeRecordError(ValueError):
    """An AstDB outcome value that cannot be read; the message names attempt and field."""

    def __init__(self, attempt_id: int, field: str, problem: str) -> None:
        super().__init__(f"attempt {attempt_id}: AstDB outcome field {field!r}: {problem}")
        self.attempt_id = attempt_id
        self.field = field


@dataclass(frozen=True)
class HangupRecord:
    """One parsed AstDB outcome entry."""

    attempt_id: int
    ended_at: float | None
    cause: int
    answered: bool
    answered_at: float | None
    amd: str | None
    dial_status: str | None
    agent: str | None  # the interviewer's extension (agentN), when one was reached
    talk: float | None
    agi: str | None
    token: str | None

    @property
    def reached_agent(self) -> bool:
        return self.dial_status == "ANSWER"

    @property
    def ivr_ran(self) -> bool:
        return self.agi in _IVR_RAN

    def matches(self, action_id: str | None) -> bool:
        """False when the record names another Originate (a stale key from an older store)."""
        return self.token is None or action_id is None or self.token == action_id


def _number(attempt_id: int, field: str, text: str) -> float | None:
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise OutcomeRecordError(attempt_id, field, f"not a number: {text!r}") from None
    if value != value or value < 0:  # NaN or negative
        raise OutcomeRecordError(attempt_id, field, f"not a usable number: {text!r}")
    return value


def parse_record(text: str, attempt_id: int) -> HangupRecord:
    """Read the hangup handler's C{field=value;...} string (see the module docstring)."""
    fields: dict[str, str] = {}
    for part in text.strip().split(";"):
        if not part:
            continue
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not key:
            raise OutcomeRecordError(attempt_id, key or part, f"not field=value: {part!r}")
        if key in fields:
            raise OutcomeRecordError(attempt_id, key, "given twice")
        fields[key] = value.strip()
    version = fields.get("v")
    if version is None:
        raise OutcomeRecordError(attempt_id, "v", "missing (not a Minyi outcome record?)")
    if version != VERSION:
        raise OutcomeRecordError(attempt_id, "v", f"unknown version {version!r}")
    # unknown fields from a newer dialplan are ignored (forward compatible)
    cause_value = _number(attempt_id, "cause", fields.get("cause", ""))
    if cause_value is not None and cause_value != int(cause_value):
        raise OutcomeRecordError(attempt_id, "cause", f"not a whole number: {fields['cause']!r}")
    cause = int(cause_value or 0)
    ended_at = _number(attempt_id, "end", fields.get("end", ""))
    ans = _number(attempt_id, "ans", fields.get("ans", ""))
    answered_at = ans if ans else None  # CDR(answer,u) is 0.000000 when never answered
    state = fields.get("state", "")
    amd = fields.get("amd", "").upper() or None
    if amd is not None and amd not in _AMD:
        raise OutcomeRecordError(attempt_id, "amd", f"unknown AMDSTATUS {amd!r}")
    peer = fields.get("peer", "")
    agent = peer.split("@", 1)[0].rsplit("/", 1)[-1] or None
    return HangupRecord(
        attempt_id=attempt_id,
        ended_at=ended_at or None,
        cause=cause,
        answered=state.lower() == "up" or answered_at is not None,
        answered_at=answered_at,
        amd=amd,
        dial_status=fields.get("dial", "").upper() or None,
        agent=agent,
        talk=_number(attempt_id, "talk", fields.get("talk", "")),
        agi=fields.get("agi", "").upper() or None,
        token=fields.get("tok") or None,
    )


def format_record(
    *,
    token: str = "",
    ended_at: float | None = None,
    cause: int = 0,
    state: str = "Down",
    answered_at: float | None = None,
    amd: str = "",
    dial: str = "",
    peer: str = "",
    talk: float | None = None,
    agi: str = "",
) -> str:
    """The string the dialplan writes, for tests and tools (the dialplan is the source)."""
    parts = [
        ("v", VERSION),
        ("tok", token),
        ("end", "" if ended_at is None else str(int(ended_at))),
        ("cause", str(cause)),
        ("state", state),
        ("ans", f"{answered_at or 0:.6f}"),
        ("amd", amd),
        ("dial", dial),
        ("peer", peer),
        ("talk", "" if talk is None else str(int(talk))),
        ("agi", agi),
    ]
    return ";".join(f"{k}={v}" for k, v in parts)


def settle(call: Call, record: HangupRecord, *, now: float, amd: bool, grace: float) -> Call:
    """
    C{call} after what C{record} says happened while nobody listened.

    The result has ended, or waits in C{wrapup} for the interviewer's result when the
    call reached one (as on the live path). C{amd}: whether the campaign acts on AMD
    verdicts (with it off, a C{MACHINE} verdict is ignored, as live). An answered call
    that reached neither an interviewer nor the IVR and was not hung up within C{grace}
    seconds of the answer (or whose answer time is unknown) was abandoned: nobody routed
    it, it waited in C{hold} and heard the safe-harbour message. An IVR session the server
    closed with the call up (C{AGISTATUS=SUCCESS}) ends as C{lost} unless the store holds
    the IVR's result (L{dialer.store.campaigns.thd_finish_attempt} prefers it).
    """
    at = record.ended_at if record.ended_at is not None else now
    events: list[c.CallEvent] = []
    answered = record.answered or call.facts.answered
    if record.answered and not call.facts.answered:
        events.append(c.Answered(record.answered_at or at))
    machine = amd and answered and record.amd == "MACHINE"
    if machine:
        events.append(c.MachineDetected(at))
    if record.reached_agent:
        agent = record.agent or call.agent
        if call.state is not CallState.BRIDGED:
            events.append(c.Routed(at, "agent", agent=agent))
        events.append(c.Bridged(at, agent))
    elif record.ivr_ran:
        events.append(c.IvrStarted(at))
    elif (
        answered
        and not machine
        and call.state is not CallState.BRIDGED
        and not call.facts.ivr
        and not call.facts.abandoned
    ):
        answered_at = call.answered_at or record.answered_at
        if answered_at is None or at - answered_at > grace:
            events.append(c.Abandoned(at))
    if record.agi == "SUCCESS":
        # AGI returns SUCCESS when the FastAGI server closed the session with the call still
        # up; the runner stores its result before it closes, so a session without a stored
        # result was cut by the dialer going away: lost (the store's result wins if any).
        events += [c.HungUp(at, record.cause, primary=False), c.Lost(at)]
    else:
        events.append(c.HungUp(at, record.cause, primary=True))
    for event in events:
        call = c.advance(call, event)
    return call
