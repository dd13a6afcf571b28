"""Campaigns, per-unit quotas, per-contact dialing state, attempts, callbacks.

Revision ID: 002
Revises: 001
"""

import sqlalchemy as sa
from alembic import op

revision = "002"
down_revision = "001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("draw_id", sa.Integer, sa.ForeignKey("draws.id"), nullable=False),
        sa.Column("questionnaire", sa.Text, nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("dial_template", sa.Text, nullable=False),
        sa.Column("caller_id", sa.String(64), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("windows", sa.JSON, nullable=False),
        sa.Column("retry_rules", sa.JSON, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("default_quota", sa.Integer, nullable=True),
        sa.Column("abandon_target", sa.Float, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("settings", sa.JSON, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "campaign_units",
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), primary_key=True),
        sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id"), primary_key=True),
        sa.Column("quota", sa.Integer, nullable=True),
        sa.Column("completes", sa.Integer, nullable=False),
    )
    op.create_table(
        "campaign_contacts",
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), primary_key=True),
        sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id"), primary_key=True),
        sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", sa.Float, nullable=True),
        sa.Column("final", sa.Boolean, nullable=False),
        sa.Column("last_disposition", sa.String(8), nullable=True),
        sa.Column("live_attempt_id", sa.Integer, nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index(
        "ix_campaign_contacts_due", "campaign_contacts", ["campaign_id", "final", "next_at"]
    )
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id"), nullable=False),
        sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id"), nullable=False),
        sa.Column("attempt_no", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("originated_at", sa.Float, nullable=True),
        sa.Column("answered_at", sa.Float, nullable=True),
        sa.Column("bridged_at", sa.Float, nullable=True),
        sa.Column("ended_at", sa.Float, nullable=True),
        sa.Column("action_id", sa.String(64), nullable=False, unique=True),
        sa.Column("uniqueid", sa.String(64), nullable=True),
        sa.Column("channel", sa.String(128), nullable=True),
        sa.Column("server", sa.String(64), nullable=True),
        sa.Column("originate_reason", sa.Integer, nullable=True),
        sa.Column("hangup_cause", sa.Integer, nullable=True),
        sa.Column("disposition", sa.String(8), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("mode", sa.String(8), nullable=True),
        sa.Column("agent", sa.String(64), nullable=True),
        sa.Column("abandoned", sa.Boolean, nullable=False),
        sa.Column("detail", sa.JSON, nullable=True),
    )
    op.create_index("ix_attempts_campaign_status", "attempts", ["campaign_id", "status"])
    op.create_index("ix_attempts_contact", "attempts", ["contact_id"])
    op.create_index("ix_attempts_uniqueid", "attempts", ["uniqueid"])
    op.create_table(
        "callbacks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id"), nullable=False),
        sa.Column("due_at", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("attempt_id", sa.Integer, sa.ForeignKey("attempts.id"), nullable=True),
        sa.Column("agent", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
    )
    op.create_index("ix_callbacks_due", "callbacks", ["campaign_id", "status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_callbacks_due", table_name="callbacks")
    op.drop_table("callbacks")
    op.drop_index("ix_attempts_uniqueid", table_name="attempts")
    op.drop_index("ix_attempts_contact", table_name="attempts")
    op.drop_index("ix_attempts_campaign_status", table_name="attempts")
    op.drop_table("attempts")
    op.drop_index("ix_campaign_contacts_due", table_name="campaign_contacts")
    op.drop_table("campaign_contacts")
    op.drop_table("campaign_units")
    op.drop_table("campaigns")
