"""
Calling windows in the respondent's time zone (pure; C{now} is passed in).

A L{Schedule} is a time zone plus windows such as "Monday to Friday 18:00-21:00,
Saturday 10:00-12:00 and 14:00-20:00". Times are epoch seconds (UTC); the zone is
applied only here. L{Schedule.next_open} answers "when may this contact be dialed,
at the earliest not before C{t}", which the retry rules and the hopper use.

Windows are read from the campaign's JSON::

    [{"days": [0, 1, 2, 3, 4], "start": "18:00", "end": "21:00"}, ...]

with C{days} as ISO weekday numbers minus one (0 = Monday ... 6 = Sunday). A window
never crosses midnight; write two windows for that.
"""

# test-case-name: tests.campaign.test_schedule

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialer.errors import ConfigError

DEFAULT_TIMEZONE = "Asia/Shanghai"
WEEKDAYS = (0, 1, 2, 3, 4)
ALL_DAYS = (0, 1, 2, 3, 4, 5, 6)


@dataclass(frozen=True)
class Window:
    """Dialing allowed on C{days} from C{start} (inclusive) to C{end} (exclusive), local time."""

    days: frozenset[int]
    start: dt.time
    end: dt.time

    def to_json(self) -> dict[str, Any]:
        return {
            "days": sorted(self.days),
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
        }


@dataclass(frozen=True)
class Schedule:
    timezone: str
    windows: tuple[Window, ...]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_open(self, now: float) -> bool:
        """Whether C{now} falls inside a window."""
        local = dt.datetime.fromtimestamp(now, self.zone)
        t = local.time().replace(tzinfo=None)
        return any(local.weekday() in w.days and w.start <= t < w.end for w in self.windows)

    def next_open(self, t: float) -> float | None:
        """The earliest instant at or after C{t} inside a window; None when there are none."""
        if not self.windows:
            return None
        if self.is_open(t):
            return t
        zone = self.zone
        day = dt.datetime.fromtimestamp(t, zone).date()
        best: float | None = None
        for offset in range(8):
            d = day + dt.timedelta(days=offset)
            for w in self.windows:
                if d.weekday() not in w.days:
                    continue
                start = _local(d, w.start, zone)
                end = _local(d, w.end, zone)
                if end <= t:
                    continue
                candidate = max(start, t)
                if best is None or candidate < best:
                    best = candidate
            if best is not None:
                return best
        return best

    def closes_at(self, now: float) -> float | None:
        """When the window open at C{now} closes (None if closed now)."""
        local = dt.datetime.fromtimestamp(now, self.zone)
        t = local.time().replace(tzinfo=None)
        ends = [
            _local(local.date(), w.end, self.zone)
            for w in self.windows
            if local.weekday() in w.days and w.start <= t < w.end
        ]
        return max(ends) if ends else None

    def to_json(self) -> list[dict[str, Any]]:
        return [w.to_json() for w in self.windows]


def _local(day: dt.date, at: dt.time, zone: ZoneInfo) -> float:
    return dt.datetime.combine(day, at, tzinfo=zone).timestamp()


def _parse_time(value: Any, where: str) -> dt.time:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a time like 18:00 / 时间格式应为 18:00")
    if value == "24:00":
        return dt.time.max
    try:
        return dt.time.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"{where}: {value!r} is not a time like 18:00 / 时间格式应为 18:00"
        ) from None


def parse_windows(items: Iterable[Any], where: str = "windows") -> tuple[Window, ...]:
    """Windows from JSON/TOML data; errors name the item and the problem."""
    windows = []
    for i, item in enumerate(items):
        here = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(
                f"{here}: expected a table with days, start, end / 应为包含 days、start、end 的表"
            )
        days = item.get("days", list(WEEKDAYS))
        if (
            not isinstance(days, list)
            or not days
            or not all(isinstance(d, int) and 0 <= d <= 6 for d in days)
        ):
            raise ConfigError(
                f"{here}.days: expected a list of weekday numbers 0 (Mon) to 6 (Sun) / "
                "星期应为 0（周一）到 6（周日）"
            )
        start = _parse_time(item.get("start"), f"{here}.start")
        end = _parse_time(item.get("end"), f"{here}.end")
        if end <= start:
            raise ConfigError(
                f"{here}: end {item.get('end')} is not after start {item.get('start')} / "
                "结束时间须晚于开始时间"
            )
        windows.append(Window(frozenset(days), start, end))
    return tuple(windows)


def make_schedule(timezone: str, windows: Sequence[Any], where: str = "campaign") -> Schedule:
    """A validated L{Schedule}; errors name C{where} and the key."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}.timezone: unknown time zone {timezone!r} / 未知时区") from None
    return Schedule(timezone, parse_windows(windows, f"{where}.windows"))


# Evenings on weekdays and the weekend daytime: the survey office's usual hours.
DEFAULT_WINDOWS: tuple[dict[str, Any], ...] = (
    {"days": list(WEEKDAYS), "start": "09:00", "end": "12:00"},
    {"days": list(WEEKDAYS), "start": "14:00", "end": "17:30"},
    {"days": list(WEEKDAYS), "start": "18:30", "end": "21:00"},
    {"days": [5, 6], "start": "10:00", "end": "20:00"},
)
