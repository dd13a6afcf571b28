"""Metrics are observers of the bus; /metrics and /healthz resources; reactor lag."""

from twisted.internet.task import Clock
from twisted.web.test.requesthelper import DummyRequest

from dialer.events import CallBridged, CallEnded, CallOriginated, CallRouted, EventBus
from dialer.metrics import HealthResource, Metrics, MetricsResource, ReactorLag
from dialer.pacing.ledger import AbandonmentLedger


def sample(m, name, labels=None):
    return m.registry.get_sample_value(name, labels or {})


def test_counters_follow_events():
    """Originated, routed, abandoned, ended and latency metrics come from bus events."""
    bus = EventBus()
    m = Metrics(bus)
    bus.publish(CallOriginated(7, 1, 2, "pbx1", 0.0))
    bus.publish(CallRouted(7, 1, "ivr", True, 2.0, 1.0))
    bus.publish(CallBridged(7, 2, "agent1", 0.04, 1.0))
    bus.publish(CallEnded(7, 1, 2, "abandoned", "2.35", True, False, 3.0))
    assert sample(m, "dialer_calls_originated_total", {"campaign": "7", "server": "pbx1"}) == 1
    assert sample(m, "dialer_calls_abandoned_total", {"campaign": "7"}) == 1
    assert (
        sample(
            m,
            "dialer_calls_ended_total",
            {"campaign": "7", "outcome": "abandoned", "aapor": "2.35"},
        )
        == 1
    )
    assert sample(m, "dialer_answer_to_bridge_seconds_bucket", {"campaign": "7", "le": "0.05"}) == 1


def test_ledger_gauges_at_scrape_time():
    """The abandonment ratio is read from the ledger when scraped, with its denominator."""
    bus = EventBus()
    m = Metrics(bus)
    ledger = AbandonmentLedger(0.03)
    m.watch_campaign(3, lambda: 5, lambda: ledger.figures(100.0))
    for _ in range(4):
        ledger.record_live_answer(50.0)
    ledger.record_abandoned(60.0)
    assert sample(m, "dialer_abandonment_ratio", {"campaign": "3", "window": "campaign"}) == 0.25
    assert sample(m, "dialer_live_answered", {"campaign": "3", "window": "day"}) == 4
    assert sample(m, "dialer_calls_live", {"campaign": "3"}) == 5


def test_metrics_resource():
    """GET /metrics returns the text exposition."""
    m = Metrics(EventBus())
    req = DummyRequest([b""])
    body = MetricsResource(m).render_GET(req)
    assert b"dialer_reactor_lag_seconds" in body


def test_health_resource():
    """/healthz is 200 when every check passes, 503 and names the failing one otherwise."""
    req = DummyRequest([b""])
    assert b'"ok": true' in HealthResource(lambda: [("ami:pbx1", True)]).render_GET(req)
    req = DummyRequest([b""])
    body = HealthResource(lambda: [("ami:pbx1", False)]).render_GET(req)
    assert req.responseCode == 503 and b"ami:pbx1" in body


def test_reactor_lag():
    """A tick that fires late is reported as lag."""
    clock = Clock()
    m = Metrics(EventBus())
    lag = ReactorLag(m, clock, interval=0.5)
    lag.start()
    clock.advance(0.5)
    assert sample(m, "dialer_reactor_lag_seconds") == 0
    clock.advance(0.8)  # the next tick ran 0.3 s late
    assert abs(sample(m, "dialer_reactor_lag_seconds") - 0.3) < 1e-9
    lag.stop()
