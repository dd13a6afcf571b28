# -*- test-case-name: tests.agi.test_protocol -*-
"""
FastAGI protocol: one Asterisk channel, one session, one command at a time.

Asterisk connects, sends the environment block, then waits for our commands. Each
command gets exactly one reply, so pending commands are a FIFO of Deferreds (starpy's
shape), each with its own timeout on the injected clock.

Rules the reference traces taught us:

 - the bare C{HANGUP} line is unsolicited and may arrive between a command and its
   reply: it fails the pending command and every later one with L{CallHungUp}, but the
   reply that Asterisk still sends for the pending command is read and dropped, so the
   FIFO stays in step. Commands sent with C{dead_ok=True} (C{GET VARIABLE},
   C{VERBOSE}, which Asterisk still serves on a dead channel) are left to complete;
 - a 511 reply also means the channel is gone (L{DeadChannel}, a L{CallHungUp});
 - Asterisk never closes the socket after a hang-up: we close it when the session
   function returns, however it ends;
 - a command that is not answered in time (L{CommandTimeout}) or a line that is not
   FastAGI (L{MalformedStream}) ends the session and closes this connection only.
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from twisted.internet import defer
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.protocols.basic import LineOnlyReceiver
from twisted.python.failure import Failure

from dialer.agi.replies import (
    AGIError,
    CallHungUp,
    CommandError,
    CommandTimeout,
    DeadChannel,
    Environment,
    EnvironmentParser,
    HangupNotice,
    MalformedStream,
    Reply,
    ReplyParser,
    SessionClosed,
)


class Timer(Protocol):
    """What C{callLater} returns (L{twisted.internet.interfaces.Timer})."""

    def active(self) -> bool: ...
    def cancel(self) -> None: ...


class Clock(Protocol):
    """The part of L{twisted.internet.interfaces.IReactorTime} we use (the reactor or a Clock)."""

    def seconds(self) -> float: ...
    def callLater(self, delay: float, f: Callable[..., object], /, *a: Any, **kw: Any) -> Any: ...


# A session function: runs the call over the protocol; the socket closes when it returns.
SessionFunction = Callable[["FastAGIProtocol"], Awaitable[object] | defer.Deferred[Any] | None]
# Chooses the session function for an environment (routing); None refuses the session.
Router = Callable[[Environment], SessionFunction | None]
# Told the verb and round-trip seconds of every answered command (for benchmarks, metrics).
RoundTripObserver = Callable[[str, float], None]

DEFAULT_COMMAND_TIMEOUT = 30.0
DEFAULT_ENV_TIMEOUT = 10.0


@dataclass(eq=False)
class _Pending:
    line: str
    deferred: defer.Deferred[Reply]
    dead_ok: bool
    sent_at: float
    timer: Timer | None = None
    settled: bool = False


class FastAGIProtocol(LineOnlyReceiver):
    """The server side of one FastAGI connection (also used over stdio for process AGI)."""

    delimiter = b"\n"
    MAX_LENGTH = 8192
    log = Logger()

    def __init__(
        self,
        clock: Clock,
        route: Router,
        *,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        env_timeout: float = DEFAULT_ENV_TIMEOUT,
        round_trip: RoundTripObserver | None = None,
    ) -> None:
        self.clock = clock
        self._route = route
        self.command_timeout = command_timeout
        self.env_timeout = env_timeout
        self._round_trip = round_trip
        self.env: Environment | None = None
        self.hung_up = False
        self.closed = False
        self._closing = False
        self._env_parser: EnvironmentParser | None = EnvironmentParser()
        self._replies = ReplyParser()
        self._pending: deque[_Pending] = deque()
        self._env_timer: Timer | None = None
        self._hangup_waiters: list[defer.Deferred[None]] = []
        self._session: defer.Deferred[Any] | None = None
        # Fires (with None) once the connection is gone and the session function has ended.
        self.ended: defer.Deferred[None] = defer.Deferred()
        self._lost = False

    # -- Twisted hooks -------------------------------------------------------

    def connectionMade(self) -> None:
        self._env_timer = self.clock.callLater(self.env_timeout, self._env_timed_out)

    def lineReceived(self, raw: bytes) -> None:
        line = raw.decode("utf-8", errors="replace").removesuffix("\r")
        try:
            if self._env_parser is not None:
                env = self._env_parser.feed(line)
                if env is not None:
                    self._env_parser = None
                    self._start(env)
                return
            item = self._replies.feed(line)
            if item is None:
                return
            if isinstance(item, HangupNotice):
                self._hangup_received()
            else:
                self._reply_received(item)
        except MalformedStream as error:
            self._broken(error)

    def lineLengthExceeded(self, line: bytes) -> None:
        self._broken(MalformedStream(f"line longer than {self.MAX_LENGTH} bytes"))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed = True
        self._lost = True
        if self._env_timer is not None and self._env_timer.active():
            self._env_timer.cancel()
        self._fail_all(SessionClosed("connection closed"))
        self._wake_hangup_waiters()
        if self._session is None:
            self._ended()

    # -- the API a session function uses -------------------------------------

    def send_command(
        self, line: str, timeout: float | None = None, *, dead_ok: bool = False
    ) -> defer.Deferred[Reply]:
        """Send one command line; the Deferred fires with its 200 L{Reply}.

        It fails with L{CallHungUp} after a hang-up (unless C{dead_ok}), with
        L{DeadChannel} on 511, L{CommandError} on 510/520, L{CommandTimeout} after
        C{timeout} seconds (default L{command_timeout}), L{SessionClosed} if the
        connection goes.
        """
        if self.closed or self._closing:
            return defer.fail(SessionClosed("connection closed"))
        if self.env is None:
            return defer.fail(AGIError("no command before the environment block"))
        if self.hung_up and not dead_ok:
            return defer.fail(CallHungUp("the channel has hung up"))
        if "\n" in line or "\r" in line:
            return defer.fail(ValueError("one AGI command per line: no line breaks"))
        slot: list[_Pending] = []

        def cancel(d: defer.Deferred[Reply]) -> None:
            # The reply will still come: keep the slot so the FIFO stays in step.
            slot[0].settled = True
            if slot[0].timer is not None and slot[0].timer.active():
                slot[0].timer.cancel()

        pending = _Pending(line, defer.Deferred(cancel), dead_ok, self.clock.seconds())
        slot.append(pending)
        wait = self.command_timeout if timeout is None else timeout
        pending.timer = self.clock.callLater(wait, self._command_timed_out, pending)
        self._pending.append(pending)
        cast(Any, self.transport).write(line.encode("utf-8") + self.delimiter)
        return pending.deferred

    def when_hung_up(self) -> defer.Deferred[None]:
        """A Deferred that fires when the channel hangs up or the connection goes."""
        if self.hung_up or self.closed:
            return defer.succeed(None)
        d: defer.Deferred[None] = defer.Deferred()
        self._hangup_waiters.append(d)
        return d

    def close(self) -> None:
        """Close the socket (Asterisk never does it after a hang-up)."""
        if self.transport is not None and not self.closed and not self._closing:
            self._closing = True
            cast(Any, self.transport).loseConnection()

    def stop(self) -> None:
        """Close the socket and cancel the session function (shutdown after a drain timeout)."""
        self.close()
        if self._session is not None:
            self._session.cancel()

    # -- internals -----------------------------------------------------------

    def _start(self, env: Environment) -> None:
        self.env = env
        if self._env_timer is not None and self._env_timer.active():
            self._env_timer.cancel()
        self._env_timer = None
        function = self._route(env)
        if function is None:
            self.log.error("FastAGI: no script named {script!r}; closing", script=env.script)
            self.close()
            return
        self.log.debug(
            "FastAGI session {uniqueid} for {script}",
            uniqueid=env.get("uniqueid"),
            script=env.script,
        )
        self._session = defer.maybeDeferred(_call_session, function, self)
        self._session.addErrback(self._session_failed)
        self._session.addBoth(self._session_done)

    def _session_failed(self, failure: Failure) -> None:
        if isinstance(failure.value, CallHungUp | SessionClosed | defer.CancelledError):
            return None
        if isinstance(failure.value, AGIError):
            self.log.info(
                "FastAGI session {uniqueid} ended: {error}",
                uniqueid=self.env.get("uniqueid") if self.env else None,
                error=failure.getErrorMessage(),
            )
            return None
        self.log.failure("FastAGI session function failed", failure)
        return None

    def _session_done(self, _: object) -> None:
        self._session = None
        self.close()
        if self._lost:
            self._ended()

    def _ended(self) -> None:
        if not self.ended.called:
            self.ended.callback(None)

    def _reply_received(self, reply: Reply) -> None:
        if not self._pending:
            raise MalformedStream(f"a {reply.code} reply with no command pending")
        pending = self._pending.popleft()
        if pending.timer is not None and pending.timer.active():
            pending.timer.cancel()
        if pending.settled:
            return  # its Deferred already failed (hang-up, cancel): drop the late reply
        pending.settled = True
        if self._round_trip is not None:
            self._round_trip(_verb(pending.line), self.clock.seconds() - pending.sent_at)
        if reply.code == 200:
            pending.deferred.callback(reply)
        elif reply.code == 511:
            self._hangup_received()
            pending.deferred.errback(DeadChannel(reply))
        else:
            pending.deferred.errback(CommandError(reply))

    def _hangup_received(self) -> None:
        self.hung_up = True
        for pending in list(self._pending):
            if not pending.settled and not pending.dead_ok:
                self._settle(pending, CallHungUp("the channel hung up"))
        self._wake_hangup_waiters()

    def _wake_hangup_waiters(self) -> None:
        waiters, self._hangup_waiters = self._hangup_waiters, []
        for d in waiters:
            d.callback(None)

    def _command_timed_out(self, pending: _Pending) -> None:
        pending.timer = None
        self.log.error(
            "FastAGI session {uniqueid}: no reply to {verb} in time; closing",
            uniqueid=self.env.get("uniqueid") if self.env else None,
            verb=_verb(pending.line),
        )
        self._settle(pending, CommandTimeout(f"no reply to {_verb(pending.line)}"))
        self._fail_all(CommandTimeout("an earlier command timed out"))
        self._abort()

    def _env_timed_out(self) -> None:
        self._env_timer = None
        self.log.error(
            "FastAGI: no environment block in {seconds} s; closing", seconds=self.env_timeout
        )
        self._abort()

    def _broken(self, error: MalformedStream) -> None:
        self.log.error(
            "FastAGI session {uniqueid}: malformed stream ({error}); closing",
            uniqueid=self.env.get("uniqueid") if self.env else None,
            error=str(error),
        )
        self._fail_all(error)
        self._abort()

    def _abort(self) -> None:
        if self.transport is None or self.closed:
            return
        self._closing = True
        abort = getattr(self.transport, "abortConnection", None)
        if abort is not None:
            abort()
        else:
            cast(Any, self.transport).loseConnection()

    def _fail_all(self, error: Exception) -> None:
        for pending in list(self._pending):
            if not pending.settled:
                self._settle(pending, error)

    def _settle(self, pending: _Pending, error: Exception) -> None:
        pending.settled = True
        if pending.timer is not None and pending.timer.active():
            pending.timer.cancel()
        pending.timer = None
        pending.deferred.errback(error)


def _call_session(function: SessionFunction, protocol: FastAGIProtocol) -> Any:
    result = function(protocol)
    if inspect.iscoroutine(result):
        return defer.Deferred.fromCoroutine(result)
    return result


def _verb(line: str) -> str:
    """The command name for logs and metrics (never its arguments: they may be answers)."""
    words = line.split(" ")
    for n in (3, 2, 1):
        name = " ".join(words[:n])
        if name in _VERBS:
            return name
    return words[0]


_VERBS = frozenset(
    {
        "ANSWER",
        "HANGUP",
        "NOOP",
        "EXEC",
        "VERBOSE",
        "CHANNEL STATUS",
        "CONTROL STREAM FILE",
        "DATABASE GET",
        "DATABASE PUT",
        "DATABASE DEL",
        "GET DATA",
        "GET FULL VARIABLE",
        "GET OPTION",
        "GET VARIABLE",
        "RECORD FILE",
        "SAY DIGITS",
        "SAY NUMBER",
        "SAY ALPHA",
        "SET VARIABLE",
        "STREAM FILE",
        "WAIT FOR DIGIT",
    }
)
