"""Running one scenario (`tokensim run`, `sim.api.run`): in memory, or into a results folder.

`run` returns the `RunResult` (tables on disk in a temporary spool, metrics, the typed summary).
`run_into` writes the result set of `tokensim run` into a folder as a whole (`sim.core.resultset`):
`summary.json` and the tables, plus the report when asked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sim.analysis.summary import RunSummary
from sim.core.resultset import ResultSet
from sim.experiments.progress import Progress
from sim.run.executors import guarded, open_executor
from sim.run.runner import RunResult, run_scenario
from sim.scenario.model import Scenario

#: Table formats a run can write.
FORMATS = ("parquet", "csv")


def run(
    scenario: Scenario,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    spool_dir: Path | None = None,
) -> RunResult:
    """Run every replication of a scenario on local processes (or the Dask cluster at `scheduler`).

    Results do not depend on the number of workers or on the executor. Raises `ShardFailure` when a
    worker or the cluster fails, `SchedulerError` when the scheduler cannot be reached.
    """
    progress = progress or Progress()
    label = scenario.name
    total = sum(p.users for p in scenario.population) * scenario.replications
    progress.started(label, total, "users")
    started = time.perf_counter()

    def advanced(done: int, all_users: int) -> None:
        progress.advanced(label, done, all_users)

    with open_executor(scheduler, workers) as (executor, count):
        result = run_scenario(
            scenario, workers=count, progress=advanced, executor=guarded(executor), spool_dir=spool_dir
        )
    progress.finished(label, time.perf_counter() - started)
    return result


@dataclass(frozen=True)
class RunOutcome:
    """A run written into a results folder: where, its summary, how long it took."""

    out: Path
    summary: RunSummary
    seconds: float


def run_into(
    scenario: Scenario,
    out: Path,
    *,
    fmt: str = "parquet",
    force: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> RunOutcome:
    """Run a scenario and write `summary.json` and its tables into `out` as one result set.

    The folder is checked and locked before the run starts (`OutputError`, `OutputBusy`); files are
    swapped in only when everything is written, so an error or Ctrl-C leaves the folder as it was.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown table format {fmt!r} (use {' or '.join(FORMATS)})")
    started = time.perf_counter()
    with ResultSet.open(out, "run", force=force) as results:
        with run(scenario, workers=workers, scheduler=scheduler, progress=progress,
                 spool_dir=results.scratch("spool")) as result:
            result.write(results, fmt)
            summary = result.summary
        results.commit()
    return RunOutcome(Path(out), summary, time.perf_counter() - started)
