"""
A fast discrete-event run of the pacing scenario, for tuning and for the pacing table.

It plays one shift of L{dialer.pacing.scenario.Scenario} on a virtual clock: simulated agents, an
unlimited supply of numbers, and the pacing policy asked through the same L{PacingInput} the
campaign controller builds, with the controller's observations fed into the same
L{PacingModel} and L{AbandonmentLedger}.  It is not the engine: no hopper, no AMI, no store.
C{dialer bench pacing --engine real} runs the same scenario through the real engine and the
simulated PBX instead.

Rules: the pacer is asked every C{tick} seconds and also right after an agent becomes idle or a
dial fails (the controller wakes on such events).  A live answer is given to an idle agent at once
(the one idle longest); otherwise it waits, first come first served, for an agent finishing wrap-up
within the grace time, and is abandoned after that (the line is then released: the IVR overflow
is outside the trunk budget of this model).  Utilisation is talk time inside the shift divided by
the agents' logged-in time (the whole shift).

Pure: the clock is virtual and the randomness comes from the seed; C{timer} (a monotonic clock
to time the pacing decisions) is injected.

test-case-name: tests.pacing.test_harness
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dialer.pacing.base import PacingPolicy
from dialer.pacing.estimators import PacingModel
from dialer.pacing.ledger import AbandonmentLedger
from dialer.pacing.scenario import Outcome, Scenario
from dialer.pacing.snapshot import PacingInput

__all__ = ["RunResult", "run_shift"]

_TICK, _RING_END, _LINE_FREE, _TALK_END, _WRAP_END, _GRACE_END = range(6)


@dataclass
class RunResult:
    """Raw counts and samples of one shift; L{figures} turns them into the report."""

    scenario: Scenario
    mode: str
    seed: int
    talk_time: float = 0.0
    completes: int = 0
    dials: int = 0
    live_answered: int = 0
    abandoned: int = 0
    idle_gaps: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    decision_times: list[float] = field(default_factory=list)
    hourly_live: list[int] = field(default_factory=list)
    hourly_abandoned: list[int] = field(default_factory=list)
    model_summary: dict[str, float] = field(default_factory=dict)

    def figures(self) -> dict[str, Any]:
        """The benchmark's figures for this shift."""
        sc = self.scenario
        agent_hours = sc.agents * sc.hours
        worst = 0.0
        for live, ab in zip(self.hourly_live, self.hourly_abandoned, strict=True):
            if live:
                worst = max(worst, ab / live)
        return {
            "scenario": sc.name,
            "mode": self.mode,
            "seed": self.seed,
            "agents": sc.agents,
            "hours": sc.hours,
            "utilisation": self.talk_time / (sc.agents * sc.shift),
            "abandonment_pct": 100.0 * self.abandoned / self.live_answered
            if self.live_answered
            else 0.0,
            "abandonment_denominator": "live-answered",
            "live_answered": self.live_answered,
            "abandoned": self.abandoned,
            "completes_per_agent_hour": self.completes / agent_hours,
            "idle_gap_mean_s": _mean(self.idle_gaps),
            "dials_per_hour": self.dials / sc.hours,
            "worst_hour_abandonment_pct": 100.0 * worst,
            "answer_to_agent_p50_s": _quantile(self.latencies, 0.50),
            "answer_to_agent_p99_s": _quantile(self.latencies, 0.99),
            "decision_ms_p99": 1000.0 * _quantile(self.decision_times, 0.99),
            "decisions": len(self.decision_times),
            "learnt": self.model_summary,
        }


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def _quantile(xs: list[float], q: float) -> float:
    if not xs:
        return 0.0
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def run_shift(
    scenario: Scenario,
    policy: PacingPolicy,
    seed: int,
    *,
    model: PacingModel | None = None,
    tick: float = 1.0,
    event_wake: bool = True,
    timer: Callable[[], float] | None = None,
) -> RunResult:
    """Play one shift of C{scenario} with C{policy} and return what happened."""
    rng_calls = random.Random(seed * 1_000_003 + 1)
    rng_talk = random.Random(seed * 1_000_003 + 2)
    rng_wrap = random.Random(seed * 1_000_003 + 3)
    model = model or PacingModel(ring_timeout=scenario.no_answer_timeout)
    ledger = AbandonmentLedger()
    end = scenario.shift
    grace = scenario.abandon_after
    hours = int(scenario.hours + 0.999999)
    result = RunResult(
        scenario, policy.mode, seed, hourly_live=[0] * hours, hourly_abandoned=[0] * hours
    )

    idle: dict[int, float] = {a: 0.0 for a in range(scenario.agents)}
    talking: dict[int, float] = {}
    wrapping: dict[int, float] = {}
    ringing: dict[int, float] = {}
    waiting: dict[int, float] = {}  # call -> answer time, FIFO by insertion
    lines = 0
    next_call = 0
    events: list[tuple[float, int, int, int]] = []  # (time, seq, kind, id)
    seq = 0

    def push(t: float, kind: int, ident: int) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, kind, ident))

    def connect(call: int, answered: float, now: float) -> None:
        agent = next(iter(idle))
        result.idle_gaps.append(now - idle.pop(agent))
        talking[agent] = now
        result.latencies.append(now - answered)
        push(now + scenario.sample_talk(rng_talk), _TALK_END, agent)

    def decide(now: float) -> None:
        nonlocal lines, next_call
        snap = PacingInput(
            now=now,
            idle_since=tuple(idle.values()),
            talking_since=tuple(talking.values()),
            wrapping_since=tuple(wrapping.values()),
            ringing_since=tuple(ringing.values()),
            waiting_since=tuple(waiting.values()),
            lines_in_use=lines,
            trunk_cap=scenario.trunk_cap,
            ledger=ledger.figures(now),
            model=model,
        )
        if timer is not None:
            t0 = timer()
            decision = policy.decide(snap)
            result.decision_times.append(timer() - t0)
        else:
            decision = policy.decide(snap)
        for _ in range(min(decision.launch, snap.free_lines)):
            call = next_call
            next_call += 1
            fate = scenario.sample_call(rng_calls, now)
            ringing[call] = now
            lines += 1
            result.dials += 1
            push(now + fate.ring, _RING_END, call if fate.outcome is Outcome.LIVE else ~call)

    push(0.0, _TICK, 0)
    while events:
        now, _, kind, ident = heapq.heappop(events)
        if now > end:
            break
        wake = False
        if kind == _TICK:
            decide(now)
            if now + tick <= end:
                push(now + tick, _TICK, 0)
            continue
        if kind == _RING_END:
            live = ident >= 0
            call = ident if live else ~ident
            dialled = ringing.pop(call)
            model.observe_outcome(dialled, now, live)
            if live:
                ledger.record_live_answer(now)
                result.live_answered += 1
                result.hourly_live[min(hours - 1, int(now // 3600))] += 1
                if idle:
                    connect(call, now, now)
                else:
                    waiting[call] = now
                    push(now + grace, _GRACE_END, call)
            else:
                lines -= 1
                wake = True
        elif kind == _GRACE_END:
            if ident in waiting:
                del waiting[ident]
                lines -= 1
                ledger.record_abandoned(now)
                result.abandoned += 1
                result.hourly_abandoned[min(hours - 1, int(now // 3600))] += 1
        elif kind == _TALK_END:
            started = talking.pop(ident)
            model.observe_talk(now - started)
            result.talk_time += now - started
            result.completes += 1
            lines -= 1
            wrapping[ident] = now
            push(now + scenario.sample_wrap(rng_wrap), _WRAP_END, ident)
        elif kind == _WRAP_END:
            model.observe_wrap(now - wrapping.pop(ident))
            idle[ident] = now
            if waiting:
                call = next(iter(waiting))
                answered = waiting.pop(call)
                connect(call, answered, now)
            else:
                wake = True
        if wake and event_wake and now < end:
            decide(now)
    # talk still going at the end of the shift counts up to the end
    for started in talking.values():
        result.talk_time += max(0.0, end - started)
    result.model_summary = model.summary(end)
    return result
