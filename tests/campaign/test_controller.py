"""The campaign controller against a fake AMI, a SQLite store and a Clock."""

import pytest

from dialer.campaign.controller import ControllerSettings
from dialer.campaign.dispositions import SurveyResult
from dialer.events import CallEnded, CallRouted, Reconciled, SurveyFinished
from dialer.pacing.progressive import IvrOnly
from dialer.store import campaigns as store
from tests.campaign.ctlhelp import T0, Rig
from tests.campaign.fakeami import FakeAMI
from tests.campaign.storehelp import add_dnc


class KeepTwoLines:
    """A predictive stand-in that keeps two calls up whatever the agents do."""

    mode = "predictive"

    def decide(self, snapshot):
        from dialer.pacing.snapshot import Decision

        return Decision(max(0, 2 - snapshot.lines_in_use))


@pytest.fixture
def rig(tmp_path):
    r = Rig(tmp_path)
    yield r
    r.ctl.stopService()
    r.engine.dispose()


def test_progressive_dials_one_per_idle_agent(rig):
    """Two idle agents: two Originates into the hold context, each with its own ChannelId."""
    rig.start()
    assert len(rig.ami.dials) == 2
    d = rig.ami.dials[0]
    assert (d.context, d.exten) == ("hold", "s")
    assert d.channel.startswith("Local/+86") and d.channel.endswith("@callee")
    assert d.channel_id != rig.ami.dials[1].channel_id
    rig.step(5)
    assert len(rig.ami.dials) == 2  # nobody answered or failed yet: no more lines


def test_attempt_written_before_originate(rig):
    """When Originate is sent, the attempt row (ActionID, ChannelId, contact lock) is already committed."""
    seen = []

    def check(dial):
        rows = {a["action_id"]: a for a in rig.attempts()}
        row = rows[dial.action_id]
        seen.append((row["status"], row["uniqueid"] == dial.channel_id))
        assert rig.contact(row["contact_id"])["live_attempt_id"] == row["id"]

    rig.ami.on_originate = check
    rig.start()
    assert seen == [("pending", True), ("pending", True)]


def test_busy_then_retry_rules(rig):
    """b0 busy: disposition 3.12 written, contact released with next try 15 min later, a new dial follows."""
    rig.start()
    d = rig.ami.dials[0]
    rig.ami.busy(d)
    rig.step(0)
    (a,) = [x for x in rig.attempts() if x["action_id"] == d.action_id]
    assert (
        a["status"],
        a["outcome"],
        a["disposition"],
        a["hangup_cause"],
        a["originate_reason"],
    ) == ("ended", "busy", "3.12", 17, 5)
    c = rig.contact(a["contact_id"])
    assert c["live_attempt_id"] is None and c["attempts"] == 1
    assert c["next_at"] == pytest.approx(T0 + 900)
    assert len(rig.ami.dials) == 3  # the freed agent gets a new call at once
    assert rig.of(CallEnded)[0].outcome == "busy"


def test_answer_routes_to_free_agent_and_complete(rig):
    """A live answer is redirected from hold to toagent/<agent> at once; the agent's complete counts."""
    rig.start()
    d = rig.ami.dials[0]
    rig.ami.answer(d)
    assert rig.ami.redirects == [(d.name, "toagent", "agent1")]
    rig.step(0.05)
    rig.ami.bridge(d)
    assert rig.pool.get("agent1").state == "talking"
    assert list(rig.ctl.latencies) == [pytest.approx(0.05)]
    rig.step(60)
    rig.ami.callee_hangs_up(d)
    assert rig.pool.get("agent1").state == "wrapping"
    rig.step(8)
    rig.ctl.agent_result("agent1", SurveyResult.COMPLETE)
    rig.ctl.agent_ready("agent1")
    rig.step(0)
    (a,) = [x for x in rig.attempts() if x["action_id"] == d.action_id]
    assert (a["outcome"], a["disposition"], a["mode"], a["agent"], a["abandoned"]) == (
        "complete",
        "1.1",
        "agent",
        "agent1",
        False,
    )
    assert a["bridged_at"] - a["answered_at"] == pytest.approx(0.05)
    assert rig.contact(a["contact_id"])["final"] is True
    with rig.engine.connect() as conn:
        units = store.thd_unit_states(conn, rig.cid)
    assert sum(u.completes for u in units.values()) == 1


def test_no_agent_within_grace_goes_to_ivr(tmp_path):
    """Answered with no agent free: after 2 s the call is redirected to the survey context, counted abandoned."""
    rig = Rig(tmp_path, agents=1, policy=KeepTwoLines()).start()
    d1, d2 = rig.ami.dials[:2]
    rig.ami.answer(d1)
    rig.ami.answer(d2)
    assert rig.ami.redirects == [(d1.name, "toagent", "agent1")]
    rig.ami.bridge(d1)
    rig.step(1.9)
    assert len(rig.ami.redirects) == 1
    rig.step(0.1)
    assert rig.ami.redirects[1] == (d2.name, "survey", "s")
    routed = rig.of(CallRouted)
    assert [(r.to, r.abandoned) for r in routed] == [("agent", False), ("ivr", True)]
    assert routed[1].wait_seconds == pytest.approx(2.0)
    fig = rig.ctl.ledger.figures(rig.clock.seconds())
    assert (fig.campaign.live_answered, fig.campaign.abandoned) == (2, 1)
    # the IVR finishes the survey: still a complete, and flagged abandoned
    rig.ami.agi(d2)
    rig.bus.publish(SurveyFinished(d2.channel_id, "complete", rig.clock.seconds()))
    rig.ami.callee_hangs_up(d2)
    rig.step(0)
    a = next(x for x in rig.attempts() if x["action_id"] == d2.action_id)
    assert (a["outcome"], a["mode"], a["abandoned"]) == ("complete", "ivr", True)
    rig.ctl.stopService()


def test_agent_freed_within_grace_takes_waiting_call(tmp_path):
    """A waiting call goes to an agent who becomes ready inside the 2 s grace: not abandoned."""
    rig = Rig(tmp_path, agents=1, policy=KeepTwoLines()).start()
    d1, d2 = rig.ami.dials[:2]
    rig.ami.answer(d1)
    rig.ami.bridge(d1)
    rig.ami.answer(d2)
    rig.step(0.5)
    rig.ami.callee_hangs_up(d1)
    rig.ctl.agent_result("agent1", SurveyResult.REFUSAL)
    rig.step(1.0)
    rig.ctl.agent_ready("agent1")
    assert rig.ami.redirects[-1] == (d2.name, "toagent", "agent1")
    rig.ami.bridge(d2)
    rig.step(3)
    assert [r.abandoned for r in rig.of(CallRouted)] == [False, False]
    rig.ctl.stopService()


def test_originate_refused_is_failed_not_counted(rig):
    """Response: Error to Originate: outcome failed (3.11), attempts not used, retry in 5 min."""
    rig.ami.refuse_next = "Extension does not exist."
    rig.start()
    a = rig.attempts()[0]
    assert (a["outcome"], a["disposition"]) == ("failed", "3.11")
    c = rig.contact(a["contact_id"])
    assert c["attempts"] == 0 and c["next_at"] == pytest.approx(T0 + 300)


def test_dnc_checked_at_dial_time(tmp_path):
    """A number put on the DNC list is never originated and its contact is finished."""
    rig = Rig(tmp_path, agents=10, units=1, per_unit=3)
    numbers = [n for (_u, n, _p) in rig.frame["contacts"].values()]
    with rig.engine.begin() as conn:
        add_dnc(conn, numbers[0])
    rig.start()
    dialed = {d.number for d in rig.ami.dials}
    assert numbers[0] not in dialed and len(dialed) == 2
    cid0 = next(k for k, v in rig.frame["contacts"].items() if v[1] == numbers[0])
    assert rig.contact(cid0)["final"] is True
    rig.ctl.stopService()


def test_pause_and_resume_from_store(rig):
    """Paused in the store: no new dials after the next status poll; resumed: dialing again."""
    rig.start()
    with rig.engine.begin() as conn:
        store.thd_set_status(conn, rig.cid, "paused", rig.clock.seconds())
    rig.step(2)
    for d in list(rig.ami.dials):
        rig.ami.busy(d)
    rig.step(1)
    assert len(rig.ami.dials) == 2
    with rig.engine.begin() as conn:
        store.thd_set_status(conn, rig.cid, "running", rig.clock.seconds())
    rig.step(2)
    assert len(rig.ami.dials) == 4


def test_calling_window_closed(tmp_path):
    """Outside the campaign's calling windows nothing is dialed."""
    rig = Rig(
        tmp_path,
        settings=ControllerSettings(always_open=False),
        campaign_kw={"windows": [{"days": [5], "start": "10:00", "end": "11:00"}]},
    )
    rig.start()
    rig.step(5)
    assert rig.ami.dials == []
    assert rig.ctl.dialing_blocked(rig.clock.seconds()) == "outside calling windows"
    rig.ctl.stopService()


def test_spreads_over_lines_by_free_capacity(tmp_path):
    """Two Asterisk servers: originates go to the one with the most free lines."""
    a, b = FakeAMI("pbx1"), FakeAMI("pbx2")
    rig = Rig(tmp_path, agents=0, lines=[a, b], mode="ivr-only", policy=IvrOnly(), per_unit=20)
    rig.lines[0].capacity = 6
    rig.lines[1].capacity = 2
    rig.start()
    assert (len(a.dials), len(b.dials)) == (6, 2)
    assert all(d.context == "survey" for d in a.dials + b.dials)
    rig.ctl.stopService()


def test_ami_down_pauses_and_reconnect_reconciles(rig):
    """AMI lost: no dialing; after reconnect the calls whose channels vanished end as lost, live ones stay."""
    rig.start()
    d1, d2 = rig.ami.dials
    rig.ami.answer(d1)  # d1 is up (with agent1)
    rig.ami.bridge(d1)
    rig.ami.start(d2)  # d2 rings
    rig.ami.drop()
    rig.ami.channels.pop(d2.channel_id)  # d2 ended while we were away
    rig.step(5)
    assert len(rig.ami.dials) == 2
    rig.ami.set_ready(True)
    rig.step(0)
    rec = rig.of(Reconciled)[-1]
    assert (rec.adopted, rec.lost) == (1, 1)
    by_action = {x["action_id"]: x for x in rig.attempts()}
    assert by_action[d2.action_id]["outcome"] == "lost"
    assert by_action[d1.action_id]["status"] == "bridged"
    assert len(rig.ami.dials) == 3  # dialing resumed for the freed agent


def test_line_down_too_long_loses_calls(rig):
    """A connection that stays down: its calls are ended as lost, none stays dialing forever."""
    rig.start()
    rig.ami.drop()
    rig.step(121)
    rig.step(1)
    assert {x["outcome"] for x in rig.attempts()} == {"lost"}
    assert rig.ctl.live_count() == 0


def test_restart_adopts_live_calls_and_never_redials(tmp_path):
    """A new controller on the same store adopts calls still up, loses the gone ones, and dials no number twice."""
    first = Rig(tmp_path, agents=3, per_unit=3)
    first.start()
    d1, d2, d3 = first.ami.dials
    first.ami.answer(d1)
    first.ami.bridge(d1)
    first.ami.start(d2)
    # "kill -9": the first controller vanishes without writing anything more
    survivors = {
        d1.channel_id: first.ami.channels[d1.channel_id],
        d2.channel_id: first.ami.channels[d2.channel_id],
    }
    second = Rig(tmp_path, agents=3, engine=first.engine, seed=False)
    second.ami.channels.update(survivors)
    second.start()
    (rec,) = second.of(Reconciled)
    assert (rec.adopted, rec.lost) == (2, 0)  # d3 is young: it may still get its channel
    second.step(10.5)
    by_action = {x["action_id"]: x for x in second.attempts()}
    assert by_action[d3.action_id]["outcome"] == "lost"
    first_numbers = {d.number for d in first.ami.dials}
    second_numbers = [d.number for d in second.ami.dials]
    assert not first_numbers & set(second_numbers)
    assert len(second_numbers) == len(set(second_numbers)) >= 1
    # the adopted ringing call is followed to its end by its events
    second.ami.by_uid[d2.channel_id] = d2
    second.ami.callee_hangs_up(d2, 19)
    second.step(0)
    assert {x["action_id"]: x for x in second.attempts()}[d2.action_id]["outcome"] == "no_answer"
    second.ctl.stopService()


def test_kill9_pbx_all_calls_lost(rig):
    """g3: Asterisk killed: no Hangup events; after it comes back every tracked call is lost."""
    rig.start()
    for d in rig.ami.dials:
        rig.ami.answer(d)
    rig.ami.kill()
    rig.step(3)
    rig.ami.set_ready(True)
    rig.step(0)
    assert {x["outcome"] for x in rig.attempts()} >= {"lost"}
    assert rig.ctl.live_count() == len(rig.ami.dials) - 2


def test_amd_machine_hung_up_human_routed(tmp_path):
    """With AMD on: MACHINE is hung up (3.14, never reaches an agent); HUMAN (even if seen before the answer) is routed."""
    rig = Rig(tmp_path, settings=ControllerSettings(always_open=True, amd=True)).start()
    d1, d2 = rig.ami.dials
    rig.ami.answer(d1)
    assert rig.ami.redirects == []  # waiting for AMD
    rig.ami.emit(
        "VarSet", Channel=d1.name, Uniqueid=d1.channel_id, Variable="AMDSTATUS", Value="MACHINE"
    )
    assert rig.ami.hangups == [d1.name]
    rig.step(0)
    a = next(x for x in rig.attempts() if x["action_id"] == d1.action_id)
    assert (a["outcome"], a["disposition"]) == ("machine", "3.14")
    rig.ami.start(d2)
    rig.ami.emit(
        "VarSet", Channel=d2.name, Uniqueid=d2.other_id, Variable="AMDSTATUS", Value="HUMAN"
    )
    rig.ami.answer(d2)
    assert rig.ami.redirects == [(d2.name, "toagent", "agent1")]
    fig = rig.ctl.ledger.figures(rig.clock.seconds())
    assert fig.campaign.live_answered == 1  # the machine is not in the denominator
    rig.ctl.stopService()


def test_amd_timeout_treated_as_human(tmp_path):
    """No AMD verdict within amd_timeout: the call is treated as a person and routed."""
    rig = Rig(
        tmp_path, settings=ControllerSettings(always_open=True, amd=True, amd_timeout=1.5)
    ).start()
    d1 = rig.ami.dials[0]
    rig.ami.answer(d1)
    rig.step(1.4)
    assert rig.ami.redirects == []
    rig.step(0.2)
    assert rig.ami.redirects == [(d1.name, "toagent", "agent1")]
    rig.ctl.stopService()


def test_hopper_batch_reused(tmp_path):
    """Candidates are loaded once per refresh period, not on every tick."""
    from dialer.store import campaigns as store_mod

    rig = Rig(tmp_path, agents=2, per_unit=20)
    calls = []
    original = store_mod.thd_hopper_input

    def counting(*a, **kw):
        calls.append(1)
        return original(*a, **kw)

    store_mod.thd_hopper_input = counting
    try:
        rig.start()
        for _ in range(5):
            for d in list(rig.ami.dials):
                if not d.result.called:
                    rig.ami.busy(d)
            rig.step(1)
        assert len(rig.ami.dials) >= 10
        assert len(calls) <= 2
    finally:
        store_mod.thd_hopper_input = original
        rig.ctl.stopService()


def test_preview_dials_on_request(tmp_path):
    """Preview mode dials only when an agent asks, one call per request."""
    from dialer.pacing.progressive import Preview

    rig = Rig(tmp_path, mode="preview", policy=Preview()).start()
    rig.step(3)
    assert rig.ami.dials == []
    rig.ctl.request_dial()
    rig.step(0)
    assert len(rig.ami.dials) == 1
    rig.step(3)
    assert len(rig.ami.dials) == 1
    rig.ctl.stopService()


def test_restart_follows_a_late_channel(tmp_path):
    """An attempt sent just before the crash whose channel appears after the restart is followed, not lost."""
    first = Rig(tmp_path, agents=1, per_unit=2)
    first.start()
    (d1,) = first.ami.dials
    second = Rig(tmp_path, agents=1, engine=first.engine, seed=False)
    second.start()
    second.step(2)
    second.ami.by_uid[d1.channel_id] = d1
    # its events arrive now, on the new connection (the dead process's handle hears nothing)
    second.ami.start(d1)
    second.ami.emit("Hangup", Channel=d1.name[:-1] + "2", Uniqueid=d1.other_id, Cause="17")
    second.ami.emit("Hangup", Channel=d1.name, Uniqueid=d1.channel_id, Cause="0")
    second.step(0)
    a = next(x for x in second.attempts() if x["action_id"] == d1.action_id)
    assert (a["outcome"], a["hangup_cause"]) == ("busy", 17)
    assert not any(d.number == d1.number for d in second.ami.dials)
    second.ctl.stopService()


def test_units_take_turns_over_time(tmp_path):
    """One line at a time over ten units: ten dials reach ten different units (no low-id favourite)."""
    rig = Rig(tmp_path, agents=1, units=10, per_unit=5).start()
    for _ in range(10):
        (d,) = [d for d in rig.ami.dials if not d.result.called]
        rig.ami.busy(d)
        rig.step(0)
    units = [a["unit_id"] for a in rig.attempts()][:10]
    assert len(set(units)) == 10
    rig.ctl.stopService()


def test_stop_drains_calls_in_progress(rig):
    """Stopping: no new dials, calls in progress still get their dispositions, then the service stops."""
    rig.start()
    d1, d2 = rig.ami.dials
    rig.ami.answer(d1)
    stopped = rig.ctl.stopService()
    rig.ami.busy(d2)
    rig.step(1)
    assert len(rig.ami.dials) == 2 and not stopped.called
    rig.ami.bridge(d1)
    rig.ami.callee_hangs_up(d1)
    rig.ctl.agent_result("agent1", SurveyResult.COMPLETE)
    rig.step(1)
    assert stopped.called
    assert {x["outcome"] for x in rig.attempts()} == {"busy", "complete"}


def test_stop_gives_up_after_drain_timeout(tmp_path):
    """A call that never ends does not hold the shutdown beyond drain_timeout."""
    rig = Rig(tmp_path, settings=ControllerSettings(always_open=True, drain_timeout=5.0)).start()
    rig.ami.answer(rig.ami.dials[0])
    stopped = rig.ctl.stopService()
    rig.step(4)
    assert not stopped.called
    rig.step(2)
    assert stopped.called


def test_dial_template_per_trunk(tmp_path):
    """A line with its own dial template dials through its trunk; others use the campaign's."""
    a, b = FakeAMI("pbx1"), FakeAMI("pbx2")
    rig = Rig(tmp_path, agents=0, lines=[a, b], mode="ivr-only", policy=IvrOnly(), per_unit=20)
    rig.lines[0].capacity, rig.lines[1].capacity = 1, 1
    rig.lines[1].dial_template = "PJSIP/{number}@trunk2"
    rig.start()
    assert a.dials[0].channel.endswith("@callee")
    assert b.dials[0].channel.startswith("PJSIP/+86") and b.dials[0].channel.endswith("@trunk2")
    rig.ctl.stopService()


def test_priority_on_shared_lines(tmp_path):
    """Two IVR campaigns on one 2-line server: the higher priority one gets every line that frees."""
    import random

    from dialer.campaign.agents import AgentPool
    from dialer.campaign.controller import CampaignController
    from tests.campaign.storehelp import make_campaign

    rig = Rig(tmp_path, agents=0, mode="ivr-only", policy=IvrOnly(), per_unit=10)
    with rig.engine.begin() as conn:
        hi = make_campaign(conn, name="hi", mode="ivr-only", priority=5)
        store.thd_set_status(conn, hi, "running", T0)
        camp_hi = store.thd_get_campaign(conn, hi)
    rig.lines[0].capacity = 2
    high = CampaignController(
        camp_hi,
        db=rig.db,
        lines=rig.lines,
        agents=AgentPool(),
        policy=IvrOnly(),
        clock=rig.clock,
        bus=rig.bus,
        settings=ControllerSettings(always_open=True),
        rng=random.Random(99),
        timer=lambda: 0.0,
    )
    rig.start()  # the low-priority campaign takes both lines first
    high.startService()
    rig.step(1)

    def by_campaign():
        rows = {x["action_id"]: x["campaign_id"] for x in rig.attempts()}
        return [rows[d.action_id] for d in rig.ami.dials]

    assert by_campaign() == [rig.cid, rig.cid]
    for _ in range(4):
        for d in [d for d in rig.ami.dials if not d.result.called]:
            rig.ami.busy(d)
        rig.step(1)
    later = by_campaign()[2:]
    assert len(later) >= 6 and set(later) == {hi}
    # the high-priority campaign stops: the low one gets the lines back
    high.stopService()
    for d in [d for d in rig.ami.dials if not d.result.called]:
        rig.ami.busy(d)
    rig.step(2)
    assert by_campaign()[-1] == rig.cid
    rig.ctl.stopService()


def test_line_allowance():
    """Capacity is shared out by priority up to each demand; the rest goes to the highest."""
    from dialer.campaign.controller import Line

    line = Line("pbx1", FakeAMI(), 10)
    assert line.allowance(1) == 10  # nobody registered
    line.demand = {1: (0, 8), 2: (5, 6)}
    assert (line.allowance(2), line.allowance(1)) == (6, 4)
    line.demand = {1: (0, 2), 2: (5, 3)}
    assert (line.allowance(2), line.allowance(1)) == (8, 2)


def test_quota_filled_stops_unit_at_once(tmp_path):
    """A complete that fills a unit's quota stops dialing that unit before the next batch load."""
    rig = Rig(tmp_path, agents=1, units=2, per_unit=10, campaign_kw={"default_quota": 1}).start()
    d = rig.ami.dials[0]
    first_unit = next(a["unit_id"] for a in rig.attempts() if a["action_id"] == d.action_id)
    rig.ami.answer(d)
    rig.ami.bridge(d)
    rig.ami.callee_hangs_up(d)
    rig.ctl.agent_result("agent1", SurveyResult.COMPLETE)
    rig.ctl.agent_ready("agent1")
    rig.step(0)
    for _ in range(3):
        nxt = [x for x in rig.ami.dials if not x.result.called]
        for x in nxt:
            rig.ami.busy(x)
        rig.step(0.5)
    later = [a["unit_id"] for a in rig.attempts()][1:]
    assert later and first_unit not in later
    rig.ctl.stopService()


def test_stop_does_not_wait_for_a_dead_pbx(rig):
    """With every AMI connection down, stopping does not wait out the drain timeout."""
    rig.start()
    rig.ami.answer(rig.ami.dials[0])
    rig.ami.drop()
    stopped = rig.ctl.stopService()
    rig.step(0)
    assert stopped.called


def test_bad_dial_template_never_leaves_attempt_pending(tmp_path):
    """A dial template the controller cannot fill ends the attempt as failed instead of leaving it live."""
    rig = Rig(tmp_path, agents=1)
    with rig.engine.begin() as conn:
        from dialer.store.schema import campaigns

        conn.execute(campaigns.update().values(dial_template="PJSIP/{number}@{trunk}"))
        camp = store.thd_get_campaign(conn, rig.cid)
    rig.ctl.campaign = camp
    rig.start()
    assert rig.ami.dials == []
    rows = rig.attempts()
    assert rows and all(r["status"] == "ended" and r["outcome"] == "failed" for r in rows)
    assert rig.ctl.live_count() == 0
    rig.ctl.stopService()


def test_released_agent_serves_waiting_call(tmp_path):
    """A call hangs up just after being given to the only agent: the agent takes the next waiting call."""
    rig = Rig(tmp_path, agents=1, policy=KeepTwoLines()).start()
    d1, d2 = rig.ami.dials[:2]
    rig.ami.answer(d1)  # agent1 reserved for d1
    rig.ami.answer(d2)  # waits
    rig.ami.callee_hangs_up(d1)  # before reaching the agent
    rig.step(0.5)
    assert rig.ami.redirects[-1] == (d2.name, "toagent", "agent1")
    rig.ami.bridge(d2)
    rig.step(3)
    assert not any(e.abandoned for e in rig.of(CallRouted))
    rig.ctl.stopService()


def test_ledger_resumes_from_store(tmp_path):
    """After a restart the abandonment ledger continues from the store, old answers outside 24 h."""
    import dataclasses

    from dialer.store.schema import attempts

    first = Rig(tmp_path, agents=1)
    first.start()
    d = first.ami.dials[0]
    first.ami.answer(d)
    first.ami.bridge(d)
    first.ami.callee_hangs_up(d)
    first.ctl.agent_result("agent1", SurveyResult.REFUSAL)
    first.step(0)
    with first.engine.begin() as conn:  # make that answer three days old
        conn.execute(attempts.update().values(answered_at=T0 - 3 * 86400))
    second = Rig(tmp_path, agents=1, engine=first.engine, seed=False)
    second.start()
    fig = second.ctl.ledger.figures(second.clock.seconds())
    assert (fig.campaign.live_answered, fig.day.live_answered, fig.month.live_answered) == (1, 0, 1)
    assert dataclasses.asdict(fig)["target"] == 0.03
    second.ctl.stopService()


def test_agent_not_bridged_within_grace_is_abandoned_to_ivr(rig):
    """Routed to an agent whose phone never answers: 2 s after the answer the call goes to the survey, counted abandoned, the agent is free again."""
    rig.start()
    d = rig.ami.dials[0]
    rig.ami.answer(d)
    assert rig.ami.redirects == [(d.name, "toagent", "agent1")]
    rig.step(1.9)
    assert len(rig.ami.redirects) == 1
    rig.step(0.2)
    assert rig.ami.redirects[-1] == (d.name, "survey", "s")
    fig = rig.ctl.ledger.figures(rig.clock.seconds())
    assert (fig.campaign.live_answered, fig.campaign.abandoned) == (1, 1)
    assert [(r.to, r.abandoned) for r in rig.of(CallRouted)] == [("agent", False), ("ivr", True)]
    assert rig.pool.get("agent1").state != "reserved"
    rig.ami.agi(d)
    rig.ami.callee_hangs_up(d)
    rig.step(0)
    a = next(x for x in rig.attempts() if x["action_id"] == d.action_id)
    assert (a["mode"], a["abandoned"], a["agent"]) == ("ivr", True, None)


def test_bridged_within_grace_is_not_abandoned(rig):
    """The agent answers 1.5 s after the live answer: bridged, the grace timer is cancelled, nothing abandoned."""
    rig.start()
    d = rig.ami.dials[0]
    rig.ami.answer(d)
    rig.step(1.5)
    rig.ami.bridge(d)
    rig.step(5)
    assert rig.ami.redirects == [(d.name, "toagent", "agent1")]
    assert rig.ctl.ledger.figures(rig.clock.seconds()).campaign.abandoned == 0
    assert rig.pool.get("agent1").state == "talking"


def test_amd_verdict_does_not_restart_the_grace(tmp_path):
    """With AMD on, the 2 s run from the answer: a HUMAN verdict at 1.5 s with no agent free leaves 0.5 s, not 2 s."""
    rig = Rig(tmp_path, agents=1, settings=ControllerSettings(always_open=True, amd=True)).start()
    (d,) = rig.ami.dials
    rig.pool.pause("agent1", rig.clock.seconds())  # nobody free
    rig.ami.answer(d)
    rig.step(1.5)
    rig.ami.emit(
        "VarSet", Channel=d.name, Uniqueid=d.channel_id, Variable="AMDSTATUS", Value="HUMAN"
    )
    rig.step(0.4)
    assert rig.ami.redirects == []
    rig.step(0.1)
    assert rig.ami.redirects == [(d.name, "survey", "s")]
    (routed,) = rig.of(CallRouted)
    assert (routed.abandoned, routed.wait_seconds) == (True, pytest.approx(2.0))
    rig.ctl.stopService()


def test_amd_timeout_past_the_grace_is_abandoned_at_once(tmp_path):
    """AMD gives no verdict in 5 s: the person has waited longer than the grace, so the call goes to the survey at once (abandoned), never to an agent."""
    rig = Rig(tmp_path, settings=ControllerSettings(always_open=True, amd=True)).start()
    d = rig.ami.dials[0]
    rig.ami.answer(d)
    rig.step(5.1)
    assert rig.ami.redirects == [(d.name, "survey", "s")]
    fig = rig.ctl.ledger.figures(rig.clock.seconds())
    assert (fig.campaign.live_answered, fig.campaign.abandoned) == (1, 1)
    assert {a.state for a in rig.pool} == {"idle"}
    rig.ctl.stopService()


def _flaky_redirect(ami, fail):
    """Make the first C{fail} Redirects of C{ami} fail (as a Redirect Asterisk refuses)."""
    from twisted.internet import defer

    from dialer.ami.message import Message
    from dialer.ami.protocol import ActionFailed

    real = ami.redirect
    tried = []

    def redirect(channel, context, exten, priority=1):
        tried.append(context)
        if len(tried) <= fail:
            return defer.fail(
                ActionFailed("Redirect", Message.response("Error", [("Message", "Failed")]))
            )
        return real(channel, context, exten, priority)

    ami.redirect = redirect
    return tried


def test_failed_redirect_to_ivr_is_retried_then_safe_harbour(tmp_path):
    """An abandoned call whose Redirect to the survey fails twice goes to the safe-harbour message, not silence."""
    rig = Rig(tmp_path, agents=1).start()
    (d,) = rig.ami.dials
    rig.pool.pause("agent1", rig.clock.seconds())
    tried = _flaky_redirect(rig.ami, 2)
    rig.ami.answer(d)
    rig.step(2.0)
    assert tried == ["survey"]
    rig.step(0.5)
    assert tried == ["survey", "survey"]
    rig.step(0.5)
    assert tried == ["survey", "survey", "safeharbour"]
    assert rig.ami.redirects == [(d.name, "safeharbour", "s")]
    rig.step(5)
    assert len(tried) == 3
    rig.ctl.stopService()


def test_failed_redirect_to_ivr_retried_once(tmp_path):
    """One failed Redirect to the survey: the second try takes the call there."""
    rig = Rig(tmp_path, agents=1).start()
    (d,) = rig.ami.dials
    rig.pool.pause("agent1", rig.clock.seconds())
    tried = _flaky_redirect(rig.ami, 1)
    rig.ami.answer(d)
    rig.step(2)
    rig.step(1)
    assert tried == ["survey", "survey"]
    assert rig.ami.redirects == [(d.name, "survey", "s")]
    rig.ctl.stopService()


def test_failed_coreshowchannels_is_retried_with_backoff(rig):
    """CoreShowChannels fails twice after the start: tried again after 1 s and 2 s, then the line is used; nothing is lost."""
    from twisted.internet import defer

    from dialer.ami.protocol import ActionTimeout

    real = rig.ami.core_show_channels
    calls = []

    def flaky():
        calls.append(rig.clock.seconds())
        if len(calls) <= 2:
            return defer.fail(ActionTimeout("CoreShowChannels", "csc-1", 10.0))
        return real()

    rig.ami.core_show_channels = flaky
    rig.start()
    assert rig.ami.dials == [] and calls == [T0]
    assert rig.ctl.dialing_blocked(rig.clock.seconds()) == "no AMI connection"
    rig.step(1)
    assert calls == [T0, T0 + 1] and rig.ami.dials == []
    rig.step(1)
    assert len(calls) == 2
    rig.step(1)
    assert calls == [T0, T0 + 1, T0 + 3]
    rig.step(0)
    assert len(rig.ami.dials) == 2
    assert rig.of(Reconciled)[-1].lost == 0
    rig.step(300)
    assert len(calls) == 3  # reconciled: no more CoreShowChannels


def test_originate_raising_ends_attempt_and_frees_the_line(rig):
    """Originate raises before sending (a header the message layer refuses): the attempt ends as failed, the line is released, dialing goes on."""
    from dialer.ami.message import MessageError

    real = rig.ami.originate
    raised = []

    def bad(channel, **kw):
        if not raised:
            raised.append(channel)
            raise MessageError("header value contains CR/LF")
        return real(channel, **kw)

    rig.ami.originate = bad
    rig.start()
    rig.step(0)
    rows = rig.attempts()
    assert raised and rows[0]["status"] == "ended"
    assert (rows[0]["outcome"], rows[0]["disposition"]) == ("failed", "3.11")
    assert rig.contact(rows[0]["contact_id"])["live_attempt_id"] is None
    assert rig.lines[0].in_use == rig.ctl.live_count() == 2
    assert len(rig.ami.dials) == 2


def test_restart_without_a_server_loses_its_live_attempts(tmp_path):
    """A restart whose config no longer has pbx2: the attempts live there end as lost (contacts released), the others are reconciled as usual."""
    first = Rig(tmp_path, agents=4, lines=[FakeAMI("pbx1"), FakeAMI("pbx2")]).start()
    gone = first.amis[1].dials
    assert gone and first.amis[0].dials
    kept = first.amis[0].dials
    for d in kept:
        first.amis[0].answer(d)
        first.amis[0].bridge(d)
    second = Rig(tmp_path, agents=4, engine=first.engine, seed=False)
    second.ami.channels.update(first.amis[0].channels)
    second.start()
    rows = {x["action_id"]: x for x in second.attempts()}
    assert {rows[d.action_id]["outcome"] for d in gone} == {"lost"}
    for d in gone:
        assert second.contact(rows[d.action_id]["contact_id"])["live_attempt_id"] is None
    assert {rows[d.action_id]["status"] for d in kept} == {"bridged"}
    lost = [e for e in second.of(CallEnded) if e.outcome == "lost"]
    assert len(lost) == len(gone)
    second.ctl.stopService()


def test_circuit_breaker_stops_a_failing_line_until_resumed(tmp_path):
    """Every Originate refused (a misconfigured trunk): after 5 technical failures in a row the line is not dialed; a resume clears it, a call that gets through keeps it closed."""
    from dialer.events import LineBreaker
    from dialer.metrics import Metrics

    rig = Rig(
        tmp_path,
        units=4,
        per_unit=10,
        settings=ControllerSettings(always_open=True, breaker_threshold=5),
    )
    metrics = Metrics(rig.bus)
    gauge = "dialer_line_breaker_open"
    broken = [True]

    def refuse(dial):
        if broken[0]:
            rig.ami.refuse_next = "Extension does not exist."

    rig.ami.on_originate = refuse
    rig.start()
    rig.step(0)
    assert len(rig.ami.dials) == 5
    assert rig.lines[0].tripped_at == T0
    assert rig.ctl.breakers() == {"pbx1": T0}
    assert [(e.server, e.open, e.failures) for e in rig.of(LineBreaker)] == [("pbx1", True, 5)]
    assert metrics.registry.get_sample_value(gauge, {"server": "pbx1"}) == 1
    # its only line is out: the campaign is paused, in the store too (status shows it)
    assert rig.ctl.dialing_blocked(rig.clock.seconds()) == "status paused"
    with rig.engine.connect() as conn:
        assert store.thd_get_campaign(conn, rig.cid).status == "paused"
    rig.ctl.status = "running"  # even so, the open breaker keeps the line unused
    assert "circuit breaker" in rig.ctl.dialing_blocked(rig.clock.seconds())
    rig.ctl.status = "paused"
    rig.step(600)  # the failed contacts are due again: still nothing dialed
    assert len(rig.ami.dials) == 5
    # the operator fixes the trunk and resumes the campaign
    broken[0] = False
    with rig.engine.begin() as conn:
        store.thd_set_status(conn, rig.cid, "running", rig.clock.seconds())
    rig.step(2)
    assert rig.lines[0].tripped_at is None
    assert [e.open for e in rig.of(LineBreaker)] == [True, False]
    assert metrics.registry.get_sample_value(gauge, {"server": "pbx1"}) == 0
    assert len(rig.ami.dials) == 7
    rig.ami.busy(rig.ami.dials[-1])  # got through to the network: the count starts again
    rig.step(0)
    assert rig.lines[0].failures == 0
    rig.ctl.stopService()


def test_circuit_breaker_counts_only_failures_in_a_row(tmp_path):
    """Technical failures broken up by a busy call never open the breaker."""
    rig = Rig(
        tmp_path,
        agents=1,
        units=4,
        per_unit=10,
        settings=ControllerSettings(always_open=True, breaker_threshold=3),
    )
    n = [0]

    def refuse(dial):
        n[0] += 1
        if n[0] % 3:
            rig.ami.refuse_next = "Channel unavailable"

    rig.ami.on_originate = refuse
    rig.start()
    for _ in range(4):
        rig.step(0)
        rig.ami.busy(rig.ami.dials[-1])
    rig.step(0)
    assert len(rig.ami.dials) >= 12
    assert rig.lines[0].tripped_at is None
    rig.ctl.stopService()


def test_decision_and_latency_samples_are_bounded(rig):
    """The decision-time and latency samples keep only the latest SAMPLES_KEPT entries (no growth per tick forever)."""
    from dialer.campaign import controller as ctl_mod

    rig.start()
    assert rig.ctl.decision_seconds.maxlen == rig.ctl.latencies.maxlen == ctl_mod.SAMPLES_KEPT
    for i in range(ctl_mod.SAMPLES_KEPT + 10):
        rig.ctl.decision_seconds.append(float(i))
    assert len(rig.ctl.decision_seconds) == ctl_mod.SAMPLES_KEPT
    assert rig.ctl.decision_seconds[-1] == ctl_mod.SAMPLES_KEPT + 9
    before = len(rig.ctl.decision_seconds)
    rig.step(3)  # ticks still record their decision times
    assert len(rig.ctl.decision_seconds) == before and rig.ctl.decision_seconds[-1] == 0.0


def test_restart_routes_adopted_answer_after_settling_ended_interviews(tmp_path):
    """After a restart, an answered call found in hold gets an agent only once the agent whose call ended while away is in wrap-up for it."""
    first = Rig(tmp_path, agents=2).start()
    d1, d2 = first.ami.dials
    first.ami.answer(d1)
    first.ami.bridge(d1)  # agent1 talks with d1
    first.ami.start(d2)
    # the dialer is kill -9ed: d1's interview ends, d2 is answered and waits in hold
    first.ami.ended_while_away(
        d1,
        ended_at=T0 + 20,
        cause=16,
        state="Up",
        answered_at=T0,
        dial="ANSWER",
        peer="agent1@agents",
        talk=20,
    )
    first.ami.channels[d2.channel_id] = first.ami._channel_item(
        d2.channel_id, d2.name, 6, "hold", "s"
    )
    second = Rig(tmp_path, agents=2, engine=first.engine, seed=False)
    second.ami.db = first.ami.db
    second.ami.channels.update(first.ami.channels)
    second.clock.advance(30)
    second.start()
    assert second.pool.get("agent1").state == "wrapping"
    assert (d2.name, "toagent", "agent2") in second.ami.redirects
    assert (d2.name, "toagent", "agent1") not in second.ami.redirects
    second.ctl.stopService()


def test_preview_reserves_contact_for_the_requesting_agent(tmp_path):
    """request_dial(agent): the contact is shown to that agent (masked) before the Originate, and its live answer goes to that agent, not the one idle longest."""
    from dialer.events import ContactPreviewed
    from dialer.pacing.progressive import Preview

    rig = Rig(tmp_path, mode="preview", policy=Preview()).start()
    seen_at_originate = []
    rig.ami.on_originate = lambda dial: seen_at_originate.append(len(rig.of(ContactPreviewed)))
    rig.ctl.request_dial("agent2")
    rig.ctl.request_dial("agent2")  # asking twice is one request
    assert rig.ctl.dial_requests == 1
    rig.step(0)
    (d,) = rig.ami.dials
    (shown,) = rig.of(ContactPreviewed)
    assert seen_at_originate == [1]
    assert shown.agent == "agent2" and shown.attempt_id == rig.attempts()[0]["id"]
    assert shown.masked_number.endswith(d.number[-2:]) and d.number not in shown.masked_number
    assert rig.pool.get("agent2").state == "reserved"
    rig.ami.answer(d)
    assert rig.ami.redirects == [(d.name, "toagent", "agent2")]
    rig.ami.bridge(d)
    assert rig.pool.get("agent2").state == "talking"
    rig.ctl.stopService()


def test_preview_unanswered_call_frees_its_agent(tmp_path):
    """A previewed call that is not answered releases its agent, who may ask again."""
    from dialer.pacing.progressive import Preview

    rig = Rig(tmp_path, mode="preview", policy=Preview()).start()
    rig.ctl.request_dial("agent1")
    rig.step(0)
    (d,) = rig.ami.dials
    rig.ami.no_answer(d)
    rig.step(0)
    assert rig.pool.get("agent1").state == "idle"
    assert len(rig.ami.dials) == 1  # no request, no dial
    rig.ctl.stopService()


def test_agent_missing_calls_in_a_row_is_paused(tmp_path):
    """An agent whose phone misses agent_miss_limit routed calls in a row is paused; a bridge in between resets the count."""
    rig = Rig(
        tmp_path,
        agents=1,
        units=3,
        per_unit=10,
        settings=ControllerSettings(always_open=True, agent_miss_limit=2),
    )
    rig.start()
    d1 = rig.ami.dials[-1]
    rig.ami.answer(d1)
    rig.step(2.1)  # miss 1: agent1 free again, a new dial follows
    assert rig.pool.get("agent1").state == "idle"
    d2 = rig.ami.dials[-1]
    assert d2 is not d1
    rig.ami.answer(d2)
    rig.ami.bridge(d2)  # reached: the count starts again
    rig.ami.callee_hangs_up(d2)
    rig.ctl.agent_result("agent1", SurveyResult.REFUSAL)
    rig.ctl.agent_ready("agent1")
    rig.step(0)
    for _ in range(2):
        d = rig.ami.dials[-1]
        rig.ami.answer(d)
        rig.step(2.1)
    assert rig.pool.get("agent1").state == "paused"
    dials = len(rig.ami.dials)
    rig.step(30)
    assert len(rig.ami.dials) == dials  # progressive: no agent ready, no dial
    rig.ctl.stopService()


def test_restart_finds_answered_call_past_its_grace_in_hold(tmp_path):
    """After a restart, a call answered 5 s ago and still in hold goes straight to the survey (abandoned), not first to an agent."""
    first = Rig(tmp_path, agents=1).start()
    (d,) = first.ami.dials
    first.pool.pause("agent1", T0)
    first.ami.answer(d)  # waits in hold; the dialer dies now
    second = Rig(tmp_path, agents=1, engine=first.engine, seed=False)
    second.ami.channels.update(first.ami.channels)
    second.clock.advance(5)
    second.start()
    assert second.ami.redirects == [(d.name, "survey", "s")]
    assert second.pool.get("agent1").state == "idle"
    assert second.ctl.ledger.figures(second.clock.seconds()).campaign.abandoned == 1
    second.ctl.stopService()


def test_call_routed_late_in_its_grace_is_not_the_agents_miss(tmp_path):
    """A waiting call given to an agent 1.8 s after its answer and not bridged in the 0.2 s left is abandoned, but does not count towards pausing that agent."""
    rig = Rig(
        tmp_path,
        agents=1,
        policy=KeepTwoLines(),
        settings=ControllerSettings(always_open=True, agent_miss_limit=1),
    )
    rig.start()
    d1, d2 = rig.ami.dials[:2]
    rig.ami.answer(d1)
    rig.ami.bridge(d1)
    rig.ami.answer(d2)  # waits
    rig.step(1.8)
    rig.ami.callee_hangs_up(d1)
    rig.ctl.agent_result("agent1", SurveyResult.REFUSAL)
    rig.ctl.agent_ready("agent1")
    assert rig.ami.redirects[-1] == (d2.name, "toagent", "agent1")
    rig.step(0.3)
    assert rig.ami.redirects[-1] == (d2.name, "survey", "s")
    assert rig.pool.get("agent1").state == "idle"
    rig.ctl.stopService()


class _AskAgain:
    """A policy that launches nothing and always asks to be asked again in 0.5 s."""

    mode = "predictive"

    def __init__(self):
        self.decisions = 0

    def decide(self, snapshot):
        from dialer.pacing.snapshot import Decision

        self.decisions += 1
        return Decision(0, look_again_in=0.5)


def test_look_again_requests_do_not_multiply(tmp_path):
    """A policy asking to look again in 0.5 s at every decision is asked about twice a second
    plus the heartbeat - not once more for every earlier request still pending."""
    policy = _AskAgain()
    rig = Rig(tmp_path, policy=policy)
    rig.start()
    for _ in range(600):
        rig.clock.advance(0.1)
    # 60 s: 120 look-agains + 60 heartbeats at most, some coalesced
    assert 100 <= policy.decisions <= 200
