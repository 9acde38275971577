"""Statistics across replications: means and t-based 95% confidence intervals (scipy.stats).

Replications are independent runs, so each metric's per-replication values are i.i.d. and the
Student-t interval applies. With a single replication there is no interval (reported as null).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided t confidence interval of i.i.d. values (NaN bounds when fewer than 2)."""
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
    return mean, float(low), float(high)


def json_number(value: float) -> float | None:
    """A float for JSON, None for NaN or infinity (JSON has no such numbers)."""
    return None if value is None or not math.isfinite(value) else float(value)
