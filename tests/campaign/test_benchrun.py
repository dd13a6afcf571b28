"""The real-engine pacing benchmark (controller + AMI client + simulated PBX on a virtual clock)."""

import pytest

from dialer.campaign.benchrun import run_shift
from dialer.pacing.base import policy_for_mode
from dialer.pacing.scenario import SCENARIOS


@pytest.mark.slow
def test_progressive_short_shift():
    """A quarter hour, 5 agents, progressive: no abandonment, busy agents, every dial reached the PBX."""
    sc = SCENARIOS["n5-p30"].with_(hours=0.25)
    r = run_shift(sc, policy_for_mode("progressive"), 3, timer=lambda: 0.0)
    f = r.figures()
    assert f["abandoned"] == 0 and f["live_answered"] > 5
    assert 0.3 < f["utilisation"] < 0.95
    assert r.dials == r.model_summary["sim_dials"]
    assert f["answer_to_agent_p99_s"] < 0.1  # dialer side: answer -> Redirect
    assert r.model_summary["answer_to_bridge_p99_s"] < 2.0


@pytest.mark.slow
def test_predictive_short_shift_uses_more_lines():
    """Predictive dials more than progressive on the same seed, and abandoned calls are counted."""
    sc = SCENARIOS["n5-p30"].with_(hours=0.25)
    prog = run_shift(sc, policy_for_mode("progressive"), 4, timer=lambda: 0.0)
    pred = run_shift(sc, policy_for_mode("predictive"), 4, timer=lambda: 0.0)
    assert pred.dials >= prog.dials
    assert pred.abandoned <= pred.live_answered
