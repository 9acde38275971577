"""Shards: the units of work of a run, a range of one persona's users in one replication.

A shard carries everything a worker needs (policy, persona, horizon, seed, replication, users) and
`run_shard` returns a `Recorder` (plain rows and counts, no simulator objects), so shards run the same on
local processes and on a Dask cluster. An `Executor` runs shards and yields their recorders in any order.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sim.model.behaviour import simulate_users
from sim.model.recording import Recorder
from sim.policy.model import Policy
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
    #: Record every token event (the event log, sim/model/recording.py).
    events: bool = False

    @property
    def users(self) -> int:
        """How many users the shard simulates."""
        return self.stop - self.start


def run_shard(task: ShardTask) -> Recorder:
    """Simulate one shard (a top-level function, so worker processes can run it)."""
    recorder = Recorder(horizon=task.horizon, event_log=task.events)
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


def plan_shards(scenario: Scenario, workers: int, replications: range | None = None,
                events: bool = False) -> list[ShardTask]:
    """Cut the run into shards: every replication and persona, users split into even chunks.

    `replications`: which replication numbers to run (default `range(scenario.replications)`); a later
    range continues the same random streams (replication r is keyed by r alone, sim.model.streams).
    `events` turns the event log on in every shard.
    """
    tasks = []
    for replication in replications if replications is not None else range(scenario.replications):
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
                        events=events,
                    )
                )
    return tasks


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


#: Runs shards and yields (task, recorder) pairs in any order (see sim.run.executors: local processes, Dask).
Executor = Callable[[list[ShardTask], int], Iterator[tuple[ShardTask, Recorder]]]
