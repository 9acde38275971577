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
from sim.experiments.estimate import WorkEstimate, check_limits, estimate
from sim.experiments.progress import Progress
from sim.ingest import FORMATS as EVENT_FORMATS
from sim.ingest.export import export_run_events
from sim.run.executors import WORKER_TIMEOUT, guarded, open_executor
from sim.run.runner import RunResult, run_scenario
from sim.run.shards import default_workers, plan_shards
from sim.scenario.model import Scenario

#: Table formats a run can write.
FORMATS = ("parquet", "csv")


def run(
    scenario: Scenario,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    worker_timeout: float = WORKER_TIMEOUT,
    progress: Progress | None = None,
    spool_dir: Path | None = None,
    events: bool = False,
    allow_large: bool = False,
) -> RunResult:
    """Run every replication of a scenario on local processes (or the Dask cluster at `scheduler`).

    Results do not depend on the number of workers or on the executor. `events` also records every token
    event (the event log `--events` exports). Raises `ShardFailure` when a worker or the cluster fails,
    `SchedulerError` when the scheduler cannot be reached, `TooLargeError` when the estimated work is
    beyond the limits of `sim.experiments.estimate` and `allow_large` is not set.
    """
    progress = progress or Progress()
    workers = local_workers(scenario, workers, scheduler, progress)
    prepare_work(scenario, workers or default_workers(), progress, allow_large)
    label = scenario.name
    total = sum(p.users for p in scenario.population) * scenario.replications
    progress.started(label, total, "users")
    started = time.perf_counter()

    def advanced(done: int, all_users: int) -> None:
        progress.advanced(label, done, all_users)

    with open_executor(scheduler, workers, worker_timeout) as (executor, count):
        # on a cluster the workers write their parts themselves, so the tables stay partitioned datasets
        layout = "dataset" if scheduler is not None else "files"
        result = run_scenario(
            scenario, workers=count, progress=advanced, executor=guarded(executor), spool_dir=spool_dir,
            events=events, layout=layout,
        )
    progress.finished(label, time.perf_counter() - started)
    return result


def local_workers(
    scenario: Scenario, workers: int | None, scheduler: str | None, progress: Progress
) -> int | None:
    """The worker processes to start: never more than the run has shards (each a piece of work for one
    process), and a warning when more are asked for than there are cores."""
    if workers is None or scheduler is not None:
        return workers
    cores = default_workers()
    shards = len(plan_shards(scenario, min(workers, cores)))
    if workers > cores:
        progress.warn(f"{workers} workers on {cores} core(s): the extra processes only share the same cores")
    if workers > shards:
        progress.warn(f"--workers {workers}: this run has {shards} shard(s) of users, so {shards} worker(s)")
        return shards
    return workers


def prepare_work(scenario: Scenario, cores: int, progress: Progress, allow_large: bool, cells: int = 1,
                 source: str | None = None) -> WorkEstimate:
    """Estimate the work, refuse it beyond the limits (unless `allow_large`), and say what it will cost
    when that is more than a minute."""
    work = estimate(scenario, cells=cells, cores=cores)
    check_limits(work, source=source or scenario.name, allow_large=allow_large)
    if work.seconds > 60:
        progress.note(f"estimated: {work.describe()}")
    return work


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
    worker_timeout: float = WORKER_TIMEOUT,
    progress: Progress | None = None,
    events: str | None = None,
    allow_large: bool = False,
) -> RunOutcome:
    """Run a scenario and write `summary.json` and its tables into `out` as one result set; with `events`
    (a format of `sim.ingest.FORMATS`) also every token event as that vendor's log.

    The folder is checked and locked before the run starts (`OutputError`, `OutputBusy`); files are
    swapped in only when everything is written, so an error or Ctrl-C leaves the folder as it was.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown table format {fmt!r} (use {' or '.join(FORMATS)})")
    if events is not None and events not in EVENT_FORMATS:
        raise ValueError(f"unknown event log format {events!r} (use one of {', '.join(EVENT_FORMATS)})")
    started = time.perf_counter()
    with ResultSet.open(out, "run", force=force) as results:
        with run(scenario, workers=workers, scheduler=scheduler, worker_timeout=worker_timeout,
                 progress=progress, spool_dir=results.scratch("spool"), events=events is not None,
                 allow_large=allow_large) as result:
            result.write(results, fmt)
            if events is not None:
                export_run_events(result, results.staging, events)
            summary = result.summary
        results.commit()
    return RunOutcome(Path(out), summary, time.perf_counter() - started)
