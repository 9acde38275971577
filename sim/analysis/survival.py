"""Kaplan-Meier estimates for right-censored durations (chains and thefts still open at the horizon).

Built on scipy.stats.ecdf with CensoredData; shared by the metrics and the report's survival figures.
`km_scan` computes the same curve from chunks of the durations taken in ascending order (a run's
durations need not fit in memory): every survival value is the one scipy computes on all of them, bit
for bit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from sim.analysis.exactsum import ExactSum, exact_sum


def kaplan_meier(durations: np.ndarray, censored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Kaplan-Meier survival curve: times (every distinct duration) and S(t) just after each."""
    data = stats.CensoredData(uncensored=durations[~censored], right=durations[censored])
    survival = stats.ecdf(data).sf
    return np.asarray(survival.quantiles, dtype=float), np.asarray(survival.probabilities, dtype=float)


def km_restricted_mean(durations: np.ndarray, censored: np.ndarray) -> float:
    """Kaplan-Meier mean restricted to the longest observed duration (NaN when none ended).

    The area under the survival curve up to the longest duration: the plain mean when nothing is
    censored, and a lower bound of the mean when the longest durations are censored. The area is
    summed exactly (correctly rounded), so it does not depend on how the curve is cut into pieces.
    """
    if len(durations) == 0 or censored.all():
        return math.nan
    times, survival = kaplan_meier(durations, censored)
    widths = np.diff(np.concatenate([[0.0], times]))
    before = np.concatenate([[1.0], survival[:-1]])  # S is 1 before the first time
    return exact_sum(widths * before)


def km_quantile(durations: np.ndarray, censored: np.ndarray, q: float) -> float:
    """The Kaplan-Meier `q`-quantile: the first time S(t) <= 1 - q (NaN when the curve never gets there)."""
    if len(durations) == 0 or censored.all():
        return math.nan
    times, survival = kaplan_meier(durations, censored)
    below = np.nonzero(survival <= 1 - q + 1e-12)[0]
    return float(times[below[0]]) if len(below) else math.nan


@dataclass
class KaplanMeierScan:
    """The Kaplan-Meier curve of `total` durations (`censored` of them censored), chunk by chunk.

    Feed `step` the durations in ascending chunks (every duration of a chunk above every one of the
    previous chunks); each call returns the distinct times of the chunk and S just after each, the
    values `kaplan_meier` gives on all the durations at once. As scipy does, a sample without censored
    durations takes the empirical survival 1 - F(t), any other the product-limit estimate.
    """

    total: int
    censored: int

    def __post_init__(self) -> None:
        self.at_risk = self.total
        self.seen = 0
        self.survival = 1.0

    def step(self, durations: np.ndarray, censored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The distinct times of this chunk and the survival just after each."""
        if len(durations) == 0:
            return np.zeros(0), np.zeros(0)
        times, where = np.unique(np.asarray(durations, dtype=float), return_inverse=True)
        counts = np.bincount(where, minlength=len(times)).astype(np.int64)
        deaths = np.bincount(where[~censored], minlength=len(times)).astype(np.int64)
        if self.censored == 0:
            events = self.seen + np.cumsum(counts)
            survival = 1 - events / self.total
        else:
            at_risk = self.at_risk - (np.cumsum(counts) - counts)
            factors = (at_risk - deaths) / at_risk
            # one running product from the first time on, as np.cumprod over the whole curve
            survival = np.cumprod(np.concatenate([[self.survival], factors]))[1:]
            self.survival = float(survival[-1])
        self.at_risk -= int(counts.sum())
        self.seen += int(counts.sum())
        return times, survival


def km_scan(
    chunks: Iterable[tuple[np.ndarray, np.ndarray]], total: int, censored: int, quantile: float | None = None,
    restricted_mean: bool = False,
) -> tuple[float, float]:
    """The `quantile` (as km_quantile) and the restricted mean (as km_restricted_mean) of durations
    given in ascending chunks of (durations, censored); NaN for a figure not asked for.

    Without `restricted_mean`, chunks after the one where the quantile is reached are not read.
    """
    if total == 0 or censored == total:
        return math.nan, math.nan
    scan = KaplanMeierScan(total, censored)
    found = math.nan
    area = ExactSum()
    previous_time, previous_survival = 0.0, 1.0
    threshold = None if quantile is None else 1 - quantile + 1e-12
    for durations, flags in chunks:
        times, survival = scan.step(durations, flags)
        if len(times) == 0:
            continue
        if threshold is not None and math.isnan(found):
            below = np.nonzero(survival <= threshold)[0]
            if len(below):
                found = float(times[below[0]])
                if not restricted_mean:
                    break
        if restricted_mean:
            widths = np.diff(np.concatenate([[previous_time], times]))
            before = np.concatenate([[previous_survival], survival[:-1]])
            area.add(widths * before)
            previous_time, previous_survival = float(times[-1]), float(survival[-1])
    return found, area.value() if restricted_mean else math.nan
