"""Answers (one row per answer, written as it is given) and IVR sessions.

Revision ID: 003
Revises: 002
"""

import sqlalchemy as sa
from alembic import op

revision = "003"
down_revision = "002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("attempt_id", sa.Integer, sa.ForeignKey("attempts.id"), nullable=False),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id"), nullable=False),
        sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id"), nullable=True),
        sa.Column("block", sa.String(64), nullable=False),
        sa.Column("question", sa.String(64), nullable=False),
        sa.Column("code", sa.Integer, nullable=True),
        sa.Column("key", sa.String(32), nullable=True),
        sa.Column("value", sa.Text, nullable=True),
        sa.Column("answered_at", sa.Float, nullable=False),
        sa.Column("tries", sa.Integer, nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
    )
    op.create_index("ix_answers_attempt", "answers", ["attempt_id"])
    op.create_index("ix_answers_campaign_unit", "answers", ["campaign_id", "unit_id"])
    op.create_table(
        "ivr_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("attempt_id", sa.Integer, sa.ForeignKey("attempts.id"), nullable=False),
        sa.Column("uniqueid", sa.String(64), nullable=True),
        sa.Column("questionnaire", sa.String(128), nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float, nullable=True),
        sa.Column("result", sa.String(16), nullable=True),
        sa.Column("end_reason", sa.String(16), nullable=True),
        sa.Column("answered", sa.Integer, nullable=False),
        sa.Column("asked", sa.Integer, nullable=False),
    )
    op.create_index("ix_ivr_sessions_attempt", "ivr_sessions", ["attempt_id"])


def downgrade() -> None:
    op.drop_index("ix_ivr_sessions_attempt", table_name="ivr_sessions")
    op.drop_table("ivr_sessions")
    op.drop_index("ix_answers_campaign_unit", table_name="answers")
    op.drop_index("ix_answers_attempt", table_name="answers")
    op.drop_table("answers")
