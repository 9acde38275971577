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
exact to the minute. Rows are additive, so the rows of several personas (or shards) are those of their
chains and rotation counts put together: a run counts each shard's row additions and removals on the
minute grid (`removal_histograms`, sim/analysis/counts.py) and sums them (`grid_rows`), with the same
result as `rows` on all the chains at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.analysis.counts import MinuteGrid

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

    def removal_histograms(
        self, ended: np.ndarray, refreshes: np.ndarray, grid: MinuteGrid
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Per bin of the minute grid: chain rows removed (None when they go as their chains end, so
        the histogram of ends serves), and the rotation rows that go with them (`rotate_keep_old` only)."""
        removed = self.removed_at(np.where(np.isnan(ended), math.inf, ended))
        chain_rows = grid.histogram(removed) if self.cleanup_interval is not None else None
        rotation_rows = grid.histogram(removed, refreshes) if self.usage == "rotate_keep_old" else None
        return chain_rows, rotation_rows

    def grid_rows(
        self,
        authorized: np.ndarray | None,
        removed: np.ndarray | None,
        removed_rotations: np.ndarray | None,
        rotations: np.ndarray | None,
        grid: MinuteGrid,
    ) -> np.ndarray:
        """Rows held at every minute start of the grid, from merged histograms: chains authorized and
        removed (`removal_histograms`; the ends when rows go with their chains), the rotation rows that
        go with removed chains, and the per-minute rotation counts. Equal to `rows` at those times."""
        zeros = np.zeros(grid.bins, dtype=np.int64)
        added = zeros if authorized is None else authorized
        gone = zeros if removed is None else removed
        rows = np.cumsum(added)[: grid.last + 1] - np.cumsum(gone)[: grid.last + 1]
        if rotations is None or self.usage == "reuse":
            return rows
        minutes = np.nonzero(rotations)[0]
        counts = rotations[minutes].astype(np.int64)
        starts = minutes * 60.0
        rows = rows + np.cumsum(grid.histogram(starts, counts))[: grid.last + 1]
        if self.usage == "one_time":
            expired = self.removed_at(starts + self.consumed_retention)
            return rows - np.cumsum(grid.histogram(expired, counts))[: grid.last + 1]
        kept = zeros if removed_rotations is None else removed_rotations
        return rows - np.cumsum(kept)[: grid.last + 1]

    def window_metrics(self, rows: np.ndarray, users: int, warmup: float, horizon: float) -> dict[str, float]:
        """`metrics` from the rows at every minute start of the run's grid (`grid_rows`)."""
        window = rows[math.ceil(warmup / 60.0) : math.ceil(horizon / 60.0)]
        return self._summarize(window if len(window) else np.zeros(1), users)

    def metrics(
        self, chains: pd.DataFrame, rotations: np.ndarray | None, users: int, warmup: float, horizon: float
    ) -> dict[str, float]:
        """Mean and peak rows over the window (sampled at each minute's start), bytes, per 1,000 users."""
        grid = np.arange(math.ceil(warmup / 60.0), math.ceil(horizon / 60.0)) * 60.0
        rows = self.rows(chains, rotations, grid) if len(grid) else np.zeros(1)
        return self._summarize(rows, users)

    def _summarize(self, rows: np.ndarray, users: int) -> dict[str, float]:
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
