"""Tests for dialer.pacing.estimators: online estimates from wrong priors."""

from __future__ import annotations

import random

import numpy as np
import pytest

from dialer.pacing.estimators import AnswerRate, DurationHistogram, PacingModel
from dialer.pacing.scenario import Outcome, Scenario


def test_answer_rate_waits_for_slow_outcomes():
    """Fast failures alone do not move the estimate until the dials made before them resolved."""
    rate = AnswerRate(prior=0.5, prior_weight=20, resolve_after=30.0)
    for i in range(10):
        rate.observe(dialled_at=100.0 + i, live=False)  # busy/invalid, known after 2 s
    assert rate.value(now=112.0) == pytest.approx(0.5)
    for i in range(10):
        rate.observe(dialled_at=100.0 + i, live=True)  # live, known after 12 s
    assert rate.value(now=140.0) == pytest.approx((10 + 10) / (20 + 20), abs=0.01)


def test_answer_rate_learns_from_a_wrong_prior_and_follows_drift():
    """From a prior of 0.5 it reaches 0.3, then follows a change to 0.15 within a few windows."""
    rate = AnswerRate(prior=0.5, prior_weight=20, window=500.0, resolve_after=0.0)
    rng = random.Random(5)
    for i in range(3000):
        rate.observe(float(i), rng.random() < 0.3)
    assert rate.value(3000.0) == pytest.approx(0.3, abs=0.04)
    for i in range(3000, 5000):
        rate.observe(float(i), rng.random() < 0.15)
    assert rate.value(5000.0) == pytest.approx(0.15, abs=0.04)


def test_histogram_forgets_the_prior():
    """A prior centred on 300 s gives way to observations around 180 s."""
    prior = np.zeros(600)
    prior[300] = 1.0
    hist = DurationHistogram(600, prior, prior_weight=10.0, window=1000.0)
    for _ in range(2000):
        hist.observe(180.4)
    pmf = hist.pmf()
    assert pmf[180] > 0.99
    assert pmf[300] < 0.01


def test_histogram_rejects_a_prior_of_the_wrong_size():
    """The prior has one weight per bin."""
    with pytest.raises(ValueError, match="one weight per bin"):
        DurationHistogram(10, np.ones(5), 1.0)


def test_censored_durations_lengthen_the_survival():
    """Durations still running (censored) raise the estimated survival beyond them."""
    hist = DurationHistogram(100, np.ones(100), prior_weight=1e-6)
    for x in (10, 20, 30):
        hist.observe(x + 0.5)
    plain = hist.log_survival()
    censored = hist.log_survival([50.0, 60.0, 70.0])
    assert np.exp(plain[40]) < 1e-3  # all three observed ended by then
    assert np.exp(censored[40]) > 0.3


def _feed(model: PacingModel, sc: Scenario, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    for i in range(n):
        fate = sc.sample_call(rng, 0.0)
        model.observe_outcome(float(i), float(i) + fate.ring, fate.outcome is Outcome.LIVE)
        model.observe_talk(sc.sample_talk(rng))
        model.observe_wrap(sc.sample_wrap(rng))


def test_model_learns_the_scenario():
    """After 3000 calls the summary is close to the scenario's truth, not to the priors."""
    model = PacingModel()
    _feed(model, Scenario(name="t", agents=20, answer_rate=0.30), 3000)
    est = model.summary(now=1e9)
    assert est["answer_rate"] == pytest.approx(0.30, abs=0.05)
    assert est["ring_mean"] == pytest.approx(11.7, abs=1.0)  # bins are centred: +0.5 s
    assert est["talk_mean"] == pytest.approx(180.0, rel=0.1)
    assert est["wrap_mean"] == pytest.approx(10.5, abs=1.0)


def test_tables_are_probabilities_growing_with_the_horizon():
    """Every forecast is in [0, 1] and non-decreasing in s."""
    model = PacingModel()
    _feed(model, Scenario(name="t", agents=20, answer_rate=0.30), 2000)
    t = model.tables(now=1e9)
    rows = t.talking_rows(np.array([0.0, 60.0, 170.0, 900.0, 5000.0]))
    for table in (rows, t.agent_wrapping, t.ringing):
        assert table.min() >= -1e-9
        assert table.max() <= 1 + 1e-9
        assert np.all(np.diff(table, axis=1) >= -1e-9)
    # an agent well into wrap-up is more likely to be free soon than one who just started talking
    assert t.agent_wrapping[8, 0] > rows[0, -1]
    # a call still undetermined after 24 s is almost never going to be a live answer
    assert t.ringing[24, -1] < 0.05
    assert t.ringing[0, -1] == pytest.approx(t.answer_rate, abs=0.02)
    assert t.answer_pmf.sum() == pytest.approx(1.0, abs=0.02)


def test_tables_are_cached_between_rebuilds():
    """The same tables are returned until rebuild_every seconds have passed."""
    model = PacingModel(rebuild_every=10.0)
    first = model.tables(now=100.0)
    assert model.tables(now=105.0) is first
    assert model.tables(now=111.0) is not first
