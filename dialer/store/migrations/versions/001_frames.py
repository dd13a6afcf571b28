"""Sample frames: units, imports, contacts, do-not-call, draws.

Revision ID: 001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("name_en", sa.Text, nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("parent_code", sa.String(64), nullable=True),
    )
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("rows_read", sa.Integer, nullable=False),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("duplicates", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("shared", sa.Integer, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id"), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("line_type", sa.String(16), nullable=False),
        sa.Column("extension", sa.String(16), nullable=False, server_default=""),
        sa.Column("attributes", sa.JSON, nullable=True),
        sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.id"), nullable=True),
        sa.Column("source_row", sa.Integer, nullable=True),
        sa.UniqueConstraint("unit_id", "number", "extension", name="uq_contacts_unit_number"),
    )
    op.create_index("ix_contacts_number", "contacts", ["number"])
    op.create_table(
        "dnc",
        sa.Column("number", sa.String(32), primary_key=True),
        sa.Column("added_at", sa.Float, nullable=False),
        sa.Column("source", sa.Text, nullable=True),
    )
    op.create_table(
        "draws",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("allocation", sa.String(16), nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "draw_members",
        sa.Column("draw_id", sa.Integer, sa.ForeignKey("draws.id"), primary_key=True),
        sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id"), primary_key=True),
        sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_index("ix_draw_members_unit", "draw_members", ["draw_id", "unit_id"])
