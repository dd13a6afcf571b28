"""Builders shared by the pacing tests."""

from __future__ import annotations

from dialer.pacing.estimators import PacingModel
from dialer.pacing.ledger import AbandonmentLedger
from dialer.pacing.snapshot import PacingInput


def snapshot(
    now: float = 1000.0,
    *,
    idle: tuple[float, ...] = (),
    talking: tuple[float, ...] = (),
    wrapping: tuple[float, ...] = (),
    ringing: tuple[float, ...] = (),
    waiting: tuple[float, ...] = (),
    lines_in_use: int | None = None,
    trunk_cap: int = 100,
    model: PacingModel | None = None,
    ledger: AbandonmentLedger | None = None,
    dial_requests: int = 0,
) -> PacingInput:
    """A snapshot given elapsed-free state lists (times the agents/calls entered their state)."""
    if lines_in_use is None:
        lines_in_use = len(talking) + len(ringing) + len(waiting)
    return PacingInput(
        now=now,
        idle_since=idle,
        talking_since=talking,
        wrapping_since=wrapping,
        ringing_since=ringing,
        waiting_since=waiting,
        lines_in_use=lines_in_use,
        trunk_cap=trunk_cap,
        ledger=(ledger or AbandonmentLedger()).figures(now),
        model=model or PacingModel(),
        dial_requests=dial_requests,
    )
