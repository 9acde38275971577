"""Shard executors for `sim.run.runner.run_scenario`: a reusable local process pool, and a Dask cluster.

An executor is a function `(tasks, workers) -> iterator of (task, recorder)` (`sim.run.shards.Executor`)
that runs `sim.run.shards.run_shard` on every task and yields results in any order; the runner merges them
deterministically, so every executor gives identical results for the same seed.

- `local_executor(workers)`: one process pool kept open across many runs (a sweep's cells), so workers
  start once; with one worker, shards run in this process.
- `dask_executor(client)`: `client.map(run_shard, tasks)` on a `dask.distributed` cluster, results
  collected with `as_completed`. Workers return a shard's partial results (a `ShardResult`), never
  simulator objects, and each result is released as soon as it is merged.
- `connect(address)`: a `distributed.Client` for `--scheduler tcp://HOST:PORT`.
- `open_executor(scheduler, workers)`: either of the two, and the worker count that sizes the shards,
  for `tokensim run`, `sweep`, `check` and the API.

A shard's result is its partial figures and, only when the worker could not write its rows into the
run's spool (a cluster whose workers do not share the spool's folder), its rows (sim/run/shards.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import as_completed as futures_completed
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sim.run.shards import Executor, ShardResult, ShardTask, default_workers, run_shard

if TYPE_CHECKING:
    from distributed import Client

#: Seconds to wait for a Dask scheduler to answer.
CONNECT_TIMEOUT = 10


class SchedulerUnreachable(OSError):
    """The Dask scheduler at the given address did not answer (the message names the address)."""


@contextmanager
def local_executor(workers: int) -> Iterator[Executor]:
    """A local executor whose process pool (of `workers` processes) lives as long as the context."""
    if workers <= 1:

        def in_process(tasks: list[ShardTask], _workers: int) -> Iterator[tuple[ShardTask, ShardResult]]:
            for task in tasks:
                yield task, run_shard(task)

        yield in_process
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:

        def pooled(tasks: list[ShardTask], _workers: int) -> Iterator[tuple[ShardTask, ShardResult]]:
            futures = {pool.submit(run_shard, task): task for task in tasks}
            try:
                for future in futures_completed(futures):
                    yield futures.pop(future), future.result()
            finally:
                for future in futures:
                    future.cancel()

        yield pooled


def dask_executor(client: Client) -> Executor:
    """An executor that runs shards on the Dask cluster behind `client`."""
    from distributed import as_completed

    def run(tasks: list[ShardTask], _workers: int) -> Iterator[tuple[ShardTask, ShardResult]]:
        futures = client.map(run_shard, tasks, pure=False)
        by_key = {future.key: task for future, task in zip(futures, tasks, strict=True)}
        completed = as_completed(futures, loop=client.loop, with_results=True)
        del futures  # only `completed` holds them now: each result is released once merged
        try:
            for future, result in completed:
                yield by_key.pop(future.key), result
        finally:
            completed.clear()  # interrupted: no reference is left, so the cluster drops the shards

    return run


def cluster_threads(client: Client) -> int:
    """How many tasks the cluster runs at once (its workers' threads), at least 1."""
    return max(1, sum(client.nthreads().values()))


@contextmanager
def connect(address: str, timeout: float | None = None) -> Iterator[Client]:
    """A client of the Dask scheduler at `address`; SchedulerUnreachable (an OSError naming the address)
    when it cannot connect.

    `timeout` defaults to CONNECT_TIMEOUT seconds.
    """
    from distributed import Client

    try:
        client = Client(address, timeout=timeout or CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise SchedulerUnreachable(f"cannot connect to the Dask scheduler at {address}: {exc}") from None
    try:
        yield client
    finally:
        client.close()


@contextmanager
def open_executor(scheduler: str | None, workers: int | None) -> Iterator[tuple[Executor, int]]:
    """The executor and the worker count that sizes the shards, for as long as the context lasts.

    Without `scheduler`: a local pool of `workers` processes (default: one per core). With it (an
    address such as tcp://HOST:PORT): the Dask cluster behind that scheduler, sized by `workers` or else
    the cluster's threads. SchedulerUnreachable (an OSError naming the address) when the scheduler does
    not answer.
    """
    if scheduler is None:
        count = workers or default_workers()
        with local_executor(count) as executor:
            yield executor, count
        return
    with connect(scheduler) as client:
        yield dask_executor(client), workers or cluster_threads(client)
