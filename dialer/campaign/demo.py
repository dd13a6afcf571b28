"""
The campaign stage of C{dialer demo}: a whole campaign, end to end, in real time.

One reactor runs the simulated PBX (AMI on a loopback port, a few simulated
interviewers, callees from a demo profile) and the real daemon (AMI client, FastAGI
with the real IVR runner, campaign controller, /metrics): a predictive campaign over
the sample drawn earlier, for C{DIALER_DEMO_SECONDS} (default 150) seconds. Calls
with no free agent within 2 s go to the IVR survey. Then dialing pauses, the calls in
progress get up to 90 s to end, and the per-unit progress, the dispositions and the
abandonment figures are printed.

It starts the global reactor, so it must be the last demo step that needs one.
"""

# test-case-name: tests.campaign.test_demo

from __future__ import annotations

import os
import random
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
AGENTS = 5

PROFILE = """# dialer demo: an evening of calls, shortened so a few minutes show everything
version = 1
mode = "profile"
description = "demo: ~35 % answer, short interviews"

[callee]
answer = 0.35
machine = 0.03
busy = 0.08
congestion = 0.02
rejected = 0.05
unallocated = 0.05
no_answer_after = 20
ring = { kind = "lognormal", mean = 6.0, sd = 3.0, min = 1.0, max = 19.0 }
talk = { kind = "lognormal", mean = 60.0, sd = 20.0, min = 15.0, max = 300.0 }

[respondent]
hesitation = { min = 0.5, max = 3.0 }
no_input = 0.05
invalid = 0.03
hangup = 0.02
keys = { "1" = 0.45, "2" = 0.30, "3" = 0.15, "4" = 0.10 }

[agents]
answer_after = 0.3
talk = { kind = "lognormal", mean = 45.0, sd = 15.0, min = 10.0, max = 240.0 }
"""


def _free_port(preferred: int | None = None) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred or 0))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_campaign(demo: Any) -> None:
    """The demo step (see the module docstring); C{demo} is L{dialer.scripts.demo.Demo}."""
    from twisted.internet import reactor as _reactor
    from twisted.internet.endpoints import TCP4ClientEndpoint

    from dialer.campaign.controller import ControllerSettings
    from dialer.daemonconf import AgentsConfig, AMIConfig, DaemonConfig
    from dialer.events import CallEnded, CallRouted
    from dialer.scripts.campaign import print_status, status_data
    from dialer.service import DialerService
    from dialer.sim.profile import parse_profile
    from dialer.sim.server import SimulatedPBX, listen_tcp
    from dialer.store import campaigns as store
    from dialer.store.pool import DBThreadPool

    reactor: Any = _reactor
    seconds = float(os.environ.get("DIALER_DEMO_SECONDS", "150"))
    demo.step("8. campaign on the simulated PBX / 在模拟交换机上执行调查项目")
    name = "hechi-2026-phone"
    engine = demo.db()
    with engine.begin() as conn:
        cid = store.thd_create_campaign(
            conn,
            store.CampaignSpec(
                name=name,
                draw=demo.state["draw"],
                questionnaire="hechi_annual",
                mode="predictive",
                dial_template="Local/{number}@callee",
                caller_id='"Hechi survey" <07780000000>',
                retry_rules={"delays": {"busy": "15m", "no_answer": "3h"}},
                max_attempts=4,
                abandon_target=0.03,
                # start bolder than the default so a few minutes show the IVR overflow;
                # the pacer's controller then trims its risk to the 3 % budget
                settings={"pacing": {"theta": 0.15}},
            ),
            time.time(),
        )
        store.thd_set_status(conn, cid, "running", time.time())

    import tomllib

    profile_path = demo.root / "sim-profile.toml"
    profile_path.write_text(PROFILE, encoding="utf-8")
    profile = parse_profile(tomllib.loads(PROFILE))
    ami_port, agi_port = _free_port(), _free_port()
    http_port = _free_port(8080)
    sim = SimulatedPBX(
        clock=reactor,
        rng=random.Random(2026),
        profile=profile,
        recordings=demo.root / "recordings",
        agi_endpoint=lambda host, port: TCP4ClientEndpoint(reactor, "127.0.0.1", agi_port),
    )
    (demo.root / "recordings").mkdir(exist_ok=True)
    listen_tcp(sim, reactor, ami_port, "127.0.0.1")
    config = DaemonConfig(
        path="(demo)",
        database_url=demo.db_url,
        ami=(AMIConfig("sim", f"tcp:127.0.0.1:{ami_port}", "dialer", "dialer", lines=30),),
        agi_endpoint=f"tcp:{agi_port}:interface=127.0.0.1",
        agi_scripts=str(ROOT / "ivr_scripts"),
        http_endpoint=f"tcp:{http_port}:interface=127.0.0.1",
        dialer=ControllerSettings(always_open=True),
        agents=AgentsConfig(
            names=tuple(f"agent{i}" for i in range(1, AGENTS + 1)),
            simulated=True,
            wrap_mean=8.0,
            seed=2026,
        ),
        campaigns=(name,),
        poll_campaigns=1.0,
    )
    pool = DBThreadPool(engine, reactor)
    service = DialerService(config, reactor, pool)
    ended: Counter[str] = Counter()
    routed: Counter[str] = Counter()
    service.bus.subscribe(CallEnded, lambda e: ended.update([e.outcome]))
    service.bus.subscribe(CallRouted, lambda e: routed.update(["ivr" if e.abandoned else "agent"]))
    console = demo.console
    console.print(
        f"simulated PBX 模拟交换机: AMI 127.0.0.1:{ami_port}; {AGENTS} simulated agents 模拟坐席; "
        f"predictive 预测式外呼 for {seconds:.0f} s"
    )
    console.print(f"metrics 指标: http://127.0.0.1:{http_port}/metrics  (health: /healthz)")
    started = time.monotonic()

    def progress() -> None:
        ctl = service.supervisor.controllers.get(cid)
        live = ctl.live_count() if ctl else 0
        ledger = ctl.ledger.figures(time.time()).campaign if ctl else None
        ab = f"{ledger.abandoned}/{ledger.live_answered}" if ledger else "0/0"
        console.print(
            f"  t={time.monotonic() - started:5.0f}s live 通话中 {live:3d} | ended 结束 "
            f"{sum(ended.values()):4d} | complete 完成 {ended['complete']:3d} | to agent 转坐席 "
            f"{routed['agent']:3d}, to IVR 转语音 {routed['ivr']:3d} | abandoned/live-answered "
            f"放弃/人工接听 {ab}"
        )

    def pause() -> None:
        # On the DB pool, not the reactor thread: the controller is dialing meanwhile.
        d = pool.do_with_transaction(store.thd_set_status, cid, "paused", time.time())
        d.addCallback(
            lambda _: console.print(
                "dialing paused; letting calls in progress end / 暂停拨号，等待通话结束"
            )
        )

    def finish() -> None:
        d = service.stopService()
        d.addBoth(lambda _: reactor.stop())

    def drain(deadline: float) -> None:
        ctl = service.supervisor.controllers.get(cid)
        if (ctl is None or ctl.live_count() == 0) or time.monotonic() >= deadline:
            finish()
        else:
            reactor.callLater(1.0, drain, deadline)

    reactor.callWhenRunning(service.startService)
    from twisted.internet.task import LoopingCall

    loop = LoopingCall(progress)
    loop.clock = reactor
    reactor.callWhenRunning(loop.start, 15.0, False)
    reactor.callLater(seconds, pause)
    reactor.callLater(seconds + 1.0, lambda: drain(time.monotonic() + 90.0))
    reactor.run()
    with engine.connect() as conn:
        data = status_data(conn, cid, time.time())
    data["units"] = [u for u in data["units"] if u["dialed"]][:15]
    print_status(data)
    console.print(
        f"IVR overflow 转语音问卷: {routed['ivr']} answered calls found no free agent within 2 s "
        "and took the IVR survey instead of silence / 个接通电话 2 秒内无空闲坐席，转入语音问卷. "
        "The 3 % cap is held over a whole campaign (hundreds of live answers); a few minutes "
        "with 5 agents is a small sample / 3% 上限针对整个项目，演示样本很小."
    )
    console.print(
        f"(units shown: the first 15 dialed / 仅显示前 15 个已拨单位; full: "
        f"dialer --db {demo.db_url} campaign status {name})"
    )
