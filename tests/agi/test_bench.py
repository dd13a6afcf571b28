"""`dialer bench agi` still runs end to end (a few sessions, simulator in a child process)."""

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_bench_agi_smoke():
    """Five simulated callers complete the benchmark survey; the figures are printed as JSON."""
    out = subprocess.run(
        [sys.executable, "-m", "dialer", "bench", "agi", "--sessions", "5", "--json"],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["sessions_finished"] == 5
    assert figures["completion_rate"] == 1.0
    assert figures["answers_stored"] == 25
