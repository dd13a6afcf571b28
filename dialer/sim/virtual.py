# -*- test-case-name: tests.sim.test_virtual -*-
"""
Virtual time for long simulations: a heap-based clock and a driver that jumps from one
scheduled call to the next.

L{FastClock} is a drop-in for C{twisted.internet.task.Clock} (C{seconds}, C{callLater},
C{getDelayedCalls}, C{advance}) whose cost per call is O(log n) instead of a full sort;
with thousands of pending timers (action timeouts, rings, talk times) this matters.
With everything (simulator, AMI client, FastAGI server, campaign engine) on one clock and
in-memory connections (L{dialer.sim.loopback}), L{run_until} makes eight simulated hours
take as long as the work done in them, not as the number of ticks.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

from twisted.internet.base import DelayedCall
from twisted.internet.interfaces import IReactorTime
from zope.interface import implementer

__all__ = ["FastClock", "run_for", "run_until"]


@implementer(IReactorTime)
class FastClock:
    """A deterministic C{IReactorTime} like C{task.Clock}, backed by a heap."""

    def __init__(self, start: float = 0.0) -> None:
        self.rightNow = start
        self._heap: list[tuple[float, int, DelayedCall]] = []
        self._seq = itertools.count()

    def seconds(self) -> float:
        return self.rightNow

    def _push(self, dc: DelayedCall) -> None:
        heapq.heappush(self._heap, (dc.time, next(self._seq), dc))

    def callLater(
        self, delay: float, callable: Callable[..., object], *args: object, **kw: object
    ) -> DelayedCall:
        dc = DelayedCall(
            self.rightNow + delay,
            callable,
            args,
            kw,
            lambda c: None,
            self._push,
            seconds=self.seconds,
        )
        self._push(dc)
        return dc

    def _settle_top(self) -> bool:
        """Drop stale heap tops (cancelled, called, rescheduled); True if one is left."""
        heap = self._heap
        while heap:
            t, _, dc = heap[0]
            if dc.cancelled or dc.called or dc.time != t:
                heapq.heappop(heap)
            elif dc.delayed_time:
                # reset()/delay() to a later time is lazy in DelayedCall: apply it now.
                heapq.heappop(heap)
                dc.activate_delay()
                self._push(dc)
            else:
                return True
        return False

    def next_time(self) -> float | None:
        """When the next pending call is due (None when nothing is scheduled)."""
        return self._heap[0][0] if self._settle_top() else None

    def getDelayedCalls(self) -> list[Any]:
        seen: set[int] = set()
        out = []
        for t, _, dc in self._heap:
            if not (dc.cancelled or dc.called) and dc.time == t and id(dc) not in seen:
                seen.add(id(dc))
                out.append(dc)
        return out

    def advance(self, amount: float) -> None:
        """Move time forward by C{amount} and run every call due, in time order."""
        self.rightNow += amount
        heap = self._heap
        while self._settle_top() and heap[0][0] <= self.rightNow:
            _, _, dc = heapq.heappop(heap)
            dc.called = 1
            dc.func(*dc.args, **dc.kw)


def _next_time(clock: Any) -> float | None:
    nxt = getattr(clock, "next_time", None)
    if nxt is not None:
        value: float | None = nxt()
        return value
    pending = [c.getTime() for c in clock.getDelayedCalls()]
    return min(pending) if pending else None


def run_until(clock: Any, when: float, *, max_step: float | None = None) -> int:
    """
    Advance C{clock} (a L{FastClock} or C{task.Clock}) to C{when}, running every call due
    on the way, in time order. C{max_step} caps each jump (for code that polls without
    scheduling). Returns the number of jumps made.
    """
    jumps = 0
    while True:
        now = clock.seconds()
        if now >= when:
            return jumps
        target = _next_time(clock)
        target = when if target is None else min(max(target, now), when)
        if max_step is not None:
            target = min(target, now + max_step)
        clock.advance(target - now)
        jumps += 1


def run_for(clock: Any, seconds: float, *, max_step: float | None = None) -> int:
    """Advance C{clock} by C{seconds}; see L{run_until}."""
    return run_until(clock, clock.seconds() + seconds, max_step=max_step)
