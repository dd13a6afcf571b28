"""
Fidelity: every reference scenario the simulator reproduces, replayed and compared.

The comparison rules (strict events, per-channel order, cross-channel order for events
more than 50 ms apart, exact header sets, loose and ignored events) are in
L{tests.sim.fidelity}.
"""

from __future__ import annotations

import pytest

from tests.sim.fidelity import Report, compare, replay
from tests.traces import load

SCENARIOS = [
    "a",
    "b0",
    "b0c",
    "b1",
    "b1x",
    "b2",
    "b3",
    "b4",
    "b5",
    "b6",
    "b7",
    "b8",
    "b9",
    "c",
    "d",
    "e",
    "e2",
    "f",
    "g1",
    "g2",
    "g3",
    "h",
    "j",
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_matches_trace(scenario, tmp_path):
    """The simulator's messages match the reference trace (see fidelity.py for the rules)."""
    trace = load(scenario)
    got, _, _ = replay(trace, tmp_path=tmp_path)
    report = Report()
    for conn in trace.connections:
        want = [(t, m) for t, d, m in trace.messages(conn) if d == "<<"]
        compare(want, got.get(conn, []), report, f"{scenario}/{conn}")
    assert not report.problems, "\n".join(report.problems)


def test_comparison_flags_a_different_scenario():
    """The comparison is not vacuous: busy (b0) replayed against congestion (b4) is flagged."""
    busy, congestion = load("b0"), load("b4")
    report = Report()
    compare(
        [(t, m) for t, d, m in congestion.messages() if d == "<<"],
        [(t, m) for t, d, m in busy.messages() if d == "<<"],
        report,
        "b4-vs-b0",
    )
    assert any("Reason" in p or "'8'" in p or "CONGESTION" in p for p in report.problems)


def test_recording_written_for_bridged_call(tmp_path):
    """b5 leaves a real 8 kHz 16-bit mono WAV whose length is the bridged time (about 20.5 s)."""
    import wave

    _, _sim, _ = replay(load("b5"), tmp_path=tmp_path)
    files = list((tmp_path / "var/spool/asterisk/monitor").glob("*.wav"))
    assert len(files) == 1
    with wave.open(str(files[0])) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
        assert 19.5 < w.getnframes() / 8000 < 21.5


def test_kill_leaves_unfinished_recording(tmp_path):
    """g3 (kill -9 with a bridged call) leaves the 44-byte unfinished WAV, as Asterisk does."""
    _, _sim, _ = replay(load("g3"), tmp_path=tmp_path)
    files = list((tmp_path / "var/spool/asterisk/monitor").glob("*.wav"))
    assert [f.stat().st_size for f in files] == [44]
