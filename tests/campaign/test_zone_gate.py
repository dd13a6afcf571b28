"""The controller's windows gate with contacts in several time zones."""

import sqlalchemy as sa

from dialer.campaign.controller import ControllerSettings
from dialer.store.schema import contacts
from tests.campaign.ctlhelp import Rig


def test_other_zone_open_keeps_dialing_only_those(tmp_path):
    """Shanghai closed, Urumqi open (2 h behind): only the Urumqi contacts are dialed."""
    # T0 is Wednesday 17:46:40 in Shanghai = 15:46:40 in Urumqi; window 15:00-17:00
    rig = Rig(
        tmp_path,
        settings=ControllerSettings(always_open=False),
        campaign_kw={"windows": [{"days": [2], "start": "15:00", "end": "17:00"}]},
        per_unit=3,
    )
    with rig.engine.begin() as conn:
        ids = sorted(r.id for r in conn.execute(sa.select(contacts.c.id)))
        urumqi = ids[:2]
        conn.execute(
            contacts.update().where(contacts.c.id.in_(urumqi)).values(timezone="Asia/Urumqi")
        )
    rig.start()
    rig.step(1)
    assert rig.ctl.dialing_blocked(rig.clock.seconds()) is None
    dialed = {a["contact_id"] for a in rig.attempts()}
    assert dialed == set(urumqi)
    rig.ctl.stopService()


def test_every_zone_closed_blocks(tmp_path):
    """All zones of the sample closed: dialing is blocked."""
    rig = Rig(
        tmp_path,
        settings=ControllerSettings(always_open=False),
        campaign_kw={"windows": [{"days": [2], "start": "09:00", "end": "10:00"}]},
    )
    with rig.engine.begin() as conn:
        first = conn.execute(sa.select(sa.func.min(contacts.c.id))).scalar()
        conn.execute(contacts.update().where(contacts.c.id == first).values(timezone="Asia/Urumqi"))
    rig.start()
    rig.step(1)
    assert rig.ami.dials == []
    assert rig.ctl.dialing_blocked(rig.clock.seconds()) == "outside calling windows"
    rig.ctl.stopService()


def test_zones_reread_while_the_gate_is_shut(tmp_path):
    """Every zone closed; contacts moved to an open zone meanwhile are dialed within zones_refresh."""
    rig = Rig(
        tmp_path,
        settings=ControllerSettings(always_open=False),
        campaign_kw={"windows": [{"days": [2], "start": "15:00", "end": "17:00"}]},
    )
    assert rig.ctl.settings.zones_refresh == 60.0
    rig.start()
    rig.step(1)
    assert rig.ami.dials == []
    with rig.engine.begin() as conn:
        conn.execute(contacts.update().values(timezone="Asia/Urumqi"))
    for _ in range(61):
        rig.step(1)
    assert rig.ami.dials
    rig.ctl.stopService()
