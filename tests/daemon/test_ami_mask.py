"""
The daemon's AMI event mask ([[ami]] events): what its login sends, and a campaign run
through the daemon's own service tree against the simulated PBX with the default mask.
"""

import random
from pathlib import Path

import sqlalchemy as sa
from twisted.internet.testing import MemoryReactorClock

from dialer import daemonconf
from dialer.ami.eventmask import DEFAULT_EVENT_MASK
from dialer.service import DialerService
from dialer.sim.profile import load_profile
from dialer.sim.server import SimulatedPBX
from dialer.store import campaigns as store
from dialer.store.inline import InlineDB
from dialer.store.schema import attempts
from tests.ami.helpers import BANNER, FakeEndpoint, feed, written
from tests.campaign.ctlhelp import T0, sqlite_engine
from tests.campaign.storehelp import make_campaign, seed_frame

ROOT = Path(__file__).resolve().parents[2]


def config(tmp_path, ami_extra="", *, servers=2):
    second = '[[ami]]\nname = "pbx2"\nsecret = "dialer"\nendpoint = "tcp:127.0.0.1:5039"\n'
    path = tmp_path / "dialer.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "ctl.db"}"\n'
        f'[[ami]]\nname = "pbx1"\nsecret = "dialer"\n{ami_extra}\n'
        f"{second if servers == 2 else ''}"
        f'[agi]\nscripts = "{ROOT / "ivr_scripts"}"\n'
        "[dialer]\nalways_open = true\n"
        '[agents]\nnames = ["agent1", "agent2", "agent3"]\nsimulated = true\nseed = 1\n',
        encoding="utf-8",
    )
    return daemonconf.load(path)


def test_daemon_login_sends_the_configured_mask(tmp_path):
    """Each AMI server's Login carries its own [[ami]] events mask (default when unset)."""
    conf = config(tmp_path, 'events = "agi,call,system,cdr"')
    endpoints = {}

    def endpoint(ami):
        endpoints[ami.name] = FakeEndpoint()
        return endpoints[ami.name]

    service = DialerService(
        conf, MemoryReactorClock(), InlineDB(sqlite_engine(tmp_path)), ami_endpoint=endpoint
    )
    logins = {}
    for line in service.lines:
        line.ami.startService()
        p, t = endpoints[line.name].last
        feed(p, BANNER)
        (logins[line.name],) = written(t)
        line.ami.stopService()
    assert {name: m.name for name, m in logins.items()} == {"pbx1": "Login", "pbx2": "Login"}
    assert logins["pbx1"]["Events"] == "system,call,cdr,agi"
    assert logins["pbx2"]["Events"] == DEFAULT_EVENT_MASK == "system,call,user,agi"


def test_campaign_runs_through_the_daemon_with_the_default_mask(tmp_path):
    """The daemon's service tree, default mask: calls end with dispositions, no dialplan events."""
    conf = config(tmp_path, servers=1)  # one simulated PBX is one Asterisk server
    reactor = MemoryReactorClock()
    reactor.advance(T0)
    engine = sqlite_engine(tmp_path)
    with engine.begin() as conn:
        seed_frame(conn, n_units=3, per_unit=30)
        cid = make_campaign(conn, mode="progressive", questionnaire="hechi_annual")
        store.thd_set_status(conn, cid, "running", T0)
    sim = SimulatedPBX(
        clock=reactor,
        rng=random.Random(11),
        profile=load_profile(ROOT / "dialer" / "sim" / "profiles" / "evening.toml"),
    )
    service = DialerService(
        conf, reactor, InlineDB(engine), ami_endpoint=lambda ami: sim.ami_endpoint()
    )
    seen = []
    service.lines[0].ami.subscribe(None, lambda e: seen.append(e.name))

    def run(seconds, step=0.1):
        for _ in range(round(seconds / step)):
            reactor.advance(step)

    service.startService()
    run(600)
    with engine.begin() as conn:
        store.thd_set_status(conn, cid, "paused", reactor.seconds())
    run(900)  # every call ends
    with engine.connect() as conn:
        rows = [r._asdict() for r in conn.execute(sa.select(attempts))]
    # the AMI connection logged in with the default mask, and the PBX honoured it
    assert [s.event_classes for s in sim.sessions] == [frozenset(DEFAULT_EVENT_MASK.split(","))]
    assert len(rows) >= 10
    assert all(r["status"] == "ended" for r in rows), {r["status"] for r in rows}
    outcomes = {r["outcome"] for r in rows}
    assert "complete" in outcomes, outcomes
    assert {"Newchannel", "Hangup", "OriginateResponse", "BridgeEnter"} <= set(seen)
    assert not {"Newexten", "VarSet", "Cdr"} & set(seen)
    service.stopService()
    run(5)
