# -*- test-case-name: tests.ami.test_client -*-
"""
The reconnecting AMI client: a Twisted service that stays logged in to Asterisk.

Public names (stable):

- L{AMIClient}(endpoint, username, secret, clock=..., events=..., ...): a C{Service}.
  C{events} is the Login C{Events:} class mask (the daemon passes C{[[ami]] events},
  checked by L{dialer.ami.eventmask.check_setting}; None sends no header: every class
  the AMI user may read). It runs a
  C{twisted.application.internet.ClientService} whose C{prepareConnection} starts the
  setup of each connection: login (plaintext or MD5 challenge), a bounded wait for
  C{FullyBooted}, the keep-alive C{Ping}, and re-reading live channels into the
  L{ChannelTracker} with C{CoreShowChannels}. (It starts it without making ClientService
  wait; see C{_prepare} for the Twisted limitation behind that.) It reconnects forever
  with backoff (C{retry_policy}, default L{default_retry_policy}); failed logins push
  the backoff up too. A refused login is logged as an error on each attempt.
  - C{client.ready}: True while a logged-in connection is usable.
  - C{client.on_state(callback)}: C{callback(True)} when the connection becomes usable,
    C{callback(False)} when it is lost (or Asterisk announces C{Shutdown}). Users that
    originate calls (the campaign controller) pause on False. Returns an unsubscribe.
  - C{client.when_ready()}: a Deferred firing with the protocol once usable.
  - C{client.subscribe(name, callback)}: events by name (None = all); survives reconnects.
  - C{client.channels}: the L{ChannelTracker} fed by every event.
  - Actions (fail at once with L{NotConnected} while reconnecting, never queue):
    C{send_action}, C{send_list_action}, C{originate} (an L{Originate} handle),
    C{hangup}, C{redirect}, C{getvar}, C{setvar}, C{status}, C{core_show_channels},
    C{command}, C{ping}.
- L{AMIFactory}: builds L{AMIProtocol}s for the client (usable alone in tests).
- Errors are re-exported from L{dialer.ami.protocol}.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

from twisted.application.internet import ClientService, backoffPolicy
from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IAddress, IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from dialer.ami.channels import ChannelTracker
from dialer.ami.message import Headers, Message
from dialer.ami.protocol import (
    DEFAULT_ACTION_TIMEOUT,
    ActionFailed,
    Actions,
    ActionTimeout,
    AMIError,
    AMIProtocol,
    AuthenticationFailed,
    ConnectionDropped,
    EventCallback,
    EventDispatcher,
    EventListResult,
    NotConnected,
    Originate,
    OriginateResult,
    counter_ids,
)

__all__ = [
    "AMIClient",
    "AMIError",
    "AMIFactory",
    "ActionFailed",
    "ActionTimeout",
    "AuthenticationFailed",
    "ConnectionDropped",
    "NotConnected",
    "Originate",
    "OriginateResult",
    "default_retry_policy",
]


def default_retry_policy(rng: random.Random | None = None) -> Callable[[int], float]:
    """Backoff from 0.5 s growing 1.5x up to 30 s, plus up to 0.5 s of jitter (RNG injectable)."""
    r = rng or random.Random()
    return backoffPolicy(initialDelay=0.5, maxDelay=30.0, factor=1.5, jitter=lambda: r.random() / 2)


class AMIFactory(Factory):
    """Builds one L{AMIProtocol} per connection, wired to the client's event sink."""

    noisy = False  # no "Starting factory" log line on every reconnect attempt

    def __init__(
        self,
        clock: IReactorTime,
        *,
        action_timeout: float = DEFAULT_ACTION_TIMEOUT,
        id_factory: Callable[[], str] | None = None,
        event_sink: Callable[[Message], object] | None = None,
        lost: Callable[[AMIProtocol, Failure], object] | None = None,
    ) -> None:
        self.clock = clock
        self.action_timeout = action_timeout
        self.id_factory = id_factory or counter_ids()
        self.event_sink = event_sink
        self.lost = lost

    def buildProtocol(self, addr: IAddress | None) -> AMIProtocol:
        p = AMIProtocol(self.clock, action_timeout=self.action_timeout, id_factory=self.id_factory)
        p.factory = self
        p.event_sink = self.event_sink
        if self.lost is not None:
            lost = self.lost
            p.lost = lambda reason: lost(p, reason)
        return p


class AMIClient(Actions, Service):
    """A logged-in AMI connection kept up forever; see the module docstring."""

    log = Logger()

    def __init__(
        self,
        endpoint: IStreamClientEndpoint,
        username: str,
        secret: str,
        *,
        clock: IReactorTime,
        md5: bool = False,
        action_timeout: float = DEFAULT_ACTION_TIMEOUT,
        keepalive_interval: float | None = 30.0,
        boot_timeout: float = 10.0,
        retry_policy: Callable[[int], float] | None = None,
        id_factory: Callable[[], str] | None = None,
        tracker: ChannelTracker | None = None,
        resync_channels: bool = True,
        events: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.username = username
        self._secret = secret
        self.clock = clock
        self.md5 = md5
        self.action_timeout = action_timeout
        self.keepalive_interval = keepalive_interval
        self.boot_timeout = boot_timeout
        self.retry_policy = retry_policy or default_retry_policy()
        self.events = EventDispatcher()
        self.channels = tracker if tracker is not None else ChannelTracker()
        self.resync_channels = resync_channels
        #: The Login's C{Events:} mask (None: every class the AMI user may read).
        self.event_mask = events
        self.factory = AMIFactory(
            clock,
            action_timeout=action_timeout,
            id_factory=id_factory,
            event_sink=self._event,
            lost=self._lost,
        )
        self._service: ClientService | None = None
        self._protocol: AMIProtocol | None = None
        self._state_callbacks: list[Callable[[bool], object]] = []
        self._ready_waiters: list[Deferred[AMIProtocol]] = []
        self._setup_failures = 0

    # -- service --------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self._service = ClientService(
            self.endpoint,
            cast(Any, self.factory),
            retryPolicy=self._retry_delay,
            clock=self.clock,
            prepareConnection=self._prepare,
        )
        self._service.startService()

    def stopService(self) -> Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]
        service, self._service = self._service, None
        self._set_ready(None)
        waiters, self._ready_waiters = self._ready_waiters, []
        for w in waiters:
            w.errback(NotConnected("AMI client stopped"))
        if service is None:
            return defer.succeed(None)
        stopped: Deferred[None] = service.stopService()
        return stopped

    # -- state ----------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True while a logged-in connection is usable."""
        return self._protocol is not None

    @property
    def protocol(self) -> AMIProtocol | None:
        """The usable protocol, or None while (re)connecting."""
        return self._protocol

    def on_state(self, callback: Callable[[bool], object]) -> Callable[[], None]:
        """Call C{callback(True/False)} on each change of C{ready}; returns an unsubscribe."""
        self._state_callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._state_callbacks:
                self._state_callbacks.remove(callback)

        return unsubscribe

    def when_ready(self) -> Deferred[AMIProtocol]:
        """Fires with the protocol once the connection is usable (at once if it is)."""
        if self._protocol is not None:
            return defer.succeed(self._protocol)

        def cancel(d: Deferred[AMIProtocol]) -> None:
            if d in self._ready_waiters:
                self._ready_waiters.remove(d)

        d: Deferred[AMIProtocol] = Deferred(cancel)
        self._ready_waiters.append(d)
        return d

    def subscribe(self, name: str | None, callback: EventCallback) -> Callable[[], None]:
        """Events named C{name} (None = all) from every connection; returns an unsubscribe."""
        return self.events.subscribe(name, callback)

    def _set_ready(self, protocol: AMIProtocol | None) -> None:
        was = self._protocol is not None
        self._protocol = protocol
        now = protocol is not None
        if now and protocol is not None:
            waiters, self._ready_waiters = self._ready_waiters, []
            for w in waiters:
                w.callback(protocol)
        if was != now:
            for callback in list(self._state_callbacks):
                try:
                    callback(now)
                except Exception:
                    self.log.failure("AMI connection-state subscriber failed")

    # -- connection life ------------------------------------------------------------

    def _prepare(self, protocol: AMIProtocol) -> None:
        """
        ClientService's prepareConnection: start the login and return at once.

        Waiting for the login here would be the textbook use, but Twisted's ClientService
        (26.x) has no state-machine transition for a connection that closes while
        prepareConnection is pending or after it failed (automat NoTransition in its
        Connecting/Waiting/Disconnecting states), and a failed login is exactly that:
        Asterisk closes the socket after "Authentication failed". So ClientService sees
        the TCP connection as made, and L{_login} reports readiness through
        C{on_state}/C{when_ready}; a failed login closes the connection, which takes the
        ordinary "connection lost, retry" path.
        """
        # ClientService hands us its proxy; keep the protocol itself so that identity
        # checks in _lost() work.
        Deferred.fromCoroutine(self._login(protocol.unwrapped()))

    def _retry_delay(self, attempt: int) -> float:
        # Failed logins count as failed attempts too (see _login).
        return self.retry_policy(attempt + self._setup_failures)

    async def _login(self, protocol: AMIProtocol) -> None:
        """
        Log in, wait for FullyBooted, resync channels, then report ready.

        This never fails: on failure it closes the connection and lets the ordinary
        "connection lost, retry" path run; consecutive setup failures are added to the
        retry attempt count so that the backoff still grows.
        """
        try:
            await protocol.login(self.username, self._secret, md5=self.md5, events=self.event_mask)
            if not protocol.fully_booted:
                try:
                    await protocol.when_fully_booted(self.boot_timeout)
                except ActionTimeout:
                    self.log.warn(  # noqa: G010 (twisted.logger spells it warn)
                        "no FullyBooted within {timeout} s after login; going on",
                        timeout=self.boot_timeout,
                    )
            if self.resync_channels:
                self.channels.start_resync()
                result = await protocol.send_list_action(Message.action("CoreShowChannels"))
                lost = self.channels.finish_resync(result.events)
                if lost:
                    self.log.info("AMI resync: {count} tracked channels are gone", count=len(lost))
        except Exception as e:
            self._setup_failures += 1
            if isinstance(e, AuthenticationFailed):
                self.log.error(
                    "AMI login refused for user {username}; will retry", username=self.username
                )
            elif isinstance(e, ConnectionDropped):
                self.log.info("AMI connection closed during login; will retry")
            else:
                self.log.error(
                    "AMI connection setup failed ({error}); will retry", error=str(e) or repr(e)
                )
            if protocol.connected:
                cast(Any, protocol.transport).abortConnection()
            return
        self._setup_failures = 0
        if protocol.shutting_down or not protocol.connected:
            self.log.info("Asterisk is shutting down; not using this AMI connection")
            return
        if self.keepalive_interval:
            protocol.start_keepalive(self.keepalive_interval)
        self.log.info(
            "AMI connected and logged in as {username} (events: {events})",
            username=self.username,
            events=self.event_mask or "all the user may read",
        )
        self._set_ready(protocol)

    def _lost(self, protocol: AMIProtocol, reason: Failure) -> None:
        if protocol is self._protocol:
            self.log.warn(  # noqa: G010 (twisted.logger spells it warn)
                "AMI connection lost ({reason}); pausing until reconnected",
                reason=reason.getErrorMessage(),
            )
            self.channels.connection_lost()
            self._set_ready(None)

    def _event(self, event: Message) -> None:
        name = event.name
        if name == "Shutdown":
            # Asterisk is going away; stop using this connection before the EOF.
            self._set_ready(None)
        try:
            self.channels.handle(event)
        except Exception:
            self.log.failure("channel tracker failed on {event_name}", event_name=name)
        self.events.dispatch(event)

    # -- actions --------------------------------------------------------------------

    def _current(self) -> AMIProtocol:
        if self._protocol is None:
            raise NotConnected("AMI is not connected (reconnecting)")
        return self._protocol

    def send_action(self, message: Message, *, timeout: float | None = None) -> Deferred[Message]:
        """Send one action on the current connection (see L{AMIProtocol.send_action})."""
        try:
            protocol = self._current()
        except NotConnected as e:
            return defer.fail(e)
        return protocol.send_action(message, timeout=timeout)

    def send_list_action(
        self, message: Message, *, timeout: float | None = None
    ) -> Deferred[EventListResult]:
        """Send a list action on the current connection (see L{AMIProtocol.send_list_action})."""
        try:
            protocol = self._current()
        except NotConnected as e:
            return defer.fail(e)
        return protocol.send_list_action(message, timeout=timeout)

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
        """Originate on the current connection (see L{AMIProtocol.originate})."""
        protocol = self._protocol
        if protocol is None:
            pairs = list(variables.items()) if isinstance(variables, Mapping) else list(variables)
            handle = Originate(action_id or "-", channel_id, other_channel_id, tuple(pairs))
            error = NotConnected("AMI is not connected (reconnecting)")
            handle._queued.fire(error)
            handle._result.fire(error)
            return handle
        return protocol.originate(
            channel,
            context=context,
            exten=exten,
            priority=priority,
            application=application,
            data=data,
            timeout=timeout,
            caller_id=caller_id,
            variables=variables,
            channel_id=channel_id,
            other_channel_id=other_channel_id,
            account=account,
            codecs=codecs,
            early_media=early_media,
            async_=async_,
            action_id=action_id,
            extra=extra,
        )
