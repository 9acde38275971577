"""A duration distribution fitted by maximum likelihood (scipy.stats), chosen by AIC, with its tests.

Families: `lognormal` and `exponential` (and `uniform` for absences), which the scenario language has,
and `gamma` and `weibull`, which it does not: they are fitted too so the report can say when one of
them would describe the data better. The scenario gets the expressible family with the lowest AIC,
unless its Kolmogorov-Smirnov test rejects it at the 1% level: then it gets the data's own quantiles
(`empirical`, 100 values of equal weight) and the report says that the parametric model does not fit.

The KS p-value is computed by `scipy.stats.goodness_of_fit`, a parametric bootstrap that refits the
parameters on every simulated sample, so it is valid although the parameters were estimated from the
same data (the plain KS table would be too lenient). Above `MAX_TEST_SAMPLE` values the test uses a
random subsample of that size (with tens of thousands of sessions every parametric model is rejected
for differences too small to matter, and the bootstrap would take long).

The median's interval is a bootstrap over users (the unit the sessions were drawn from).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from sim.core.distributions import duration_config

#: Families the scenario language can express, and those fitted only for comparison.
EXPRESSIBLE = ("lognormal", "exponential", "uniform")
COMPARISON = ("gamma", "weibull")
#: KS p-value under which the best expressible family is rejected (the empirical distribution is used).
REJECT_AT = 0.01
MAX_TEST_SAMPLE = 2000
QUANTILES = 100


@dataclass
class FamilyFit:
    """One family's maximum-likelihood fit."""

    family: str
    params: dict[str, float]
    log_likelihood: float
    parameters: int
    expressible: bool

    @property
    def aic(self) -> float:
        """Akaike's information criterion (lower is better)."""
        return 2 * self.parameters - 2 * self.log_likelihood

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """The fitted distribution function."""
        return _frozen(self.family, self.params).cdf(x)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """The fitted density."""
        return _frozen(self.family, self.params).pdf(x)

    @property
    def median(self) -> float:
        """The fitted median (seconds)."""
        return float(_frozen(self.family, self.params).median())


@dataclass
class DurationFit:
    """The fitted duration: the scenario's distribution, every family tried, the tests, the median."""

    n: int
    #: the distribution written into the scenario (YAML form)
    config: Any
    #: "lognormal", "exponential", "uniform", "empirical" or "fixed"
    kind: str
    families: list[FamilyFit]
    #: KS test of the best expressible family: statistic, p-value, sample size used
    ks: tuple[float, float, int] | None
    #: True when the best expressible family is rejected (the scenario uses the empirical quantiles)
    rejected: bool
    median: float
    median_ci: tuple[float, float]
    #: the data's own median
    sample_median: float
    #: the best family overall (by AIC), when it is not expressible
    better_unexpressible: FamilyFit | None = None
    values: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)

    @property
    def best(self) -> FamilyFit | None:
        """The expressible family with the lowest AIC."""
        fits = [f for f in self.families if f.expressible]
        return min(fits, key=lambda f: f.aic) if fits else None


def _frozen(family: str, params: dict[str, float]) -> Any:
    if family == "lognormal":
        return stats.lognorm(params["sigma"], scale=params["median"])
    if family == "exponential":
        return stats.expon(scale=params["mean"])
    if family == "uniform":
        return stats.uniform(params["low"], params["high"] - params["low"])
    if family == "gamma":
        return stats.gamma(params["shape"], scale=params["scale"])
    if family == "weibull":
        return stats.weibull_min(params["shape"], scale=params["scale"])
    raise ValueError(f"unknown family {family!r}")


def _fit_family(family: str, x: np.ndarray) -> FamilyFit | None:
    """The maximum-likelihood fit of one family (location fixed at 0), or None when it cannot be fitted."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if family == "lognormal":
            logs = np.log(x)
            params = {"median": float(np.exp(logs.mean())), "sigma": float(logs.std())}
            k = 2
        elif family == "exponential":
            params = {"mean": float(x.mean())}
            k = 1
        elif family == "uniform":
            if x.max() <= x.min():
                return None
            params = {"low": float(x.min()), "high": float(x.max())}
            k = 2
        elif family == "gamma":
            shape, _, scale = stats.gamma.fit(x, floc=0)
            params = {"shape": float(shape), "scale": float(scale)}
            k = 2
        else:
            shape, _, scale = stats.weibull_min.fit(x, floc=0)
            params = {"shape": float(shape), "scale": float(scale)}
            k = 2
        if family == "lognormal" and params["sigma"] <= 0:
            return None
        log_likelihood = float(np.sum(_frozen(family, params).logpdf(x)))
    if not math.isfinite(log_likelihood):
        return None
    return FamilyFit(family, params, log_likelihood, k, family in EXPRESSIBLE)


def _ks(family: str, x: np.ndarray, rng: np.random.Generator, samples: int) -> tuple[float, float, int]:
    """KS statistic and Monte Carlo p-value with the parameters re-estimated on every sample."""
    if len(x) > MAX_TEST_SAMPLE:
        x = rng.choice(x, MAX_TEST_SAMPLE, replace=False)
    if family == "uniform":  # its maximum-likelihood ends are the sample's extremes: test its shape plainly
        result = stats.kstest(x, stats.uniform(x.min(), x.max() - x.min()).cdf)
        return float(result.statistic), float(result.pvalue), len(x)
    dist = stats.lognorm if family == "lognormal" else stats.expon
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.goodness_of_fit(
            dist, x, known_params={"loc": 0}, statistic="ks", n_mc_samples=samples, rng=rng
        )
    return float(result.statistic), float(result.pvalue), len(x)


def _config(family: FamilyFit) -> Any:
    p = family.params
    if family.family == "lognormal":
        return {"lognormal": {"median": _seconds(p["median"]), "sigma": round(p["sigma"], 4)}}
    if family.family == "exponential":
        return {"exponential": {"mean": _seconds(p["mean"])}}
    return {"uniform": {"low": _seconds(p["low"]), "high": _seconds(p["high"])}}


def _seconds(value: float) -> str | float:
    """A duration in its YAML form, rounded to what matters: a tenth of a second below a minute, whole
    seconds below an hour, whole minutes below two days, whole hours above."""
    for unit, above in ((3600.0, 2 * 86400.0), (60.0, 3600.0), (1.0, 60.0)):
        if value >= above:
            return duration_config(float(round(value / unit) * unit))
    return duration_config(round(value, 1))


def empirical_config(x: np.ndarray, quantiles: int = QUANTILES) -> dict[str, Any]:
    """The data's quantiles as an `empirical` distribution of equal weights."""
    quantiles = max(1, min(quantiles, len(x)))
    probabilities = (np.arange(quantiles) + 0.5) / quantiles
    values = np.quantile(x, probabilities)
    return {"empirical": {"values": [_seconds(float(v)) for v in values]}}


def fit_duration(
    values: np.ndarray,
    groups: np.ndarray,
    rng: np.random.Generator,
    families: Sequence[str] = ("lognormal", "exponential"),
    bootstrap: int = 400,
    mc_samples: int = 199,
    quantiles: int = QUANTILES,
) -> DurationFit:
    """Fit durations (seconds) whose `groups` are the users they belong to (for the bootstrap)."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n == 0:
        raise ValueError("no durations to fit")
    sample_median = float(np.median(x))
    if np.all(x == x[0]):
        return DurationFit(n, _seconds(float(x[0])), "fixed", [], None, False, float(x[0]),
                           (float(x[0]), float(x[0])), sample_median, values=x)
    positive = x[x > 0]
    fits: list[FamilyFit] = []
    if len(positive) == n and n >= 2:
        for family in (*families, *COMPARISON):
            fit = _fit_family(family, positive)
            if fit is not None:
                fits.append(fit)
    expressible = [f for f in fits if f.expressible]
    best = min(expressible, key=lambda f: f.aic) if expressible else None
    ks = _ks(best.family, positive, rng, mc_samples) if best is not None else None
    rejected = best is None or (ks is not None and ks[1] < REJECT_AT)
    if rejected:
        config, kind = empirical_config(x, quantiles), "empirical"
    else:
        assert best is not None
        config, kind = _config(best), best.family
    overall = min(fits, key=lambda f: f.aic) if fits else None
    better = overall if overall is not None and not overall.expressible else None
    median = sample_median if rejected or best is None else best.median
    low, high = _median_interval(x, groups, rng, bootstrap, None if rejected else best)
    return DurationFit(n, config, kind, fits, ks, rejected, median, (low, high), sample_median, better, x)


def _median_interval(
    x: np.ndarray, groups: np.ndarray, rng: np.random.Generator, bootstrap: int, family: FamilyFit | None
) -> tuple[float, float]:
    """A percentile bootstrap over groups (users) of the fitted median (or of the sample median)."""
    _, group = np.unique(groups, return_inverse=True)
    n_groups = int(group.max()) + 1
    order = np.argsort(x, kind="stable")
    sorted_x, sorted_group = x[order], group[order]
    logs = np.bincount(group, weights=np.log(np.maximum(x, 1e-300)), minlength=n_groups)
    sums = np.bincount(group, weights=x, minlength=n_groups)
    counts = np.bincount(group, minlength=n_groups).astype(float)
    draws = []
    for _ in range(bootstrap):
        weight = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups).astype(float)
        total = weight @ counts
        if total == 0:
            continue
        if family is not None and family.family == "lognormal":
            draws.append(math.exp((weight @ logs) / total))
        elif family is not None and family.family == "exponential":
            draws.append(math.log(2) * (weight @ sums) / total)
        else:
            cumulative = np.cumsum(weight[sorted_group])
            draws.append(float(sorted_x[np.searchsorted(cumulative, total / 2)]))
    if not draws:
        return (float("nan"), float("nan"))
    low, high = np.percentile(draws, [2.5, 97.5])
    return float(low), float(high)
