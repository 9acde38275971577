"""Mergeable counts: per-minute histograms on a run's minute grid, and sparse counts of integer bins.

Both add up exactly, in any order, so a figure built from them is the same whatever the shards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

MINUTE = 60.0


@dataclass(frozen=True)
class MinuteGrid:
    """The minute starts 0, 60, ..., 60*M of a run (M = ceil(horizon / 60)).

    A time t goes into bin m, the first minute start at or after t (bin M+1 past the last start), so
    the running sum of a histogram up to bin m counts the times <= 60*m: exactly what
    `np.searchsorted(starts, times, side="right")` counts at each start.
    """

    horizon: float

    @cached_property
    def last(self) -> int:
        """M, the index of the last minute start."""
        return math.ceil(self.horizon / MINUTE)

    @cached_property
    def starts(self) -> np.ndarray:
        """The minute starts in seconds (index * 60.0, the same floats the metrics compare with)."""
        return np.arange(self.last + 1) * MINUTE

    @property
    def bins(self) -> int:
        """Bins of a histogram: one per minute start and one past the last."""
        return self.last + 2

    def bin_of(self, times: np.ndarray) -> np.ndarray:
        """The bin of each time: the first minute start at or after it (M+1 past the last; inf too)."""
        return np.searchsorted(self.starts, np.asarray(times, dtype=float), side="left")

    def histogram(self, times: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """How many of `times` (or the sum of their integer weights) fall in each bin (int64)."""
        bins = self.bin_of(times)
        if weights is None:
            return np.bincount(bins, minlength=self.bins).astype(np.int64)
        counts = np.zeros(self.bins, dtype=np.int64)
        np.add.at(counts, bins, np.asarray(weights, dtype=np.int64))
        return counts


@dataclass(frozen=True)
class SparseArray:
    """A 1-d count array of `size` kept as its non-zero entries (a shard's per-minute histograms are
    mostly zeros: far fewer bytes to send from a worker)."""

    size: int
    index: np.ndarray
    values: np.ndarray

    @classmethod
    def of(cls, dense: np.ndarray) -> SparseArray:
        """The non-zero entries of a 1-d array, as int32 indexes and int64 values."""
        index = np.flatnonzero(dense)
        return cls(len(dense), index.astype(np.int32), dense[index].astype(np.int64))

    def to_dense(self) -> np.ndarray:
        """The int64 array."""
        dense = np.zeros(self.size, dtype=np.int64)
        dense[self.index] = self.values
        return dense


def add_counts(total: np.ndarray | None, part: np.ndarray | SparseArray | None) -> np.ndarray | None:
    """`total + part` as int64, either may be None (nothing yet); `total` is updated in place if it can."""
    if part is None:
        return total
    if isinstance(part, SparseArray):
        if total is None:
            return part.to_dense()
        total[part.index] += part.values  # an index occurs once
        return total
    if total is None:
        return part.astype(np.int64, copy=True)
    total += part
    return total


def compact(counts: np.ndarray | SparseArray | None) -> np.ndarray | SparseArray | None:
    """Counts in the fewest bytes to send: a 1-d array with few non-zero entries as a SparseArray,
    otherwise in the smallest integer type that holds its values (a shard's counts per minute are small)."""
    if counts is None or isinstance(counts, SparseArray):
        return counts
    if counts.ndim == 1 and np.count_nonzero(counts) * 3 < len(counts):  # index and value: 12 bytes
        return SparseArray.of(counts)
    low, high = int(counts.min(initial=0)), int(counts.max(initial=0))
    for kind in (np.int8, np.int16, np.int32):
        if np.iinfo(kind).min <= low and high <= np.iinfo(kind).max:
            return counts.astype(kind) if counts.dtype != kind else counts
    return counts


@dataclass
class SparseCounts:
    """Counts of integer bins, kept only where non-zero (sorted bins, int64 counts)."""

    bins: np.ndarray
    counts: np.ndarray

    @classmethod
    def empty(cls) -> SparseCounts:
        """No counts."""
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

    @classmethod
    def of(cls, bins: np.ndarray) -> SparseCounts:
        """How often each bin occurs in `bins`."""
        found, counts = np.unique(np.asarray(bins, dtype=np.int64), return_counts=True)
        return cls(found, counts.astype(np.int64))

    @property
    def total(self) -> int:
        """The sum of the counts."""
        return int(self.counts.sum())

    def merge(self, other: SparseCounts) -> SparseCounts:
        """Add another's counts; returns self."""
        if len(other.bins) == 0:
            return self
        bins = np.concatenate([self.bins, other.bins])
        counts = np.concatenate([self.counts, other.counts])
        self.bins, where = np.unique(bins, return_inverse=True)
        self.counts = np.zeros(len(self.bins), dtype=np.int64)
        np.add.at(self.counts, where, counts)
        return self

    def bin_of_rank(self, rank: int) -> int:
        """The bin holding the value of 0-based `rank` in ascending order."""
        return int(self.bins[np.searchsorted(np.cumsum(self.counts), rank, side="right")])

    def before(self, bin_: int) -> int:
        """How many values fall in bins below `bin_`."""
        return int(self.counts[self.bins < bin_].sum())
