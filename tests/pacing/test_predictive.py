"""Tests for dialer.pacing.predictive: the forecast, the tail maths and the controller."""

from __future__ import annotations

import itertools
import random
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.pacing.estimators import PacingModel
from dialer.pacing.ledger import AbandonmentLedger
from dialer.pacing.predictive import Predictive, tail_exact, tail_normal
from dialer.pacing.scenario import SCENARIOS, Outcome

from .helpers import snapshot


def _brute_tail(probs: list[float], k: int) -> float:
    total = 0.0
    for bits in itertools.product((0, 1), repeat=len(probs)):
        if sum(bits) >= k:
            p = 1.0
            for b, q in zip(bits, probs, strict=True):
                p *= q if b else 1.0 - q
            total += p
    return total


def test_tail_exact_matches_enumeration():
    """The truncated dynamic programme gives P(Z >= k) exactly, for every column."""
    rng = np.random.default_rng(1)
    terms = rng.random((8, 3))
    for k in range(0, 10):
        got = tail_exact(terms, k)
        for col in range(3):
            assert got[col] == pytest.approx(_brute_tail(list(terms[:, col]), k), abs=1e-12)


def test_tail_normal_is_close_for_many_terms():
    """The skew-corrected normal tail is within half a point of the exact one for 200 terms."""
    rng = np.random.default_rng(2)
    terms = rng.random((200, 4)) * 0.6
    mean = terms.sum(axis=0)
    v = terms * (1 - terms)
    third = (v * (1 - 2 * terms)).sum(axis=0)
    for k in (50, 60, 70):
        approx = tail_normal(mean, v.sum(axis=0), third, k, 200)
        exact = tail_exact(terms, k)
        assert np.all(np.abs(approx - exact) < 0.005)
    assert np.all(tail_normal(mean, v.sum(axis=0), third, 0, 200) == 1.0)
    assert np.all(tail_normal(mean, v.sum(axis=0), third, 201, 200) == 0.0)


def _trained_model(seed: int = 0, n: int = 3000) -> PacingModel:
    sc = SCENARIOS["n20-p30"]
    rng = random.Random(seed)
    model = PacingModel()
    for i in range(n):
        fate = sc.sample_call(rng, 0.0)
        model.observe_outcome(float(i), float(i) + fate.ring, fate.outcome is Outcome.LIVE)
        model.observe_talk(sc.sample_talk(rng))
        model.observe_wrap(sc.sample_wrap(rng))
    return model


@pytest.fixture(scope="module")
def model() -> PacingModel:
    return _trained_model()


NOW = 10_000.0


def test_idle_agents_get_several_lines_each(model):
    """Ten idle agents and nothing ringing at a 30 % answer rate: well over ten calls."""
    snap = snapshot(NOW, idle=(NOW - 5,) * 10, talking=(NOW - 60,) * 10, model=model)
    launch = Predictive().decide(snap).launch
    assert 10 < launch <= 60


def test_no_call_when_everyone_just_started_talking(model):
    """All agents began their interview seconds ago: no agent will be free, no call."""
    snap = snapshot(NOW, talking=(NOW - 3,) * 20, model=model)
    assert Predictive().decide(snap).launch == 0


def test_calls_for_agents_about_to_free(model):
    """Agents deep in wrap-up are about to be free: the pacer dials for them ahead of time."""
    snap = snapshot(NOW, talking=(NOW - 5,) * 15, wrapping=(NOW - 9,) * 5, model=model)
    assert Predictive().decide(snap).launch >= 3


def test_more_ringing_means_fewer_new_calls(model):
    """Calls already ringing count against the agents they may need."""
    base = dict(idle=(NOW - 5,) * 5, talking=(NOW - 100,) * 15, model=model)
    quiet = Predictive().decide(snapshot(NOW, **base)).launch
    busy = Predictive().decide(snapshot(NOW, ringing=(NOW - 3,) * 10, **base)).launch
    assert busy < quiet


def test_waiting_calls_take_idle_agents(model):
    """As many answered calls waiting as idle agents, agents all busy for long: no call."""
    snap = snapshot(
        NOW, idle=(NOW - 1,) * 2, waiting=(NOW - 1,) * 2, talking=(NOW,) * 18, model=model
    )
    assert Predictive().decide(snap).launch == 0


def test_never_more_than_the_free_lines(model):
    """The trunk cap bounds the launch."""
    snap = snapshot(NOW, idle=(NOW,) * 20, lines_in_use=57, trunk_cap=60, model=model)
    assert Predictive().decide(snap).launch == 3


def test_no_agents_no_calls(model):
    """A campaign with nobody logged in dials nothing."""
    assert Predictive().decide(snapshot(NOW, model=model)).launch == 0


def test_a_higher_threshold_dials_more(model):
    """The risk threshold orders the launch."""
    snap = snapshot(NOW, idle=(NOW,) * 3, talking=(NOW - 150,) * 17, model=model)
    low = Predictive(theta=0.005).decide(snap).launch
    high = Predictive(theta=0.2).decide(snap).launch
    assert high > low


def _ledger(live: int, abandoned: int) -> AbandonmentLedger:
    ledger = AbandonmentLedger()
    for i in range(live):
        ledger.record_live_answer(float(i))
    for i in range(abandoned):
        ledger.record_abandoned(float(i))
    return ledger


def test_controller_tightens_over_the_setpoint_and_loosens_under(model):
    """Over budget the threshold falls below its start; well under budget it rises."""
    over, under = Predictive(theta=0.03), Predictive(theta=0.03)
    for t in range(0, 3600, 30):
        over.decide(snapshot(3600.0 + t, ledger=_ledger(1000, 50), model=model))
        under.decide(snapshot(3600.0 + t, ledger=_ledger(1000, 5), model=model))
    assert over.theta < 0.01
    assert under.theta > 0.05


def test_controller_does_not_loosen_on_few_answers(model):
    """Ten answers without abandonment are no evidence: the threshold stays where it was."""
    policy = Predictive(theta=0.03, cold_theta=1.0)
    for t in range(0, 600, 30):
        policy.decide(snapshot(float(t), ledger=_ledger(10, 0), model=model))
    assert policy.theta == pytest.approx(0.03)


def test_cold_start_risks_little_until_one_abandonment_fits_the_target(model):
    """Below 1/target live answers (one abandonment would break 3 %) theta is capped; after, not."""
    cold, warm = Predictive(theta=0.03), Predictive(theta=0.03)
    cold.decide(snapshot(60.0, ledger=_ledger(33, 0), model=model))
    warm.decide(snapshot(60.0, ledger=_ledger(34, 0), model=model))
    assert cold.theta == pytest.approx(cold.cold_theta)
    assert warm.theta >= 0.03
    busy = snapshot(
        NOW, idle=(NOW - 5,) * 2, talking=(NOW - 100,) * 18, ledger=_ledger(33, 0), model=model
    )
    fewer = Predictive(theta=0.03).decide(busy).launch
    more = Predictive(theta=0.03, cold_theta=1.0).decide(busy).launch
    assert fewer < more


def test_decision_with_100_agents_is_fast(model):
    """A decision for 100 agents and 150 ringing calls takes well under 20 ms at p99."""
    rng = random.Random(7)
    policy = Predictive()
    took = []
    for i in range(200):
        now = NOW + i
        snap = snapshot(
            now,
            idle=tuple(now - rng.random() * 5 for _ in range(3)),
            talking=tuple(now - rng.random() * 400 for _ in range(87)),
            wrapping=tuple(now - rng.random() * 10 for _ in range(10)),
            ringing=tuple(now - rng.random() * 25 for _ in range(150)),
            trunk_cap=300,
            model=model,
        )
        t0 = time.thread_time()  # CPU time: other processes on a busy machine do not count
        policy.decide(snap)
        took.append(time.thread_time() - t0)
    took.sort()
    assert took[int(0.99 * len(took))] < 0.020


_elapsed = st.lists(st.floats(0.0, 4000.0), max_size=30)


@settings(max_examples=60, deadline=None)
@given(
    idle=_elapsed,
    talking=_elapsed,
    wrapping=st.lists(st.floats(0.0, 400.0), max_size=10),
    ringing=st.lists(st.floats(-1.0, 90.0), max_size=60),
    waiting=st.lists(st.floats(0.0, 2.0), max_size=5),
    extra_lines=st.integers(0, 50),
    cap=st.integers(0, 200),
    theta=st.floats(0.001, 0.5),
)
def test_launch_is_within_bounds(
    idle, talking, wrapping, ringing, waiting, extra_lines, cap, theta
):
    """Whatever the state (odd elapsed times included), 0 <= launch <= free lines."""
    model = _MODEL
    busy = len(talking) + len(ringing) + len(waiting) + extra_lines
    snap = snapshot(
        NOW,
        idle=tuple(NOW - x for x in idle),
        talking=tuple(NOW - x for x in talking),
        wrapping=tuple(NOW - x for x in wrapping),
        ringing=tuple(NOW - x for x in ringing),
        waiting=tuple(NOW - x for x in waiting),
        lines_in_use=busy,
        trunk_cap=cap,
        model=model,
    )
    launch = Predictive(theta=theta).decide(snap).launch
    assert 0 <= launch <= snap.free_lines
    if not idle and not talking and not wrapping:
        assert launch == 0


_MODEL = _trained_model(seed=3, n=1500)


def test_setpoints_follow_a_lower_target(model):
    """A campaign with a 1 % cap steers under 1 %, not to the 3 % defaults."""
    strict = Predictive(target=0.01)
    assert strict.setpoint < 0.01 and strict.setpoint_min < strict.setpoint
    usual = Predictive()
    assert usual.setpoint == pytest.approx(0.029) and usual.setpoint_min == pytest.approx(0.02)
    for t in range(0, 3600, 30):
        strict.decide(snapshot(3600.0 + t, ledger=_ledger(1000, 0), model=model))
    assert strict.current_setpoint < 0.01
