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


class RangeSpill:
    """Values sorted into consecutive bin ranges on disk in one pass, then read back a range at a time.

    Reading a group's rows once per range would read them as often as there are ranges; spilling them
    once into one file per range (of the system's temporary directory, removed by `close`) keeps the
    work linear in the rows and the memory to one range.
    """

    def __init__(self, ranges: list[tuple[int, int]], dtypes: dict[str, np.dtype]):
        import tempfile
        from pathlib import Path

        self._firsts = np.asarray([first for first, _ in ranges], dtype=np.int64)
        self._lasts = np.asarray([last for _, last in ranges], dtype=np.int64)
        self._dtypes = {name: np.dtype(dtype) for name, dtype in dtypes.items()}
        self._directory = tempfile.TemporaryDirectory(prefix="tokensim-rescan-")
        self._paths = [
            {name: Path(self._directory.name) / f"{i}-{name}.bin" for name in dtypes}
            for i in range(len(ranges))
        ]

    def add(self, bins: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        """Append the values (one per bin) whose bin lies in a range to that range's files."""
        where = np.searchsorted(self._firsts, bins, side="right") - 1
        inside = (where >= 0) & (bins <= self._lasts[np.clip(where, 0, None)])
        for index in np.unique(where[inside]).tolist():
            keep = inside & (where == index)
            for name, values in columns.items():
                with open(self._paths[index][name], "ab") as handle:
                    np.asarray(values[keep], dtype=self._dtypes[name]).tofile(handle)

    def read(self, index: int) -> dict[str, np.ndarray]:
        """The values of range `index` (empty arrays when it got none)."""
        return {
            name: np.fromfile(path, dtype=self._dtypes[name])
            if path.exists()
            else np.zeros(0, self._dtypes[name])
            for name, path in self._paths[index].items()
        }

    def close(self) -> None:
        """Remove the files."""
        self._directory.cleanup()
