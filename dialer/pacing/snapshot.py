"""
What the campaign controller hands the pacer at each tick, and what it gets back.

The controller (the engine) builds one L{PacingInput} per tick, or whenever something happened
that may free capacity (an agent became idle, a dial failed), from its own view of the campaign:

  - C{now}: the controller's clock (epoch seconds in production, a virtual clock in benchmarks).
    The pacer never reads a clock itself.
  - Agents of the campaign who are logged in and not paused, each in exactly one state, given as the
    time the agent entered that state:
      - C{idle_since}: ready and waiting for a call;
      - C{talking_since}: connected to a respondent (the time the call was bridged to the agent);
      - C{wrapping_since}: the call ended, the agent is finishing the form (wrap-up).
    Elapsed times are C{now - since}; the pacer uses them to forecast when agents will be free.
  - Calls of the campaign:
      - C{ringing_since}: the dial time of every call whose outcome is not yet known to the engine
        (ringing, or picked up and still being screened by answering-machine detection).  Such a
        call may still turn into a live answer that needs an agent;
      - C{waiting_since}: the answer time of every live-answered call waiting for an agent (it is
        abandoned if none is free within the grace time, 2 s);
      - C{lines_in_use}: every line the campaign holds (ringing, screening, waiting, talking, IVR).
  - C{trunk_cap}: the lines the campaign may hold at once (the pacer never launches more than
    C{trunk_cap - lines_in_use}).
  - C{ledger}: the campaign's abandonment figures (whole campaign, rolling 24 h, rolling 30 d;
    abandoned / live-answered), see L{dialer.pacing.ledger}.
  - C{model}: the campaign's L{PacingModel} (online estimates of answer rate, ring and failure
    durations, talk and wrap time).  The controller feeds it observations as calls progress
    (L{PacingModel.observe_outcome}, C{observe_talk}, C{observe_wrap}); the pacer reads it.
  - C{dial_requests}: in preview mode, how many agents asked for their next number.

The answer is a L{Decision}: how many new calls to launch now, and optionally when to look again.

test-case-name: tests.pacing.test_policies
"""

from __future__ import annotations

from dataclasses import dataclass

from dialer.pacing.estimators import PacingModel
from dialer.pacing.ledger import LedgerFigures

__all__ = ["Decision", "PacingInput"]


@dataclass(frozen=True, slots=True)
class PacingInput:
    """One tick's view of a campaign (see the module docstring for each field)."""

    now: float
    idle_since: tuple[float, ...]
    talking_since: tuple[float, ...]
    wrapping_since: tuple[float, ...]
    ringing_since: tuple[float, ...]
    waiting_since: tuple[float, ...]
    lines_in_use: int
    trunk_cap: int
    ledger: LedgerFigures
    model: PacingModel
    dial_requests: int = 0

    @property
    def agents_logged_in(self) -> int:
        """Agents logged in and not paused."""
        return len(self.idle_since) + len(self.talking_since) + len(self.wrapping_since)

    @property
    def free_lines(self) -> int:
        """Lines that may still be seized."""
        return max(0, self.trunk_cap - self.lines_in_use)


@dataclass(frozen=True, slots=True)
class Decision:
    """
    What the pacer asks for.

    @ivar launch: new calls to originate now.
    @ivar look_again_in: seconds until the pacer would like to be asked again even if nothing
        happens (C{None}: at the controller's usual heartbeat).
    """

    launch: int
    look_again_in: float | None = None
