"""
Typed domain events and a tiny bus (Scrapy's signals with C{send_catch_log}).

Producers (the campaign controller, the IVR runner, the agent desktop) publish frozen
dataclasses; observers (metrics, the web dashboard, tests) subscribe by type. A
subscriber that raises is logged with its traceback and never breaks the producer or
the other subscribers. Events carry ids, never phone numbers or answers.
"""

# test-case-name: tests.daemon.test_events

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from twisted.logger import Logger

E = TypeVar("E")


# -- calls ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallOriginated:
    campaign_id: int
    attempt_id: int
    unit_id: int
    server: str
    at: float


@dataclass(frozen=True)
class CallAnswered:
    campaign_id: int
    attempt_id: int
    at: float
    ring_seconds: float


@dataclass(frozen=True)
class CallRouted:
    """An answered call went to an agent (C{to="agent"}) or to the IVR."""

    campaign_id: int
    attempt_id: int
    to: str
    abandoned: bool
    wait_seconds: float  # answer -> routed (dialer side)
    at: float


@dataclass(frozen=True)
class CallBridged:
    campaign_id: int
    attempt_id: int
    agent: str | None
    answer_to_bridge_seconds: float
    at: float


@dataclass(frozen=True)
class CallEnded:
    campaign_id: int
    attempt_id: int
    unit_id: int
    outcome: str
    aapor: str
    abandoned: bool
    final: bool
    at: float


@dataclass(frozen=True)
class SurveyFinished:
    """The IVR runner or an agent finished the questionnaire of one call.

    C{uniqueid} is the call's channel id (the ChannelId we gave Originate), which the
    IVR sees as C{agi_uniqueid}; C{result} is a L{dialer.campaign.dispositions.SurveyResult}
    value (complete, partial, breakoff, refusal, ...).
    """

    uniqueid: str
    result: str
    at: float
    callback_at: float | None = None


@dataclass(frozen=True)
class AgentWrapping:
    """An agent's call ended; the desk (or a simulated desk) now gives the result and
    says when the agent is ready (C{CampaignController.agent_result} / C{agent_ready})."""

    campaign_id: int
    agent: str
    attempt_id: int
    at: float


# -- campaigns and PBX -----------------------------------------------------------------


@dataclass(frozen=True)
class PacingDecided:
    campaign_id: int
    launch: int
    seconds: float  # time the decision took
    at: float


@dataclass(frozen=True)
class DialingPaused:
    """Dialing stopped (AMI down, window closed, operator) or resumed (C{paused=False})."""

    campaign_id: int
    paused: bool
    reason: str
    at: float


@dataclass(frozen=True)
class Reconciled:
    """In-flight attempts were checked against the PBX's live channels."""

    campaign_id: int
    adopted: int
    lost: int
    at: float


@dataclass(frozen=True)
class ContactPreviewed:
    """Preview mode: the contact reserved for the agent who asked for a dial, shown to
    them before it is dialed (the number masked: the desk shows it, logs never do)."""

    campaign_id: int
    agent: str
    attempt_id: int
    contact_id: int
    unit_id: int
    masked_number: str
    at: float


@dataclass(frozen=True)
class LineBreaker:
    """A line's circuit breaker opened (C{failures} technical failures in a row: the
    controller stops dialing on it) or closed (a call got through, or an operator
    resumed the campaign)."""

    server: str
    open: bool
    failures: int
    at: float


@dataclass(frozen=True)
class AMIStateChanged:
    server: str
    connected: bool
    at: float


class EventBus:
    """Publish/subscribe by event type; subscriber errors are logged, never raised."""

    log = Logger()

    def __init__(self) -> None:
        self._subscribers: dict[type, list[Callable[[Any], object]]] = {}

    def subscribe(self, kind: type[E], callback: Callable[[E], object]) -> Callable[[], None]:
        """Call C{callback(event)} for every published event of type C{kind} (or a subclass)."""
        self._subscribers.setdefault(kind, []).append(callback)

        def unsubscribe() -> None:
            callbacks = self._subscribers.get(kind, [])
            if callback in callbacks:
                callbacks.remove(callback)

        return unsubscribe

    def publish(self, event: object) -> None:
        for kind in type(event).__mro__:
            for callback in list(self._subscribers.get(kind, ())):
                try:
                    callback(event)
                except Exception:
                    self.log.failure(
                        "event subscriber failed on {event_type}",
                        event_type=type(event).__name__,
                    )
