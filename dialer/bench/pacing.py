"""Pacing: one simulated shift (utilisation, abandonment, latency, decision time) / 外呼节奏基准

`dialer bench pacing --agents N --answer-rate P --hours H --mode M --seed S [--json]` plays one
shift of the issue's scenario (L{dialer.pacing.scenario}) on a virtual clock and reports:
utilisation (talk time / logged-in time), abandonment % (abandoned / live-answered), completes per
agent-hour, mean idle gap between calls, dials per hour, the worst clock hour's abandonment,
answer-to-agent latency p50/p99 and the pacing decision time p99 (CPU time of the deciding
thread, so that other load on the machine does not inflate it).

C{--engine real} (the default) runs the real engine - the campaign controller with its hopper,
pacer, ledger and call handling, the AMI client and the FastAGI server - against the simulated
PBX on a virtual clock (L{dialer.campaign.benchrun}).  C{--engine harness} plays the same scenario
in the fast pacing harness (L{dialer.pacing.harness}): the same policies, model, ledger and
snapshot with simulated agents and calls, about 20 times faster; it is for tuning, and the docs
show that the two agree.

C{--sweep} runs every scenario of the issue's table, progressive and predictive, over C{--seeds}
seeds, prints the table and, with C{--out FILE}, writes it into FILE between the markers
C{<!-- pacing-table:start -->} and C{<!-- pacing-table:end -->}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from dialer.errors import InputError
from dialer.pacing.base import policy_for_mode
from dialer.pacing.harness import RunResult, run_shift
from dialer.pacing.scenario import SCENARIOS, Scenario

#: utilisation targets of the issue, by scenario
TARGETS = {
    "n20-p30": 0.85,
    "n20-p15": 0.83,
    "n20-p50": 0.86,
    "n5-p30": 0.78,
    "n100-p30": 0.91,
    "n20-drift": 0.84,
    "n20-talk90": 0.78,
}

#: the reference model of shared/pacing-notes.md, by scenario
REFERENCE = {
    "n20-p30": 0.835,
    "n20-p15": 0.820,
    "n20-p50": 0.850,
    "n5-p30": 0.770,
    "n100-p30": 0.900,
    "n20-drift": 0.835,
    "n20-talk90": 0.765,
}

START = "<!-- pacing-table:start -->"
END = "<!-- pacing-table:end -->"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenario",
        choices=sorted(SCENARIOS),
        default=None,
        help="a preset of the issue's table (other flags override it) / 预设场景",
    )
    parser.add_argument("--agents", type=int, default=None, help="agents (20) / 坐席数")
    parser.add_argument(
        "--answer-rate", type=float, default=None, help="P, live-answer rate (0.30) / 接通率"
    )
    parser.add_argument("--hours", type=float, default=None, help="shift length (8) / 班次小时数")
    parser.add_argument(
        "--talk-mean", type=float, default=None, help="mean talk time, s (180) / 平均通话时长"
    )
    parser.add_argument(
        "--mode",
        choices=("progressive", "predictive"),
        default="predictive",
        help="pacing mode / 外呼模式",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed / 随机种子")
    parser.add_argument(
        "--engine",
        choices=("real", "harness"),
        default="real",
        help="the real engine on the simulated PBX (default), or the fast pacing harness for"
        " tuning / 真实引擎（默认）或快速调参模拟",
    )
    parser.add_argument("--sweep", action="store_true", help="run the whole table / 运行整张对比表")
    parser.add_argument(
        "--seeds", type=int, default=10, help="seeds per scenario in a sweep / 每个场景的种子数"
    )
    parser.add_argument("--jobs", type=int, default=2, help="processes for a sweep / 并行进程数")
    parser.add_argument(
        "--out", type=Path, default=None, help="file to write the sweep table into / 输出文件"
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help="JSON-lines file keeping every finished shift of a sweep; a rerun skips those"
        " / 逐班次结果文件（可续跑）",
    )


def _scenario(args: argparse.Namespace) -> Scenario:
    sc = SCENARIOS[args.scenario] if args.scenario else SCENARIOS["n20-p30"]
    changes: dict[str, Any] = {}
    if args.agents is not None:
        if args.agents < 1:
            raise InputError("--agents must be at least 1 / 坐席数至少为 1")
        changes["agents"] = args.agents
    if args.answer_rate is not None:
        if not 0.0 < args.answer_rate < 1.0:
            raise InputError("--answer-rate must be between 0 and 1 / 接通率须在 0 与 1 之间")
        changes["answer_rate"] = args.answer_rate
        changes["drift"] = ()
    if args.hours is not None:
        if args.hours <= 0:
            raise InputError("--hours must be positive / 小时数须为正")
        changes["hours"] = args.hours
    if args.talk_mean is not None:
        if args.talk_mean <= 0:
            raise InputError("--talk-mean must be positive / 通话时长须为正")
        changes["talk_mean"] = args.talk_mean
        changes["talk_sd"] = args.talk_mean * 2.0 / 3.0
    if changes:
        sc = sc.with_(name=sc.name if args.scenario else "custom", **changes)
    return sc


def run_one(scenario: Scenario, mode: str, seed: int, engine: str = "real") -> RunResult:
    """One shift of C{scenario} with the policy of C{mode}, on C{engine}."""
    policy = policy_for_mode(mode)
    if engine == "harness":
        return run_shift(scenario, policy, seed, timer=time.thread_time)
    from dialer.campaign import benchrun  # imports Twisted; the harness does not need it

    result: RunResult = benchrun.run_shift(scenario, policy, seed, timer=time.thread_time)
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.sweep:
        return sweep(args.seeds, args.jobs, args.out, args.engine, args.hours, args.results)
    figures = run_one(_scenario(args), args.mode, args.seed, args.engine).figures()
    figures["engine"] = args.engine
    return figures


Job = tuple[str, str, int, str, float | None]


def _job(job: Job) -> dict[str, Any]:
    name, mode, seed, engine, hours = job
    sc = SCENARIOS[name]
    if hours is not None:
        sc = sc.with_(hours=hours)
    started = time.perf_counter()
    figures = run_one(sc, mode, seed, engine).figures()
    figures.update(engine=engine, sweep_hours=hours, wall_s=time.perf_counter() - started)
    return figures


def _key(r: dict[str, Any]) -> Job:
    return (r["scenario"], r["mode"], r["seed"], r["engine"], r["sweep_hours"])


def _load_results(path: Path | None) -> dict[Job, dict[str, Any]]:
    """Shifts a previous run of the same sweep already finished (one JSON object a line)."""
    done: dict[Job, dict[str, Any]] = {}
    if path is None or not path.exists():
        return done
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            done[_key(r)] = r
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(f"{path}:{n}: not a sweep result ({e}) / 不是基准结果行") from e
    return done


def sweep(
    seeds: int,
    jobs: int,
    out: Path | None,
    engine: str = "real",
    hours: float | None = None,
    results_file: Path | None = None,
) -> dict[str, Any]:
    """
    Run the whole table; return its figures and write it into C{out} if given.

    Each finished shift is printed as one progress line and, with C{results_file}, appended to
    it at once, so a sweep of hours that is stopped resumes where it was.  The biggest teams go
    first so that the last minutes are not one long shift on one core.
    """
    work: list[Job] = [
        (name, mode, seed, engine, hours)
        for name in sorted(SCENARIOS, key=lambda n: -SCENARIOS[n].agents)
        for mode in ("predictive", "progressive")
        for seed in range(seeds)
    ]
    done = _load_results(results_file)
    results = [done[j] for j in work if j in done]
    todo = [j for j in work if j not in done]
    started = time.perf_counter()

    def finished(r: dict[str, Any]) -> None:
        results.append(r)
        if results_file is not None:
            with results_file.open("a", encoding="utf-8") as f:
                f.write(json.dumps(r, sort_keys=True) + "\n")
        print(
            f"[{len(results)}/{len(work)}] {r['scenario']} {r['mode']} seed {r['seed']}:"
            f" U {r['utilisation']:.3f}, abandoned {r['abandonment_pct']:.2f} %"
            f" ({r['wall_s']:.0f} s) / 已完成",
            file=sys.stderr,
            flush=True,
        )

    if jobs > 1 and len(todo) > 1:
        with get_context("fork").Pool(jobs) as pool:
            for r in pool.imap_unordered(_job, todo, chunksize=1):
                finished(r)
    else:
        for j in todo:
            finished(_job(j))
    rows = summarise(results)
    table = markdown(rows, seeds, hours)
    print(table)
    if out is not None:
        _write_table(out, table)
    return {
        "scenarios": rows,
        "seeds": seeds,
        "engine": engine,
        "all_pass": all(r["pass"] for r in rows.values()),
        "wall_s": time.perf_counter() - started,
    }


def summarise(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per scenario: means and extremes over the seeds, and the issue's pass conditions."""
    rows: dict[str, dict[str, Any]] = {}
    for name in SCENARIOS:
        pred = {
            r["seed"]: r for r in results if r["scenario"] == name and r["mode"] == "predictive"
        }
        prog = {
            r["seed"]: r for r in results if r["scenario"] == name and r["mode"] == "progressive"
        }
        if not pred:
            continue
        u = [r["utilisation"] for r in pred.values()]
        ab = [r["abandonment_pct"] for r in pred.values()]
        above = all(pred[s]["utilisation"] >= prog[s]["utilisation"] for s in pred if s in prog)
        row = {
            "progressive_utilisation": statistics.mean(r["utilisation"] for r in prog.values()),
            "utilisation_mean": statistics.mean(u),
            "utilisation_min": min(u),
            "target": TARGETS[name],
            "reference": REFERENCE[name],
            "abandonment_pct_mean": statistics.mean(ab),
            "abandonment_pct_max": max(ab),
            "worst_hour_pct_max": max(r["worst_hour_abandonment_pct"] for r in pred.values()),
            "completes_per_agent_hour": statistics.mean(
                r["completes_per_agent_hour"] for r in pred.values()
            ),
            "progressive_completes_per_agent_hour": statistics.mean(
                r["completes_per_agent_hour"] for r in prog.values()
            ),
            "idle_gap_s": statistics.mean(r["idle_gap_mean_s"] for r in pred.values()),
            "progressive_idle_gap_s": statistics.mean(r["idle_gap_mean_s"] for r in prog.values()),
            "dials_per_hour": statistics.mean(r["dials_per_hour"] for r in pred.values()),
            "latency_p50_s": max(r["answer_to_agent_p50_s"] for r in pred.values()),
            "latency_p99_s": max(r["answer_to_agent_p99_s"] for r in pred.values()),
            "decision_ms_p99": max(r["decision_ms_p99"] for r in pred.values()),
            "never_below_progressive": above,
            "seeds_at_target": sum(x >= TARGETS[name] for x in u),
            "seeds": len(u),
        }
        row["pass"] = (
            row["utilisation_mean"] >= row["target"] and row["abandonment_pct_max"] <= 3.0 and above
        )
        rows[name] = row
    return rows


def markdown(rows: dict[str, dict[str, Any]], seeds: int, hours: float | None = None) -> str:
    """The table for docs/pacing.md."""
    head = (
        f"{seeds} seeds per scenario, {hours or 8:g}-hour shifts. Utilisation = talk / logged-in"
        " time; abandonment = abandoned / live-answered (per shift); latency = live answer to"
        " agent, over connected calls; decision time = one pacing decision, p99 of the shift,"
        " worst seed.\n\n"
        "| scenario | progressive U | predictive U mean (min) | target | reference"
        " | abandon % mean (max) | worst hour % (max) | completes/agent-h prog → pred"
        " | idle gap s prog → pred | dials/h | latency p50/p99 s | decision p99 ms"
        " | seeds ≥ target | ≥ progressive every seed | pass |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['progressive_utilisation']:.3f}"
            f" | {r['utilisation_mean']:.3f} ({r['utilisation_min']:.3f})"
            f" | ≥ {r['target']:.2f} | {r['reference']:.3f}"
            f" | {r['abandonment_pct_mean']:.2f} ({r['abandonment_pct_max']:.2f})"
            f" | {r['worst_hour_pct_max']:.1f}"
            f" | {r['progressive_completes_per_agent_hour']:.1f} → {r['completes_per_agent_hour']:.1f}"
            f" | {r['progressive_idle_gap_s']:.1f} → {r['idle_gap_s']:.1f}"
            f" | {r['dials_per_hour']:.0f}"
            f" | {r['latency_p50_s']:.2f} / {r['latency_p99_s']:.2f}"
            f" | {r['decision_ms_p99']:.2f}"
            f" | {r['seeds_at_target']}/{r['seeds']}"
            f" | {'yes' if r['never_below_progressive'] else 'NO'}"
            f" | {'yes' if r['pass'] else 'no'} |"
        )
    return head + "\n".join(lines) + "\n"


def _write_table(out: Path, table: str) -> None:
    text = out.read_text(encoding="utf-8") if out.exists() else f"{START}\n{END}\n"
    if START not in text or END not in text:
        raise InputError(f"{out}: no {START} ... {END} markers to write the table between")
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    out.write_text(f"{before}{START}\n{table}{END}{after}", encoding="utf-8")
