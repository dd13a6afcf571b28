"""
The seam between the campaign controller and a pacing policy.

A policy is asked, at each tick, how many new calls to launch given a L{PacingInput}; it may keep
state between ticks (the predictive policy trims its risk threshold), but it never reads a clock,
never does I/O and never imports Twisted.

test-case-name: tests.pacing.test_policies
"""

from __future__ import annotations

from typing import Any, Protocol

from dialer.pacing.snapshot import Decision, PacingInput

__all__ = ["MODES", "PacingPolicy", "policy_for_mode"]

#: the campaign modes, each with its policy
MODES = ("progressive", "predictive", "ivr-only", "preview")


class PacingPolicy(Protocol):
    """Decides how many calls to launch."""

    #: the campaign mode this policy implements: progressive, predictive, ivr-only or preview
    mode: str

    def decide(self, snapshot: PacingInput) -> Decision:
        """How many calls to launch now (never more than C{snapshot.free_lines})."""
        ...


def policy_for_mode(mode: str, **options: Any) -> PacingPolicy:
    """
    Build the policy for a campaign mode.

    C{options} go to the policy: the predictive policy's tuning (see
    L{dialer.pacing.predictive.Predictive}), or C{line_cap} for ivr-only.
    """
    from dialer.pacing.predictive import Predictive
    from dialer.pacing.progressive import IvrOnly, Preview, Progressive

    if mode == "progressive":
        return Progressive()
    if mode == "preview":
        return Preview()
    if mode == "ivr-only":
        cap = options.get("line_cap")
        return IvrOnly(None if cap is None else int(cap))
    if mode == "predictive":
        return Predictive(**options)
    raise ValueError(f"unknown pacing mode {mode!r}; expected one of {', '.join(MODES)}")
