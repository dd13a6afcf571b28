"""`dialer db upgrade|status`: manage the store's schema."""

from __future__ import annotations

import argparse
from typing import Any

from dialer.store import migrate
from dialer.store.connect import engine_from_args


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("db", help="database schema / 数据库结构")
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    sub.add_parser("upgrade", help="create or upgrade the schema / 创建或升级").set_defaults(
        func=upgrade
    )
    sub.add_parser("status", help="show schema version / 显示版本").set_defaults(func=status)


def upgrade(args: argparse.Namespace) -> int:
    engine = engine_from_args(args, check_schema=False)
    before = migrate.current_revision(engine)
    migrate.upgrade(engine)
    after = migrate.current_revision(engine)
    print(f"schema / 数据库结构: {before or '(empty)'} -> {after}")
    return 0


def status(args: argparse.Namespace) -> int:
    engine = engine_from_args(args, check_schema=False)
    current = migrate.current_revision(engine)
    head = migrate.head_revision()
    state = "current / 最新" if current == head else "stale: run `dialer db upgrade` / 过旧"
    print(f"schema 数据库结构 {current or '(empty 空)'}, code 代码 {head}: {state}")
    return 0 if current == head else 1
