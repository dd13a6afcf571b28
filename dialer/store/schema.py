"""
The store's tables (SQLAlchemy Core), commented like buildbot's model.py.

Conventions:
 - times are epoch seconds as floats (UTC); time zones are applied only for display
   and for calling windows;
 - phone numbers are stored in E.164 (+8613812345678) and are never logged or used
   as metric labels; logs name contact ids;
 - free-form extras are JSON.

Every change here needs an Alembic revision in C{migrations/versions/} (numbered
C{NNN_name.py}); C{tests/store/test_migrations.py} checks they agree.
"""

import sqlalchemy as sa

metadata = sa.MetaData()

# ---------------------------------------------------------------------------
# Sample frames (units, contacts, do-not-call, draws)
# ---------------------------------------------------------------------------

# The evaluated units: counties/districts and municipal departments.
units = sa.Table(
    "units",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),  # Chinese name, e.g. 金城江区
    sa.Column("name_en", sa.Text, nullable=True),
    sa.Column("kind", sa.String(16), nullable=False),  # county | department
    sa.Column("parent_code", sa.String(64), nullable=True),
)

# One row per import run of a contacts file, for audit and for "re-import adds nothing".
imports = sa.Table(
    "imports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # contacts | dnc | units
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("rows_read", sa.Integer, nullable=False, default=0),
    sa.Column("accepted", sa.Integer, nullable=False, default=0),
    sa.Column("duplicates", sa.Integer, nullable=False, default=0),
    sa.Column("rejected", sa.Integer, nullable=False, default=0),
)

# A phone number handed in by a unit. The same number may appear under two units
# (reported by the frame report, not merged): unique per (unit, number).
contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id"), nullable=False),
    sa.Column("number", sa.String(32), nullable=False),  # E.164
    sa.Column("line_type", sa.String(16), nullable=False),  # mobile | landline
    sa.Column("extension", sa.String(16), nullable=True),
    sa.Column("attributes", sa.JSON, nullable=True),  # name, gender, age group, district...
    sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.id"), nullable=True),
    sa.Column("source_row", sa.Integer, nullable=True),
    sa.UniqueConstraint("unit_id", "number", name="uq_contacts_unit_number"),
)
sa.Index("ix_contacts_number", contacts.c.number)

# Do-not-call list: checked when sampling and again at dial time.
dnc = sa.Table(
    "dnc",
    metadata,
    sa.Column("number", sa.String(32), primary_key=True),  # E.164
    sa.Column("added_at", sa.Float, nullable=False),
    sa.Column("source", sa.Text, nullable=True),
)

# A named, reproducible stratified sample.
draws = sa.Table(
    "draws",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("allocation", sa.String(16), nullable=False),  # equal | proportional | precision
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("parameters", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

draw_members = sa.Table(
    "draw_members",
    metadata,
    sa.Column("draw_id", sa.Integer, sa.ForeignKey("draws.id"), primary_key=True),
    sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id"), primary_key=True),
    sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),  # order within the unit's stratum
)
sa.Index("ix_draw_members_unit", draw_members.c.draw_id, draw_members.c.unit_id)
