"""Run a scenario: replications x personas x shards of users (sim/run/shards.py) on an executor.

A worker simulates a shard, writes its rows into the run's spool (sim/run/spool.py; or returns them when
it cannot reach the spool, and the main process writes them) and returns the shard's mergeable partial
results (sim/analysis/partials.py). The main process merges the partials of each (replication, persona)
as they arrive and finishes a replication's metrics as soon as its last shard is in, reading back only
the few rows that three exact figures need (sim/analysis/rescan.py), a bounded chunk at a time. So its
memory is O(personas x minutes of the horizon), not O(users), and every number is identical whatever
the number of workers or shards: partial counts and exact sums merge in any order, and the tables read
back are sorted by (replication, persona, user, chain).
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import TracebackType

import pandas as pd
import pyarrow as pa

from sim.analysis.metrics import Window, replication_metrics, replication_timeseries
from sim.analysis.partials import GroupPartial
from sim.analysis.storage import StorageModel
from sim.analysis.summary import RunSummary, build_summary
from sim.core.output import write_table, write_text_atomic
from sim.core.resultset import ResultSet
from sim.run.executors import local_executor
from sim.run.shards import Executor, ShardResult, ShardTask, default_workers, plan_shards
from sim.run.spool import EVENTS, TABLES, TableSpool, is_dataset, remove_dataset
from sim.scenario.model import Scenario

#: How a run's row tables are written: one file per table, or a partitioned Parquet dataset per table.
LAYOUTS = ("files", "dataset")


@dataclass(eq=False)
class RunResult:
    """Everything a run produced: one row of metrics per replication and persona, the time series, and
    the row tables (chains, reauths, thefts), kept on disk and loaded on first access.

    The row tables live in the run's spool (sim/run/spool.py). `result.chains`, `result.reauths` and
    `result.thefts` read a table whole the first time they are used and keep it; `write_tables` streams
    them to files (or moves their parts) without loading them. A spool that `run_scenario` made in a
    temporary directory is removed by `close()` (or at the end of `with result:`) or when the result is
    garbage-collected; a table not loaded by then can no longer be read.
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
    #: How `write_tables` writes the row tables by default (LAYOUTS).
    layout: str = "files"
    #: Wall seconds of the run: "shards" (waiting for and merging shard results) and "metrics"
    #: (finishing the figures of complete replications, re-reading rows where needed).
    timings: dict[str, float] = field(default_factory=dict)

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

    def write_tables(self, out: Path, fmt: str = "parquet", layout: str | None = None) -> list[Path]:
        """Write every table into `out`; return the paths.

        The row tables: with layout "files" (or CSV), one file NAME.FMT each, streamed from the spool,
        atomically; with "dataset" (Parquet only), a partitioned dataset NAME/replication=N/part-*.parquet
        each, the parts moved as the workers wrote them (the spool then no longer has them). A copy of
        the same table in the other layout that an earlier run wrote is removed. The time series and the
        per-replication metrics (`replications.FMT`) are written whole.
        """
        out = Path(out)
        layout = layout or self.layout
        if layout not in LAYOUTS:
            raise ValueError(f"unknown table layout {layout!r} (one of {', '.join(LAYOUTS)})")
        paths = []
        for name in TABLES:
            if layout == "dataset" and fmt == "parquet":
                paths.append(self.spool.publish(name, out))
                (out / f"{name}.parquet").unlink(missing_ok=True)  # an earlier run's single file
            else:
                paths.append(out / f"{name}.{fmt}")
                self.spool.write(name, paths[-1], fmt)
                if is_dataset(out / name):  # an earlier run's dataset of the same table
                    remove_dataset(out / name)
        for name, frame in (("timeseries", self.timeseries), ("replications", self.replication_metrics)):
            paths.append(out / f"{name}.{fmt}")
            write_table(frame, paths[-1], fmt)
        return paths

    def event_batches(self) -> Iterator[pa.RecordBatch]:
        """The token-event log (EVENT_COLUMNS) in order, as record batches; none unless the run
        recorded it (`run_scenario(..., events=True)`)."""
        return self.spool.batches(EVENTS)

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
    layout: str = "files",
    replications: range | None = None,
    spool: TableSpool | None = None,
    events: bool = False,
) -> RunResult:
    """Run every replication of a scenario and compute its tables and metrics.

    `progress(done_users, total_users)` is called as shards finish. `executor` runs the shards
    (default: local processes, `sim.run.executors.local_executor`); results do not depend on it.
    `spool_dir` is where the row tables go, shard by shard (created if needed; it must not already
    hold a spool, and the caller removes it); by default a temporary directory that the result
    removes when closed or garbage-collected. Workers that can reach it write their rows there
    themselves. `layout`: how `RunResult.write_tables` writes the row tables by default (LAYOUTS).
    `events` records every token event too (the event log, read with `RunResult.event_batches`; it
    changes nothing else).

    `replications` runs only these replication numbers (default `range(scenario.replications)`): a
    later range continues the same random streams, so replications can be added to a run (precision
    mode, a selection stage); `spool` is an existing spool to add the rows to (its owner closes it).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown table layout {layout!r} (one of {', '.join(LAYOUTS)})")
    workers = workers or default_workers()
    numbers = replications if replications is not None else range(scenario.replications)
    personas = [p.name for p in scenario.population]
    owned = spool is None
    if spool is None:
        spool = TableSpool.temporary(personas) if spool_dir is None else TableSpool(spool_dir, personas)
    try:
        started = time.perf_counter()
        tasks = plan_shards(scenario, workers, spool.target, events=events, replications=numbers)
        collector = _Collector(scenario, spool, tasks)
        _run_shards(tasks, workers, collector, progress, executor)
        per_replication, timeseries = collector.tables()
        total = time.perf_counter() - started
    except BaseException:
        if owned:
            spool.close()
        raise
    return RunResult(
        scenario=scenario,
        timeseries=timeseries,
        replication_metrics=per_replication,
        token_requests=collector.token_requests,
        sessions=collector.sessions,
        spool=spool,
        layout=layout,
        timings={"shards": total - collector.metrics_seconds, "metrics": collector.metrics_seconds},
    )


def _run_shards(
    tasks: list[ShardTask],
    workers: int,
    collector: _Collector,
    progress: Callable[[int, int], None] | None,
    executor: Executor | None,
) -> None:
    """Run the shards, handing each result to the collector as it arrives."""
    total = sum(task.users for task in tasks)
    done = 0
    with contextlib.ExitStack() as stack:
        if executor is None:
            executor = stack.enter_context(local_executor(min(workers, len(tasks))))
        for task, result in executor(tasks, workers):
            collector.add(task, result)
            done += task.users
            if progress is not None:
                progress(done, total)


class _Collector:
    """Merges shard results per (replication, persona) and finishes each replication when it is complete.

    Holds the merged partials of the replications still running (O(minutes of the horizon) each) and
    the finished replications' metric rows and time series; never rows of the tables.
    """

    def __init__(self, scenario: Scenario, spool: TableSpool, tasks: list[ShardTask]):
        self.scenario = scenario
        self.spool = spool
        self.window = Window(warmup=scenario.warmup, horizon=scenario.horizon)
        self.storage = StorageModel.of(scenario)
        self.personas = [p.name for p in scenario.population]
        self.pending = Counter(task.replication for task in tasks)
        self.partials: dict[int, dict[str, GroupPartial]] = {}
        self.metrics: dict[int, pd.DataFrame] = {}
        self.series: dict[int, pd.DataFrame] = {}
        self.token_requests = 0
        self.sessions = 0
        self.metrics_seconds = 0.0

    def add(self, task: ShardTask, result: ShardResult) -> None:
        """Take one shard's result: write its rows if the worker could not, merge its partial."""
        if result.tables is not None:
            self.spool.add(task.part, result.tables)
        partial = result.partial
        if partial.hourly is not None:
            self.token_requests += int(partial.hourly[:2].sum())
            self.sessions += int(partial.hourly[3].sum())
        group = self.partials.setdefault(task.replication, {})
        if task.persona.name in group:
            group[task.persona.name].merge(partial)
        else:
            group[task.persona.name] = GroupPartial().merge(partial)
        self.pending[task.replication] -= 1
        if self.pending[task.replication] == 0:
            self._finish(task.replication)

    def _finish(self, replication: int) -> None:
        """A replication's metrics and time series, from its merged partials and its rows on disk."""
        started = time.perf_counter()
        partials = self.partials.pop(replication)
        rows = replication_metrics(
            replication,
            partials,
            self.personas,
            self.window,
            self.storage,
            lambda personas: self.spool.row_source(replication, personas),
        )
        self.metrics[replication] = pd.DataFrame(rows)
        self.series[replication] = replication_timeseries(
            replication, partials, self.scenario.horizon, self.storage
        )
        self.metrics_seconds += time.perf_counter() - started

    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The per-replication metrics and the hourly time series of every replication, in order."""
        order = sorted(self.metrics)
        metrics = pd.concat([self.metrics[r] for r in order], ignore_index=True)
        series = [self.series[r] for r in order]
        # a replication without hours gives an untyped empty frame: keep it only when all are empty
        timeseries = [frame for frame in series if len(frame)] or series[:1]
        return metrics, pd.concat(timeseries, ignore_index=True)
