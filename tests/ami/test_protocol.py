"""
Tests for L{dialer.ami.protocol.AMIProtocol}: actions, errors, timeouts, lists, originate.
"""

from __future__ import annotations

import hashlib

from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from dialer.ami.message import Message
from dialer.ami.protocol import (
    ActionFailed,
    ActionTimeout,
    AuthenticationFailed,
    ConnectionDropped,
    EventDispatcher,
    EventListResult,
    NotConnected,
    OriginateResult,
)
from tests.ami.helpers import BANNER, IdsFrom, connected, feed, lose, written


def resp(status: str, action_id: str, **headers: str) -> bytes:
    return Message.response(status, headers, action_id=action_id).serialize()


def ev(name: str, *pairs: tuple[str, str]) -> bytes:
    return Message.event(name, list(pairs)).serialize()


class LoginTests(SynchronousTestCase):
    def test_plaintext_login(self):
        """Login sends Username/Secret and fires with the Success response."""
        p, t = connected(banner=False, id_factory=IdsFrom(["l1"]))
        feed(p, BANNER)
        d = p.login("dialer", "s3cret")
        (sent,) = written(t)
        assert sent == Message.action(
            "Login", [("Username", "dialer"), ("Secret", "s3cret")], action_id="l1"
        )
        feed(p, resp("Success", "l1", Message="Authentication accepted"))
        r = self.successResultOf(d)
        assert r.get("Message") == "Authentication accepted"
        assert p.logged_in and p.banner == "Asterisk Call Manager/11.0.0"

    def test_md5_challenge_login(self):
        """MD5 login asks for a Challenge and sends Key = md5(challenge + secret)."""
        p, t = connected(id_factory=IdsFrom(["c1", "l1"]))
        d = p.login("dialer", "pw", md5=True)
        (challenge,) = written(t)
        assert (challenge.name, challenge.get("AuthType")) == ("Challenge", "MD5")
        feed(p, resp("Success", "c1", Challenge="840415273"))
        (login,) = written(t)
        assert login.get("Key") == hashlib.md5(b"840415273pw").hexdigest()
        assert login.get("Secret") is None and login.get("AuthType") == "MD5"
        feed(p, resp("Success", "l1", Message="Authentication accepted"))
        self.successResultOf(d)

    def test_authentication_failed(self):
        """'Authentication failed' becomes AuthenticationFailed carrying the response."""
        p, _ = connected(id_factory=IdsFrom(["l1"]))
        d = p.login("dialer", "wrong")
        feed(p, resp("Error", "l1", Message="Authentication failed"))
        f = self.failureResultOf(d, AuthenticationFailed)
        assert f.value.response.get("Message") == "Authentication failed"
        assert not p.logged_in


class ActionTests(SynchronousTestCase):
    def test_action_id_added_and_response_matched(self):
        """An action without ActionID gets one; the response is matched by it, not by order."""
        p, t = connected(id_factory=IdsFrom(["a", "b"]))
        d1 = p.send_action(Message.action("Ping"))
        d2 = p.send_action(Message.action("CoreStatus"))
        assert [m.action_id for m in written(t)] == ["a", "b"]
        feed(p, resp("Success", "b", CoreCurrentCalls="0") + resp("Success", "a", Ping="Pong"))
        assert self.successResultOf(d1).get("Ping") == "Pong"
        assert self.successResultOf(d2).get("CoreCurrentCalls") == "0"

    def test_error_response(self):
        """Response: Error fails the action with ActionFailed carrying the whole response."""
        p, _ = connected(id_factory=IdsFrom(["h"]))
        d = p.hangup("Local/x@y-1;1")
        feed(p, resp("Error", "h", Message="No such channel"))
        f = self.failureResultOf(d, ActionFailed)
        assert f.value.message == "No such channel"
        assert f.value.action == "Hangup"

    def test_timeout(self):
        """An action with no reply fails with ActionTimeout after its timeout; a late reply is dropped."""
        clock = Clock()
        p, _ = connected(clock, action_timeout=5.0, id_factory=IdsFrom(["p"]))
        d = p.ping()
        clock.advance(4.9)
        self.assertNoResult(d)
        clock.advance(0.2)
        f = self.failureResultOf(d, ActionTimeout)
        assert f.value.action_id == "p"
        feed(p, resp("Success", "p", Ping="Pong"))  # no error, nothing fires twice

    def test_per_call_timeout(self):
        """A per-action timeout overrides the default."""
        clock = Clock()
        p, _ = connected(clock, action_timeout=50.0)
        d = p.send_action(Message.action("Ping"), timeout=1.0)
        clock.advance(1.0)
        self.failureResultOf(d, ActionTimeout)

    def test_not_connected(self):
        """Sending after the connection is gone fails at once with NotConnected."""
        p, t = connected()
        lose(p, t)
        self.failureResultOf(p.ping(), NotConnected)

    def test_connection_lost_fails_every_pending_action(self):
        """A dropped connection fails actions, lists and both Originate outcomes; nothing hangs."""
        clock = Clock()
        p, t = connected(clock)
        d1 = p.ping()
        d2 = p.core_show_channels()
        o = p.originate("Local/1@callee", context="survey", exten="s", priority=1)
        queued, result = o.queued(), o.result()
        booted = p.when_fully_booted()
        lose(p, t)
        for d in (d1, d2, queued, result, booted):
            self.failureResultOf(d, ConnectionDropped)
        assert clock.getDelayedCalls() == []

    def test_getvar_setvar_command(self):
        """Typed helpers return the useful part of the response."""
        p, t = connected(id_factory=IdsFrom(["g", "s", "c"]))
        dg = p.getvar("CAMPAIGN", "Local/1@c-1;1")
        ds = p.setvar("X", "1")
        dc = p.command("core show channels concise")
        g, s, c = written(t)
        assert c.get("Command") == "core show channels concise"
        assert g.headers[2:] == (("Channel", "Local/1@c-1;1"), ("Variable", "CAMPAIGN"))
        assert s.headers[2:] == (("Variable", "X"), ("Value", "1"))
        feed(p, resp("Success", "g", Variable="CAMPAIGN", Value="test"))
        feed(p, resp("Success", "s"))
        feed(
            p,
            Message.response(
                "Success",
                [("Message", "Command output follows"), ("Output", "a!b"), ("Output", "c!d")],
                action_id="c",
            ).serialize(),
        )
        assert self.successResultOf(dg) == "test"
        self.successResultOf(ds)
        assert self.successResultOf(dc) == ["a!b", "c!d"]


class EventListTests(SynchronousTestCase):
    def test_collects_until_complete(self):
        """A list action collects its item events until the Complete event; others go to the sink."""
        p, _ = connected(id_factory=IdsFrom(["csc"]))
        seen: list[str] = []
        p.event_sink = lambda e: seen.append(e.name)
        d = p.send_list_action(Message.action("CoreShowChannels"))
        feed(
            p,
            resp("Success", "csc", EventList="start", Message="Channels will follow")
            + ev("CoreShowChannel", ("ActionID", "csc"), ("Uniqueid", "1"))
            + ev("Newchannel", ("Uniqueid", "9"))
            + ev("CoreShowChannel", ("ActionID", "csc"), ("Uniqueid", "2")),
        )
        self.assertNoResult(d)
        feed(p, ev("CoreShowChannelsComplete", ("ActionID", "csc"), ("EventList", "Complete")))
        r = self.successResultOf(d)
        assert isinstance(r, EventListResult)
        assert [e.get("Uniqueid") for e in r.events] == ["1", "2"]
        assert r.complete is not None and r.complete.name == "CoreShowChannelsComplete"
        assert seen == ["Newchannel"]

    def test_list_error(self):
        """A list action answered with Error fails with ActionFailed (Status of a missing channel)."""
        p, _ = connected(id_factory=IdsFrom(["st"]))
        d = p.status("Local/none@none-00000000;1")
        feed(p, resp("Error", "st", Message="No such channel"))
        self.failureResultOf(d, ActionFailed)

    def test_list_timeout_covers_whole_list(self):
        """The timeout runs until the Complete event, not just the response."""
        clock = Clock()
        p, _ = connected(clock, action_timeout=3.0, id_factory=IdsFrom(["st"]))
        d = p.status()
        feed(p, resp("Success", "st", EventList="start"))
        clock.advance(3.0)
        self.failureResultOf(d, ActionTimeout)


class OriginateTests(SynchronousTestCase):
    def test_async_originate_headers_and_outcome(self):
        """Originate sends the trace's header order; the OriginateResponse event gives the result."""
        p, t = connected(id_factory=IdsFrom(["orig-0"]))
        o = p.originate(
            "Local/10000@callee",
            context="survey",
            exten="s",
            priority=1,
            timeout=25,
            caller_id='"Survey Dialer" <5550100>',
            variables={"CAMPAIGN": "test", "CONTACT_ID": "orig-0"},
            channel_id="dialer-call-0000",
            other_channel_id="dialer-call-0000-2",
        )
        (sent,) = written(t)
        assert [k for k, _ in sent.headers] == [
            "Action",
            "ActionID",
            "Channel",
            "Context",
            "Exten",
            "Priority",
            "Timeout",
            "Async",
            "CallerID",
            "Variable",
            "Variable",
            "ChannelId",
            "OtherChannelId",
        ]
        assert sent.get("Timeout") == "25000"
        result = o.result()
        feed(p, resp("Success", "orig-0", Message="Originate successfully queued"))
        self.successResultOf(o.queued())
        self.assertNoResult(result)
        feed(
            p,
            ev(
                "OriginateResponse",
                ("ActionID", "orig-0"),
                ("Response", "Failure"),
                ("Channel", "Local/10000@callee"),
                ("Reason", "5"),
                ("Uniqueid", "dialer-call-0000"),
            ),
        )
        r = self.successResultOf(result)
        assert isinstance(r, OriginateResult)
        assert (r.success, r.reason, r.uniqueid) == (False, 5, "dialer-call-0000")
        assert o.done

    def test_event_before_response(self):
        """An OriginateResponse that overtakes the queued response still resolves the result."""
        p, _ = connected(id_factory=IdsFrom(["o"]))
        o = p.originate("Local/1@callee", context="survey", exten="s", priority=1)
        feed(
            p, ev("OriginateResponse", ("ActionID", "o"), ("Response", "Success"), ("Reason", "4"))
        )
        assert self.successResultOf(o.result()).success
        feed(p, resp("Success", "o"))
        self.successResultOf(o.queued())

    def test_correlated_by_channel_id_without_action_id(self):
        """An OriginateResponse without our ActionID is matched by the ChannelId we set."""
        p, _ = connected(id_factory=IdsFrom(["o1", "o2"]))
        o1 = p.originate("Local/1@callee", context="survey", exten="s", channel_id="call-1")
        o2 = p.originate("Local/2@callee", context="survey", exten="s", channel_id="call-2")
        feed(p, resp("Success", "o1") + resp("Success", "o2"))
        feed(
            p,
            ev(
                "OriginateResponse",
                ("Response", "Success"),
                ("Reason", "4"),
                ("Uniqueid", "call-2"),
            ),
        )
        assert self.successResultOf(o2.result()).uniqueid == "call-2"
        self.assertNoResult(o1.result())

    def test_sync_error_fails_both(self):
        """A synchronous error (even with Async) fails queued() and result() alike."""
        p, _ = connected(id_factory=IdsFrom(["o"]))
        o = p.originate("Bogus/123", context="survey", exten="s", priority=1)
        feed(p, resp("Error", "o", Message="Extension does not exist."))
        self.failureResultOf(o.queued(), ActionFailed)
        self.failureResultOf(o.result(), ActionFailed)

    def test_unobserved_failure_is_not_an_unhandled_error(self):
        """Ignoring one of the Originate outcomes does not log an unhandled error."""
        p, _ = connected(id_factory=IdsFrom(["o"]))
        o = p.originate("Bogus/123", context="survey", exten="s", priority=1)
        feed(p, resp("Error", "o", Message="Channel not specified"))
        del o
        import gc

        gc.collect()
        assert self.flushLoggedErrors() == []

    def test_result_timeout(self):
        """No OriginateResponse within ring timeout + action timeout fails the result with ActionTimeout."""
        clock = Clock()
        p, _ = connected(clock, action_timeout=5.0, id_factory=IdsFrom(["o"]))
        o = p.originate("Local/1@callee", context="survey", exten="s", priority=1, timeout=20)
        feed(p, resp("Success", "o"))
        result = o.result()
        clock.advance(24.9)
        self.assertNoResult(result)
        clock.advance(0.2)
        self.failureResultOf(result, ActionTimeout)

    def test_sync_originate(self):
        """Without Async the response is the outcome: Success gives a result, Error fails it."""
        p, t = connected(id_factory=IdsFrom(["s1", "s2"]))
        o1 = p.originate("Local/1@callee", context="hold", exten="s", priority=1, async_=False)
        o2 = p.originate("Local/0@callee", context="hold", exten="s", priority=1, async_=False)
        assert all(m.get("Async") is None for m in written(t))
        feed(p, resp("Success", "s1") + resp("Error", "s2", Message="Originate failed"))
        assert self.successResultOf(o1.result()).success
        self.failureResultOf(o2.result(), ActionFailed)


class RobustnessTests(SynchronousTestCase):
    def setUp(self):
        self.logged = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)

    def test_garbage_closes_connection_with_log(self):
        """Bytes that are not AMI close the connection and log an error; nothing raises."""
        p, t = connected()
        feed(p, b"this is not a header\r\n\r\n")
        assert t.disconnecting
        assert any("not AMI" in (e.get("log_format") or "") for e in self.logged)
        feed(p, b"Event: X\r\n\r\n")  # ignored after the error

    def test_over_long_line_closes_connection(self):
        """An over-long line closes the connection; pending actions then fail when it is lost."""
        p, t = connected()
        d = p.ping()
        feed(p, b"Event: " + b"x" * 20000)
        assert t.disconnecting
        lose(p, t)
        self.failureResultOf(d, ConnectionDropped)

    def test_wrong_banner_closes(self):
        """A peer whose first line is not an Asterisk manager banner is dropped."""
        p, t = connected(banner=False)
        feed(p, b"SSH-2.0-OpenSSH_9.6\r\n")
        assert t.disconnecting

    def test_subscriber_error_is_isolated(self):
        """A subscriber that raises is logged; later subscribers still get the event."""
        events = EventDispatcher()
        got: list[str] = []

        def bad(e):
            raise RuntimeError("boom")

        events.subscribe("Hangup", bad)
        events.subscribe(None, lambda e: got.append(e.name))
        events.dispatch(Message.event("Hangup"))
        assert got == ["Hangup"]
        assert len(self.flushLoggedErrors(RuntimeError)) == 1

    def test_unsubscribe(self):
        """An unsubscribed callback gets no more events; names are case-insensitive."""
        events = EventDispatcher()
        got: list[str] = []
        off = events.subscribe("newchannel", lambda e: got.append(e.name))
        events.dispatch(Message.event("Newchannel"))
        off()
        events.dispatch(Message.event("Newchannel"))
        assert got == ["Newchannel"]


class FullyBootedTests(SynchronousTestCase):
    def test_fully_booted(self):
        """when_fully_booted fires on the FullyBooted event, at once afterwards."""
        p, _ = connected()
        d = p.when_fully_booted()
        self.assertNoResult(d)
        feed(p, ev("FullyBooted", ("Status", "Fully Booted")))
        self.successResultOf(d)
        assert p.fully_booted
        self.successResultOf(p.when_fully_booted())

    def test_fully_booted_timeout(self):
        """when_fully_booted with a timeout fails with ActionTimeout if no event comes."""
        clock = Clock()
        p, _ = connected(clock)
        d = p.when_fully_booted(2.0)
        clock.advance(2.0)
        self.failureResultOf(d, ActionTimeout)


class KeepaliveTests(SynchronousTestCase):
    def test_ping_every_interval_and_drop_on_timeout(self):
        """Keep-alive pings each interval; an unanswered ping aborts the connection."""
        clock = Clock()
        p, t = connected(clock, action_timeout=5.0, id_factory=IdsFrom(["k1", "k2"]))
        p.start_keepalive(30.0)
        clock.advance(30.0)
        (ping,) = written(t)
        assert ping.name == "Ping"
        feed(p, resp("Success", "k1", Ping="Pong"))
        clock.advance(30.0)
        assert [m.action_id for m in written(t)] == ["k2"]
        clock.advance(5.0)
        assert t.disconnecting
        lose(p, t)
        assert clock.getDelayedCalls() == []
