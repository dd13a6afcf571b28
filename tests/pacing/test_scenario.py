"""Tests for dialer.pacing.scenario: the benchmark scenario's distributions."""

from __future__ import annotations

import random
import statistics
from collections import Counter

import pytest

from dialer.pacing.scenario import SCENARIOS, Outcome, Scenario, lognormal_params


def test_lognormal_params_give_the_mean_and_sd():
    """(mu, sigma) reproduce the requested mean and sd."""
    mu, sigma = lognormal_params(180.0, 120.0)
    rng = random.Random(3)
    xs = [rng.lognormvariate(mu, sigma) for _ in range(100_000)]
    assert statistics.mean(xs) == pytest.approx(180.0, rel=0.02)
    assert statistics.stdev(xs) == pytest.approx(120.0, rel=0.05)


def test_outcome_shares_follow_the_issue():
    """P live, then 15 % machine, 60 % no answer, 10 % busy, 15 % invalid of the rest."""
    sc = Scenario(name="t", agents=20, answer_rate=0.30)
    rng = random.Random(1)
    n = 60_000
    counts = Counter(sc.sample_call(rng, 0.0).outcome for _ in range(n))
    assert counts[Outcome.LIVE] / n == pytest.approx(0.30, abs=0.01)
    rest = n - counts[Outcome.LIVE]
    assert counts[Outcome.MACHINE] / rest == pytest.approx(0.15, abs=0.01)
    assert counts[Outcome.NO_ANSWER] / rest == pytest.approx(0.60, abs=0.01)
    assert counts[Outcome.BUSY] / rest == pytest.approx(0.10, abs=0.01)
    assert counts[Outcome.INVALID] / rest == pytest.approx(0.15, abs=0.01)


def test_durations_of_each_outcome():
    """Live rings stay below 24.5 s; machines are known 3 s after pick-up; timeouts at 25 s."""
    sc = Scenario(name="t", agents=20, answer_rate=0.30)
    rng = random.Random(2)
    fates = [sc.sample_call(rng, 0.0) for _ in range(20_000)]
    live = [f.ring for f in fates if f.outcome is Outcome.LIVE]
    assert max(live) < 24.5
    assert statistics.mean(live) == pytest.approx(11.2, abs=0.3)  # 12 s before truncation
    machine = [f.ring for f in fates if f.outcome is Outcome.MACHINE]
    assert statistics.mean(machine) == pytest.approx(19.0, abs=0.4)
    assert {f.ring for f in fates if f.outcome is Outcome.NO_ANSWER} == {25.0}
    busy = [f.ring for f in fates if f.outcome is Outcome.BUSY]
    assert min(busy) >= 2.0 and max(busy) <= 4.0
    invalid = [f.ring for f in fates if f.outcome is Outcome.INVALID]
    assert min(invalid) >= 1.0 and max(invalid) <= 3.0


def test_talk_and_wrap_means():
    """Talk averages 180 s and wrap-up 10 s."""
    sc = SCENARIOS["n20-p30"]
    rng = random.Random(4)
    assert statistics.mean(sc.sample_talk(rng) for _ in range(50_000)) == pytest.approx(
        180.0, rel=0.02
    )
    assert statistics.mean(sc.sample_wrap(rng) for _ in range(50_000)) == pytest.approx(
        10.0, rel=0.02
    )


def test_drift_is_piecewise_linear_over_the_shift():
    """The drifting scenario goes 0.30 -> 0.15 (mid-shift) -> 0.45 (end)."""
    sc = SCENARIOS["n20-drift"]
    assert sc.answer_rate_at(0.0) == pytest.approx(0.30)
    assert sc.answer_rate_at(2 * 3600.0) == pytest.approx(0.225)
    assert sc.answer_rate_at(4 * 3600.0) == pytest.approx(0.15)
    assert sc.answer_rate_at(8 * 3600.0) == pytest.approx(0.45)
    assert sc.answer_rate_at(9 * 3600.0) == pytest.approx(0.45)


def test_presets_match_the_issue_table():
    """Seven scenarios, with the trunk capped at three lines per agent."""
    assert list(SCENARIOS) == [
        "n20-p30",
        "n20-p15",
        "n20-p50",
        "n5-p30",
        "n100-p30",
        "n20-drift",
        "n20-talk90",
    ]
    assert SCENARIOS["n100-p30"].trunk_cap == 300
    assert SCENARIOS["n20-talk90"].talk_mean == 90.0
