"""Evaluations of scenario variants, saved the moment they finish so that a killed `optimize` or `explore`
resumes where it stopped.

An evaluation is one variant (a candidate at a design point) run for a range of replication numbers; its
per-replication metrics are saved as `evaluations/<key>.parquet`, then `evaluations/<key>.json` (written
last: it marks the evaluation done). The key is a hash of the variant's fully resolved scenario, the
replication range and the versions of tokensim and numpy, so a saved evaluation is reused only for exactly
the same work: a changed scenario, option or library simply makes new keys. Replication r always uses the
random numbers of replication r (sim.model.streams), so an evaluation of replications 5..9 continues one of
0..4 (common random numbers across candidates and across stages).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from sim import __version__
from sim.analysis.summary import library_versions
from sim.core.output import write_table, write_text_atomic
from sim.core.resultset import ResultSet
from sim.experiments.estimate import WorkEstimate, check_limits, estimate
from sim.experiments.progress import Progress
from sim.run.executors import WORKER_TIMEOUT, guarded, open_executor
from sim.run.runner import run_scenario
from sim.run.shards import Executor
from sim.scenario.model import Scenario

FOLDER = "evaluations"
MARK = "tokensim-evaluation"


def evaluation_key(scenario: Scenario, numbers: range) -> str:
    """The key of running `scenario` for these replication numbers (see the module docstring)."""
    content = {
        "scenario": scenario.to_config(),
        "replications": [numbers.start, numbers.stop],
        "tool": __version__,
        "numpy": library_versions()["numpy"],
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


@dataclass
class Evaluator:
    """Runs variants for replication ranges on one executor, reusing and saving evaluations in `out`."""

    out: Path
    executor: Executor
    workers: int
    progress: Progress
    results: ResultSet
    used: list[str] = field(default_factory=list)
    ran: int = 0
    reused: int = 0
    user_years: float = 0.0
    runs: int = 0
    seconds: float = 0.0

    @property
    def folder(self) -> Path:
        """Where evaluations are saved."""
        return self.out / FOLDER

    def evaluate(self, scenario: Scenario, numbers: range, meta: dict[str, Any], label: str) -> pd.DataFrame:
        """Per-replication metrics of `scenario` for these replication numbers (saved, or run now)."""
        key = evaluation_key(scenario, numbers)
        frame = self._load(key)
        years = sum(p.users for p in scenario.population) * scenario.horizon / (365 * 86400.0) * len(numbers)
        self.user_years += years
        self.runs += len(numbers)
        if frame is None:
            started = time.perf_counter()
            users = sum(p.users for p in scenario.population) * len(numbers)
            self.progress.started(label, users, "users")

            def advanced(done: int, total: int) -> None:
                self.progress.advanced(label, done, total)

            spool = self.results.scratch(f"spool-{key}")
            with run_scenario(scenario, workers=self.workers, progress=advanced, executor=self.executor,
                              replications=numbers, spool_dir=spool / "rows") as result:
                frame = result.replication_metrics
            shutil.rmtree(spool, ignore_errors=True)
            self._save(key, frame, {**meta, "replications": [numbers.start, numbers.stop]})
            self.ran += 1
            self.seconds += time.perf_counter() - started
            self.progress.finished(label, time.perf_counter() - started)
        else:
            self.reused += 1
        if key not in self.used:
            self.used.append(key)
        return frame

    def _load(self, key: str) -> pd.DataFrame | None:
        marker = self.folder / f"{key}.json"
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
            if data.get("tool") != MARK:
                return None
            return pd.read_parquet(self.folder / f"{key}.parquet")
        except (OSError, ValueError):
            return None

    def _save(self, key: str, frame: pd.DataFrame, meta: dict[str, Any]) -> None:
        write_table(frame, self.folder / f"{key}.parquet", "parquet")
        write_text_atomic(self.folder / f"{key}.json",
                          json.dumps({"tool": MARK, "key": key, **meta}, indent=1, default=str) + "\n")

    def files(self) -> list[str]:
        """The saved evaluations this work used, as paths relative to `out` (listed in the manifest)."""
        return [f"{FOLDER}/{key}.{ext}" for key in self.used for ext in ("parquet", "json")]

    def remove_unused(self) -> None:
        """Delete saved evaluations this work did not use (only files tokensim marked as its own)."""
        remove_evaluations(self.out, keep=set(self.used))


def remove_evaluations(out: Path, keep: set[str] | None = None) -> None:
    """Delete the evaluations tokensim saved under `out/evaluations` (except the keys in `keep`)."""
    folder = Path(out) / FOLDER
    if not folder.is_dir() or folder.is_symlink():
        return
    for marker in folder.glob("*.json"):
        key = marker.stem
        if keep is not None and key in keep:
            continue
        try:
            ours = json.loads(marker.read_text(encoding="utf-8")).get("tool") == MARK
        except (OSError, ValueError):
            ours = False
        if ours:
            (folder / f"{key}.parquet").unlink(missing_ok=True)
            marker.unlink(missing_ok=True)
    for leftover in folder.glob(".*.tmp"):
        leftover.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rmdir()


@contextmanager
def evaluator(out: Path, results: ResultSet, workers: int | None, scheduler: str | None,
              progress: Progress, worker_timeout: float = WORKER_TIMEOUT) -> Iterator[Evaluator]:
    """An Evaluator on local processes (or the Dask cluster at `scheduler`) for the duration of the block."""
    with open_executor(scheduler, workers, worker_timeout) as (executor, count):
        yield Evaluator(Path(out), guarded(executor), count, progress, results)


def check_work(variants: Sequence[Scenario], runs: float, largest: int, cores: int, progress: Progress,
               allow_large: bool, source: str) -> WorkEstimate:
    """Estimate the work of `runs` replications spread over these variants (at most `largest` replications
    in one evaluation), refuse it beyond the limits of sim.experiments.estimate unless `allow_large`, and
    say what it will cost when that is more than a minute."""
    one = [estimate(v.model_copy(update={"replications": 1}), cores=cores) for v in variants]
    each = max(one, key=lambda w: w.cpu_seconds)
    work = replace(each, replications=largest, user_days=each.user_days * runs,
                   requests=each.requests * runs, memory_bytes=max(w.memory_bytes for w in one) * largest)
    check_limits(work, source=source, allow_large=allow_large)
    if work.seconds > 60:
        progress.note(f"estimated at most: {work.describe()}")
    return work
