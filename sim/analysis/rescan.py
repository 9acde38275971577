"""A second, bounded look at a group's rows, for the few figures that merged counts cannot give exactly.

The population's peak of valid chains, the Kaplan-Meier quantiles and the 95th percentile of revocation
lags depend on the order of individual values. Their partials (sim/analysis/partials.py) count the values
by bin; the finishing code then reads the group's rows again (`RowSource`: from the run's spool of Parquet
parts, or from frames in memory) and keeps only the values of the bins it needs, at most about
ROWS_AT_ONCE at a time, so the main process never holds a whole table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

#: Reads the rows of one group again: `rows(table, columns)` yields batches of those columns (numpy
#: arrays; missing floats as NaN), every row of the group once, in any order.
RowSource = Callable[[str, Sequence[str]], Iterator[dict[str, np.ndarray]]]

#: Most values the main process keeps at once when it reads rows again (a single bin may hold more).
ROWS_AT_ONCE = 1 << 20


def bin_ranges(bins: np.ndarray, counts: np.ndarray, limit: int | None = None) -> Iterator[tuple[int, int]]:
    """Consecutive ranges [first, last] of the ascending non-empty `bins`, each with at most `limit`
    (default ROWS_AT_ONCE) values, or one bin when it alone holds more."""
    limit = limit or ROWS_AT_ONCE
    start = 0
    while start < len(bins):
        total = np.cumsum(counts[start:])
        size = max(1, int(np.searchsorted(total, limit, side="right")))
        yield int(bins[start]), int(bins[start + size - 1])
        start += size
