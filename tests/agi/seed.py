"""Rows an IVR session needs: a unit, contacts, a draw, a campaign and attempts."""

from __future__ import annotations

import sqlalchemy as sa

from dialer.store import schema

UNIT_CODE = "451202"


def seed(
    conn: sa.Connection, *, attempts: int = 1, questionnaire: str = "test-survey"
) -> list[int]:
    """Insert one unit/campaign (once) and C{attempts} contacts each with one attempt; their ids."""
    campaign_id = conn.execute(
        sa.select(schema.campaigns.c.id).where(schema.campaigns.c.name == "c")
    ).scalar()
    if campaign_id is not None:
        unit_id = conn.execute(
            sa.select(schema.units.c.id).where(schema.units.c.code == UNIT_CODE)
        ).scalar_one()
        return _attempts(conn, campaign_id, unit_id, attempts)
    unit_id = conn.execute(
        schema.units.insert().values(code=UNIT_CODE, name="金城江区", kind="county")
    ).inserted_primary_key[0]
    conn.execute(schema.units.insert().values(code="dept-police", name="公安局", kind="department"))
    draw_id = conn.execute(
        schema.draws.insert().values(
            name="d", allocation="equal", seed=1, parameters={}, created_at=0.0
        )
    ).inserted_primary_key[0]
    campaign_id = conn.execute(
        schema.campaigns.insert().values(
            name="c",
            draw_id=draw_id,
            questionnaire=questionnaire,
            mode="ivr",
            dial_template="Local/{number}@callee",
            timezone="Asia/Shanghai",
            windows=[],
            retry_rules={},
            max_attempts=3,
            abandon_target=0.03,
            priority=0,
            status="running",
            created_at=0.0,
            updated_at=0.0,
        )
    ).inserted_primary_key[0]
    return _attempts(conn, campaign_id, unit_id, attempts)


def _attempts(conn: sa.Connection, campaign_id: int, unit_id: int, count: int) -> list[int]:
    start = conn.execute(sa.select(sa.func.count()).select_from(schema.attempts)).scalar_one()
    ids = []
    for n in range(start, start + count):
        contact_id = conn.execute(
            schema.contacts.insert().values(
                unit_id=unit_id, number=f"+8613800{n:06d}", line_type="mobile"
            )
        ).inserted_primary_key[0]
        ids.append(
            conn.execute(
                schema.attempts.insert().values(
                    campaign_id=campaign_id,
                    contact_id=contact_id,
                    unit_id=unit_id,
                    attempt_no=1,
                    status="answered",
                    created_at=0.0,
                    action_id=f"a-{n}",
                    abandoned=False,
                )
            ).inserted_primary_key[0]
        )
    return ids
