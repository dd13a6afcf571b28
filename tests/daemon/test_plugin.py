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
