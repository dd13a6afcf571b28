"""`dialer units import FILE | --demo`, `dialer units list`: the evaluated units."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable

from dialer.errors import InputError
from dialer.frames.reading import header_key, open_table
from dialer.store.connect import engine_from_args
from dialer.store.frames import UnitSpec, thd_list_units, thd_upsert_units

DEMO_UNITS = Path(__file__).resolve().parent.parent / "data" / "hechi_units.csv"

# Accepted header names (loose match) for each field.
FIELDS = {
    "code": ("code", "代码", "单位代码", "编码"),
    "name": ("name", "名称", "单位名称", "中文名称"),
    "name_en": ("nameen", "englishname", "英文名称", "英文名"),
    "kind": ("kind", "type", "类型", "单位类型"),
    "parent_code": ("parent", "parentcode", "上级", "上级代码"),
}
KINDS = {"county": "county", "县区": "county", "县": "county", "区": "county"}
KINDS |= {"department": "department", "部门": "department", "市直部门": "department"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("units", help="evaluated units / 被测评单位")
    sub = parser.add_subparsers(dest="units_command", metavar="ACTION", required=True)
    imp = sub.add_parser(
        "import",
        help="add or update units from CSV/XLSX / 导入单位",
        description="Columns: code, name, name_en, kind (county|department), parent. "
        "列：代码、名称、英文名称、类型（县区/部门）、上级。",
    )
    src = imp.add_mutually_exclusive_group(required=True)
    src.add_argument("file", metavar="FILE", nargs="?", help="CSV or XLSX / 单位表")
    src.add_argument(
        "--demo", action="store_true", help="the demo city's units (Hechi) / 演示城市（河池）单位"
    )
    imp.set_defaults(func=import_command)
    sub.add_parser("list", help="list units / 列出单位").set_defaults(func=list_command)


def read_units(path: Path) -> list[UnitSpec]:
    """Read unit rows; errors name the file and row."""
    specs: list[UnitSpec] = []
    with open_table(path) as table:
        if not table.has_header:
            raise InputError(f"{path}: needs a header row (code, name, ...) / 需要表头")
        keys = [header_key(c) for c in table.columns]
        index: dict[str, int] = {}
        for field, names in FIELDS.items():
            for n in names:
                if n in keys:
                    index[field] = keys.index(n)
                    break
        for required in ("code", "name"):
            if required not in index:
                raise InputError(f"{path}: no {required!r} column / 缺少 {required} 列")
        seen: set[str] = set()
        for row, cells in table.rows:

            def get(field: str, cells: list[str] = cells) -> str:
                i = index.get(field)
                return cells[i].strip() if i is not None and i < len(cells) else ""

            code, name = get("code"), get("name")
            if not code or not name:
                raise InputError(f"{path}: row {row}: code and name are required / 代码和名称必填")
            if code in seen:
                raise InputError(f"{path}: row {row}: code {code!r} twice / 代码重复")
            seen.add(code)
            kind_text = get("kind")
            kind = KINDS.get(kind_text.lower()) if kind_text else None
            if kind_text and kind is None:
                raise InputError(
                    f"{path}: row {row}: kind {kind_text!r} is not county or department / 类型错误"
                )
            specs.append(
                UnitSpec(code, name, get("name_en") or None, kind, get("parent_code") or None)
            )
    return specs


def import_command(args: argparse.Namespace) -> int:
    path = DEMO_UNITS if args.demo else Path(args.file)
    specs = read_units(path)
    engine = engine_from_args(args)
    with engine.begin() as conn:
        added, updated = thd_upsert_units(conn, specs)
    print(f"units 单位: {added} added 新增, {updated} updated 更新, {len(specs)} in file 文件中")
    return 0


def list_command(args: argparse.Namespace) -> int:
    engine = engine_from_args(args)
    with engine.connect() as conn:
        units = thd_list_units(conn)
    table = RichTable("code 代码", "name 名称", "English", "kind 类型", "parent 上级")
    for u in units:
        table.add_row(u.code, u.name, u.name_en or "", u.kind, u.parent_code or "")
    Console().print(table)
    return 0
