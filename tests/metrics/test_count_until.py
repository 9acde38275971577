"""Storage rows count values up to each time: the one-pass count equals the definition."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analysis.storage import _count_until

VALUES = st.sampled_from([-math.inf, 0.0, 30.0, 59.999, 60.0, 60.001, 120.0, 600.0, math.inf, math.nan])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(VALUES, max_size=25),
    st.booleans(),
    st.lists(st.integers(0, 9), min_size=25, max_size=25),
    st.integers(0, 12),
)
def test_counts_equal_the_definition(
    values: list[float], weighted: bool, raw: list[int], minutes: int
) -> None:
    at = np.asarray(values, dtype=float)
    weights = np.asarray(raw[: len(values)], dtype=np.int64) if weighted else None
    times = np.arange(minutes) * 60.0
    expected = [
        int(sum((1 if weights is None else weights[i]) for i, a in enumerate(at) if a <= t)) for t in times
    ]
    assert _count_until(at, weights, times).tolist() == expected
