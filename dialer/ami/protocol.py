# -*- test-case-name: tests.ami.test_protocol -*-
"""
The AMI client protocol: one TCP connection to Asterisk's manager interface.

Public names (stable):

- L{AMIProtocol}: bytes in, bytes out. C{send_action(msg)} gives a C{Deferred[Message]}
  matched by C{ActionID} (every action has a timeout on the injected clock);
  C{send_list_action(msg)} collects an C{EventList} (C{Response ... EventList: start},
  the item events, the C{...Complete} event) into an L{EventListResult}; C{login()} does
  plaintext or MD5-challenge login; C{originate()} sends an Originate and returns an
  L{Originate} handle that also catches the later C{OriginateResponse} event (same
  ActionID; failing that, the C{Uniqueid} equal to the C{ChannelId} we set). Events go to C{event_sink} (set by the client). A connection that drops
  fails every pending action with L{ConnectionDropped}; none hangs. Bytes that are not
  AMI (over-long line, garbage) close the connection with an error log entry.
- Errors: L{AMIError} (root), L{ActionFailed} (C{Response: Error}, carries the Message),
  L{AuthenticationFailed}, L{ActionTimeout}, L{ConnectionDropped}, L{NotConnected}.
- L{OriginateResult}: the outcome of an async Originate (a value, not an error: busy and
  no-answer are expected telephony outcomes). C{reason} codes seen on Asterisk 22:
  4 answered, 5 busy, 8 congestion, 3 timeout while ringing, 0 hung up before answer or
  failed to create the channel.
- L{EventDispatcher}: subscriptions by event name (None = every event); a subscriber
  that raises is logged and does not stop the others.
- L{counter_ids}: the default ActionID factory (inject your own for deterministic tests).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, cast

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from dialer.ami.message import Framer, FramingError, Headers, Message

__all__ = [
    "DEFAULT_ACTION_TIMEOUT",
    "AMIError",
    "AMIProtocol",
    "ActionFailed",
    "ActionTimeout",
    "Actions",
    "AuthenticationFailed",
    "ConnectionDropped",
    "EventDispatcher",
    "EventListResult",
    "NotConnected",
    "Originate",
    "OriginateResult",
    "counter_ids",
]

DEFAULT_ACTION_TIMEOUT: Final = 10.0
BANNER_PREFIX: Final = "Asterisk Call Manager/"

# -- errors ---------------------------------------------------------------------------


class AMIError(Exception):
    """Base of every AMI failure."""


class ActionFailed(AMIError):
    """Asterisk answered C{Response: Error}; C{response} is the whole reply."""

    def __init__(self, action: str, response: Message) -> None:
        self.action = action
        self.response = response
        self.message = response.get("Message", "") or ""
        super().__init__(f"AMI {action} failed: {self.message}")


class AuthenticationFailed(ActionFailed):
    """Login was refused (wrong user or secret). Asterisk closes the connection after it."""


class ActionTimeout(AMIError):
    """No reply (or no OriginateResponse) within the timeout."""

    def __init__(self, action: str, action_id: str, timeout: float) -> None:
        self.action = action
        self.action_id = action_id
        self.timeout = timeout
        super().__init__(f"AMI {action} (ActionID {action_id}) timed out after {timeout:g} s")


class ConnectionDropped(AMIError):
    """The AMI connection closed before the reply arrived."""


class NotConnected(AMIError):
    """There is no logged-in AMI connection (the client is reconnecting)."""


# -- results --------------------------------------------------------------------------


@dataclass(frozen=True)
class EventListResult:
    """A list action's reply: the response, the item events and the C{...Complete} event."""

    response: Message
    events: tuple[Message, ...]
    complete: Message | None  # None when the response did not start a list


@dataclass(frozen=True)
class OriginateResult:
    """What the C{OriginateResponse} event said (or the response of a synchronous Originate)."""

    success: bool
    reason: int | None  # 4 answered, 5 busy, 8 congestion, 3 ring timeout, 0 other
    channel: str | None  # the real channel on success; the dial string on failure
    uniqueid: str | None  # None when Asterisk sent "<unknown>"
    message: Message

    @classmethod
    def from_event(cls, event: Message) -> OriginateResult:
        """Build from an C{OriginateResponse} event."""
        reason_text = event.get("Reason")
        try:
            reason = int(reason_text) if reason_text is not None else None
        except ValueError:
            reason = None
        uniqueid = event.get("Uniqueid")
        return cls(
            success=(event.get("Response") or "").lower() == "success",
            reason=reason,
            channel=event.get("Channel"),
            uniqueid=None if uniqueid in (None, "", "<unknown>") else uniqueid,
            message=event,
        )


class _Outcome:
    """A one-shot result that any number of observers can wait for (no unhandled errors)."""

    __slots__ = ("_observers", "_result", "done")

    def __init__(self) -> None:
        self.done = False
        self._result: Any = None
        self._observers: list[Deferred[Any]] = []

    def fire(self, result: Any) -> None:
        if self.done:
            return
        self.done = True
        self._result = result
        observers, self._observers = self._observers, []
        for d in observers:
            self._deliver(d)

    def _deliver(self, d: Deferred[Any]) -> None:
        if isinstance(self._result, (Failure, BaseException)):
            d.errback(self._result)
        else:
            d.callback(self._result)

    def observe(self) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        if self.done:
            self._deliver(d)
        else:
            self._observers.append(d)
        return d


class Originate:
    """
    The handle of one Originate.

    C{queued()} fires with the immediate response (C{Originate successfully queued}) or
    fails with L{ActionFailed} (synchronous errors arrive even with C{Async: true}).
    C{result()} fires with an L{OriginateResult} once the C{OriginateResponse} event
    arrives; it fails with the same error as C{queued()} if the action failed, with
    L{ActionTimeout} if no event came, or L{ConnectionDropped}. Each call returns a
    new Deferred, so ignoring one of them never logs an unhandled error.
    """

    def __init__(
        self,
        action_id: str,
        channel_id: str | None,
        other_channel_id: str | None,
        variables: tuple[tuple[str, str], ...],
    ) -> None:
        self.action_id = action_id
        self.channel_id = channel_id
        self.other_channel_id = other_channel_id
        self.variables = variables
        self._queued = _Outcome()
        self._result = _Outcome()

    def queued(self) -> Deferred[Message]:
        """The response to the Originate action."""
        return self._queued.observe()

    def result(self) -> Deferred[OriginateResult]:
        """The outcome (OriginateResponse)."""
        return self._result.observe()

    @property
    def done(self) -> bool:
        """True once the outcome is known (success, failure or error)."""
        return self._result.done

    def __repr__(self) -> str:
        return f"<Originate {self.action_id} done={self.done}>"


# -- subscriptions ----------------------------------------------------------------------

EventCallback = Callable[[Message], object]


class EventDispatcher:
    """Event subscriptions by name (case-insensitive); C{None} subscribes to every event."""

    log = Logger()

    def __init__(self) -> None:
        self._by_name: dict[str | None, list[EventCallback]] = {}

    def subscribe(self, name: str | None, callback: EventCallback) -> Callable[[], None]:
        """Call C{callback(event)} for each event named C{name}; returns an unsubscribe function."""
        key = None if name is None else name.lower()
        self._by_name.setdefault(key, []).append(callback)

        def unsubscribe() -> None:
            callbacks = self._by_name.get(key, [])
            if callback in callbacks:
                callbacks.remove(callback)

        return unsubscribe

    def dispatch(self, event: Message) -> None:
        """Deliver one event; a subscriber's exception is logged (it is a bug) and isolated."""
        name = event.name
        specific = self._by_name.get(name.lower()) if name is not None else None
        everything = self._by_name.get(None)
        for callbacks in (specific, everything):
            if not callbacks:
                continue
            for callback in list(callbacks):
                try:
                    callback(event)
                except Exception:
                    self.log.failure("AMI event subscriber failed on {event_name}", event_name=name)


def counter_ids(prefix: str = "minyi") -> Callable[[], str]:
    """An ActionID factory: C{prefix-1}, C{prefix-2}, ..."""
    counter = itertools.count(1)
    return lambda: f"{prefix}-{next(counter)}"


# -- typed actions (shared by the protocol and the client) -----------------------------


class Actions:
    """
    Typed AMI actions built on C{send_action}/C{send_list_action}.

    Headers follow the order of the reference traces. Each returns a Deferred that fails
    with L{ActionFailed} on C{Response: Error} (e.g. C{No such channel}).
    """

    def send_action(self, message: Message, *, timeout: float | None = None) -> Deferred[Message]:
        raise NotImplementedError

    def send_list_action(
        self, message: Message, *, timeout: float | None = None
    ) -> Deferred[EventListResult]:
        raise NotImplementedError

    def ping(self) -> Deferred[Message]:
        """C{Ping}: fires with the C{Ping: Pong} response."""
        return self.send_action(Message.action("Ping"))

    def hangup(self, channel: str, cause: int | None = None) -> Deferred[Message]:
        """
        C{Hangup} one channel (C{Cause} is a Q.850 code, e.g. 16).

        A C{/regex/} channel makes Asterisk answer with an event list; use
        C{send_list_action} for that form.
        """
        headers = [("Channel", channel)]
        if cause is not None:
            headers.append(("Cause", str(cause)))
        return self.send_action(Message.action("Hangup", headers))

    def redirect(
        self,
        channel: str,
        context: str,
        exten: str,
        priority: int | str = 1,
        *,
        extra_channel: str | None = None,
    ) -> Deferred[Message]:
        """C{Redirect} a channel (and optionally C{ExtraChannel}) to context,exten,priority."""
        headers = [("Channel", channel)]
        if extra_channel is not None:
            headers.append(("ExtraChannel", extra_channel))
        headers += [("Context", context), ("Exten", exten), ("Priority", str(priority))]
        return self.send_action(Message.action("Redirect", headers))

    def getvar(self, variable: str, channel: str | None = None) -> Deferred[str | None]:
        """C{Getvar}: the value (None when Asterisk sends no C{Value}); no channel = global."""
        headers = [] if channel is None else [("Channel", channel)]
        headers.append(("Variable", variable))
        d = self.send_action(Message.action("Getvar", headers))
        return d.addCallback(lambda r: r.get("Value"))

    def setvar(self, variable: str, value: str, channel: str | None = None) -> Deferred[Message]:
        """C{Setvar}: set a channel variable (no channel = global)."""
        headers = [] if channel is None else [("Channel", channel)]
        headers += [("Variable", variable), ("Value", value)]
        return self.send_action(Message.action("Setvar", headers))

    def status(
        self, channel: str | None = None, variables: Sequence[str] = ()
    ) -> Deferred[EventListResult]:
        """C{Status}: one C{Status} event per channel (repeated C{Variable:} headers kept)."""
        headers = [] if channel is None else [("Channel", channel)]
        if variables:
            headers.append(("Variables", ",".join(variables)))
        return self.send_list_action(Message.action("Status", headers))

    def core_show_channels(self) -> Deferred[list[Message]]:
        """C{CoreShowChannels}: the C{CoreShowChannel} item events."""
        d = self.send_list_action(Message.action("CoreShowChannels"))
        return d.addCallback(lambda r: list(r.events))

    def command(self, command: str) -> Deferred[list[str]]:
        """C{Command}: the CLI output lines (Asterisk 14+ C{Output:} headers)."""
        d = self.send_action(Message.action("Command", [("Command", command)]))
        return d.addCallback(lambda r: r.output)


# -- the protocol -----------------------------------------------------------------------


@dataclass
class _Pending:
    action: str
    deferred: Deferred[Any]
    collect: bool  # a list action: wait for the ...Complete event
    response: Message | None = None
    events: list[Message] = field(default_factory=list)
    originate: Originate | None = None


def _headers_list(headers: Headers | None) -> list[tuple[str, str]]:
    return list(Message(headers or ()).headers)


class AMIProtocol(Actions, Protocol):
    """
    One AMI connection (client side).

    @ivar event_sink: called with every event that is not an item of a pending list.
    @ivar banner: the banner line once received.
    @ivar fully_booted: True once a C{FullyBooted} event arrived on this connection.
    @ivar lost: called once with the reason when the connection closes (set by the client).
    """

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        *,
        action_timeout: float = DEFAULT_ACTION_TIMEOUT,
        id_factory: Callable[[], str] | None = None,
        max_line: int = Framer.MAX_LINE,
        max_message: int = Framer.MAX_MESSAGE,
    ) -> None:
        self.clock = clock
        self.action_timeout = action_timeout
        self.next_id = id_factory or counter_ids()
        self._framer = Framer(banner=True, max_line=max_line, max_message=max_message)
        self._pending: dict[str, _Pending] = {}
        self._originates: dict[str, Originate] = {}
        self._originate_timers: dict[str, Any] = {}
        self.event_sink: Callable[[Message], object] | None = None
        self.lost: Callable[[Failure], object] | None = None
        self.banner: str | None = None
        self.fully_booted = False
        self._booted_waiters: list[Deferred[None]] = []
        self.connected = False
        self.logged_in = False
        self.shutting_down = False
        self._broken = False
        self._keepalive: LoopingCall | None = None

    def unwrapped(self) -> AMIProtocol:
        """This protocol itself, even when reached through a wrapper (ClientService's proxy)."""
        return self

    # -- Twisted hooks --------------------------------------------------------------

    def connectionMade(self) -> None:
        self.connected = True

    def dataReceived(self, data: bytes) -> None:
        if self._broken:
            return
        try:
            messages = self._framer.feed(data)
        except FramingError as e:
            self._broken = True
            self.log.error(
                "AMI stream is not AMI ({error_type}: {error}); closing the connection",
                error_type=type(e).__name__,
                error=str(e),
            )
            if self.transport is not None:
                cast(Any, self.transport).loseConnection()
            return
        if self.banner is None and self._framer.banner is not None:
            self.banner = self._framer.banner
            if not self.banner.startswith(BANNER_PREFIX):
                self._broken = True
                self.log.error(
                    "peer is not an Asterisk manager (banner {banner!r}); closing",
                    banner=self.banner[:80],
                )
                if self.transport is not None:
                    cast(Any, self.transport).loseConnection()
                return
        for message in messages:
            try:
                self._message_received(message)
            except Exception:
                self.log.failure("AMI message handling failed")

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.connected = False
        self.logged_in = False
        self.stop_keepalive()
        error = ConnectionDropped(f"AMI connection lost: {reason.getErrorMessage()}")
        pending, self._pending = self._pending, {}
        originates, self._originates = self._originates, {}
        for call in self._originate_timers.values():
            if call.active():
                call.cancel()
        self._originate_timers.clear()
        for p in pending.values():
            if p.originate is not None:
                originates.pop(p.originate.action_id, None)
                p.originate._result.fire(error)
            p.deferred.errback(error)
        for o in originates.values():
            o._result.fire(error)
        waiters, self._booted_waiters = self._booted_waiters, []
        for w in waiters:
            w.errback(error)
        if self.lost is not None:
            self.lost(reason)

    # -- incoming -------------------------------------------------------------------

    def _message_received(self, message: Message) -> None:
        kind = message.kind
        if kind == "Response":
            self._response_received(message)
        elif kind == "Event":
            self._event_received(message)
        else:
            self.log.info("AMI message with no Response/Event header ignored")

    def _response_received(self, response: Message) -> None:
        action_id = response.action_id
        pending = self._pending.get(action_id) if action_id is not None else None
        if pending is None:
            self.log.debug("AMI response for unknown ActionID {action_id}", action_id=action_id)
            return
        assert action_id is not None
        status = (response.name or "").lower()
        if status == "error":
            del self._pending[action_id]
            error = ActionFailed(pending.action, response)
            if pending.originate is not None:
                self._originates.pop(action_id, None)
                self._cancel_originate_timer(action_id)
                pending.originate._queued.fire(error)
                pending.originate._result.fire(error)
            pending.deferred.errback(error)
            return
        if pending.collect and response.event_list == "start":
            pending.response = response
            return
        del self._pending[action_id]
        if pending.collect:
            result: Any = EventListResult(response, tuple(pending.events), None)
        else:
            result = response
        if pending.originate is not None:
            pending.originate._queued.fire(response)
        pending.deferred.callback(result)

    def _event_received(self, event: Message) -> None:
        action_id = event.action_id
        if action_id is not None:
            pending = self._pending.get(action_id)
            if pending is not None and pending.collect:
                if event.event_list == "complete":
                    del self._pending[action_id]
                    response = pending.response or Message.response("Success")
                    pending.deferred.callback(
                        EventListResult(response, tuple(pending.events), event)
                    )
                else:
                    pending.events.append(event)
                return
        name = (event.name or "").lower()
        if name == "originateresponse":
            self._originate_response(action_id, event)
        elif name == "fullybooted":
            self.fully_booted = True
            waiters, self._booted_waiters = self._booted_waiters, []
            for w in waiters:
                w.callback(None)
        elif name == "shutdown":
            self.shutting_down = True
            self.log.info(
                "Asterisk is shutting down (Restart: {restart})", restart=event.get("Restart")
            )
        if self.event_sink is not None:
            self.event_sink(event)

    # -- outgoing -------------------------------------------------------------------

    def _send(
        self, message: Message, *, collect: bool, timeout: float | None
    ) -> tuple[str, _Pending]:
        if not self.connected or self.transport is None:
            raise NotConnected("AMI is not connected")
        action = message.name or "?"
        action_id = message.action_id
        if action_id is None:
            action_id = self.next_id()
            message = Message([message.headers[0], ("ActionID", action_id), *message.headers[1:]])
        if action_id in self._pending:
            raise ValueError(f"ActionID {action_id!r} is already pending")

        def cancel(_: Deferred[Any]) -> None:
            self._pending.pop(action_id, None)

        d: Deferred[Any] = Deferred(cancel)
        limit = self.action_timeout if timeout is None else timeout

        def on_timeout(result: Any, seconds: float) -> Any:
            raise ActionTimeout(action, action_id, seconds)

        d.addTimeout(limit, self.clock, onTimeoutCancel=on_timeout)
        pending = _Pending(action, d, collect)
        self._pending[action_id] = pending
        cast(Any, self.transport).write(message.serialize())
        return action_id, pending

    def send_action(self, message: Message, *, timeout: float | None = None) -> Deferred[Message]:
        """
        Send one action; fires with its response.

        An ActionID is added (second header) when the message has none. Fails with
        L{ActionFailed} on C{Response: Error}, L{ActionTimeout}, L{ConnectionDropped} or,
        synchronously-failed, L{NotConnected}.
        """
        try:
            _, pending = self._send(message, collect=False, timeout=timeout)
        except AMIError as e:
            return defer.fail(e)
        d: Deferred[Message] = pending.deferred
        return d

    def send_list_action(
        self, message: Message, *, timeout: float | None = None
    ) -> Deferred[EventListResult]:
        """Send a list action (CoreShowChannels, Status, BridgeList, ...); collect its events."""
        try:
            _, pending = self._send(message, collect=True, timeout=timeout)
        except AMIError as e:
            return defer.fail(e)
        d: Deferred[EventListResult] = pending.deferred
        return d

    def action(
        self, name: str, headers: Headers | None = None, *, timeout: float | None = None
    ) -> Deferred[Message]:
        """C{send_action(Message.action(name, headers))} with a generated ActionID."""
        return self.send_action(
            Message.action(name, _headers_list(headers), action_id=self.next_id()),
            timeout=timeout,
        )

    # -- login ----------------------------------------------------------------------

    def login(
        self, username: str, secret: str, *, md5: bool = False, events: str | None = None
    ) -> Deferred[Message]:
        """
        Log in (plaintext, or MD5 challenge: C{Challenge} then C{Login} with C{Key}).

        C{events}, when given, is the Login's C{Events:} header: the event classes this
        session wants (e.g. C{"call,agi,user,system"}); Asterisk sends no others.
        Fails with L{AuthenticationFailed} when the credentials are refused.
        """
        return Deferred.fromCoroutine(self._login(username, secret, md5, events))

    async def _login(self, username: str, secret: str, md5: bool, events: str | None) -> Message:
        try:
            if md5:
                challenge = await self.action("Challenge", [("AuthType", "MD5")])
                text = challenge.get("Challenge") or ""
                key = hashlib.md5((text + secret).encode()).hexdigest()
                headers = [("AuthType", "MD5"), ("Username", username), ("Key", key)]
            else:
                headers = [("Username", username), ("Secret", secret)]
            if events is not None:
                headers.append(("Events", events))
            response = await self.send_action(
                Message.action("Login", headers, action_id=self.next_id())
            )
        except ActionFailed as e:
            if "authentication" in e.message.lower():
                raise AuthenticationFailed("Login", e.response) from None
            raise
        self.logged_in = True
        return response

    def when_fully_booted(self, timeout: float | None = None) -> Deferred[None]:
        """Fires once C{FullyBooted} has arrived on this connection (at once if it has)."""
        if self.fully_booted:
            return defer.succeed(None)

        def cancel(d: Deferred[None]) -> None:
            if d in self._booted_waiters:
                self._booted_waiters.remove(d)

        d: Deferred[None] = Deferred(cancel)
        self._booted_waiters.append(d)
        if timeout is not None:

            def on_timeout(result: Any, seconds: float) -> Any:
                raise ActionTimeout("FullyBooted", "-", seconds)

            d.addTimeout(timeout, self.clock, onTimeoutCancel=on_timeout)
        return d

    # -- keep-alive -----------------------------------------------------------------

    def start_keepalive(self, interval: float) -> None:
        """Ping every C{interval} s; a ping that fails or times out drops the connection."""
        self.stop_keepalive()
        loop = LoopingCall(self._ping_once)
        loop.clock = self.clock
        self._keepalive = loop
        loop.start(interval, now=False).addErrback(
            lambda f: self.log.failure("keep-alive loop stopped", failure=f)
        )

    def stop_keepalive(self) -> None:
        """Stop pinging."""
        if self._keepalive is not None and self._keepalive.running:
            self._keepalive.stop()
        self._keepalive = None

    def _ping_once(self) -> None:
        def failed(f: Failure) -> None:
            if isinstance(f.value, (ConnectionDropped, NotConnected)):
                return
            self.log.error(
                "AMI keep-alive ping failed ({error}); dropping the connection",
                error=f.getErrorMessage(),
            )
            if self.transport is not None:
                cast(Any, self.transport).abortConnection()

        self.action("Ping").addErrback(failed)

    # -- originate ------------------------------------------------------------------

    def originate(
        self,
        channel: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int | str | None = None,
        application: str | None = None,
        data: str | None = None,
        timeout: float | None = 30.0,
        caller_id: str | None = None,
        variables: Mapping[str, str] | Sequence[tuple[str, str]] = (),
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        account: str | None = None,
        codecs: Iterable[str] | None = None,
        early_media: bool | None = None,
        async_: bool = True,
        action_id: str | None = None,
        extra: Headers | None = None,
    ) -> Originate:
        """
        Send an Originate; see L{Originate} for the two outcomes.

        C{timeout} is the ring time in seconds (sent as milliseconds; None sends no
        C{Timeout} and Asterisk uses its default of 30 s). Headers are sent in
        the order the reference traces use: Channel, Context, Exten, Priority, Application,
        Data, Timeout, Async, CallerID, Variable..., ChannelId, OtherChannelId, Account,
        Codecs, EarlyMedia, then C{extra}. The result waits C{timeout} plus the action
        timeout for the C{OriginateResponse} event. With C{async_=False}, Asterisk holds the
        response until the call is answered or fails and sends no event; the result is
        then built from the response.
        """
        aid = action_id or self.next_id()
        pairs = list(variables.items()) if isinstance(variables, Mapping) else list(variables)
        headers: list[tuple[str, str]] = [("Channel", channel)]
        for key, value in (
            ("Context", context),
            ("Exten", exten),
            ("Priority", None if priority is None else str(priority)),
            ("Application", application),
            ("Data", data),
            ("Timeout", None if timeout is None else str(round(timeout * 1000))),
            ("Async", "true" if async_ else None),
            ("CallerID", caller_id),
        ):
            if value is not None:
                headers.append((key, value))
        headers.extend(("Variable", f"{k}={v}") for k, v in pairs)
        for key, value in (
            ("ChannelId", channel_id),
            ("OtherChannelId", other_channel_id),
            ("Account", account),
            ("Codecs", None if codecs is None else ",".join(codecs)),
            ("EarlyMedia", None if early_media is None else ("true" if early_media else "false")),
        ):
            if value is not None:
                headers.append((key, value))
        headers.extend(_headers_list(extra))
        handle = Originate(aid, channel_id, other_channel_id, tuple(pairs))
        message = Message.action("Originate", headers, action_id=aid)
        wait = (30.0 if timeout is None else timeout) + self.action_timeout
        try:
            if async_:
                _, pending = self._send(message, collect=False, timeout=None)
            else:
                _, pending = self._send(message, collect=False, timeout=wait)
        except AMIError as e:
            handle._queued.fire(e)
            handle._result.fire(e)
            return handle
        pending.originate = handle
        if async_:
            self._originates[aid] = handle
            self._originate_timers[aid] = cast(Any, self.clock).callLater(
                wait, self._originate_timed_out, aid, wait
            )
        else:

            def sync_done(response: Message) -> Message:
                handle._result.fire(
                    OriginateResult(
                        success=True, reason=4, channel=None, uniqueid=None, message=response
                    )
                )
                return response

            pending.deferred.addCallback(sync_done)

        def not_queued(f: Failure) -> None:
            # ActionFailed was already delivered in _response_received; a timeout or a
            # dropped connection is delivered here.
            handle._queued.fire(f)
            if not isinstance(f.value, ActionFailed):
                self._originates.pop(aid, None)
                self._cancel_originate_timer(aid)
                handle._result.fire(f)

        pending.deferred.addErrback(not_queued)
        return handle

    def _originate_response(self, action_id: str | None, event: Message) -> None:
        """Resolve an Originate by ActionID, or else by the ChannelId it set (the Uniqueid)."""
        originate = self._originates.get(action_id) if action_id is not None else None
        if originate is None:
            uniqueid = event.get("Uniqueid")
            originate = next(
                (
                    o
                    for o in self._originates.values()
                    if uniqueid is not None and o.channel_id == uniqueid
                ),
                None,
            )
        if originate is None:
            return
        del self._originates[originate.action_id]
        self._cancel_originate_timer(originate.action_id)
        originate._result.fire(OriginateResult.from_event(event))

    def _cancel_originate_timer(self, action_id: str) -> None:
        call = self._originate_timers.pop(action_id, None)
        if call is not None and call.active():
            call.cancel()

    def _originate_timed_out(self, action_id: str, seconds: float) -> None:
        self._originate_timers.pop(action_id, None)
        originate = self._originates.pop(action_id, None)
        if originate is not None:
            originate._result.fire(ActionTimeout("OriginateResponse", action_id, seconds))
