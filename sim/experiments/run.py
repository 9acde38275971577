"""Running one scenario (`tokensim run`, `sim.api.run`): in memory, or into a results folder.

`run` returns the `RunResult` (tables on disk in a temporary spool, metrics, the typed summary).
`run_into` writes the result set of `tokensim run` into a folder as a whole (`sim.core.resultset`):
`summary.json` and the tables, plus the report when asked.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.analysis.summary import RunSummary
from sim.core.output import write_text_atomic
from sim.core.resultset import ResultSet
from sim.experiments.estimate import WorkEstimate, check_limits, estimate
from sim.experiments.precision import MIN_START, PrecisionOutcome, PrecisionTarget, until_precise
from sim.experiments.progress import Progress
from sim.ingest import FORMATS as EVENT_FORMATS
from sim.ingest.export import export_run_events
from sim.run.executors import WORKER_TIMEOUT, guarded, open_executor
from sim.run.runner import RunResult, run_scenario
from sim.run.shards import Executor, default_workers, plan_shards
from sim.run.spool import TableSpool
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
    precision: PrecisionTarget | None = None,
) -> RunResult:
    """Run every replication of a scenario on local processes (or the Dask cluster at `scheduler`).

    Results do not depend on the number of workers or on the executor. `events` also records every token
    event (the event log `--events` exports). With `precision`, replications are added until every
    headline metric is precise enough (`run_precise`; the result's scenario then records the replications
    it took). Raises `ShardFailure` when a worker or the cluster fails, `SchedulerError` when the scheduler
    cannot be reached, `TooLargeError` when the estimated work is beyond the limits of
    `sim.experiments.estimate` and `allow_large` is not set.
    """
    if precision is not None:
        return run_precise(scenario, precision, workers=workers, scheduler=scheduler,
                           worker_timeout=worker_timeout, progress=progress, spool_dir=spool_dir,
                           events=events, allow_large=allow_large)[0]
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


def run_precise(
    scenario: Scenario,
    target: PrecisionTarget,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    worker_timeout: float = WORKER_TIMEOUT,
    progress: Progress | None = None,
    spool_dir: Path | None = None,
    executor: tuple[Executor, int] | None = None,
    events: bool = False,
    allow_large: bool = False,
) -> tuple[RunResult, PrecisionOutcome]:
    """Run the scenario, adding replications until every headline metric's 95% half-width meets `target`
    (sim.experiments.precision), starting from the scenario's replications (at least MIN_START).

    The result equals a plain run with the replications it took (replication r always uses the random
    numbers of replication r); its scenario records that count. The work limits
    (`sim.experiments.estimate`) are checked for the first batch of replications.
    """
    progress = progress or Progress()
    first = max(scenario.replications, MIN_START)
    if executor is None:
        workers = local_workers(scenario, workers, scheduler, progress)
        prepare_work(scenario.model_copy(update={"replications": first}), workers or default_workers(),
                     progress, allow_large)
    label = scenario.name
    users = sum(p.users for p in scenario.population)
    started = time.perf_counter()
    personas = [p.name for p in scenario.population]
    spool = TableSpool.temporary(personas) if spool_dir is None else TableSpool(spool_dir, personas)
    pieces: list[RunResult] = []
    try:
        with contextlib.ExitStack() as stack:
            if executor is None:
                opened, count = stack.enter_context(open_executor(scheduler, workers, worker_timeout))
                observed: Executor = guarded(opened)
            else:
                observed, count = executor

            def sample(numbers: range) -> dict[str, list[float]]:
                progress.started(label, users * numbers.stop, "users")
                base = users * numbers.start

                def advanced(done: int, _total: int) -> None:
                    progress.advanced(label, base + done, users * numbers.stop)

                piece = run_scenario(scenario, workers=count, progress=advanced, executor=observed,
                                     replications=numbers, spool=spool, events=events)
                pieces.append(piece)
                frame = piece.replication_metrics
                overall = frame[frame["persona"] == "*"].sort_values("replication")
                return {m: overall[m].astype(float).tolist() for m in target.metrics if m in overall}

            outcome = until_precise(sample, target, first)
    except BaseException:
        spool.close()
        raise
    progress.finished(label, time.perf_counter() - started)
    final = scenario.model_copy(update={"replications": outcome.replications})
    series = [p.timeseries for p in pieces if len(p.timeseries)] or [pieces[0].timeseries]
    result = RunResult(
        scenario=final,
        timeseries=pd.concat(series, ignore_index=True),
        replication_metrics=pd.concat([p.replication_metrics for p in pieces], ignore_index=True),
        token_requests=sum(p.token_requests for p in pieces),
        sessions=sum(p.sessions for p in pieces),
        spool=spool,
        timings={name: sum(p.timings.get(name, 0.0) for p in pieces) for name in ("shards", "metrics")},
    )
    return result, outcome


def precision_json(outcome: PrecisionOutcome) -> str:
    """The content of `precision.json`: the target, the replications taken and every metric's width."""
    target = outcome.target
    content = {
        "target": {"relative": target.relative, "absolute": target.absolute,
                   "max_replications": target.max_replications},
        "replications": outcome.replications,
        "met": outcome.met,
        "batches": outcome.batches,
        "metrics": {w.metric: {"mean": w.mean, "half_width": w.half_width, "allowed": w.allowed,
                               "met": w.met}
                    for w in outcome.widths},
    }
    return json.dumps(content, indent=2) + "\n"


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
    #: How precision mode ended (None without `precision`).
    precision: PrecisionOutcome | None = None


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
    precision: PrecisionTarget | None = None,
) -> RunOutcome:
    """Run a scenario and write `summary.json` and its tables into `out` as one result set; with `events`
    (a format of `sim.ingest.FORMATS`) also every token event as that vendor's log.

    The folder is checked and locked before the run starts (`OutputError`, `OutputBusy`); files are
    swapped in only when everything is written, so an error or Ctrl-C leaves the folder as it was. With
    `precision`, replications are added until the target is met (`run_precise`) and `precision.json`
    records the replications it took and every headline metric's half-width.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown table format {fmt!r} (use {' or '.join(FORMATS)})")
    if events is not None and events not in EVENT_FORMATS:
        raise ValueError(f"unknown event log format {events!r} (use one of {', '.join(EVENT_FORMATS)})")
    started = time.perf_counter()
    outcome: PrecisionOutcome | None = None
    with ResultSet.open(out, "run", force=force) as results:
        spool_dir = results.scratch("spool")
        if precision is not None:
            result, outcome = run_precise(scenario, precision, workers=workers, scheduler=scheduler,
                                          worker_timeout=worker_timeout, progress=progress,
                                          spool_dir=spool_dir, events=events is not None,
                                          allow_large=allow_large)
            write_text_atomic(results.path("precision.json"), precision_json(outcome))
        else:
            result = run(scenario, workers=workers, scheduler=scheduler, worker_timeout=worker_timeout,
                         progress=progress, spool_dir=spool_dir, events=events is not None,
                         allow_large=allow_large)
        with result:
            result.write(results, fmt)
            if events is not None:
                export_run_events(result, results.staging, events)
            summary = result.summary
        results.commit()
    return RunOutcome(Path(out), summary, time.perf_counter() - started, outcome)
