"""Building a controller over a SQLite store, a fake AMI and a Clock."""

from __future__ import annotations

import itertools
import random

import sqlalchemy as sa
from twisted.internet.task import Clock

from dialer.campaign.agents import AgentPool
from dialer.campaign.controller import CampaignController, ControllerSettings, Line
from dialer.events import EventBus
from dialer.pacing.progressive import Progressive
from dialer.store import campaigns as store
from dialer.store.engine import create_engine
from dialer.store.inline import InlineDB
from dialer.store.migrate import upgrade
from tests.campaign.fakeami import FakeAMI
from tests.campaign.storehelp import make_campaign, seed_frame

_SEEDS = itertools.count(1)
T0 = 1_795_600_000.0  # a Wednesday 13:46 in Shanghai


def sqlite_engine(tmp_path) -> sa.Engine:
    eng = create_engine(f"sqlite:///{tmp_path / 'ctl.db'}")
    upgrade(eng)
    return eng


class Rig:
    def __init__(
        self,
        tmp_path,
        *,
        agents=2,
        lines=None,
        units=2,
        per_unit=5,
        mode="progressive",
        policy=None,
        engine=None,
        settings=None,
        campaign_kw=None,
        seed=True,
    ):
        self.engine = engine or sqlite_engine(tmp_path)
        self.db = InlineDB(self.engine)
        if seed:
            with self.engine.begin() as conn:
                self.frame = seed_frame(conn, n_units=units, per_unit=per_unit)
                self.cid = make_campaign(conn, mode=mode, **(campaign_kw or {}))
                store.thd_set_status(conn, self.cid, "running", T0)
        else:
            with self.engine.connect() as conn:
                self.cid = store.thd_get_campaign(conn, "c1").id
        self.clock = Clock()
        self.clock.advance(T0)
        self.amis = lines or [FakeAMI("pbx1")]
        self.lines = [Line(a.name, a, 10) for a in self.amis]
        self.pool = AgentPool()
        for i in range(1, agents + 1):
            self.pool.add(f"agent{i}", now=T0)
        self.bus = EventBus()
        self.events = []
        self.bus.subscribe(object, self.events.append)
        with self.engine.connect() as conn:
            camp = store.thd_get_campaign(conn, self.cid)
        self.ctl = CampaignController(
            camp,
            db=self.db,
            lines=self.lines,
            agents=self.pool,
            policy=policy or Progressive(),
            clock=self.clock,
            bus=self.bus,
            settings=settings or ControllerSettings(always_open=True),
            rng=random.Random(next(_SEEDS)),
            timer=lambda: 0.0,
        )

    @property
    def ami(self) -> FakeAMI:
        return self.amis[0]

    def start(self):
        self.ctl.startService()
        self.clock.advance(0)
        return self

    def step(self, seconds=0.0):
        self.clock.advance(seconds)

    def attempts(self):
        from dialer.store.schema import attempts

        with self.engine.connect() as conn:
            return [r._asdict() for r in conn.execute(sa.select(attempts).order_by(attempts.c.id))]

    def contact(self, contact_id):
        from dialer.store.schema import campaign_contacts

        with self.engine.connect() as conn:
            return (
                conn.execute(
                    sa.select(campaign_contacts).where(campaign_contacts.c.contact_id == contact_id)
                )
                .one()
                ._asdict()
            )

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]
