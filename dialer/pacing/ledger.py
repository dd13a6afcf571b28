"""
The abandonment ledger of one campaign.

An answered call is I{abandoned} when no agent is free within 2 s of the live answer (the call then
goes to the IVR version of the survey, which still counts as abandoned: the conservative reading of
the rules).  The rate is always stated with its denominator::

    abandonment rate = abandoned calls / live-answered calls

Live-answered calls are those answered by a person (answering machines are not in the
denominator); an abandoned call is also a live-answered call.  The ledger keeps three windows:
the whole campaign (the FTC/FCC reading when a campaign is shorter than 30 days), a rolling 24 h
(Ofcom) and a rolling 30 days (FTC/FCC).

Pure: every method takes C{now} (epoch seconds, or seconds on a virtual clock).

test-case-name: tests.pacing.test_ledger
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["DENOMINATOR", "AbandonmentLedger", "LedgerFigures", "LedgerWindow"]

#: What the abandonment rate is divided by, for reports and metrics.
DENOMINATOR = "live-answered"

DAY = 86400.0
MONTH = 30 * DAY


@dataclass(frozen=True, slots=True)
class LedgerWindow:
    """Counts over one window."""

    live_answered: int
    abandoned: int

    @property
    def rate(self) -> float:
        """Abandoned / live-answered; 0.0 when nothing was answered."""
        return self.abandoned / self.live_answered if self.live_answered else 0.0


@dataclass(frozen=True, slots=True)
class LedgerFigures:
    """
    The ledger as seen at one moment.

    @ivar campaign: since the campaign started.
    @ivar day: the last 24 hours.
    @ivar month: the last 30 days.
    @ivar target: the cap on the rate (default 3 %).
    """

    campaign: LedgerWindow
    day: LedgerWindow
    month: LedgerWindow
    target: float
    denominator: str = DENOMINATOR

    @property
    def worst_rate(self) -> float:
        """The highest rate of the three windows."""
        return max(self.campaign.rate, self.day.rate, self.month.rate)

    def as_dict(self) -> dict[str, object]:
        """Plain figures for reports and JSON."""
        out: dict[str, object] = {"denominator": self.denominator, "target": self.target}
        for name in ("campaign", "day", "month"):
            w: LedgerWindow = getattr(self, name)
            out[name] = {
                "live_answered": w.live_answered,
                "abandoned": w.abandoned,
                "rate": w.rate,
            }
        return out


class _Rolling:
    """Counts in a rolling window, kept in buckets of C{bucket} seconds."""

    def __init__(self, span: float, bucket: float) -> None:
        self.span = span
        self.bucket = bucket
        self.buckets: deque[list[float]] = deque()  # [bucket start, live, abandoned]
        self.live = 0
        self.abandoned = 0

    def add(self, now: float, live: int, abandoned: int) -> None:
        start = now - now % self.bucket
        if self.buckets and self.buckets[-1][0] >= start:
            entry = self.buckets[-1]
        else:
            entry = [start, 0, 0]
            self.buckets.append(entry)
        entry[1] += live
        entry[2] += abandoned
        self.live += live
        self.abandoned += abandoned

    def expire(self, now: float) -> None:
        # a bucket leaves the window once all of it is older than the span
        while self.buckets and self.buckets[0][0] + self.bucket <= now - self.span:
            _, live, abandoned = self.buckets.popleft()
            self.live -= int(live)
            self.abandoned -= int(abandoned)

    def window(self, now: float) -> LedgerWindow:
        self.expire(now)
        return LedgerWindow(self.live, self.abandoned)


class AbandonmentLedger:
    """
    Counts live answers and abandonments of one campaign over its three windows.

    Rolling windows are kept in buckets: the 24-h window in buckets of C{bucket} seconds (one
    minute by default), the 30-day window in buckets 60 times longer (one hour), so a month of
    steady dialing is 720 buckets, not 43,200.  A window never drops an event younger than its
    span, and an event leaves it at most one bucket late: the 24-h figure is exact to within a
    minute, the 30-day figure to within an hour (0.14 % of its span).
    """

    def __init__(self, target: float = 0.03, bucket: float = 60.0) -> None:
        self.target = target
        self.live_answered = 0
        self.abandoned = 0
        self._day = _Rolling(DAY, bucket)
        self._month = _Rolling(MONTH, bucket * 60)

    def record_live_answer(self, now: float) -> None:
        """A person answered a call at C{now}."""
        self.live_answered += 1
        self._day.add(now, 1, 0)
        self._month.add(now, 1, 0)

    def record_abandoned(self, now: float) -> None:
        """A live-answered call found no agent within the grace time (it was already counted
        as live-answered when it was answered)."""
        self.abandoned += 1
        self._day.add(now, 0, 1)
        self._month.add(now, 0, 1)

    def figures(self, now: float) -> LedgerFigures:
        """The three windows as of C{now}."""
        return LedgerFigures(
            campaign=LedgerWindow(self.live_answered, self.abandoned),
            day=self._day.window(now),
            month=self._month.window(now),
            target=self.target,
        )
