"""FastAGI: N concurrent 5-question IVR surveys from the simulated PBX over TCP; completion, round trips, answer writes, CPU"""

# By default the simulated PBX runs as a child process (`dialer sim`), and calls are
# originated through its AMI, so the figures (CPU, reactor lag) are the FastAGI
# server's own: this process runs the server, the runner and the database thread.
# --inline runs the simulator in this process instead (no AMI; figures then include it).

from __future__ import annotations

import argparse
import contextlib
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from twisted.internet import defer, protocol, task

from dialer.agi.runner import PoolAnswerStore, RunnerConfig, SurveyRunner
from dialer.agi.server import FastAGIFactory
from dialer.events import EventBus, SurveyFinished
from dialer.sim.pbx import OriginateRequest
from dialer.sim.profile import parse_profile
from dialer.sim.server import SimulatedPBX
from dialer.store import schema
from dialer.store.engine import create_engine
from dialer.store.migrate import upgrade
from dialer.store.pool import DBThreadPool
from dialer.surveys import loader

#: The benchmark's questionnaire: five satisfaction questions, keys 1-4, one prompt each.
SURVEY = """
schema_version: 1
id: bench5
title: {zh-CN: 基准问卷, en: benchmark survey}
languages: [zh-CN, en]
defaults: {timeout: 5, max_invalid: 1, max_no_input: 1, on_fail: skip}
outcomes: {complete_min: 0.8, partial_min: 0.5}
scales:
  sat:
    options:
      - {key: "1", code: 1, weight: 100, label: {zh-CN: 满意, en: satisfied}}
      - {key: "2", code: 2, weight: 80, label: {zh-CN: 基本满意, en: fairly satisfied}}
      - {key: "3", code: 3, weight: 0, label: {zh-CN: 不满意, en: not satisfied}}
      - {key: "4", code: 4, weight: null, label: {zh-CN: 不了解, en: "don't know"}}
prompts:
  q1: {zh-CN: 您对政务服务是否满意, en: Are you satisfied with public services}
  q2: {zh-CN: 您对社会治安是否满意, en: Are you satisfied with public safety}
  q3: {zh-CN: 您对环境卫生是否满意, en: Are you satisfied with the environment}
  q4: {zh-CN: 您对交通出行是否满意, en: Are you satisfied with transport}
  q5: {zh-CN: 您对医疗服务是否满意, en: Are you satisfied with health care}
  invalid: {zh-CN: 按键无效, en: That key is not valid}
  no_input: {zh-CN: 没有收到按键, en: No key received}
  confirm: {zh-CN: 请确认, en: Please confirm}
  thanks: {zh-CN: 感谢您的支持再见, en: Thank you goodbye}
intro: []
blocks:
  - id: city
    questions:
      - {id: q1, prompt: q1, scale: sat}
      - {id: q2, prompt: q2, scale: sat}
      - {id: q3, prompt: q3, scale: sat}
      - {id: q4, prompt: q4, scale: sat}
      - {id: q5, prompt: q5, scale: sat}
closing:
  complete: [thanks]
units:
  "U1": {zh-CN: 测试单位, en: test unit}
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sessions", type=int, default=1000, help="concurrent calls / 并发通话数")
    parser.add_argument(
        "--ramp", type=float, default=1.0, help="seconds over which calls start / 呼叫启动时间窗"
    )
    parser.add_argument("--seed", type=int, default=1, help="simulator seed / 随机种子")
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="give up after this many seconds / 超时秒数"
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="store answers in a throw-away PostgreSQL cluster / 使用临时 PostgreSQL",
    )
    parser.add_argument(
        "--target-db", metavar="URL", help="an empty database instead of a temporary SQLite file"
    )
    parser.add_argument(
        "--inline",
        action="store_true",
        help="run the simulator in this process (figures include it) / 模拟器与服务同进程",
    )


PROFILE = """
version = 1
mode = "profile"
[callee]
answer = 1.0
ring = 0.5
talk = 3600
[respondent]
hesitation = {min = 0.3, max = 1.5}
no_input = 0.0
invalid = 0.0
star = 0.0
hangup = 0.0
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Originator(protocol.Protocol):
    """A bare AMI client: log in, then send async Originates into [survey]."""

    def __init__(self) -> None:
        self.buffer = b""
        self.logged_in: defer.Deferred[None] = defer.Deferred()

    def connectionMade(self) -> None:
        self._send([("Action", "Login"), ("Username", "dialer"), ("Secret", "dialer")])

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        if not self.logged_in.called and b"Authentication accepted" in self.buffer:
            self.logged_in.callback(None)
        self.buffer = self.buffer[-4096:]

    def originate(self, n: int, attempt_id: int) -> None:
        self._send(
            [
                ("Action", "Originate"),
                ("ActionID", f"bench-{n}"),
                ("Channel", f"Local/3{n:07d}@callee"),
                ("Context", "survey"),
                ("Exten", "s"),
                ("Priority", "1"),
                ("Async", "true"),
                ("ChannelId", f"bench-{n}"),
                ("Variable", f"MINYI_ATTEMPT={attempt_id}"),
            ]
        )

    def _send(self, headers: list[tuple[str, str]]) -> None:
        text = "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        transport: Any = self.transport
        transport.write(text.encode())


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a child process (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def _seed(conn: sa.Connection, sessions: int) -> list[int]:
    """A unit, a draw, an ivr campaign and one contact + attempt per session."""
    unit_id = conn.execute(
        schema.units.insert().values(code="U1", name="测试单位", kind="department")
    ).inserted_primary_key[0]  # type: ignore[index]
    draw_id = conn.execute(
        schema.draws.insert().values(
            name="bench", allocation="equal", seed=1, parameters={}, created_at=0.0
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    campaign_id = conn.execute(
        schema.campaigns.insert().values(
            name="bench",
            draw_id=draw_id,
            questionnaire="bench5",
            mode="ivr",
            dial_template="Local/{number}@callee",
            timezone="Asia/Shanghai",
            windows=[],
            retry_rules={},
            max_attempts=1,
            abandon_target=0.03,
            priority=0,
            status="running",
            created_at=0.0,
            updated_at=0.0,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    conn.execute(
        schema.contacts.insert(),
        [
            {"id": n + 1, "unit_id": unit_id, "number": f"+86138{n:08d}", "line_type": "mobile"}
            for n in range(sessions)
        ],
    )
    conn.execute(
        schema.attempts.insert(),
        [
            {
                "id": n + 1,
                "campaign_id": campaign_id,
                "contact_id": n + 1,
                "unit_id": unit_id,
                "attempt_no": 1,
                "status": "answered",
                "created_at": 0.0,
                "action_id": f"bench-{n}",
                "abandoned": False,
            }
            for n in range(sessions)
        ],
    )
    return list(range(1, sessions + 1))


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000, 2)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from twisted.internet import reactor
    from twisted.internet.endpoints import TCP4ClientEndpoint, serverFromString

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 4 * args.sessions + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    figures: dict[str, Any] = {}
    pg = None
    tmp = tempfile.TemporaryDirectory(prefix="dialer-bench-agi-")
    if args.target_db:
        url = args.target_db
    elif args.postgres:
        from dialer.testing.pgserver import PostgresServer, pg_bindir

        bindir = pg_bindir()
        if bindir is None:
            raise SystemExit("PostgreSQL binaries not found: apt-get install postgresql")
        pg = PostgresServer(bindir)
        pg.start()
        url = pg.new_database()
    else:
        url = f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    engine = create_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        attempt_ids = _seed(conn, args.sessions)
    script = loader.loads(SURVEY, "bench5.yaml")

    round_trips: dict[str, list[float]] = {}
    writes: list[float] = []
    lags: list[float] = []
    results: dict[str, int] = {}

    def on_round_trip(verb: str, seconds: float) -> None:
        round_trips.setdefault(verb, []).append(seconds)

    def on_finished(event: SurveyFinished) -> None:
        results[event.result] = results.get(event.result, 0) + 1

    async def main(_: Any) -> None:
        pool = DBThreadPool(engine, reactor)
        pool.start()
        bus = EventBus()
        bus.subscribe(SurveyFinished, on_finished)
        runner = SurveyRunner(
            PoolAnswerStore(pool),
            lambda name: script,
            reactor,
            RunnerConfig(),
            bus=bus,
            answer_written=writes.append,
        )
        factory = FastAGIFactory(reactor, {"survey": runner}, round_trip=on_round_trip)
        endpoint: Any = serverFromString(  # type: ignore[no-untyped-call]
            reactor, "tcp:0:interface=127.0.0.1:backlog=4096"
        )
        port: Any = await endpoint.listen(factory)
        agi_port = port.getHost().port
        child: subprocess.Popen[bytes] | None = None
        originate: Any
        if args.inline:
            sim = SimulatedPBX(
                clock=reactor,
                rng=random.Random(args.seed),
                profile=parse_profile(tomllib.loads(PROFILE)),
                agi_endpoint=lambda h, p: TCP4ClientEndpoint(reactor, "127.0.0.1", agi_port),
            )
            assert sim.pbx is not None
            pbx = sim.pbx

            def originate(n: int, attempt_id: int) -> None:
                request = OriginateRequest(
                    channel=f"Local/3{n:07d}@callee",
                    context="survey",
                    exten="s",
                    variables=[("MINYI_ATTEMPT", str(attempt_id))],
                    channel_id=f"bench-{n}",
                )
                pbx.originate(request, None)

        else:
            profile_path = Path(tmp.name) / "profile.toml"
            profile_path.write_text(PROFILE, encoding="utf-8")
            ami_port = _free_port()
            child = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dialer",
                    "sim",
                    "--ami",
                    f"127.0.0.1:{ami_port}",
                    "--agi",
                    f"127.0.0.1:{agi_port}",
                    "--profile",
                    str(profile_path),
                    "--seed",
                    str(args.seed),
                    "--recordings",
                    str(Path(tmp.name) / "recordings"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            client = _Originator()
            for _ in range(100):
                try:
                    ami: Any = TCP4ClientEndpoint(reactor, "127.0.0.1", ami_port)
                    await ami.connect(protocol.Factory.forProtocol(lambda: client))
                    break
                except Exception:
                    await task.deferLater(reactor, 0.1, lambda: None)
            client.logged_in.addTimeout(30, reactor)
            try:
                await client.logged_in
            except defer.TimeoutError:
                child.kill()
                raise SystemExit("the simulator did not come up (dialer sim)") from None
            originate = client.originate
        sim_cpu0 = _cpu_of(child.pid) if child is not None else 0.0
        peak = [0]
        interval = 0.05
        last = [time.perf_counter()]

        def probe() -> None:
            now = time.perf_counter()
            lags.append(max(0.0, now - last[0] - interval))
            last[0] = now
            peak[0] = max(peak[0], len(factory.sessions))

        lag_loop = task.LoopingCall(probe)
        lag_loop.start(interval, now=False)
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        for n, attempt_id in enumerate(attempt_ids):
            reactor.callLater(args.ramp * n / max(1, len(attempt_ids)), originate, n, attempt_id)
        deadline = t0 + args.timeout
        while sum(results.values()) < len(attempt_ids) and time.perf_counter() < deadline:
            await task.deferLater(reactor, 0.2, lambda: None)
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        sim_cpu = _cpu_of(child.pid) - sim_cpu0 if child is not None else None
        lag_loop.stop()
        if child is not None:
            child.terminate()
            child.wait(10)
        await factory.drain(5.0)
        pool.stop()
        port.stopListening()
        with engine.connect() as conn:
            stored = conn.execute(sa.select(sa.func.count()).select_from(schema.answers)).scalar()
        done = sum(results.values())
        control = [
            rtt
            for verb in ("ANSWER", "GET FULL VARIABLE", "GET VARIABLE", "CHANNEL STATUS")
            for rtt in round_trips.get(verb, [])
        ]
        get_data = round_trips.get("GET DATA", [])
        figures.update(
            database=engine.dialect.name,
            sessions=len(attempt_ids),
            max_concurrent_sessions=peak[0],
            sessions_finished=done,
            completed=results.get("complete", 0),
            completion_rate=round(results.get("complete", 0) / len(attempt_ids), 4),
            answers_stored=stored,
            wall_seconds=round(elapsed, 1),
            commands=sum(len(v) for v in round_trips.values()),
            rtt_control_p50_ms=_pct(control, 0.5),
            rtt_control_p99_ms=_pct(control, 0.99),
            rtt_get_data_p50_ms=_pct(get_data, 0.5),
            rtt_get_data_p99_ms=_pct(get_data, 0.99),
            answer_write_p50_ms=_pct(writes, 0.5),
            answer_write_p99_ms=_pct(writes, 0.99),
            answer_write_max_ms=_pct(writes, 1.0),
            reactor_lag_p99_ms=_pct(lags, 0.99),
            cpu_seconds=round(cpu, 1),
            cpu_percent=round(100 * cpu / elapsed, 1),
            simulator="in this process" if args.inline else "child process",
            load_average_1m=round(os.getloadavg()[0], 2),
            cores=os.cpu_count(),
            simulator_cpu_percent=None if sim_cpu is None else round(100 * sim_cpu / elapsed, 1),
            note="cpu/reactor lag: this process (FastAGI server, runner, DB thread"
            + (", simulator" if args.inline else "")
            + "); rtt_get_data includes the simulated prompt (3 s) and the respondent's hesitation",
        )

    try:
        with contextlib.suppress(SystemExit):  # task.react exits when main() is done
            task.react(lambda r: defer.Deferred.fromCoroutine(main(r)))
    finally:
        engine.dispose()
        if pg is not None:
            pg.stop()
        tmp.cleanup()
    return figures
