"""
Every Prometheus metric of the daemon, updated by observers of the event bus (Scrapy's
CoreStats idea: the logic publishes events, it never touches counters), gauges read at
scrape time, a reactor-lag probe, and the C{/metrics} and C{/healthz} web resources.

Labels are campaign ids, server names, outcomes: never phone numbers or call ids.
"""

# test-case-name: tests.daemon.test_metrics

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, cast

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.web.resource import Resource
from twisted.web.server import Request

from dialer.events import (
    AMIStateChanged,
    CallAnswered,
    CallBridged,
    CallEnded,
    CallOriginated,
    CallRouted,
    DialingPaused,
    EventBus,
    LineBreaker,
    PacingDecided,
    Reconciled,
)

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0)
_DECISION_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)
_LAG_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)


class Metrics:
    """The daemon's metrics in their own registry, fed by the bus."""

    def __init__(self, bus: EventBus, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.originated = Counter(
            "dialer_calls_originated", "Originates sent", ["campaign", "server"], registry=r
        )
        self.answered = Counter("dialer_calls_answered", "Calls answered", ["campaign"], registry=r)
        self.routed = Counter(
            "dialer_calls_routed",
            "Answered calls sent to an agent or to the IVR",
            ["campaign", "to", "abandoned"],
            registry=r,
        )
        self.ended = Counter(
            "dialer_calls_ended",
            "Calls ended, by disposition",
            ["campaign", "outcome", "aapor"],
            registry=r,
        )
        self.abandoned = Counter(
            "dialer_calls_abandoned",
            "Answered calls with no agent within 2 s",
            ["campaign"],
            registry=r,
        )
        self.answer_to_agent = Histogram(
            "dialer_answer_to_bridge_seconds",
            "Answer to bridged with an agent (dialer side)",
            ["campaign"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.answer_to_route = Histogram(
            "dialer_answer_to_route_seconds",
            "Answer to Redirect sent (to an agent, or to the IVR when abandoned)",
            ["campaign", "to"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.decision = Histogram(
            "dialer_pacing_decision_seconds",
            "Time one pacing decision took",
            ["campaign"],
            buckets=_DECISION_BUCKETS,
            registry=r,
        )
        self.launched = Counter(
            "dialer_pacing_launch", "Calls the pacer asked for", ["campaign"], registry=r
        )
        self.paused = Gauge(
            "dialer_campaign_paused", "1 while a campaign does not dial", ["campaign"], registry=r
        )
        self.reconciled = Counter(
            "dialer_reconciled_calls",
            "In-flight calls checked after a restart or reconnect",
            ["campaign", "result"],
            registry=r,
        )
        self.ami_up = Gauge(
            "dialer_ami_connected", "1 while the AMI connection is usable", ["server"], registry=r
        )
        self.breaker = Gauge(
            "dialer_line_breaker_open",
            "1 while a line's circuit breaker is open (not dialed: technical failures in a row)",
            ["server"],
            registry=r,
        )
        self.lag = Gauge("dialer_reactor_lag_seconds", "Last measured reactor lag", registry=r)
        self.lag_hist = Histogram(
            "dialer_reactor_lag", "Reactor lag samples (seconds)", buckets=_LAG_BUCKETS, registry=r
        )
        self.live = Gauge("dialer_calls_live", "Calls in progress", ["campaign"], registry=r)
        self.abandon_rate = Gauge(
            "dialer_abandonment_ratio",
            "Abandoned / live-answered calls",
            ["campaign", "window"],
            registry=r,
        )
        self.live_answered = Gauge(
            "dialer_live_answered",
            "Live-answered calls (the abandonment denominator)",
            ["campaign", "window"],
            registry=r,
        )
        self._unsubscribe = [
            bus.subscribe(CallOriginated, self._originated),
            bus.subscribe(CallAnswered, lambda e: self.answered.labels(str(e.campaign_id)).inc()),
            bus.subscribe(CallRouted, self._routed),
            bus.subscribe(CallBridged, self._bridged),
            bus.subscribe(CallEnded, self._ended),
            bus.subscribe(PacingDecided, self._decided),
            bus.subscribe(DialingPaused, self._paused),
            bus.subscribe(Reconciled, self._reconciled),
            bus.subscribe(
                AMIStateChanged, lambda e: self.ami_up.labels(e.server).set(int(e.connected))
            ),
            bus.subscribe(LineBreaker, lambda e: self.breaker.labels(e.server).set(int(e.open))),
        ]

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    def _originated(self, e: CallOriginated) -> None:
        self.originated.labels(str(e.campaign_id), e.server).inc()

    def _routed(self, e: CallRouted) -> None:
        self.routed.labels(str(e.campaign_id), e.to, str(e.abandoned).lower()).inc()
        self.answer_to_route.labels(str(e.campaign_id), e.to).observe(e.wait_seconds)
        if e.abandoned:
            self.abandoned.labels(str(e.campaign_id)).inc()

    def _bridged(self, e: CallBridged) -> None:
        self.answer_to_agent.labels(str(e.campaign_id)).observe(e.answer_to_bridge_seconds)

    def _ended(self, e: CallEnded) -> None:
        self.ended.labels(str(e.campaign_id), e.outcome, e.aapor).inc()

    def _decided(self, e: PacingDecided) -> None:
        self.decision.labels(str(e.campaign_id)).observe(e.seconds)
        if e.launch > 0:
            self.launched.labels(str(e.campaign_id)).inc(e.launch)

    def _paused(self, e: DialingPaused) -> None:
        self.paused.labels(str(e.campaign_id)).set(int(e.paused))

    def _reconciled(self, e: Reconciled) -> None:
        self.reconciled.labels(str(e.campaign_id), "adopted").inc(e.adopted)
        self.reconciled.labels(str(e.campaign_id), "lost").inc(e.lost)

    def watch_campaign(
        self, campaign_id: int, live: Callable[[], int], ledger: Callable[[], Any]
    ) -> None:
        """Scrape-time gauges of one campaign: live calls and its abandonment ledger."""
        cid = str(campaign_id)
        self.live.labels(cid).set_function(lambda: float(live()))
        for window in ("campaign", "day", "month"):

            def rate(w: str = window) -> float:
                return float(getattr(ledger(), w).rate)

            def count(w: str = window) -> float:
                return float(getattr(ledger(), w).live_answered)

            self.abandon_rate.labels(cid, window).set_function(rate)
            self.live_answered.labels(cid, window).set_function(count)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class ReactorLag:
    """Measures how late a C{LoopingCall} fires: a blocked reactor shows up here."""

    def __init__(self, metrics: Metrics, clock: IReactorTime, interval: float = 0.5) -> None:
        self.metrics = metrics
        self.clock: Any = clock
        self.interval = interval
        self._expected = 0.0
        self._loop = LoopingCall(self._tick)
        self._loop.clock = clock

    def start(self) -> None:
        self._expected = self.clock.seconds() + self.interval
        self._loop.start(self.interval, now=False)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def _tick(self) -> None:
        now = self.clock.seconds()
        lag = max(0.0, now - self._expected)
        self._expected = now + self.interval
        self.metrics.lag.set(lag)
        self.metrics.lag_hist.observe(lag)


class MetricsResource(Resource):
    isLeaf = True

    def __init__(self, metrics: Metrics) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.metrics = metrics

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"Content-Type", CONTENT_TYPE_LATEST.encode())  # type: ignore[no-untyped-call]
        return self.metrics.exposition()


class HealthResource(Resource):
    """200 when the daemon can work (store open, an AMI connected); 503 with reasons otherwise."""

    isLeaf = True

    def __init__(self, checks: Callable[[], Iterable[tuple[str, bool]]]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.checks = checks

    def render_GET(self, request: Request) -> bytes:
        results = dict(self.checks())
        ok = all(results.values())
        request.setResponseCode(200 if ok else 503)
        request.setHeader(b"Content-Type", b"application/json")  # type: ignore[no-untyped-call]
        return json.dumps({"ok": ok, "checks": results}).encode()


def web_root(metrics: Metrics, checks: Callable[[], Iterable[tuple[str, bool]]]) -> Resource:
    root = Resource()  # type: ignore[no-untyped-call]
    root.putChild(b"metrics", cast(Any, MetricsResource(metrics)))
    root.putChild(b"healthz", cast(Any, HealthResource(checks)))
    return root
