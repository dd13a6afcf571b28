"""
A synthetic running campaign for benchmarks: C{n} mobile numbers spread over C{units} units,
one draw holding all of them, and a campaign over it already running.

test-case-name: tests.campaign.test_benchrun
"""

from __future__ import annotations

import sqlalchemy as sa

from dialer.store import campaigns as store
from dialer.store.schema import contacts, draw_members, draws, units


def thd_seed_running_campaign(
    conn: sa.Connection,
    *,
    name: str,
    n: int,
    n_units: int,
    mode: str,
    now: float,
    prefix: str = "+86139",
) -> int:
    """Insert the units, contacts, draw and campaign; return the campaign id."""
    unit_ids = []
    for u in range(n_units):
        key = conn.execute(
            units.insert().values(code=f"{name}{u:02d}", name=f"{name} {u}", kind="department")
        ).inserted_primary_key
        assert key is not None
        unit_ids.append(int(key[0]))
    conn.execute(
        contacts.insert(),
        [
            {"unit_id": unit_ids[i % n_units], "number": f"{prefix}{i:08d}", "line_type": "mobile"}
            for i in range(n)
        ],
    )
    key = conn.execute(
        draws.insert().values(name=name, allocation="equal", seed=0, parameters={}, created_at=now)
    ).inserted_primary_key
    assert key is not None
    rows = conn.execute(sa.select(contacts.c.id, contacts.c.unit_id)).all()
    conn.execute(
        draw_members.insert(),
        [
            {"draw_id": int(key[0]), "contact_id": cid, "unit_id": uid, "position": cid}
            for cid, uid in rows
        ],
    )
    cid = store.thd_create_campaign(
        conn,
        store.CampaignSpec(
            name=name,
            draw=name,
            questionnaire=name,
            mode=mode,
            dial_template="Local/{number}@callee",
            max_attempts=1,
        ),
        now,
    )
    store.thd_set_status(conn, cid, "running", now)
    return cid
