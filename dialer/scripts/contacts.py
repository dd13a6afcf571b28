"""`dialer contacts import FILE`: load a unit's phone list (CSV or XLSX) into the frame."""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from dialer.config import DEFAULT_AREA_CODE, load_toml
from dialer.errors import ConfigError, InputError
from dialer.frames.cleaning import Rejected, reason_text
from dialer.frames.reading import open_table
from dialer.store.connect import engine_from_args
from dialer.store.frames import ImportSummary, Unit, thd_import_contacts, thd_list_units

REJECT_HEADER = [
    "行号 row",
    "原因代码 code",
    "原因 reason",
    "原始值 value",
    "单位 unit",
    "说明 detail",
]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("contacts", help="phone lists (sample frame) / 样本号码")
    sub = parser.add_subparsers(dest="contacts_command", metavar="ACTION", required=True)
    imp = sub.add_parser(
        "import",
        help="import a CSV/XLSX phone list / 导入号码文件",
        description="Import units' phone lists; bad rows go to a rejects file. Each file is"
        " one transaction: all its accepted rows or none. 导入单位提交的号码表；无效行写入拒收"
        "文件；每个文件要么全部导入，要么完全不导入。",
    )
    imp.add_argument("files", metavar="FILE", nargs="+", help="CSV (UTF-8/GBK) or XLSX / 号码文件")
    which = imp.add_mutually_exclusive_group(required=True)
    which.add_argument("--unit", metavar="CODE", help="every row belongs to this unit / 所属单位")
    which.add_argument(
        "--unit-column", metavar="NAME", help="column holding unit codes or names / 单位列"
    )
    which.add_argument(
        "--unit-from-filename",
        action="store_true",
        help="each file is named after its unit's code or name (金城江区.xlsx) / 按文件名确定单位",
    )
    imp.add_argument("--phone-column", metavar="NAME", help="phone column / 号码列（默认自动识别）")
    imp.add_argument("--sheet", metavar="NAME", help="XLSX worksheet (default: the first) / 工作表")
    imp.add_argument(
        "--rejects",
        metavar="OUT.csv",
        help="where rejected rows go (default: FILE.rejects.csv) / 拒收行输出文件",
    )
    imp.add_argument(
        "--area-code",
        metavar="0778",
        help="area code for 7-8 digit local numbers (default: config [frames] default_area_code,"
        f" else {DEFAULT_AREA_CODE}) / 缺省区号",
    )
    imp.add_argument("--quiet", action="store_true", help="no progress bar / 不显示进度")
    imp.set_defaults(func=import_command)


def default_area_code(args: argparse.Namespace) -> str:
    code = getattr(args, "area_code", None)
    if not code and getattr(args, "config", None):
        section = load_toml(args.config).get("frames", {})
        code = section.get("default_area_code") if isinstance(section, dict) else None
    code = str(code or DEFAULT_AREA_CODE)
    if not (code.isdigit() and code.startswith("0") and 3 <= len(code) <= 4):
        raise ConfigError(f"area code {code!r} must be 0 + 2-3 digits, e.g. 0778 / 区号格式错误")
    return code


def import_command(args: argparse.Namespace) -> int:
    """Import each file in its own transaction (all its rows or none), then sum up."""
    engine = engine_from_args(args)
    console = Console(stderr=True, quiet=args.quiet)
    out = Console()
    paths = [Path(f) for f in args.files]
    if args.rejects and len(paths) > 1:
        raise InputError(
            "--rejects names one file; with several, each gets FILE.rejects.csv"
            " / 多个文件时不能指定 --rejects，各自写入 FILE.rejects.csv"
        )
    area = default_area_code(args)
    units: dict[str, str] = {}
    if args.unit_from_filename:
        for u in unit_list(engine):
            units[u.code] = units[u.name] = u.code
    plan = []
    for path in paths:
        code = args.unit
        if args.unit_from_filename:
            code = units.get(path.stem.strip())
            if code is None:
                raise InputError(
                    f"{path}: no unit with code or name {path.stem!r} / 文件名不是单位代码或名称"
                )
        plan.append((path, code))
    totals = ImportSummary(import_id=0)
    for path, code in plan:
        rejects = Path(args.rejects) if args.rejects else Path(str(path) + ".rejects.csv")
        summary = import_file(
            engine,
            path,
            unit_code=code,
            unit_column=args.unit_column,
            phone_column=args.phone_column,
            sheet=args.sheet,
            default_area_code=area,
            rejects_path=rejects,
            console=console,
        )
        if len(plan) > 1:
            out.print(f"{path.name}" + (f" ({code})" if code else ""), markup=False)
        print_summary(summary, rejects, out)
        for name in ("rows_read", "accepted", "duplicates", "rejected", "shared"):
            setattr(totals, name, getattr(totals, name) + getattr(summary, name))
    if len(plan) > 1:
        out.print(
            f"{len(plan)} files 个文件: rows {totals.rows_read} 行, accepted {totals.accepted} 接收, "
            f"duplicates {totals.duplicates} 重复, rejected {totals.rejected} 拒收"
        )
    return 0


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextmanager
def rejects_writer(path: Path | None) -> Iterator[Callable[[Rejected], None]]:
    """Write rejected rows to C{path} (UTF-8 with BOM, so Excel opens it); only kept on success."""
    if path is None:
        yield lambda r: None
        return
    part = path.with_name(path.name + ".part")
    try:
        f = part.open("w", encoding="utf-8-sig", newline="")
    except OSError as e:
        raise InputError(
            f"{path}: cannot write the rejects file ({e.strerror}); choose one with --rejects"
            " / 无法写入拒收文件"
        ) from None
    try:
        writer = csv.writer(f)
        writer.writerow(REJECT_HEADER)

        def write(r: Rejected) -> None:
            writer.writerow([r.row, r.reason, reason_text(r.reason), r.value, r.unit, r.detail])

        yield write
    except BaseException:
        f.close()
        part.unlink(missing_ok=True)
        raise
    f.close()
    os.replace(part, path)


@contextmanager
def progress_bar(console: Console, description: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar; yields C{update(done, total)}."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=console.quiet,
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or None)

        yield update


def import_file(
    engine: sa.Engine,
    path: Path,
    *,
    unit_code: str | None = None,
    unit_column: str | None = None,
    phone_column: str | None = None,
    sheet: str | None = None,
    default_area_code: str = DEFAULT_AREA_CODE,
    rejects_path: Path | None = None,
    console: Console | None = None,
    clock: Callable[[], float] = time.time,
) -> ImportSummary:
    """Import one file in one transaction: all accepted rows, or nothing."""
    console = console or Console(stderr=True, quiet=True)
    with (
        open_table(path, sheet) as table,
        rejects_writer(rejects_path) as on_reject,
        progress_bar(console, f"{path.name}") as update,
        engine.begin() as conn,
    ):
        return thd_import_contacts(
            conn,
            table,
            filename=path.name,
            sha256=sha256_of(path),
            clock=clock,
            unit_code=unit_code,
            unit_column=unit_column,
            phone_column=phone_column,
            default_area_code=default_area_code,
            on_reject=on_reject,
            on_progress=lambda _rows: update(*table.progress()),
        )


def print_summary(summary: ImportSummary, rejects: Path | None, console: Console) -> None:
    console.print(
        f"rows {summary.rows_read} 行: accepted {summary.accepted} 接收, "
        f"duplicates {summary.duplicates} 重复, rejected {summary.rejected} 拒收"
    )
    if summary.shared:
        console.print(
            f"{summary.shared} numbers also handed in by another unit (kept under both; see "
            "`dialer frames report`) / 个号码与其他单位重复（两边都保留）"
        )
    if summary.same_file_as is not None:
        console.print(
            f"same content as import #{summary.same_file_as} / 与第 {summary.same_file_as} 次导入的文件相同"
        )
    for code, n in summary.reasons.most_common():
        console.print(f"  {n:>7}  {reason_text(code)}")
    if rejects is not None and (summary.rejected or summary.duplicates):
        console.print(f"rejected rows / 拒收明细: {rejects}", markup=False)


def unit_list(engine: sa.Engine) -> list[Unit]:
    with engine.connect() as conn:
        return thd_list_units(conn)
