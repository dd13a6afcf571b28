"""The typed event bus."""

from twisted.logger import globalLogPublisher

from dialer.events import CallEnded, CallOriginated, EventBus


def test_subscribe_by_type():
    """Subscribers get only their event type; `object` gets everything."""
    bus = EventBus()
    ended, everything = [], []
    bus.subscribe(CallEnded, ended.append)
    bus.subscribe(object, everything.append)
    e1 = CallOriginated(1, 2, 3, "pbx1", 0.0)
    e2 = CallEnded(1, 2, 3, "busy", "3.12", False, False, 1.0)
    bus.publish(e1)
    bus.publish(e2)
    assert ended == [e2] and everything == [e1, e2]


def test_subscriber_error_logged_not_raised():
    """A failing subscriber is logged; the others still run and publish does not raise."""
    bus = EventBus()
    got, logged = [], []

    def boom(event):
        raise RuntimeError("bug")

    bus.subscribe(CallOriginated, boom)
    bus.subscribe(CallOriginated, got.append)
    globalLogPublisher.addObserver(logged.append)
    try:
        bus.publish(CallOriginated(1, 2, 3, "pbx1", 0.0))
    finally:
        globalLogPublisher.removeObserver(logged.append)
    assert len(got) == 1
    assert any("log_failure" in e for e in logged)


def test_unsubscribe():
    """After unsubscribing, no more events arrive."""
    bus = EventBus()
    got = []
    off = bus.subscribe(CallOriginated, got.append)
    off()
    bus.publish(CallOriginated(1, 2, 3, "pbx1", 0.0))
    assert got == []
