"""
The campaign stage of C{dialer demo}: two campaigns, end to end, in real time.

One reactor runs the simulated PBX (AMI on a loopback port, simulated interviewers,
callees from a demo profile) and the real daemon (AMI client, FastAGI with the real IVR
runner, campaign controllers, /metrics). The sample drawn earlier is split at random
within each unit into two halves (see L{split_members} for why):

  - C{hechi-2026-phone}: a predictive campaign with L{AGENTS} simulated interviewers and
    the pacer's defaults. Interviews are short in the demo profile so that within a few
    minutes the ledger holds well over C{1 / target} live answers and the pacer leaves
    its cold start; an answered call with no free agent within 2 s goes to the IVR
    survey (the overflow), and the whole-campaign abandonment (abandoned / live-answered)
    is printed beside its 3 % target.
  - C{hechi-2026-ivr}: an agentless C{ivr-only} campaign over the other half, the keypad
    survey of C{ivr_scripts/hechi_annual.yaml} on up to L{IVR_LINES} lines, so the IVR
    shows whatever the phone campaign's overflow is.

Both share the daemon, the simulated PBX and the FastAGI server. They dial for
C{DIALER_DEMO_SECONDS} (default L{DEFAULT_SECONDS}; the IVR campaign stops up to
L{IVR_LEAD} s sooner, as its interviews last minutes); then dialing pauses, calls in
progress get up to C{DIALER_DEMO_DRAIN} (default L{DRAIN_SECONDS}) seconds to end (the
rest are hung up, as an operator closing the session would), and per-unit progress,
dispositions, completes, the IVR overflow, abandonment and the answers stored are
printed. Every line this stage prints fits an 80-column terminal.

It starts the global reactor, so it must be the last demo step that needs one.
"""

# test-case-name: tests.campaign.test_demo

from __future__ import annotations

import math
import os
import random
import socket
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from rich.cells import cell_len, set_cell_size

ROOT = Path(__file__).resolve().parents[2]
AGENTS = 12
IVR_LINES = 36  # the ivr-only campaign's line cap: without agents it reaches more
TRUNK_LINES = 3 * AGENTS + IVR_LINES  # predictive asks up to 3 lines per agent
DEFAULT_SECONDS = 180.0
DRAIN_SECONDS = 60.0
WRAP_UP_SECONDS = 15.0  # after the hang-up at the end: for the desks' wrap-up
IVR_LEAD = 120.0  # a keypad interview takes 2-3 minutes
PROGRESS_EVERY = 15.0
WIDTH = 80  # every line this stage prints fits an 80-column terminal
PHONE, IVR = "hechi-2026-phone", "hechi-2026-ivr"

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
# how long a person stays on the line: the interviewer usually ends the call first; in
# the keypad survey, long enough for most to finish it
talk = { kind = "lognormal", mean = 240.0, sd = 60.0, min = 60.0, max = 600.0 }

[respondent]
hesitation = { min = 0.5, max = 3.0 }
no_input = 0.05
invalid = 0.03
hangup = 0.02
keys = { "1" = 0.45, "2" = 0.30, "3" = 0.15, "4" = 0.10 }

[agents]
answer_after = 0.3
# interviews shortened to ~12 s so a dozen interviewers reach hundreds of live answers
talk = { kind = "lognormal", mean = 12.0, sd = 4.0, min = 6.0, max = 40.0 }
"""


# ---------------------------------------------------------------------------
# The sample: one stratified draw, two modes
# ---------------------------------------------------------------------------


def split_members(
    members: Mapping[int, Sequence[int]],
) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """
    Split a draw's members (unit id -> contact ids in draw order) into a phone half
    and an IVR half: odd draw positions to the phone, even ones to the IVR.

    Why this, and not a split by unit or a second draw: the units are ranked against
    each other, and the answers people give an interviewer and a keypad differ (mode
    effects). Giving some units to the phone and others to the IVR would mix those
    differences into the ranking; a random half of every unit in each mode keeps the
    comparison fair, and the halves together keep the draw's per-unit allocation (the
    precision it was sized for) without sampling more numbers than planned. The draw
    order within a unit is already a seeded random permutation, so alternating positions
    is a random assignment, reproducible from the draw.
    """
    phone: dict[int, list[int]] = {}
    ivr: dict[int, list[int]] = {}
    for unit, ids in members.items():
        phone[unit] = list(ids[0::2])
        ivr[unit] = list(ids[1::2])
    return phone, ivr


def thd_split_draw(conn: sa.Connection, parent: str, now: float) -> tuple[int, int]:
    """Store the two halves of draw C{parent} as the draws L{PHONE} and L{IVR}."""
    from dialer.store.frames import thd_draw_rows, thd_get_draw, thd_list_units, thd_save_draw

    draw = thd_get_draw(conn, parent)
    assert draw is not None, "the sample step draws it"
    ids = {u.code: u.id for u in thd_list_units(conn)}
    members: dict[int, list[int]] = {}
    for row in thd_draw_rows(conn, parent):  # in unit and draw order
        members.setdefault(ids[row["code"]], []).append(row["id"])
    sizes = []
    for name, half, part in zip(
        (PHONE, IVR), split_members(members), ("phone", "ivr"), strict=True
    ):
        thd_save_draw(
            conn,
            name=name,
            allocation=draw.allocation,
            seed=draw.seed,
            parameters={
                "split_of": parent,
                "part": part,
                "rule": "odd draw positions: phone; even: ivr (random within each unit)",
            },
            members=half,
            now=now,
        )
        sizes.append(sum(len(v) for v in half.values()))
    return sizes[0], sizes[1]


# ---------------------------------------------------------------------------
# Figures read back from the store
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """What the IVR wrote for a campaign: answers, the attempts they came from, and how
    the IVR overflow calls (abandoned to the IVR) ended."""

    answers: int = 0
    respondents: int = 0
    overflow: Mapping[str, int] | None = None


def thd_stored(conn: sa.Connection, campaign_id: int) -> Stored:
    from dialer.store.schema import answers, attempts

    n, who = conn.execute(
        sa.select(sa.func.count(), sa.func.count(sa.distinct(answers.c.attempt_id))).where(
            answers.c.campaign_id == campaign_id
        )
    ).one()
    rows = conn.execute(
        sa.select(attempts.c.outcome, sa.func.count())
        .where(attempts.c.campaign_id == campaign_id, attempts.c.abandoned.is_(True))
        .group_by(attempts.c.outcome)
    )
    overflow = {str(outcome or "live"): int(count) for outcome, count in rows}
    return Stored(int(n), int(who), overflow)


def thd_answer_counts(conn: sa.Connection, campaign_ids: Iterable[int]) -> dict[int, int]:
    from dialer.store.schema import answers

    rows = conn.execute(
        sa.select(answers.c.campaign_id, sa.func.count())
        .where(answers.c.campaign_id.in_(list(campaign_ids)))
        .group_by(answers.c.campaign_id)
    )
    return {int(cid): int(n) for cid, n in rows}


# ---------------------------------------------------------------------------
# Text that fits 80 columns (Chinese characters take two cells)
# ---------------------------------------------------------------------------


def fit(text: str, width: int, *, right: bool = False) -> str:
    """C{text} padded (or cut, with an ellipsis) to exactly C{width} terminal cells."""
    if cell_len(text) > width:
        text = set_cell_size(text, width - 1) + "…"
    pad = " " * (width - cell_len(text))
    return pad + text if right else text + pad


def span(text: str, width: int) -> str:
    """C{text} centred in a rule of C{width} cells: C{── text ──}."""
    free = max(0, width - cell_len(text) - 2)
    left = free // 2
    return "─" * left + f" {text} " + "─" * (free - left)


def columns(cells: Sequence[str], widths: Sequence[int], lefts: int = 1) -> str:
    """One row: the first C{lefts} cells left-aligned, the rest right-aligned."""
    parts = [
        fit(c, w, right=i >= lefts) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    ]
    return " ".join(parts).rstrip()


@dataclass(frozen=True)
class Tick:
    """One campaign's figures at a progress line."""

    live: int
    ended: int
    completes: int
    to_agent: int | None  # None: no agents (ivr-only)
    to_ivr: int
    abandoned: int | None = None
    live_answered: int | None = None
    answers: int = 0


PROGRESS_WIDTHS = (5, 10, 6, 6, 6, 6, 6, 13, 7)
PROGRESS_HEADER = (
    ("t (s)", "campaign", "live", "ended", "compl.", "to agt", "to IVR", "aband./live", "answers"),
    ("时间", "项目", "通话中", "已结束", "完成", "转坐席", "转语音", "放弃/人工接听", "答案"),
)


def progress_header() -> list[str]:
    return [columns(row, PROGRESS_WIDTHS, lefts=2) for row in PROGRESS_HEADER]


def progress_lines(elapsed: float, phone: Tick, ivr: Tick) -> list[str]:
    """The two progress lines (one per campaign) printed every L{PROGRESS_EVERY} s."""
    out = []
    for label, t in (("phone 电话", phone), ("IVR 语音", ivr)):
        aband = "-"
        if t.abandoned is not None and t.live_answered is not None:
            aband = f"{t.abandoned}/{t.live_answered}"
        out.append(
            columns(
                (
                    f"{elapsed:.0f}" if label.startswith("phone") else "",
                    label,
                    str(t.live),
                    str(t.ended),
                    str(t.completes),
                    "-" if t.to_agent is None else str(t.to_agent),
                    str(t.to_ivr),
                    aband,
                    str(t.answers),
                ),
                PROGRESS_WIDTHS,
                lefts=2,
            )
        )
    return out


def _units_block(
    phone: Sequence[Mapping[str, Any]], ivr: Sequence[Mapping[str, Any]], counties: set[str]
) -> list[str]:
    """Per-unit progress of both campaigns: each county, then the departments summed."""
    widths = (26, 6, 6, 6, 2, 6, 6, 6)
    by_code: dict[str, list[Mapping[str, Any] | None]] = {}
    for i, rows in enumerate((phone, ivr)):
        for u in rows:
            by_code.setdefault(u["code"], [None, None])[i] = u
    names = {u["code"]: u["name"] for u in (*phone, *ivr)}

    def figures(rows: Iterable[Mapping[str, Any] | None]) -> list[str]:
        got = [r for r in rows if r is not None]
        return [str(sum(int(r[k]) for r in got)) for k in ("dialed", "finished", "completes")]

    def row(label: str, codes: Sequence[str]) -> str:
        pairs = [by_code[c] for c in codes]
        cells = [label, *figures(p[0] for p in pairs), "", *figures(p[1] for p in pairs)]
        return columns(cells, widths)

    group = 6 * 3 + 2  # three figures and the spaces between them
    out = [
        " " * (widths[0] + 1)
        + span("phone 电话", group)
        + " " * (widths[4] + 2)
        + span("IVR 语音", group),
        columns(
            ("unit 单位", "dialed", "closed", "compl.", "", "dialed", "closed", "compl."), widths
        ),
        columns(("", "已拨", "结案", "完成", "", "已拨", "结案", "完成"), widths),
    ]
    out.append("─" * cell_len(out[1]))
    codes = sorted(by_code)
    shown = [c for c in codes if c in counties]
    rest = [c for c in codes if c not in counties]
    out += [row(f"{c} {names[c]}", [c]) for c in shown]
    if rest:
        out.append(row(f"{len(rest)} departments 市直部门", rest))
    out.append("─" * cell_len(out[1]))
    out.append(row(f"all {len(codes)} units 合计", codes))
    return out


def _dispositions_block(
    phone: Sequence[Mapping[str, Any]], ivr: Sequence[Mapping[str, Any]]
) -> list[str]:
    from dialer.campaign.dispositions import OUTCOMES

    widths = (36, 6, 10, 10)
    counts: dict[tuple[str, str], list[int]] = {}
    for i, rows in enumerate((phone, ivr)):
        for d in rows:
            counts.setdefault((d["outcome"], d["aapor"]), [0, 0])[i] += int(d["count"])
    out = [
        columns(("outcome", "AAPOR", "phone", "IVR"), widths),
        columns(("结果", "", "电话", "语音"), widths),
    ]
    out.append("─" * cell_len(out[0]))
    order = sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    for (outcome, aapor), (a, b) in order:
        o = OUTCOMES.get(outcome)
        label = f"{outcome} {o.zh}" if o else outcome
        out.append(columns((label, aapor, str(a), str(b)), widths, lefts=2))
    out.append("─" * cell_len(out[0]))
    total = [sum(v[i] for v in counts.values()) for i in (0, 1)]
    out.append(columns(("attempts ended 已结案拨打", "", str(total[0]), str(total[1])), widths))
    return out


def summary_lines(
    phone: Mapping[str, Any],
    ivr: Mapping[str, Any],
    phone_stored: Stored,
    ivr_stored: Stored,
    counties: set[str],
) -> list[str]:
    """The closing report: C{phone}/C{ivr} are L{dialer.scripts.campaign.status_data}."""

    def completes(data: Mapping[str, Any]) -> int:
        return sum(int(d["count"]) for d in data["dispositions"] if d["outcome"] == "complete")

    ab = phone["abandonment"]
    whole = ab["campaign"]
    target = float(ab["target"])
    rate = whole["rate"]
    verdict = "within 未超" if rate <= target else "OVER 超过"
    overflow = phone_stored.overflow or {}
    n_over = sum(overflow.values())
    over_detail = ", ".join(f"{k} {v}" for k, v in sorted(overflow.items(), key=lambda kv: -kv[1]))
    lines = [
        "dispositions (AAPOR) / 处置结果",
        *_dispositions_block(phone["dispositions"], ivr["dispositions"]),
        "",
    ]
    lines += [
        "progress per unit / 各单位进度",
        *_units_block(phone["units"], ivr["units"], counties),
    ]
    lines += [
        "",
        f"phone 电话 {phone['campaign']} (predictive 预测式, {AGENTS} agents 坐席):",
        f"  attempts 拨打 {phone['attempts']}, completes 完成 {completes(phone)}",
        f"  IVR overflow 转语音 {n_over}: answered, no agent free within 2 s, so the",
        "  keypad survey instead of silence / 2 秒内无空闲坐席，转入语音问卷",
    ]
    if over_detail:
        lines.append(f"  overflow calls ended 结果: {over_detail}")
    lines += [
        f"  abandonment 放弃率 = abandoned 放弃 {whole['abandoned']} / live-answered 人工接听 "
        f"{whole['live_answered']}",
        f"  = {rate:.1%}, target 上限 {target:.0%}: {verdict} (whole campaign 全程)",
        f"  (the pacer starts cautious until {math.ceil(1 / target)} live answers, then steers",
        f"  to the budget / 前 {math.ceil(1 / target)} 个人工接听谨慎拨号，之后按上限调节)",
        "",
        f"IVR 语音 {ivr['campaign']} (ivr-only 纯语音, up to {IVR_LINES} lines 线路):",
        f"  attempts 拨打 {ivr['attempts']}, completes 完成 {completes(ivr)}",
        f"  answers stored 已存答案 {ivr_stored.answers} from {ivr_stored.respondents} "
        "respondents 名受访者",
    ]
    still = sum(int(u["live"]) for u in ivr["units"])
    if still:
        lines += [
            f"  {still} still on the line when the demo stopped; their answers so far",
            "  are kept / 演示结束时仍在通话，已答部分已保存",
        ]
    return lines


# ---------------------------------------------------------------------------
# The stage
# ---------------------------------------------------------------------------


def _free_port(preferred: int | None = None) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred or 0))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_campaign(demo: Any) -> None:
    """The demo step (see the module docstring); C{demo} is L{dialer.scripts.demo.Demo}."""
    import tomllib

    from twisted.internet import reactor as _reactor
    from twisted.internet.endpoints import TCP4ClientEndpoint
    from twisted.internet.task import LoopingCall
    from twisted.logger import globalLogBeginner, textFileLogObserver

    from dialer.campaign.controller import ControllerSettings
    from dialer.daemonconf import AgentsConfig, AMIConfig, DaemonConfig
    from dialer.events import CallAnswered, CallEnded, CallRouted
    from dialer.scripts.campaign import status_data
    from dialer.service import DialerService
    from dialer.sim.profile import parse_profile
    from dialer.sim.server import SimulatedPBX, listen_tcp
    from dialer.store import campaigns as store
    from dialer.store.pool import DBThreadPool

    reactor: Any = _reactor
    seconds = float(os.environ.get("DIALER_DEMO_SECONDS", DEFAULT_SECONDS))
    drain_seconds = float(os.environ.get("DIALER_DEMO_DRAIN", DRAIN_SECONDS))
    # A keypad interview takes 2-3 minutes: the IVR campaign stops dialing IVR_LEAD
    # seconds before the phone one (at least a third of the time), so that its
    # interviews end about when the phone calls do and the demo need not wait for them.
    ivr_seconds = max(seconds / 3, seconds - IVR_LEAD)
    seed = int(getattr(demo, "seed", 2026))
    console = demo.console

    def say(*lines: str) -> None:
        for line in lines:
            console.print(line, markup=False, highlight=False, soft_wrap=True)

    demo.step("8. two campaigns on the simulated PBX / 模拟交换机上的两个调查项目")
    engine = demo.db()
    now = time.time()
    common: dict[str, Any] = {
        "questionnaire": "hechi_annual",
        "dial_template": "Local/{number}@callee",
        "caller_id": '"Hechi survey" <07780000000>',
        "retry_rules": {"delays": {"busy": "15m", "no_answer": "3h"}},
        "max_attempts": 4,
        "abandon_target": 0.03,
    }
    with engine.begin() as conn:
        n_phone, n_ivr = thd_split_draw(conn, demo.state["draw"], now)
        ids = {}
        for name, mode, settings in (
            (PHONE, "predictive", {}),  # the pacer's defaults: nothing bolder
            (IVR, "ivr-only", {"pacing": {"line_cap": IVR_LINES}}),
        ):
            spec = store.CampaignSpec(name=name, draw=name, mode=mode, settings=settings, **common)
            ids[name] = store.thd_create_campaign(conn, spec, now)
            store.thd_set_status(conn, ids[name], "running", now)
    say(
        f"sample {demo.state['draw']!r} split at random within each unit 每单位随机分半:",
        f"  phone 电话 {n_phone} numbers 个号码 -> {PHONE} (predictive 预测式)",
        f"  IVR 语音   {n_ivr} numbers 个号码 -> {IVR} (ivr-only 纯语音)",
    )

    profile_path = demo.root / "sim-profile.toml"
    profile_path.write_text(PROFILE, encoding="utf-8")
    profile = parse_profile(tomllib.loads(PROFILE))
    ami_port, agi_port = _free_port(), _free_port()
    http_port = _free_port(8080)
    (demo.root / "recordings").mkdir(exist_ok=True)
    sim = SimulatedPBX(
        clock=reactor,
        rng=random.Random(seed),
        profile=profile,
        recordings=demo.root / "recordings",
        agi_endpoint=lambda host, port: TCP4ClientEndpoint(reactor, "127.0.0.1", agi_port),
    )
    listen_tcp(sim, reactor, ami_port, "127.0.0.1")
    config = DaemonConfig(
        path="(demo)",
        database_url=demo.db_url,
        ami=(AMIConfig("sim", f"tcp:127.0.0.1:{ami_port}", "dialer", "dialer", lines=TRUNK_LINES),),
        agi_endpoint=f"tcp:{agi_port}:interface=127.0.0.1",
        agi_scripts=str(ROOT / "ivr_scripts"),
        http_endpoint=f"tcp:{http_port}:interface=127.0.0.1",
        # the stage's own drain has waited already: the daemon's stop need not wait again
        dialer=ControllerSettings(always_open=True, drain_timeout=2.0),
        agents=AgentsConfig(
            names=tuple(f"agent{i}" for i in range(1, AGENTS + 1)),
            simulated=True,
            wrap_mean=4.0,
            seed=seed,
        ),
        campaigns=(PHONE, IVR),
        poll_campaigns=1.0,
    )
    pool = DBThreadPool(engine, reactor)
    service = DialerService(config, reactor, pool)
    cid = {v: k for k, v in ids.items()}  # campaign id -> name
    ended: dict[str, Counter[str]] = {n: Counter() for n in ids}
    routed: dict[str, Counter[str]] = {n: Counter() for n in ids}
    answered: Counter[str] = Counter()
    bus = service.bus
    bus.subscribe(CallEnded, lambda e: ended[cid[e.campaign_id]].update([e.outcome]))
    bus.subscribe(
        CallRouted,
        lambda e: routed[cid[e.campaign_id]].update(["ivr" if e.abandoned else "agent"]),
    )
    bus.subscribe(CallAnswered, lambda e: answered.update([cid[e.campaign_id]]))
    say(
        f"simulated PBX 模拟交换机: AMI 127.0.0.1:{ami_port}, {TRUNK_LINES} lines 线路",
        f"{AGENTS} simulated agents 模拟坐席; dialing 拨号: phone 电话 {seconds:.0f} s, "
        f"IVR 语音 {ivr_seconds:.0f} s,",
        f"then up to {drain_seconds:.0f} s for calls to end / 然后等待通话结束",
        f"metrics 指标: http://127.0.0.1:{http_port}/metrics  (health 健康: /healthz)",
        f"daemon log 日志: {demo.root / 'daemon.log'}",
        "",
        *progress_header(),
    )
    started = time.monotonic()

    def tick(name: str, answers: Mapping[int, int]) -> Tick:
        ctl = service.supervisor.controllers.get(ids[name])
        live = ctl.live_count() if ctl else 0
        e = ended[name]
        if name == IVR:
            return Tick(
                live,
                sum(e.values()),
                e["complete"],
                None,
                answered[name],
                answers=answers.get(ids[name], 0),
            )
        ledger = ctl.ledger.figures(time.time()).campaign if ctl else None
        return Tick(
            live,
            sum(e.values()),
            e["complete"],
            routed[name]["agent"],
            routed[name]["ivr"],
            ledger.abandoned if ledger else 0,
            ledger.live_answered if ledger else 0,
            answers.get(ids[name], 0),
        )

    def progress() -> None:
        d = pool.do(thd_answer_counts, list(ids.values()))

        def show(answers: dict[int, int]) -> None:
            say(
                *progress_lines(
                    time.monotonic() - started, tick(PHONE, answers), tick(IVR, answers)
                )
            )

        d.addCallback(show)
        d.addErrback(lambda f: say(f"(progress failed: {f.getErrorMessage()})"))

    def pause(name: str, text: str) -> None:
        # On the DB pool, not the reactor thread: the controllers are dialing meanwhile.
        d = pool.do_with_transaction(store.thd_set_status, ids[name], "paused", time.time())
        d.addCallback(lambda _: say(text))

    def live_total() -> int:
        ctls = [service.supervisor.controllers.get(k) for k in ids.values()]
        return sum(c.live_count() for c in ctls if c is not None)

    def finish() -> None:
        loop.stop()
        d = service.stopService()
        d.addBoth(lambda _: reactor.stop())

    def hang_up_rest() -> int:
        """The demo is over: hang up the calls still up, as an operator closing the
        session would, so their interviews end now as partial or break-off (answers so far
        kept) with their dispositions written, instead of the daemon's stop waiting up to
        30 s for IVR sessions and leaving the attempts open."""
        count = 0
        for key in ids.values():
            ctl = service.supervisor.controllers.get(key)
            if ctl is None:
                continue
            for call in list(ctl.calls.values()):
                if call.ended or not call.channel:
                    continue
                line = next((x for x in ctl.lines if x.name == call.server), None)
                if line is not None and line.ami.ready:
                    line.ami.hangup(call.channel, 16).addErrback(lambda _: None)
                    count += 1
        return count

    def drain(deadline: float, hung_up: bool = False) -> None:
        if live_total() == 0 or (hung_up and time.monotonic() >= deadline):
            finish()
        elif time.monotonic() >= deadline:
            n = hang_up_rest()
            say(f"demo over: hung up {n} calls still up / 演示结束，挂断仍在进行的 {n} 个通话")
            # an interviewer's call ends after the wrap-up (a few seconds at the desk)
            reactor.callLater(1.0, drain, time.monotonic() + WRAP_UP_SECONDS, True)
        else:
            reactor.callLater(1.0, drain, deadline, hung_up)

    # The daemon's log goes to a file, so the terminal shows only the demo's lines; it
    # stays open (line-buffered) for whatever logs until the process ends.
    log_file = (demo.root / "daemon.log").open("a", encoding="utf-8", buffering=1)
    globalLogBeginner.beginLoggingTo(
        [cast(Any, textFileLogObserver(log_file))], redirectStandardIO=False
    )
    reactor.callWhenRunning(service.startService)
    loop = LoopingCall(progress)
    loop.clock = reactor
    reactor.callWhenRunning(loop.start, PROGRESS_EVERY, False)
    reactor.callLater(
        ivr_seconds,
        pause,
        IVR,
        "IVR dialing paused (its interviews run on) / 语音项目暂停拨号，进行中的访问继续",
    )
    reactor.callLater(
        seconds,
        pause,
        PHONE,
        "phone dialing paused; calls may end / 电话项目暂停拨号，等待通话结束",
    )
    reactor.callLater(seconds + 2.0, lambda: drain(time.monotonic() + drain_seconds))
    reactor.run()

    with engine.connect() as conn:
        data = {n: status_data(conn, k, time.time()) for n, k in ids.items()}
        stored = {n: thd_stored(conn, k) for n, k in ids.items()}
    counties = {
        s.code for s in demo.state.get("units", ()) if getattr(s, "kind", None) == "county"
    } or {u["code"] for u in data[PHONE]["units"] if u["code"].isdigit()}
    demo.step("9. results / 结果")
    say(*summary_lines(data[PHONE], data[IVR], stored[PHONE], stored[IVR], counties))
    for name in (PHONE, IVR):
        if not data[name]["attempts"]:
            say(f"{name} made no call: see the daemon log / 未拨出电话，请查看日志")
    say(
        "",
        "every unit 全部单位:",
        f"  dialer --db DB campaign status {PHONE}  (or {IVR})",
        f"  DB = {demo.db_url}",
    )
