"""
Campaign store functions (C{thd_*}, run on the DB pool): campaigns, the per-contact
dialing state, attempts, callbacks, and the figures for C{dialer campaign status}.

The write path of a call is, in order:

 1. L{thd_claim_attempt}: one transaction that re-checks the do-not-call list, takes the
    contact's lock (C{campaign_contacts.live_attempt_id}, a conditional UPDATE) and
    inserts the attempt row with its ActionID and ChannelId. Only then is Originate sent.
 2. L{thd_update_attempt}: progress (answered, bridged, IVR) as it happens.
 3. L{thd_finish_attempt}: one transaction that writes the disposition, releases the lock,
    applies the retry decision to the contact, counts a complete against the unit's quota
    and books an appointment. It is idempotent: an attempt already ended is left alone.

After a crash, L{thd_live_attempts} lists what was in flight so the controller can
reconcile it against the PBX's channels.
"""

# test-case-name: tests.campaign.test_store

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from dialer.campaign.calls import LIVE_STATES, Call, CallState
from dialer.campaign.dialstring import check_caller_id, check_dial_template, control_characters
from dialer.campaign.dispositions import OUTCOMES, Outcome, SurveyResult
from dialer.campaign.hopper import Candidate, UnitState
from dialer.campaign.retries import RetryDecision, RetryRules, decide, parse_rules
from dialer.campaign.schedule import Schedule, make_schedule
from dialer.errors import ConfigError, InputError
from dialer.store.schema import (
    attempts,
    callbacks,
    campaign_contacts,
    campaign_units,
    campaigns,
    contacts,
    dnc,
    draw_members,
    draws,
    units,
)

_SURVEY_RESULTS = frozenset(r.value for r in SurveyResult) & set(OUTCOMES)
MODES = ("progressive", "predictive", "ivr-only", "preview")
STATUSES = ("draft", "running", "paused", "stopped", "done")
_LIVE = sorted(s.value for s in LIVE_STATES)


@dataclass(frozen=True)
class CampaignSpec:
    """What C{dialer campaign create} (or the web UI) asks for."""

    name: str
    draw: str  # draw name
    questionnaire: str
    mode: str = "progressive"
    dial_template: str = "PJSIP/{number}@trunk"
    caller_id: str | None = None
    timezone: str = "Asia/Shanghai"
    windows: Sequence[Mapping[str, Any]] = ()
    retry_rules: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    max_attempts: int = 6
    default_quota: int | None = None
    unit_quotas: Mapping[str, int] = dataclasses.field(default_factory=dict)  # unit code -> quota
    abandon_target: float = 0.03
    priority: int = 0
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    draw_id: int
    questionnaire: str
    mode: str
    dial_template: str
    caller_id: str | None
    timezone: str
    windows: list[dict[str, Any]]
    retry_rules: dict[str, Any]
    max_attempts: int
    default_quota: int | None
    abandon_target: float
    priority: int
    status: str
    settings: dict[str, Any]
    created_at: float
    updated_at: float


def _campaign(row: Any) -> Campaign:
    m = row._mapping
    return Campaign(
        id=m["id"],
        name=m["name"],
        draw_id=m["draw_id"],
        questionnaire=m["questionnaire"],
        mode=m["mode"],
        dial_template=m["dial_template"],
        caller_id=m["caller_id"],
        timezone=m["timezone"],
        windows=list(m["windows"] or []),
        retry_rules=dict(m["retry_rules"] or {}),
        max_attempts=m["max_attempts"],
        default_quota=m["default_quota"],
        abandon_target=m["abandon_target"],
        priority=m["priority"],
        status=m["status"],
        settings=dict(m["settings"] or {}),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


# ---------------------------------------------------------------------------
# Campaigns
# ---------------------------------------------------------------------------


def _check_spec(spec: CampaignSpec) -> None:
    """Refuse what would fail later, at dial time or in the retry arithmetic (any caller)."""
    name = spec.name.strip()
    if not name or control_characters(spec.name):
        raise InputError(
            f"campaign name {spec.name!r}: expected a non-empty name without control characters"
            " / 项目名称不能为空或包含控制字符"
        )
    check_dial_template(spec.dial_template, "dial template")
    if spec.caller_id is not None:
        check_caller_id(spec.caller_id, "caller ID")
    try:
        make_schedule(spec.timezone, list(spec.windows), where="campaign")
        parse_rules({"max_attempts": spec.max_attempts, **spec.retry_rules}, where="retry_rules")
    except ConfigError as e:
        raise InputError(str(e)) from None
    if spec.default_quota is not None and spec.default_quota < 0:
        raise InputError(
            f"default quota {spec.default_quota}: expected a whole number >= 0 / 配额不能为负"
        )
    for code, quota in spec.unit_quotas.items():
        if quota < 0:
            raise InputError(f"quota of unit {code}: {quota} is negative / 单位配额不能为负")
    if not 0 < spec.abandon_target < 1:
        raise InputError(
            f"abandon target {spec.abandon_target}: expected a fraction such as 0.03"
            " / 放弃率上限应为小数，如 0.03"
        )


def thd_create_campaign(conn: sa.Connection, spec: CampaignSpec, now: float) -> int:
    """Create a campaign over a draw: its units (with quotas) and one state row per member."""
    if spec.mode not in MODES:
        raise InputError(f"mode {spec.mode!r}: expected one of {', '.join(MODES)} / 未知拨号模式")
    _check_spec(spec)
    if conn.execute(sa.select(campaigns.c.id).where(campaigns.c.name == spec.name)).first():
        raise InputError(f"campaign {spec.name!r} already exists / 调查项目已存在")
    draw_id = conn.execute(sa.select(draws.c.id).where(draws.c.name == spec.draw)).scalar()
    if draw_id is None:
        raise InputError(f"draw {spec.draw!r} not found / 找不到样本抽取 {spec.draw!r}")
    key = conn.execute(
        campaigns.insert().values(
            name=spec.name,
            draw_id=draw_id,
            questionnaire=spec.questionnaire,
            mode=spec.mode,
            dial_template=spec.dial_template,
            caller_id=spec.caller_id,
            timezone=spec.timezone,
            windows=[dict(w) for w in spec.windows],
            retry_rules=dict(spec.retry_rules),
            max_attempts=spec.max_attempts,
            default_quota=spec.default_quota,
            abandon_target=spec.abandon_target,
            priority=spec.priority,
            status="draft",
            settings=dict(spec.settings),
            created_at=now,
            updated_at=now,
        )
    ).inserted_primary_key
    assert key is not None
    campaign_id = int(key[0])
    unit_rows = conn.execute(
        sa.select(units.c.id, units.c.code)
        .where(
            units.c.id.in_(
                sa.select(draw_members.c.unit_id).where(draw_members.c.draw_id == draw_id)
            )
        )
        .order_by(units.c.id)
    ).all()
    codes = {code for _, code in unit_rows}
    unknown = sorted(set(spec.unit_quotas) - codes)
    if unknown:
        raise InputError(
            f"quota for unit(s) not in the draw: {', '.join(unknown)} / 配额单位不在样本中"
        )
    if unit_rows:
        conn.execute(
            campaign_units.insert(),
            [
                {
                    "campaign_id": campaign_id,
                    "unit_id": uid,
                    "quota": spec.unit_quotas.get(code, spec.default_quota),
                    "completes": 0,
                }
                for uid, code in unit_rows
            ],
        )
    conn.execute(
        campaign_contacts.insert().from_select(
            [
                "campaign_id",
                "contact_id",
                "unit_id",
                "position",
                "attempts",
                "final",
                "updated_at",
            ],
            sa.select(
                sa.literal(campaign_id),
                draw_members.c.contact_id,
                draw_members.c.unit_id,
                draw_members.c.position,
                sa.literal(0),
                sa.false(),
                sa.literal(now),
            ).where(draw_members.c.draw_id == draw_id),
        )
    )
    return int(campaign_id)


def thd_get_campaign(conn: sa.Connection, key: int | str) -> Campaign | None:
    """A campaign by id or by name."""
    col = campaigns.c.id if isinstance(key, int) else campaigns.c.name
    row = conn.execute(sa.select(campaigns).where(col == key)).first()
    return _campaign(row) if row else None


def thd_list_campaigns(conn: sa.Connection, status: Iterable[str] | None = None) -> list[Campaign]:
    q = sa.select(campaigns).order_by(campaigns.c.priority.desc(), campaigns.c.id)
    if status is not None:
        q = q.where(campaigns.c.status.in_(list(status)))
    return [_campaign(r) for r in conn.execute(q)]


def thd_set_status(conn: sa.Connection, campaign_id: int, status: str, now: float) -> None:
    if status not in STATUSES:
        raise InputError(
            f"status {status!r}: expected one of {', '.join(STATUSES)} / 未知的项目状态"
        )
    conn.execute(
        campaigns.update()
        .where(campaigns.c.id == campaign_id)
        .values(status=status, updated_at=now)
    )


# ---------------------------------------------------------------------------
# The hopper's input
# ---------------------------------------------------------------------------


def _in_zones(
    conn: sa.Connection, campaign_id: int, zones: Collection[str]
) -> sa.ColumnElement[bool]:
    """Contacts whose time zone (theirs, else the campaign's) is one of C{zones}."""
    default = conn.execute(
        sa.select(campaigns.c.timezone).where(campaigns.c.id == campaign_id)
    ).scalar()
    named = sorted(zones)
    return sa.or_(
        contacts.c.timezone.in_(named),
        sa.and_(contacts.c.timezone.is_(None), sa.literal(default in zones)),
    )


def thd_load_candidates(
    conn: sa.Connection,
    campaign_id: int,
    now: float,
    per_unit: int = 50,
    open_zones: Collection[str] | None = None,
) -> list[Candidate]:
    """Up to C{per_unit} due contacts per unit (retries by due time, then fresh), plus due
    appointments, each flagged when its number is on the do-not-call list and carrying its
    own time zone. With C{open_zones}, only contacts whose zone (theirs, else the
    campaign's) is in it are loaded, so contacts whose window is closed do not fill a
    unit's C{per_unit} places."""
    cc = campaign_contacts
    is_dnc = sa.exists().where(dnc.c.number == contacts.c.number)
    zone_ok = sa.true() if open_zones is None else _in_zones(conn, campaign_id, open_zones)
    ranked = (
        sa.select(
            cc.c.contact_id,
            cc.c.unit_id,
            cc.c.position,
            cc.c.attempts,
            cc.c.next_at,
            sa.func.row_number()
            .over(
                partition_by=cc.c.unit_id,
                order_by=[
                    sa.case((cc.c.next_at.is_(None), 1), else_=0),
                    cc.c.next_at,
                    cc.c.position,
                ],
            )
            .label("rank"),
        )
        .select_from(
            cc if open_zones is None else cc.join(contacts, contacts.c.id == cc.c.contact_id)
        )
        .where(
            cc.c.campaign_id == campaign_id,
            cc.c.final.is_(False),
            cc.c.live_attempt_id.is_(None),
            sa.or_(cc.c.next_at.is_(None), cc.c.next_at <= now),
            zone_ok,
        )
        .subquery()
    )
    q = (
        sa.select(
            ranked.c.contact_id,
            ranked.c.unit_id,
            ranked.c.position,
            ranked.c.attempts,
            ranked.c.next_at,
            contacts.c.number,
            contacts.c.timezone,
            is_dnc.label("dnc"),
        )
        .join(contacts, contacts.c.id == ranked.c.contact_id)
        .where(ranked.c.rank <= per_unit)
    )
    out = [_candidate(r, next_at=r.next_at) for r in conn.execute(q)]
    # one row per contact with a pending appointment due (the earliest)
    per_contact = (
        cc.c.contact_id,
        cc.c.unit_id,
        cc.c.position,
        cc.c.attempts,
        contacts.c.number,
        contacts.c.timezone,
    )
    cb = (
        sa.select(
            *per_contact,
            sa.func.min(callbacks.c.due_at).label("due_at"),
            is_dnc.label("dnc"),
        )
        .join(contacts, contacts.c.id == cc.c.contact_id)
        .join(
            callbacks,
            sa.and_(
                callbacks.c.campaign_id == cc.c.campaign_id,
                callbacks.c.contact_id == cc.c.contact_id,
            ),
        )
        .where(
            cc.c.campaign_id == campaign_id,
            cc.c.final.is_(False),
            cc.c.live_attempt_id.is_(None),
            callbacks.c.status == "pending",
            callbacks.c.due_at <= now,
            zone_ok,
        )
        .group_by(*per_contact)
    )
    due = [_candidate(r, callback_at=r.due_at) for r in conn.execute(cb)]
    return due + out  # the hopper keeps the first row per contact: the appointment


def _candidate(
    row: sa.Row[Any], *, next_at: float | None = None, callback_at: float | None = None
) -> Candidate:
    """A hopper candidate from a loader row (a queued contact, or one with an appointment)."""
    return Candidate(
        contact_id=row.contact_id,
        unit_id=row.unit_id,
        number=row.number,
        position=row.position,
        attempts=row.attempts,
        next_at=next_at,
        callback_at=callback_at,
        dnc=bool(row.dnc),
        timezone=row.timezone,
    )


def thd_sample_zones(conn: sa.Connection, campaign_id: int) -> set[str]:
    """The time zones of the campaign's unfinished contacts (a contact without one counts
    as the campaign's zone): dialing is possible while the windows are open in any."""
    cc = campaign_contacts
    zone = sa.func.coalesce(contacts.c.timezone, campaigns.c.timezone)
    q = (
        sa.select(zone)
        .distinct()
        .select_from(
            cc.join(contacts, contacts.c.id == cc.c.contact_id).join(
                campaigns, campaigns.c.id == cc.c.campaign_id
            )
        )
        .where(cc.c.campaign_id == campaign_id, cc.c.final.is_(False))
    )
    return set(conn.execute(q).scalars())


def thd_unit_states(conn: sa.Connection, campaign_id: int) -> dict[int, UnitState]:
    """Quota, completes and lines in flight per unit of the campaign."""
    cc = campaign_contacts
    live = (
        sa.select(cc.c.unit_id, sa.func.count().label("n"))
        .where(cc.c.campaign_id == campaign_id, cc.c.live_attempt_id.is_not(None))
        .group_by(cc.c.unit_id)
    )
    live_by_unit = {r.unit_id: r.n for r in conn.execute(live)}
    dialed = (
        sa.select(cc.c.unit_id, sa.func.sum(cc.c.attempts).label("n"))
        .where(cc.c.campaign_id == campaign_id)
        .group_by(cc.c.unit_id)
    )
    dialed_by_unit = {r.unit_id: int(r.n or 0) for r in conn.execute(dialed)}
    rows = conn.execute(
        sa.select(campaign_units).where(campaign_units.c.campaign_id == campaign_id)
    )
    return {
        r.unit_id: UnitState(
            r.unit_id,
            r.quota,
            r.completes,
            live_by_unit.get(r.unit_id, 0),
            dialed_by_unit.get(r.unit_id, 0) + live_by_unit.get(r.unit_id, 0),
        )
        for r in rows
    }


def thd_live_numbers(conn: sa.Connection) -> set[str]:
    """Numbers with a live attempt in any campaign (same number under two units/campaigns)."""
    q = (
        sa.select(contacts.c.number)
        .join(campaign_contacts, campaign_contacts.c.contact_id == contacts.c.id)
        .where(campaign_contacts.c.live_attempt_id.is_not(None))
    )
    return {r.number for r in conn.execute(q)}


@dataclass(frozen=True)
class HopperInput:
    candidates: list[Candidate]
    units: dict[int, UnitState]
    live_numbers: set[str]
    open_contacts: int  # contacts not finished (0: the campaign is exhausted)


def thd_hopper_input(
    conn: sa.Connection,
    campaign_id: int,
    now: float,
    per_unit: int = 50,
    open_zones: Collection[str] | None = None,
) -> HopperInput:
    """Everything the hopper needs, read in one go (see L{thd_load_candidates} for
    C{open_zones})."""
    open_contacts = conn.execute(
        sa.select(sa.func.count()).where(
            campaign_contacts.c.campaign_id == campaign_id,
            campaign_contacts.c.final.is_(False),
        )
    ).scalar_one()
    return HopperInput(
        thd_load_candidates(conn, campaign_id, now, per_unit, open_zones),
        thd_unit_states(conn, campaign_id),
        thd_live_numbers(conn),
        int(open_contacts),
    )


def thd_finish_dnc(
    conn: sa.Connection, campaign_id: int, contact_ids: Sequence[int], now: float
) -> None:
    """Finish contacts found on the do-not-call list (never dialed)."""
    if not contact_ids:
        return
    conn.execute(
        campaign_contacts.update()
        .where(
            campaign_contacts.c.campaign_id == campaign_id,
            campaign_contacts.c.contact_id.in_(list(contact_ids)),
            campaign_contacts.c.live_attempt_id.is_(None),
        )
        .values(final=True, last_disposition=OUTCOMES["dnc"].aapor, updated_at=now)
    )


# ---------------------------------------------------------------------------
# Attempts
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """The result of L{thd_claim_attempt}: an attempt id, or why there is none."""

    attempt_id: int | None
    reason: str  # claimed | dnc | busy (already live or final)
    number: str | None = None
    attempt_no: int = 0
    unit_id: int = 0


def thd_claim_attempt(
    conn: sa.Connection,
    *,
    campaign_id: int,
    contact_id: int,
    action_id: str,
    uniqueid_prefix: str,
    server: str | None,
    now: float,
) -> Claim:
    """Lock the contact and write the attempt, all before Originate (one transaction).

    Run with C{do_with_transaction}. The attempt's ChannelId is C{uniqueid_prefix} + its id.
    """
    cc = campaign_contacts
    row = conn.execute(
        sa.select(cc.c.unit_id, cc.c.attempts, contacts.c.number)
        .join(contacts, contacts.c.id == cc.c.contact_id)
        .where(cc.c.campaign_id == campaign_id, cc.c.contact_id == contact_id)
    ).first()
    if row is None:
        return Claim(None, "busy")
    if conn.execute(sa.select(dnc.c.number).where(dnc.c.number == row.number)).first():
        thd_finish_dnc(conn, campaign_id, [contact_id], now)
        return Claim(None, "dnc")
    locked = conn.execute(
        cc.update()
        .where(
            cc.c.campaign_id == campaign_id,
            cc.c.contact_id == contact_id,
            cc.c.live_attempt_id.is_(None),
            cc.c.final.is_(False),
        )
        .values(live_attempt_id=-1, updated_at=now)
    )
    if locked.rowcount != 1:
        return Claim(None, "busy")
    attempt_no = row.attempts + 1
    inserted = conn.execute(
        attempts.insert().values(
            campaign_id=campaign_id,
            contact_id=contact_id,
            unit_id=row.unit_id,
            attempt_no=attempt_no,
            status=CallState.PENDING.value,
            created_at=now,
            action_id=action_id,
            server=server,
            abandoned=False,
        )
    ).inserted_primary_key
    assert inserted is not None
    attempt_id = inserted[0]
    conn.execute(
        attempts.update()
        .where(attempts.c.id == attempt_id)
        .values(uniqueid=f"{uniqueid_prefix}{attempt_id}")
    )
    conn.execute(
        cc.update()
        .where(cc.c.campaign_id == campaign_id, cc.c.contact_id == contact_id)
        .values(live_attempt_id=attempt_id)
    )
    return Claim(int(attempt_id), "claimed", row.number, attempt_no, row.unit_id)


_UPDATABLE = {
    "status",
    "originated_at",
    "answered_at",
    "bridged_at",
    "channel",
    "server",
    "mode",
    "agent",
    "abandoned",
    "originate_reason",
    "hangup_cause",
    "detail",
}


def thd_update_attempt(conn: sa.Connection, attempt_id: int, **values: Any) -> bool:
    """Record progress on a live attempt; an ended attempt is left alone."""
    bad = set(values) - _UPDATABLE
    if bad:
        raise ValueError(f"not updatable: {sorted(bad)}")
    result = conn.execute(
        attempts.update()
        .where(attempts.c.id == attempt_id, attempts.c.status != CallState.ENDED.value)
        .values(**values)
    )
    return bool(result.rowcount)


def _facts_json(call: Call) -> dict[str, Any]:
    facts = dataclasses.asdict(call.facts)
    if facts.get("survey") is not None:
        facts["survey"] = str(facts["survey"])
    return facts


def thd_finish_attempt(
    conn: sa.Connection,
    call: Call,
    *,
    rules: RetryRules,
    schedule: Schedule | None,
    now: float,
    callback_at: float | None = None,
) -> RetryDecision | None:
    """Write the disposition, release the contact and apply the retry decision (one
    transaction). Returns None when the attempt had already ended (idempotent)."""
    assert call.ended, "only an ended call can be finished"
    if call.facts.survey is None:
        # The IVR runner marks the attempt with the survey's outcome as it ends; a result
        # the controller never heard of (lost event, restart) still counts.
        stored = conn.execute(
            sa.select(attempts.c.outcome).where(attempts.c.id == call.attempt_id)
        ).scalar()
        if stored in _SURVEY_RESULTS:
            call = dataclasses.replace(
                call, facts=dataclasses.replace(call.facts, survey=SurveyResult(stored), lost=False)
            )
    outcome = call.outcome
    assert outcome is not None
    ended = conn.execute(
        attempts.update()
        .where(attempts.c.id == call.attempt_id, attempts.c.status != CallState.ENDED.value)
        .values(
            status=CallState.ENDED.value,
            ended_at=call.ended_at if call.ended_at is not None else now,
            originated_at=call.originated_at,
            answered_at=call.answered_at,
            bridged_at=call.bridged_at,
            channel=call.channel,
            originate_reason=call.facts.reason,
            hangup_cause=call.facts.hangup_cause,
            disposition=outcome.aapor,
            outcome=outcome.name,
            mode=call.mode,
            agent=call.agent,
            abandoned=call.facts.abandoned,
            detail=_facts_json(call),
        )
    )
    if ended.rowcount != 1:
        return None
    cc = campaign_contacts
    state = conn.execute(
        sa.select(cc.c.attempts).where(
            cc.c.campaign_id == call.campaign_id, cc.c.contact_id == call.contact_id
        )
    ).first()
    attempts_before = state.attempts if state else 0
    refusals = 0
    if outcome.retry_class == "refusal":  # earlier refusals matter only for another one
        refusals = conn.execute(
            sa.select(sa.func.count()).where(
                attempts.c.campaign_id == call.campaign_id,
                attempts.c.contact_id == call.contact_id,
                attempts.c.id != call.attempt_id,
                attempts.c.outcome.in_(
                    [o.name for o in OUTCOMES.values() if o.retry_class == "refusal"]
                ),
            )
        ).scalar_one()
    decision = decide(
        outcome,
        attempts_before=attempts_before,
        now=now,
        rules=rules,
        schedule=schedule,
        callback_at=callback_at,
        refusals_before=refusals,
    )
    conn.execute(
        cc.update()
        .where(
            cc.c.campaign_id == call.campaign_id,
            cc.c.contact_id == call.contact_id,
            cc.c.live_attempt_id == call.attempt_id,
        )
        .values(
            live_attempt_id=None,
            attempts=decision.attempts,
            next_at=decision.next_at,
            final=decision.final,
            last_disposition=outcome.aapor,
            updated_at=now,
        )
    )
    if outcome.name == "complete":
        conn.execute(
            campaign_units.update()
            .where(
                campaign_units.c.campaign_id == call.campaign_id,
                campaign_units.c.unit_id == call.unit_id,
            )
            .values(completes=campaign_units.c.completes + 1)
        )
    # An appointment that was due is now used; a new one is booked.
    conn.execute(
        callbacks.update()
        .where(
            callbacks.c.campaign_id == call.campaign_id,
            callbacks.c.contact_id == call.contact_id,
            callbacks.c.status == "pending",
            callbacks.c.due_at <= (call.originated_at or now),
        )
        .values(status="done", attempt_id=call.attempt_id)
    )
    if callback_at is not None and not decision.final:
        conn.execute(
            callbacks.insert().values(
                campaign_id=call.campaign_id,
                contact_id=call.contact_id,
                due_at=callback_at,
                created_at=now,
                attempt_id=call.attempt_id,
                agent=call.agent,
                status="pending",
            )
        )
    return dataclasses.replace(decision, outcome=outcome.name)


@dataclass(frozen=True)
class LiveAttempt:
    """An attempt not yet ended, as stored (for reconciliation after a restart)."""

    id: int
    campaign_id: int
    contact_id: int
    unit_id: int
    attempt_no: int
    status: str
    action_id: str
    uniqueid: str | None
    channel: str | None
    server: str | None
    created_at: float
    originated_at: float | None
    answered_at: float | None
    bridged_at: float | None
    mode: str | None
    agent: str | None
    abandoned: bool


def thd_live_attempts(conn: sa.Connection, campaign_id: int | None = None) -> list[LiveAttempt]:
    q = sa.select(attempts).where(attempts.c.status.in_(_LIVE)).order_by(attempts.c.id)
    if campaign_id is not None:
        q = q.where(attempts.c.campaign_id == campaign_id)
    return [
        LiveAttempt(
            id=r.id,
            campaign_id=r.campaign_id,
            contact_id=r.contact_id,
            unit_id=r.unit_id,
            attempt_no=r.attempt_no,
            status=r.status,
            action_id=r.action_id,
            uniqueid=r.uniqueid,
            channel=r.channel,
            server=r.server,
            created_at=r.created_at,
            originated_at=r.originated_at,
            answered_at=r.answered_at,
            bridged_at=r.bridged_at,
            mode=r.mode,
            agent=r.agent,
            abandoned=bool(r.abandoned),
        )
        for r in conn.execute(q)
    ]


def call_from_live(a: LiveAttempt) -> Call:
    """Rebuild the in-memory L{Call} of a stored live attempt."""
    from dialer.campaign.dispositions import CallFacts

    state = CallState(a.status)
    answered = a.answered_at is not None
    return Call(
        attempt_id=a.id,
        campaign_id=a.campaign_id,
        contact_id=a.contact_id,
        unit_id=a.unit_id,
        attempt_no=a.attempt_no,
        action_id=a.action_id,
        uniqueid=a.uniqueid or "",
        created_at=a.created_at,
        state=state,
        server=a.server,
        channel=a.channel,
        originated_at=a.originated_at,
        answered_at=a.answered_at,
        bridged_at=a.bridged_at,
        mode=a.mode,
        agent=a.agent,
        channel_seen=a.channel is not None or answered,
        facts=CallFacts(
            originate_response="Success" if answered else None,
            reason=4 if answered else None,
            answered=answered,
            bridged=a.bridged_at is not None,
            ivr=state is CallState.IVR or a.mode == "ivr",
            abandoned=a.abandoned,
        ),
    )


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitProgress:
    unit_id: int
    code: str
    name: str
    quota: int | None
    completes: int
    contacts: int
    finished: int
    dialed: int  # contacts with at least one attempt
    live: int


@dataclass(frozen=True)
class CampaignFigures:
    campaign: Campaign
    units: list[UnitProgress]
    dispositions: list[tuple[str, str, int]]  # (outcome, AAPOR code, attempts)
    attempts: int
    live_answered: int  # denominator of the abandonment rate
    abandoned: int
    live_answered_24h: int
    abandoned_24h: int
    live_answered_30d: int
    abandoned_30d: int

    @staticmethod
    def rate(abandoned: int, live: int) -> float:
        return abandoned / live if live else 0.0


_NOT_LIVE_ANSWER = ("machine", "fax", "failed")


def thd_campaign_figures(conn: sa.Connection, campaign_id: int, now: float) -> CampaignFigures:
    """Per-unit progress, dispositions and the abandonment ledger (abandoned / live-answered)."""
    camp = thd_get_campaign(conn, campaign_id)
    if camp is None:
        raise InputError(f"campaign {campaign_id} not found / 找不到调查项目")
    cc = campaign_contacts
    per_unit = conn.execute(
        sa.select(
            cc.c.unit_id,
            sa.func.count().label("contacts"),
            sa.func.sum(sa.case((cc.c.final.is_(True), 1), else_=0)).label("finished"),
            sa.func.sum(sa.case((cc.c.attempts > 0, 1), else_=0)).label("dialed"),
            sa.func.sum(sa.case((cc.c.live_attempt_id.is_not(None), 1), else_=0)).label("live"),
        )
        .where(cc.c.campaign_id == campaign_id)
        .group_by(cc.c.unit_id)
    )
    counts = {r.unit_id: r for r in per_unit}
    unit_rows = conn.execute(
        sa.select(campaign_units, units.c.code, units.c.name)
        .join(units, units.c.id == campaign_units.c.unit_id)
        .where(campaign_units.c.campaign_id == campaign_id)
        .order_by(units.c.code)
    )
    progress = []
    for r in unit_rows:
        c = counts.get(r.unit_id)
        progress.append(
            UnitProgress(
                unit_id=r.unit_id,
                code=r.code,
                name=r.name,
                quota=r.quota,
                completes=r.completes,
                contacts=int(c.contacts) if c else 0,
                finished=int(c.finished or 0) if c else 0,
                dialed=int(c.dialed or 0) if c else 0,
                live=int(c.live or 0) if c else 0,
            )
        )
    disp = conn.execute(
        sa.select(attempts.c.outcome, attempts.c.disposition, sa.func.count().label("n"))
        .where(attempts.c.campaign_id == campaign_id, attempts.c.outcome.is_not(None))
        .group_by(attempts.c.outcome, attempts.c.disposition)
        .order_by(sa.func.count().desc())
    )
    dispositions = [(r.outcome, r.disposition, int(r.n)) for r in disp]
    total = conn.execute(
        sa.select(sa.func.count()).where(attempts.c.campaign_id == campaign_id)
    ).scalar_one()

    def ledger(since: float | None) -> tuple[int, int]:
        live_q = sa.and_(
            attempts.c.campaign_id == campaign_id,
            attempts.c.answered_at.is_not(None),
            sa.or_(attempts.c.outcome.is_(None), attempts.c.outcome.not_in(_NOT_LIVE_ANSWER)),
        )
        if since is not None:
            live_q = sa.and_(live_q, attempts.c.answered_at >= since)
        row = conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.sum(sa.case((attempts.c.abandoned.is_(True), 1), else_=0)),
            ).where(live_q)
        ).one()
        return int(row[0]), int(row[1] or 0)

    live_all, ab_all = ledger(None)
    live_d, ab_d = ledger(now - 86400)
    live_m, ab_m = ledger(now - 30 * 86400)
    return CampaignFigures(
        camp, progress, dispositions, int(total), live_all, ab_all, live_d, ab_d, live_m, ab_m
    )


def outcome_of(name: str) -> Outcome:
    return OUTCOMES[name]
