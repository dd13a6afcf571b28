"""
The real AMI client against the simulated PBX (in memory, virtual clock).

These check the client's behaviour end to end with a peer that follows the reference
traces: the reference dialplan's outcomes by last digit, MD5 login, a refused login,
a restart and a kill -9 with pending work.
"""

from __future__ import annotations

import random
from pathlib import Path

from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from dialer.ami.client import AMIClient, ConnectionDropped
from dialer.sim.profile import load_profile
from dialer.sim.server import SimulatedPBX

PROFILES = Path(__file__).resolve().parents[2] / "dialer" / "sim" / "profiles"
T0 = 1_795_594_000.0


class SimTests(SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()
        self.clock.advance(T0)
        self.logged = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        self.sim = SimulatedPBX(
            clock=self.clock,
            rng=random.Random(3),
            profile=load_profile(PROFILES / "reference.toml"),
        )

    def client(self, secret="dialer", md5=False):
        c = AMIClient(
            self.sim.ami_endpoint(),
            "dialer",
            secret,
            clock=self.clock,
            md5=md5,
            keepalive_interval=20.0,
            retry_policy=lambda attempt: 0.5,
        )
        self.states: list[bool] = []
        c.on_state(self.states.append)
        self.addCleanup(self.stop, c)
        return c

    def stop(self, c):
        c.stopService()
        self.advance(1)

    def advance(self, seconds, step=0.05):
        for _ in range(round(seconds / step)):
            self.clock.advance(step)

    def originate(self, c, number, context="survey", timeout=25):
        return c.originate(
            f"Local/{number}@callee",
            context=context,
            exten="s",
            priority=1,
            timeout=timeout,
            caller_id='"Survey Dialer" <5550100>',
            variables={"CAMPAIGN": "test"},
            channel_id=f"call-{number}",
            other_channel_id=f"call-{number}-2",
        )

    def test_reference_outcomes(self):
        """Busy, congestion, answer, unallocated and ring timeout give the traces' reasons."""
        c = self.client(md5=True)
        c.startService()
        self.advance(1)
        assert c.ready
        handles = {n: self.originate(c, n, context="hold") for n in (10000, 10004, 10009, 10007)}
        handles[10001] = self.originate(c, 10001, timeout=5)
        self.advance(10)
        results = {n: self.successResultOf(h.result()) for n, h in handles.items()}
        assert {n: r.reason for n, r in results.items()} == {
            10000: 5,
            10004: 8,
            10009: 4,
            10007: 0,
            10001: 3,
        }
        assert results[10009].success and results[10009].uniqueid == "call-10009"
        assert results[10000].uniqueid == "call-10000"  # failure carries ChannelId (b0c)
        live = c.channels.get("call-10009")
        assert live is not None and live.is_up and c.channels.peer("call-10009") is not None
        c.hangup(live.name, 16)
        self.advance(5)
        assert len(c.channels) == 0

    def test_refused_login(self):
        """A wrong secret: an error log, no readiness, retries continue."""
        c = self.client(secret="wrong")
        c.startService()
        self.advance(10)
        assert not c.ready and self.states == []
        refused = [e for e in self.logged if "login refused" in (e.get("log_format") or "")]
        assert len(refused) >= 3

    def test_restart_with_pending_work(self):
        """core restart: users paused, pending work fails, client comes back on its own."""
        c = self.client()
        c.startService()
        self.advance(1)
        h = self.originate(c, 10009, context="hold")
        self.advance(2)
        assert self.successResultOf(h.result()).success
        ring = self.originate(c, 10001, timeout=25)
        self.sim.shutdown(restart=True)
        self.advance(3)
        assert self.states[:2] == [True, False]
        self.failureResultOf(ring.result(), ConnectionDropped)
        self.advance(10)
        assert c.ready and self.states == [True, False, True]
        assert len(c.channels) == 0 and not c.channels.stale

    def test_kill9_then_back(self):
        """kill -9: no Hangup events; after the PBX is back the resync drops the lost call."""
        c = self.client()
        gone: list[str] = []
        c.channels.on_gone(lambda ch, cause: gone.append(ch.uniqueid))
        c.startService()
        self.advance(1)
        h = self.originate(c, 10009, context="hold")
        self.advance(2)
        assert self.successResultOf(h.result()).success
        assert len(c.channels) == 2
        self.sim.kill()
        self.advance(3)
        assert self.states == [True, False] and len(c.channels) == 2
        self.failureResultOf(c.ping(), Exception)
        self.sim.start()
        self.advance(5)
        assert c.ready and sorted(gone) == ["call-10009", "call-10009-2"]
        assert len(c.channels) == 0
