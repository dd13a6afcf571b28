"""The real controller, the real AMI client and the simulated PBX, on a virtual clock."""

import itertools
import random
from pathlib import Path

import pytest
import sqlalchemy as sa
from twisted.internet.task import Clock

from dialer.ami.client import AMIClient
from dialer.campaign.agents import AgentPool
from dialer.campaign.controller import CampaignController, ControllerSettings, Line
from dialer.campaign.simdesk import SimulatedDesk
from dialer.events import CallBridged, CallEnded, CallRouted, EventBus
from dialer.pacing.progressive import Progressive
from dialer.sim.profile import load_profile
from dialer.sim.server import SimulatedPBX
from dialer.store import campaigns as store
from dialer.store.inline import InlineDB
from dialer.store.schema import attempts
from tests.campaign.ctlhelp import T0, sqlite_engine
from tests.campaign.storehelp import make_campaign, seed_frame

PROFILES = Path(__file__).resolve().parents[2] / "dialer" / "sim" / "profiles"


class SimRig:
    def __init__(
        self,
        tmp_path,
        *,
        agents=3,
        units=3,
        per_unit=40,
        policy=None,
        seed=7,
        profile=None,
        settings=None,
        events=None,
        mode="progressive",
    ):
        self.clock = Clock()
        self.clock.advance(T0)
        self.engine = sqlite_engine(tmp_path)
        with self.engine.begin() as conn:
            self.frame = seed_frame(conn, n_units=units, per_unit=per_unit)
            self.cid = make_campaign(conn, mode=mode)
            store.thd_set_status(conn, self.cid, "running", T0)
            camp = store.thd_get_campaign(conn, self.cid)
        self.sim = SimulatedPBX(
            clock=self.clock,
            rng=random.Random(seed),
            profile=profile or load_profile(PROFILES / "evening.toml"),
        )
        self.ami = AMIClient(
            self.sim.ami_endpoint(),
            "dialer",
            "dialer",
            clock=self.clock,
            keepalive_interval=None,
            retry_policy=lambda n: 0.5,
            events=events,
        )
        self.bus = EventBus()
        self.events = []
        self.bus.subscribe(object, self.events.append)
        self.pool = AgentPool()
        for i in range(1, agents + 1):
            self.pool.add(f"agent{i}", now=T0)
        self.line = Line("pbx1", self.ami, 30)
        self.ctl = CampaignController(
            camp,
            db=InlineDB(self.engine),
            lines=[self.line],
            agents=self.pool,
            policy=policy or Progressive(),
            clock=self.clock,
            bus=self.bus,
            settings=settings or ControllerSettings(always_open=True),
            rng=random.Random(seed),
            timer=lambda: 0.0,
        )
        self.desk = SimulatedDesk(self.ctl, self.bus, clock=self.clock, rng=random.Random(seed))

    def run(self, seconds, step=0.05):
        for _ in range(int(seconds / step)):
            self.clock.advance(step)

    def start(self):
        self.ami.startService()
        self.run(1)
        assert self.ami.ready
        self.ctl.startService()
        return self

    def rows(self):
        with self.engine.connect() as conn:
            return [r._asdict() for r in conn.execute(sa.select(attempts).order_by(attempts.c.id))]


@pytest.mark.slow
def test_campaign_runs_against_simulated_pbx(tmp_path):
    """Ten virtual minutes: calls end with dispositions, agents get bridged fast, no contact overlaps."""
    rig = SimRig(tmp_path).start()
    rig.run(600)
    with rig.engine.begin() as conn:
        store.thd_set_status(conn, rig.cid, "paused", rig.clock.seconds())
    rig.run(400)  # let every call end
    rows = rig.rows()
    assert len(rows) >= 20
    assert all(r["status"] == "ended" for r in rows), {r["status"] for r in rows}
    outcomes = {r["outcome"] for r in rows}
    assert {"no_answer", "complete"} <= outcomes, outcomes
    bridged = [e for e in rig.events if isinstance(e, CallBridged)]
    assert bridged and max(e.answer_to_bridge_seconds for e in bridged) < 2.0
    # progressive never abandons
    assert not any(e.abandoned for e in rig.events if isinstance(e, CallRouted))
    # never two live attempts on one contact
    by_contact = {}
    for r in rows:
        by_contact.setdefault(r["contact_id"], []).append(r)
    for rs in by_contact.values():
        for a, b in itertools.pairwise(rs):
            assert b["created_at"] >= a["ended_at"]
    ended = [e for e in rig.events if isinstance(e, CallEnded)]
    assert len(ended) == len(rows)
    # each call's hangup handler wrote its AstDB record, deleted once the disposition was
    # written: nothing is left behind
    assert not [k for k in rig.sim.database if k[0] == "minyi_outcome"]
    rig.ctl.stopService()
    rig.ami.stopService()


@pytest.mark.slow
def test_pbx_restart_g1_pauses_and_reconciles(tmp_path):
    """core restart now (g1): calls are lost, dialing pauses while down, resumes after reconnect."""
    rig = SimRig(tmp_path).start()
    rig.run(30)
    live_before = rig.ctl.live_count()
    assert live_before > 0
    rig.sim.shutdown(restart=True)
    rig.run(1.2)
    assert not rig.ami.ready
    n = len(rig.rows())
    rig.run(0.5)
    assert len(rig.rows()) == n  # nothing dialed while down
    rig.run(10)
    assert rig.ami.ready
    assert len(rig.rows()) > n  # dialing resumed
    rig.run(200)
    with rig.engine.begin() as conn:
        store.thd_set_status(conn, rig.cid, "paused", rig.clock.seconds())
    rig.run(400)
    assert all(r["status"] == "ended" for r in rig.rows())
    rig.ctl.stopService()
    rig.ami.stopService()


@pytest.mark.slow
def test_pbx_kill9_g3_calls_lost_then_resume(tmp_path):
    """kill -9 (g3): no Hangup events; after Asterisk is back every tracked call ends as lost."""
    rig = SimRig(tmp_path).start()
    rig.run(30)
    assert rig.ctl.live_count() > 0
    rig.sim.kill()
    rig.run(2)
    assert not rig.ami.ready
    rig.sim.start(booted=True)
    rig.run(5)
    assert rig.ami.ready
    lost = [r for r in rig.rows() if r["outcome"] == "lost"]
    assert lost
    rig.run(100)
    with rig.engine.begin() as conn:
        store.thd_set_status(conn, rig.cid, "paused", rig.clock.seconds())
    rig.run(400)
    assert all(r["status"] == "ended" for r in rig.rows())
    rig.ctl.stopService()
    rig.ami.stopService()


@pytest.mark.slow
def test_abandoned_calls_run_the_ivr_survey(tmp_path):
    """No agent within 2 s: the call goes to the survey context, the real FastAGI runner asks the
    questions, its SurveyFinished reaches the controller, and the attempt keeps the IVR's outcome."""
    from dialer.agi.runner import PoolAnswerStore, ScriptDirectory, SurveyRunner
    from dialer.agi.server import FastAGIFactory
    from dialer.pacing.snapshot import Decision
    from dialer.sim.loopback import LoopbackEndpoint
    from dialer.sim.profile import CalleeBehaviour, Dist, Profile, RespondentBehaviour

    class Three:
        mode = "predictive"

        def decide(self, snapshot):
            return Decision(max(0, 3 - snapshot.lines_in_use))

    clock = Clock()
    clock.advance(T0)
    engine = sqlite_engine(tmp_path)
    with engine.begin() as conn:
        seed_frame(conn, n_units=1, per_unit=12, codes=["451202"])  # a unit of the t5 script
        cid = make_campaign(conn, mode="predictive", questionnaire="t5")
        store.thd_set_status(conn, cid, "running", T0)
        camp = store.thd_get_campaign(conn, cid)
    bus = EventBus()
    events = []
    bus.subscribe(object, events.append)
    db = InlineDB(engine)
    scripts = Path(__file__).resolve().parents[1] / "agi" / "data"
    runner = SurveyRunner(PoolAnswerStore(db), ScriptDirectory(scripts), clock, bus=bus)
    factory = FastAGIFactory(clock, {"survey": runner})
    profile = Profile(
        callee=CalleeBehaviour(
            shares=(("answer", 1.0),),
            ring=Dist("fixed", 2.0, lo=2.0, hi=2.0),
            talk=Dist("fixed", 600.0, lo=600.0, hi=600.0),
        ),
        respondent=RespondentBehaviour(
            hesitation=Dist("uniform", 0.3, 1.0, 0.3, 1.0), keys=(("1", 1.0),)
        ),
    )
    sim = SimulatedPBX(
        clock=clock,
        rng=random.Random(3),
        profile=profile,
        agi_endpoint=lambda host, port: LoopbackEndpoint(clock, factory, port),
    )
    ami = AMIClient(sim.ami_endpoint(), "dialer", "dialer", clock=clock, keepalive_interval=None)
    pool = AgentPool()
    pool.add("agent1", now=T0)
    ctl = CampaignController(
        camp,
        db=db,
        lines=[Line("pbx1", ami, 10)],
        agents=pool,
        policy=Three(),
        clock=clock,
        bus=bus,
        settings=ControllerSettings(always_open=True),
        rng=random.Random(1),
        timer=lambda: 0.0,
    )
    ami.startService()
    for _ in range(20):
        clock.advance(0.05)
    ctl.startService()
    for _ in range(int(300 / 0.05)):
        clock.advance(0.05)
    abandoned = [e for e in events if isinstance(e, CallRouted) and e.abandoned]
    assert abandoned, "one agent and three lines: some answers find no agent"
    assert all(abs(e.wait_seconds - 2.0) < 0.06 for e in abandoned)
    with engine.connect() as conn:
        rows = [
            r._asdict()
            for r in conn.execute(sa.select(attempts).where(attempts.c.abandoned.is_(True)))
        ]
    ivr_done = [r for r in rows if r["status"] == "ended"]
    assert ivr_done and all(r["mode"] == "ivr" for r in ivr_done)
    assert {r["outcome"] for r in ivr_done} <= {
        "complete",
        "partial",
        "breakoff",
        "hangup_intro",
        "refusal",
        "abandoned",
    }
    assert any(r["outcome"] == "complete" for r in ivr_done)
    ctl.stopService()
    ami.stopService()


@pytest.mark.slow
def test_pbx_core_stop_g2_then_started_again(tmp_path):
    """core stop now (g2): calls hung up with events end normally; nothing is dialed while the PBX is
    gone; once it is started again the client reconnects and dialing resumes."""
    rig = SimRig(tmp_path).start()
    rig.run(30)
    assert rig.ctl.live_count() > 0
    rig.sim.shutdown(restart=False)
    rig.run(3)
    assert not rig.ami.ready
    # every call got its Hangup before the Shutdown: only agents' wrap-ups remain
    assert set(rig.ctl.states()) <= {"wrapup"}
    n = len(rig.rows())
    rig.run(20)
    assert len(rig.rows()) == n
    rig.sim.start(booted=True)
    rig.run(10)
    assert rig.ami.ready and len(rig.rows()) > n
    assert "lost" not in {r["outcome"] for r in rig.rows()[:n]}
    rig.ctl.stopService()
    rig.ami.stopService()


@pytest.mark.parametrize("events", [None, "call,agi,user,system"])
def test_amd_machines_never_reach_an_agent(tmp_path, events):
    """With amd on, the simulator's AMD() in hold finds machines: hung up ~3 s after pick-up,
    never routed or bridged, disposition answering machine (3.14); people still reach agents.
    The verdict arrives as VarSet, or only as hold's UserEvent when dialplan events are off."""
    from dialer.sim.profile import CalleeBehaviour, Dist, Profile

    fixed = lambda x: Dist("fixed", x, lo=x, hi=x)  # noqa: E731
    profile = Profile(
        mode="profile",
        callee=CalleeBehaviour(
            shares=(("answer", 0.4), ("machine", 0.6)),
            ring=Dist("uniform", 2.0, 8.0, 2.0, 8.0),
            talk=fixed(20.0),
            machine_greeting=fixed(10.0),
            machine_talk=fixed(30.0),
            amd_human_after=fixed(0.8),
        ),
    )
    rig = SimRig(
        tmp_path,
        agents=3,
        profile=profile,
        settings=ControllerSettings(always_open=True, amd=True),
        events=events,
    ).start()
    rig.run(180)
    with rig.engine.begin() as conn:
        store.thd_set_status(conn, rig.cid, "paused", rig.clock.seconds())
    rig.run(120)
    rows = rig.rows()
    machines = [r for r in rows if r["outcome"] == "machine"]
    people = [r for r in rows if r["agent"] is not None]
    assert len(machines) >= 3 and people, [r["outcome"] for r in rows]
    routed = {e.attempt_id for e in rig.events if isinstance(e, CallRouted | CallBridged)}
    for r in machines:
        assert r["disposition"] == "3.14" and r["status"] == "ended"
        assert r["agent"] is None and r["bridged_at"] is None and r["id"] not in routed
        assert r["ended_at"] - r["answered_at"] == pytest.approx(3.0, abs=0.3)
    assert {r["id"] for r in people} <= routed
    if events is not None:
        assert rig.sim.sessions[0].event_classes == frozenset(events.split(","))


@pytest.mark.slow
def test_dialer_killed_calls_ended_meanwhile_get_real_outcomes(tmp_path):
    """The dialer dies with calls up; they end while it is away; the restarted controller reads
    each one's AstDB record (written by the simulated Asterisk's hangup handler): none is lost,
    none of those contacts is dialed again, every key is deleted afterwards."""
    from dialer.campaign.outcomes import FAMILY

    rig = SimRig(tmp_path, agents=12, per_unit=60).start()
    rig.run(45)
    live = {r["id"]: r for r in rig.rows() if r["status"] != "ended"}
    assert len(live) >= 3
    # kill -9 of the dialer: its AMI connection just drops, it writes nothing more (its
    # simulated desk dies with it)
    rig.ctl.agent_result = lambda *args, **kw: None
    rig.ctl.agent_ready = lambda *args: None
    rig.ami.stopService()
    rig.run(0.5)
    rig.ctl.stopService()
    rig.desk.stop()
    rig.run(600)  # every one of those calls ends meanwhile (talk times are under 15 min)
    assert rig.sim.live_channels() == 0
    assert {(FAMILY, str(aid)) for aid in live} <= set(rig.sim.database)
    # the restarted dialer: a new AMI connection and controller on the same store and PBX
    ami = AMIClient(
        rig.sim.ami_endpoint(),
        "dialer",
        "dialer",
        clock=rig.clock,
        keepalive_interval=None,
        retry_policy=lambda n: 0.5,
    )
    bus = EventBus()
    pool = AgentPool()
    for i in range(1, 13):
        pool.add(f"agent{i}", now=rig.clock.seconds())
    with rig.engine.connect() as conn:
        camp = store.thd_get_campaign(conn, rig.cid)
    ctl = CampaignController(
        camp,
        db=InlineDB(rig.engine),
        lines=[Line("pbx1", ami, 30)],
        agents=pool,
        policy=Progressive(),
        clock=rig.clock,
        bus=bus,
        settings=ControllerSettings(always_open=True),
        rng=random.Random(99),
        timer=lambda: 0.0,
    )
    desk = SimulatedDesk(ctl, bus, clock=rig.clock, rng=random.Random(99))
    ami.startService()
    rig.run(1)
    ctl.startService()
    rig.run(40)  # the interviewers give their results within the wrap-up time
    rows = {r["id"]: r for r in rig.rows()}
    outcomes = {aid: rows[aid]["outcome"] for aid in live}
    assert all(rows[aid]["status"] == "ended" for aid in live), outcomes
    assert "lost" not in outcomes.values(), outcomes
    assert set(outcomes.values()) <= {
        "complete",
        "partial",
        "refusal",
        "callback",
        "busy",
        "no_answer",
        "rejected",
        "invalid",
        "congestion",
        "machine",
        "abandoned",
        "answered_hangup",
    }, outcomes
    later = [r for r in rows.values() if r["id"] not in live and r["created_at"] > T0 + 46]
    assert later, "dialing resumed"
    assert not {r["contact_id"] for r in later} & {r["contact_id"] for r in live.values()}
    assert not {(FAMILY, str(aid)) for aid in live} & set(rig.sim.database)
    desk.stop()
    ctl.stopService()
    ami.stopService()


@pytest.mark.slow
def test_preview_mode_end_to_end(tmp_path):
    """Preview against the simulated PBX: each simulated desk asks for a dial when ready, sees its contact (masked) before the Originate, and its live answers are bridged to that very agent."""
    from dialer.events import CallOriginated, ContactPreviewed
    from dialer.pacing.progressive import Preview

    rig = SimRig(tmp_path, mode="preview", policy=Preview()).start()
    rig.run(600)
    with rig.engine.begin() as conn:
        store.thd_set_status(conn, rig.cid, "paused", rig.clock.seconds())
    rig.run(400)
    shown = [e for e in rig.events if isinstance(e, ContactPreviewed)]
    originated = [e for e in rig.events if isinstance(e, CallOriginated)]
    bridged = [e for e in rig.events if isinstance(e, CallBridged)]
    assert len(shown) >= 10 and bridged
    # every dial was previewed first, by an agent, in order
    assert [e.attempt_id for e in shown] == [e.attempt_id for e in originated]
    order = [
        type(e).__name__ for e in rig.events if isinstance(e, ContactPreviewed | CallOriginated)
    ]
    assert order[:2] == ["ContactPreviewed", "CallOriginated"]
    by_attempt = {e.attempt_id: e.agent for e in shown}
    assert all(by_attempt[b.attempt_id] == b.agent for b in bridged)
    assert all("*" in e.masked_number and e.masked_number.startswith("+86") for e in shown)
    # never more calls at once than agents; nobody abandoned
    rows = rig.rows()
    assert all(r["status"] == "ended" for r in rows)
    assert not any(r["abandoned"] for r in rows)
    assert {r["agent"] for r in rows if r["bridged_at"]} <= {"agent1", "agent2", "agent3"}
    live = 0
    peak = 0
    for e in rig.events:
        if isinstance(e, CallOriginated):
            live += 1
            peak = max(peak, live)
        elif isinstance(e, CallEnded):
            live -= 1
    assert peak <= 3


@pytest.mark.slow
def test_interviewer_phone_not_answering_abandons_to_survey(tmp_path):
    """The simulated interviewers take 10 s to answer: every answered call is moved out of toagent's Dial to the survey 2 s after its answer and counted abandoned; none is hung up in silence."""
    from dataclasses import replace

    from dialer.sim.profile import AgentBehaviour, Dist

    profile = load_profile(PROFILES / "evening.toml")
    slow = replace(
        profile, agents=AgentBehaviour(answer_after=10.0, talk=Dist("fixed", 30.0, lo=30, hi=30))
    )
    rig = SimRig(tmp_path, profile=slow).start()
    rig.run(300)
    routed = [e for e in rig.events if isinstance(e, CallRouted)]
    to_ivr = [e for e in routed if e.to == "ivr"]
    assert to_ivr and all(e.abandoned for e in to_ivr)
    assert all(e.wait_seconds == pytest.approx(2.0, abs=0.06) for e in to_ivr)
    assert not any(isinstance(e, CallBridged) for e in rig.events)
    fig = rig.ctl.ledger.figures(rig.clock.seconds())
    assert fig.campaign.abandoned == len(to_ivr) > 0
    assert fig.campaign.live_answered >= fig.campaign.abandoned
    # the Redirect took the respondent out of the Dial to the interviewer into the survey
    ivr_rows = [r for r in rig.rows() if r["mode"] == "ivr"]
    assert ivr_rows and all(r["abandoned"] and r["agent"] is None for r in ivr_rows)
    rig.ami.stopService()
