"""Tests for dialer.pacing.ledger: abandoned / live-answered over three windows."""

from __future__ import annotations

import pytest

from dialer.pacing.ledger import DAY, DENOMINATOR, MONTH, AbandonmentLedger


def test_rate_is_abandoned_over_live_answered():
    """Three abandoned of 100 live answers is 3 %, and the denominator is named."""
    ledger = AbandonmentLedger()
    for i in range(100):
        ledger.record_live_answer(float(i))
    for i in range(3):
        ledger.record_abandoned(100.0 + i)
    fig = ledger.figures(200.0)
    assert fig.campaign.rate == pytest.approx(0.03)
    assert fig.day.rate == pytest.approx(0.03)
    assert fig.month.rate == pytest.approx(0.03)
    assert fig.denominator == DENOMINATOR == "live-answered"
    assert fig.as_dict()["campaign"] == {"live_answered": 100, "abandoned": 3, "rate": 0.03}


def test_empty_ledger_rate_is_zero():
    """No live answer yet: the rate is 0, not a division error."""
    assert AbandonmentLedger().figures(0.0).worst_rate == 0.0


def test_rolling_day_forgets_but_campaign_does_not():
    """After 25 hours the 24-h window is empty while the campaign and 30-day windows keep all."""
    ledger = AbandonmentLedger()
    ledger.record_live_answer(0.0)
    ledger.record_abandoned(1.0)
    fig = ledger.figures(25 * 3600.0)
    assert (fig.day.live_answered, fig.day.abandoned) == (0, 0)
    assert (fig.campaign.live_answered, fig.campaign.abandoned) == (1, 1)
    assert (fig.month.live_answered, fig.month.abandoned) == (1, 1)
    fig = ledger.figures(31 * DAY)
    assert fig.month.live_answered == 0


def test_rolling_day_keeps_the_last_24_hours():
    """Answers within the last day stay in the window, older ones leave it."""
    ledger = AbandonmentLedger()
    ledger.record_live_answer(0.0)
    ledger.record_live_answer(DAY / 2)
    ledger.record_abandoned(DAY / 2)
    fig = ledger.figures(DAY + 120.0)
    assert (fig.day.live_answered, fig.day.abandoned) == (1, 1)
    assert fig.worst_rate == 1.0


def test_rolling_day_edge_is_exact_to_a_minute():
    """An answer stays in the 24-h window until 24 h after it and is gone a minute later."""
    t0 = 7 * 3600 + 1234.5
    ledger = AbandonmentLedger()
    ledger.record_live_answer(t0)
    ledger.record_abandoned(t0)
    day = ledger.figures(t0 + DAY - 1).day
    assert (day.live_answered, day.abandoned) == (1, 1)
    day = ledger.figures(t0 + DAY + 60).day
    assert (day.live_answered, day.abandoned) == (0, 0)


def test_rolling_month_forgets_after_30_days():
    """An answer leaves the 30-day window between 30 days and 30 days + 1 hour after it; a
    later one stays, and the campaign window keeps both."""
    t0 = 5 * 3600 + 1800.0  # mid-hour: the worst case for hour buckets
    ledger = AbandonmentLedger()
    ledger.record_live_answer(t0)
    ledger.record_abandoned(t0 + 1)
    ledger.record_live_answer(t0 + 10 * DAY)
    fig = ledger.figures(t0 + MONTH - 1)
    assert (fig.month.live_answered, fig.month.abandoned) == (2, 1)
    assert (fig.day.live_answered, fig.day.abandoned) == (0, 0)
    fig = ledger.figures(t0 + 1 + MONTH + 3600)
    assert (fig.month.live_answered, fig.month.abandoned) == (1, 0)
    assert fig.month.rate == 0.0
    assert (fig.campaign.live_answered, fig.campaign.abandoned) == (2, 1)
    assert fig.worst_rate == 0.5
    fig = ledger.figures(t0 + 10 * DAY + MONTH + 3600)
    assert fig.month.live_answered == 0
