"""
Tests for L{dialer.ami.client.AMIClient}: login through ClientService, reconnects, state.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from dialer.ami.client import AMIClient, ConnectionDropped, NotConnected
from dialer.ami.message import Message
from tests.ami.helpers import BANNER, FakeEndpoint, IdsFrom, feed, lose, refused, written


def resp(status: str, action_id: str | None, **headers: str) -> bytes:
    return Message.response(status, headers, action_id=action_id).serialize()


def ev(name: str, *pairs: tuple[str, str]) -> bytes:
    return Message.event(name, list(pairs)).serialize()


def fixed_retry(attempt: int) -> float:
    return 2.0


class ClientTestBase(SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()
        self.endpoint = FakeEndpoint()
        self.logged = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        self.client = AMIClient(
            self.endpoint,
            "dialer",
            "dialer",
            clock=self.clock,
            action_timeout=5.0,
            keepalive_interval=None,
            boot_timeout=3.0,
            retry_policy=fixed_retry,
            id_factory=IdsFrom(),
        )
        self.states: list[bool] = []
        self.client.on_state(self.states.append)

    def tearDown(self):
        if self.client.running:
            self.client.stopService()
            for p, t in self.endpoint.connections:
                if p.connected:
                    lose(p, t)

    def log_in(self, channels: list[Message] | None = None):
        """Answer the login, FullyBooted and CoreShowChannels on the newest connection."""
        p, t = self.endpoint.last
        feed(p, BANNER)
        (login,) = written(t)
        assert login.name == "Login"
        feed(p, resp("Success", login.action_id, Message="Authentication accepted"))
        feed(p, ev("FullyBooted", ("Status", "Fully Booted")))
        (csc,) = written(t)
        assert csc.name == "CoreShowChannels"
        aid = csc.action_id
        data = resp("Success", aid, EventList="start", Message="Channels will follow")
        for item in channels or []:
            data += item.with_headers([("ActionID", aid)]).serialize()
        data += ev(
            "CoreShowChannelsComplete",
            ("ActionID", aid),
            ("EventList", "Complete"),
            ("ListItems", str(len(channels or []))),
        )
        feed(p, data)
        return p, t


class ConnectTests(ClientTestBase):
    def test_login_then_ready(self):
        """The client logs in, waits for FullyBooted, resyncs channels, then reports ready."""
        self.client.startService()
        ready = self.client.when_ready()
        self.assertNoResult(ready)
        assert not self.client.ready
        p, _ = self.log_in()
        assert self.successResultOf(ready) is p.unwrapped()
        assert self.client.ready and self.states == [True]

    def test_ready_waits_for_fully_booted(self):
        """After a restart Login succeeds before FullyBooted; ready waits for it."""
        self.client.startService()
        p, t = self.endpoint.last
        feed(p, BANNER)
        (login,) = written(t)
        feed(p, resp("Success", login.action_id))
        assert written(t) == [] and not self.client.ready
        feed(p, ev("FullyBooted", ("Uptime", "0")))
        (csc,) = written(t)
        assert csc.name == "CoreShowChannels"

    def test_no_fully_booted_goes_on_after_timeout(self):
        """If FullyBooted never comes, the client goes on after boot_timeout with a warning."""
        self.client.startService()
        p, t = self.endpoint.last
        feed(p, BANNER)
        (login,) = written(t)
        feed(p, resp("Success", login.action_id))
        self.clock.advance(3.0)
        (csc,) = written(t)
        assert csc.name == "CoreShowChannels"

    def test_refused_retries_forever(self):
        """Refused connections are retried on the retry policy's schedule, without end."""
        self.endpoint.outcomes = [refused() for _ in range(20)]
        self.client.startService()
        for _ in range(20):
            self.clock.advance(2.0)
        assert self.endpoint.attempts == 21
        self.log_in()
        assert self.client.ready

    def test_authentication_failure_is_logged_and_retried(self):
        """A refused login closes that connection, logs an error and retries after the backoff."""
        self.client.startService()
        p, t = self.endpoint.last
        feed(p, BANNER)
        (login,) = written(t)
        feed(p, resp("Error", login.action_id, Message="Authentication failed"))
        assert t.disconnecting
        lose(p, t)
        assert any("login refused" in (e.get("log_format") or "") for e in self.logged)
        assert not self.client.ready and self.states == []
        self.clock.advance(2.0)
        assert self.endpoint.attempts == 2
        self.log_in()
        assert self.client.ready

    def test_actions_while_down_fail_fast(self):
        """Actions while reconnecting fail at once with NotConnected (nothing is queued)."""
        self.client.startService()
        self.failureResultOf(self.client.ping(), NotConnected)
        o = self.client.originate("Local/1@callee", context="survey", exten="s", priority=1)
        self.failureResultOf(o.queued(), NotConnected)
        self.failureResultOf(o.result(), NotConnected)


class ReconnectTests(ClientTestBase):
    def test_drop_fails_pending_and_pauses(self):
        """A dropped connection fails pending actions, reports not-ready, and reconnects."""
        self.client.startService()
        p, t = self.log_in()
        d = self.client.ping()
        o = self.client.originate("Local/1@callee", context="survey", exten="s", priority=1)
        lose(p, t)
        self.failureResultOf(d, ConnectionDropped)
        self.failureResultOf(o.result(), ConnectionDropped)
        assert self.states == [True, False] and not self.client.ready
        self.clock.advance(2.0)
        self.log_in()
        assert self.states == [True, False, True]

    def test_subscriptions_survive_reconnect(self):
        """Event subscriptions keep receiving events from the new connection."""
        got: list[str] = []
        self.client.subscribe("Hangup", lambda e: got.append(e.get("Uniqueid")))
        self.client.startService()
        p, t = self.log_in()
        feed(p, ev("Hangup", ("Uniqueid", "1")))
        lose(p, t)
        self.clock.advance(2.0)
        p2, _ = self.log_in()
        feed(p2, ev("Hangup", ("Uniqueid", "2")))
        assert got == ["1", "2"]

    def test_shutdown_event_pauses_before_eof(self):
        """Event: Shutdown reports not-ready at once, before the connection closes."""
        self.client.startService()
        p, t = self.log_in()
        feed(p, ev("Shutdown", ("Shutdown", "Cleanly"), ("Restart", "True")))
        assert self.states == [True, False]
        lose(p, t)
        assert self.states == [True, False]

    def test_resync_reports_gone_channels(self):
        """After a reconnect, channels that CoreShowChannels no longer lists are reported gone."""
        gone: list[str] = []
        self.client.channels.on_gone(lambda ch, cause: gone.append(ch.uniqueid))
        self.client.startService()
        p, t = self.log_in()
        feed(p, ev("Newchannel", ("Channel", "Local/1@c-1;1"), ("Uniqueid", "u1")))
        feed(p, ev("Newchannel", ("Channel", "Local/2@c-2;1"), ("Uniqueid", "u2")))
        lose(p, t)
        assert self.client.channels.stale
        self.clock.advance(2.0)
        item = Message.event("CoreShowChannel", [("Channel", "Local/2@c-2;1"), ("Uniqueid", "u2")])
        self.log_in([item])
        assert gone == ["u1"]
        assert [c.uniqueid for c in self.client.channels.channels()] == ["u2"]
        assert not self.client.channels.stale

    def test_keepalive_timeout_reconnects(self):
        """An unanswered keep-alive ping drops the connection; the client reconnects."""
        self.client.keepalive_interval = 10.0
        self.client.startService()
        p, t = self.log_in()
        self.clock.advance(10.0)
        (ping,) = written(t)
        assert ping.name == "Ping"
        self.clock.advance(5.0)
        assert t.disconnecting
        lose(p, t)
        assert self.states == [True, False]
        self.clock.advance(2.0)
        assert self.endpoint.attempts == 2

    def test_stop_service(self):
        """Stopping the service closes the connection and does not reconnect."""
        self.client.startService()
        p, t = self.log_in()
        d = self.client.stopService()
        assert t.disconnecting
        lose(p, t)
        self.successResultOf(d)
        self.clock.advance(100.0)
        assert self.endpoint.attempts == 1
        assert self.states == [True, False]

    def test_reset_before_banner_retries(self):
        """A connection accepted and reset before the banner (Asterisk restarting) is retried."""
        self.client.startService()
        p, t = self.endpoint.last
        lose(p, t)
        assert self.states == []
        self.clock.advance(10.0)
        assert self.endpoint.attempts == 2
        self.log_in()
        assert self.client.ready

    def test_stop_during_login(self):
        """Stopping while the login is in flight closes the connection cleanly."""
        self.client.startService()
        p, t = self.endpoint.last
        feed(p, BANNER)
        d = self.client.stopService()
        assert t.disconnecting
        lose(p, t)
        self.successResultOf(d)
        assert self.states == [] and self.endpoint.attempts == 1

    def test_failed_logins_back_off(self):
        """Consecutive failed logins make the retry delay grow through the retry policy."""
        delays: list[int] = []

        def policy(attempt: int) -> float:
            delays.append(attempt)
            return 1.0

        self.client.retry_policy = policy
        self.client.startService()
        for _ in range(3):
            p, t = self.endpoint.last
            feed(p, BANNER)
            (login,) = written(t)
            feed(p, resp("Error", login.action_id, Message="Authentication failed"))
            lose(p, t)
            self.clock.advance(1.0)
        assert delays == [2, 3, 4]

    def test_garbage_closes_and_client_recovers(self):
        """Non-AMI bytes on a live connection: logged, connection closed, the client reconnects."""
        got: list[str] = []
        self.client.subscribe(None, lambda e: got.append(e.name))
        self.client.startService()
        p, t = self.log_in()
        feed(p, b"Event: Newchannel\r\n" + b"X" * 70000)
        assert t.disconnecting
        assert any("not AMI" in (e.get("log_format") or "") for e in self.logged)
        lose(p, t)
        assert self.states == [True, False]
        self.clock.advance(2.0)
        p2, _ = self.log_in()
        feed(p2, ev("Hangup", ("Uniqueid", "1")))
        assert self.states == [True, False, True] and got[-1] == "Hangup"
