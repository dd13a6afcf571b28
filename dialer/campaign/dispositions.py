"""
What happened on a call, as an AAPOR-coded disposition (pure; no Twisted, no clock).

The controller collects L{CallFacts} from AMI events (the OriginateResponse reason,
the callee leg's Hangup cause, whether the call was answered, reached an agent or the
IVR, answering-machine detection, the survey result) and L{classify} maps them to an
L{Outcome} through L{RULES}: an ordered table, first match wins. Each row carries an
example that the tests feed back through L{classify}, so every row is tested.

AAPOR codes follow the Standard Definitions (10th edition, telephone surveys). An
outcome also names its retry class (see L{dialer.campaign.retries}): whether the
contact is finished, and how long to wait before trying again.

Hangup causes are Q.850 numbers as in the AMI C{Hangup} event's C{Cause}; the
OriginateResponse reasons seen on Asterisk 22 are 0 (hung up before answer, any
cause), 3 (Originate timeout while ringing), 4 (answered), 5 (busy), 8 (congestion).
"""

# test-case-name: tests.campaign.test_dispositions

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dialer.surveys.flow import End


class SurveyResult(enum.StrEnum):
    """How the interview itself ended (reported by the agent desktop or the IVR runner)."""

    COMPLETE = "complete"
    PARTIAL = "partial"  # enough answers to count as a partial interview
    BREAKOFF = "breakoff"  # started, too few answers
    REFUSAL = "refusal"  # soft refusal: may be tried again later
    HARD_REFUSAL = "hard_refusal"  # asked never to be called again
    HANGUP_INTRO = "hangup_intro"  # hung up during the introduction
    CALLBACK = "callback"  # made an appointment
    INELIGIBLE = "ineligible"  # no eligible respondent
    LANGUAGE = "language"  # language barrier
    NONRESIDENTIAL = "nonresidential"  # business / not a citizen line
    FAX = "fax"  # fax or data line


def survey_result(end: End) -> SurveyResult:
    """A questionnaire flow's end as the engine's L{SurveyResult} (IVR runner and desktop alike).

    A hang-up before the first substantive question is AAPOR 2.11 either way; the
    engine keeps it apart from a declined consent as C{hangup_intro}.
    """
    if end.outcome == "refused":
        return SurveyResult.HANGUP_INTRO if end.reason == "hangup" else SurveyResult.REFUSAL
    return {
        "complete": SurveyResult.COMPLETE,
        "partial": SurveyResult.PARTIAL,
        "break_off": SurveyResult.BREAKOFF,
        "ineligible": SurveyResult.INELIGIBLE,
    }[end.outcome]


@dataclass(frozen=True)
class Outcome:
    """A disposition: a stable name, its AAPOR code, and how retries treat it."""

    name: str
    aapor: str
    retry_class: str  # a key of RetryRules.delays, or "final"
    counts_as_attempt: bool
    en: str
    zh: str

    @property
    def final(self) -> bool:
        return self.retry_class == "final"

    @property
    def technical(self) -> bool:
        """The line failed, not the number: AAPOR 3.11 (not dialed) and 3.16 (technical
        problem: congestion, channel unavailable, no route). C{lost} (the PBX went away
        under the call) is 3.16 too but says nothing about the trunk: not counted. The
        controller's per-line circuit breaker counts these in a row."""
        return self.aapor in ("3.11", "3.16") and self.name != "lost"


def _o(name: str, aapor: str, retry: str, en: str, zh: str, *, counts: bool = True) -> Outcome:
    return Outcome(name, aapor, retry, counts, en, zh)


# Every outcome the engine can produce, by name.
OUTCOMES: dict[str, Outcome] = {
    o.name: o
    for o in [
        _o("complete", "1.1", "final", "complete", "完成"),
        _o("partial", "1.2", "final", "partial interview", "部分完成"),
        _o("refusal", "2.11", "refusal", "refusal (soft)", "拒访（可再访）"),
        _o("hard_refusal", "2.112", "final", "refusal (hard)", "明确拒访"),
        _o("dnc", "2.112", "final", "do not call", "免打扰名单"),
        _o("hangup_intro", "2.11", "refusal", "hung up during introduction", "开场挂断"),
        _o("breakoff", "2.12", "breakoff", "break-off", "中途放弃"),
        _o("callback", "2.21", "callback", "appointment made", "预约回访"),
        _o("language", "2.33", "final", "language barrier", "语言障碍"),
        _o("abandoned", "2.35", "abandoned", "abandoned, no interview", "放弃呼叫（未访问）"),
        _o("answered_hangup", "2.35", "no_answer", "answered then hung up at once", "接通即挂"),
        _o("busy", "3.12", "busy", "busy", "忙线"),
        _o("no_answer", "3.13", "no_answer", "no answer", "无人接听"),
        _o("unreachable", "3.13", "no_answer", "unreachable / switched off", "无法接通/关机"),
        _o("machine", "3.14", "machine", "answering machine", "答录机/语音信箱"),
        _o("rejected", "3.15", "no_answer", "call rejected", "拒接"),
        _o("congestion", "3.16", "congestion", "network congestion", "网络拥塞"),
        _o(
            "failed", "3.11", "failed", "not dialed (dialer or PBX error)", "未能拨出", counts=False
        ),
        _o("lost", "3.16", "congestion", "lost (PBX went away)", "呼叫丢失（PBX 中断）"),
        _o("fax", "4.20", "final", "fax/data line", "传真/数据线路"),
        _o("invalid", "4.31", "final", "non-working number", "空号"),
        _o("out_of_service", "4.33", "out_of_service", "temporarily out of service", "暂停服务"),
        _o("number_changed", "4.41", "final", "number changed", "改号"),
        _o("nonresidential", "4.51", "final", "non-residential", "非住宅/单位电话"),
        _o("ineligible", "4.70", "final", "no eligible respondent", "无合格受访者"),
    ]
}


@dataclass(frozen=True)
class CallFacts:
    """Everything the engine learned about one attempt, collected from AMI/AGI/the desktop."""

    originate_accepted: bool = True  # False: the Originate action itself got an Error
    originate_response: str | None = None  # Success | Failure | None (no event)
    reason: int | None = None  # OriginateResponse Reason
    hangup_cause: int | None = None  # callee leg Hangup Cause (Q.850)
    dial_status: str | None = None  # DialEnd DialStatus
    answered: bool = False
    machine: bool = False  # answering machine detected (AMDSTATUS=MACHINE)
    bridged: bool = False  # reached an agent
    ivr: bool = False  # ran the IVR survey
    abandoned: bool = False  # answered, no agent within 2 s
    survey: SurveyResult | None = None
    lost: bool = False  # the PBX went away / reconciliation found no channel


_ANY: Any = object()


@dataclass(frozen=True)
class Rule:
    """One row of the table: the facts it requires, the outcome, and a worked example."""

    when: Mapping[str, Any]  # CallFacts field -> value, or a frozenset of allowed values
    outcome: str
    note: str
    example: CallFacts

    def matches(self, facts: CallFacts) -> bool:
        for key, want in self.when.items():
            have = getattr(facts, key)
            if isinstance(want, frozenset):
                if have not in want:
                    return False
            elif have != want:
                return False
        return True


def _r(outcome: str, note: str, example: CallFacts, **when: Any) -> Rule:
    return Rule(when, outcome, note, example)


_S = SurveyResult
_F = CallFacts
_UP: dict[str, Any] = {"originate_response": "Success", "reason": 4, "answered": True}

# Causes (Q.850) that mean the number does not work / is temporarily not reachable.
INVALID_CAUSES = frozenset({1, 28})  # unallocated, invalid number format
NUMBER_CHANGED_CAUSES = frozenset({22})
OUT_OF_SERVICE_CAUSES = frozenset({27})  # destination out of order
UNREACHABLE_CAUSES = frozenset({18, 20})  # no user responding, subscriber absent (switched off)
# Technical (3.16, retried): network causes, and 3 "no route to destination", which a
# broken trunk route gives for every number (as final 4.31 it finished good numbers).
CONGESTION_CAUSES = frozenset({3, 34, 38, 41, 42, 44, 47})
NO_ANSWER_CAUSES = frozenset({19})

# The table, in order: first match wins. Answered calls first (the survey result is the
# strongest evidence), then the unanswered ones from the most to the least specific.
RULES: tuple[Rule, ...] = (
    _r(
        "failed",
        "Originate refused by Asterisk (bad channel, missing context)",
        _F(originate_accepted=False),
        originate_accepted=False,
    ),
    _r(
        "lost",
        "PBX went away mid-call (g1-g3) or channel gone after restart",
        _F(lost=True, answered=True),
        lost=True,
        answered=True,
        survey=None,
    ),
    _r(
        "complete",
        "interview completed (agent or IVR)",
        _F(**_UP, ivr=True, survey=_S.COMPLETE),
        survey=_S.COMPLETE,
    ),
    _r(
        "partial",
        "partial interview",
        _F(**_UP, bridged=True, survey=_S.PARTIAL),
        survey=_S.PARTIAL,
    ),
    _r(
        "breakoff",
        "started, then hung up with too few answers",
        _F(**_UP, ivr=True, survey=_S.BREAKOFF),
        survey=_S.BREAKOFF,
    ),
    _r(
        "hard_refusal",
        "asked never to be called",
        _F(**_UP, bridged=True, survey=_S.HARD_REFUSAL),
        survey=_S.HARD_REFUSAL,
    ),
    _r("refusal", "soft refusal", _F(**_UP, bridged=True, survey=_S.REFUSAL), survey=_S.REFUSAL),
    _r(
        "hangup_intro",
        "hung up during the introduction (AAPOR: a refusal)",
        _F(**_UP, ivr=True, survey=_S.HANGUP_INTRO),
        survey=_S.HANGUP_INTRO,
    ),
    _r(
        "callback",
        "appointment made",
        _F(**_UP, bridged=True, survey=_S.CALLBACK),
        survey=_S.CALLBACK,
    ),
    _r(
        "ineligible",
        "no eligible respondent",
        _F(**_UP, bridged=True, survey=_S.INELIGIBLE),
        survey=_S.INELIGIBLE,
    ),
    _r(
        "language",
        "language barrier",
        _F(**_UP, bridged=True, survey=_S.LANGUAGE),
        survey=_S.LANGUAGE,
    ),
    _r(
        "nonresidential",
        "business line",
        _F(**_UP, bridged=True, survey=_S.NONRESIDENTIAL),
        survey=_S.NONRESIDENTIAL,
    ),
    _r("fax", "fax/data tone", _F(**_UP, survey=_S.FAX), survey=_S.FAX),
    _r(
        "machine",
        "answering machine detected, hung up",
        _F(**_UP, machine=True, hangup_cause=16),
        answered=True,
        machine=True,
    ),
    _r(
        "abandoned",
        "answered, no agent within 2 s, IVR got no survey result",
        _F(**_UP, abandoned=True, ivr=True, hangup_cause=16),
        answered=True,
        abandoned=True,
    ),
    _r(
        "hangup_intro",
        "reached an agent or the IVR, hung up before any result",
        _F(**_UP, bridged=True, hangup_cause=16),
        answered=True,
        bridged=True,
    ),
    _r(
        "hangup_intro",
        "IVR ran, hung up before any result",
        _F(**_UP, ivr=True, hangup_cause=16),
        answered=True,
        ivr=True,
    ),
    _r(
        "answered_hangup",
        "answered, hung up while waiting in hold (< 2 s)",
        _F(**_UP, hangup_cause=16),
        answered=True,
    ),
    _r(
        "busy",
        "OriginateResponse reason 5 (b0)",
        _F(originate_response="Failure", reason=5, hangup_cause=17),
        reason=5,
    ),
    _r(
        "busy",
        "callee leg cause 17 user busy",
        _F(originate_response="Failure", reason=0, hangup_cause=17),
        hangup_cause=17,
    ),
    _r(
        "congestion",
        "OriginateResponse reason 8 (b4)",
        _F(originate_response="Failure", reason=8, hangup_cause=34),
        reason=8,
    ),
    _r(
        "no_answer",
        "Originate timeout while ringing, reason 3 (b1)",
        _F(originate_response="Failure", reason=3, hangup_cause=19),
        reason=3,
    ),
    _r(
        "invalid",
        "unallocated / invalid format (b7: cause 1)",
        _F(originate_response="Failure", reason=0, hangup_cause=1),
        hangup_cause=INVALID_CAUSES,
    ),
    _r(
        "number_changed",
        "cause 22 number changed",
        _F(originate_response="Failure", reason=0, hangup_cause=22),
        hangup_cause=NUMBER_CHANGED_CAUSES,
    ),
    _r(
        "out_of_service",
        "cause 27 destination out of order",
        _F(originate_response="Failure", reason=0, hangup_cause=27),
        hangup_cause=OUT_OF_SERVICE_CAUSES,
    ),
    _r(
        "unreachable",
        "cause 18/20: no user responding, switched off",
        _F(originate_response="Failure", reason=0, hangup_cause=20),
        hangup_cause=UNREACHABLE_CAUSES,
    ),
    _r(
        "rejected",
        "cause 21 call rejected (b6)",
        _F(originate_response="Failure", reason=0, hangup_cause=21),
        hangup_cause=21,
    ),
    _r(
        "congestion",
        "no route (3: often the trunk) and network causes 34/38/41/42/44/47",
        _F(originate_response="Failure", reason=0, hangup_cause=41),
        hangup_cause=CONGESTION_CAUSES,
    ),
    _r(
        "no_answer",
        "callee gave up ringing, cause 19 (b1x)",
        _F(originate_response="Failure", reason=0, hangup_cause=19),
        hangup_cause=NO_ANSWER_CAUSES,
    ),
    _r(
        "busy",
        "DialEnd BUSY without a cause",
        _F(originate_response="Failure", reason=0, dial_status="BUSY"),
        dial_status="BUSY",
    ),
    _r(
        "congestion",
        "DialEnd CONGESTION/CHANUNAVAIL without a cause",
        _F(originate_response="Failure", reason=0, dial_status="CHANUNAVAIL"),
        dial_status=frozenset({"CONGESTION", "CHANUNAVAIL"}),
    ),
    _r(
        "no_answer",
        "DialEnd NOANSWER without a cause",
        _F(originate_response="Failure", reason=0, dial_status="NOANSWER"),
        dial_status="NOANSWER",
    ),
    _r("lost", "never answered and the PBX went away", _F(lost=True), lost=True),
    _r(
        "failed",
        "Failure reason 0 with no channel at all (bad technology, e)",
        _F(originate_response="Failure", reason=0),
        originate_response="Failure",
    ),
    _r("no_answer", "ended with nothing known (fallback)", _F()),
)


def classify(facts: CallFacts) -> Outcome:
    """The outcome of the first rule in L{RULES} matching C{facts}."""
    for rule in RULES:
        if rule.matches(facts):
            return OUTCOMES[rule.outcome]
    raise AssertionError("RULES ends with a catch-all row")  # pragma: no cover


def rule_for(facts: CallFacts) -> Rule:
    """The row of L{RULES} that decides C{facts} (for explanations and tests)."""
    for rule in RULES:
        if rule.matches(facts):
            return rule
    raise AssertionError("RULES ends with a catch-all row")  # pragma: no cover


def with_facts(facts: CallFacts, **changes: Any) -> CallFacts:
    """A copy of C{facts} with C{changes} applied."""
    return dataclasses.replace(facts, **changes)


def _describe(when: Any) -> str:
    parts = []
    for key, value in when.items():
        if isinstance(value, frozenset):
            value = "/".join(str(v) for v in sorted(value, key=str))
        elif isinstance(value, enum.Enum):
            value = value.value
        parts.append(f"{key}={value}")
    return ", ".join(parts) or "(anything else)"


def markdown_table() -> str:
    """L{RULES} as a Markdown table (docs/campaigns.md is checked against it)."""
    lines = [
        "| # | when (first match wins) | outcome | AAPOR | retry class | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for i, rule in enumerate(RULES, 1):
        o = OUTCOMES[rule.outcome]
        lines.append(
            f"| {i} | {_describe(rule.when)} | {o.name} | {o.aapor} | {o.retry_class} | "
            f"{rule.note} / {o.zh} |"
        )
    return "\n".join(lines) + "\n"
