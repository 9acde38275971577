"""Shard executors for `sim.run.runner.run_scenario`: a reusable local process pool, and a Dask cluster.

An executor is a function `(tasks, workers) -> iterator of (task, recorder)` (`sim.run.shards.Executor`)
that runs `sim.run.shards.run_shard` on every task and yields results in any order; the runner merges them
deterministically, so every executor gives identical results for the same seed.

- `local_executor(workers)`: one process pool kept open across many runs (a sweep's cells), so workers
  start once; with one worker, shards run in this process.
- `dask_executor(client)`: `client.map(run_shard, tasks)` on a `dask.distributed` cluster, results
  collected with `as_completed`. Workers return a shard's aggregates and tables (a `ShardResult`), never
  simulator objects, and each result is released as soon as it is merged.
- `connect(address)`: a `distributed.Client` for `tokensim sweep --scheduler tcp://HOST:PORT`.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import as_completed as futures_completed
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sim.core.stop import check_stop
from sim.run.shards import Executor, ShardResult, ShardTask, default_workers, run_shard

if TYPE_CHECKING:
    from distributed import Client

#: Seconds to wait for a Dask scheduler to answer.
CONNECT_TIMEOUT = 10
#: Seconds a Dask cluster may have no worker before a run stops (`--worker-timeout`).
WORKER_TIMEOUT = 60.0
#: Seconds between two looks at the cluster while no shard finishes.
WATCH_EVERY = 1.0
#: prctl(2) option: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1
_SCHEDULER_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx)://[^\s/:]+(:\d{1,5})?/?$")


@contextmanager
def local_executor(workers: int) -> Iterator[Executor]:
    """A local executor whose process pool (of `workers` processes) lives as long as the context."""
    if workers <= 1:
        def in_process(tasks: list[ShardTask], _workers: int) -> Iterator[tuple[ShardTask, ShardResult]]:
            for task in tasks:
                check_stop()
                yield task, run_shard(task)

        yield in_process
        return
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_setup)

    def pooled(tasks: list[ShardTask], _workers: int) -> Iterator[tuple[ShardTask, ShardResult]]:
        futures = {pool.submit(run_shard, task): task for task in tasks}
        try:
            for future in futures_completed(futures):
                check_stop()
                yield futures.pop(future), future.result()
        finally:
            for future in futures:
                future.cancel()

    try:
        yield pooled
    except BaseException:
        _stop_now(pool)  # Ctrl-C, SIGTERM or a failure: do not wait for the running shards
        raise
    pool.shutdown(wait=True)


def _worker_setup() -> None:
    # Ctrl-C reaches every process of the terminal's group; the main process alone decides what to do,
    # so a worker never prints a KeyboardInterrupt traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A forked worker inherits the command line's SIGTERM handler; being ended is all a worker needs.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _end_with_parent()


def _end_with_parent() -> None:
    """Ask Linux to end this worker when the process that started it dies (even by SIGKILL): a killed run
    leaves no worker behind, still holding the terminal's or a pipe's output open."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return
    if os.getppid() == 1:  # the parent died before the request took effect
        os._exit(1)


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """Cancel the queued shards and end the worker processes at once (no orphan left behind)."""
    processes = list(getattr(pool, "_processes", {}).values())  # the pool offers no public way to kill
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()


def dask_executor(client: Client, worker_timeout: float = WORKER_TIMEOUT) -> Executor:
    """An executor that runs shards on the Dask cluster behind `client`."""
    from distributed import as_completed

    def run(tasks: list[ShardTask], _workers: int) -> Iterator[tuple[ShardTask, ShardResult]]:
        futures = client.map(run_shard, tasks, pure=False)
        by_key = {future.key: task for future, task in zip(futures, tasks, strict=True)}
        completed = as_completed(futures, loop=client.loop)
        del futures  # only `completed` holds them now: each result is released once merged
        watch = _WorkerWatch(client, worker_timeout)
        try:
            while not completed.is_empty():
                batch = completed.next_batch(block=False) or _wait(completed, watch)
                for future in batch:
                    check_stop()
                    if future.status != "finished":  # cancelled (the scheduler went away) or failed
                        error = future.exception() if future.status == "error" else None
                        reason = error or "the cluster lost it"
                        raise ShardFailure(f"a shard ended as {future.status}: {reason}")
                    result = future.result()
                    if not isinstance(result, ShardResult):
                        raise ShardFailure(f"a worker returned {type(result).__name__}, not a shard's result")
                    yield by_key.pop(future.key), result
                    watch.progressed()
        finally:
            completed.clear()  # interrupted: no reference is left, so the cluster drops the shards

    return run


class _WorkerWatch:
    """Notices a cluster that has no worker left (nothing can finish): ShardFailure after `timeout` s."""

    def __init__(self, client: Client, timeout: float):
        self.client = client
        self.timeout = timeout
        self.since: float | None = None

    def progressed(self) -> None:
        self.since = None

    def check(self) -> None:
        try:
            workers = len(self.client.nthreads())  # asks the scheduler itself, not a cached answer
        except Exception as exc:
            raise ShardFailure(f"the Dask scheduler does not answer: {type(exc).__name__}: {exc}") from exc
        if workers:
            self.since = None
            return
        now = time.monotonic()
        self.since = self.since if self.since is not None else now
        if now - self.since > self.timeout:
            raise ShardFailure(f"the Dask cluster has had no worker for {self.timeout:g} s "
                               "(--worker-timeout): nothing can run")


def _wait(completed: Any, watch: _WorkerWatch) -> list[Any]:
    """Wait for the next finished shard, checking the cluster every second while none comes."""
    while True:
        watch.check()
        batch = completed.next_batch(block=False)
        if batch:
            return list(batch)
        if completed.is_empty():
            return []
        time.sleep(WATCH_EVERY)


def cluster_threads(client: Client) -> int:
    """How many tasks the cluster runs at once (its workers' threads), at least 1."""
    return max(1, sum(client.nthreads().values()))


@contextmanager
def connect(address: str, timeout: float | None = None) -> Iterator[Client]:
    """A client of the Dask scheduler at `address`; OSError (with the address) when it cannot connect.

    `timeout` defaults to CONNECT_TIMEOUT seconds.
    """
    from distributed import Client

    if not _SCHEDULER_ADDRESS.match(address):
        raise SchedulerError(
            f"--scheduler {address!r} is not a scheduler address; write tcp://HOST:PORT, "
            "e.g. tcp://127.0.0.1:8786"
        )
    try:
        client = Client(address, timeout=timeout or CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SchedulerError(f"cannot connect to the Dask scheduler at {address}: {exc}") from None
    try:
        yield client
    finally:
        client.close()


class ShardFailure(RuntimeError):
    """The executor could not run a shard (a worker process died, the cluster went away, ...)."""


class SchedulerError(OSError):
    """A Dask scheduler address that is malformed or does not answer (bad input: exit 2)."""


#: The name the runner uses for a scheduler that does not answer.
SchedulerUnreachable = SchedulerError


#: A worker that fails to write its rows with these reports a problem of the output folder (exit 4).
_DISK_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EFBIG})


def guarded(executor: Executor, on_shard: Callable[[ShardTask], None] | None = None,
            where: str = "") -> Executor:
    """The executor with its failures turned into ShardFailure, calling `on_shard` as each shard ends."""

    def run(tasks: list[ShardTask], workers: int) -> Iterator[tuple[ShardTask, ShardResult]]:
        try:
            for task, result in executor(tasks, workers):
                if on_shard is not None:
                    on_shard(task)
                yield task, result
        except (KeyboardInterrupt, GeneratorExit):
            raise
        except OSError as exc:
            if exc.errno in _DISK_ERRORS:  # a worker writing its rows: the output's problem, not the run's
                raise
            prefix = f"{where}: " if where else ""
            raise ShardFailure(f"{prefix}{type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            prefix = f"{where}: " if where else ""
            raise ShardFailure(f"{prefix}{type(exc).__name__}: {exc}") from exc

    return run


@contextmanager
def open_executor(
    scheduler: str | None, workers: int | None, worker_timeout: float = WORKER_TIMEOUT
) -> Iterator[tuple[Executor, int]]:
    """The executor (local processes, or the Dask cluster at `scheduler`) and the worker count for shards.

    Raises SchedulerError when the scheduler cannot be reached.
    """
    if scheduler is None:
        count = workers or default_workers()
        with local_executor(count) as executor:
            yield executor, count
        return
    try:
        with connect(scheduler) as client:
            yield dask_executor(client, worker_timeout), workers or cluster_threads(client)
    except OSError as exc:
        if isinstance(exc, SchedulerError):
            raise
        raise SchedulerError(str(exc)) from None
