"""The most chains valid at once: per user (within a shard) and for a whole group (from merged counts).

The level of valid chains is a step function: +1 at each authorization, -1 at each end, ends first at
equal times. Its peak within the window [warmup, horizon] is the level entering the window or the level
after all the events of some instant in it.

For a whole group the chains are spread over many shards, so the peak is taken from the merged
per-minute histograms of starts and ends (sim/analysis/counts.py): they give the exact level at every
minute start, and an upper bound for each minute (its starting level plus its starts). Only the minutes
whose bound beats the best level known are looked at again, event by event, in the rows (`RowSource`),
a bounded number of rows at a time, highest bound first.
"""

from __future__ import annotations

import numpy as np

from sim.analysis import rescan
from sim.analysis.counts import MinuteGrid
from sim.analysis.rescan import RowSource
from sim.analysis.window import Window


def peak_active(
    authorized: np.ndarray, ended: np.ndarray, window: Window, owners: np.ndarray | None = None
) -> int:
    """The most chains valid at once within the window (exact, over every start and end).

    With `owners` (one integer per chain), the most that any one owner held at once: every owner's
    events go through the same sort, and the running count restarts at each owner's first event.
    """
    if len(authorized) == 0:
        return 0
    has_end = ~np.isnan(ended)
    # Ends first, so that a stable sort puts them before starts at equal times; small integer types,
    # since this can run over millions of events.
    times = np.concatenate([ended[has_end], authorized])
    if owners is None:
        order = np.argsort(times, kind="stable")
    else:
        keys = np.concatenate([owners[has_end], owners])
        order = np.lexsort((times, keys))  # by owner, then time (lexsort is stable)
        keys = keys[order]
    ends = len(times) - len(authorized)
    times = times[order]
    steps = (order >= ends).astype(np.int8) * np.int8(2) - np.int8(1)  # +1 a start, -1 an end
    del order
    level: np.ndarray = np.cumsum(steps, dtype=np.int64 if len(times) >= 2**31 else np.int32)
    last = np.zeros(len(times), dtype=bool)  # the last event of its owner
    last[-1] = True
    if owners is not None:
        first = np.concatenate([[True], keys[1:] != keys[:-1]])
        level -= (level - steps)[first][np.cumsum(first) - 1]  # each owner's own running count
        last[:-1] = first[1:]
    before = times < window.warmup
    # the level entering the window: after each owner's last event before it
    at_warmup = before & (last | ~np.concatenate([before[1:], [False]]))
    during = (times >= window.warmup) & (times <= window.horizon)
    return int(level[at_warmup | during].max(initial=0))


def group_peak(
    starts: np.ndarray | None,
    ends: np.ndarray | None,
    entering: int,
    window: Window,
    rows: RowSource,
) -> int:
    """The most chains of a group valid at once within the window, exactly as `peak_active` on all rows.

    `starts` and `ends`: the group's chain starts and ends per bin of the minute grid (bin m holds the
    times in (60(m-1), 60m]); `entering`: starts minus ends before the warm-up; `rows`: the group's
    chains again, read only for the minutes whose bound beats the best level found so far.
    """
    if starts is None or not starts.any():
        return max(0, entering)
    grid = MinuteGrid(window.horizon)
    ends = np.zeros_like(starts) if ends is None else ends
    level = np.cumsum(starts) - np.cumsum(ends)  # level[m]: the level at 60m, after its bin's events
    bins = np.arange(len(level))
    low = np.where(bins > 0, (bins - 1) * 60.0, -np.inf)  # bin m holds (low, high]
    high = np.where(bins <= grid.last, bins * 60.0, np.inf)
    inside = (low >= window.warmup) & (high <= window.horizon)
    # a bin wholly in the window with events ends at an event of the window: its level is reached
    best = int(level[inside & ((starts + ends) > 0)].max(initial=max(0, entering)))
    before = np.concatenate([[0], level[:-1]])
    bound = before + starts
    touches = (high >= window.warmup) & (low < window.horizon)
    candidates = np.flatnonzero(touches & (starts > 0) & (bound > best))
    candidates = candidates[np.argsort(-bound[candidates], kind="stable")]
    while len(candidates):
        # the next batch of minutes, highest bound first, with at most ROWS_AT_ONCE events in all
        events = np.cumsum((starts + ends)[candidates])
        batch = candidates[: max(1, int(np.searchsorted(events, rescan.ROWS_AT_ONCE, side="right")))]
        best = max(best, _peak_in_bins(batch, before, window, grid, rows))
        candidates = candidates[len(batch) :]
        candidates = candidates[bound[candidates] > best]
    return best


def _peak_in_bins(
    wanted: np.ndarray, before: np.ndarray, window: Window, grid: MinuteGrid, rows: RowSource
) -> int:
    """The highest level after the events of an instant of the window, within the `wanted` bins."""
    times, steps = [], []
    for batch in rows("chains", ("authorized_at_s", "ended_at_s")):
        for column, change in (("ended_at_s", -1), ("authorized_at_s", 1)):
            values = np.asarray(batch[column], dtype=float)
            values = values[~np.isnan(values)]
            values = values[np.isin(grid.bin_of(values), wanted)]
            times.append(values)
            steps.append(np.full(len(values), change, dtype=np.int8))
    time = np.concatenate(times)
    step = np.concatenate(steps)
    if len(time) == 0:
        return 0
    bin_ = grid.bin_of(time)
    order = np.lexsort((step, time, bin_))  # by bin, time, ends (-1) before starts
    time, step, bin_ = time[order], step[order], bin_[order]
    running = np.cumsum(step, dtype=np.int64)
    first = np.concatenate([[True], bin_[1:] != bin_[:-1]])
    running -= (running - step)[first][np.cumsum(first) - 1]  # the level change since the bin began
    level = before[bin_] + running
    last_of_instant = np.concatenate([(time[1:] != time[:-1]) | (bin_[1:] != bin_[:-1]), [True]])
    counted = last_of_instant & (time >= window.warmup) & (time <= window.horizon)
    return int(level[counted].max(initial=0))
