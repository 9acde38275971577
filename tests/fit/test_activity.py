"""The hour-of-week arithmetic the fits are built on, against plain references."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.core.durations import HOUR, WEEK
from sim.fit.activity import Intensity, hour_counts, hour_exposure


def _reference_exposure(a: float, b: float) -> np.ndarray:
    """Seconds of [a, b] in each hour of the week, hour by hour."""
    out = np.zeros(168)
    t = a
    while t < b:
        boundary = (math.floor(t / HOUR) + 1) * HOUR
        step = min(b, boundary) - t
        out[int((t % WEEK) // HOUR)] += step
        t += step
    return out


@settings(max_examples=150, deadline=None)
@given(intervals=st.lists(st.tuples(st.integers(0, 2), st.floats(0, 3 * WEEK), st.floats(0, 2 * WEEK)),
                          min_size=1, max_size=8))
def test_hour_exposure_is_the_seconds_in_each_hour(intervals: list[tuple[int, float, float]]) -> None:
    user = np.array([u for u, _, _ in intervals])
    a = np.array([s for _, s, _ in intervals])
    b = a + np.array([d for _, _, d in intervals])
    got = hour_exposure(user, a, b, 3)
    expected = np.zeros((3, 168))
    for u, lo, hi in zip(user, a, b, strict=True):
        expected[u] += _reference_exposure(lo, hi)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_hour_counts_bins_times_by_user_and_hour() -> None:
    counts = hour_counts(np.array([0, 0, 1]), np.array([30.0, WEEK + 90.0, 25 * HOUR + 1]), 2)
    assert counts[0, 0] == 2 and counts[1, 25] == 1 and counts.sum() == 3


@settings(max_examples=150, deadline=None)
@given(weights=st.lists(st.sampled_from([0.0, 0.0, 1e-5, 3e-4]), min_size=168, max_size=168),
       t=st.floats(0, 4 * WEEK), extra=st.floats(1e-6, 5.0))
def test_the_intensity_inverse_undoes_its_integral(weights: list[float], t: float, extra: float) -> None:
    if not any(weights):
        weights[3] = 1e-4
    intensity = Intensity(np.array(weights))
    value = float(intensity.integral(np.array([t]))[0]) + extra
    back = float(intensity.inverse(np.array([value]))[0])
    assert back >= t - 1e-6
    assert math.isclose(float(intensity.integral(np.array([back]))[0]), value, rel_tol=1e-9, abs_tol=1e-9)
