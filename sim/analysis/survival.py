"""Kaplan-Meier estimates for right-censored durations (chains and thefts still open at the horizon).

Built on scipy.stats.ecdf with CensoredData; shared by the metrics and the report's survival figures.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def kaplan_meier(durations: np.ndarray, censored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Kaplan-Meier survival curve: times (every distinct duration) and S(t) just after each."""
    data = stats.CensoredData(uncensored=durations[~censored], right=durations[censored])
    survival = stats.ecdf(data).sf
    return np.asarray(survival.quantiles, dtype=float), np.asarray(survival.probabilities, dtype=float)


def km_restricted_mean(durations: np.ndarray, censored: np.ndarray) -> float:
    """Kaplan-Meier mean restricted to the longest observed duration (NaN when none ended).

    The area under the survival curve up to the longest duration: the plain mean when nothing is
    censored, and a lower bound of the mean when the longest durations are censored.
    """
    if len(durations) == 0 or censored.all():
        return math.nan
    times, survival = kaplan_meier(durations, censored)
    widths = np.diff(np.concatenate([[0.0], times]))
    before = np.concatenate([[1.0], survival[:-1]])  # S is 1 before the first time
    return float((widths * before).sum())


def km_quantile(durations: np.ndarray, censored: np.ndarray, q: float) -> float:
    """The Kaplan-Meier `q`-quantile: the first time S(t) <= 1 - q (NaN when the curve never gets there)."""
    if len(durations) == 0 or censored.all():
        return math.nan
    times, survival = kaplan_meier(durations, censored)
    below = np.nonzero(survival <= 1 - q + 1e-12)[0]
    return float(times[below[0]]) if len(below) else math.nan
