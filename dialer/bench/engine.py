"""Engine: campaign-controller throughput (store + call handling), no PBX cost / 调度引擎吞吐

`dialer bench engine --calls N --lines L --hold S [--db URL] [--json]` runs an agentless
(ivr-only) campaign through the real L{CampaignController} on a virtual clock, against a
minimal scripted PBX at the level of AMI events (Newchannel, Newstate, OriginateResponse,
AGIExecStart, Hangup: the events the controller follows), and the real store (SQLite file by
default, or C{--db}). Every call rings 5 s, is answered, stays C{--hold} seconds in the IVR
and hangs up, so about C{lines / (hold + 5)} originates per second are needed to keep
C{lines} calls up. The figures are the CPU the controller and the store spent per call
(this process's thread time, the PBX stand-in excluded as far as possible) and the
originate rate one core could therefore sustain, next to the daemon's targets
(1,000 concurrent calls, 50 originates/s).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet import defer

from dialer.ami.message import Message
from dialer.ami.protocol import OriginateResult


class _Handle:
    """What C{originate} returns: the queued response and the OriginateResponse."""

    def __init__(self) -> None:
        self.q: Message | None = None
        self.r: Any = None
        self._q: list[defer.Deferred[Message]] = []
        self._r: list[defer.Deferred[Any]] = []

    def fire_queued(self, value: Message) -> None:
        self.q = value
        for d in self._q:
            d.callback(value)

    def fire_result(self, value: Any) -> None:
        self.r = value
        for d in self._r:
            d.callback(value)

    def queued(self) -> defer.Deferred[Message]:
        if self.q is not None:
            return defer.succeed(self.q)
        d: defer.Deferred[Message] = defer.Deferred()
        self._q.append(d)
        return d

    def result(self) -> defer.Deferred[Any]:
        if self.r is not None:
            return defer.succeed(self.r)
        d: defer.Deferred[Any] = defer.Deferred()
        self._r.append(d)
        return d


class ScriptedPBX:
    """Answers every Originate: ring, answer, IVR, hang-up, as AMI events on the clock."""

    def __init__(self, clock: Any, ring: float, hold: float) -> None:
        self.clock = clock
        self.ring = ring
        self.hold = hold
        self.ready = True
        self.cpu = 0.0  # thread time spent here (subtracted from the engine's)
        self._subs: list[Callable[[Message], object]] = []
        self._seq = 0
        self.originates = 0
        self.live = 0
        self.peak = 0

    def on_state(self, callback: Callable[[bool], object]) -> Callable[[], None]:
        return lambda: None

    def subscribe(
        self, name: str | None, callback: Callable[[Message], object]
    ) -> Callable[[], None]:
        self._subs.append(callback)
        return lambda: self._subs.remove(callback)

    def _emit(self, name: str, **headers: str) -> None:
        started = time.thread_time()
        msg = Message.event(name, list(headers.items()))
        self.cpu += time.thread_time() - started
        for cb in list(self._subs):
            cb(msg)

    def originate(self, channel: str, **kw: Any) -> _Handle:
        started = time.thread_time()
        self._seq += 1
        self.originates += 1
        uid = kw["channel_id"]
        name = f"{channel}-{self._seq:08x};1"
        handle = _Handle()
        self.live += 1
        self.peak = max(self.peak, self.live)
        self.cpu += time.thread_time() - started
        handle.fire_queued(
            Message.response("Success", [("Message", "Originate successfully queued")])
        )
        self.clock.callLater(
            0.01, self._emit, "Newchannel", Channel=name, ChannelState="0", Uniqueid=uid
        )
        self.clock.callLater(self.ring, self._answer, handle, name, uid)
        return handle

    def _answer(self, handle: _Handle, name: str, uid: str) -> None:
        self._emit("Newstate", Channel=name, ChannelState="6", Uniqueid=uid)
        handle.fire_result(OriginateResult(True, 4, name, uid, Message.event("OriginateResponse")))
        self._emit("AGIExecStart", Channel=name, Uniqueid=uid, Command="ANSWER")
        self.clock.callLater(self.hold, self._hangup, uid, name)

    def _hangup(self, uid: str, name: str) -> None:
        self.live -= 1
        self._emit("Hangup", Channel=name, Uniqueid=uid, Cause="16")

    def hangup(self, channel: str, cause: int | None = None) -> defer.Deferred[Message]:
        return defer.succeed(Message.response("Success"))

    def redirect(
        self, channel: str, context: str, exten: str, priority: int | str = 1
    ) -> defer.Deferred[Message]:
        return defer.succeed(Message.response("Success"))

    def core_show_channels(self) -> defer.Deferred[list[Message]]:
        return defer.succeed([])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=3000, help="calls to place / 呼叫数")
    parser.add_argument("--lines", type=int, default=1000, help="concurrent lines / 并发线路")
    parser.add_argument("--hold", type=float, default=20.0, help="seconds in the IVR / 通话秒数")
    parser.add_argument(
        "--db", dest="bench_db", default=None, help="database URL (default: a temp SQLite file)"
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    from dialer.campaign.agents import AgentPool
    from dialer.campaign.controller import CampaignController, ControllerSettings, Line
    from dialer.events import CallEnded, EventBus
    from dialer.pacing.progressive import IvrOnly
    from dialer.sim.virtual import FastClock, run_until
    from dialer.store import campaigns as store
    from dialer.store.engine import create_engine
    from dialer.store.inline import InlineDB
    from dialer.store.migrate import upgrade
    from dialer.testing.synthetic import thd_seed_running_campaign

    t0 = 1_795_600_000.0
    tmp = tempfile.TemporaryDirectory(prefix="dialer-bench-engine-")
    url = args.bench_db or f"sqlite:///{Path(tmp.name) / 'engine.db'}"
    engine = create_engine(url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            cid = thd_seed_running_campaign(
                conn, name="e", n=args.calls, n_units=10, mode="ivr-only", now=t0, prefix="+86137"
            )
            camp = store.thd_get_campaign(conn, cid)
        assert camp is not None
        clock: Any = FastClock(t0)
        pbx = ScriptedPBX(clock, ring=5.0, hold=args.hold)
        bus = EventBus()
        ended: list[float] = []
        bus.subscribe(CallEnded, lambda e: ended.append(e.at))
        ctl = CampaignController(
            camp,
            db=InlineDB(engine),
            lines=[Line("pbx", pbx, args.lines)],
            agents=AgentPool(),
            policy=IvrOnly(),
            clock=clock,
            bus=bus,
            settings=ControllerSettings(
                always_open=True,
                max_launch_per_tick=args.lines,
                per_unit=max(50, args.lines // 5),
                status_poll=3600.0,
            ),
            rng=random.Random(1),
            timer=time.thread_time,
        )
        started_cpu = time.thread_time()
        started_wall = time.perf_counter()
        ctl.startService()
        horizon = t0 + 3600 * 24
        while len(ended) < args.calls and clock.seconds() < horizon:
            run_until(clock, clock.seconds() + 10.0)
        cpu = time.thread_time() - started_cpu - pbx.cpu
        wall = time.perf_counter() - started_wall
        ctl.stopService()
        span = (max(ended) - t0) if ended else 0.0
        return {
            "calls": len(ended),
            "lines": args.lines,
            "peak_concurrent_calls": pbx.peak,
            "virtual_seconds": round(span, 1),
            "originates_per_virtual_s": round(len(ended) / span, 1) if span else 0.0,
            "engine_cpu_s": round(cpu, 2),
            "engine_cpu_ms_per_call": round(1000 * cpu / max(1, len(ended)), 3),
            "max_originates_per_s_one_core": round(len(ended) / cpu, 1) if cpu > 0 else 0.0,
            "wall_s": round(wall, 2),
            "database": engine.url.get_backend_name(),
            "targets": "1,000 concurrent calls, 50 originates/s",
        }
    finally:
        engine.dispose()
        tmp.cleanup()
