"""The pieces that make merged metrics exact: exact sums, the chunked Kaplan-Meier curve, the group peak
from minute histograms, and the revocation-lag percentile from its two neighbours."""

from __future__ import annotations

import itertools
import math
from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analysis import rescan
from sim.analysis.counts import MinuteGrid, SparseCounts, add_counts, compact
from sim.analysis.exactsum import ExactSum
from sim.analysis.levels import group_peak, peak_active
from sim.analysis.survival import KaplanMeierScan, kaplan_meier, km_quantile, km_restricted_mean, km_scan
from sim.analysis.window import Window

FLOATS = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)


@settings(max_examples=200, deadline=None)
@given(st.lists(FLOATS | st.floats(-1e-300, 1e-300), max_size=60), st.lists(st.integers(0, 60), max_size=4))
def test_an_exact_sum_is_fsum_whatever_the_split(values: list[float], cuts: list[int]) -> None:
    array = np.asarray(values, dtype=float)
    pieces = np.split(array, sorted(min(c, len(array)) for c in cuts))
    merged = ExactSum()
    for piece in reversed(pieces):  # another order too
        merged.merge(ExactSum(piece))
    assert merged.value() == math.fsum(values) == ExactSum(array).value()


def test_an_exact_sum_keeps_what_a_float_sum_loses() -> None:
    assert ExactSum([1e16, 1.0, -1e16]).value() == 1.0
    assert sum([1e16, 1.0, -1e16]) == 0.0


# -- Kaplan-Meier in chunks ------------------------------------------------------------------------------

DURATIONS = st.lists(
    st.tuples(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 3.0]) | st.floats(0, 5), st.booleans()),
    min_size=1,
    max_size=400,
)


def _chunks(durations: np.ndarray, censored: np.ndarray, cuts: list[float]):
    """The durations in ascending value ranges split at `cuts` (ties never straddle a cut)."""
    edges = [-math.inf, *sorted(set(cuts)), math.inf]
    for low, high in itertools.pairwise(edges):
        keep = (durations >= low) & (durations < high)
        order = np.random.default_rng(0).permutation(np.flatnonzero(keep))  # any order within a chunk
        yield durations[order], censored[order]


@settings(max_examples=200, deadline=None)
@given(DURATIONS, st.lists(st.floats(0, 5), max_size=6))
def test_the_chunked_curve_is_scipys_bit_for_bit(pairs: list[tuple[float, bool]], cuts: list[float]) -> None:
    durations = np.asarray([d for d, _ in pairs])
    censored = np.asarray([c for _, c in pairs])
    if censored.all():
        return
    times, survival = kaplan_meier(durations, censored)
    scan = KaplanMeierScan(len(durations), int(censored.sum()))
    steps = [scan.step(d, c) for d, c in _chunks(durations, censored, cuts)]
    assert np.concatenate([t for t, _ in steps]).tolist() == times.tolist()
    assert np.concatenate([s for _, s in steps]).tolist() == survival.tolist()  # exact, not approximate


@settings(max_examples=200, deadline=None)
@given(DURATIONS, st.lists(st.floats(0, 5), max_size=6), st.sampled_from([0.5, 0.95]))
def test_chunked_quantile_and_restricted_mean_equal_the_whole(
    pairs: list[tuple[float, bool]], cuts: list[float], q: float
) -> None:
    durations = np.asarray([d for d, _ in pairs])
    censored = np.asarray([c for _, c in pairs])
    found, mean = km_scan(
        _chunks(durations, censored, cuts),
        len(durations),
        int(censored.sum()),
        quantile=q,
        restricted_mean=True,
    )
    for got, expected in ((found, km_quantile(durations, censored, q)),
                          (mean, km_restricted_mean(durations, censored))):  # fmt: skip
        assert (math.isnan(got) and math.isnan(expected)) or got == expected


def test_without_censoring_the_curve_is_the_empirical_survival() -> None:
    durations = np.asarray([1.0, 2.0, 2.0, 7.0, 9.0, 9.0, 9.0])
    censored = np.zeros(7, dtype=bool)
    scan = KaplanMeierScan(7, 0)
    _, first = scan.step(durations[:3], censored[:3])
    _, rest = scan.step(durations[3:], censored[3:])
    assert np.concatenate([first, rest]).tolist() == [1 - 1 / 7, 1 - 3 / 7, 1 - 4 / 7, 1 - 7 / 7]


# -- the group's peak from minute histograms ----------------------------------------------------------


@st.composite
def crowded_chains(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, Window]:
    """Many chains in a few minutes on a 10-second lattice: starts and ends meet within and at minute
    starts, so the peak often lies inside a minute and needs the rows."""
    n = draw(st.integers(0, 120))
    starts = np.asarray(draw(st.lists(st.integers(0, 60), min_size=n, max_size=n)), dtype=float) * 10.0
    lengths = draw(st.lists(st.one_of(st.none(), st.integers(0, 30)), min_size=n, max_size=n))
    ended = np.asarray([np.nan if x is None else s + 10.0 * x for s, x in zip(starts, lengths, strict=True)])
    warmup = draw(st.sampled_from([0.0, 60.0, 95.0, 300.0]))
    horizon = warmup + draw(st.sampled_from([30.0, 200.0, 1200.0]))
    ended[ended > horizon] = np.nan
    return starts, ended, Window(warmup, horizon)


@settings(max_examples=300, deadline=None)
@given(crowded_chains(), st.sampled_from([1, 4, 1 << 20]), st.integers(1, 50))
def test_the_group_peak_equals_one_sort_of_every_event(
    case: tuple[np.ndarray, np.ndarray, Window], at_once: int, batch: int
) -> None:
    authorized, ended, window = case
    authorized = authorized[authorized <= window.horizon]
    ended = ended[: len(authorized)]
    grid = MinuteGrid(window.horizon)
    starts = grid.histogram(authorized)
    ends = grid.histogram(ended[~np.isnan(ended)])
    entering = int(np.sum(authorized < window.warmup) - np.sum(ended < window.warmup))

    def rows(name, columns):
        for first in range(0, len(authorized), batch):
            yield {
                "authorized_at_s": authorized[first : first + batch],
                "ended_at_s": ended[first : first + batch],
            }

    with mock.patch.object(rescan, "ROWS_AT_ONCE", at_once):
        got = group_peak(starts, ends, entering, window, rows)
    assert got == peak_active(authorized, ended, window)


# -- counts by bin ---------------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(-5, 50), max_size=30), min_size=1, max_size=5))
def test_sparse_counts_merge_to_the_counts_of_everything(parts: list[list[int]]) -> None:
    merged = SparseCounts.empty()
    for part in parts:
        merged.merge(SparseCounts.of(np.asarray(part)))
    everything = np.asarray([b for part in parts for b in part], dtype=np.int64)
    found, counts = np.unique(everything, return_counts=True)
    assert merged.bins.tolist() == found.tolist() and merged.counts.tolist() == counts.tolist()
    ordered = np.sort(everything)
    for rank in range(len(ordered)):
        assert merged.bin_of_rank(rank) == ordered[rank]
        assert merged.before(int(ordered[rank])) == int(np.sum(everything < ordered[rank]))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=30), st.integers(1, 20))
def test_bin_ranges_cover_every_bin_once_within_the_limit(counts: list[int], limit: int) -> None:
    bins = np.arange(len(counts)) * 3
    counts_ = np.asarray(counts)
    ranges = list(rescan.bin_ranges(bins, counts_, limit))
    covered = [b for first, last in ranges for b in bins[(bins >= first) & (bins <= last)]]
    assert covered == bins.tolist()
    for first, last in ranges:
        inside = counts_[(bins >= first) & (bins <= last)]
        assert inside.sum() <= limit or len(inside) == 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3) | st.just(0), min_size=40, max_size=40), min_size=1, max_size=4))
def test_compacted_counts_add_up_to_the_dense_sum(parts: list[list[int]]) -> None:
    """Counts sent sparse (mostly zeros) or as int32 add up to the plain int64 sum."""
    total = None
    for part in parts:
        total = add_counts(total, compact(np.asarray(part, dtype=np.int64)))
    assert total is not None and total.dtype == np.int64
    assert total.tolist() == np.sum(parts, axis=0).tolist()
