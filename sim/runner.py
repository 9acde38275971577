"""Run a scenario: replications x personas x shards of users, on local worker processes.

Shards are cut from each persona's users and carry everything a worker needs (policy, persona, seed,
replication, a range of users). A worker returns a Recorder (plain rows and counts, no simulator
objects). Results are merged and sorted by (replication, persona, user, chain), so they are identical
whatever the number of workers or shards.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.behaviour import simulate_users
from sim.metrics import Window, hourly_timeseries, replication_metrics
from sim.policy import Policy
from sim.recording import CHAIN_COLUMNS, REAUTH_COLUMNS, THEFT_COLUMNS, Recorder
from sim.scenario import Persona, Scenario
from sim.storage import StorageModel

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

    @property
    def users(self) -> int:
        """How many users the shard simulates."""
        return self.stop - self.start


def run_shard(task: ShardTask) -> Recorder:
    """Simulate one shard (a top-level function, so worker processes can run it)."""
    recorder = Recorder(horizon=task.horizon)
    simulate_users(
        task.policy,
        task.persona,
        task.horizon,
        task.seed,
        task.replication,
        range(task.start, task.stop),
        recorder,
    )
    return recorder.finish()


def plan_shards(scenario: Scenario, workers: int) -> list[ShardTask]:
    """Cut the run into shards: every replication and persona, users split into even chunks."""
    tasks = []
    for replication in range(scenario.replications):
        for persona in scenario.population:
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
                    )
                )
    return tasks


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


#: Runs shards and yields (task, recorder) pairs in any order (see sim.executors: local processes, Dask).
Executor = Callable[[list[ShardTask], int], Iterator[tuple[ShardTask, Recorder]]]


@dataclass
class RunResult:
    """Everything a run produced: the tables, and one row of metrics per replication and persona."""

    scenario: Scenario
    chains: pd.DataFrame
    reauths: pd.DataFrame
    timeseries: pd.DataFrame
    #: One row per (replication, persona); persona "*" is the whole population.
    replication_metrics: pd.DataFrame
    #: Token-endpoint requests (logins and refreshes) and sessions simulated, all replications.
    token_requests: int
    sessions: int
    #: One row per theft (THEFT_COLUMNS; empty without threats).
    thefts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(THEFT_COLUMNS)))


def run_scenario(
    scenario: Scenario,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    executor: Executor | None = None,
) -> RunResult:
    """Run every replication of a scenario and compute its tables and metrics.

    `progress(done_users, total_users)` is called as shards finish. `executor` runs the shards
    (default: local processes, `sim.executors.local_executor`); results do not depend on it.
    """
    workers = workers or default_workers()
    tasks = plan_shards(scenario, workers)
    total = sum(task.users for task in tasks)
    merged = _Merged(scenario.horizon)
    done = 0
    with contextlib.ExitStack() as stack:
        if executor is None:
            from sim.executors import local_executor  # sim.executors builds on this module

            executor = stack.enter_context(local_executor(min(workers, len(tasks))))
        for task, recorder in executor(tasks, workers):
            merged.add(recorder)
            done += task.users
            if progress is not None:
                progress(done, total)
    personas = [p.name for p in scenario.population]
    chains = _table(merged.chains, CHAIN_COLUMNS, personas, ["replication", "persona", "user", "chain"])
    reauth_order = ["replication", "persona", "user", "at_s", "device"]
    reauths = _table(merged.reauths, REAUTH_COLUMNS, personas, reauth_order)
    theft_order = ["replication", "persona", "user", "stolen_at_s", "device"]
    thefts = _table(merged.thefts, THEFT_COLUMNS, personas, theft_order)
    storage = StorageModel.of(scenario)
    window = Window(warmup=scenario.warmup, horizon=scenario.horizon)
    per_replication = replication_metrics(
        chains,
        reauths,
        merged.minute_requests,
        merged.hourly_counts,
        merged.rejected_logins,
        merged.users,
        window,
        range(scenario.replications),
        personas,
        thefts=thefts,
        revocation_lags=merged.revocation_lags,
        minute_rotations=merged.minute_rotations,
        storage=storage,
    )
    timeseries = hourly_timeseries(
        chains, merged.hourly_counts, scenario.horizon, merged.minute_rotations, storage
    )
    return RunResult(
        scenario=scenario,
        chains=chains,
        reauths=reauths,
        timeseries=timeseries,
        replication_metrics=per_replication,
        token_requests=int(sum(a[:2].sum() for a in merged.hourly_counts.values())),
        sessions=int(sum(a[3].sum() for a in merged.hourly_counts.values())),
        thefts=thefts,
    )


class _Merged:
    """Shard results added together (rows concatenated, counts summed)."""

    def __init__(self, horizon: float):
        self.chains: dict[str, list] = {c: [] for c in CHAIN_COLUMNS}
        self.reauths: dict[str, list] = {c: [] for c in REAUTH_COLUMNS}
        self.thefts: dict[str, list] = {c: [] for c in THEFT_COLUMNS}
        self.minute_rotations: dict[tuple[int, str], np.ndarray] = {}
        self.revocation_lags: dict[tuple[int, str], list[tuple[float, float]]] = {}
        self.minute_requests: dict[tuple[int, str], np.ndarray] = {}
        self.hourly_counts: dict[tuple[int, str], np.ndarray] = {}
        self.rejected_logins: dict[tuple[int, str], list[float]] = {}
        self.users: dict[tuple[int, str], int] = {}
        self.devices: dict[tuple[int, str], int] = {}

    def add(self, rec: Recorder) -> None:
        for column, values in rec.chains.items():
            self.chains[column].extend(values)
        for column, values in rec.reauths.items():
            self.reauths[column].extend(values)
        for column, values in rec.thefts.items():
            self.thefts[column].extend(values)
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


def _table(
    columns: dict[str, list], names: tuple[str, ...], personas: list[str], order: list[str]
) -> pd.DataFrame:
    frame = pd.DataFrame({name: columns[name] for name in names})
    if "ended_at_s" in frame:
        frame["ended_at_s"] = pd.to_numeric(frame["ended_at_s"], errors="coerce").astype("float64")
        frame["end_reason"] = frame["end_reason"].astype("object")
    for name in ("first_use_at_s", "detected_at_s"):  # thefts: null when it never happened
        if name in frame:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    if frame.empty:
        return frame
    frame["persona"] = pd.Categorical(frame["persona"], categories=personas, ordered=True)
    frame = frame.sort_values(order, kind="stable").reset_index(drop=True)
    frame["persona"] = frame["persona"].astype(str)
    return frame
