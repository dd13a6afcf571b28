"""Per-contact time zones in the campaign store: the hopper's candidates and the sample's zones."""

import sqlalchemy as sa

from dialer.store import campaigns as store
from dialer.store.schema import callbacks, campaign_contacts, contacts
from tests.campaign.storehelp import make_campaign, seed_frame

NOW = 1_000_000.0


def set_zone(conn, contact_id, zone):
    conn.execute(contacts.update().where(contacts.c.id == contact_id).values(timezone=zone))


def seeded(engine):
    with engine.begin() as conn:
        frame = seed_frame(conn, n_units=1, per_unit=4)
        cid = make_campaign(conn, timezone="Asia/Shanghai")
        ids = sorted(frame["contacts"])
        set_zone(conn, ids[1], "Asia/Urumqi")
        set_zone(conn, ids[2], "Asia/Shanghai")
        set_zone(conn, ids[3], "Europe/Berlin")
    return cid, ids


def test_candidates_carry_their_zone(engine):
    """Queued contacts and appointments load with the contact's own zone (None: the campaign's)."""
    cid, ids = seeded(engine)
    with engine.begin() as conn:
        conn.execute(
            callbacks.insert().values(
                campaign_id=cid, contact_id=ids[1], due_at=NOW - 5, created_at=0.0, status="pending"
            )
        )
        cands = store.thd_load_candidates(conn, cid, NOW)
    zones = {(c.contact_id, c.callback_at is not None): c.timezone for c in cands}
    assert zones == {
        (ids[0], False): None,
        (ids[1], True): "Asia/Urumqi",
        (ids[1], False): "Asia/Urumqi",
        (ids[2], False): "Asia/Shanghai",
        (ids[3], False): "Europe/Berlin",
    }


def test_open_zones_filter_the_load(engine):
    """With open_zones only contacts in those zones are loaded; a contact without a zone is in
    the campaign's, and the per-unit limit is spent on loadable contacts only."""
    cid, ids = seeded(engine)
    with engine.connect() as conn:
        urumqi = store.thd_load_candidates(conn, cid, NOW, open_zones={"Asia/Urumqi"})
        shanghai = store.thd_load_candidates(conn, cid, NOW, open_zones={"Asia/Shanghai"})
        one = store.thd_load_candidates(conn, cid, NOW, per_unit=1, open_zones={"Europe/Berlin"})
        none = store.thd_hopper_input(conn, cid, NOW, open_zones=set())
    assert [c.contact_id for c in urumqi] == [ids[1]]
    assert sorted(c.contact_id for c in shanghai) == [ids[0], ids[2]]
    assert [c.contact_id for c in one] == [ids[3]]
    assert none.candidates == [] and none.open_contacts == 4


def test_sample_zones(engine):
    """The zones of unfinished contacts, a contact without one counted in the campaign's."""
    cid, ids = seeded(engine)
    with engine.begin() as conn:
        assert store.thd_sample_zones(conn, cid) == {
            "Asia/Shanghai",
            "Asia/Urumqi",
            "Europe/Berlin",
        }
        conn.execute(
            sa.update(campaign_contacts)
            .where(campaign_contacts.c.contact_id.in_([ids[0], ids[2], ids[3]]))
            .values(final=True)
        )
        assert store.thd_sample_zones(conn, cid) == {"Asia/Urumqi"}
