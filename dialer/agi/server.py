# -*- test-case-name: tests.agi.test_server -*-
"""
The FastAGI server: a factory routing sessions by C{agi_network_script}, and its service.

Asterisk's dialplan says C{AGI(agi://127.0.0.1:4573/survey,...)}; the path after the
port (C{survey}) arrives as C{agi_network_script} and picks the session function.
An unknown script is logged and its socket closed (Asterisk then goes on with the
dialplan, C{AGISTATUS=SUCCESS}).
"""

from __future__ import annotations

from collections.abc import Mapping

from twisted.application.internet import StreamServerEndpointService
from twisted.internet import defer
from twisted.internet.endpoints import serverFromString
from twisted.internet.protocol import Factory
from twisted.logger import Logger

from dialer.agi.protocol import (
    DEFAULT_COMMAND_TIMEOUT,
    DEFAULT_ENV_TIMEOUT,
    Clock,
    FastAGIProtocol,
    RoundTripObserver,
    SessionFunction,
)
from dialer.agi.replies import Environment

DEFAULT_ENDPOINT = "tcp:4573:interface=127.0.0.1:backlog=1024"  # answered calls come in bursts


class FastAGIFactory(Factory):
    """Builds one L{FastAGIProtocol} per connection and keeps the live ones."""

    log = Logger()

    def __init__(
        self,
        clock: Clock,
        scripts: Mapping[str, SessionFunction],
        *,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        env_timeout: float = DEFAULT_ENV_TIMEOUT,
        round_trip: RoundTripObserver | None = None,
    ) -> None:
        self.clock = clock
        self.scripts = dict(scripts)
        self.command_timeout = command_timeout
        self.env_timeout = env_timeout
        self.round_trip = round_trip
        self.sessions: set[FastAGIProtocol] = set()

    def route(self, env: Environment) -> SessionFunction | None:
        return self.scripts.get(env.script)

    def buildProtocol(self, addr: object) -> FastAGIProtocol:
        protocol = FastAGIProtocol(
            self.clock,
            self.route,
            command_timeout=self.command_timeout,
            env_timeout=self.env_timeout,
            round_trip=self.round_trip,
        )
        protocol.factory = self
        self.sessions.add(protocol)
        protocol.ended.addBoth(lambda _: self.sessions.discard(protocol))
        return protocol

    def drain(self, timeout: float) -> defer.Deferred[None]:
        """Wait for live sessions to end; after C{timeout} seconds close the rest."""
        waiting = [p.ended for p in self.sessions]
        if not waiting:
            return defer.succeed(None)

        def close_rest() -> None:
            for protocol in list(self.sessions):
                protocol.stop()

        timer = self.clock.callLater(timeout, close_rest)
        done = defer.DeferredList(waiting, consumeErrors=True)

        def finished(_: object) -> None:
            if timer.active():
                timer.cancel()

        return done.addCallback(finished)


class FastAGIService(StreamServerEndpointService):
    """Listens for FastAGI; on stop, stops listening then drains the live sessions."""

    def __init__(self, endpoint: object, factory: FastAGIFactory, drain_timeout: float = 30.0):
        super().__init__(endpoint, factory)  # type: ignore[no-untyped-call]
        self.agi_factory = factory
        self.drain_timeout = drain_timeout

    def stopService(self) -> defer.Deferred[None]:
        stopped: defer.Deferred[None] = defer.maybeDeferred(super().stopService)
        stopped.addCallback(lambda _: self.agi_factory.drain(self.drain_timeout))
        return stopped


def fastagi_service(
    reactor: object, description: str, factory: FastAGIFactory, drain_timeout: float = 30.0
) -> FastAGIService:
    """A service listening on a Twisted endpoint string (default loopback port 4573)."""
    endpoint = serverFromString(reactor, description)  # type: ignore[no-untyped-call]
    return FastAGIService(endpoint, factory, drain_timeout)
