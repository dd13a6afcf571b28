"""Revision 004: contacts get an optional time zone; existing contacts keep the campaign's."""

import sqlalchemy as sa
from alembic import command

from dialer.store import migrate
from dialer.store.engine import create_engine


def test_existing_contacts_get_no_zone_and_downgrade_drops_it(db_url):
    """A contact stored at 003 reads timezone NULL after 004; downgrading removes the column."""
    eng = create_engine(db_url)
    try:
        migrate.upgrade(eng, "003")
        with eng.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO units (code, name, kind) VALUES ('u1', 'U', 'county')")
            )
            conn.execute(
                sa.text(
                    "INSERT INTO contacts (unit_id, number, line_type, extension)"
                    " VALUES (1, '+8613800000001', 'mobile', '')"
                )
            )
        migrate.upgrade(eng)
        with eng.connect() as conn:
            assert conn.execute(sa.text("SELECT number, timezone FROM contacts")).one() == (
                "+8613800000001",
                None,
            )
        config = migrate._config()
        with eng.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "003")
        names = {c["name"] for c in sa.inspect(eng).get_columns("contacts")}
        assert "timezone" not in names and "number" in names
    finally:
        eng.dispose()
