"""
Test helpers for the AMI client: a fake endpoint, a connected protocol, and a trace driver.
"""

from __future__ import annotations

from collections.abc import Iterator

from twisted.internet import defer
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone, ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from dialer.ami.message import Framer, Message
from dialer.ami.protocol import AMIProtocol

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def connected(
    clock: Clock | None = None, *, banner: bool = True, **kwargs
) -> tuple[AMIProtocol, StringTransport]:
    """A protocol on a StringTransport, connectionMade called, the banner received."""
    p = AMIProtocol(clock or Clock(), **kwargs)
    t = StringTransport()
    p.makeConnection(t)
    if banner:
        p.dataReceived(BANNER)
    return p, t


def written(transport: StringTransport) -> list[Message]:
    """Parse and clear what the protocol wrote."""
    data = transport.value()
    transport.clear()
    return Framer().feed(data)


def feed(protocol: AMIProtocol, data: bytes, size: int | None = None) -> None:
    """Deliver bytes in chunks of C{size} (whole when None)."""
    if size is None or size <= 0:
        protocol.dataReceived(data)
        return
    for i in range(0, len(data), size):
        protocol.dataReceived(data[i : i + size])


def lose(protocol: AMIProtocol, transport: StringTransport | None = None) -> None:
    """Simulate the peer closing the connection."""
    if transport is not None:
        transport.disconnecting = True
    protocol.connectionLost(Failure(ConnectionDone("closed by peer")))


class IdsFrom:
    """An ActionID factory that hands out scripted ids (then falls back to a counter)."""

    def __init__(self, ids: list[str] | None = None) -> None:
        self.ids: list[str] = list(ids or [])
        self.n = 0

    def __call__(self) -> str:
        if self.ids:
            return self.ids.pop(0)
        self.n += 1
        return f"auto-{self.n}"


class FakeEndpoint:
    """
    A client endpoint: each connect() pops an outcome (True = connect to a new
    StringTransport, an exception = fail); with none left it connects.
    """

    def __init__(self, outcomes: list[object] | None = None) -> None:
        self.outcomes = list(outcomes or [])
        self.connections: list[tuple[AMIProtocol, StringTransport]] = []
        self.attempts = 0

    def connect(self, factory):
        self.attempts += 1
        outcome = self.outcomes.pop(0) if self.outcomes else True
        if isinstance(outcome, BaseException):
            return defer.fail(outcome)
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 5038))
        transport = StringTransport()
        protocol.makeConnection(transport)
        self.connections.append((protocol, transport))
        return defer.succeed(protocol)

    @property
    def last(self) -> tuple[AMIProtocol, StringTransport]:
        return self.connections[-1]


def refused() -> ConnectionRefusedError:
    return ConnectionRefusedError("refused")


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]
