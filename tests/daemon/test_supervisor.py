"""The campaign supervisor: bad campaigns are refused one by one, questionnaires are checked,
and the one [agents] team goes to the highest-priority agent campaign."""

from pathlib import Path

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import Logger, LogLevel, formatEvent

from dialer.campaign.controller import ControllerSettings, Line
from dialer.daemonconf import AgentsConfig, AMIConfig, DaemonConfig
from dialer.events import EventBus
from dialer.metrics import Metrics
from dialer.service import CampaignSupervisor
from dialer.store import campaigns as store
from dialer.store.inline import InlineDB
from dialer.store.schema import campaigns
from tests.campaign.ctlhelp import T0, sqlite_engine
from tests.campaign.fakeami import FakeAMI
from tests.campaign.storehelp import make_campaign, seed_frame

ROOT = Path(__file__).resolve().parents[2]


class Rig:
    """A supervisor over a SQLite store, a fake AMI line and a Clock; its log is kept."""

    def __init__(self, tmp_path, *, scripts=ROOT / "ivr_scripts", agents=("agent1", "agent2")):
        self.engine = sqlite_engine(tmp_path)
        with self.engine.begin() as conn:
            seed_frame(conn, n_units=2, per_unit=3)
        self.clock = Clock()
        self.clock.advance(T0)
        config = DaemonConfig(
            path="(test)",
            database_url="sqlite://",
            ami=(AMIConfig("pbx1", "tcp:127.0.0.1:5038", "dialer", "x"),),
            agi_endpoint="tcp:4573:interface=127.0.0.1",
            agi_scripts=str(scripts),
            http_endpoint="tcp:8080:interface=127.0.0.1",
            dialer=ControllerSettings(always_open=True),
            agents=AgentsConfig(names=agents),
        )
        bus = EventBus()
        self.sup = CampaignSupervisor(
            db=InlineDB(self.engine),
            lines=[Line("pbx1", FakeAMI("pbx1"), 10)],
            bus=bus,
            metrics=Metrics(bus),
            config=config,
            clock=self.clock,
        )
        self.events = []
        self.sup.log = Logger(observer=self.events.append)

    def campaign(self, name, *, status="running", **kw):
        kw.setdefault("questionnaire", "hechi_annual")
        with self.engine.begin() as conn:
            cid = make_campaign(conn, name=name, **kw)
            store.thd_set_status(conn, cid, status, T0)
        return cid

    def set(self, cid, **values):
        with self.engine.begin() as conn:
            conn.execute(campaigns.update().where(campaigns.c.id == cid).values(**values))

    def sync(self):
        d = Deferred.fromCoroutine(self.sup._sync())
        assert d.called, "the inline DB answers at once"
        return d.result if not hasattr(d.result, "raiseException") else d.result.raiseException()

    def messages(self, level):
        return [formatEvent(e) for e in self.events if e["log_level"] is level]

    def team(self, cid):
        return sorted(a.name for a in self.sup.controllers[cid].agents)


def test_bad_campaign_does_not_stop_the_others(tmp_path):
    """A campaign whose stored rules raise ConfigError is refused and logged; the next one starts."""
    rig = Rig(tmp_path)
    bad = rig.campaign("bad", priority=5)
    good = rig.campaign("good", mode="ivr-only")
    # stored by an older version (or edited by hand): the controller's parse_rules refuses it
    rig.set(bad, retry_rules={"delays": {"busy": "1e300"}})
    rig.sync()
    assert set(rig.sup.controllers) == {good}
    [error] = rig.messages(LogLevel.error)
    assert f"campaign {bad} (bad) cannot run" in error and "delays.busy" in error
    rig.sync()  # refused once: not retried (nor logged) every poll
    assert len(rig.messages(LogLevel.error)) == 1


def test_refused_campaign_retried_after_status_change(tmp_path):
    """A refused campaign is tried again once it changes (e.g. paused and resumed after a fix)."""
    rig = Rig(tmp_path)
    cid = rig.campaign("c1", mode="ivr-only")
    rig.set(cid, retry_rules={"delays": {"busy": "inf"}})
    rig.sync()
    assert rig.sup.controllers == {}
    rig.set(cid, retry_rules={"delays": {"busy": "15m"}}, updated_at=T0 + 60)
    rig.sync()
    assert set(rig.sup.controllers) == {cid}


def test_missing_questionnaire_refused(tmp_path):
    """A campaign whose questionnaire does not load is not started; the log names it and the dir."""
    rig = Rig(tmp_path)
    missing = rig.campaign("missing", questionnaire="does_not_exist", priority=3)
    good = rig.campaign("good")
    rig.sync()
    assert set(rig.sup.controllers) == {good}
    [error] = rig.messages(LogLevel.error)
    assert f"campaign {missing} (missing) cannot run" in error
    assert "questionnaire 'does_not_exist'" in error and str(ROOT / "ivr_scripts") in error
    assert " / 问卷无法加载" in error


def test_broken_questionnaire_refused(tmp_path):
    """A questionnaire with errors is refused with its first problem (file and line)."""
    scripts = tmp_path / "ivr"
    scripts.mkdir()
    (scripts / "broken.yaml").write_text("schema: 1\nid: [\n", encoding="utf-8")
    rig = Rig(tmp_path, scripts=scripts)
    rig.campaign("c1", questionnaire="broken")
    rig.sync()
    assert rig.sup.controllers == {}
    [error] = rig.messages(LogLevel.error)
    assert "broken.yaml" in error


def test_team_goes_to_highest_priority_and_others_are_warned(tmp_path):
    """Two agent campaigns: the higher priority gets the team, the other is named in a warning."""
    rig = Rig(tmp_path)
    low = rig.campaign("low", priority=1)
    high = rig.campaign("high", mode="predictive", priority=9)
    rig.sync()
    assert rig.team(high) == ["agent1", "agent2"] and rig.team(low) == []
    [warning] = rig.messages(LogLevel.warn)
    assert f"campaign {low} (low, progressive) has no interviewers" in warning
    assert f"works campaign {high}" in warning
    [info] = [m for m in rig.messages(LogLevel.info) if "[agents] team" in m]
    assert f"campaign {high} (high, priority 9)" in info


def test_team_handed_over_when_its_campaign_stops(tmp_path):
    """When the team's campaign stops, a waiting agent campaign is restarted with the team."""
    rig = Rig(tmp_path)
    low = rig.campaign("low", priority=1)
    high = rig.campaign("high", priority=9)
    rig.sync()
    with rig.engine.begin() as conn:
        store.thd_set_status(conn, high, "stopped", T0 + 10)
    rig.sync()
    assert set(rig.sup.controllers) == {low}
    assert rig.team(low) == ["agent1", "agent2"]


def test_ivr_only_campaign_needs_no_team(tmp_path):
    """An ivr-only campaign neither takes the team nor is warned about it."""
    rig = Rig(tmp_path)
    ivr = rig.campaign("ivr", mode="ivr-only", priority=9)
    agent = rig.campaign("agent")
    rig.sync()
    assert rig.team(ivr) == [] and rig.team(agent) == ["agent1", "agent2"]
    assert rig.messages(LogLevel.warn) == []


def test_stored_caller_id_with_line_break_refused(tmp_path):
    """A caller ID written around the create-time checks is refused at start, not at each Originate."""
    rig = Rig(tmp_path)
    bad = rig.campaign("bad", mode="ivr-only", priority=2)
    good = rig.campaign("good", mode="ivr-only")
    rig.set(bad, caller_id='"Survey"\r\nAction: Hangup <5550100>')
    rig.sync()
    assert set(rig.sup.controllers) == {good}
    [error] = rig.messages(LogLevel.error)
    assert f"campaign {bad} (bad) cannot run: caller ID" in error and "control characters" in error
    assert "dialer campaign resume bad" in error


def test_running_campaign_gets_team_before_paused_one(tmp_path):
    """At start, a running campaign gets the team before a paused one of higher priority."""
    rig = Rig(tmp_path)
    paused = rig.campaign("paused", status="paused", priority=9)
    running = rig.campaign("running", priority=1)
    rig.sync()
    assert rig.team(running) == ["agent1", "agent2"] and rig.team(paused) == []


def test_team_leaves_a_paused_idle_campaign(tmp_path):
    """The team's campaign is paused with no call up: the waiting running campaign gets the team."""
    rig = Rig(tmp_path)
    high = rig.campaign("high", priority=9)
    low = rig.campaign("low", priority=1)
    rig.sync()
    assert rig.team(high) == ["agent1", "agent2"]
    with rig.engine.begin() as conn:
        store.thd_set_status(conn, high, "paused", T0 + 10)
    rig.sync()
    assert rig.team(low) == ["agent1", "agent2"] and rig.team(high) == []
    rig.sync()  # stable: no hand-over back and forth
    assert rig.team(low) == ["agent1", "agent2"] and rig.team(high) == []


def test_campaigns_outside_the_config_list_are_ignored(tmp_path):
    """[campaigns] names limits which campaigns run (and which may take the team)."""
    import dataclasses

    rig = Rig(tmp_path)
    rig.sup.config = dataclasses.replace(rig.sup.config, campaigns=("mine",))
    rig.campaign("other", priority=9)
    mine = rig.campaign("mine")
    rig.sync()
    assert set(rig.sup.controllers) == {mine} and rig.team(mine) == ["agent1", "agent2"]
