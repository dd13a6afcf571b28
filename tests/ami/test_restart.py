"""
The client through Asterisk going away (traces g1 restart, g2 stop, g3 kill -9) and back.

The reference traces' bytes are fed to an L{AMIClient} on a fake endpoint. Where the
client sends something the capture script did not (its CoreShowChannels resync, a
keep-alive), the peer answers it here.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from dialer.ami.client import AMIClient, ConnectionDropped
from dialer.ami.message import Message
from tests.ami.helpers import FakeEndpoint, IdsFrom, feed, lose, refused, written
from tests.traces import load


def empty_list(action_id: str) -> bytes:
    return (
        Message.response("Success", {"EventList": "start"}, action_id=action_id).serialize()
        + Message.event(
            "CoreShowChannelsComplete",
            [("ActionID", action_id), ("EventList", "Complete"), ("ListItems", "0")],
        ).serialize()
    )


class GoingAwayTests(SynchronousTestCase):
    def make_client(self, outcomes, ids):
        self.clock = Clock()
        self.endpoint = FakeEndpoint(outcomes)
        self.client = AMIClient(
            self.endpoint,
            "dialer",
            "dialer",
            clock=self.clock,
            keepalive_interval=None,
            retry_policy=lambda attempt: 0.25,
            id_factory=IdsFrom(ids),
        )
        self.states: list[bool] = []
        self.client.on_state(self.states.append)
        self.hangups: list[int | None] = []
        self.client.channels.on_hangup(lambda ch, cause: self.hangups.append(cause))
        self.gone: list[str] = []
        self.client.channels.on_gone(lambda ch, cause: self.gone.append(ch.name))

    def first_session(self, trace):
        """Log in with the trace's bytes, originate as the trace did, then play it to the end."""
        p, t = self.endpoint.last
        (first, login_ex, orig_ex) = trace.exchanges("ami")[:3]
        feed(p, b"".join(e.wire() for e in first[1]), 7)
        (login,) = written(t)
        assert sorted(login.headers) == sorted(login_ex[0].headers)
        feed(p, b"".join(e.wire() for e in login_ex[1]), 7)
        (csc,) = written(t)
        feed(p, empty_list(csc.action_id))
        assert self.client.ready and self.states == [True]
        sent = orig_ex[0]
        handle = self.client.originate(
            sent["Channel"],
            context=sent["Context"],
            exten=sent["Exten"],
            priority=sent["Priority"],
            timeout=int(sent["Timeout"]) / 1000,
            caller_id=sent.get("CallerID"),
            variables=[tuple(v.split("=", 1)) for v in sent.get_all("Variable")],
            channel_id=sent.get("ChannelId"),
            other_channel_id=sent.get("OtherChannelId"),
        )
        (ours,) = written(t)
        assert sorted(ours.headers) == sorted(sent.headers)
        ping = self.client.ping()  # never answered: Asterisk goes away first
        replies = orig_ex[1]
        assert replies[-1].kind == "eof"
        feed(p, b"".join(e.wire() for e in replies), 7)
        lose(p, t)
        self.failureResultOf(ping, ConnectionDropped)
        return handle

    def test_g1_core_restart(self):
        """g1: Shutdown pauses users, pending actions fail, reconnect waits for FullyBooted."""
        trace = load("g1")
        self.make_client(
            [True, refused(), refused(), refused(), True],
            ["login-1", "csc-1", "orig-g1", "ping-1", "login-after-restart", "csc-2"],
        )
        self.client.startService()
        handle = self.first_session(trace)
        assert self.successResultOf(handle.result()).success
        assert self.states == [True, False]
        assert len(self.client.channels) == 0 and sorted(set(self.hangups)) == [0, 16]
        for _ in range(4):
            self.clock.advance(0.25)
        assert self.endpoint.attempts == 5
        p, t = self.endpoint.last
        entries = trace.connection("after-restart-4")
        booted = next(
            i for i, e in enumerate(entries) if e.message and e.message.name == "FullyBooted"
        )
        before = [e for e in entries[:booted] if e.direction == "<<"]
        feed(p, before[0].wire())  # banner
        (login,) = written(t)
        assert sorted(login.headers) == sorted(entries[1].message.headers)
        feed(p, b"".join(e.wire() for e in before[1:]), 2)
        assert written(t) == [] and not self.client.ready  # logged in, not yet booted
        feed(p, entries[booted].wire())
        (csc,) = written(t)
        feed(p, empty_list(csc.action_id))
        assert self.client.ready and self.states == [True, False, True]
        self.client.stopService()
        lose(p, t)

    def test_g2_core_stop(self):
        """g2: Shutdown then EOF; the client keeps trying (refused) without giving up."""
        trace = load("g2")
        self.make_client([True] + [refused()] * 30, ["login-1", "csc-1"])
        self.client.startService()
        p, t = self.endpoint.last
        received = [e for e in trace.connection("ami") if e.direction == "<<"]
        shutdown = next(
            i for i, e in enumerate(received) if e.message and e.message.name == "Shutdown"
        )
        feed(p, received[0].wire())
        written(t)
        feed(p, b"".join(e.wire() for e in received[1:shutdown]), 1)
        (csc,) = written(t)
        feed(p, empty_list(csc.action_id))
        assert self.states == [True]
        feed(p, b"".join(e.wire() for e in received[shutdown:]))
        assert self.states == [True, False]
        assert received[-1].kind == "eof"
        lose(p, t)
        for _ in range(30):
            self.clock.advance(0.25)
        assert self.endpoint.attempts == 31
        self.client.stopService()

    def test_shutdown_during_login(self):
        """A Shutdown event during the login keeps the client from reporting ready."""
        self.make_client([True], ["login-1", "csc-1"])
        self.client.startService()
        p, t = self.endpoint.last
        feed(p, b"Asterisk Call Manager/11.0.0\r\n")
        (login,) = written(t)
        feed(
            p,
            Message.response("Success", action_id=login.action_id).serialize()
            + Message.event("FullyBooted").serialize()
            + Message.event("Shutdown", {"Shutdown": "Cleanly", "Restart": "True"}).serialize(),
        )
        (csc,) = written(t)
        feed(p, empty_list(csc.action_id))
        assert not self.client.ready and self.states == []
        lose(p, t)
        self.client.stopService()

    def test_g3_kill9(self):
        """g3: EOF with no Shutdown and no Hangups; the resync after reconnect reports the call gone."""
        trace = load("g3")
        self.make_client(
            [True, True, refused(), True],
            ["login-1", "csc-1", "orig-g3", "ping-1", "login-2", "login-3", "csc-3"],
        )
        self.client.startService()
        handle = self.first_session(trace)
        assert self.successResultOf(handle.result()).success
        assert self.states == [True, False]
        assert len(self.client.channels) == 4 and self.hangups == []
        assert self.client.channels.stale
        # Reconnect: accepted and reset before the banner, then refused, then back.
        self.clock.advance(0.25)
        p, t = self.endpoint.last
        lose(p, t)
        self.clock.advance(0.25)
        self.clock.advance(0.25)
        assert self.endpoint.attempts == 4
        p, t = self.endpoint.last
        feed(p, b"Asterisk Call Manager/11.0.0\r\n")
        (login,) = written(t)
        feed(
            p,
            Message.response(
                "Success", {"Message": "Authentication accepted"}, action_id=login.action_id
            ).serialize()
            + Message.event("FullyBooted", {"Uptime": "0"}).serialize(),
        )
        (csc,) = written(t)
        feed(p, empty_list(csc.action_id))
        assert self.client.ready
        assert len(self.gone) == 4 and len(self.client.channels) == 0
        self.client.stopService()
        lose(p, t)
