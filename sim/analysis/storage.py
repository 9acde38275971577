"""Rows the authorization server's token store holds over time, computed from the recorded tables.

No simulation state: the chains table and the per-minute rotation counts (sim/recording.py) are enough.
The rules (documented in docs/scenario.md, section `storage`):

- every chain holds one row (its current refresh token) from its authorization until the cleanup job
  removes it after the chain ended;
- `one_time`: each rotation consumes a token, which stays as a row for replay detection until
  `consumed_retention` after the rotation, and then until the cleanup removes it;
- `rotate_keep_old`: each rotation adds a row (the old tokens stay valid) that goes with its chain's;
- `reuse`: nothing more (the same token is returned);
- the cleanup job runs at every multiple of `cleanup_interval` from time zero and removes every row no
  longer needed; with `cleanup_interval: none` a row goes the moment it is not needed;
- a row needed at the horizon is still there.

Rotations are counted per minute, so a rotation's rows start at the start of its minute: the figures are
exact to the minute. Rows are additive, so the rows of several personas are those of their chains and
rotation counts put together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from sim.scenario import Scenario

#: The storage metrics (names, in METRICS of sim/metrics.py).
STORAGE_METRICS = (
    "stored_rows_mean",
    "stored_rows_peak",
    "stored_bytes_peak",
    "stored_rows_per_1000_users_mean",
)


@dataclass(frozen=True)
class StorageModel:
    """The token store's bookkeeping: the policy's usage and the scenario's `storage:` section."""

    usage: str
    consumed_retention: float
    #: Seconds between cleanup runs; None removes rows the moment they are not needed.
    cleanup_interval: float | None
    row_bytes: int

    @classmethod
    def of(cls, scenario: Scenario) -> StorageModel:
        """The model of a scenario."""
        storage = scenario.storage
        return cls(
            usage=scenario.policy.refresh_token_usage,
            consumed_retention=storage.consumed_retention,
            cleanup_interval=storage.cleanup_interval,
            row_bytes=storage.row_bytes,
        )

    def removed_at(self, unneeded: np.ndarray) -> np.ndarray:
        """When rows no longer needed from `unneeded` on are removed: the next cleanup run (inf stays)."""
        unneeded = np.asarray(unneeded, dtype=float)
        if self.cleanup_interval is None:
            return unneeded
        interval = self.cleanup_interval
        with np.errstate(invalid="ignore"):
            return np.where(np.isfinite(unneeded), np.ceil(unneeded / interval) * interval, unneeded)

    def rows(self, chains: pd.DataFrame, rotations: np.ndarray | None, times: np.ndarray) -> np.ndarray:
        """Rows held at each of the ascending `times` by these chains and per-minute rotation counts."""
        times = np.asarray(times, dtype=float)
        authorized = chains["authorized_at_s"].to_numpy(dtype=float)
        ended = chains["ended_at_s"].to_numpy(dtype=float)
        removed = self.removed_at(np.where(np.isnan(ended), math.inf, ended))
        rows = _count_until(authorized, None, times) - _count_until(removed, None, times)
        if rotations is None or self.usage == "reuse":
            return rows
        minutes = np.nonzero(rotations)[0]
        starts = minutes * 60.0
        counts = rotations[minutes].astype(np.int64)
        rows = rows + _count_until(starts, counts, times)
        if self.usage == "one_time":
            gone = self.removed_at(starts + self.consumed_retention)
            return rows - _count_until(gone, counts, times)
        # rotate_keep_old: a chain's rotation rows go with its own row
        refreshes = chains["refreshes"].to_numpy(dtype=np.int64)
        return rows - _count_until(removed, refreshes, times)

    def metrics(
        self, chains: pd.DataFrame, rotations: np.ndarray | None, users: int, warmup: float, horizon: float
    ) -> dict[str, float]:
        """Mean and peak rows over the window (sampled at each minute's start), bytes, per 1,000 users."""
        grid = np.arange(math.ceil(warmup / 60.0), math.ceil(horizon / 60.0)) * 60.0
        rows = self.rows(chains, rotations, grid) if len(grid) else np.zeros(1)
        mean = float(rows.mean())
        peak = float(rows.max(initial=0))
        return {
            "stored_rows_mean": mean,
            "stored_rows_peak": peak,
            "stored_bytes_peak": peak * self.row_bytes,
            "stored_rows_per_1000_users_mean": mean / users * 1000.0 if users else math.nan,
        }


def _count_until(at: np.ndarray, weights: np.ndarray | None, times: np.ndarray) -> np.ndarray:
    """For each time t of the ascending `times`, how many of `at` (or the sum of their weights) are <= t.

    Each value is placed once among the times (a run's minutes can far outnumber the values), then
    the counts are summed up along the times.
    """
    first = np.searchsorted(times, at, side="left")  # the first time at or after each value
    if weights is None:
        weights = np.ones(len(at), dtype=np.int64)
    placed = np.bincount(first, weights=np.asarray(weights, dtype=np.int64), minlength=len(times) + 1)
    return np.cumsum(placed[: len(times)].astype(np.int64))
