"""`dialer dnc import FILE`, `dialer dnc add NUMBER...`: the do-not-call list."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from dialer.errors import InputError
from dialer.frames.cleaning import Rejected
from dialer.frames.phones import BadNumber, describe, normalise
from dialer.frames.reading import find_phone_column, open_table
from dialer.scripts.contacts import default_area_code, rejects_writer
from dialer.store.connect import engine_from_args
from dialer.store.frames import thd_dnc_add, thd_dnc_contains, thd_dnc_count


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dnc", help="do-not-call list (never sampled, checked at dial time) / 免打扰名单"
    )
    sub = parser.add_subparsers(dest="dnc_command", metavar="ACTION", required=True)
    imp = sub.add_parser("import", help="add the numbers of a CSV/XLSX file / 从文件导入")
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--phone-column", metavar="NAME", help="phone column / 号码列")
    imp.add_argument("--rejects", metavar="OUT.csv", help="rejected rows / 拒收行输出文件")
    imp.add_argument("--area-code", metavar="0778", help="default area code / 缺省区号")
    imp.set_defaults(func=import_command)
    add = sub.add_parser("add", help="add numbers / 添加号码")
    add.add_argument("numbers", metavar="NUMBER", nargs="+")
    add.add_argument("--area-code", metavar="0778", help="default area code / 缺省区号")
    add.set_defaults(func=add_command)
    check = sub.add_parser("check", help="is a number on the list? / 查询号码")
    check.add_argument("number", metavar="NUMBER")
    check.add_argument("--area-code", metavar="0778", help="default area code / 缺省区号")
    check.set_defaults(func=check_command)


def import_command(args: argparse.Namespace) -> int:
    area = default_area_code(args)
    path = Path(args.file)
    numbers: list[str] = []
    rejected = 0
    rejects = Path(args.rejects) if args.rejects else None
    with open_table(path) as table, rejects_writer(rejects) as on_reject:
        col = find_phone_column(table, args.phone_column)
        for row, cells in table.rows:
            value = cells[col] if col < len(cells) else ""
            try:
                numbers.append(normalise(value, area).number)
            except BadNumber as e:
                rejected += 1
                on_reject(Rejected(row, e.reason, value))
    engine = engine_from_args(args)
    with engine.begin() as conn:
        added = thd_dnc_add(conn, numbers, now=time.time(), source=path.name)
        total = thd_dnc_count(conn)
    print(
        f"do-not-call 免打扰: {added} added 新增, {len(numbers) - added} already listed 已存在, "
        f"{rejected} rejected 拒收; {total} on the list 共计"
    )
    return 0


def _parse(value: str, area: str) -> str:
    try:
        return normalise(value, area).number
    except BadNumber as e:
        raise InputError(f"{value!r}: {describe(e.reason)}") from None


def add_command(args: argparse.Namespace) -> int:
    area = default_area_code(args)
    numbers = [_parse(v, area) for v in args.numbers]
    engine = engine_from_args(args)
    with engine.begin() as conn:
        added = thd_dnc_add(conn, numbers, now=time.time(), source="cli")
    print(f"do-not-call 免打扰: {added} added 新增, {len(numbers) - added} already listed 已存在")
    return 0


def check_command(args: argparse.Namespace) -> int:
    number = _parse(args.number, default_area_code(args))
    engine = engine_from_args(args)
    with engine.connect() as conn:
        listed = thd_dnc_contains(conn, number)
    print("listed / 在免打扰名单中" if listed else "not listed / 不在名单中")
    return 0 if listed else 1
