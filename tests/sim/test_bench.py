"""Smoke tests of `dialer bench sim` (tiny runs; the figures themselves are not asserted)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from dialer.bench import sim as bench


def test_virtual_mode_reports_figures():
    """Six virtual minutes with five lines produce calls, surveys and a speed-up figure."""
    args = argparse.Namespace(
        calls=5, seconds=0.0, rate=10.0, seed=3, baseline=0.0, virtual_hours=0.1
    )
    figures = bench.run(args)
    assert figures["mode"] == "virtual"
    assert figures["calls_originated"] > 20 and figures["surveys_completed"] > 0
    assert figures["speedup"] > 1


@pytest.mark.slow
def test_real_mode_runs_in_a_subprocess():
    """`dialer bench sim --seconds 3 --calls 50 --json` prints reactor lag and RSS figures."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dialer",
            "bench",
            "sim",
            "--seconds",
            "3",
            "--calls",
            "50",
            "--baseline",
            "0.5",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["mode"] == "real" and figures["max_concurrent_calls"] > 0
    assert figures["reactor_lag_p99_ms"] is not None and figures["rss_mb"] > 0
