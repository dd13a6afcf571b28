"""Test helpers: a small frame + draw + campaign written straight into the store."""

from __future__ import annotations

import sqlalchemy as sa

from dialer.store import campaigns as store
from dialer.store.schema import contacts, dnc, draw_members, draws, units


def seed_frame(
    conn: sa.Connection,
    n_units: int = 2,
    per_unit: int = 5,
    shared_number: bool = False,
    codes: list[str] | None = None,
) -> dict:
    """Units u1..uN with `per_unit` contacts each and a draw 'd1' holding them all."""
    unit_ids, contact_ids = [], {}
    for u in range(1, n_units + 1):
        uid = conn.execute(
            units.insert().values(
                code=codes[u - 1] if codes else f"u{u}", name=f"单位{u}", kind="department"
            )
        ).inserted_primary_key[0]
        unit_ids.append(uid)
        for i in range(per_unit):
            number = f"+86138{u:03d}{i:05d}"
            if shared_number and u == 2 and i == 0:
                number = "+8613800100000"  # same as unit 1's first contact
            cid = conn.execute(
                contacts.insert().values(unit_id=uid, number=number, line_type="mobile")
            ).inserted_primary_key[0]
            contact_ids[cid] = (uid, number, i)
    draw_id = conn.execute(
        draws.insert().values(name="d1", allocation="equal", seed=1, parameters={}, created_at=0.0)
    ).inserted_primary_key[0]
    conn.execute(
        draw_members.insert(),
        [
            {"draw_id": draw_id, "contact_id": cid, "unit_id": uid, "position": pos}
            for cid, (uid, _n, pos) in contact_ids.items()
        ],
    )
    return {"units": unit_ids, "contacts": contact_ids, "draw_id": draw_id}


def add_dnc(conn: sa.Connection, number: str) -> None:
    conn.execute(dnc.insert().values(number=number, added_at=0.0, source="test"))


def make_campaign(conn: sa.Connection, **kw) -> int:
    spec = store.CampaignSpec(
        name=kw.pop("name", "c1"),
        draw="d1",
        questionnaire=kw.pop("questionnaire", "satisfaction"),
        dial_template=kw.pop("dial_template", "Local/{number}@callee"),
        **kw,
    )
    return store.thd_create_campaign(conn, spec, now=0.0)
