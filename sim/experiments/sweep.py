"""Sweeps (`tokensim sweep`, `sim.api.sweep`): every cell of a scenario's sweep on common random numbers.

Every cell runs every replication with the scenario's seed. Each finished cell is written at once under
`DIR/cells/<cell>/` (`replications.<fmt>`, then `summary.json`, each atomically; the summary marks the
cell done), so an interrupted sweep loses at most the cells that were running: `resume=True` runs only
the missing cells. The final tables are always assembled from the cells' files, so a resumed sweep's
tables equal an uninterrupted one's; they and summary.json are swapped in at the end with the cells
listed in the folder's manifest (`sim.core.resultset`). Per-cell chains, re-authentication and
time-series tables are not written (a sweep multiplies them by the number of cells).
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim import __version__
from sim.analysis.differences import differences, summary_table
from sim.analysis.stats import json_number
from sim.analysis.summary import (
    CellInfo,
    CellSummary,
    Difference,
    ResultFileError,
    RunSummary,
    SkippedCell,
    SweepSummary,
    build_summary,
    header,
    library_versions,
)
from sim.core.output import write_table, write_text_atomic
from sim.core.resultset import OutputError, ResultSet
from sim.core.validation import ConfigError, Problem
from sim.experiments.cells import PlannedCell, TooManyCells, plan_cells, swept_paths
from sim.experiments.estimate import LIMITS, TooLargeError
from sim.experiments.precision import PrecisionTarget
from sim.experiments.progress import Progress
from sim.experiments.run import prepare_work, run_precise
from sim.run.executors import WORKER_TIMEOUT, guarded, open_executor
from sim.run.runner import run_scenario
from sim.run.shards import default_workers
from sim.scenario.model import Scenario
from sim.scenario.overrides import base_config
from sim.scenario.paths import value_at, value_text

#: The files of a cell (besides summary.json), by table format.
CELL_TABLE = "replications"


class ResumeError(OutputError):
    """`resume` found cells written for another sweep, scenario or tool version."""


@dataclass
class SweepResult:
    """A finished sweep: its summary and which cells ran now, were reused from an earlier run, or skipped."""

    out: Path
    summary: SweepSummary
    ran: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0


def planned_cells(
    scenario: Scenario, source: str | None = None, allow_large: bool = False
) -> list[PlannedCell]:
    """The sweep's cells, or TooLargeError (before making them) for more cells than the limit."""
    try:
        return plan_cells(scenario, None if allow_large else int(LIMITS["cells"]))
    except TooManyCells as exc:
        message = f"{exc}; use --allow-large (allow_large=True) if you mean it"
        raise TooLargeError([Problem(("sweep",), message)], source=source or scenario.name) from None


def cell_dir(out: Path, cell_id: str) -> Path:
    """Where a cell's files go."""
    return Path(out) / "cells" / cell_id


def _read_table(path: Path, fmt: str) -> pd.DataFrame:
    return pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)


def _same_cell(recorded: dict[str, Any], planned: dict[str, Any], precision: bool) -> bool:
    """True when a saved cell was written for this cell's scenario (with precision: whatever replications
    it took)."""
    if not precision:
        return recorded == planned
    return {**recorded, "replications": 0} == {**planned, "replications": 0}


def _cell_is_done(out: Path, planned: PlannedCell, fmt: str, precision: bool = False) -> bool:
    """True when the cell's files are complete and were written for this very cell scenario.

    A damaged or unreadable cell counts as not done (it runs again); a summary.json written for a
    different scenario, tool or numpy version raises ResumeError: the sweep changed since.
    """
    folder = cell_dir(out, planned.cell.id)
    summary_path = folder / "summary.json"
    if not summary_path.is_file():
        return False
    try:
        recorded = RunSummary.read(summary_path)
    except ResultFileError:
        return False  # damaged: run the cell again
    assert planned.scenario is not None
    if not _same_cell(recorded.resolved_scenario, planned.scenario.to_config(), precision):
        raise ResumeError(
            f"cannot resume: {summary_path} was written for a different scenario than cell "
            f"{planned.cell.id} of this sweep (the scenario or its options changed since); "
            "use --force to start over"
        )
    if recorded.tool_version != __version__:
        raise ResumeError(
            f"cannot resume: {summary_path} was written by tokensim {recorded.tool_version}, "
            f"this is {__version__}; use --force to start over"
        )
    numpy_then, numpy_now = recorded.library_versions.get("numpy"), library_versions()["numpy"]
    if numpy_then != numpy_now:
        raise ResumeError(
            f"cannot resume: {summary_path} was written with numpy {numpy_then}, this is numpy {numpy_now} "
            "(random streams may differ between versions); use --force to start over"
        )
    table = folder / f"{CELL_TABLE}.{fmt}"
    try:
        _read_table(table, fmt)
    except Exception:
        return False
    return True


def _check_resumable(out: Path, planned: Sequence[PlannedCell]) -> None:
    cells = Path(out) / "cells"
    if not cells.is_dir():
        return
    known = {p.cell.id for p in planned if p.scenario is not None}
    strangers = sorted(
        d.name for d in cells.iterdir()
        if d.is_dir() and d.name not in known and (d / "summary.json").exists()
    )
    if strangers:
        raise ResumeError(
            f"cannot resume: {cells} holds cells that are not in this sweep ({', '.join(strangers[:3])}"
            f"{', ...' if len(strangers) > 3 else ''}); the sweep changed since; use --force to start over"
        )


def remove_cells(out: Path) -> None:
    """Delete the cell files an earlier sweep wrote under `out/cells` (and nothing else there)."""
    cells = Path(out) / "cells"
    if not cells.is_dir() or cells.is_symlink():
        return
    for folder in cells.iterdir():
        if not folder.is_dir() or folder.is_symlink():
            continue
        summary = folder / "summary.json"
        written_by_us = False
        try:
            written_by_us = RunSummary.read(summary).cell is not None
        except ResultFileError:
            written_by_us = summary.is_file() and summary.stat().st_size == 0
        if not written_by_us:
            continue
        for name in ("summary.json", f"{CELL_TABLE}.parquet", f"{CELL_TABLE}.csv"):
            (folder / name).unlink(missing_ok=True)
        for leftover in folder.glob(".*.tmp"):  # an atomic write that was interrupted
            leftover.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # the user's own files stay
            folder.rmdir()
    with contextlib.suppress(OSError):
        cells.rmdir()


def _save_cell(out: Path, planned: PlannedCell, frame: pd.DataFrame, fmt: str,
               scenario: Scenario | None = None) -> list[str]:
    """replications table first, summary.json last: summary.json marks the cell as done (`scenario`: the
    cell's scenario as run, when precision mode changed its replications)."""
    assert planned.scenario is not None
    folder = cell_dir(out, planned.cell.id)
    write_table(frame, folder / f"{CELL_TABLE}.{fmt}", fmt)
    cell = planned.cell
    info = CellInfo(id=cell.id, label=cell.label, overrides=cell.overrides)
    summary = build_summary(scenario or planned.scenario, frame, cell=info)
    write_text_atomic(folder / "summary.json", summary.to_json())
    return [f"cells/{cell.id}/{CELL_TABLE}.{fmt}", f"cells/{cell.id}/summary.json"]


def run_sweep(
    scenario: Scenario,
    out: Path,
    *,
    fmt: str = "parquet",
    resume: bool = False,
    force: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    worker_timeout: float = WORKER_TIMEOUT,
    progress: Progress | None = None,
    source: str | None = None,
    allow_large: bool = False,
    precision: PrecisionTarget | None = None,
) -> SweepResult:
    """Run (or, with `resume`, finish) every cell of the scenario's sweep into `out`, then the final tables.

    With `precision`, every cell adds replications until its headline metrics meet the target
    (sim.experiments.precision); cells may then have different replication counts, and differences
    from the baseline pair the replications both have.

    Raises ConfigError (naming `source`, the scenario file) when the scenario has no sweep or every
    cell is invalid; OutputError when `out` cannot be used; ResumeError when `resume` finds cells of
    another sweep; ShardFailure when a worker or the cluster fails (finished cells are kept).
    """
    if scenario.sweep is None:
        raise ConfigError(
            [Problem(("sweep",), "the scenario has no sweep: section (see docs/scenario.md); run it with "
                                 "`tokensim run`")],
            source=source or scenario.name,
        )
    progress = progress or Progress()
    started = time.perf_counter()
    planned = planned_cells(scenario, source, allow_large)
    runnable = [p for p in planned if p.scenario is not None]
    skipped = [p for p in planned if p.scenario is None]
    if not runnable:
        problems = [Problem(("sweep",), f"cell {p.cell.id} ({p.cell.label}): {p.error}") for p in skipped]
        problems.insert(0, Problem(("sweep",), "every cell of the sweep is invalid:"))
        raise ConfigError(problems, source=source or scenario.name)
    largest = max((p.scenario for p in runnable if p.scenario is not None),
                  key=lambda s: sum(q.users for q in s.population) * s.horizon)
    prepare_work(largest, workers or default_workers(), progress, allow_large, cells=len(runnable),
                 source=source)
    cells_there = (Path(out) / "cells").is_dir()
    if cells_there and not (resume or force):
        raise OutputError(
            f"--out {out} holds the cells of a sweep; use --resume to finish an interrupted sweep there, or "
            "--force to start over (files tokensim did not write are kept)"
        )
    allow = ("cells",) if resume else ()
    with ResultSet.open(out, "sweep", force=force, keep=resume, allow=allow) as results:
        if resume:
            _check_resumable(out, planned)
        else:
            remove_cells(out)
        done = {p.cell.id for p in runnable if resume and _cell_is_done(out, p, fmt, precision is not None)}
        outcome = SweepResult(Path(out), summary=None, reused=sorted(done),  # type: ignore[arg-type]
                              skipped=[p.cell.id for p in skipped])
        for cell in skipped:
            progress.warn(f"skipping cell {cell.cell.id} ({cell.cell.label}): {cell.error}")
        label = scenario.name
        if done:
            progress.note(f"{len(done)} of {len(runnable)} cells already done in {out}/cells: running the "
                          "rest")
        progress.started(label, len(runnable), "cells")
        progress.advanced(label, len(done), len(runnable))
        try:
            with open_executor(scheduler, workers, worker_timeout) as (executor, count):
                number = len(done)
                for cell in runnable:
                    if cell.cell.id in done:
                        continue
                    assert cell.scenario is not None
                    cell_started = time.perf_counter()
                    users = sum(p.users for p in cell.scenario.population) * cell.scenario.replications
                    progress.started(cell.cell.id, users, "users")

                    def advanced(done_users: int, total: int, cell_id: str = cell.cell.id) -> None:
                        progress.advanced(cell_id, done_users, total)

                    observed = guarded(executor, where=f"cell {cell.cell.id}")
                    spool = results.scratch(f"spool-{cell.cell.index}")
                    if precision is not None:
                        result, _ = run_precise(cell.scenario, precision, spool_dir=spool,
                                                executor=(observed, count))
                    else:
                        result = run_scenario(cell.scenario, workers=count, executor=observed,
                                              progress=advanced, spool_dir=spool)
                    # closed here, not at garbage collection, where a Ctrl-C during the cleanup would be lost
                    with result:
                        _save_cell(out, cell, result.replication_metrics, fmt, result.scenario)
                    shutil.rmtree(spool, ignore_errors=True)
                    number += 1
                    outcome.ran.append(cell.cell.id)
                    progress.finished(cell.cell.id, time.perf_counter() - cell_started)
                    progress.advanced(label, number, len(runnable))
        finally:
            progress.end()
        outcome.summary = _write_final(scenario, results, planned, fmt)
        cell_files = [
            f"cells/{p.cell.id}/{name}" for p in runnable for name in (f"{CELL_TABLE}.{fmt}", "summary.json")
        ]
        results.commit(in_place=cell_files)
    outcome.seconds = time.perf_counter() - started
    return outcome


# --- the final tables -----------------------------------------------------------------------------


def _swept_values(base: dict[str, Any], planned: PlannedCell, paths: Sequence[str]) -> dict[str, str]:
    """The value of every swept path in this cell, as text (the base value where a case leaves it)."""
    overrides = planned.cell.overrides
    return {p: value_text(overrides[p] if p in overrides else value_at(base, p)) for p in paths}


def _write_final(
    scenario: Scenario, results: ResultSet, planned: Sequence[PlannedCell], fmt: str
) -> SweepSummary:
    """Assemble cells, summary and differences tables and summary.json from the saved cells."""
    assert scenario.sweep is not None
    out = results.out
    paths = swept_paths(scenario.sweep)
    runnable = [p for p in planned if p.scenario is not None]
    base = base_config(scenario)
    frames = []
    cell_summaries = []
    for cell in runnable:
        folder = cell_dir(out, cell.cell.id)
        frame = _read_table(folder / f"{CELL_TABLE}.{fmt}", fmt)
        columns = {"cell": cell.cell.id, "label": cell.cell.label, **_swept_values(base, cell, paths)}
        frames.append(frame.assign(**columns)[[*columns, *frame.columns]])
        cell_summaries.append(RunSummary.read(folder / "summary.json"))
    cells = pd.concat(frames, ignore_index=True)
    baseline = runnable[0].cell.id
    summary = summary_table(cells, ["cell", "label", *paths])
    diffs = differences(cells, baseline)
    for name, frame in (("cells", cells), ("summary", summary), ("differences", diffs)):
        write_table(frame, results.path(f"{name}.{fmt}"), fmt)
    content = _sweep_summary(scenario, runnable, planned, cell_summaries, diffs, paths)
    write_text_atomic(results.path("summary.json"), content.to_json())
    return content


def _difference_blocks(diffs: pd.DataFrame, cell_id: str) -> dict[str, Difference]:
    rows = diffs[(diffs["cell"] == cell_id) & (diffs["persona"] == "*")]
    return {
        row.metric: Difference(
            mean=json_number(row.mean_diff),
            ci95=(json_number(row.ci_low), json_number(row.ci_high)),
            unpaired_ci95=(json_number(row.unpaired_ci_low), json_number(row.unpaired_ci_high)),
        )
        for row in rows.itertuples(index=False)
    }


def _sweep_summary(
    scenario: Scenario,
    runnable: Sequence[PlannedCell],
    planned: Sequence[PlannedCell],
    cell_summaries: Sequence[RunSummary],
    diffs: pd.DataFrame,
    paths: Sequence[str],
) -> SweepSummary:
    baseline = runnable[0].cell.id
    cells = [
        CellSummary(
            cell=cell.cell.id,
            label=cell.cell.label,
            overrides=cell.cell.overrides,
            users=summary.users,
            metrics=summary.metrics,
            by_persona=summary.by_persona,
            difference_from_baseline=(
                None if cell.cell.id == baseline else _difference_blocks(diffs, cell.cell.id)
            ),
        )
        for cell, summary in zip(runnable, cell_summaries, strict=True)
    ]
    # every header field but `users`, which a sweep's cells may change (each cell records its own)
    fields = {key: value for key, value in header(scenario).items() if key != "users"}
    return SweepSummary(
        **fields,
        swept=list(paths),
        baseline=baseline,
        cells=cells,
        skipped=[
            SkippedCell(cell=p.cell.id, label=p.cell.label, overrides=p.cell.overrides, error=p.error)
            for p in planned
            if p.scenario is None
        ],
        resolved_scenario=scenario.to_config(),
    )
