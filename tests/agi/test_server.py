"""The FastAGI factory: routing by agi_network_script, isolation of sessions, draining."""

from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from dialer.agi.server import FastAGIFactory, fastagi_service
from tests.agi.fake_asterisk import environment


def _connect(factory):
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def _lose(protocol):
    protocol.connectionLost()


class TestRouting:
    def test_routes_by_script(self):
        """Each session runs the function registered under its agi_network_script."""
        seen = []
        factory = FastAGIFactory(
            Clock(),
            {
                "survey": lambda agi: seen.append(("survey", agi.env.get("uniqueid"))),
                "other": lambda agi: seen.append(("other", agi.env.get("uniqueid"))),
            },
        )
        a, _ = _connect(factory)
        b, _ = _connect(factory)
        a.dataReceived(environment("survey", uniqueid="1.1"))
        b.dataReceived(environment("other", uniqueid="1.2"))
        assert seen == [("survey", "1.1"), ("other", "1.2")]

    def test_unknown_script_closed(self):
        """A script nobody registered gets its socket closed and runs nothing."""
        factory = FastAGIFactory(Clock(), {"survey": lambda agi: None})
        protocol, transport = _connect(factory)
        protocol.dataReceived(environment("nosuch"))
        assert transport.disconnecting

    def test_garbage_closes_only_that_session(self):
        """A malformed stream on one connection leaves the other sessions running."""
        factory = FastAGIFactory(Clock(), {"survey": lambda agi: defer.Deferred()})
        good, good_transport = _connect(factory)
        bad, bad_transport = _connect(factory)
        good.dataReceived(environment())
        bad.dataReceived(environment())
        bad.send_command("ANSWER")
        bad.dataReceived(b"\x00\x01 garbage\n")
        assert bad_transport.disconnecting
        assert not good_transport.disconnecting
        d = good.send_command("ANSWER")
        good.dataReceived(b"200 result=0\n")
        assert d.called

    def test_sessions_tracked(self):
        """Live sessions are tracked and forgotten once their connection is gone."""
        factory = FastAGIFactory(Clock(), {"survey": lambda agi: None})
        protocol, _ = _connect(factory)
        assert factory.sessions == {protocol}
        protocol.dataReceived(environment())
        _lose(protocol)
        assert factory.sessions == set()


class TestDrain:
    def test_drain_waits_then_closes(self):
        """drain() waits for sessions, then closes the stragglers after its timeout."""
        clock = Clock()
        factory = FastAGIFactory(clock, {"survey": lambda agi: defer.Deferred()})
        protocol, transport = _connect(factory)
        protocol.dataReceived(environment())
        done = factory.drain(10)
        clock.advance(9)
        assert not transport.disconnecting
        clock.advance(1)
        assert transport.disconnecting
        _lose(protocol)
        assert done.called

    def test_drain_empty(self):
        """With no sessions, drain() is done at once."""
        assert FastAGIFactory(Clock(), {}).drain(5).called


def test_service_from_endpoint_string():
    """fastagi_service builds a listening service from a loopback endpoint string."""
    from twisted.internet import reactor

    service = fastagi_service(reactor, "tcp:0:interface=127.0.0.1", FastAGIFactory(Clock(), {}))
    assert service.agi_factory.scripts == {}
