"""
Schema versions: upgrade to head, and refuse to run on a stale schema.

The daemon and every CLI command that touches the store call L{require_current};
only `dialer db upgrade` calls L{upgrade}.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from dialer.errors import StaleSchemaError

MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the schema up to C{revision} (default: the newest)."""
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def require_current(engine: sa.Engine) -> None:
    """Raise L{StaleSchemaError} unless the schema is at head."""
    current = current_revision(engine)
    head = head_revision()
    if current != head:
        where = "empty database" if current is None else f"schema {current}"
        raise StaleSchemaError(
            f"{where}, code expects {head}: run `dialer db upgrade` / "
            "数据库结构过旧，请运行 `dialer db upgrade`"
        )
