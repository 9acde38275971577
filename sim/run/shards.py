"""Shards: the units of work of a run, a range of one persona's users in one replication.

A shard carries everything a worker needs (policy, persona, window, seed, replication, users, storage
model, where to write its rows). `run_shard` simulates it, computes its mergeable partial results
(`sim.analysis.partials.GroupPartial`: counts, exact sums, per-minute histograms) and writes its rows
as Parquet parts into the run's spool when it can reach it (`sim.run.spool`); it returns a
`ShardResult`, the partial and (only when it could not write them) the rows. No simulator object leaves
a worker, so shards run the same on local processes and on a Dask cluster. An `Executor` runs shards
and yields their results in any order.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from sim.analysis.counts import compact
from sim.analysis.partials import GroupPartial, ShardCounts, shard_partial
from sim.analysis.storage import StorageModel
from sim.analysis.window import Window
from sim.model.behaviour import simulate_users
from sim.model.recording import Recorder
from sim.model.replay import RecordedUser, recorded_users
from sim.policy.model import Policy
from sim.run.spool import PartKey, SpoolTarget, shard_tables, write_shard
from sim.scenario.model import Persona, Scenario

#: Most users in one shard (bounds a worker's memory and gives the progress bar a pace).
MAX_SHARD_USERS = 2000


@dataclass(frozen=True)
class ShardTask:
    """One unit of work: a range of one persona's users in one replication."""

    policy: Policy
    persona: Persona
    horizon: float
    seed: int
    replication: int
    start: int
    stop: int
    #: Start of the measured window (the partial results count from it).
    warmup: float = 0.0
    #: The token store's model (None: no storage figures).
    storage: StorageModel | None = None
    #: The persona's place in the population (orders the parts).
    persona_index: int = 0
    #: The run's spool, where the worker writes the shard's rows if it can reach it.
    spool: SpoolTarget | None = None
    #: Record every token event (the event log, sim/model/recording.py).
    events: bool = False
    #: A persona replaying a trace: its users' recorded sessions (sim/model/replay.py), else None.
    recorded: tuple[RecordedUser, ...] | None = field(default=None, compare=False, repr=False)

    @property
    def users(self) -> int:
        """How many users the shard simulates."""
        return self.stop - self.start

    @property
    def part(self) -> PartKey:
        """The name of the shard's parts."""
        return PartKey(self.replication, self.persona_index, self.start)


@dataclass
class ShardResult:
    """What a worker returns: the shard's partial results, and its rows unless it wrote them itself."""

    partial: GroupPartial
    #: The shard's part tables (sim.run.spool.shard_tables), or None when the worker wrote them.
    tables: dict[str, pa.Table] | None = None


def simulate_shard(task: ShardTask) -> Recorder:
    """Simulate one shard's users; their recorded rows and counts."""
    recorder = Recorder(horizon=task.horizon, event_log=task.events)
    simulate_users(
        task.policy,
        task.persona,
        task.horizon,
        task.seed,
        task.replication,
        range(task.start, task.stop),
        recorder,
        recorded=task.recorded,
    )
    return recorder.finish()


def run_shard(task: ShardTask) -> ShardResult:
    """Simulate one shard, compute its partial results and write (or return) its rows.

    A top-level function, so worker processes and Dask workers can run it.
    """
    recorder = simulate_shard(task)
    partial = shard_partial(
        recorder.chains,
        recorder.reauths,
        recorder.thefts,
        _counts(recorder, (task.replication, task.persona.name)),
        Window(task.warmup, task.horizon),
        task.storage,
    )
    tables = shard_tables(recorder)
    del recorder
    if task.spool is not None and task.spool.reachable():
        write_shard(Path(task.spool.directory), task.part, tables)
        return ShardResult(_compact(partial))
    return ShardResult(_compact(partial), tables)


def _counts(recorder: Recorder, key: tuple[int, str]) -> ShardCounts:
    """The recorder's counts of one group (a shard has one)."""
    return ShardCounts(
        users=recorder.users.get(key, 0),
        devices=recorder.devices.get(key, 0),
        minute_requests=recorder.minute_requests.get(key),
        hourly=recorder.hourly_counts.get(key),
        minute_rotations=recorder.minute_rotations.get(key),
        rejected_logins=recorder.rejected_logins.get(key, []),
        revocation_lags=recorder.revocation_lags.get(key, []),
    )


def _compact(partial: GroupPartial) -> GroupPartial:
    """The partial with its per-minute counts in the fewest bytes to send (sparse or int32)."""
    for name in ("minute_requests", "minute_rotations", "authorized", "ended", "removed",
                 "removed_rotations", "lifetime_bins"):  # fmt: skip
        setattr(partial, name, compact(getattr(partial, name)))
    return partial


def plan_shards(
    scenario: Scenario, workers: int, spool: SpoolTarget | None = None, events: bool = False,
    replications: range | None = None,
) -> list[ShardTask]:
    """Cut the run into shards: every replication and persona, users split into even chunks; `events`
    turns the event log on in every shard.

    `replications`: which replication numbers to run (default `range(scenario.replications)`); a later
    range continues the same random streams (replication r is keyed by r alone, sim.model.streams).
    """
    tasks = []
    storage = StorageModel.of(scenario)
    for replication in replications if replications is not None else range(scenario.replications):
        for index, persona in enumerate(scenario.population):
            size = max(1, min(MAX_SHARD_USERS, math.ceil(persona.users / max(1, workers * 2))))
            for start in range(0, persona.users, size):
                tasks.append(
                    ShardTask(
                        policy=scenario.policy,
                        persona=persona,
                        horizon=scenario.horizon,
                        seed=scenario.seed,
                        replication=replication,
                        start=start,
                        stop=min(persona.users, start + size),
                        warmup=scenario.warmup,
                        storage=storage,
                        persona_index=index,
                        spool=spool,
                        events=events,
                        recorded=recorded_users(
                            persona, scenario.seed, replication, start, min(persona.users, start + size)
                        ),
                    )
                )
    return tasks


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


#: Runs shards and yields (task, result) pairs in any order (sim.run.executors: local processes, Dask).
Executor = Callable[[list[ShardTask], int], Iterator[tuple[ShardTask, ShardResult]]]
