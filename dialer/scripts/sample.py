"""`dialer sample draw|export|list`: stratified samples by unit, stored as named draws."""

from __future__ import annotations

import argparse
import csv
import random
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table as RichTable

from dialer.errors import InputError
from dialer.frames.phones import national_format
from dialer.frames.sampling import ALLOCATIONS, Z95, allocate, draw, margin_of_error
from dialer.store.connect import engine_from_args
from dialer.store.frames import (
    thd_draw_rows,
    thd_eligible,
    thd_list_draws,
    thd_list_units,
    thd_save_draw,
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("sample", help="stratified samples / 分层抽样")
    sub = parser.add_subparsers(dest="sample_command", metavar="ACTION", required=True)
    d = sub.add_parser(
        "draw",
        help="draw a stratified random sample per unit / 按单位分层随机抽样",
        description="Draw a reproducible stratified sample (same frame + seed = same sample); "
        "do-not-call numbers are never drawn. 可复现的分层随机抽样；免打扰号码不会被抽中。",
    )
    d.add_argument("--campaign", metavar="NAME", required=True, help="name of the draw / 抽样名称")
    d.add_argument("--allocation", choices=ALLOCATIONS, required=True, help="分配方式")
    size = d.add_mutually_exclusive_group()
    size.add_argument("--size", type=int, metavar="N", help="total sample size / 总样本量")
    size.add_argument("--per-unit", type=int, metavar="N", help="size per unit / 每单位样本量")
    d.add_argument(
        "--margin", type=float, default=0.03, help="target margin of error (precision) / 误差"
    )
    d.add_argument(
        "--expected-p",
        type=float,
        default=0.9,
        help="expected proportion, e.g. satisfied share (precision) / 预期比例",
    )
    d.add_argument("--seed", type=int, required=True, help="random seed / 随机种子")
    d.add_argument("--replace", action="store_true", help="replace a draw of the same name / 覆盖")
    d.set_defaults(func=draw_command)
    e = sub.add_parser(
        "export",
        help="write a draw to CSV or XLSX / 导出样本",
        description="Open the XLSX in Excel: Excel turns the CSV's +86... column into"
        " 8.6E+12. 请用 Excel 打开 XLSX 文件；CSV 中的 +86 号码会被 Excel 改成科学计数法。",
    )
    e.add_argument("--campaign", metavar="NAME", required=True, help="name of the draw / 抽样名称")
    e.add_argument("--out", metavar="FILE", required=True, help=".csv or .xlsx / 输出文件")
    e.set_defaults(func=export_command)
    sub.add_parser("list", help="list draws / 列出抽样").set_defaults(func=list_command)


def draw_command(args: argparse.Namespace) -> int:
    engine = engine_from_args(args)
    console = Console()
    with Console(stderr=True).status("drawing / 正在抽样..."), engine.begin() as conn:
        result = draw_sample(
            conn,
            name=args.campaign,
            allocation=args.allocation,
            seed=args.seed,
            size=args.size,
            per_unit=args.per_unit,
            margin=args.margin,
            p=args.expected_p,
            now=time.time(),
            replace=args.replace,
        )
    print_draw(result, console)
    return 0


def draw_sample(
    conn: sa.Connection,
    *,
    name: str,
    allocation: str,
    seed: int,
    size: int | None = None,
    per_unit: int | None = None,
    margin: float = 0.03,
    p: float = 0.9,
    now: float,
    replace: bool = False,
) -> dict[str, Any]:
    """Allocate, draw and store; returns the stored parameters (with per-unit figures)."""
    for value, label in ((size, "--size"), (per_unit, "--per-unit")):
        if value is not None and value < 0:
            raise InputError(f"{label} must not be negative / 不能为负数")
    units = thd_list_units(conn)
    if not units:
        raise InputError("no units: run `dialer units import` first / 尚未导入单位")
    by_id = {u.id: u.code for u in units}
    eligible = thd_eligible(conn)
    frame = {by_id[uid]: rows for uid, rows in eligible.items()}
    population = {u.code: len(frame.get(u.code, ())) for u in units}
    try:
        alloc = allocate(population, allocation, size=size, per_unit=per_unit, margin=margin, p=p)
    except ValueError as e:
        raise InputError(f"{e} / 抽样参数错误") from None
    sample = draw(frame, alloc.wanted, random.Random(seed))
    ids = {u.code: u.id for u in units}
    parameters: dict[str, Any] = {
        "size": size,
        "per_unit": per_unit,
        "margin": margin,
        "expected_p": p,
        "z": Z95,
        "frame": population,
        "wanted": alloc.wanted,
        "drawn": {u: len(m) for u, m in sample.members.items()},
        "short": {u: list(v) for u, v in sample.short.items()},
    }
    thd_save_draw(
        conn,
        name=name,
        allocation=allocation,
        seed=seed,
        parameters=parameters,
        members={ids[u]: m for u, m in sample.members.items()},
        now=now,
        replace=replace,
    )
    return {"name": name, "allocation": allocation, "seed": seed, **parameters}


def print_draw(result: dict[str, Any], console: Console) -> None:
    table = RichTable(
        "unit 单位",
        "frame 号码数",
        "wanted 应抽",
        "drawn 抽中",
        f"margin 误差 (p={result['expected_p']})",
        title=f"draw 抽样 {result['name']} ({result['allocation']}, seed {result['seed']})",
    )
    for unit in sorted(result["wanted"]):
        n = result["drawn"].get(unit, 0)
        pop = result["frame"][unit]
        moe = margin_of_error(n, pop, result["expected_p"])
        flag = " ⚠" if unit in result["short"] else ""
        table.add_row(
            unit,
            str(pop),
            str(result["wanted"][unit]),
            f"{n}{flag}",
            "-" if moe == float("inf") else f"{moe:.3f}",
        )
    console.print(table)
    total = sum(result["drawn"].values())
    console.print(f"drawn 共抽中 {total} numbers 个号码")
    if result["short"]:
        console.print(
            f"[bold]{len(result['short'])} units have too few numbers / 个单位号码不足:[/bold] "
            + ", ".join(f"{u} ({d}/{w})" for u, (w, d) in sorted(result["short"].items()))
        )


EXPORT_HEADER = [
    "单位代码 unit",
    "单位 unit name",
    "序号 position",
    "联系人ID contact id",
    "号码 number",
    "本地格式 national",
    "类型 line type",
    "分机 extension",
]


def export_rows(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    keys: list[str] = []
    for r in rows:
        for k in r["attributes"] or {}:
            if k not in keys:
                keys.append(k)
    out = []
    for r in rows:
        attrs = r["attributes"] or {}
        out.append(
            [
                r["code"],
                r["name"],
                r["position"],
                r["id"],
                r["number"],
                national_format(r["number"]),
                r["line_type"],
                r["extension"],
                *(attrs.get(k, "") for k in keys),
            ]
        )
    return [*EXPORT_HEADER, *keys], out


def export_command(args: argparse.Namespace) -> int:
    engine = engine_from_args(args)
    with engine.connect() as conn:
        rows = thd_draw_rows(conn, args.campaign)
    header, data = export_rows(rows)
    out = Path(args.out)
    if out.suffix.lower() == ".xlsx":
        import openpyxl

        wb = openpyxl.Workbook(write_only=True)
        ws = wb.create_sheet("sample 样本")
        ws.append(header)
        for row in data:
            ws.append(row)
        wb.save(out)
    elif out.suffix.lower() == ".csv":
        with out.open("w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(data)
    else:
        raise InputError(f"{out}: use a .csv or .xlsx name / 请使用 .csv 或 .xlsx 文件名")
    print(f"{len(data)} numbers 个号码 -> {out}")
    return 0


def list_command(args: argparse.Namespace) -> int:
    engine = engine_from_args(args)
    with engine.connect() as conn:
        draws = thd_list_draws(conn)
    table = RichTable("name 名称", "allocation 分配", "seed 种子", "numbers 号码数", "created 时间")
    for d, n in draws:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(d.created_at))
        table.add_row(d.name, d.allocation, str(d.seed), str(n), created)
    Console().print(table)
    return 0
