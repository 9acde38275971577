"""`tokensim sweep SCENARIO --out DIR`: run every cell of a scenario's sweep and compare the cells.

Every cell runs every replication with the scenario's seed (common random numbers). Each finished cell
is written at once under `DIR/cells/<cell>/` (`replications.parquet`, then `summary.json`, atomically),
so an interrupted sweep loses at most the cells that were running: `--resume` runs only the missing
cells. The final tables are always assembled from the cells' files, so a resumed sweep's tables equal an
uninterrupted one's. Per-cell chains, re-authentication and time-series tables are not written (a sweep
multiplies them by the number of cells); run one cell's scenario with `tokensim run` to get them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from sim import __version__
from sim.analysis.differences import differences, summary_table
from sim.analysis.stats import json_number
from sim.analysis.summary import build_summary, run_header
from sim.cli.commands.options import add_scenario_overrides, load_with_overrides
from sim.core.output import write_table, write_text_atomic
from sim.core.validation import ConfigError, Problem
from sim.experiments.cells import PlannedCell, plan_cells, swept_paths
from sim.model.recording import Recorder
from sim.run.executors import cluster_threads, connect, dask_executor, local_executor
from sim.run.runner import run_scenario
from sim.run.shards import Executor, ShardTask, default_workers
from sim.scenario import Scenario
from sim.scenario.overrides import base_config
from sim.scenario.paths import value_at, value_text

HELP = "run every cell of a scenario's sweep on common random numbers and compare the cells"
SWEEP_FORMAT = 1
HEADLINE = (
    ("forced_reauth_per_user_month", "forced re-auths / user / month"),
    ("users_with_forced_reauth_share_monthly", "users forced in a month"),
    ("evictions_per_user_month", "evictions / user / month"),
    ("active_chains_per_user", "active chains / user"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tokensim sweep`."""
    parser.add_argument("scenario", type=Path, help="scenario YAML file with a sweep: section")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    add_run_options(parser)
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="table format")
    parser.add_argument("--force", action="store_true", help="start over in a non-empty output directory")
    parser.add_argument(
        "--resume", action="store_true", help="finish an interrupted sweep: run only the missing cells"
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument(
        "--report", action="store_true", help="also write report.md, report.html and figures/ (as `report`)"
    )


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by `sweep` and `check`: overrides and where the shards run."""
    add_scenario_overrides(
        parser,
        workers_help="local worker processes (default: number of cores; with --scheduler: the cluster's "
        "threads, used only to size the shards)",
    )
    parser.add_argument(
        "--scheduler", metavar="tcp://HOST:PORT", help="run the shards on this Dask distributed scheduler"
    )


@contextmanager
def open_executor(scheduler: str | None, workers: int | None) -> Iterator[tuple[Executor, int]]:
    """The executor (local processes, or the Dask cluster at `scheduler`) and the worker count for shards."""
    from sim.cli.main import UsageError

    if scheduler is None:
        count = workers or default_workers()
        with local_executor(count) as executor:
            yield executor, count
        return
    try:
        with connect(scheduler) as client:
            yield dask_executor(client), workers or cluster_threads(client)
    except OSError as exc:
        raise UsageError(str(exc)) from None


# --- progress -------------------------------------------------------------------------------------


class Reporter:
    """What a sweep tells the user while it runs; this base class says nothing (`--quiet`)."""

    def begin(self, scenario: Scenario, cells: int, done: int, skipped: Sequence[PlannedCell]) -> None:
        """The sweep starts: `cells` runnable cells, `done` of them already finished."""

    def cell_started(self, planned: PlannedCell, tasks: Sequence[ShardTask]) -> None:
        """A cell's shards are about to run."""

    def shard_done(self, task: ShardTask) -> None:
        """One shard of the current cell finished."""

    def cell_done(self, planned: PlannedCell, number: int, total: int, seconds: float) -> None:
        """A cell finished and is saved; it is the `number`-th of `total` to be done."""

    def end(self) -> None:
        """The sweep is over (or interrupted)."""


class PlainReporter(Reporter):
    """One line per event, for logs and pipes."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def _say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def begin(self, scenario: Scenario, cells: int, done: int, skipped: Sequence[PlannedCell]) -> None:
        """Announce the sweep and warn about skipped cells."""
        for planned in skipped:
            self._say(f"warning: skipping cell {planned.cell.id} ({planned.cell.label}): {planned.error}")
        resumed = f", {done} already done" if done else ""
        self._say(f"sweep {scenario.name}: {cells} cells x {scenario.replications} replications{resumed}")

    def cell_done(self, planned: PlannedCell, number: int, total: int, seconds: float) -> None:
        """`cell 3/9 done (c03-...) in 1.2 s`."""
        self._say(f"cell {number}/{total} done ({planned.cell.id}) in {seconds:.1f} s")


class RichReporter(Reporter):
    """Progress bars on a terminal: cells, the current cell's replications and shards; times."""

    def __init__(self, console: Console):
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.cells: TaskID | None = None
        self.replications: TaskID | None = None
        self.shards: TaskID | None = None
        self._open: Counter[int] = Counter()

    def begin(self, scenario: Scenario, cells: int, done: int, skipped: Sequence[PlannedCell]) -> None:
        """Warn about skipped cells and show the bars."""
        for planned in skipped:
            cell = planned.cell
            text = "[yellow]warning:[/] " + escape(f"skipping cell {cell.id} ({cell.label}): {planned.error}")
            self.console.print(text, highlight=False)
        self.progress.start()
        self.cells = self.progress.add_task(escape(f"{scenario.name}: cells"), total=cells, completed=done)
        self.replications = self.progress.add_task("replications", total=scenario.replications)
        self.shards = self.progress.add_task("shards", total=None)

    def cell_started(self, planned: PlannedCell, tasks: Sequence[ShardTask]) -> None:
        """Reset the per-cell bars."""
        self._open = Counter(task.replication for task in tasks)
        assert self.replications is not None and self.shards is not None
        self.progress.reset(self.replications, total=len(self._open), description=escape(planned.cell.id))
        self.progress.reset(self.shards, total=len(tasks), description="shards")

    def shard_done(self, task: ShardTask) -> None:
        """Advance the shard bar, and the replication bar when a replication's last shard is in."""
        assert self.replications is not None and self.shards is not None
        self.progress.advance(self.shards)
        self._open[task.replication] -= 1
        if self._open[task.replication] == 0:
            self.progress.advance(self.replications)

    def cell_done(self, planned: PlannedCell, number: int, total: int, seconds: float) -> None:
        """Advance the cell bar."""
        assert self.cells is not None
        self.progress.update(self.cells, completed=number)

    def end(self) -> None:
        """Remove the bars."""
        self.progress.stop()


def make_reporter(quiet: bool, console: Console | None = None) -> Reporter:
    """Rich bars on a terminal, plain lines on stderr otherwise, nothing with `--quiet`."""
    if quiet:
        return Reporter()
    console = console or Console(stderr=True)
    return RichReporter(console) if console.is_terminal else PlainReporter(sys.stderr)


def output_console(quiet: bool = False) -> Console:
    """The console for results on stdout: wide lines when not a terminal (CI logs), so tables do not wrap."""
    console = Console(quiet=quiet)
    return console if console.is_terminal else Console(quiet=quiet, width=160)


class ShardFailure(RuntimeError):
    """The executor could not run a shard (a worker process died, the cluster went away, ...)."""


#: Exit status of `sweep` and `check` when the run itself failed (finished cells are kept).
EXIT_RUN_FAILED = 3


def guarded(
    executor: Executor, reporter: Reporter | None = None, planned: PlannedCell | None = None
) -> Executor:
    """The executor, reporting each shard of a cell, with its failures turned into ShardFailure."""

    def run(tasks: list[ShardTask], workers: int) -> Iterator[tuple[ShardTask, Recorder]]:
        if reporter is not None and planned is not None:
            reporter.cell_started(planned, tasks)
        try:
            for task, recorder in executor(tasks, workers):
                if reporter is not None:
                    reporter.shard_done(task)
                yield task, recorder
        except (KeyboardInterrupt, GeneratorExit):
            raise
        except Exception as exc:
            where = f"cell {planned.cell.id}: " if planned is not None else ""
            raise ShardFailure(f"{where}{type(exc).__name__}: {exc}") from exc

    return run


# --- running and saving cells ---------------------------------------------------------------------


@dataclass
class SweepOutcome:
    """A finished sweep: its summary.json content and which cells ran now, were reused or skipped."""

    summary: dict[str, Any]
    ran: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def cell_dir(out: Path, cell_id: str) -> Path:
    """Where a cell's files go."""
    return out / "cells" / cell_id


def _cell_is_done(out: Path, planned: PlannedCell, fmt: str) -> bool:
    """True when the cell's files are complete and were written for this very cell scenario.

    A summary.json written for a different scenario raises UsageError: the sweep changed since.
    """
    from sim.cli.main import UsageError

    folder = cell_dir(out, planned.cell.id)
    summary_path = folder / "summary.json"
    if not summary_path.is_file():
        return False
    try:
        recorded = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False  # unreadable: run the cell again
    if not isinstance(recorded, dict):
        return False
    assert planned.scenario is not None
    if recorded.get("resolved_scenario") != planned.scenario.to_config():
        raise UsageError(
            f"cannot resume: {summary_path} was written for a different scenario than cell "
            f"{planned.cell.id} of this sweep (the scenario or its options changed since); "
            "use --force to start over"
        )
    if recorded.get("tool_version") != __version__:
        raise UsageError(
            f"cannot resume: {summary_path} was written by tokensim {recorded.get('tool_version')}, "
            f"this is {__version__}; use --force to start over"
        )
    return (folder / f"replications.{fmt}").is_file()


def _check_resumable(out: Path, planned: Sequence[PlannedCell]) -> None:
    from sim.cli.main import UsageError

    cells = out / "cells"
    if not cells.is_dir():
        return
    known = {p.cell.id for p in planned if p.scenario is not None}
    strangers = sorted(d.name for d in cells.iterdir() if d.is_dir() and d.name not in known)
    if strangers:
        raise UsageError(
            f"cannot resume: {cells} holds cells that are not in this sweep ({', '.join(strangers[:3])}"
            f"{', ...' if len(strangers) > 3 else ''}); the sweep changed since; use --force to start over"
        )


def _save_cell(out: Path, planned: PlannedCell, frame: pd.DataFrame, fmt: str) -> None:
    """replications table first, summary.json last: summary.json marks the cell as done."""
    assert planned.scenario is not None
    folder = cell_dir(out, planned.cell.id)
    write_table(frame, folder / f"replications.{fmt}", fmt)
    summary = build_summary(planned.scenario, frame)
    cell = planned.cell
    summary["cell"] = {"id": cell.id, "label": cell.label, "overrides": cell.overrides}
    write_text_atomic(folder / "summary.json", json.dumps(summary, indent=2, allow_nan=False) + "\n")


def _read_table(path: Path, fmt: str) -> pd.DataFrame:
    return pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)


def run_sweep(
    scenario: Scenario,
    out: Path,
    executor: Executor,
    workers: int,
    fmt: str = "parquet",
    resume: bool = False,
    reporter: Reporter | None = None,
    source: str | None = None,
) -> SweepOutcome:
    """Run (or, with `resume`, finish) every cell of the scenario's sweep into `out`, then the final tables.

    Raises ConfigError (naming `source`, the scenario file) when every cell is invalid, UsageError when
    `resume` finds cells of another sweep, ShardFailure when the executor fails (finished cells are kept).
    """
    reporter = reporter or Reporter()
    planned = plan_cells(scenario)
    runnable = [p for p in planned if p.scenario is not None]
    skipped = [p for p in planned if p.scenario is None]
    if not runnable:
        problems = [Problem(("sweep",), f"cell {p.cell.id} ({p.cell.label}): {p.error}") for p in skipped]
        problems.insert(0, Problem(("sweep",), "every cell of the sweep is invalid:"))
        raise ConfigError(problems, source=source or scenario.name)
    if resume:
        _check_resumable(out, planned)
    done = {p.cell.id for p in runnable if resume and _cell_is_done(out, p, fmt)}
    outcome = SweepOutcome(summary={}, reused=sorted(done), skipped=[p.cell.id for p in skipped])
    reporter.begin(scenario, len(runnable), len(done), skipped)
    try:
        number = len(done)
        for cell in runnable:
            if cell.cell.id in done:
                continue
            assert cell.scenario is not None
            started = time.perf_counter()
            observed = guarded(executor, reporter, cell)
            # closed here, not at garbage collection, where a Ctrl-C during the cleanup would be lost
            with run_scenario(cell.scenario, workers=workers, executor=observed) as result:
                _save_cell(out, cell, result.replication_metrics, fmt)
            number += 1
            outcome.ran.append(cell.cell.id)
            reporter.cell_done(cell, number, len(runnable), time.perf_counter() - started)
    finally:
        reporter.end()
    outcome.summary = write_final(scenario, out, planned, fmt)
    return outcome


# --- the final tables -----------------------------------------------------------------------------


def _swept_values(base: dict[str, Any], planned: PlannedCell, paths: Sequence[str]) -> dict[str, str]:
    """The value of every swept path in this cell, as text (the base value where a case leaves it)."""
    overrides = planned.cell.overrides
    return {p: value_text(overrides[p] if p in overrides else value_at(base, p)) for p in paths}


def write_final(scenario: Scenario, out: Path, planned: Sequence[PlannedCell], fmt: str) -> dict[str, Any]:
    """Assemble cells, summary and differences tables and summary.json from the saved cells."""
    assert scenario.sweep is not None
    paths = swept_paths(scenario.sweep)
    runnable = [p for p in planned if p.scenario is not None]
    base = base_config(scenario)
    frames = []
    cell_summaries = []
    for cell in runnable:
        folder = cell_dir(out, cell.cell.id)
        frame = _read_table(folder / f"replications.{fmt}", fmt)
        columns = {"cell": cell.cell.id, "label": cell.cell.label, **_swept_values(base, cell, paths)}
        frames.append(frame.assign(**columns)[[*columns, *frame.columns]])
        cell_summaries.append(json.loads((folder / "summary.json").read_text(encoding="utf-8")))
    cells = pd.concat(frames, ignore_index=True)
    baseline = runnable[0].cell.id
    summary = summary_table(cells, ["cell", "label", *paths])
    diffs = differences(cells, baseline)
    for name, frame in (("cells", cells), ("summary", summary), ("differences", diffs)):
        write_table(frame, out / f"{name}.{fmt}", fmt)
    content = _summary_json(scenario, runnable, planned, cell_summaries, diffs, paths)
    write_text_atomic(out / "summary.json", json.dumps(content, indent=2, allow_nan=False) + "\n")
    return content


def _difference_blocks(diffs: pd.DataFrame, cell_id: str) -> dict[str, Any]:
    rows = diffs[(diffs["cell"] == cell_id) & (diffs["persona"] == "*")]
    return {
        row.metric: {
            "mean": json_number(row.mean_diff),
            "ci95": [json_number(row.ci_low), json_number(row.ci_high)],
            "unpaired_ci95": [json_number(row.unpaired_ci_low), json_number(row.unpaired_ci_high)],
        }
        for row in rows.itertuples(index=False)
    }


def _summary_json(
    scenario: Scenario,
    runnable: Sequence[PlannedCell],
    planned: Sequence[PlannedCell],
    cell_summaries: Sequence[dict[str, Any]],
    diffs: pd.DataFrame,
    paths: Sequence[str],
) -> dict[str, Any]:
    baseline = runnable[0].cell.id
    cells = []
    for cell, summary in zip(runnable, cell_summaries, strict=True):
        entry: dict[str, Any] = {
            "cell": cell.cell.id,
            "label": cell.cell.label,
            "overrides": cell.cell.overrides,
            "users": summary["users"],
            "metrics": summary["metrics"],
            "by_persona": summary["by_persona"],
        }
        if cell.cell.id != baseline:
            entry["difference_from_baseline"] = _difference_blocks(diffs, cell.cell.id)
        cells.append(entry)
    return {
        "format": SWEEP_FORMAT,
        "kind": "sweep",
        # every header field but `users`, which a sweep's cells may change (each cell records its own)
        **{key: value for key, value in run_header(scenario).items() if key != "users"},
        "swept": list(paths),
        "baseline": baseline,
        "cells": cells,
        "skipped": [
            {"cell": p.cell.id, "label": p.cell.label, "overrides": p.cell.overrides, "error": p.error}
            for p in planned
            if p.scenario is None
        ],
        "resolved_scenario": scenario.to_config(),
    }


# --- the command ----------------------------------------------------------------------------------


def prepare_out(out: Path, force: bool, resume: bool) -> None:
    """Refuse a file, or a non-empty directory without --force / --resume; --force clears old cells."""
    from sim.cli.main import UsageError

    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (force or resume):
        raise UsageError(
            f"--out {out} is not empty; use --resume to finish an interrupted sweep there, "
            "or --force to start over"
        )
    if force and not resume and (out / "cells").is_dir():
        shutil.rmtree(out / "cells")


def run(args: argparse.Namespace) -> int:
    """Implement `tokensim sweep` (bad input raises ConfigError / UsageError, reported by the CLI)."""
    from sim.cli.main import UsageError

    scenario = load_with_overrides(args)
    if scenario.sweep is None:
        raise UsageError(
            f"{args.scenario} has no sweep: section (see docs/scenario.md); "
            "use `tokensim run` for a single scenario"
        )
    prepare_out(args.out, args.force, args.resume)
    reporter = make_reporter(args.quiet)
    started = time.perf_counter()
    try:
        with open_executor(args.scheduler, args.workers) as (executor, workers):
            outcome = run_sweep(
                scenario, args.out, executor, workers, args.format, args.resume, reporter, str(args.scenario)
            )
    except KeyboardInterrupt:
        print(f"tokensim: interrupted; finished cells are saved in {args.out}/cells: "
              "run the same command with --resume to finish", file=sys.stderr)
        raise
    except ShardFailure as exc:
        print(f"tokensim: the sweep stopped: {exc}\nfinished cells are saved in {args.out}/cells: "
              "run the same command with --resume to finish", file=sys.stderr)
        return EXIT_RUN_FAILED
    if not args.quiet:
        print_sweep(outcome, output_console(), time.perf_counter() - started, args.out)
    if getattr(args, "report", False):
        from sim.cli.commands.report import write_report

        paths = write_report(args.out)
        if not args.quiet:
            output_console().print(escape(f"wrote {paths.html}"), style="dim")
    return 0


def _cell_text(block: dict[str, Any]) -> str:
    mean = block["mean"]
    if mean is None:
        return "n/a"
    low, high = block["ci95"]
    return f"{mean:.4g}" + ("" if low is None else f" ({low:.3g}–{high:.3g})")


def print_sweep(outcome: SweepOutcome, console: Console, elapsed: float, out: Path) -> None:
    """A table of the cells: headline metrics with 95% intervals, and the paired difference to baseline."""
    summary = outcome.summary
    table = Table(
        title=escape(
            f"{summary['scenario']}: {len(summary['cells'])} cells x {summary['replications']} "
            f"replication(s), seed {summary['seed']}; 95% intervals"
        ),
        title_justify="left",
    )
    table.add_column("cell")
    for _, label in HEADLINE:
        table.add_column(label, justify="right")
    first = HEADLINE[0][0]
    table.add_column("Δ forced re-auths vs baseline (paired)", justify="right")
    for cell in summary["cells"]:
        diff = cell.get("difference_from_baseline", {}).get(first)
        diff_text = "baseline" if diff is None else _cell_text(diff)
        texts = [_cell_text(cell["metrics"][m]) for m, _ in HEADLINE]
        table.add_row(escape(cell["label"]), *texts, diff_text)
    console.print(table)
    for skipped in summary["skipped"]:
        text = escape(f"skipped {skipped['cell']}: {skipped['error']}")
        console.print(text, style="yellow", highlight=False)
    reused = f" ({len(outcome.reused)} cell(s) reused)" if outcome.reused else ""
    console.print(escape(f"wrote {out}/ in {elapsed:.1f} s{reused}"), style="dim")
