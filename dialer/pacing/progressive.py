"""
The simple pacing policies: progressive, preview and IVR-only.

  - progressive: one outstanding dial per idle agent, so no live answer ever lacks an agent
    (abandonment is zero by construction) and agents wait through every failed dial;
  - preview: the agent sees the contact first and asks for the dial: one call per request;
  - ivr-only (agentless): calls go straight to the IVR survey, so only lines limit dialing; the
    campaign's line cap (at most the trunk cap) bounds the calls held at once.

test-case-name: tests.pacing.test_policies
"""

from __future__ import annotations

from dialer.pacing.snapshot import Decision, PacingInput

__all__ = ["IvrOnly", "Preview", "Progressive"]


class Progressive:
    """One outstanding dial per idle agent."""

    mode = "progressive"

    def decide(self, snapshot: PacingInput) -> Decision:
        """Launch enough calls that every idle agent has exactly one call in progress."""
        wanted = (
            len(snapshot.idle_since) - len(snapshot.ringing_since) - len(snapshot.waiting_since)
        )
        return Decision(max(0, min(wanted, snapshot.free_lines)))


class Preview:
    """One call per agent request (the agent previewed the contact and clicked dial)."""

    mode = "preview"

    def decide(self, snapshot: PacingInput) -> Decision:
        """Launch one call per pending request, within the free lines."""
        return Decision(max(0, min(snapshot.dial_requests, snapshot.free_lines)))


class IvrOnly:
    """Agentless IVR survey: keep up to C{line_cap} lines busy."""

    mode = "ivr-only"

    def __init__(self, line_cap: int | None = None) -> None:
        if line_cap is not None and line_cap < 0:
            raise ValueError("line_cap must be >= 0")
        self.line_cap = line_cap

    def decide(self, snapshot: PacingInput) -> Decision:
        """Fill the lines up to the cap (the trunk cap when no cap is set)."""
        cap = (
            snapshot.trunk_cap if self.line_cap is None else min(self.line_cap, snapshot.trunk_cap)
        )
        return Decision(max(0, cap - snapshot.lines_in_use))
