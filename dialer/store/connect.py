"""Open the store from CLI arguments: resolve the URL, make the engine, check the schema."""

from __future__ import annotations

import argparse

import sqlalchemy as sa

from dialer.config import database_url
from dialer.store.engine import create_engine
from dialer.store.migrate import require_current


def engine_from_args(args: argparse.Namespace, *, check_schema: bool = True) -> sa.Engine:
    url = database_url(getattr(args, "db", None), getattr(args, "config", None))
    engine = create_engine(url)
    if check_schema:
        require_current(engine)
    return engine
