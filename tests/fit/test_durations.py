"""Fitting a duration distribution: maximum likelihood against closed forms, and what happens when no
family of the scenario language fits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.core.durations import parse_duration
from sim.fit.durations import fit_duration

Z = 3.29  # two-sided 99.9%: the estimates are checked against their sampling error at this level


def test_a_lognormal_is_recovered_and_used() -> None:
    rng = np.random.default_rng(5)
    n, median, sigma = 4000, 3600.0, 0.8
    x = rng.lognormal(math.log(median), sigma, n)
    fit = fit_duration(x, rng.integers(0, 400, n), np.random.default_rng(6), bootstrap=200)
    assert fit.kind == "lognormal" and not fit.rejected
    params = fit.config["lognormal"]
    # the MLE of log(median) is the mean of the logs: standard error sigma / sqrt(n)
    assert abs(math.log(fit.median) - math.log(median)) < Z * sigma / math.sqrt(n)
    assert abs(params["sigma"] - sigma) < Z * sigma / math.sqrt(2 * n)
    assert fit.median_ci[0] < fit.median < fit.median_ci[1]
    assert fit.ks is not None and fit.ks[1] > 0.001


def test_an_exponential_is_recovered_and_used() -> None:
    rng = np.random.default_rng(7)
    n = 3000
    x = rng.exponential(600.0, n)
    fit = fit_duration(x, np.arange(n), np.random.default_rng(8), bootstrap=200)
    assert fit.kind == "exponential"
    assert abs(fit.median / math.log(2) - 600.0) < Z * 600.0 / math.sqrt(n)


def test_a_bimodal_duration_is_not_forced_into_a_family() -> None:
    rng = np.random.default_rng(9)
    x = np.concatenate([rng.lognormal(math.log(60), 0.2, 1500), rng.lognormal(math.log(7200), 0.2, 1500)])
    fit = fit_duration(x, np.arange(len(x)), np.random.default_rng(10), bootstrap=100)
    assert fit.rejected and fit.kind == "empirical"
    values = fit.config["empirical"]["values"]
    assert len(values) == 100
    assert fit.ks is not None and fit.ks[1] < 0.01


@pytest.mark.parametrize(("values", "kind"), [([5.0] * 10, "fixed"), ([0.0, 10.0, 20.0, 30.0], "empirical")])
def test_fixed_and_zero_durations(values: list[float], kind: str) -> None:
    fit = fit_duration(np.array(values), np.arange(len(values)), np.random.default_rng(1), bootstrap=20)
    assert fit.kind == kind


def test_uniform_absences_are_recognised() -> None:
    rng = np.random.default_rng(11)
    days = 86400.0
    x = rng.uniform(7 * days, 21 * days, 300)
    fit = fit_duration(x, np.arange(300), np.random.default_rng(12), families=("lognormal", "exponential",
                                                                               "uniform"), bootstrap=100)
    assert fit.kind == "uniform"
    low, high = (parse_duration(fit.config["uniform"][k]) for k in ("low", "high"))
    assert low % 3600 == 0 and high % 3600 == 0  # durations above two days are in whole hours
    assert 7 * days <= low < high <= 21 * days
