"""The campaign stage of `dialer demo`, in a subprocess (it runs the real reactor)."""

import os
import subprocess
import sys

import pytest

from tests.faults.procs import ROOT


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_demo_campaign_stage(tmp_path):
    """A short demo dials on the simulated PBX and prints progress, dispositions and abandonment."""
    env = dict(os.environ, DIALER_DEMO_SECONDS="20", PYTHONUNBUFFERED="1", COLUMNS="160")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "dialer",
            "demo",
            "--dir",
            str(tmp_path / "demo"),
            "--scale",
            "0.02",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    assert "8. campaign on the simulated PBX" in text
    assert "/metrics" in text
    assert "AAPOR" in text and "live-answered" in text
    assert "attempts 拨打 0" not in text
