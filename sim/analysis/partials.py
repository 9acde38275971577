"""What one shard contributes to the metrics of its group: counts, exact sums and histograms that merge.

A shard simulates a range of one persona's users in one replication. Its `GroupPartial` holds
everything the metrics of that (replication, persona) need from those users, in a form that adds up
exactly: integer counts, exact float sums (sim/analysis/exactsum.py), per-minute histograms on the run's
minute grid, and counts by bin. Merged in any order and any split, the partials of a group equal the
partial of all its users at once, so the main process holds O(minutes of the horizon) per group, never
O(users). The few figures that counts alone cannot give exactly (the population's peak of valid chains,
the Kaplan-Meier quantiles, the 95th percentile of revocation lags) are finished in sim/analysis/metrics.py
from these counts and a bounded second look at the rows (`RowSource`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.analysis.counts import MinuteGrid, SparseArray, SparseCounts, add_counts
from sim.analysis.exactsum import ExactSum
from sim.analysis.levels import peak_active
from sim.analysis.storage import StorageModel
from sim.analysis.theft_metrics import TheftPartial
from sim.analysis.window import Window
from sim.core.durations import DAY, MONTH

#: Bins per day of a duration (lifetimes, dwells, lags are binned by whole minute to plan the second look).
BINS_PER_DAY = 1440


def duration_bins(days: np.ndarray, size: int | None = None) -> np.ndarray:
    """The bin of each duration in days: its whole minutes (monotone in the value), capped at size - 1."""
    bins = np.floor(np.asarray(days, dtype=float) * BINS_PER_DAY).astype(np.int64)
    return np.clip(bins, 0, None if size is None else size - 1)


def lifetime_bin_count(window: Window) -> int:
    """Bins of the chain-lifetime histogram: a lifetime counted in the window is at most its length."""
    return math.ceil(window.length / DAY * BINS_PER_DAY) + 1


def lag_bins(minutes: np.ndarray) -> np.ndarray:
    """The bin of each revocation lag in minutes: its whole seconds (monotone in the value)."""
    return np.floor(np.asarray(minutes, dtype=float) * 60.0).astype(np.int64)


@dataclass
class GroupPartial:
    """The mergeable figures of some users of one group (a persona, or all, in one replication)."""

    users: int = 0
    devices: int = 0
    #: Token-endpoint requests per minute of the run, and the hourly counts [kind, hour] (Recorder).
    minute_requests: np.ndarray | None = None
    hourly: np.ndarray | None = None
    #: Refreshes that issued a new token, per minute of the run.
    minute_rotations: np.ndarray | None = None
    #: Logins refused at the cap, in the window.
    rejected: int = 0
    #: Forced re-authentications in the window: all, by cause, mid-session.
    reauths: int = 0
    reauth_causes: dict[str, int] = field(default_factory=dict)
    mid_session: int = 0
    #: Users with a forced re-authentication per whole month of the window (whole users only).
    users_forced_by_month: np.ndarray | None = None
    #: The most valid chains one user held at once in the window (whole users only; merged by max).
    peak_per_user: int = 0
    #: Chains authorized in the window, and chains evicted in it.
    logins: int = 0
    evictions: int = 0
    #: Chain-seconds valid within the window.
    overlap_s: ExactSum = field(default_factory=ExactSum)
    #: Chains authorized in the window: how many, how many still valid at the horizon, the lifetimes
    #: (days) of those that ended, and the lifetimes of all by whole minute (Kaplan-Meier).
    born: int = 0
    censored: int = 0
    finished: int = 0
    finished_days: ExactSum = field(default_factory=ExactSum)
    lifetime_bins: np.ndarray | None = None
    #: Chain starts and ends before the warm-up (the level of valid chains entering the window).
    starts_before: int = 0
    ends_before: int = 0
    #: Chain starts and ends on the minute grid (MinuteGrid), and rows the token store removes.
    authorized: np.ndarray | None = None
    ended: np.ndarray | None = None
    removed: np.ndarray | None = None
    removed_rotations: np.ndarray | None = None
    #: Access tokens still valid at a revocation in the window: how many, their minutes left (sum),
    #: and by whole second.
    lags: int = 0
    lag_minutes: ExactSum = field(default_factory=ExactSum)
    lag_bins: SparseCounts = field(default_factory=SparseCounts.empty)
    thefts: TheftPartial = field(default_factory=TheftPartial)

    #: Fields merged by maximum rather than sum.
    _MAXIMA = frozenset({"peak_per_user"})

    def merge(self, other: GroupPartial) -> GroupPartial:
        """Add another partial of the same group (other users); returns self."""
        for spec in dataclasses.fields(self):
            name = spec.name
            mine, theirs = getattr(self, name), getattr(other, name)
            if name in self._MAXIMA:
                setattr(self, name, max(mine, theirs))
            elif isinstance(theirs, int):
                setattr(self, name, mine + theirs)
            elif isinstance(theirs, (np.ndarray, SparseArray)) or theirs is None:
                setattr(self, name, add_counts(mine, theirs))
            elif isinstance(theirs, dict):
                for key, n in theirs.items():
                    mine[key] = mine.get(key, 0) + n
            else:  # ExactSum, SparseCounts, TheftPartial
                mine.merge(theirs)
        return self

    @classmethod
    def total(cls, parts: Iterable[GroupPartial]) -> GroupPartial:
        """The partial of several groups' users together (a new object; the parts are unchanged)."""
        merged = cls()
        for part in parts:
            merged.merge(part)
        return merged


def shard_partial(
    chains: Mapping[str, Any],
    reauths: Mapping[str, Any],
    thefts: Mapping[str, Any],
    counts: ShardCounts,
    window: Window,
    storage: StorageModel | None,
) -> GroupPartial:
    """The partial of one shard: every row of its users (columns as recorded) and its counts.

    The rows are those of whole users of one group; `counts` carries the Recorder's per-minute and
    hourly counts, rejected logins and revocation lags of that group.
    """
    grid = MinuteGrid(window.horizon)
    partial = GroupPartial(
        users=counts.users,
        devices=counts.devices,
        minute_requests=counts.minute_requests,
        hourly=counts.hourly,
        minute_rotations=counts.minute_rotations,
        rejected=int(np.count_nonzero(np.asarray(counts.rejected_logins, dtype=float) >= window.warmup)),
    )
    _add_reauths(partial, reauths, window)
    _add_chains(partial, chains, window, grid, storage)
    _add_lags(partial, counts.revocation_lags, window)
    partial.thefts = TheftPartial.of(thefts, window.warmup)
    return partial


@dataclass
class ShardCounts:
    """A shard's counts as the Recorder keeps them, for one group."""

    users: int
    devices: int
    minute_requests: np.ndarray | None
    hourly: np.ndarray | None
    minute_rotations: np.ndarray | None
    rejected_logins: list[float]
    revocation_lags: list[tuple[float, float]]


def _add_reauths(partial: GroupPartial, reauths: Mapping[str, Any], window: Window) -> None:
    at = np.asarray(reauths["at_s"], dtype=float)
    inside = at >= window.warmup
    partial.reauths = int(np.count_nonzero(inside))
    causes, counts = np.unique(np.asarray(reauths["cause"], dtype=object)[inside], return_counts=True)
    partial.reauth_causes = {str(c): int(n) for c, n in zip(causes, counts, strict=True)}
    partial.mid_session = int(np.count_nonzero(np.asarray(reauths["mid_session"], dtype=bool)[inside]))
    partial.users_forced_by_month = users_forced_by_month(
        at, np.asarray(reauths["user"], dtype=np.int64), window
    )


def whole_months(window: Window) -> int:
    """Whole 30-day months of the window (at least one: a shorter window counts as one)."""
    return max(1, math.floor(window.length / MONTH))


def users_forced_by_month(at: np.ndarray, users: np.ndarray, window: Window) -> np.ndarray:
    """For each whole 30-day month of the window, how many of these users had a forced re-authentication.

    `users` identifies a user within the rows (the rows of one group: a persona in one replication).
    """
    months = whole_months(window)
    span = MONTH if window.length >= MONTH else window.length
    month = ((at - window.warmup) // span).astype(np.int64)
    keep = (at >= window.warmup) & (month < months)
    distinct = np.unique(np.stack([month[keep], users[keep]]), axis=1) if keep.any() else np.zeros((2, 0))
    return np.bincount(distinct[0].astype(np.int64), minlength=months).astype(np.int64)


def _add_chains(
    partial: GroupPartial,
    chains: Mapping[str, Any],
    window: Window,
    grid: MinuteGrid,
    storage: StorageModel | None,
) -> None:
    authorized = np.asarray(chains["authorized_at_s"], dtype=float)
    ended = np.asarray(chains["ended_at_s"], dtype=float)  # NaN (None) while valid at the horizon
    has_end = ~np.isnan(ended)
    partial.logins = int(np.count_nonzero(authorized >= window.warmup))
    evicted = np.asarray(chains["end_reason"], dtype=object) == "evicted"
    partial.evictions = int(np.count_nonzero(evicted & (ended >= window.warmup)))

    end_or_horizon = np.where(has_end, ended, window.horizon)
    overlap = np.clip(
        np.minimum(end_or_horizon, window.horizon) - np.maximum(authorized, window.warmup), 0, None
    )
    partial.overlap_s = ExactSum(overlap)

    born = authorized >= window.warmup
    lifetimes, censored = chain_lifetimes(authorized, ended, window)
    partial.born = int(np.count_nonzero(born))
    partial.censored = int(np.count_nonzero(censored))
    finished = lifetimes[~censored]
    partial.finished = len(finished)
    partial.finished_days = ExactSum(finished)
    size = lifetime_bin_count(window)
    partial.lifetime_bins = np.bincount(duration_bins(lifetimes, size), minlength=size).astype(np.int64)

    partial.starts_before = int(np.count_nonzero(authorized < window.warmup))
    partial.ends_before = int(np.count_nonzero(ended[has_end] < window.warmup))
    partial.authorized = grid.histogram(authorized)
    partial.ended = grid.histogram(ended[has_end])
    if storage is not None:
        removed, removed_rotations = storage.removal_histograms(
            ended, np.asarray(chains["refreshes"], dtype=np.int64), grid
        )
        partial.removed = removed if removed is not None else partial.ended.copy()
        partial.removed_rotations = removed_rotations
    users = np.asarray(chains["user"], dtype=np.int64)
    partial.peak_per_user = peak_active(authorized, ended, window, owners=users)


def chain_lifetimes(
    authorized: np.ndarray, ended: np.ndarray, window: Window
) -> tuple[np.ndarray, np.ndarray]:
    """Lifetimes in days of the chains authorized in the window, and which are censored (valid at the
    horizon, counted to it): the values the Kaplan-Meier median is taken of."""
    born = authorized >= window.warmup
    end_or_horizon = np.where(np.isnan(ended), window.horizon, ended)
    return (end_or_horizon - authorized)[born] / DAY, np.isnan(ended)[born]


def _add_lags(partial: GroupPartial, lags: list[tuple[float, float]], window: Window) -> None:
    pairs = np.asarray(lags, dtype=float).reshape(-1, 2)
    minutes = pairs[pairs[:, 0] >= window.warmup, 1] / 60.0
    partial.lags = len(minutes)
    partial.lag_minutes = ExactSum(minutes)
    partial.lag_bins = SparseCounts.of(lag_bins(minutes))
