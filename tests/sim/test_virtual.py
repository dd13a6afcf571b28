"""FastClock behaves like task.Clock; run_until jumps between scheduled calls."""

from __future__ import annotations

from twisted.internet import task

from dialer.sim.virtual import FastClock, run_for


def _script(clock, log):
    calls = {}
    calls["a"] = clock.callLater(3, log.append, "a")
    calls["b"] = clock.callLater(1, log.append, "b")
    calls["c"] = clock.callLater(2, log.append, "c")
    calls["d"] = clock.callLater(2, log.append, "d")
    calls["c"].cancel()
    calls["b"].reset(5)  # later: lazy in DelayedCall
    calls["a"].reset(0.5)  # earlier
    calls["e"] = clock.callLater(4, lambda: clock.callLater(0, log.append, "f"))
    calls["d"].delay(0.1)
    return calls


def test_fast_clock_runs_calls_like_task_clock():
    """Same order of calls for reset (earlier, later), delay, cancel and nested callLater(0)."""
    logs = []
    for clock in (task.Clock(), FastClock()):
        log = []
        _script(clock, log)
        for _ in range(70):
            clock.advance(0.1)
        logs.append((log, clock.seconds()))
    assert logs[0][0] == logs[1][0] == ["a", "d", "f", "b"]


def test_run_for_jumps_to_each_call():
    """run_for visits each due call once instead of ticking."""
    clock = FastClock()
    log = []
    _script(clock, log)
    jumps = run_for(clock, 10.0)
    assert log == ["a", "d", "f", "b"]
    assert jumps <= 6
    assert clock.seconds() == 10.0
    assert clock.getDelayedCalls() == []
