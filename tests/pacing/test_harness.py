"""Tests for dialer.pacing.harness and `dialer bench pacing`: the scenario played fast."""

from __future__ import annotations

import json

import pytest

from dialer.bench import pacing as pacing_bench
from dialer.cli import main
from dialer.pacing.harness import run_shift
from dialer.pacing.predictive import Predictive
from dialer.pacing.progressive import Progressive
from dialer.pacing.scenario import SCENARIOS


def test_progressive_reproduces_the_closed_form():
    """Progressive at 20 agents, P 0.30 gives 0.74 +- 0.01 (talk/(talk+wrap+failed dials+ring))."""
    sc = SCENARIOS["n20-p30"]
    runs = [run_shift(sc, Progressive(), seed).figures() for seed in range(3)]
    mean = sum(f["utilisation"] for f in runs) / len(runs)
    assert mean == pytest.approx(0.735, abs=0.01)
    for f in runs:
        assert f["abandoned"] == 0
        assert f["answer_to_agent_p99_s"] == 0.0
        # one outstanding dial per idle agent: agents wait through 1/p - 1 failed dials
        assert 45 < f["idle_gap_mean_s"] < 65


def test_runs_are_reproducible():
    """The same seed gives the same shift."""
    sc = SCENARIOS["n5-p30"].with_(hours=1.0)
    a = run_shift(sc, Predictive(), 3).figures()
    b = run_shift(sc, Predictive(), 3).figures()
    assert a == b


def test_every_live_answer_is_connected_or_abandoned():
    """Live answers = connected calls + abandoned (+ at most a few still waiting at the end)."""
    sc = SCENARIOS["n5-p30"].with_(hours=2.0)
    r = run_shift(sc, Predictive(theta=0.2, setpoint=0.2), 1)
    assert r.abandoned > 0
    connected = len(r.latencies)
    assert connected + r.abandoned <= r.live_answered <= connected + r.abandoned + sc.agents
    assert max(r.latencies) <= sc.abandon_after


@pytest.mark.slow
def test_predictive_full_shift_meets_the_first_target():
    """A full 8-h shift at 20 agents, P 0.30: utilisation >= 0.84 with abandonment <= 3 %."""
    sc = SCENARIOS["n20-p30"]
    pred = run_shift(sc, Predictive(), 0).figures()
    prog = run_shift(sc, Progressive(), 0).figures()
    assert pred["abandonment_pct"] <= 3.0
    assert pred["utilisation"] >= 0.84
    assert pred["utilisation"] > prog["utilisation"]
    # learnt online from wrong priors (P 0.5, talk 300 s, wrap 30 s)
    learnt = pred["learnt"]
    assert learnt["answer_rate"] == pytest.approx(0.30, abs=0.05)
    assert learnt["talk_mean"] == pytest.approx(180.0, rel=0.1)
    assert learnt["wrap_mean"] == pytest.approx(10.5, abs=1.5)


def test_bench_pacing_command_prints_figures(capsys):
    """`dialer bench pacing ... --json` runs the real engine and prints every figure as one JSON."""
    code = main(
        [
            "bench",
            "pacing",
            "--agents",
            "5",
            "--answer-rate",
            "0.3",
            "--hours",
            "0.5",
            "--mode",
            "progressive",
            "--seed",
            "2",
            "--json",
        ]
    )
    assert code == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in (
        "utilisation",
        "abandonment_pct",
        "completes_per_agent_hour",
        "idle_gap_mean_s",
        "dials_per_hour",
        "worst_hour_abandonment_pct",
        "answer_to_agent_p50_s",
        "answer_to_agent_p99_s",
        "decision_ms_p99",
    ):
        assert key in figures
    assert figures["agents"] == 5
    assert figures["mode"] == "progressive"
    assert figures["abandonment_denominator"] == "live-answered"
    assert figures["engine"] == "real"  # the benchmark runs the real engine by default
    assert figures["learnt"]["sim_dials"] > 0  # calls went through the simulated PBX


def test_bench_pacing_refuses_bad_values(capsys):
    """An answer rate outside (0, 1) is an input error: one line, exit 1."""
    assert main(["bench", "pacing", "--answer-rate", "1.5"]) == 1
    assert "answer-rate" in capsys.readouterr().err


def test_bench_sweep_writes_between_markers(tmp_path, capsys):
    """A (tiny) sweep writes its table between the markers and keeps the rest of the file."""
    out = tmp_path / "pacing.md"
    out.write_text("intro\n<!-- pacing-table:start -->\nold\n<!-- pacing-table:end -->\nend\n")
    code = main(
        [
            "bench",
            "pacing",
            "--sweep",
            "--seeds",
            "1",
            "--hours",
            "0.05",
            "--jobs",
            "1",
            "--engine",
            "harness",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    text = out.read_text()
    assert text.startswith("intro\n") and text.endswith("end\n")
    assert "old" not in text
    assert "| n100-p30 |" in text


def test_bench_sweep_keeps_results_and_resumes(tmp_path, capsys, monkeypatch):
    """Each finished shift is appended to --results; a rerun runs none of them again."""
    results = tmp_path / "sweep.jsonl"
    argv = ["bench", "pacing", "--sweep", "--seeds", "1", "--hours", "0.02", "--jobs", "1"]
    argv += ["--engine", "harness"]
    assert main([*argv, "--results", str(results)]) == 0
    lines = results.read_text().splitlines()
    assert len(lines) == 2 * len(SCENARIOS)
    assert "[14/14]" in capsys.readouterr().err
    monkeypatch.setattr(pacing_bench, "_job", lambda job: pytest.fail(f"ran {job} again"))
    assert main([*argv, "--results", str(results), "--json"]) == 0
    assert results.read_text().splitlines() == lines
    assert "| n5-p30 |" in capsys.readouterr().out


def test_bench_sweep_names_a_garbled_results_line(tmp_path, capsys):
    """A results file that is not JSON lines is refused with its path and line number."""
    results = tmp_path / "sweep.jsonl"
    results.write_text('{"scenario": "n5-p30"}\nnot json\n')
    argv = ["bench", "pacing", "--sweep", "--seeds", "1", "--hours", "0.02", "--jobs", "1"]
    argv += ["--engine", "harness"]
    assert main([*argv, "--results", str(results)]) == 1
    assert f"{results}:1" in capsys.readouterr().err
