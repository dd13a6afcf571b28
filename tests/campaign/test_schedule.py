"""Calling windows in the respondent's time zone."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from dialer.campaign.schedule import DEFAULT_WINDOWS, make_schedule
from dialer.errors import ConfigError

SH = ZoneInfo("Asia/Shanghai")


def at(y, m, d, hh, mm=0, zone=SH):
    return dt.datetime(y, m, d, hh, mm, tzinfo=zone).timestamp()


# 2026-11-23 is a Monday.
EVENINGS = make_schedule(
    "Asia/Shanghai",
    [
        {"days": [0, 1, 2, 3, 4], "start": "18:00", "end": "21:00"},
        {"days": [0, 1, 2, 3, 4], "start": "12:00", "end": "13:00"},
    ],
)


def test_open_inside_window():
    """19:00 Shanghai time on a Monday is inside the evening window."""
    assert EVENINGS.is_open(at(2026, 11, 23, 19))


def test_window_end_is_exclusive():
    """21:00 itself is closed; 20:59 is open."""
    assert EVENINGS.is_open(at(2026, 11, 23, 20, 59))
    assert not EVENINGS.is_open(at(2026, 11, 23, 21))


def test_uses_respondent_zone_not_utc():
    """19:00 in Shanghai is 11:00 UTC: open, although 11:00 is outside every window in UTC."""
    t = dt.datetime(2026, 11, 23, 11, tzinfo=dt.UTC).timestamp()
    assert EVENINGS.is_open(t)
    utc = make_schedule("UTC", EVENINGS.to_json())
    assert not utc.is_open(t)


def test_next_open_same_day_between_windows():
    """At 14:00 the next opening is 18:00 the same day (several windows a day)."""
    assert EVENINGS.next_open(at(2026, 11, 23, 14)) == at(2026, 11, 23, 18)


def test_next_open_before_first_window():
    """At 08:00 the lunch window at 12:00 comes first."""
    assert EVENINGS.next_open(at(2026, 11, 23, 8)) == at(2026, 11, 23, 12)


def test_next_open_skips_weekend():
    """Friday 22:00 -> Monday 12:00 when only weekdays are allowed."""
    assert EVENINGS.next_open(at(2026, 11, 27, 22)) == at(2026, 11, 30, 12)


def test_next_open_when_open_is_now():
    """Inside a window, the next opening is now."""
    t = at(2026, 11, 23, 18, 30)
    assert EVENINGS.next_open(t) == t


def test_closes_at():
    """closes_at gives the end of the current window, None outside."""
    assert EVENINGS.closes_at(at(2026, 11, 23, 18, 30)) == at(2026, 11, 23, 21)
    assert EVENINGS.closes_at(at(2026, 11, 23, 17)) is None


def test_no_windows_never_opens():
    """A schedule without windows is never open."""
    s = make_schedule("Asia/Shanghai", [])
    assert s.next_open(at(2026, 11, 23, 12)) is None


def test_default_windows_cover_weekend():
    """The default windows allow Saturday 10:00-20:00."""
    s = make_schedule("Asia/Shanghai", list(DEFAULT_WINDOWS))
    assert s.is_open(at(2026, 11, 28, 15))
    assert not s.is_open(at(2026, 11, 28, 21))


@pytest.mark.parametrize(
    ("windows", "message"),
    [
        ([{"days": [7], "start": "09:00", "end": "10:00"}], r"windows\[0\]\.days"),
        ([{"days": [1], "start": "9am", "end": "10:00"}], r"windows\[0\]\.start"),
        ([{"days": [1], "start": "10:00", "end": "09:00"}], r"windows\[0\]: end"),
        (["x"], r"windows\[0\]"),
    ],
)
def test_bad_windows_name_the_key(windows, message):
    """Invalid windows raise ConfigError naming the item and key."""
    with pytest.raises(ConfigError, match=message):
        make_schedule("Asia/Shanghai", windows, where="campaigns.demo")


def test_bad_timezone():
    """An unknown time zone names the key."""
    with pytest.raises(ConfigError, match=r"demo\.timezone"):
        make_schedule("Mars/Olympus", [], where="demo")
