"""Ranking and selection: Kim and Nelson's fully sequential procedure KN, and feasibility by one-sided bounds.

KN (S.-H. Kim and B. L. Nelson, "A fully sequential procedure for indifference-zone selection in
simulation", ACM Transactions on Modeling and Computer Simulation 11(3):251-273, 2001) selects the system
with the best mean among k with probability of correct selection at least 1 - alpha whenever the best is
at least `delta` (the indifference zone) better than every other, for normal observations with unknown,
unequal variances; observations of different systems may be correlated (common random numbers), because
the variances it estimates are those of the pairwise differences.

Procedure (written for the smallest mean; `minimize=False` negates the observations):

1. Setup: eta = ((2 alpha / (k - 1)) ** (-2 / (n0 - 1)) - 1) / 2 and h2 = 2 eta (n0 - 1).
2. Take n0 observations of every system; S2[i, l] is the sample variance of X_i - X_l over them.
3. Screening at stage r (r >= n0 observations of every survivor): system i is eliminated when
   mean_i(r) > mean_l(r) + W_il(r) for some other survivor l, with
   W_il(r) = max(0, delta / (2 r) * (h2 S2[i, l] / delta**2 - r)).
4. Stop when one survivor is left; otherwise take one more observation of every survivor (r + 1).

The procedure ends with probability one but has no fixed bound; `max_replications` truncates it (the
result then says so and names the survivors, which are statistically indistinguishable at that effort).

This module is pure (numpy and scipy only): the observations come from a callback, so the same code
selects among simulated candidates and among the cheap stand-in of the tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import stats

#: Replication values of a metric: a list or a numpy array.
Values = Sequence[float] | npt.NDArray[np.float64]
#: Observations of the survivors at replication r: (systems, r) -> one value per system, in that order.
Sampler = Callable[[Sequence[int], int], np.ndarray]


def kn_constants(k: int, n0: int, alpha: float) -> tuple[float, float]:
    """(eta, h2) of KN for k systems, n0 first-stage observations and error alpha."""
    if k < 2:
        return 0.0, 0.0
    if n0 < 2:
        raise ValueError("KN needs at least 2 first-stage observations of every system")
    eta = 0.5 * ((2.0 * alpha / (k - 1)) ** (-2.0 / (n0 - 1)) - 1.0)
    return eta, 2.0 * eta * (n0 - 1)


@dataclass
class KNResult:
    """The outcome of KN: the selected system, how many observations each got, when each left."""

    best: int
    #: Systems still in when the procedure stopped (one unless it was truncated at the cap).
    survivors: list[int]
    #: Observations taken of each system.
    replications: list[int]
    #: system -> the stage (observations per survivor) at which it was eliminated.
    eliminated: dict[int, int] = field(default_factory=dict)
    #: system -> the survivor that eliminated it.
    eliminated_by: dict[int, int] = field(default_factory=dict)
    eta: float = 0.0
    h2: float = 0.0
    n0: int = 0
    #: True when `max_replications` stopped it with more than one survivor (no guarantee then).
    truncated: bool = False
    means: list[float] = field(default_factory=list)


def kim_nelson(
    first: np.ndarray,
    sample: Sampler,
    delta: float,
    alpha: float = 0.05,
    max_replications: int = 1000,
    minimize: bool = True,
) -> KNResult:
    """Run KN on k systems from their first-stage observations `first` (k x n0, replication-aligned:
    column r of every row came from replication r, so common random numbers pair them).

    `sample(systems, r)` returns observation r of each listed system. Raises ValueError for fewer than
    two first-stage observations or a non-positive `delta`.
    """
    data = np.asarray(first, dtype=float)
    if data.ndim != 2:
        raise ValueError("first must be a k x n0 array")
    k, n0 = data.shape
    if delta <= 0:
        raise ValueError("the indifference zone delta must be above 0")
    sign = 1.0 if minimize else -1.0
    if k == 1:
        return KNResult(0, [0], [n0], n0=n0, means=[float(data[0].mean())])
    eta, h2 = kn_constants(k, n0, alpha)
    x = sign * data
    diffs = x[:, None, :] - x[None, :, :]
    s2 = diffs.var(axis=2, ddof=1)  # S2[i, l] of the first stage, fixed from here on
    columns = [x[:, r].copy() for r in range(n0)]
    sums = x.sum(axis=1)
    alive = list(range(k))
    counts = [n0] * k
    result = KNResult(best=-1, survivors=[], replications=counts, eta=eta, h2=h2, n0=n0)
    r = n0
    while True:
        means = sums / r
        old = list(alive)
        for i in old:
            for other in old:
                if other == i:
                    continue
                w = max(0.0, delta / (2.0 * r) * (h2 * s2[i, other] / delta**2 - r))
                if means[i] > means[other] + w:
                    alive.remove(i)
                    result.eliminated[i] = r
                    result.eliminated_by[i] = other
                    break
        if len(alive) == 1:
            break
        if r >= max_replications:
            result.truncated = True
            break
        values = sign * np.asarray(sample(alive, r), dtype=float)
        column = np.full(k, np.nan)
        column[alive] = values
        columns.append(column)
        for i, value in zip(alive, values, strict=True):
            sums[i] += value
            counts[i] += 1
        r += 1
    final = sums / np.asarray(counts, dtype=float)
    result.survivors = alive
    result.best = min(alive, key=lambda i: final[i])
    result.means = [float(sign * v) for v in final]
    return result


def one_sided_bound(values: Values, upper: bool, confidence: float = 0.95) -> float:
    """The one-sided `confidence` t bound of the mean (upper or lower); NaN with fewer than two values.

    With no spread at all the bound is the mean (no interval width: more replications may still vary).
    """
    data = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if len(data) < 2:
        return math.nan
    mean = float(data.mean())
    sem = float(data.std(ddof=1)) / math.sqrt(len(data))
    t = float(stats.t.ppf(confidence, df=len(data) - 1))
    return mean + t * sem if upper else mean - t * sem


@dataclass(frozen=True)
class Feasibility:
    """A requirement decided on one candidate (at one design point): `holds` when the one-sided 95% bound
    meets the threshold, `fails` when the opposite bound shows it cannot, `undecided` otherwise."""

    status: str
    mean: float
    bound: float
    replications: int
    #: Replications in which the metric had no value (e.g. a percentile the data never reached).
    missing: int = 0


def feasibility(values: Values, threshold: float, op: str, confidence: float = 0.95) -> Feasibility:
    """Decide `mean OP threshold` from replication values by one-sided `confidence` bounds.

    For `<`/`<=` the upper bound must be below (at) the threshold to hold; the requirement fails when the
    lower bound is above (at) it, i.e. it is violated with the same confidence. A metric without a value in
    some replication (NaN, e.g. a 95th percentile of a dwell that too few thefts reached) fails: it is not
    shown to hold; `mean` is then the mean of the replications that have a value and `missing` counts the
    others.
    """
    data = [v for v in values if not math.isnan(v)]
    if len(data) < len(values) or not data:
        mean = float(np.mean(data)) if data else math.nan
        return Feasibility("fails", mean, math.nan, len(values), missing=len(values) - len(data))
    mean = float(np.mean(data))
    upper = op.startswith("<")
    bound = one_sided_bound(data, upper, confidence)
    other = one_sided_bound(data, not upper, confidence)
    if math.isnan(bound):
        return Feasibility("undecided", mean, bound, len(data))
    strict = op in ("<", ">")
    meets = (bound < threshold if strict else bound <= threshold) if upper else (
        bound > threshold if strict else bound >= threshold)
    if meets:
        return Feasibility("holds", mean, bound, len(data))
    violated = other >= threshold if upper else other <= threshold
    return Feasibility("fails" if violated else "undecided", mean, bound, len(data))
