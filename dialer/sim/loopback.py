# -*- test-case-name: tests.sim.test_loopback -*-
"""
In-memory connections: a client protocol and a server protocol joined by two transports
that deliver bytes through C{clock.callLater(0, ...)}, so the same code runs on the real
reactor or on a C{task.Clock} (virtual time) without sockets.

L{LoopbackEndpoint} is an C{IStreamClientEndpoint}: C{ClientService}, C{connectProtocol}
and friends use it as they use a TCP endpoint.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone, ConnectionLost, ConnectionRefusedError
from twisted.internet.interfaces import (
    IProtocol,
    IReactorTime,
    IStreamClientEndpoint,
    ITransport,
)
from twisted.python.failure import Failure
from zope.interface import implementer

__all__ = ["LoopbackEndpoint", "LoopbackTransport", "connect"]

_ports = iter(range(40000, 2**31))


@implementer(ITransport)
class LoopbackTransport:
    """One direction of an in-memory connection."""

    disconnecting = False

    def __init__(self, clock: IReactorTime, host: IPv4Address, peer: IPv4Address) -> None:
        self.clock: Any = clock
        self.host = host
        self.peer_address = peer
        self.protocol: Any = None  # the IProtocol that owns this transport
        self.other: LoopbackTransport | None = None
        self._out: list[bytes] = []
        self._scheduled = False
        self.closed = False
        self._close_reason: type[Exception] | None = None

    def write(self, data: bytes) -> None:
        if self.closed or self.disconnecting or not data:
            return
        self._out.append(data)
        self._schedule()

    def writeSequence(self, data: Any) -> None:
        for chunk in data:
            self.write(chunk)

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.clock.callLater(0, self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        other = self.other
        if self._out and other is not None and not other.closed and other.protocol is not None:
            data = b"".join(self._out)
            self._out = []
            other.protocol.dataReceived(data)
        self._out = []
        if self._close_reason is not None and not self.closed:
            self._close(self._close_reason)

    def loseConnection(self) -> None:
        if self.closed or self.disconnecting:
            return
        self.disconnecting = True
        self._close_reason = ConnectionDone
        self._schedule()

    def abortConnection(self) -> None:
        self._out = []
        self.disconnecting = True
        self._close_reason = ConnectionLost
        self._schedule()

    def _close(self, reason: type[Exception]) -> None:
        self.closed = True
        other = self.other
        if self.protocol is not None:
            self.protocol.connectionLost(Failure(reason()))  # type: ignore[no-untyped-call]
        if other is not None and not other.closed:
            other.closed = True
            if other.protocol is not None:
                other.protocol.connectionLost(Failure(reason()))  # type: ignore[no-untyped-call]

    def getPeer(self) -> IPv4Address:
        return self.peer_address

    def getHost(self) -> IPv4Address:
        return self.host

    # producer/consumer and TCP knobs some protocols touch
    def registerProducer(self, producer: Any, streaming: bool) -> None:
        pass

    def unregisterProducer(self) -> None:
        pass

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        self.loseConnection()

    def setTcpNoDelay(self, enabled: bool) -> None:
        pass

    def setTcpKeepAlive(self, enabled: bool) -> None:
        pass


def connect(
    clock: IReactorTime, client: Any, server: Any, server_port: int
) -> tuple[LoopbackTransport, LoopbackTransport]:
    """Join C{client} and C{server}; both get C{makeConnection} now (server first)."""
    client_addr = IPv4Address("TCP", "127.0.0.1", next(_ports))
    server_addr = IPv4Address("TCP", "127.0.0.1", server_port)
    ct = LoopbackTransport(clock, client_addr, server_addr)
    st = LoopbackTransport(clock, server_addr, client_addr)
    ct.other, st.other = st, ct
    ct.protocol, st.protocol = client, server
    server.makeConnection(st)
    client.makeConnection(ct)
    return ct, st


@implementer(IStreamClientEndpoint)
class LoopbackEndpoint:
    """
    Connects to a server factory in the same process. C{server_factory} may be a factory
    or a zero-argument callable returning one (or None when "nothing listens": the
    connection is refused, like a closed port).
    """

    def __init__(self, clock: IReactorTime, server_factory: Any, port: int = 0) -> None:
        self.clock: Any = clock
        self._server = server_factory
        self.port = port

    def connect(self, protocolFactory: Any) -> defer.Deferred[IProtocol]:
        factory = (
            self._server()
            if callable(self._server) and not hasattr(self._server, "buildProtocol")
            else self._server
        )
        if factory is None:
            refused = ConnectionRefusedError("nothing listens (simulated)")  # type: ignore[no-untyped-call]
            return defer.fail(refused)
        addr = IPv4Address("TCP", "127.0.0.1", next(_ports))
        server = factory.buildProtocol(addr)
        client = protocolFactory.buildProtocol(IPv4Address("TCP", "127.0.0.1", self.port))
        if server is None or client is None:
            refused = ConnectionRefusedError("factory refused")  # type: ignore[no-untyped-call]
            return defer.fail(refused)
        connect(self.clock, client, server, self.port)
        return defer.succeed(client)
