"""Run a scenario: replications x personas x shards of users (sim/run/shards.py) on an executor.

A worker returns a Recorder (plain rows and counts, no simulator objects) for each shard. The main
process writes each shard's rows to disk at once (sim/run/spool.py: one sorted part per
shard and table) and keeps only the counts, so its memory does not grow with the tables. Tables read
back are sorted by (replication, persona, user, chain), and metrics are computed one replication at a
time from them, so everything is identical whatever the number of workers or shards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import TracebackType

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.analysis.metrics import (
    METRIC_COLUMNS,
    PER_USER_COLUMNS,
    PerUserFigures,
    Window,
    hourly_timeseries,
    replication_metrics,
)
from sim.analysis.storage import StorageModel
from sim.analysis.summary import RunSummary, build_summary
from sim.core.output import write_table, write_text_atomic
from sim.core.resultset import ResultSet
from sim.model.recording import Recorder
from sim.run.shards import Executor, ShardTask, default_workers, plan_shards
from sim.run.spool import EVENTS, TABLES, TableSpool
from sim.scenario.model import Scenario


@dataclass(eq=False)
class RunResult:
    """Everything a run produced: one row of metrics per replication and persona, the time series, and
    the row tables (chains, reauths, thefts), kept on disk and loaded on first access.

    The row tables live in the run's spool (sim/spool.py). `result.chains`, `result.reauths` and
    `result.thefts` read a table whole the first time they are used and keep it; `write_tables` streams
    them to files without loading them. A spool that `run_scenario` made in a temporary directory is
    removed by `close()` (or at the end of `with result:`) or when the result is garbage-collected; a
    table not loaded by then can no longer be read.
    """

    scenario: Scenario
    timeseries: pd.DataFrame
    #: One row per (replication, persona); persona "*" is the whole population.
    replication_metrics: pd.DataFrame
    #: Token-endpoint requests (logins and refreshes) and sessions simulated, all replications.
    token_requests: int
    sessions: int
    #: The row tables on disk.
    spool: TableSpool = field(repr=False)

    @cached_property
    def chains(self) -> pd.DataFrame:
        """One row per chain (CHAIN_COLUMNS), loaded from the spool on first access."""
        return self.spool.read("chains")

    @cached_property
    def reauths(self) -> pd.DataFrame:
        """One row per forced re-authentication (REAUTH_COLUMNS), loaded on first access."""
        return self.spool.read("reauths")

    @cached_property
    def thefts(self) -> pd.DataFrame:
        """One row per theft (THEFT_COLUMNS; empty without threats), loaded on first access."""
        return self.spool.read("thefts")

    def event_batches(self) -> Iterator[pa.RecordBatch]:
        """The token-event log (EVENT_COLUMNS) in order, as record batches; none unless the run
        recorded it (`run_scenario(..., events=True)`)."""
        return self.spool.batches(EVENTS)

    def write_tables(self, out: Path, fmt: str = "parquet") -> list[Path]:
        """Write every table into `out` as NAME.FMT (parquet or csv), each atomically; return the paths.

        The row tables are streamed from the spool in chunks; the time series and the per-replication
        metrics (`replications.FMT`) are written whole.
        """
        out = Path(out)
        paths = []
        for name in TABLES:
            paths.append(out / f"{name}.{fmt}")
            self.spool.write(name, paths[-1], fmt)
        for name, frame in (("timeseries", self.timeseries), ("replications", self.replication_metrics)):
            paths.append(out / f"{name}.{fmt}")
            write_table(frame, paths[-1], fmt)
        return paths

    @cached_property
    def summary(self) -> RunSummary:
        """Every metric's mean and 95% interval, overall and per persona (the content of summary.json)."""
        return build_summary(self.scenario, self.replication_metrics)

    def write(self, results: ResultSet, fmt: str = "parquet") -> list[Path]:
        """Write summary.json and every table into a results folder being written (see ResultSet)."""
        paths = self.write_tables(results.staging, fmt)
        summary = results.path("summary.json")
        write_text_atomic(summary, self.summary.to_json())
        return [*paths, summary]

    def close(self) -> None:
        """Remove the run's temporary spool (tables already loaded stay usable)."""
        self.spool.close()

    def __enter__(self) -> RunResult:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def run_scenario(
    scenario: Scenario,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    executor: Executor | None = None,
    spool_dir: Path | None = None,
    replications: range | None = None,
    spool: TableSpool | None = None,
    events: bool = False,
) -> RunResult:
    """Run every replication of a scenario and compute its tables and metrics.

    `progress(done_users, total_users)` is called as shards finish. `executor` runs the shards
    (default: local processes, `sim.run.executors.local_executor`); results do not depend on it.
    `spool_dir` is where the row tables go, shard by shard (created if needed; it must not already
    hold a spool, and the caller removes it); by default a temporary directory that the result
    removes when closed or garbage-collected. `events` records every token event too (the event log,
    read with `RunResult.event_batches`; it changes nothing else).

    `replications` runs only these replication numbers (default `range(scenario.replications)`): a
    later range continues the same random streams, so replications can be added to a run (precision
    mode, a selection stage); `spool` is an existing spool to add the rows to (its owner closes it).
    """
    workers = workers or default_workers()
    numbers = replications if replications is not None else range(scenario.replications)
    tasks = plan_shards(scenario, workers, numbers, events=events)
    personas = [p.name for p in scenario.population]
    owned = spool is None
    if spool is None:
        spool = TableSpool.temporary(personas) if spool_dir is None else TableSpool(spool_dir, personas)
    try:
        merged = _run_shards(tasks, workers, scenario.horizon, spool, progress, executor)
        per_replication, timeseries = _metrics(scenario, merged, spool, numbers)
    except BaseException:
        if owned:
            spool.close()
        raise
    return RunResult(
        scenario=scenario,
        timeseries=timeseries,
        replication_metrics=per_replication,
        token_requests=int(sum(a[:2].sum() for a in merged.hourly_counts.values())),
        sessions=int(sum(a[3].sum() for a in merged.hourly_counts.values())),
        spool=spool,
    )


def _run_shards(
    tasks: list[ShardTask],
    workers: int,
    horizon: float,
    spool: TableSpool,
    progress: Callable[[int, int], None] | None,
    executor: Executor | None,
) -> _Merged:
    """Run the shards; each shard's rows go to the spool as it arrives, its counts into the result."""
    total = sum(task.users for task in tasks)
    merged = _Merged(horizon)
    done = 0
    with contextlib.ExitStack() as stack:
        if executor is None:
            from sim.run.executors import local_executor  # sim.run.executors builds on this module

            executor = stack.enter_context(local_executor(min(workers, len(tasks))))
        for task, recorder in executor(tasks, workers):
            spool.add(task, recorder)
            merged.add(recorder)
            done += task.users
            if progress is not None:
                progress(done, total)
    return merged


def _metrics(
    scenario: Scenario, merged: _Merged, spool: TableSpool, numbers: range
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-replication metrics and the hourly time series, with one replication's rows in memory at a time.

    Only the columns the metrics use are read. The rows come back in the same order as a whole sorted
    table's, so every float sum is the same as on the whole table.
    """
    personas = spool.personas
    storage = StorageModel.of(scenario)
    window = Window(warmup=scenario.warmup, horizon=scenario.horizon)
    metrics, series = [], []
    for replication in numbers:
        per_user = _per_user_figures(spool, replication, window)
        chains, reauths, thefts = (spool.read(name, METRIC_COLUMNS[name], replication) for name in TABLES)
        metrics.append(
            replication_metrics(
                chains,
                reauths,
                merged.minute_requests,
                merged.hourly_counts,
                merged.rejected_logins,
                merged.users,
                window,
                [replication],
                personas,
                thefts=thefts,
                revocation_lags=merged.revocation_lags,
                minute_rotations=merged.minute_rotations,
                storage=storage,
                per_user=per_user,
            )
        )
        counts = {key: c for key, c in merged.hourly_counts.items() if key[0] == replication}
        series.append(hourly_timeseries(chains, counts, scenario.horizon, merged.minute_rotations, storage))
    # a replication without hours gives an untyped empty frame: keep it only when all are empty
    timeseries = [frame for frame in series if len(frame)] or series[:1]
    return pd.concat(metrics, ignore_index=True), pd.concat(timeseries, ignore_index=True)


def _per_user_figures(
    spool: TableSpool, replication: int, window: Window
) -> dict[tuple[int, str], PerUserFigures]:
    """The figures that need each user's rows together, one shard at a time (a shard has whole users)."""
    parts: dict[tuple[int, str], list[PerUserFigures]] = {}
    for persona, rows in spool.shards(replication, PER_USER_COLUMNS):
        figures = PerUserFigures.of(rows["chains"], rows["reauths"], window)
        parts.setdefault((replication, persona), []).append(figures)
    return {key: PerUserFigures.combine(found, window) for key, found in parts.items()}


class _Merged:
    """Shard counts added together (the rows are in the spool, never here)."""

    def __init__(self, horizon: float):
        self.minute_rotations: dict[tuple[int, str], np.ndarray] = {}
        self.revocation_lags: dict[tuple[int, str], list[tuple[float, float]]] = {}
        self.minute_requests: dict[tuple[int, str], np.ndarray] = {}
        self.hourly_counts: dict[tuple[int, str], np.ndarray] = {}
        self.rejected_logins: dict[tuple[int, str], list[float]] = {}
        self.users: dict[tuple[int, str], int] = {}
        self.devices: dict[tuple[int, str], int] = {}

    def add(self, rec: Recorder) -> None:
        """Add one shard's counts, users, devices, rejected logins and revocation lags."""
        for key, lags in rec.revocation_lags.items():
            self.revocation_lags.setdefault(key, []).extend(lags)
        pairs = (
            (self.minute_requests, rec.minute_requests),
            (self.hourly_counts, rec.hourly_counts),
            (self.minute_rotations, rec.minute_rotations),
        )
        for store, source in pairs:
            for key, counts in source.items():
                if key in store:
                    store[key] += counts
                else:
                    store[key] = counts.copy()
        for key, times in rec.rejected_logins.items():
            self.rejected_logins.setdefault(key, []).extend(times)
        for key, n in rec.users.items():
            self.users[key] = self.users.get(key, 0) + n
        for key, n in rec.devices.items():
            self.devices[key] = self.devices.get(key, 0) + n

