"""Campaign store functions on SQLite and PostgreSQL."""

import pytest

from dialer.campaign.calls import (
    Answered,
    Bridged,
    Call,
    HungUp,
    OriginateResult,
    OriginateSent,
    SurveyDone,
    advance,
)
from dialer.campaign.dispositions import SurveyResult
from dialer.campaign.hopper import select
from dialer.campaign.retries import RetryRules
from dialer.errors import InputError
from dialer.store import campaigns as store
from tests.campaign.storehelp import add_dnc, make_campaign, seed_frame

NOW = 1_000_000.0


def claim(conn, cid, contact_id, n=1):
    return store.thd_claim_attempt(
        conn,
        campaign_id=cid,
        contact_id=contact_id,
        action_id=f"act-{contact_id}-{n}",
        uniqueid_prefix="mny-1-",
        server="pbx1",
        now=NOW,
    )


def call_for(c: store.Claim, cid, contact_id, unit_id):
    return Call(
        attempt_id=c.attempt_id,
        campaign_id=cid,
        contact_id=contact_id,
        unit_id=unit_id,
        attempt_no=c.attempt_no,
        action_id="x",
        uniqueid=f"mny-1-{c.attempt_id}",
        created_at=NOW,
    )


def played_call(engine, *events, **campaign):
    """Seed a frame and a campaign, claim its first contact and play C{events} on that call."""
    with engine.begin() as conn:
        frame = seed_frame(conn)
        cid = make_campaign(conn, **campaign)
    contact_id, (unit_id, _n, _p) = next(iter(frame["contacts"].items()))
    with engine.begin() as conn:
        c = claim(conn, cid, contact_id)
    call = call_for(c, cid, contact_id, unit_id)
    for e in events:
        call = advance(call, e)
    return cid, contact_id, unit_id, call


def test_create_campaign_copies_draw(engine):
    """A campaign gets one state row per draw member and its units with quotas."""
    with engine.begin() as conn:
        seed_frame(conn)
        cid = make_campaign(conn, default_quota=3, unit_quotas={"u2": 1})
        units = store.thd_unit_states(conn, cid)
        camp = store.thd_get_campaign(conn, "c1")
    assert camp.id == cid and camp.status == "draft"
    assert sorted((u.quota, u.completes) for u in units.values()) == [(1, 0), (3, 0)]
    with engine.connect() as conn:
        cands = store.thd_load_candidates(conn, cid, NOW)
    assert len(cands) == 10 and all(c.next_at is None and not c.dnc for c in cands)


def test_create_rejects_bad_input(engine):
    """Unknown draw, duplicate name, bad mode and template are refused with a message."""
    with engine.begin() as conn:
        seed_frame(conn)
        make_campaign(conn)
    for kw, msg in [
        ({"name": "c1"}, "already exists"),
        ({"name": "c2", "mode": "turbo"}, "mode"),
        ({"name": "c3", "dial_template": "PJSIP/x"}, "number"),
        ({"name": "c5", "dial_template": "PJSIP/{number}@{trunk}"}, "braces"),
        ({"name": "c4", "unit_quotas": {"zz": 1}}, "zz"),
    ]:
        with engine.begin() as conn, pytest.raises(InputError, match=msg):
            make_campaign(conn, **kw)


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"caller_id": '"Survey"\r\nAction: Hangup <5550100>'}, r"caller ID.*\\r.*控制字符"),
        ({"caller_id": "Survey"}, r"caller ID: 'Survey'.*主叫号码格式"),
        ({"caller_id": "555-abc"}, r"caller ID: '555-abc'"),
        ({"dial_template": "PJSIP/{number}@trunk\nAction: Hangup"}, r"dial template.*\\n"),
        ({"dial_template": "{number}"}, r"dial template: '\{number\}'.*TECH/RESOURCE"),
        ({"name": " "}, r"campaign name ' '.*项目名称"),
        ({"retry_rules": {"delays": {"busy": "inf"}}}, r"retry_rules\.delays\.busy"),
        ({"retry_rules": {"delays": {"busy": 1e300}}}, r"retry_rules\.delays\.busy"),
        ({"timezone": "Mars/Olympus"}, r"campaign\.timezone.*未知时区"),
        ({"default_quota": -5}, r"default quota -5.*配额"),
        ({"abandon_target": 1.5}, r"abandon target 1\.5"),
    ],
)
def test_create_refuses_what_would_fail_at_dial_time(engine, kw, msg):
    """The store itself refuses values that would break Originate or the retry arithmetic."""
    with engine.begin() as conn:
        seed_frame(conn)
    with engine.begin() as conn, pytest.raises(InputError, match=msg):
        make_campaign(conn, **kw)
    with engine.connect() as conn:
        assert store.thd_list_campaigns(conn) == []


@pytest.mark.parametrize(
    "caller_id",
    [
        '"Hechi survey" <07780000000>',
        "Survey Dialer <5550100>",
        "<+867780000000>",
        "5550100",
        '"河池民意调查" <07780000000>',
    ],
)
def test_create_accepts_caller_id_forms(engine, caller_id):
    """Each caller-ID form Asterisk reads a number from is stored as given."""
    with engine.begin() as conn:
        seed_frame(conn)
        cid = make_campaign(conn, caller_id=caller_id)
        assert store.thd_get_campaign(conn, cid).caller_id == caller_id


def test_claim_writes_attempt_and_locks_contact(engine):
    """A claim writes the pending attempt with ActionID and ChannelId, and a second claim is refused."""
    with engine.begin() as conn:
        frame = seed_frame(conn)
        cid = make_campaign(conn)
    contact_id = next(iter(frame["contacts"]))
    with engine.begin() as conn:
        c = claim(conn, cid, contact_id)
    assert c.reason == "claimed" and c.attempt_no == 1 and c.number.startswith("+86")
    with engine.begin() as conn:
        again = claim(conn, cid, contact_id, n=2)
    assert again.attempt_id is None and again.reason == "busy"
    with engine.connect() as conn:
        live = store.thd_live_attempts(conn, cid)
        cands = store.thd_load_candidates(conn, cid, NOW)
        units = store.thd_unit_states(conn, cid)
        numbers = store.thd_live_numbers(conn)
    assert [(a.id, a.status, a.action_id, a.uniqueid) for a in live] == [
        (c.attempt_id, "pending", f"act-{contact_id}-1", f"mny-1-{c.attempt_id}")
    ]
    assert contact_id not in {x.contact_id for x in cands}
    assert sum(u.live for u in units.values()) == 1
    assert numbers == {c.number}


def test_claim_rechecks_dnc(engine):
    """A number put on the DNC list after the hopper ran is caught by the claim and finished."""
    with engine.begin() as conn:
        frame = seed_frame(conn)
        cid = make_campaign(conn)
    contact_id, (_u, number, _p) = next(iter(frame["contacts"].items()))
    with engine.begin() as conn:
        add_dnc(conn, number)
        c = claim(conn, cid, contact_id)
    assert c.reason == "dnc" and c.attempt_id is None
    with engine.connect() as conn:
        assert contact_id not in {x.contact_id for x in store.thd_load_candidates(conn, cid, NOW)}
        assert store.thd_live_attempts(conn, cid) == []


def test_load_flags_dnc(engine):
    """The loader flags DNC numbers so the hopper can finish them."""
    with engine.begin() as conn:
        frame = seed_frame(conn)
        cid = make_campaign(conn)
        contact_id, (_u, number, _p) = next(iter(frame["contacts"].items()))
        add_dnc(conn, number)
        cands = store.thd_load_candidates(conn, cid, NOW)
        sel = select(cands, store.thd_unit_states(conn, cid), now=NOW, wanted=3)
        store.thd_finish_dnc(conn, cid, sel.dnc, NOW)
        after = store.thd_load_candidates(conn, cid, NOW)
    assert sel.dnc == [contact_id]
    assert contact_id not in {c.contact_id for c in after}


def test_finish_retry_and_idempotence(engine):
    """Finishing writes the disposition, releases the lock and schedules the retry; twice is a no-op."""
    cid, contact_id, _unit_id, call = played_call(
        engine,
        OriginateSent(NOW),
        OriginateResult(NOW + 1, "Failure", 5),
        HungUp(NOW + 1, 17, primary=False),
        HungUp(NOW + 1, 0, primary=True),
    )
    with engine.begin() as conn:
        d = store.thd_finish_attempt(conn, call, rules=RetryRules(), schedule=None, now=NOW + 2)
    assert not d.final and d.next_at == NOW + 2 + 900 and d.attempts == 1
    with engine.begin() as conn:
        assert (
            store.thd_finish_attempt(conn, call, rules=RetryRules(), schedule=None, now=NOW + 3)
            is None
        )
    with engine.connect() as conn:
        assert store.thd_live_attempts(conn, cid) == []
        due_later = store.thd_load_candidates(conn, cid, NOW + 2 + 900)
        figures = store.thd_campaign_figures(conn, cid, NOW + 10)
    assert contact_id in {x.contact_id for x in due_later}
    assert figures.dispositions == [("busy", "3.12", 1)] and figures.attempts == 1


def test_complete_counts_against_quota(engine):
    """A complete finishes the contact and fills its unit's quota, which stops the unit."""
    cid, _contact_id, unit_id, call = played_call(
        engine,
        OriginateSent(NOW),
        OriginateResult(NOW + 1, "Success", 4),
        Bridged(NOW + 1.1, "agent1"),
        SurveyDone(NOW + 100, SurveyResult.COMPLETE),
        HungUp(NOW + 101, 16, primary=True),
        default_quota=1,
    )
    with engine.begin() as conn:
        d = store.thd_finish_attempt(conn, call, rules=RetryRules(), schedule=None, now=NOW + 101)
    assert d.final
    with engine.connect() as conn:
        units = store.thd_unit_states(conn, cid)
        cands = store.thd_load_candidates(conn, cid, NOW + 200)
        figures = store.thd_campaign_figures(conn, cid, NOW + 200)
    assert units[unit_id].full
    sel = select(cands, units, now=NOW + 200, wanted=100)
    assert {p.unit_id for p in sel.picks} == {u for u in units if u != unit_id}
    (u1,) = [u for u in figures.units if u.unit_id == unit_id]
    assert (u1.completes, u1.finished, u1.dialed) == (1, 1, 1)
    assert figures.live_answered == 1 and figures.abandoned == 0


def test_callback_booked_and_due_first(engine):
    """An appointment is booked on finish and the contact comes back as a due callback."""
    cid, contact_id, _unit_id, call = played_call(
        engine,
        OriginateSent(NOW),
        Answered(NOW + 1),
        Bridged(NOW + 1.1, "a"),
        SurveyDone(NOW + 30, SurveyResult.CALLBACK),
        HungUp(NOW + 31, 16, primary=True),
    )
    due = NOW + 3600
    with engine.begin() as conn:
        d = store.thd_finish_attempt(
            conn, call, rules=RetryRules(), schedule=None, now=NOW + 31, callback_at=due
        )
    assert d.next_at == due and d.reason == "callback"
    with engine.connect() as conn:
        before = store.thd_load_candidates(conn, cid, due - 1)
        at_due = store.thd_load_candidates(conn, cid, due)
    assert contact_id not in {x.contact_id for x in before}
    sel = select(at_due, store_units(engine, cid), now=due, wanted=1)
    assert [(p.contact_id, p.callback) for p in sel.picks] == [(contact_id, True)]


def store_units(engine, cid):
    with engine.connect() as conn:
        return store.thd_unit_states(conn, cid)


def test_abandonment_ledger(engine):
    """abandoned / live-answered, machines excluded from the denominator."""
    with engine.begin() as conn:
        frame = seed_frame(conn)
        cid = make_campaign(conn)
    items = list(frame["contacts"].items())[:3]
    kinds = ["abandoned", "machine", "agent"]
    for (contact_id, (unit_id, _n, _p)), kind in zip(items, kinds, strict=True):
        with engine.begin() as conn:
            c = claim(conn, cid, contact_id)
        call = call_for(c, cid, contact_id, unit_id)
        call = advance(advance(call, OriginateSent(NOW)), OriginateResult(NOW + 1, "Success", 4))
        if kind == "abandoned":
            from dialer.campaign.calls import Routed

            call = advance(call, Routed(NOW + 3, "ivr", abandoned=True))
        elif kind == "machine":
            from dialer.campaign.calls import MachineDetected

            call = advance(call, MachineDetected(NOW + 4))
        else:
            call = advance(call, Bridged(NOW + 1.2, "a"))
            call = advance(call, SurveyDone(NOW + 50, SurveyResult.REFUSAL))
        call = advance(call, HungUp(NOW + 60, 16, primary=True))
        with engine.begin() as conn:
            store.thd_finish_attempt(conn, call, rules=RetryRules(), schedule=None, now=NOW + 60)
    with engine.connect() as conn:
        f = store.thd_campaign_figures(conn, cid, NOW + 100)
        f_later = store.thd_campaign_figures(conn, cid, NOW + 2 * 86400)
    assert (f.live_answered, f.abandoned) == (2, 1)
    assert (f.live_answered_24h, f.abandoned_24h) == (2, 1)
    assert (f_later.live_answered_24h, f_later.live_answered_30d, f_later.live_answered) == (
        0,
        2,
        2,
    )


def test_set_status_and_list(engine):
    """Status changes are stored; listing filters by status."""
    with engine.begin() as conn:
        seed_frame(conn)
        cid = make_campaign(conn)
        store.thd_set_status(conn, cid, "running", NOW)
        assert [c.name for c in store.thd_list_campaigns(conn, ["running"])] == ["c1"]
        assert store.thd_list_campaigns(conn, ["paused"]) == []
        with pytest.raises(InputError):
            store.thd_set_status(conn, cid, "flying", NOW)


def test_call_from_live_roundtrip(engine):
    """A stored live attempt rebuilds into a Call with its ids and answered state."""
    with engine.begin() as conn:
        frame = seed_frame(conn)
        cid = make_campaign(conn)
    contact_id = next(iter(frame["contacts"]))
    with engine.begin() as conn:
        c = claim(conn, cid, contact_id)
        store.thd_update_attempt(
            conn, c.attempt_id, status="answered", answered_at=NOW + 3, channel="Local/x;1"
        )
        (live,) = store.thd_live_attempts(conn, cid)
    call = store.call_from_live(live)
    assert call.attempt_id == c.attempt_id and call.facts.answered and call.channel == "Local/x;1"
    assert call.uniqueid == f"mny-1-{c.attempt_id}"


def test_finish_keeps_ivr_outcome(engine):
    """An outcome the IVR runner wrote on the attempt wins when the controller never heard the result."""
    from dialer.store.schema import attempts

    with engine.begin() as conn:
        frame = seed_frame(conn)
        cid = make_campaign(conn)
    contact_id, (unit_id, _n, _p) = next(iter(frame["contacts"].items()))
    with engine.begin() as conn:
        c = claim(conn, cid, contact_id)
        conn.execute(
            attempts.update()
            .where(attempts.c.id == c.attempt_id)
            .values(outcome="partial", disposition="1.2")
        )
    call = call_for(c, cid, contact_id, unit_id)
    from dialer.campaign.calls import IvrStarted, Lost

    for e in [OriginateSent(NOW), Answered(NOW + 1), IvrStarted(NOW + 2), Lost(NOW + 60)]:
        call = advance(call, e)
    with engine.begin() as conn:
        d = store.thd_finish_attempt(conn, call, rules=RetryRules(), schedule=None, now=NOW + 60)
        row = conn.execute(attempts.select().where(attempts.c.id == c.attempt_id)).one()
    assert d.final and (row.outcome, row.disposition) == ("partial", "1.2")
