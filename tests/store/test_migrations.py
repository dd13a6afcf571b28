"""The migrations build exactly the tables in schema.py; stale schemas are refused."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from dialer.errors import StaleSchemaError
from dialer.store import migrate
from dialer.store.engine import create_engine
from dialer.store.schema import metadata


def test_upgrade_matches_schema(engine):
    """After `upgrade`, the database has no difference from schema.py."""
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_require_current_refuses_empty(db_url):
    """An empty database is refused with the command that fixes it."""
    eng = create_engine(db_url)
    with pytest.raises(StaleSchemaError, match="dialer db upgrade"):
        migrate.require_current(eng)
    eng.dispose()


def test_require_current_refuses_old_revision(db_url):
    """A database at the first revision is refused while newer ones exist."""
    eng = create_engine(db_url)
    migrate.upgrade(eng, "001")
    if migrate.head_revision() == "001":
        migrate.require_current(eng)  # nothing newer yet: accepted
    else:
        with pytest.raises(StaleSchemaError):
            migrate.require_current(eng)
    eng.dispose()


def test_upgrade_is_idempotent(engine):
    """Running upgrade on a current schema changes nothing."""
    before = migrate.current_revision(engine)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == before == migrate.head_revision()


def test_sqlite_uses_wal(tmp_path):
    """SQLite files run in WAL mode so readers never block the writer."""
    eng = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with eng.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    eng.dispose()
