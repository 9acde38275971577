"""Benchmark of the full model against a bare SimPy model of the same sessions (issues 7 and 17).

Run with `make bench` (or `python benchmarks/bench.py`). Everything is measured in one process run, so
the ratios compare like with like on a shared, noisy machine:

1. the full model (`sim.run.shards.simulate_shard`, one process) on benchmarks/office.yaml: sessions per
   second and simulated user-days per second; and what a worker adds to the simulation of a shard
   (`run_shard`: its partial results and its Parquet parts);
2. a bare SimPy model of the same sessions: one process per device, a timeout at each session start and
   end drawn from the same distributions and the same random streams, no policy, no metrics; and the
   same bare model drawing its gaps and durations in blocks like the full model (a stricter baseline);
3. the ratio of 1 to 2, peak memory, scaling in users and horizon, two local workers against one, and a
   Dask cluster of two single-threaded workers on 127.0.0.1 against one (whose summary must equal the
   local run's byte for byte);
4. the whole command: `tokensim` start-up, and one run in this process cut into its phases (shards,
   metrics, writing the tables and summary);
5. with `--large N [N ...]`: the full year of N users through `tokensim run` on every core, with the
   memory of its main process and of all its processes sampled every half second, and the time and
   memory ratios between the sizes.

Figures go to benchmarks/results.json and a table on the terminal.
"""

from __future__ import annotations

import argparse
import dataclasses
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

import pyarrow.parquet as pq
import simpy
from rich.console import Console
from rich.table import Table

from sim.analysis.summary import build_summary
from sim.core.resultset import ResultSet
from sim.model import streams
from sim.model.behaviour import blocks
from sim.model.schedule import WeeklySchedule
from sim.run.executors import dask_executor
from sim.run.runner import run_scenario
from sim.run.shards import ShardTask, run_shard, simulate_shard
from sim.run.spool import TableSpool
from sim.scenario import Scenario, load_scenario

HERE = Path(__file__).resolve().parent
SCENARIO = HERE / "office.yaml"
DAY = 86400.0


def write_run(result, out: Path, fmt: str) -> None:
    """Write a run's tables and summary into `out` as `tokensim run` does (staged, then swapped in)."""
    with ResultSet.open(out, "run", force=True) as results:
        result.write(results, fmt)
        results.commit()


def _task(scenario: Scenario, users: int, spool: TableSpool | None = None) -> ShardTask:
    persona = scenario.population[0]
    return ShardTask(
        scenario.policy, persona, scenario.horizon, scenario.seed, 0, 0, users,
        warmup=scenario.warmup, spool=None if spool is None else spool.target,
    )  # fmt: skip


def full_model(scenario: Scenario, users: int) -> tuple[float, int]:
    """Seconds to simulate `users` users in this process, and the sessions they had."""
    started = time.perf_counter()
    recorder = simulate_shard(_task(scenario, users))
    elapsed = time.perf_counter() - started
    sessions = int(sum(counts[3].sum() for counts in recorder.hourly_counts.values()))
    return elapsed, sessions


def whole_shard(scenario: Scenario, users: int) -> tuple[float, int]:
    """Seconds of a worker's whole shard: the simulation, its partial results and its Parquet parts."""
    with tempfile.TemporaryDirectory() as directory:
        spool = TableSpool(Path(directory), [scenario.population[0].name])
        started = time.perf_counter()
        result = run_shard(_task(scenario, users, spool))
        elapsed = time.perf_counter() - started
    return elapsed, int(result.partial.hourly[3].sum())


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


def dask_rates(scenario: Scenario, repeats: int) -> dict[str, float]:
    """Users per second of run_scenario on a Dask cluster of 1 and of 2 single-threaded worker processes
    on 127.0.0.1 (clusters started beforehand; pairs back to back). The summary must equal the local
    run's byte for byte."""
    from distributed import Client, LocalCluster

    users = sum(p.users for p in scenario.population)
    local = run_scenario(scenario, workers=2)
    expected = build_summary(scenario, local.replication_metrics)
    local.close()
    options = {"threads_per_worker": 1, "processes": True, "host": "127.0.0.1", "dashboard_address": None}
    with (
        LocalCluster(n_workers=1, **options) as one,
        LocalCluster(n_workers=2, **options) as two,
        Client(one, set_as_default=False) as client_one,
        Client(two, set_as_default=False) as client_two,
    ):

        def rate(client: Client, workers: int) -> float:
            started = time.perf_counter()
            with run_scenario(scenario, workers=workers, executor=dask_executor(client)) as result:
                seconds = time.perf_counter() - started
                if build_summary(scenario, result.replication_metrics) != expected:
                    raise AssertionError("the Dask run's summary differs from the local run's")
            return users / seconds

        pairs = [(rate(client_one, 1), rate(client_two, 2)) for _ in range(repeats)]
    return {
        "users": users,
        "users_per_s_1_worker": statistics.median(a for a, _ in pairs),
        "users_per_s_2_workers": statistics.median(b for _, b in pairs),
        "speedup": statistics.median(b / a for a, b in pairs),
    }


def startup_seconds(repeats: int) -> float:
    """Median seconds of `tokensim run --help` in a fresh interpreter (every command module imported,
    the arguments parsed: what a run pays before it starts)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sim", "run", "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def phases(scenario: Scenario, workers: int) -> dict[str, float]:
    """One whole run in this process, in phases: the shards (simulation on the workers, merging here),
    the metrics of complete replications, and writing the tables and summary.json."""
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        result = run_scenario(scenario, workers=workers)
        run_seconds = time.perf_counter() - started
        started = time.perf_counter()
        write_run(result, Path(out), "parquet")
        write_seconds = time.perf_counter() - started
        result.close()
    return {
        "users": sum(p.users for p in scenario.population),
        "workers": workers,
        "run_s": run_seconds,
        "shards_s": result.timings["shards"],
        "metrics_s": result.timings["metrics"],
        "write_s": write_seconds,
    }


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
        table_bytes = sum(f.stat().st_size for f in Path(out).rglob("*") if f.is_file())
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
        "--dask-users", type=int, default=2400, help="users in the Dask comparison (0: skip it)"
    )
    parser.add_argument(
        "--phase-users", type=int, default=4000, help="users of the in-process run cut into phases"
    )
    parser.add_argument(
        "--large",
        type=int,
        nargs="*",
        default=[],
        help="also run these many users for a year through `tokensim run` (e.g. 100000 1000000)",
    )
    parser.add_argument(
        "--only-large",
        action="store_true",
        help="run only the --large and --replay runs (merged into --out if it exists)",
    )
    parser.add_argument(
        "--replay",
        type=int,
        nargs="*",
        default=[],
        help="the main process of a year of these many users, shards replayed from one simulated shard",
    )
    parser.add_argument("--replay-child", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    scenario = load_scenario(SCENARIO)
    users = args.users
    days = scenario.horizon / DAY
    if args.replay_child:
        replay_child(args.replay_child)
        return
    load_before = os.getloadavg()
    if args.only_large:
        results = json.loads(args.out.read_text()) if args.out.exists() else {}
        if args.large:
            results.update(_large_results([large_run(SCENARIO, n) for n in args.large]))
        if args.replay:
            results["replay"] = [replay_run(n) for n in args.replay]
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        _print_large(results)
        return

    startup = startup_seconds(args.repeats)
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
    _, _, shard_over_simulation = paired(
        args.repeats, lambda: full_model(scenario, users), lambda: whole_shard(scenario, users)
    )
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    dask = None
    if args.dask_users:
        dask = dask_rates(
            scenario.with_overrides(users_scale=args.dask_users / scenario.population[0].users), 3
        )
    cut = phases(scenario.with_overrides(users_scale=args.phase_users / scenario.population[0].users), 2)

    results = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            # 1-minute load averages at the start and end: on a shared machine, times are only
            # comparable between runs of similar load (the ratios of back-to-back pairs less so affected)
            "load_average_start_end": [load_before[0], os.getloadavg()[0]],
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
        # a worker's whole shard (simulation, partial results, Parquet parts) over the simulation alone
        "shard_over_simulation_time": shard_over_simulation,
        "dask": dask,
        "startup_s": startup,
        "phases": cut,
        "peak_rss_mib": peak_rss,
    }
    if args.large:
        results.update(_large_results([large_run(SCENARIO, n) for n in args.large]))
    if args.replay:
        results["replay"] = [replay_run(n) for n in args.replay]
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
    table.add_row("whole shard / simulation alone, time", f"{shard_over_simulation:.2f}", "")
    if dask is not None:
        table.add_row(f"Dask, 2 workers / 1 worker ({dask['users']:,} users)", f"{dask['speedup']:.2f}", "")
    table.add_row("tokensim start-up (s)", f"{startup:.2f}", "")
    table.add_row(
        f"run of {cut['users']:,} users: shards / metrics / writing (s)",
        f"{cut['shards_s']:.1f} / {cut['metrics_s']:.2f} / {cut['write_s']:.2f}",
        "",
    )
    table.add_row("peak memory (MiB)", f"{peak_rss:,.0f}", "")
    Console().print(table)
    if args.large:
        _print_large(results)


def replay_child(users: int) -> None:
    """(In a child process) the main process of a `users`-user year, its shards replayed: one real shard
    of MAX_SHARD_USERS users is simulated once, then each planned shard's Parquet parts are copied from
    it into the spool (as a worker would write them) and its partial results handed to the runner. The
    merging, the metrics (with their re-reads of every chain) and the writing are the real ones, over
    the full number of rows. Prints a JSON line of timings."""
    import shutil
    from concurrent.futures import ProcessPoolExecutor

    from sim.run.shards import ShardResult, plan_shards
    from sim.run.spool import SPOOL_TABLES

    scenario = load_scenario(SCENARIO)
    scenario = scenario.with_overrides(users_scale=users / scenario.population[0].users)
    first = plan_shards(scenario, 2)[0]
    with tempfile.TemporaryDirectory() as directory:
        source = TableSpool(Path(directory) / "source", [first.persona.name])
        with ProcessPoolExecutor(max_workers=1) as pool:  # a worker: its memory is not the main's
            base = pool.submit(run_shard, dataclasses.replace(first, spool=source.target)).result()

        def replay(tasks: list[ShardTask], _workers: int):  # an Executor
            for task in tasks:
                target = Path(task.spool.directory)
                for name in SPOOL_TABLES:
                    destination = task.part.path(target, name)
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(first.part.path(source.directory, name), destination)
                yield task, ShardResult(base.partial)

        out = Path(directory) / "out"
        started = time.perf_counter()
        result = run_scenario(scenario, workers=2, executor=replay, spool_dir=Path(directory) / "spool")
        run_seconds = time.perf_counter() - started
        started = time.perf_counter()
        write_run(result, out, "parquet")
        write_seconds = time.perf_counter() - started
        chains = pq.ParquetFile(out / "chains.parquet").metadata.num_rows
    print(json.dumps({"users": users, "chains": chains, "run_s": run_seconds, **result.timings,
                      "write_s": write_seconds}))  # fmt: skip


def replay_run(users: int) -> dict[str, float]:
    """`replay_child` in a fresh process, its memory sampled every tenth of a second."""
    import psutil

    cmd = [sys.executable, str(Path(__file__)), "--replay-child", str(users)]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    process, peak = psutil.Process(child.pid), 0
    while child.poll() is None:
        try:
            peak = max(peak, process.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.1)
    output = child.stdout.read() if child.stdout else ""
    if child.returncode != 0:
        raise subprocess.CalledProcessError(child.returncode, cmd)
    return {**json.loads(output.strip().splitlines()[-1]), "peak_rss_mib_main_process": peak / 2**20}


def _large_results(runs: list[dict[str, float]]) -> dict[str, object]:
    """The large runs and, between the smallest and the largest, the time and main-memory ratios."""
    out: dict[str, object] = {"large": runs}
    if len(runs) >= 2:
        small, big = min(runs, key=lambda r: r["users"]), max(runs, key=lambda r: r["users"])
        out["large_scaling"] = {
            "users_ratio": big["users"] / small["users"],
            "time_ratio": big["seconds"] / small["seconds"],
            "main_memory_ratio": big["peak_rss_mib_main_process"] / small["peak_rss_mib_main_process"],
        }
    return out


def _print_large(results: dict[str, object]) -> None:
    replays = results.get("replay") or []
    if replays:
        table = Table(title="main process of tokensim run, shards replayed (office.yaml, a year)")
        for column in ("users", "chains", "merging (s)", "metrics (s)", "writing (s)", "peak (MiB)"):
            table.add_column(column, justify="right")
        for run in replays:  # type: ignore[union-attr]
            table.add_row(
                f"{run['users']:,}", f"{run['chains']:,}", f"{run['shards']:.1f}", f"{run['metrics']:.1f}",
                f"{run['write_s']:.1f}", f"{run['peak_rss_mib_main_process']:,.0f}",
            )  # fmt: skip
        Console().print(table)
    if not results.get("large"):
        return
    table = Table(title="tokensim run, benchmarks/office.yaml for a year, every core")
    for column in ("users", "seconds", "main process peak (MiB)", "all processes peak (MiB)", "output (MiB)"):
        table.add_column(column, justify="right")
    for run in results.get("large", []):  # type: ignore[union-attr]
        table.add_row(
            f"{run['users']:,}", f"{run['seconds']:,.0f}", f"{run['peak_rss_mib_main_process']:,.0f}",
            f"{run['peak_rss_mib_all_processes']:,.0f}", f"{run['output_mib']:,.0f}",
        )  # fmt: skip
    Console().print(table)
    scaling = results.get("large_scaling")
    if scaling:
        Console().print(
            f"{scaling['users_ratio']:g}x users: {scaling['time_ratio']:.2f}x time (target <= 11x for 10x), "
            f"{scaling['main_memory_ratio']:.2f}x main-process memory (target <= 1.3x)"
        )


if __name__ == "__main__":
    main()
