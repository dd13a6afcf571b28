"""`dialer frames report [--xlsx OUT]`: the frame integrity report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table as RichTable

from dialer.frames.report import FLAG_SHORT, FLAG_TEXT, UnitFigures, frame_report
from dialer.store.connect import engine_from_args
from dialer.store.frames import thd_dnc_count, thd_frame_numbers, thd_list_units


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("frames", help="sample frame checks / 样本框检查")
    sub = parser.add_subparsers(dest="frames_command", metavar="ACTION", required=True)
    r = sub.add_parser(
        "report",
        help="per-unit counts and signs of staff lists / 各单位号码统计与异常迹象",
        description="Counts, mobile/landline mix, prefix concentration, consecutive runs and "
        "numbers shared across units. 各单位号码数、手机/固话比例、号段集中、连号、跨单位重复。",
    )
    r.add_argument("--xlsx", metavar="OUT", help="also write the report to an XLSX file / 导出")
    r.add_argument(
        "--all", action="store_true", help="list every unit, not only flagged ones / 列出全部单位"
    )
    r.set_defaults(func=report_command)


def build_report(
    conn: sa.Connection,
) -> tuple[list[UnitFigures], list[tuple[str, str, int]], int]:
    units = thd_list_units(conn)
    codes = {u.id: u.code for u in units}
    frame = {codes[uid]: rows for uid, rows in thd_frame_numbers(conn).items()}
    figures, pairs = frame_report(frame, {u.code: u.name for u in units})
    return figures, pairs, thd_dnc_count(conn)


def report_command(args: argparse.Namespace) -> int:
    engine = engine_from_args(args)
    with (
        Console(stderr=True).status("checking the frame / 正在检查样本框..."),
        engine.connect() as conn,
    ):
        figures, pairs, dnc = build_report(conn)
    print_report(figures, pairs, dnc, Console(), every_unit=args.all)
    if args.xlsx:
        write_xlsx(Path(args.xlsx), figures, pairs)
        print(f"report 报告 -> {args.xlsx}")
    return 0


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.0f}%" if total else "-"


def print_report(
    figures: list[UnitFigures],
    pairs: list[tuple[str, str, int]],
    dnc: int,
    console: Console,
    *,
    every_unit: bool = False,
) -> None:
    shown = figures if every_unit else [f for f in figures if f.flags or f.total == 0]
    table = RichTable(
        "unit 单位",
        "numbers 号码",
        "mobile 手机",
        "top prefix 最集中号段",
        "runs 连号",
        "top block 最密百号段",
        "shared 重复",
        "signs 迹象",
        title="frame report 样本框检查"
        + ("" if every_unit else " (flagged units; --all for every unit / 仅列出有异常的单位)"),
    )
    for f in shown:
        table.add_row(
            f"{f.code} {f.name}",
            str(f.total),
            _pct(f.mobile, f.total),
            f"{f.top_prefix} ({_pct(f.top_prefix_count, f.total)})" if f.total else "-",
            f"{f.in_runs} (max {f.longest_run})" if f.runs else "0",
            str(f.top_block_count),
            str(f.shared),
            ", ".join(FLAG_SHORT[x] for x in f.flags)
            or ("no numbers / 无号码" if not f.total else ""),
        )
    console.print(table)
    total = sum(f.total for f in figures)
    mobile = sum(f.mobile for f in figures)
    console.print(
        f"{len(figures)} units 单位, {total} numbers 号码 (mobile 手机 {_pct(mobile, total)}), "
        f"{sum(1 for f in figures if f.flags)} flagged 有异常, do-not-call 免打扰 {dnc}"
    )
    if pairs:
        console.print("units sharing numbers / 号码重复的单位 (top 10):")
        for a, b, n in pairs[:10]:
            console.print(f"  {a} & {b}: {n}")


def write_xlsx(path: Path, figures: list[UnitFigures], pairs: list[tuple[str, str, int]]) -> None:
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("units 单位")
    ws.append(
        [
            "代码 code",
            "单位 unit",
            "号码数 numbers",
            "手机 mobile",
            "固话 landline",
            "最集中号段 top prefix",
            "该号段号码数 in top prefix",
            "连号段数 runs",
            "最长连号 longest run",
            "连号号码数 numbers in runs",
            "最密百号段 densest block of 100",
            "该百号段号码数 numbers in it",
            "与其他单位重复 shared",
            "迹象 signs",
        ]
    )
    for f in figures:
        ws.append(
            [
                f.code,
                f.name,
                f.total,
                f.mobile,
                f.landline,
                f.top_prefix,
                f.top_prefix_count,
                f.runs,
                f.longest_run,
                f.in_runs,
                f.top_block,
                f.top_block_count,
                f.shared,
                "; ".join(FLAG_TEXT[x] for x in f.flags),
            ]
        )
    ws2 = wb.create_sheet("shared 跨单位重复")
    ws2.append(["单位 A unit", "单位 B unit", "共有号码 shared numbers"])
    for a, b, n in pairs:
        ws2.append([a, b, n])
    wb.save(path)
