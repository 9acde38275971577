"""Exact sums of floats that merge: the same correctly rounded total whatever the order or the split.

A run's float sums (chain-seconds valid in the window, lifetimes of ended chains, revocation lags) are
added up shard by shard and the shards arrive in any order. A float sum depends on the order of its
terms, so the partial sums are kept exact: every finite double is an integer multiple of 2**-1126
(the smallest subnormal is 2**-1074 and a mantissa has 53 bits), so a sum of doubles is a Python
integer in those units. `value()` rounds it once, correctly, to the nearest double, as `math.fsum`
does; an `ExactSum` of any split of the same terms gives the same `value()` bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

#: Every finite double times 2**_SHIFT is an integer.
_SHIFT = 1074 + 52
_THIRD = 18
_MASK = (1 << _THIRD) - 1


class ExactSum:
    """A sum of floats kept exactly (a Python integer in units of 2**-1126); add arrays, merge sums."""

    __slots__ = ("_units",)

    def __init__(self, values: Iterable[float] | np.ndarray = ()):
        self._units = 0
        self.add(values)

    def add(self, values: Iterable[float] | np.ndarray) -> ExactSum:
        """Add every value (finite floats); returns self."""
        array = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=np.float64)
        if array.size == 0:
            return self
        array = array.ravel()
        if not np.isfinite(array).all():
            raise ValueError("an exact sum takes finite values only")
        fractions, exponents = np.frexp(array)  # value = fraction * 2**exponent, 0.5 <= |fraction| < 1
        negative = fractions < 0
        mantissas = (np.abs(fractions) * float(1 << 53)).astype(np.int64)  # exact: at most 53 bits
        low = int(exponents.min())
        # one bin per exponent and sign; each 18-bit third of the mantissas sums exactly in a double
        # (below 2**53) for up to 2**35 terms, so bincount's float weights lose nothing
        bins = (exponents.astype(np.int64) - low) * 2 + negative
        size = int(bins.max()) + 1
        total = 0
        for shift in (0, _THIRD, 2 * _THIRD):
            part = ((mantissas >> shift) & _MASK).astype(np.float64)
            sums = np.bincount(bins, weights=part, minlength=size)
            for index in np.flatnonzero(sums).tolist():
                units = int(sums[index]) << (shift + index // 2 + low - 53 + _SHIFT)
                total += -units if index % 2 else units
        self._units += total
        return self

    def merge(self, other: ExactSum) -> ExactSum:
        """Add another exact sum; returns self."""
        self._units += other._units
        return self

    def value(self) -> float:
        """The sum, correctly rounded to the nearest double (as math.fsum)."""
        if self._units == 0:
            return 0.0
        return self._units / (1 << _SHIFT)  # int / int is correctly rounded in Python

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExactSum) and self._units == other._units

    def __hash__(self) -> int:  # pragma: no cover - a mutable accumulator, hashed only by identity of value
        return hash(self._units)

    def __repr__(self) -> str:
        return f"ExactSum({self.value()!r})"

    def __getstate__(self) -> int:
        return self._units

    def __setstate__(self, state: int) -> None:
        self._units = state


def exact_sum(values: Iterable[float] | np.ndarray) -> float:
    """The correctly rounded sum of finite floats (math.fsum), for arrays of any size."""
    return math.fsum(np.asarray(values, dtype=np.float64).tolist())
