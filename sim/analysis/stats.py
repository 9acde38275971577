"""Statistics across replications: means and t-based 95% confidence intervals (scipy.stats).

Replications are independent runs, so each metric's per-replication values are i.i.d. and the
Student-t interval applies. With a single replication there is no interval (reported as null).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats


def mean_ci(
    values: Sequence[float], confidence: float = 0.95, within: tuple[float, float] = (-math.inf, math.inf)
) -> tuple[float, float, float]:
    """Mean and two-sided t confidence interval of i.i.d. values (NaN bounds when fewer than 2).

    `within`: the range the true mean is known to lie in (a rate is never negative, a share never above
    1); the interval is cut to it. The cut interval covers the true mean whenever the whole one does, so
    its confidence is at least as high.
    """
    data = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if len(data) == 0:
        return math.nan, math.nan, math.nan
    mean = float(data.mean())
    if len(data) < 2:
        return mean, math.nan, math.nan
    sem = float(stats.sem(data))
    if sem == 0.0:
        return mean, mean, mean
    low, high = stats.t.interval(confidence, df=len(data) - 1, loc=mean, scale=sem)
    return mean, max(float(low), within[0]), min(float(high), within[1])


def json_number(value: float) -> float | None:
    """A float for JSON, None for NaN or infinity (JSON has no such numbers)."""
    return None if value is None or not math.isfinite(value) else float(value)
