"""simulated PBX: N concurrent simulated calls on the real clock; reactor lag p99 and RSS"""

from __future__ import annotations

import argparse
import contextlib
import random
import resource
import time
from typing import Any, cast

from twisted.internet import defer, protocol, task
from twisted.protocols.basic import LineOnlyReceiver

from dialer.ami.message import Framer, Message
from dialer.sim.dialplan import Dialplan
from dialer.sim.profile import CalleeBehaviour, Dist, Profile, RespondentBehaviour
from dialer.sim.server import DEFAULT_DIALPLAN, SimulatedPBX, listen_tcp

SURVEY = (
    ["ANSWER"]
    + [cmd for q in range(5) for cmd in (f'STREAM FILE q{q} "1234"', "GET DATA beep 4000 1")]
    + ["HANGUP"]
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=1000, help="concurrent calls (default 1000)")
    parser.add_argument("--seconds", type=float, default=120.0, help="run time (default 120)")
    parser.add_argument(
        "--rate", type=float, default=100.0, help="originates per second while ramping"
    )
    parser.add_argument("--seed", type=int, default=1)


class _Survey(LineOnlyReceiver):
    """A minimal FastAGI server: a 5-question keypad survey, then it closes the socket."""

    delimiter = b"\n"

    def __init__(self, stats: dict[str, int]) -> None:
        self.stats = stats
        self.step = -1
        self.script = list(SURVEY)

    def lineReceived(self, line: bytes) -> None:
        if self.step < 0:
            if line == b"":
                self.step = 0
                self._send()
            return
        if line == b"HANGUP" or line.startswith((b"Send", b"It ", b"<", b" ")):
            return
        self.stats["agi_replies"] += 1
        if self.step >= len(self.script):  # the reply to HANGUP: the survey is done
            self.stats["surveys_done"] += 1
            cast(Any, self.transport).loseConnection()
            return
        if line.startswith(b"200 result=-1") or line.startswith(b"511"):
            cast(Any, self.transport).loseConnection()
            return
        self._send()

    def _send(self) -> None:
        cmd = self.script[self.step]
        self.step += 1
        cast(Any, self.transport).write(cmd.encode() + b"\n")


class _Client(protocol.Protocol):
    """A small AMI client keeping N calls up by originating as calls end."""

    def __init__(self, target: int, rate: float, clock: Any, stats: dict[str, int]) -> None:
        self.framer = Framer(banner=True)
        self.target = target
        self.rate = rate
        self.clock = clock
        self.stats = stats
        self.live: set[str] = set()
        self.pending = 0
        self.n = 0
        self.loop: task.LoopingCall | None = None

    def connectionMade(self) -> None:
        self._send("Login", [("Username", "dialer"), ("Secret", "dialer")])
        self.loop = task.LoopingCall(self._tick)
        self.loop.clock = self.clock
        self.loop.start(0.1)

    def _send(self, name: str, headers: list[tuple[str, str]]) -> None:
        self.n += 1
        cast(Any, self.transport).write(
            Message.action(name, headers, action_id=f"a{self.n}").serialize()
        )

    def _tick(self) -> None:
        room = self.target - len(self.live) - self.pending
        for _ in range(max(0, min(room, int(self.rate * 0.1)))):
            self.pending += 1
            self.stats["originated"] += 1
            self._send(
                "Originate",
                [
                    ("Channel", f"Local/{self.n:06d}@callee"),
                    ("Context", "survey"),
                    ("Exten", "s"),
                    ("Priority", "1"),
                    ("Timeout", "30000"),
                    ("Async", "true"),
                    ("CallerID", '"Survey Dialer" <5550100>'),
                    ("Variable", "CAMPAIGN=bench"),
                ],
            )
        self.stats["max_live"] = max(self.stats["max_live"], len(self.live))

    def dataReceived(self, data: bytes) -> None:
        for m in self.framer.feed(data):
            if not m.is_event:
                continue
            self.stats["events"] += 1
            name = m.name
            if name == "OriginateResponse":
                self.pending -= 1
                if m.get("Response") == "Success":
                    self.live.add(m.get("Channel") or "")
                else:
                    self.stats["failed"] += 1
            elif name == "Hangup":
                chan = m.get("Channel") or ""
                if chan in self.live:
                    self.live.discard(chan)
                    self.stats["completed"] += 1

    def stop(self) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(args: argparse.Namespace) -> dict[str, Any]:
    from twisted.internet import reactor
    from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint

    stats = {
        k: 0
        for k in (
            "originated",
            "failed",
            "completed",
            "events",
            "max_live",
            "agi_replies",
            "surveys_done",
        )
    }
    lags: list[float] = []
    figures: dict[str, Any] = {}
    profile = Profile(
        mode="profile",
        callee=CalleeBehaviour(
            shares=(("answer", 1.0),),
            ring=Dist("uniform", 1.0, 4.0, 1.0, 4.0),
            talk=Dist("uniform", 60.0, 120.0, 60.0, 120.0),
        ),
        respondent=RespondentBehaviour(hangup=0.01),
    )

    async def main(_: Any) -> None:
        agi_factory = protocol.Factory.forProtocol(lambda: _Survey(stats))
        server: Any = TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")  # type: ignore[no-untyped-call]
        agi_port: Any = await server.listen(agi_factory)
        agi_addr = agi_port.getHost()

        sim = SimulatedPBX(
            clock=reactor,
            rng=random.Random(args.seed),
            profile=profile,
            dialplan=Dialplan.from_file(DEFAULT_DIALPLAN),
            recordings=None,
            agi_endpoint=lambda h, p: TCP4ClientEndpoint(reactor, "127.0.0.1", agi_addr.port),
        )
        ami_port: Any = listen_tcp(sim, reactor, 0, "127.0.0.1")
        client = _Client(args.calls, args.rate, reactor, stats)
        ami: Any = TCP4ClientEndpoint(reactor, "127.0.0.1", ami_port.getHost().port)
        await ami.connect(protocol.Factory.forProtocol(lambda: client))
        interval = 0.05
        last = [time.perf_counter()]

        def probe() -> None:
            now = time.perf_counter()
            lags.append(max(0.0, now - last[0] - interval))
            last[0] = now

        lag_loop = task.LoopingCall(probe)
        lag_loop.start(interval, now=False)
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        await task.deferLater(reactor, args.seconds, lambda: None)
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        lag_loop.stop()
        client.stop()
        lags.sort()
        figures.update(
            seconds=round(elapsed, 1),
            target_calls=args.calls,
            max_concurrent_calls=stats["max_live"],
            channels_at_end=sim.live_channels(),
            calls_originated=stats["originated"],
            calls_completed=stats["completed"],
            surveys_completed=stats["surveys_done"],
            ami_events=stats["events"],
            agi_replies=stats["agi_replies"],
            reactor_lag_p50_ms=round(lags[len(lags) // 2] * 1000, 2) if lags else None,
            reactor_lag_p99_ms=round(lags[int(len(lags) * 0.99)] * 1000, 2) if lags else None,
            reactor_lag_max_ms=round(lags[-1] * 1000, 2) if lags else None,
            cpu_percent=round(100 * cpu / elapsed, 1),
            rss_mb=round(_rss_mb(), 1),
        )

    with contextlib.suppress(SystemExit):  # task.react exits when main() is done
        task.react(lambda r: defer.Deferred.fromCoroutine(main(r)))
    return figures
