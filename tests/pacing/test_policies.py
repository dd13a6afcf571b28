"""Tests for the simple pacing policies and the mode factory."""

from __future__ import annotations

import pytest

from dialer.pacing.base import MODES, policy_for_mode
from dialer.pacing.predictive import Predictive
from dialer.pacing.progressive import IvrOnly, Preview, Progressive

from .helpers import snapshot


def test_progressive_one_outstanding_dial_per_idle_agent():
    """Three idle agents and one call ringing: two more calls."""
    snap = snapshot(idle=(1.0, 2.0, 3.0), talking=(0.0,), ringing=(990.0,))
    assert Progressive().decide(snap).launch == 2


def test_progressive_counts_waiting_calls():
    """A live answer waiting for an agent uses up an idle agent too."""
    snap = snapshot(idle=(1.0, 2.0), ringing=(990.0,), waiting=(999.0,))
    assert Progressive().decide(snap).launch == 0


def test_progressive_never_negative_and_within_free_lines():
    """More calls than idle agents gives 0; free lines bound the launch."""
    assert Progressive().decide(snapshot(idle=(1.0,), ringing=(1.0, 2.0))).launch == 0
    snap = snapshot(idle=(1.0,) * 10, lines_in_use=97, trunk_cap=100)
    assert Progressive().decide(snap).launch == 3


def test_preview_dials_on_request():
    """Preview launches one call per agent request, no more than the free lines."""
    assert Preview().decide(snapshot(idle=(1.0, 2.0), dial_requests=1)).launch == 1
    assert Preview().decide(snapshot(dial_requests=5, lines_in_use=98)).launch == 2
    assert Preview().decide(snapshot(idle=(1.0,) * 5)).launch == 0


def test_ivr_only_fills_lines_up_to_the_cap():
    """Agentless IVR keeps the lines full, up to its cap and the trunk cap."""
    assert IvrOnly().decide(snapshot(lines_in_use=40, trunk_cap=100)).launch == 60
    assert IvrOnly(line_cap=50).decide(snapshot(lines_in_use=40, trunk_cap=100)).launch == 10
    assert IvrOnly(line_cap=500).decide(snapshot(lines_in_use=40, trunk_cap=100)).launch == 60
    assert IvrOnly(line_cap=30).decide(snapshot(lines_in_use=40, trunk_cap=100)).launch == 0
    with pytest.raises(ValueError, match="line_cap"):
        IvrOnly(line_cap=-1)


def test_policy_for_mode_builds_each_mode():
    """Every campaign mode has a policy; an unknown mode is refused."""
    built = {mode: policy_for_mode(mode) for mode in MODES}
    assert isinstance(built["progressive"], Progressive)
    assert isinstance(built["predictive"], Predictive)
    assert isinstance(built["ivr-only"], IvrOnly)
    assert isinstance(built["preview"], Preview)
    assert {p.mode for p in built.values()} == set(MODES)
    assert policy_for_mode("ivr-only", line_cap=7).line_cap == 7  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="unknown pacing mode"):
        policy_for_mode("turbo")
