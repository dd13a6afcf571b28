"""
The pacing benchmark on the real engine: the campaign controller (hopper, pacer, call
handling, store writes) driving the simulated PBX through the real AMI client, all on
one virtual clock (C{dialer bench pacing --engine real}).

The simulated PBX runs its ordinary dialplan (C{hold}, C{toagent}, C{survey}); only the
callees and the interviewers follow the benchmark scenario (L{dialer.pacing.scenario})
instead of a profile: each dialled number draws its fate from the scenario at the time
it is dialled (so a drifting answer rate drifts). The C{hold} context runs Asterisk's
C{AMD()}, simulated (L{dialer.sim.pbx.app_amd}): it judges an answering machine
C{AMDSTATUS=MACHINE} the scenario's detection time (3 s) after it picks up, and a person
C{HUMAN} at once (the scenario has no detection delay for people, so the figures compare
with the fast harness); the controller hangs machines up. Interviewers talk for the scenario's talk time and the
simulated desks wrap up for its wrap-up time. An abandoned call goes to the IVR context,
where nothing listens, so it ends at once (the IVR overflow is outside the trunk budget,
as in the fast harness).

Returns the harness's L{RunResult}, so both engines print the same figures.
"""

# test-case-name: tests.campaign.test_benchrun

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa

from dialer.ami.client import AMIClient
from dialer.ami.eventmask import DEFAULT_EVENT_MASK
from dialer.campaign.agents import AgentPool
from dialer.campaign.controller import CampaignController, ControllerSettings, Line
from dialer.campaign.simdesk import SimulatedDesk
from dialer.events import (
    AgentWrapping,
    CallBridged,
    CallEnded,
    CallOriginated,
    CallRouted,
    EventBus,
)
from dialer.pacing.base import PacingPolicy
from dialer.pacing.estimators import PacingModel
from dialer.pacing.harness import RunResult
from dialer.pacing.ledger import AbandonmentLedger
from dialer.pacing.scenario import Outcome, Scenario
from dialer.sim.dialplan import Step
from dialer.sim.profile import Profile
from dialer.sim.server import SimulatedPBX
from dialer.sim.virtual import FastClock, run_until
from dialer.store import campaigns as store
from dialer.store.engine import create_engine
from dialer.store.inline import InlineDB
from dialer.store.migrate import upgrade
from dialer.testing.synthetic import thd_seed_running_campaign

T0 = 1_795_600_000.0
UNITS = 10


def _secs(x: float) -> str:
    return f"{x:.3f}"


class _ScenarioPBX:
    """Replaces the profile's callees and interviewers with the scenario's."""

    def __init__(self, sim: SimulatedPBX, scenario: Scenario, seed: int) -> None:
        self.sim = sim
        self.scenario = scenario
        self.rng_calls = random.Random(seed * 1_000_003 + 1)
        self.rng_talk = random.Random(seed * 1_000_003 + 2)
        self.outcomes: dict[str, int] = {}
        pbx = sim.pbx
        assert pbx is not None
        self._run = pbx.run
        pbx._start_callee = self._start_callee  # type: ignore[method-assign]

    def _steps(self, outcome: Outcome, ring: float) -> list[Step]:
        sc = self.scenario
        if outcome is Outcome.LIVE:
            return [
                Step("Ringing", ""),
                Step("Wait", _secs(ring)),
                Step("Answer", ""),
                Step("Wait", "7200"),
                Step("Hangup", "16"),
            ]
        if outcome is Outcome.MACHINE:
            # the fate's ring is pick-up plus detection; AMD() in hold takes the detection
            pickup = ring - sc.machine_detect
            return [
                Step("Ringing", ""),
                Step("Wait", _secs(pickup)),
                Step("Answer", ""),
                Step("Wait", "60"),
                Step("Hangup", "16"),
            ]
        if outcome is Outcome.NO_ANSWER:
            return [Step("Ringing", ""), Step("Wait", "600"), Step("Hangup", "19")]
        if outcome is Outcome.BUSY:
            return [Step("Wait", _secs(ring)), Step("Busy", "10"), Step("Hangup", "17")]
        return [Step("Wait", _secs(ring)), Step("Hangup", "1")]

    def _start_callee(self, two: Any) -> None:
        pbx = self.sim.pbx
        assert pbx is not None
        if two.context == "callee":
            fate = self.scenario.sample_call(self.rng_calls, pbx.clock.seconds() - T0)
            two.steps, two.steps_context = self._steps(fate.outcome, fate.ring), "callee"
            two.respondent = fate.outcome is Outcome.LIVE
            if fate.outcome is Outcome.LIVE:
                two.amd, two.amd_after = "human", 0.0
            elif fate.outcome is Outcome.MACHINE:
                two.amd, two.amd_after = "machine", self.scenario.machine_detect
            self.outcomes[fate.outcome.value] = self.outcomes.get(fate.outcome.value, 0) + 1
        elif two.context == "agents":
            talk = self.scenario.sample_talk(self.rng_talk)
            two.steps = [Step("Answer", ""), Step("Wait", _secs(talk)), Step("Hangup", "16")]
            two.steps_context = "agents"
        pbx._spawn(self._run(two, two.context, two.exten, 1))


def _seed_store(engine: sa.Engine, n: int) -> int:
    with engine.begin() as conn:
        return thd_seed_running_campaign(
            conn, name="bench", n=n, n_units=UNITS, mode="predictive", now=T0
        )


class _Desk(SimulatedDesk):
    """Records when each agent becomes ready (for the idle gaps)."""

    def __init__(self, *args: Any, ready: dict[str, float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ready_at = ready

    def _done(self, agent: str) -> None:
        self.ready_at[agent] = self.clock.seconds()
        super()._done(agent)


def run_shift(
    scenario: Scenario,
    policy: PacingPolicy,
    seed: int,
    *,
    model: PacingModel | None = None,
    timer: Callable[[], float] | None = None,
    workdir: Path | None = None,
) -> RunResult:
    """Play one shift of C{scenario} through the real engine and the simulated PBX."""
    clock: Any = FastClock(T0)  # an IReactorTime (zope-declared, not visible to mypy)
    own_dir = tempfile.TemporaryDirectory(prefix="dialer-bench-") if workdir is None else None
    root = Path(own_dir.name) if own_dir is not None else workdir
    assert root is not None
    engine = create_engine(f"sqlite:///{root / 'bench.db'}")
    try:
        upgrade(engine)
        # enough fresh numbers for the busiest scenario (each number is dialled once)
        per_hour = scenario.agents * 3600.0 / scenario.talk_mean / max(scenario.answer_rate, 0.1)
        cid = _seed_store(engine, int(per_hour * scenario.hours * 2.5) + 500)
        with engine.connect() as conn:
            camp = store.thd_get_campaign(conn, cid)
        assert camp is not None
        sim = SimulatedPBX(clock=clock, rng=random.Random(seed), profile=Profile())
        scenario_pbx = _ScenarioPBX(sim, scenario, seed)
        ami = AMIClient(
            cast(Any, sim.ami_endpoint()),
            "dialer",
            "dialer",
            clock=clock,
            keepalive_interval=None,
            retry_policy=lambda attempt: 0.5,
            resync_channels=False,
            # the daemon's default [[ami]] events mask: what the controller reads (system,
            # call, user for hold's UserEvent MinyiAMD, agi); no dialplan (Newexten, VarSet)
            # or cdr events, about half of all the PBX sends
            events=DEFAULT_EVENT_MASK,
        )
        bus = EventBus()
        pool = AgentPool()
        for i in range(1, scenario.agents + 1):
            pool.add(f"agent{i}", now=T0)
        model = model or PacingModel(
            ring_timeout=scenario.no_answer_timeout, grace=scenario.abandon_after
        )
        settings = ControllerSettings(
            always_open=True,
            amd=True,
            ring_timeout=scenario.no_answer_timeout,
            grace=scenario.abandon_after,
            heartbeat=1.0,
            status_poll=3600.0,
            max_launch_per_tick=scenario.trunk_cap,
            # candidates loaded per unit, every 60 s (or sooner when fewer are left than a
            # tick wants): enough for a whole trunk's burst spread over the units, twice over.
            # More, or more often, only costs store and hopper time (the load's window query
            # grows with the campaign): each number is dialled once and its fate is drawn
            # when dialled, so which fresh number comes next does not change the figures.
            per_unit=max(50, 2 * scenario.trunk_cap // UNITS),
            hopper_refresh=60.0,
        )
        ctl = CampaignController(
            camp,
            db=InlineDB(engine),
            lines=[Line("sim", ami, scenario.trunk_cap)],  # type: ignore[arg-type]
            agents=pool,
            policy=policy,
            clock=clock,
            bus=bus,
            settings=settings,
            model=model,
            ledger=AbandonmentLedger(camp.abandon_target),
            rng=random.Random(seed),
            timer=timer or time.perf_counter,
        )
        ready_at: dict[str, float] = {f"agent{i}": T0 for i in range(1, scenario.agents + 1)}
        desk = _Desk(
            ctl,
            bus,
            clock=clock,
            rng=random.Random(seed * 1_000_003 + 3),
            wrap_mean=scenario.wrap_mean,
            wrap_shape=scenario.wrap_shape,
            results={},
            ready=ready_at,
        )
        end = T0 + scenario.shift
        hours = int(scenario.hours + 0.999999)
        result = RunResult(
            scenario,
            policy.mode,
            seed,
            hourly_live=[0] * hours,
            hourly_abandoned=[0] * hours,
        )
        talk_start: dict[str, float] = {}
        bridge_latency: list[float] = []  # answer -> bridged, including the PBX's own delays

        def hour(t: float) -> int:
            return min(hours - 1, max(0, int((t - T0) // 3600)))

        def originated(e: CallOriginated) -> None:
            if e.at < end:
                result.dials += 1

        def routed(e: CallRouted) -> None:
            if e.at >= end:
                return
            result.live_answered += 1
            result.hourly_live[hour(e.at)] += 1
            if e.to == "agent":
                result.latencies.append(e.wait_seconds)  # answer -> Redirect sent (dialer side)
            if e.abandoned:
                result.abandoned += 1
                result.hourly_abandoned[hour(e.at)] += 1

        def bridged(e: CallBridged) -> None:
            if e.agent is None or e.at >= end:
                return
            talk_start[e.agent] = e.at
            bridge_latency.append(e.answer_to_bridge_seconds)
            result.idle_gaps.append(e.at - ready_at.get(e.agent, T0))

        def wrapping(e: AgentWrapping) -> None:
            started = talk_start.pop(e.agent, None)
            if started is not None:
                result.talk_time += min(e.at, end) - started

        def ended(e: CallEnded) -> None:
            if e.outcome == "complete" and e.at < end:
                result.completes += 1

        bus.subscribe(CallOriginated, originated)
        bus.subscribe(CallRouted, routed)
        bus.subscribe(CallBridged, bridged)
        bus.subscribe(AgentWrapping, wrapping)
        bus.subscribe(CallEnded, ended)

        ami.startService()
        run_until(clock, T0 + 1.0)
        ctl.startService()
        run_until(clock, end)
        ctl.status = "paused"  # the shift is over: no new dials
        for started in talk_start.values():
            result.talk_time += max(0.0, end - started)
        result.decision_times = list(ctl.decision_seconds)
        result.model_summary = model.summary(end)
        result.model_summary["sim_dials"] = float(sum(scenario_pbx.outcomes.values()))
        if bridge_latency:
            ordered = sorted(bridge_latency)
            result.model_summary["answer_to_bridge_p99_s"] = ordered[int(0.99 * (len(ordered) - 1))]
        desk.stop()
        ctl.stopService()
        ami.stopService()
        run_until(clock, end + 1.0)
        return result
    finally:
        engine.dispose()
        if own_dir is not None:
            own_dir.cleanup()
