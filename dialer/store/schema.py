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
    sa.Column("shared", sa.Integer, nullable=False, default=0),  # numbers also under another unit
    sa.Column("finished_at", sa.Float, nullable=True),
)

# A phone number handed in by a unit. The same number may appear under two units
# (reported by the frame report, not merged): unique per (unit, number, extension).
contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id"), nullable=False),
    sa.Column("number", sa.String(32), nullable=False),  # E.164
    sa.Column("line_type", sa.String(16), nullable=False),  # mobile | landline
    sa.Column("extension", sa.String(16), nullable=False, server_default=""),  # "" if none
    sa.Column("attributes", sa.JSON, nullable=True),  # name, gender, age group, district...
    sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.id"), nullable=True),
    sa.Column("source_row", sa.Integer, nullable=True),
    # the respondent's own time zone (IANA name, e.g. Asia/Urumqi) for calling windows;
    # None = the campaign's
    sa.Column("timezone", sa.String(64), nullable=True),
    sa.UniqueConstraint("unit_id", "number", "extension", name="uq_contacts_unit_number"),
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

# ---------------------------------------------------------------------------
# Campaigns, per-contact dialing state, attempts, callbacks (issue 4)
# ---------------------------------------------------------------------------

# A survey campaign: which draw is dialed with which questionnaire, how and when.
# Rules that are lists or maps (calling windows, retry rules) are JSON validated by
# dialer.campaign (windows: [{"days": [0..6], "start": "18:00", "end": "21:00"}],
# retry rules: {"no_answer": 10800, "busy": 900, ...} seconds per retry class).
campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("draw_id", sa.Integer, sa.ForeignKey("draws.id"), nullable=False),
    sa.Column("questionnaire", sa.Text, nullable=False),  # ivr_scripts/ file name
    sa.Column("mode", sa.String(16), nullable=False),  # progressive|predictive|ivr|preview
    sa.Column("dial_template", sa.Text, nullable=False),  # PJSIP/{number}@trunk
    sa.Column("caller_id", sa.String(64), nullable=True),
    sa.Column("timezone", sa.String(64), nullable=False),  # respondents' tz, Asia/Shanghai
    sa.Column("windows", sa.JSON, nullable=False),
    sa.Column("retry_rules", sa.JSON, nullable=False),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("default_quota", sa.Integer, nullable=True),  # completes per unit; None = no cap
    sa.Column("abandon_target", sa.Float, nullable=False),  # 0.03
    sa.Column("priority", sa.Integer, nullable=False, default=0),  # higher dials first
    sa.Column("status", sa.String(16), nullable=False),  # draft|running|paused|stopped|done
    sa.Column("settings", sa.JSON, nullable=True),  # extras (trunk, ring timeout, contexts)
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# Per-unit quota of completes within a campaign (overrides campaigns.default_quota).
campaign_units = sa.Table(
    "campaign_units",
    metadata,
    sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), primary_key=True),
    sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id"), primary_key=True),
    sa.Column("quota", sa.Integer, nullable=True),
    sa.Column("completes", sa.Integer, nullable=False, default=0),
)

# Dialing state of one sampled contact within a campaign. `live_attempt_id` is the
# lock that keeps two attempts from ever being live on one contact: it is claimed by a
# conditional UPDATE (WHERE live_attempt_id IS NULL) before the attempt row is used.
campaign_contacts = sa.Table(
    "campaign_contacts",
    metadata,
    sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), primary_key=True),
    sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id"), primary_key=True),
    sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),  # order within the unit's stratum
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_at", sa.Float, nullable=True),  # earliest next dial; None = now
    sa.Column("final", sa.Boolean, nullable=False, default=False),
    sa.Column("last_disposition", sa.String(8), nullable=True),  # AAPOR code
    sa.Column("live_attempt_id", sa.Integer, nullable=True),
    sa.Column("updated_at", sa.Float, nullable=False),
)
sa.Index(
    "ix_campaign_contacts_due",
    campaign_contacts.c.campaign_id,
    campaign_contacts.c.final,
    campaign_contacts.c.next_at,
)

# One dial of one contact. Written BEFORE Originate (status 'pending') with its
# ActionID, so a crash or an AMI reconnect can always be reconciled: an attempt is
# never dialed twice and never stays live forever. Numbers are not copied here.
attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id"), nullable=False),
    sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id"), nullable=False),
    sa.Column("attempt_no", sa.Integer, nullable=False),  # 1 = first dial of this contact
    sa.Column("status", sa.String(16), nullable=False),  # dialer.campaign.calls.CallState
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("originated_at", sa.Float, nullable=True),  # Originate sent
    sa.Column("answered_at", sa.Float, nullable=True),
    sa.Column("bridged_at", sa.Float, nullable=True),  # reached an agent
    sa.Column("ended_at", sa.Float, nullable=True),
    sa.Column("action_id", sa.String(64), nullable=False, unique=True),
    sa.Column("uniqueid", sa.String(64), nullable=True),
    sa.Column("channel", sa.String(128), nullable=True),
    sa.Column("server", sa.String(64), nullable=True),  # AMI connection name
    sa.Column("originate_reason", sa.Integer, nullable=True),  # OriginateResponse Reason
    sa.Column("hangup_cause", sa.Integer, nullable=True),  # Q.850 cause
    sa.Column("disposition", sa.String(8), nullable=True),  # AAPOR code, e.g. 1.1, 4.31
    sa.Column("outcome", sa.String(32), nullable=True),  # dialer.campaign.dispositions name
    sa.Column("mode", sa.String(8), nullable=True),  # agent | ivr
    sa.Column("agent", sa.String(64), nullable=True),
    sa.Column("abandoned", sa.Boolean, nullable=False, default=False),
    sa.Column("detail", sa.JSON, nullable=True),
)
sa.Index("ix_attempts_campaign_status", attempts.c.campaign_id, attempts.c.status)
sa.Index("ix_attempts_contact", attempts.c.contact_id)
sa.Index("ix_attempts_uniqueid", attempts.c.uniqueid)

# Appointments: a respondent asked to be called back at a time. Due callbacks are
# dialed before fresh contacts.
callbacks = sa.Table(
    "callbacks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id"), nullable=False),
    sa.Column("due_at", sa.Float, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("attempt_id", sa.Integer, sa.ForeignKey("attempts.id"), nullable=True),
    sa.Column("agent", sa.String(64), nullable=True),  # preferred agent, if any
    sa.Column("status", sa.String(16), nullable=False),  # pending | done | cancelled
    sa.Column("note", sa.Text, nullable=True),
)
sa.Index("ix_callbacks_due", callbacks.c.campaign_id, callbacks.c.status, callbacks.c.due_at)

# ---------------------------------------------------------------------------
# Answers and IVR sessions (issue 5)
# ---------------------------------------------------------------------------

# One answer to one question, written the moment it is given (so a hang-up after
# question 3 keeps answers 1-3). `mode` says how it was collected (ivr | phone | web |
# paper); `unit_id` is the unit the question is about (per-unit blocks), which may
# differ from the contact's unit. Voice comments keep the recording path in `value`.
answers = sa.Table(
    "answers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("attempt_id", sa.Integer, sa.ForeignKey("attempts.id"), nullable=False),
    sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id"), nullable=False),
    sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id"), nullable=True),
    sa.Column("block", sa.String(64), nullable=False),
    sa.Column("question", sa.String(64), nullable=False),
    sa.Column("code", sa.Integer, nullable=True),  # option code, or the number typed
    sa.Column("key", sa.String(32), nullable=True),  # keys pressed (IVR) / clicked (desktop)
    sa.Column("value", sa.Text, nullable=True),  # free text, or a recording's path
    sa.Column("answered_at", sa.Float, nullable=False),
    sa.Column("tries", sa.Integer, nullable=False, default=1),  # times asked before this answer
    sa.Column("mode", sa.String(8), nullable=False),  # ivr | phone | web | paper
    sa.Column("language", sa.String(16), nullable=True),
)
sa.Index("ix_answers_attempt", answers.c.attempt_id)
sa.Index("ix_answers_campaign_unit", answers.c.campaign_id, answers.c.unit_id)

# One run of the IVR survey over one AGI session. `result` is how the questionnaire
# ended, a dialer.campaign.dispositions.SurveyResult value (complete | partial |
# breakoff | refusal | hangup_intro | ineligible; None if it never finished);
# `end_reason` why the session ended (completed | hangup | timeout | malformed | error).
# The runner also publishes SurveyFinished; a process-AGI run (no bus) leaves only this.
ivr_sessions = sa.Table(
    "ivr_sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("attempt_id", sa.Integer, sa.ForeignKey("attempts.id"), nullable=False),
    sa.Column("uniqueid", sa.String(64), nullable=True),  # Asterisk channel uniqueid
    sa.Column("questionnaire", sa.String(128), nullable=False),
    sa.Column("language", sa.String(16), nullable=True),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float, nullable=True),
    sa.Column("result", sa.String(16), nullable=True),
    sa.Column("end_reason", sa.String(16), nullable=True),
    sa.Column("answered", sa.Integer, nullable=False, default=0),  # substantive answers
    sa.Column("asked", sa.Integer, nullable=False, default=0),  # substantive questions asked
)
sa.Index("ix_ivr_sessions_attempt", ivr_sessions.c.attempt_id)
