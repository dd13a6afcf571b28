"""`dialer bench engine` runs and reports consistent figures."""

import argparse

from dialer.bench import engine


def test_small_run():
    """Fifty calls over twenty lines: all end, the line cap is reached and never passed."""
    parser = argparse.ArgumentParser()
    engine.add_arguments(parser)
    figures = engine.run(parser.parse_args(["--calls", "50", "--lines", "20", "--hold", "5"]))
    assert figures["calls"] == 50
    assert figures["peak_concurrent_calls"] == 20
    assert figures["engine_cpu_ms_per_call"] > 0
