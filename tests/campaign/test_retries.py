"""Retry decisions after each outcome."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from dialer.campaign.dispositions import OUTCOMES
from dialer.campaign.retries import (
    DAY,
    HOUR,
    RetryRules,
    decide,
    parse_duration,
    parse_rules,
)
from dialer.campaign.schedule import ALL_DAYS, make_schedule
from dialer.errors import ConfigError

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 23, 19, 0, tzinfo=SH).timestamp()  # Monday 19:00
RULES = RetryRules()
ALWAYS = make_schedule(
    "Asia/Shanghai", [{"days": list(ALL_DAYS), "start": "00:00", "end": "24:00"}]
)


@pytest.mark.parametrize(
    ("name", "delay"),
    [
        ("no_answer", 3 * HOUR),
        ("busy", 15 * 60),
        ("machine", 4 * HOUR),
        ("refusal", 7 * DAY),
        ("congestion", 10 * 60),
        ("abandoned", 1 * HOUR),
    ],
)
def test_default_delays(name, delay):
    """The issue's example delays: no answer 3 h, busy 15 min, machine 4 h, soft refusal 7 days."""
    d = decide(OUTCOMES[name], attempts_before=0, now=NOW, rules=RULES, schedule=ALWAYS)
    assert not d.final
    assert d.next_at == pytest.approx(NOW + delay)
    assert d.attempts == 1


def test_final_outcome():
    """A complete finishes the contact."""
    d = decide(OUTCOMES["complete"], attempts_before=2, now=NOW, rules=RULES)
    assert d.final and d.reason == "final-outcome" and d.attempts == 3


def test_max_attempts():
    """The last allowed attempt finishes the contact."""
    d = decide(OUTCOMES["no_answer"], attempts_before=5, now=NOW, rules=RetryRules(max_attempts=6))
    assert d.final and d.reason == "max-attempts" and d.attempts == 6


def test_failed_does_not_use_an_attempt():
    """A dialer-side failure leaves the attempt count unchanged and retries soon."""
    d = decide(OUTCOMES["failed"], attempts_before=5, now=NOW, rules=RetryRules(max_attempts=6))
    assert not d.final and d.attempts == 5
    assert d.next_at == pytest.approx(NOW + 300)


def test_retry_lands_in_next_window():
    """No answer at 19:00 + 3 h = 22:00 is outside 18:00-21:00: the retry moves to 12:00 next day."""
    s = make_schedule(
        "Asia/Shanghai",
        [
            {"days": [0, 1, 2, 3, 4], "start": "12:00", "end": "13:00"},
            {"days": [0, 1, 2, 3, 4], "start": "18:00", "end": "21:00"},
        ],
    )
    d = decide(OUTCOMES["no_answer"], attempts_before=0, now=NOW, rules=RULES, schedule=s)
    assert d.next_at == dt.datetime(2026, 11, 24, 12, 0, tzinfo=SH).timestamp()


def test_callback_first():
    """An appointment sets the next time, even past max attempts (no schedule: at its time)."""
    due = NOW + 2 * DAY + 5
    d = decide(
        OUTCOMES["callback"],
        attempts_before=5,
        now=NOW,
        rules=RetryRules(max_attempts=6),
        callback_at=due,
    )
    assert not d.final and d.next_at == due and d.reason == "callback"


def test_second_refusal_is_final():
    """A soft refusal is retried once; a second refusal finishes the contact."""
    first = decide(OUTCOMES["refusal"], attempts_before=1, now=NOW, rules=RULES, refusals_before=0)
    second = decide(OUTCOMES["refusal"], attempts_before=2, now=NOW, rules=RULES, refusals_before=1)
    assert not first.final
    assert second.final and second.reason == "refused-again"


def test_parse_rules():
    """Config delays accept seconds and 15m/3h/7d strings; unknown classes are named."""
    rules = parse_rules({"delays": {"busy": "20m", "no_answer": 7200}, "max_attempts": 4})
    assert rules.delay("busy") == 1200 and rules.delay("no_answer") == 7200
    assert rules.delay("machine") == 4 * HOUR
    assert rules.max_attempts == 4
    with pytest.raises(ConfigError, match=r"retry\.delays\.bsy"):
        parse_rules({"delays": {"bsy": 1}})
    with pytest.raises(ConfigError, match=r"retry\.max_attempts"):
        parse_rules({"max_attempts": 0})


@pytest.mark.parametrize(
    ("value", "seconds"), [(900, 900), ("15m", 900), ("3h", 10800), ("7d", 604800), ("30", 30)]
)
def test_parse_duration(value, seconds):
    """Durations in seconds or with an s/m/h/d suffix."""
    assert parse_duration(value, "x") == seconds


@pytest.mark.parametrize("value", ["soon", "", -1, True, None])
def test_parse_duration_rejects(value):
    """Bad durations raise ConfigError naming the key."""
    with pytest.raises(ConfigError, match=r"^k"):
        parse_duration(value, "k")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("inf", "finite"),
        ("-inf", "finite"),
        ("nan", "finite"),
        (float("inf"), "finite"),
        (float("nan"), "finite"),
        ("infd", "finite"),
        (1e300, "366 days"),
        ("1e300", "366 days"),
        ("367d", "366 days"),
        ("8785h", "366 days"),
    ],
)
def test_parse_duration_rejects_unbounded(value, problem):
    """Non-finite delays and delays over 366 days are refused in both languages, naming the key."""
    with pytest.raises(ConfigError, match=rf"^k: .*{problem}.* / 时长"):
        parse_duration(value, "k")


@pytest.mark.parametrize(
    ("value", "seconds"), [("366d", 366 * 24 * HOUR), ("0", 0), ("1.5h", 5400)]
)
def test_parse_duration_bounds_kept(value, seconds):
    """The longest delay (366 days), zero and fractions are still accepted."""
    assert parse_duration(value, "k") == seconds


def test_huge_delay_never_reaches_the_schedule():
    """A rule set with a 1e300 s delay cannot be built, so decide() cannot overflow next_open."""
    from dialer.campaign.schedule import make_schedule

    with pytest.raises(ConfigError, match=r"retry\.delays\.busy"):
        parse_rules({"delays": {"busy": 1e300}})
    # what used to happen: the overflow inside the store's finish transaction
    sched = make_schedule("Asia/Shanghai", [{"days": [0], "start": "09:00", "end": "10:00"}])
    with pytest.raises(OverflowError):
        sched.next_open(NOW + 1e300)


@pytest.mark.parametrize("far", [1e300, 1e18, float("inf")])
def test_absurd_callback_time_cannot_overflow(far):
    """A garbled appointment time (far future, infinite) gives a due time, never OverflowError."""
    d = decide(
        OUTCOMES["callback"],
        attempts_before=1,
        now=NOW,
        rules=RULES,
        schedule=ALWAYS,
        callback_at=far,
    )
    assert not d.final and d.next_at is not None
    if far == float("inf"):  # no usable time: the callback class's delay applies
        assert d.reason == "retry" and d.next_at == NOW + RULES.delay("callback")
    else:  # at most 366 days out
        assert d.reason == "callback" and d.next_at == NOW + 366 * DAY
