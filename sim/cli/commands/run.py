"""`tokensim run SCENARIO --out DIR`: run a scenario and write its tables, summary and a terminal table."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from sim.cli.commands.options import (
    add_output_options,
    add_scenario_overrides,
    check_out_dir,
    load_with_overrides,
)
from sim.experiments.run import write_run
from sim.run.executors import SchedulerUnreachable, open_executor
from sim.run.runner import RunResult, run_scenario
from sim.run.shards import Executor
from sim.run.spool import spool_directory
from sim.scenario import Scenario

HEADLINE = (
    ("forced_reauth_per_user_month", "forced re-auths / user / month"),
    ("mid_session_reauth_per_user_month", "  of which mid-session"),
    ("users_with_forced_reauth_share_monthly", "users forced in a month (share)"),
    ("logins_per_user_month", "logins / user / month"),
    ("refresh_requests_per_user_month", "refresh requests / user / month"),
    ("evictions_per_user_month", "evictions / user / month"),
    ("active_chains_per_user", "active chains / user"),
    ("active_chains_peak", "active chains, peak"),
    ("chain_lifetime_days_median", "chain lifetime, median (days)"),
    ("token_requests_per_second_peak", "token requests / s, busiest minute"),
)


HELP = "run a scenario and write its tables and summary"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tokensim run`."""
    parser.add_argument("scenario", type=Path, help="scenario YAML file")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    add_scenario_overrides(parser)
    add_output_options(parser)
    parser.add_argument(
        "--report", action="store_true", help="also write report.md, report.html and figures/ (as `report`)"
    )
    parser.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run the shards on this Dask distributed scheduler; the workers write the tables into --out "
        "(a folder they all reach) as partitioned Parquet datasets",
    )


def run(args: argparse.Namespace) -> int:
    """Implement `tokensim run` (bad input raises ConfigError / UsageError, reported by the CLI)."""
    scenario = load_with_overrides(args)
    out: Path = args.out
    check_out_dir(out, args.force)

    console = Console(stderr=True, quiet=args.quiet)
    started = time.perf_counter()
    scheduler = getattr(args, "scheduler", None)
    # The row tables go to a hidden directory beside `out` (same file system), removed in any case; on a
    # cluster, inside `out`, where the workers write them.
    try:
        with (
            open_executor(scheduler, args.workers) as (executor, workers),
            spool_directory(out, shared=scheduler is not None) as spool,
        ):
            layout = "dataset" if scheduler is not None else "files"
            result = _run_with_progress(scenario, workers, console, spool, executor, layout)
            elapsed = time.perf_counter() - started
            summary = write_run(result, out, args.format)
    except SchedulerUnreachable as exc:
        from sim.cli.main import UsageError

        raise UsageError(str(exc)) from None
    if not args.quiet:
        print_summary(summary, Console(), elapsed, out)
    if getattr(args, "report", False):
        from sim.cli.commands.report import write_report

        paths = write_report(out)
        if not args.quiet:
            Console().print(f"wrote {paths.html}", style="dim")
    return 0


def _run_with_progress(
    scenario: Scenario,
    workers: int | None,
    console: Console,
    spool_dir: Path,
    executor: Executor | None = None,
    layout: str = "files",
) -> RunResult:
    options = {"workers": workers, "spool_dir": spool_dir, "executor": executor, "layout": layout}
    if not console.is_terminal or console.quiet:
        return run_scenario(scenario, **options)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} users"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"{scenario.name}", total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return run_scenario(scenario, progress=update, **options)


def _fmt(block: dict[str, Any]) -> tuple[str, str]:
    mean = block["mean"]
    low, high = block["ci95"]
    if mean is None:
        return "n/a", ""
    interval = "" if low is None else f"{low:.4g} – {high:.4g}"
    return f"{mean:.4g}", interval


def _exposure_lines(metrics: dict[str, Any]) -> list[str]:
    """Thefts, revocation lag and storage in a few lines (each only when the run has the figure)."""

    def mean(name: str) -> float | None:
        return metrics.get(name, {}).get("mean")

    lines = []
    if mean("thefts_active_at_horizon_share") is not None:
        dwell, p95 = mean("attacker_dwell_days_mean"), mean("attacker_dwell_days_p95")
        dwell_text = "n/a" if dwell is None else f"{dwell:.3g} days"
        p95_text = "n/a" if p95 is None else f"{p95:.3g} days"
        lines.append(
            f"thefts: attacker dwell mean {dwell_text} (p95 {p95_text}), "
            f"detected {mean('theft_detected_share') or 0:.0%}, "
            f"still active at the horizon {mean('thefts_active_at_horizon_share') or 0:.0%}, "
            f"victim re-auths per theft {mean('victim_reauths_per_theft') or 0:.3g}"
        )
    lag = mean("revocation_lag_minutes_mean")
    if lag is not None:
        lines.append(f"access after a revocation: {lag:.3g} minutes on average")
    rows, peak, size = mean("stored_rows_mean"), mean("stored_rows_peak"), mean("stored_bytes_peak")
    if rows is not None and peak is not None and size is not None:
        lines.append(f"token store: {rows:,.0f} rows on average, {peak:,.0f} at peak ({size / 1e6:,.3g} MB)")
    return lines


def print_summary(summary: dict[str, Any], console: Console, elapsed: float, out: Path) -> None:
    """The short human summary: headline metrics with their intervals, overall and per persona."""
    personas = list(summary["by_persona"])
    table = Table(
        title=(
            f"{summary['scenario']}: {summary['users']:,} users, {summary['horizon_days']:g} days "
            f"(warm-up {summary['warmup_days']:g}), {summary['replications']} replication(s), "
            f"seed {summary['seed']}"
        ),
        title_justify="left",
    )
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("95% CI", justify="right")
    if len(personas) > 1:
        for persona in personas:
            table.add_column(persona, justify="right")
    for name, label in HEADLINE:
        mean, interval = _fmt(summary["metrics"][name])
        cells = [label, mean, interval]
        if len(personas) > 1:
            cells += [_fmt(summary["by_persona"][p][name])[0] for p in personas]
        table.add_row(*cells)
    console.print(table)
    causes = {
        name.split(".", 1)[1]: block["mean"]
        for name, block in summary["metrics"].items()
        if name.startswith("forced_reauth_per_user_month.") and block["mean"]
    }
    total = summary["metrics"]["forced_reauth_per_user_month"]["mean"] or 0.0
    if causes and total:
        ranked = sorted(causes.items(), key=lambda kv: -kv[1])
        parts = ", ".join(f"{cause} {value / total:.0%}" for cause, value in ranked)
        console.print(f"forced re-authentications by cause: {parts}")
    for line in _exposure_lines(summary["metrics"]):
        console.print(line)
    console.print(f"wrote {out}/ in {elapsed:.1f} s", style="dim")
    sys.stdout.flush()
