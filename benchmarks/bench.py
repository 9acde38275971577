"""Benchmark of the full model against a bare SimPy model of the same sessions (issue 7).

Run with `make bench` (or `python benchmarks/bench.py`). Everything is measured in one process run, so
the ratios compare like with like on a shared, noisy machine:

1. the full model (`sim.run.runner.run_shard`, one process) on benchmarks/office.yaml: sessions per second
   and simulated user-days per second;
2. a bare SimPy model of the same sessions: one process per device, a timeout at each session start and
   end drawn from the same distributions and the same random streams, no policy, no metrics; and the
   same bare model drawing its gaps and durations in blocks like the full model (a stricter baseline);
3. the ratio of 1 to 2, peak memory, scaling in users and horizon, two workers against one, and (with
   `--large`) the full 100,000-user year through `tokensim run` on every core.

Figures go to benchmarks/results.json and a table on the terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import simpy
from rich.console import Console
from rich.table import Table

from sim.model import streams
from sim.model.behaviour import blocks
from sim.model.schedule import WeeklySchedule
from sim.run.runner import run_scenario
from sim.run.shards import ShardTask, run_shard
from sim.scenario import Scenario, load_scenario

HERE = Path(__file__).resolve().parent
SCENARIO = HERE / "office.yaml"
DAY = 86400.0


def full_model(scenario: Scenario, users: int) -> tuple[float, int]:
    """Seconds to simulate `users` users in this process, and the sessions they had."""
    persona = scenario.population[0]
    task = ShardTask(scenario.policy, persona, scenario.horizon, scenario.seed, 0, 0, users)
    started = time.perf_counter()
    recorder = run_shard(task)
    elapsed = time.perf_counter() - started
    sessions = int(sum(counts[3].sum() for counts in recorder.hourly_counts.values()))
    return elapsed, sessions


def bare_simpy(scenario: Scenario, users: int, block_draws: bool = False) -> tuple[float, int]:
    """The same sessions with nothing but SimPy timeouts: a process per device, start and end.

    As a plain SimPy model would, it draws each gap and duration when it needs it; with `block_draws`
    it draws them 64 at a time like the full model does (a stricter baseline, reported beside).
    """
    persona = scenario.population[0]
    schedule = WeeklySchedule(persona.activity.schedule)
    gap_mean = schedule.active_per_day / persona.activity.sessions_per_day
    duration = persona.activity.session_duration
    horizon = scenario.horizon
    sessions = 0

    def device(env: simpy.Environment, rng) -> simpy.events.ProcessGenerator:
        nonlocal sessions
        if block_draws:
            gaps = blocks(lambda n: rng.exponential(gap_mean, n))
            durations = blocks(lambda n: duration.sample_many(rng, n))
            next_gap, next_duration = gaps.__next__, durations.__next__
        else:
            next_gap, next_duration = (lambda: rng.exponential(gap_mean)), (lambda: duration.sample(rng))
        ready = 0.0
        while True:
            start = schedule.advance(ready, next_gap())
            if start > horizon:
                return
            yield env.timeout(start - env.now)
            sessions += 1
            yield env.timeout(next_duration())
            ready = env.now

    started = time.perf_counter()
    env = simpy.Environment()
    for user in range(users):
        n_devices = int(
            persona.devices.sample(streams.stream(scenario.seed, 0, persona.name, user, -1, streams.USER))
        )
        for d in range(n_devices):
            env.process(
                device(env, streams.stream(scenario.seed, 0, persona.name, user, d, streams.SESSIONS))
            )
    env.run(until=horizon)
    return time.perf_counter() - started, sessions


def paired(repeats: int, first, second) -> tuple[float, float, float]:
    """Time two workloads back to back, `repeats` times; the median of the per-pair time ratios.

    Pairing makes the ratio robust on a shared machine: both halves of a pair see the same load.
    Returns (median seconds of first, median seconds of second, median of second/first).
    """
    pairs = [(first()[0], second()[0]) for _ in range(repeats)]
    ratios = sorted(b / a for a, b in pairs)
    return (
        statistics.median(a for a, _ in pairs),
        statistics.median(b for _, b in pairs),
        statistics.median(ratios),
    )


def parallel_rate(scenario: Scenario, workers: int) -> float:
    """Users per second through run_scenario (process pool, tables and metrics included)."""
    started = time.perf_counter()
    run_scenario(scenario, workers=workers)
    return sum(p.users for p in scenario.population) / (time.perf_counter() - started)


def large_run(scenario_path: Path, users: int) -> dict[str, float]:
    """The full `tokensim run` of `users` users for a year on every core, in a child process.

    Memory is sampled every half second over the whole process tree (the run and its workers): the
    peak of the sum of resident sizes (an upper bound: shared pages count once per process), and the
    peak of the main process alone (which merges the shards and writes the tables).
    """
    import psutil  # the `bench` extra (make bench installs it)

    with tempfile.TemporaryDirectory() as out:
        scale = users / load_scenario(scenario_path).population[0].users
        cmd = [
            sys.executable,
            "-m",
            "sim",
            "run",
            str(scenario_path),
            "--out",
            out,
            "--force",
            "--quiet",
            "--users-scale",
            str(scale),
        ]
        started = time.perf_counter()
        child = subprocess.Popen(cmd)
        main_process = psutil.Process(child.pid)
        peak_total = peak_main = 0
        while child.poll() is None:
            try:
                tree = [main_process, *main_process.children(recursive=True)]
                sizes = [p.memory_info().rss for p in tree]
            except psutil.Error:  # a worker ended between listing and reading it
                continue
            peak_main = max(peak_main, sizes[0])
            peak_total = max(peak_total, sum(sizes))
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        if child.returncode != 0:
            raise subprocess.CalledProcessError(child.returncode, cmd)
        table_bytes = sum(f.stat().st_size for f in Path(out).iterdir() if f.is_file())
    mib = 1024 * 1024
    return {
        "users": users,
        "seconds": elapsed,
        "peak_rss_mib_all_processes": peak_total / mib,
        "peak_rss_mib_main_process": peak_main / mib,
        "output_mib": table_bytes / mib,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=300, help="users in the single-process comparison")
    parser.add_argument(
        "--parallel-users",
        type=int,
        default=1200,
        help="users in the workers comparison (a whole run: pool start, merging, metrics and all)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="paired runs of each timing (medians kept)")
    parser.add_argument(
        "--large", type=int, default=0, help="also run this many users for a year (e.g. 100000)"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    scenario = load_scenario(SCENARIO)
    users = args.users
    days = scenario.horizon / DAY

    _, full_sessions = full_model(scenario, users)
    _, bare_sessions = bare_simpy(scenario, users)
    _, blocked_sessions = bare_simpy(scenario, users, block_draws=True)
    bare_s, full_s, full_over_bare_time = paired(
        args.repeats, lambda: bare_simpy(scenario, users), lambda: full_model(scenario, users)
    )
    blocked_s, _, full_over_blocked_time = paired(
        args.repeats,
        lambda: bare_simpy(scenario, users, block_draws=True),
        lambda: full_model(scenario, users),
    )
    _, _, twice_users = paired(
        args.repeats, lambda: full_model(scenario, users), lambda: full_model(scenario, 2 * users)
    )
    half = scenario.model_copy(update={"horizon": scenario.horizon / 2})
    _, _, twice_horizon = paired(
        args.repeats, lambda: full_model(half, users), lambda: full_model(scenario, users)
    )
    pool = scenario.with_overrides(users_scale=args.parallel_users / scenario.population[0].users)
    rates = [(parallel_rate(pool, 1), parallel_rate(pool, 2)) for _ in range(args.repeats)]
    speedup = statistics.median(two / one for one, two in rates)
    rate_1 = statistics.median(one for one, _ in rates)
    rate_2 = statistics.median(two for _, two in rates)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    results = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
        "users": users,
        "days": days,
        "full_model": {
            "seconds": full_s,
            "sessions": full_sessions,
            "sessions_per_s": full_sessions / full_s,
            "user_days_per_s": users * days / full_s,
        },
        "bare_simpy": {
            "seconds": bare_s,
            "sessions": bare_sessions,
            "sessions_per_s": bare_sessions / bare_s,
        },
        "bare_simpy_block_draws": {
            "seconds": blocked_s,
            "sessions": blocked_sessions,
            "sessions_per_s": blocked_sessions / blocked_s,
        },
        # the full model's sessions per second over the bare model's, from back-to-back pairs
        "ratio_full_to_bare": (full_sessions / bare_sessions) / full_over_bare_time,
        "ratio_full_to_bare_block_draws": (full_sessions / blocked_sessions) / full_over_blocked_time,
        "scaling": {"twice_users_time_ratio": twice_users, "twice_horizon_time_ratio": twice_horizon},
        "parallel": {
            "users": args.parallel_users,
            "users_per_s_1_worker": rate_1,
            "users_per_s_2_workers": rate_2,
            "speedup": speedup,
        },
        "peak_rss_mib": peak_rss,
    }
    if args.large:
        results["large"] = large_run(SCENARIO, args.large)
    args.out.write_text(json.dumps(results, indent=2) + "\n")

    table = Table(
        title=f"tokensim benchmark: {users} users x {days:g} days (medians of {args.repeats} paired runs)"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_row("full model, sessions/s", f"{results['full_model']['sessions_per_s']:,.0f}", "")
    table.add_row("full model, user-days/s", f"{results['full_model']['user_days_per_s']:,.0f}", "")
    table.add_row("bare SimPy, sessions/s", f"{results['bare_simpy']['sessions_per_s']:,.0f}", "")
    table.add_row("ratio full / bare", f"{results['ratio_full_to_bare']:.2f}", ">= 0.5")
    table.add_row(
        "bare SimPy drawing in blocks, sessions/s",
        f"{results['bare_simpy_block_draws']['sessions_per_s']:,.0f}",
        "",
    )
    strict = results["ratio_full_to_bare_block_draws"]
    table.add_row("ratio full / bare drawing in blocks", f"{strict:.2f}", "")
    table.add_row("time, 2x users / 1x", f"{results['scaling']['twice_users_time_ratio']:.2f}", "<= 2.2")
    table.add_row("time, 2x horizon / 1x", f"{results['scaling']['twice_horizon_time_ratio']:.2f}", "<= 2.2")
    table.add_row(
        f"2 workers / 1 worker ({args.parallel_users:,} users)",
        f"{results['parallel']['speedup']:.2f}",
        ">= 1.7",
    )
    table.add_row("peak memory (MiB)", f"{peak_rss:,.0f}", "")
    if args.large:
        large = results["large"]
        table.add_row(f"{args.large:,} users x 365 d, seconds", f"{large['seconds']:,.0f}", "< 600")
        table.add_row(
            "  peak memory, run and workers together (MiB)",
            f"{large['peak_rss_mib_all_processes']:,.0f}",
            "< 2048",
        )
        table.add_row("  peak memory, main process (MiB)", f"{large['peak_rss_mib_main_process']:,.0f}", "")
        table.add_row("  output files (MiB)", f"{large['output_mib']:,.0f}", "")
    Console().print(table)


if __name__ == "__main__":
    main()
