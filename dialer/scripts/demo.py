"""
`dialer demo`: the product's main job on the demo city, end to end, on a fresh SQLite
database under C{var/demo/} (reset on every run).

The demo is a list of step functions, L{STEPS}, each taking the shared L{Demo}
state. Stage 1 (sample frames): units, messy phone lists from 93 units, import with
rejects, do-not-call, integrity report, stratified sample. Later stages (campaign,
dialing, answers) append their own steps to L{STEPS}; a step may read what earlier
steps left in C{demo.state} (e.g. C{state["draw"]}, the name of the sample drawn).
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.rule import Rule

from dialer.errors import InputError
from dialer.frames import synth
from dialer.frames.cleaning import reason_text
from dialer.store.engine import create_engine
from dialer.store.migrate import upgrade


@dataclass
class Demo:
    root: Path
    console: Console
    rng: random.Random
    scale: float = 1.0
    seed: int = 2026  # --seed: the frames, and the simulated PBX and agents of the campaigns
    engine: sa.Engine | None = None
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.root / 'dialer.db'}"

    def db(self) -> sa.Engine:
        assert self.engine is not None, "the reset step opens the database"
        return self.engine

    def step(self, title: str) -> None:
        self.console.print(Rule(title))


Step = Callable[[Demo], None]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the demo city end to end / 运行演示（河池市）",
        description="Generate messy phone lists for Hechi's 93 units (fictional numbers), import "
        "them, check the frame, draw a sample. Uses its own database under DIR (reset on each "
        "run); --db is ignored. 生成河池 93 个单位的号码表（虚构号码），导入、检查、抽样。",
    )
    parser.add_argument("--dir", default="var/demo", help="working directory / 工作目录")
    parser.add_argument("--seed", type=int, default=2026, help="random seed / 随机种子")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="frame size factor (1.0 = ~70,000 numbers) / 样本框规模系数",
    )
    parser.add_argument(
        "--stop-after",
        metavar="STEP",
        help="stop after this step (e.g. draw_sample: sample frames only) / 运行到此步骤为止",
    )
    parser.set_defaults(func=demo_command)


def demo_command(args: argparse.Namespace) -> int:
    names = [step.__name__ for step in STEPS]
    if args.stop_after is not None and args.stop_after not in names:
        raise InputError(
            f"no demo step {args.stop_after!r}; steps: {', '.join(names)} / 没有该步骤"
        )
    demo = Demo(
        Path(args.dir), Console(), random.Random(args.seed), scale=args.scale, seed=args.seed
    )
    started = time.monotonic()
    try:
        for step in STEPS:
            step(demo)
            if step.__name__ == args.stop_after:
                break
    finally:
        if demo.engine is not None:
            demo.engine.dispose()
    demo.console.print(
        f"demo finished in {time.monotonic() - started:.1f} s / 演示完成; files in {demo.root}"
    )
    return 0


# ---------------------------------------------------------------------------
# Stage 1: sample frames
# ---------------------------------------------------------------------------


def reset(demo: Demo) -> None:
    """Start from an empty directory and a fresh database."""
    demo.step("1. fresh database / 新建数据库")
    if demo.root.exists():
        shutil.rmtree(demo.root)
    demo.root.mkdir(parents=True)
    demo.engine = create_engine(demo.db_url)
    upgrade(demo.db())
    demo.console.print(f"database 数据库: {demo.db_url}")


def load_units(demo: Demo) -> None:
    from dialer.scripts.units import DEMO_UNITS, read_units
    from dialer.store.frames import thd_upsert_units

    demo.step("2. units of Hechi / 河池市被测评单位")
    specs = read_units(DEMO_UNITS)
    with demo.db().begin() as conn:
        thd_upsert_units(conn, specs)
    counties = [s for s in specs if s.kind == "county"]
    demo.console.print(
        f"{len(counties)} counties/districts 县区 + {len(specs) - len(counties)} "
        f"municipal departments 市直部门: " + "、".join(s.name for s in counties)
    )
    demo.state["units"] = specs


def make_frames(demo: Demo) -> None:
    """Write one phone list per unit, in the formats and states units really send."""
    demo.step("3. phone lists as the units sent them / 各单位提交的号码表（虚构号码）")
    rng = demo.rng
    folder = demo.root / "frames"
    folder.mkdir()
    files: list[tuple[str, Path]] = []
    specs = demo.state["units"]
    kept: dict[str, list[str]] = {}
    for i, unit in enumerate(specs):
        size = round(
            (rng.randint(2400, 3600) if unit.kind == "county" else rng.randint(300, 600))
            * demo.scale
        )
        rows = list(synth.frame_rows(rng, size, districts=("城区", "乡镇", "街道")))
        if unit.code == "D18":  # hands in its own staff: direct lines of one office
            base = 2281200
            rows[:60] = [
                [*synth.person(rng)[:1], f"0778-{base + k}", "男", "30-39", "城区"]
                for k in range(60)
            ]
        if unit.code == "D71":  # one company phone plan
            rows[:200] = [
                [
                    *synth.person(rng)[:1],
                    f"1387780{rng.randrange(10000):04d}",
                    "女",
                    "30-39",
                    "城区",
                ]
                for _ in range(200)
            ]
        if unit.code == "D14" and "451202" in kept:  # copied part of another unit's list
            rows[:80] = [
                [*synth.person(rng)[:1], n, "男", "40-49", "城区"] for n in kept["451202"][:80]
            ]
        kept[unit.code] = [r[1] for r in rows]
        kind = ("gbk", "gbk", "gbk", "utf-8-sig", "xlsx", "utf-8")[i % 6]
        path = folder / f"{unit.code}.{'xlsx' if kind == 'xlsx' else 'csv'}"
        if kind == "xlsx":
            import openpyxl

            wb = openpyxl.Workbook(write_only=True)
            ws = wb.create_sheet("名单")
            ws.append(synth.HEADER)
            for r in rows:
                ws.append(r)
            wb.save(path)
        else:
            with path.open("w", encoding=kind, newline="") as f:
                w = csv.writer(f)
                w.writerow(synth.HEADER)
                for r in rows:
                    if rng.random() < 0.003:
                        w.writerow([])  # empty lines, as Excel leaves them
                    w.writerow(r)
        files.append((unit.code, path))
    demo.state["frames"] = files
    total = sum(len(v) for v in kept.values())
    demo.console.print(
        f"{len(files)} files 文件 in {folder}: {total} rows 行 "
        "(GBK/UTF-8/BOM CSV and XLSX; duplicates, Excel damage, full-width digits, "
        "missing area codes, extensions, junk / 含重复、科学计数法、全角数字、缺区号、分机、无效值)"
    )


def import_frames(demo: Demo) -> None:
    from dialer.scripts.contacts import import_file, progress_bar

    demo.step("4. import with rejects / 导入并输出拒收明细")
    rejects_dir = demo.root / "rejects"
    rejects_dir.mkdir()
    totals: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    files = demo.state["frames"]
    with progress_bar(demo.console, "importing 导入") as update:
        for done, (code, path) in enumerate(files):
            summary = import_file(
                demo.db(),
                path,
                unit_code=code,
                rejects_path=rejects_dir / f"{code}.rejects.csv",
            )
            totals.update(
                rows=summary.rows_read,
                accepted=summary.accepted,
                duplicates=summary.duplicates,
                rejected=summary.rejected,
                shared=summary.shared,
            )
            reasons.update(summary.reasons)
            update(done + 1, len(files))
    demo.console.print(
        f"rows {totals['rows']} 行: accepted {totals['accepted']} 接收, duplicates "
        f"{totals['duplicates']} 重复, rejected {totals['rejected']} 拒收, shared with another unit "
        f"{totals['shared']} 跨单位重复"
    )
    for reason, n in reasons.most_common():
        demo.console.print(f"  {n:>6}  {reason_text(reason)}")
    sample = rejects_dir / f"{files[0][0]}.rejects.csv"
    lines = sample.read_text(encoding="utf-8-sig").splitlines()[:5]
    demo.console.print(f"first lines of {sample} / 拒收文件示例:")
    for line in lines:
        demo.console.print("  " + line, markup=False)
    # Re-importing a file adds nothing.
    again = import_file(demo.db(), files[0][1], unit_code=files[0][0])
    demo.console.print(
        f"re-import of {files[0][1].name} / 重复导入: accepted {again.accepted} 接收, "
        f"duplicates {again.duplicates} 重复"
    )


def load_dnc(demo: Demo) -> None:
    from dialer.store.frames import thd_dnc_add, thd_frame_numbers

    demo.step("5. do-not-call list / 免打扰名单")
    with demo.db().begin() as conn:
        numbers = sorted({n for rows in thd_frame_numbers(conn).values() for n, _ in rows})
        chosen = demo.rng.sample(numbers, min(50, len(numbers)))
        added = thd_dnc_add(conn, chosen, now=time.time(), source="demo")
    demo.console.print(
        f"{added} numbers asked not to be called 个号码要求免打扰 (never sampled 不会被抽中)"
    )


def report(demo: Demo) -> None:
    from dialer.scripts.frames import build_report, print_report, write_xlsx

    demo.step("6. frame integrity report / 样本框检查")
    with demo.db().connect() as conn:
        figures, pairs, dnc = build_report(conn)
    print_report(figures, pairs, dnc, demo.console)
    out = demo.root / "frames-report.xlsx"
    write_xlsx(out, figures, pairs)
    demo.console.print(f"full report 完整报告: {out}")


def draw_sample(demo: Demo) -> None:
    from dialer.scripts.sample import draw_sample as draw
    from dialer.scripts.sample import export_rows
    from dialer.store.frames import thd_draw_rows

    demo.step("7. stratified sample / 分层抽样")
    name = "hechi-2026"
    with demo.db().begin() as conn:
        result = draw(
            conn,
            name=name,
            allocation="precision",
            seed=2026,
            margin=0.03,
            p=0.9,
            now=time.time(),
        )
        rows = thd_draw_rows(conn, name)
    drawn = sum(result["drawn"].values())
    demo.console.print(
        f"draw 抽样 {name!r}: precision allocation (margin ±3% at p=0.9, finite population "
        f"corrected) / 按精度分配: {drawn} numbers from 号码取自 {len(result['drawn'])} units 单位"
    )
    for code in ("451202", "D01"):
        demo.console.print(
            f"  {code}: frame 号码 {result['frame'][code]}, drawn 抽中 {result['drawn'][code]}"
        )
    header, data = export_rows(rows)
    out = demo.root / "sample.csv"
    with out.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(data)
    demo.console.print(f"sample 样本: {out}  (same seed, same sample / 同一种子结果相同)")
    demo.state["draw"] = name


def campaign(demo: Demo) -> None:
    """Stage 2: two campaigns end to end on the simulated PBX (see L{dialer.campaign.demo})."""
    from dialer.campaign.demo import run_campaign

    run_campaign(demo)


STEPS: list[Step] = [
    reset,
    load_units,
    make_frames,
    import_frames,
    load_dnc,
    report,
    draw_sample,
    campaign,
]
