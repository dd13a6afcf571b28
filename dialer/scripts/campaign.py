"""`dialer campaign create|start|pause|resume|stop|status|list`: survey campaigns.

The daemon picks up status changes within a couple of seconds (it polls the store):
`start`/`resume` make it dial, `pause` stops new dials (calls in progress finish),
`stop` ends the campaign for good.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from typing import Any

from dialer.errors import InputError

_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("campaign", help="survey campaigns / 调查项目")
    sub = parser.add_subparsers(dest="campaign_command", metavar="ACTION", required=True)

    create = sub.add_parser(
        "create",
        help="create a campaign over a sample draw / 基于样本创建调查项目",
        description="Create a campaign (status draft) over a draw. Examples: "
        "--window 'mon-fri 18:00-21:00' --window 'sat,sun 10:00-20:00' --retry busy=15m "
        "--retry no_answer=3h --unit-quota 451200=400 / 创建调查项目（草稿状态）。",
    )
    create.add_argument("name", help="campaign name / 项目名称")
    create.add_argument("--draw", required=True, help="sample draw name / 样本名称")
    create.add_argument(
        "--questionnaire", required=True, help="ivr_scripts/ file name / 问卷文件名"
    )
    create.add_argument(
        "--scripts",
        default=None,
        metavar="DIR",
        help="where questionnaires live; the questionnaire must load from there (default: "
        "--config's [agi] scripts, else ivr_scripts) / 问卷目录，问卷须能从此加载",
    )
    create.add_argument(
        "--no-questionnaire-check",
        action="store_true",
        help="create the campaign without checking the questionnaire (scripts not deployed "
        "here yet; the daemon checks it before dialing) / 不检查问卷（守护进程启动项目前会检查）",
    )
    create.add_argument(
        "--mode",
        default="progressive",
        choices=["progressive", "predictive", "ivr-only", "preview"],
        help="dialing mode / 拨号模式",
    )
    create.add_argument(
        "--dial-template",
        default="PJSIP/{number}@trunk",
        help="dial string, {number} is E.164 (simulator: Local/{number}@callee) / 拨号模板",
    )
    create.add_argument("--caller-id", default=None, help="caller ID / 主叫号码")
    create.add_argument("--timezone", default="Asia/Shanghai", help="respondents' time zone / 时区")
    create.add_argument(
        "--window",
        action="append",
        default=[],
        metavar="DAYS HH:MM-HH:MM",
        help="calling window, repeatable (default: weekday daytime/evenings, weekend day) / 拨打时段",
    )
    create.add_argument(
        "--retry",
        action="append",
        default=[],
        metavar="CLASS=DELAY",
        help="retry delay per class (no_answer, busy, machine, refusal, ...), e.g. busy=15m / 重拨间隔",
    )
    create.add_argument(
        "--max-attempts", type=int, default=6, help="attempts per contact / 最多拨打次数"
    )
    create.add_argument(
        "--quota",
        type=int,
        default=None,
        help="completes per unit, >= 0 (0: a unit is not dialed unless --unit-quota gives it "
        "one) / 每单位完成配额（0：该单位不拨打）",
    )
    create.add_argument(
        "--unit-quota",
        action="append",
        default=[],
        metavar="CODE=N",
        help="quota for one unit (overrides --quota) / 单位配额",
    )
    create.add_argument(
        "--abandon-target", type=float, default=0.03, help="abandonment cap (0.03) / 放弃率上限"
    )
    create.add_argument("--priority", type=int, default=0, help="higher dials first / 优先级")
    create.add_argument(
        "--pacing",
        action="append",
        default=[],
        metavar="OPTION=NUMBER",
        help="pacing policy option: predictive takes its tuning (e.g. theta=0.05, see "
        "docs/pacing.md), ivr-only takes line_cap; progressive and preview take none "
        "/ 外呼节奏参数",
    )
    create.set_defaults(func=create_command)

    for action, status, text in (
        ("start", "running", "start dialing / 开始拨号"),
        ("pause", "paused", "pause dialing (calls in progress finish) / 暂停拨号"),
        ("resume", "running", "resume dialing / 恢复拨号"),
        ("stop", "stopped", "stop the campaign for good / 结束项目"),
    ):
        p = sub.add_parser(action, help=text)
        p.add_argument("name", help="campaign name / 项目名称")
        p.set_defaults(func=status_change, status=status)

    status = sub.add_parser("status", help="progress, dispositions, abandonment / 进度与处置结果")
    status.add_argument("name", help="campaign name / 项目名称")
    status.add_argument("--json", action="store_true", help="print JSON / 输出 JSON")
    status.set_defaults(func=status_command)

    sub.add_parser("list", help="list campaigns / 列出项目").set_defaults(func=list_command)


def parse_window(text: str) -> dict[str, Any]:
    """C{"mon-fri 18:00-21:00"}, C{"0-4 18:00-21:00"}, C{"sat,sun 10:00-20:00"}, C{"all 9:00-12:00"}."""
    m = re.fullmatch(r"\s*(\S+)\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*", text)
    if not m:
        raise InputError(f"--window {text!r}: expected 'DAYS HH:MM-HH:MM' / 时段格式错误")
    days_text, start, end = m.groups()
    days: set[int] = set()
    for part in days_text.lower().split(","):
        if part == "all":
            days.update(range(7))
            continue
        lo, _, hi = part.partition("-")
        a = _day(lo, text)
        b = _day(hi, text) if hi else a
        if b < a:
            raise InputError(f"--window {text!r}: day range {part} runs backwards / 星期范围错误")
        days.update(range(a, b + 1))
    return {"days": sorted(days), "start": start.zfill(5), "end": end.zfill(5)}


def _day(token: str, text: str) -> int:
    if token.isdigit() and 0 <= int(token) <= 6:
        return int(token)
    if token[:3] in _DAYS:
        return _DAYS[token[:3]]
    raise InputError(f"--window {text!r}: unknown day {token!r} (mon..sun or 0..6) / 未知星期")


def _pairs(items: list[str], option: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError(f"{option} {item!r}: expected KEY=VALUE / 格式应为 KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def create_command(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from dialer.campaign.dialstring import check_caller_id, check_dial_template, control_characters
    from dialer.campaign.retries import DEFAULT_DELAYS, parse_duration
    from dialer.campaign.schedule import DEFAULT_WINDOWS, make_schedule
    from dialer.errors import ConfigError
    from dialer.store import campaigns as store
    from dialer.store.connect import engine_from_args

    if not args.name.strip() or args.name != args.name.strip() or control_characters(args.name):
        raise InputError(
            f"campaign name {args.name!r}: expected a non-empty name without leading or "
            "trailing spaces or control characters / 项目名称不能为空，首尾不能有空格"
        )
    check_dial_template(args.dial_template, "--dial-template")
    if args.caller_id is not None:
        check_caller_id(args.caller_id, "--caller-id")
    try:
        ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"--timezone {args.timezone!r}: unknown time zone (e.g. Asia/Shanghai) / 未知时区"
        ) from None
    windows = [parse_window(w) for w in args.window] or [dict(w) for w in DEFAULT_WINDOWS]
    delays: dict[str, Any] = _pairs(args.retry, "--retry")
    try:
        make_schedule(args.timezone, windows, where="--window")
        for key, value in delays.items():
            if key not in DEFAULT_DELAYS:
                known = ", ".join(sorted(DEFAULT_DELAYS))
                raise InputError(
                    f"--retry {key}={value}: unknown retry class (known: {known}) / 未知的重拨类别"
                )
            parse_duration(value, f"--retry {key}={value}")
    except ConfigError as e:
        raise InputError(str(e)) from None
    if args.max_attempts < 1:
        raise InputError(
            f"--max-attempts {args.max_attempts}: expected a whole number >= 1 / 应为正整数"
        )
    if not args.no_questionnaire_check:
        _check_questionnaire(_scripts_dir(args), args.questionnaire)
    if args.quota is not None and args.quota < 0:
        raise InputError(f"--quota {args.quota}: expected a whole number >= 0 / 配额不能为负")
    quotas = {}
    for code, value in _pairs(args.unit_quota, "--unit-quota").items():
        if not value.isdigit():
            raise InputError(
                f"--unit-quota {code}={value}: expected a whole number >= 0 / 应为非负整数"
            )
        quotas[code] = int(value)
    if not 0 < args.abandon_target < 1:
        raise InputError(
            f"--abandon-target {args.abandon_target}: expected a fraction such as 0.03 "
            "/ 应为小数，如 0.03"
        )
    pacing = parse_pacing(args.mode, _pairs(args.pacing, "--pacing"), args.abandon_target)
    spec = store.CampaignSpec(
        name=args.name,
        draw=args.draw,
        questionnaire=args.questionnaire,
        mode=args.mode,
        dial_template=args.dial_template,
        caller_id=args.caller_id,
        timezone=args.timezone,
        windows=windows,
        retry_rules={"delays": delays},
        max_attempts=args.max_attempts,
        default_quota=args.quota,
        unit_quotas=quotas,
        abandon_target=args.abandon_target,
        priority=args.priority,
        settings={"pacing": pacing} if pacing else {},
    )
    engine = engine_from_args(args)
    with engine.begin() as conn:
        cid = store.thd_create_campaign(conn, spec, time.time())
        figures = store.thd_campaign_figures(conn, cid, time.time())
    contacts = sum(u.contacts for u in figures.units)
    print(
        f"campaign {args.name} (id {cid}) created: {len(figures.units)} units, {contacts} contacts, "
        f"mode {args.mode}; start it with `dialer campaign start {args.name}` "
        f"/ 已创建调查项目，{len(figures.units)} 个单位，{contacts} 个号码"
    )
    return 0


# Allowed values of the pacing options this module knows: (lowest, highest, whole number);
# a lowest of 0.0 for a float means "above 0" where the policy divides by it or takes its
# log (_ABOVE). An option of the policy missing here must be a finite number >= 0.
_PACING_RANGES: dict[str, tuple[float, float, bool]] = {
    "setpoint": (0.0, 1.0, False),
    "setpoint_min": (0.0, 1.0, False),
    "theta": (0.0, 1.0, False),
    "theta_min": (0.0, 1.0, False),
    "theta_max": (0.0, 1.0, False),
    "cold_theta": (0.0, 1.0, False),
    "margin_z": (0.0, 10.0, False),
    "gain": (0.0, 10.0, False),
    "gain_i": (0.0, 10.0, False),
    "interval": (1.0, 86400.0, False),
    "horizon_s": (1.0, 30 * 86400.0, False),
    "min_answers": (1, 1_000_000, True),
    "exact_below": (0, 1_000_000, True),
    "max_launch": (1, 1_000_000, True),
    "line_cap": (0, 100_000, True),
}
# options that must be above their lowest (log(theta), divisions by the set-point)
_ABOVE = frozenset({"setpoint", "setpoint_min", "theta", "theta_min", "theta_max", "cold_theta"})
# Options set elsewhere: the predictive target is the campaign's --abandon-target.
_PACING_ELSEWHERE = {"target": "--abandon-target"}


def pacing_options(mode: str) -> dict[str, Any]:
    """The options the policy of C{mode} takes, with their defaults (from its signature)."""
    import inspect

    from dialer.pacing.predictive import Predictive
    from dialer.pacing.progressive import IvrOnly

    policy = {"predictive": Predictive, "ivr-only": IvrOnly}.get(mode)
    if policy is None:
        return {}
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {
        name: p.default
        for name, p in inspect.signature(policy).parameters.items()
        if p.kind in kinds and name not in _PACING_ELSEWHERE
    }


def _num(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:g}"


def parse_pacing(mode: str, raw: dict[str, str], abandon_target: float) -> dict[str, float]:
    """C{--pacing KEY=NUMBER} options checked against C{mode}'s policy: names, ranges, order."""
    import math

    from dialer.pacing.base import policy_for_mode

    allowed = pacing_options(mode)
    names = ", ".join(sorted(allowed))
    out: dict[str, Any] = {}
    for key, text in raw.items():
        if key in _PACING_ELSEWHERE:
            raise InputError(
                f"--pacing {key}: set it with {_PACING_ELSEWHERE[key]} / 请用 "
                f"{_PACING_ELSEWHERE[key]} 设置"
            )
        if key not in allowed:
            if not allowed:
                raise InputError(
                    f"--pacing {key}: mode {mode} takes no pacing options "
                    f"(predictive and ivr-only do) / {mode} 模式没有外呼节奏参数"
                )
            raise InputError(
                f"--pacing {key}: not an option of mode {mode} (its options: {names}) "
                f"/ {mode} 模式没有该参数（可用：{names}）"
            )
        try:
            value = float(text)
        except ValueError:
            raise InputError(f"--pacing {key}={text}: expected a number / 应为数字") from None
        default = allowed[key]
        lo, hi, whole = _PACING_RANGES.get(
            key, (0.0, math.inf, isinstance(default, int) and not isinstance(default, bool))
        )
        above = key in _ABOVE
        fits = (lo < value if above else lo <= value) and value <= hi
        if not math.isfinite(value) or not fits or (whole and value != int(value)):
            span = (
                f"{'(' if above else '['}{_num(lo)}, {_num(hi)}]"
                if math.isfinite(hi)
                else f">= {_num(lo)}"
            )
            raise InputError(
                f"--pacing {key}={text}: expected {'a whole number' if whole else 'a number'} "
                f"in {span} / 应为 {span} 范围内的{'整数' if whole else '数字'}"
            )
        out[key] = int(value) if whole else value
    merged = {k: v for k, v in allowed.items() if v is not None} | out
    pairs = (("theta_min", "theta"), ("theta", "theta_max"), ("setpoint_min", "setpoint"))
    for low, high in pairs:
        given = low in out or high in out
        if given and low in merged and high in merged and merged[low] > merged[high]:
            raise InputError(
                f"--pacing: {low} ({merged[low]:g}) is above {high} ({merged[high]:g}) "
                f"/ {low} 不能大于 {high}"
            )
    if "setpoint" in out and out["setpoint"] > abandon_target:
        raise InputError(
            f"--pacing setpoint={out['setpoint']:g}: above --abandon-target {abandon_target:g} "
            "/ 设定值不能高于放弃率上限"
        )
    if out:
        options = dict(out)
        if mode == "predictive":
            options["target"] = abandon_target
        try:
            policy_for_mode(mode, **options)
        except (TypeError, ValueError, ArithmeticError) as e:
            raise InputError(f"--pacing: {e} / 外呼节奏参数无效") from None
    return out


def _scripts_dir(args: argparse.Namespace) -> str:
    """C{--scripts}, else the daemon config's C{[agi] scripts}, else C{ivr_scripts}."""
    from dialer.daemonconf import scripts_setting

    if args.scripts:
        return str(args.scripts)
    config = getattr(args, "config", None)
    return str(scripts_setting(config)) if config else "ivr_scripts"


def _check_questionnaire(scripts: str, name: str) -> None:
    """The questionnaire must exist in C{scripts} and load."""
    from pathlib import Path

    from dialer.surveys import loader

    root = Path(scripts)
    if not root.is_dir():
        raise InputError(
            f"--scripts {scripts}: directory not found, so --questionnaire {name} cannot be "
            "checked (give --scripts DIR, or --no-questionnaire-check if the scripts are not "
            "deployed here) / 找不到问卷目录，无法检查问卷"
        )
    path = root / name
    if not path.suffix:
        path = path.with_suffix(".yaml")
    if not path.is_file():
        raise InputError(f"--questionnaire {name}: {path} not found / 找不到问卷文件 {path}")
    loader.load(path)  # ScriptError (an InputError) lists file:line problems


def _campaign(conn: Any, name: str) -> Any:
    from dialer.store import campaigns as store

    camp = store.thd_get_campaign(conn, name)
    if camp is None:
        raise InputError(f"campaign {name!r} not found / 找不到调查项目")
    return camp


_STATUS_ZH = {
    "draft": "草稿",
    "running": "运行中",
    "paused": "已暂停",
    "stopped": "已结束",
    "done": "已完成",
}

_ALLOWED = {
    "running": {"draft", "paused", "running"},
    "paused": {"running", "paused"},
    "stopped": {"draft", "running", "paused", "stopped"},
}


def status_change(args: argparse.Namespace) -> int:
    from dialer.store import campaigns as store
    from dialer.store.connect import engine_from_args

    engine = engine_from_args(args)
    with engine.begin() as conn:
        camp = _campaign(conn, args.name)
        if camp.status not in _ALLOWED[args.status]:
            raise InputError(
                f"campaign {args.name} is {camp.status}: cannot {args.campaign_command} "
                f"/ 项目状态为 {camp.status}，不能执行 {args.campaign_command}"
            )
        store.thd_set_status(conn, camp.id, args.status, time.time())
    print(
        f"campaign {args.name}: {camp.status} -> {args.status} "
        f"/ 调查项目 {args.name}：{_STATUS_ZH[camp.status]} -> {_STATUS_ZH[args.status]}"
    )
    return 0


def status_command(args: argparse.Namespace) -> int:
    from dialer.store.connect import engine_from_args

    engine = engine_from_args(args)
    now = time.time()
    with engine.connect() as conn:
        camp = _campaign(conn, args.name)
        data = status_data(conn, camp.id, now)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    print_status(data)
    return 0


def status_data(conn: Any, campaign_id: int, now: float) -> dict[str, Any]:
    """The figures of C{dialer campaign status} as plain data."""
    from dialer.store import campaigns as store

    f = store.thd_campaign_figures(conn, campaign_id, now)
    camp = f.campaign
    rate = store.CampaignFigures.rate
    return {
        "campaign": camp.name,
        "id": camp.id,
        "status": camp.status,
        "mode": camp.mode,
        "attempts": f.attempts,
        "units": [
            {
                "code": u.code,
                "name": u.name,
                "quota": u.quota,
                "completes": u.completes,
                "contacts": u.contacts,
                "dialed": u.dialed,
                "finished": u.finished,
                "live": u.live,
            }
            for u in f.units
        ],
        "dispositions": [{"outcome": o, "aapor": c, "count": n} for o, c, n in f.dispositions],
        "abandonment": {
            "denominator": "live-answered",
            "target": camp.abandon_target,
            "campaign": {
                "abandoned": f.abandoned,
                "live_answered": f.live_answered,
                "rate": rate(f.abandoned, f.live_answered),
            },
            "day": {
                "abandoned": f.abandoned_24h,
                "live_answered": f.live_answered_24h,
                "rate": rate(f.abandoned_24h, f.live_answered_24h),
            },
            "month": {
                "abandoned": f.abandoned_30d,
                "live_answered": f.live_answered_30d,
                "rate": rate(f.abandoned_30d, f.live_answered_30d),
            },
        },
    }


def print_status(data: dict[str, Any]) -> None:
    """A terminal report of L{status_command}'s figures (also used by the demo)."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"[bold]{data['campaign']}[/bold] (id {data['id']}) status 状态 {data['status']}, "
        f"mode 模式 {data['mode']}, attempts 拨打 {data['attempts']}"
    )
    units = Table(title="units / 单位进度")
    for col in (
        "unit 单位",
        "quota 配额",
        "completes 完成",
        "contacts 样本",
        "dialed 已拨",
        "finished 结案",
        "live 通话中",
    ):
        units.add_column(col, justify="left" if col.startswith("unit") else "right")
    for u in data["units"]:
        units.add_row(
            f"{u['code']} {u['name']}",
            "-" if u["quota"] is None else str(u["quota"]),
            str(u["completes"]),
            str(u["contacts"]),
            str(u["dialed"]),
            str(u["finished"]),
            str(u["live"]),
        )
    console.print(units)
    disp = Table(title="dispositions (AAPOR) / 处置结果")
    for col in ("outcome 结果", "AAPOR", "attempts 次数"):
        disp.add_column(col)
    for d in data["dispositions"]:
        disp.add_row(d["outcome"], d["aapor"], str(d["count"]))
    console.print(disp)
    ab = data["abandonment"]
    for window, label in (("campaign", "whole campaign 全程"), ("day", "24 h"), ("month", "30 d")):
        w = ab[window]
        console.print(
            f"abandonment 放弃率 ({label}): {w['abandoned']} / {w['live_answered']} "
            f"{ab['denominator']} = {w['rate']:.2%} (target 上限 {ab['target']:.0%})"
        )


def list_command(args: argparse.Namespace) -> int:
    from dialer.store import campaigns as store
    from dialer.store.connect import engine_from_args

    engine = engine_from_args(args)
    with engine.connect() as conn:
        camps = store.thd_list_campaigns(conn)
    if not camps:
        print("no campaigns / 没有调查项目")
    for c in camps:
        print(f"{c.id}\t{c.name}\t{c.status}\t{c.mode}\tpriority 优先级 {c.priority}")
    return 0
