"""`twist dialer` finds the daemon through Twisted's plugin system."""

import subprocess
import sys

from twisted.application.service import IServiceMaker
from twisted.plugin import getPlugins


def test_dialer_plugin_is_discovered():
    """The installed package exposes a service maker named `dialer` pointing at dialer.tap."""
    makers = {m.tapname: m for m in getPlugins(IServiceMaker)}
    assert "dialer" in makers
    assert makers["dialer"].module == "dialer.tap"
    assert callable(makers["dialer"].makeService)


def test_twist_lists_dialer_from_elsewhere(tmp_path):
    """`twist dialer --help` works from any directory, not only the checkout."""
    twist = [sys.executable, "-m", "twisted", "dialer", "--help"]
    out = subprocess.run(twist, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "--config" in out.stdout


def test_twist_bad_config_prints_one_usage_error(tmp_path):
    """`twist dialer --config bad.toml`: one error line naming file and key, no traceback, exit 64."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[[ami]]\nlines = 0\nsecret = 'x'\n", encoding="utf-8")
    twist = [sys.executable, "-m", "twisted", "dialer", "--config", str(bad)]
    out = subprocess.run(twist, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    text = out.stdout + out.stderr
    assert out.returncode == 64, text
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith("Error:")]
    assert errors == [
        f"Error: {bad}: [[ami]][0].lines: expected a whole number >= 1, got 0 / 应为不小于 1 的整数"
    ]
