"""Choosing the schedule and the rate by maximum likelihood, against closed forms."""

from __future__ import annotations

import numpy as np
from scipy import stats

from sim.core.durations import DAY, HOUR
from sim.fit.schedule import MASKS, candidates, chi_square, fit_schedule, sessions_per_day


def _poisson_data(
    rates: np.ndarray, users: int, hours_each: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-user starts in each hour of the week over `hours_each` hours of exposure per hour of the week."""
    rng = np.random.default_rng(seed)
    exposure = np.full((users, 168), hours_each * HOUR)
    counts = rng.poisson(rates * exposure).astype(float)
    return counts, exposure


def test_a_fixed_schedule_rate_is_starts_over_exposure() -> None:
    counts = np.zeros(168)
    counts[:120] = 3.0
    exposure = np.full(168, 7200.0)
    found = {c.name: c for c in candidates(counts, exposure)}
    weekdays = found["weekdays"]
    assert np.allclose(weekdays.rates[:120], 3.0 / 7200.0) and not weekdays.rates[120:].any()
    assert sessions_per_day(weekdays) == 3.0 / 7200.0 * DAY
    assert found["business_hours"].log_likelihood == -np.inf  # starts at night
    profile = found["profile"]
    assert profile.parameters == 168 and np.allclose(profile.rates, counts / exposure)


def test_the_weekday_schedule_and_its_rate_are_recovered() -> None:
    """Starts at 2 per device and active day on weekdays only: weekdays wins over always and the profile,
    and the bootstrap interval covers 2 (fixed seed)."""
    rate = np.where(MASKS["weekdays"], 2.0 / DAY, 0.0)
    counts, exposure = _poisson_data(rate, users=200, hours_each=10.0, seed=1)
    fit = fit_schedule(counts, exposure, np.random.default_rng(2), bootstrap=300)
    assert fit.chosen.name == "weekdays" and fit.profile is None
    low, high = fit.sessions_per_day_ci
    assert low < 2.0 < high
    # the estimate is within its sampling error of the truth: the count is Poisson
    total = counts.sum()
    assert abs(fit.sessions_per_day - 2.0) < 4 * 2.0 / np.sqrt(total)
    assert fit.chi_square is not None and fit.chi_square[2] > 0.001


def test_a_profile_is_chosen_when_no_fixed_schedule_fits() -> None:
    weights = np.zeros(168)
    weights[[9, 10, 11, 33, 34, 130, 131, 150]] = [1, 2, 1, 3, 1, 2, 2, 1]
    counts, exposure = _poisson_data(weights * 1e-4, users=100, hours_each=8.0, seed=3)
    fit = fit_schedule(counts, exposure, np.random.default_rng(4), bootstrap=200)
    assert fit.chosen.name == "profile" and fit.profile is not None
    rows = np.array(fit.profile).reshape(-1)
    assert rows.max() == 1.0 and np.all(rows[weights == 0] == 0)
    # sessions per active day: starts per week of idle time over the 4 days with any weight
    expected = (weights * 1e-4).sum() * HOUR / 4
    error = expected / np.sqrt(counts.sum())  # the total is Poisson: its relative error is 1/sqrt(n)
    assert abs(fit.sessions_per_day - expected) < 3.29 * error
    # the bootstrap's interval has the width the Poisson error gives (users are alike here)
    width = fit.sessions_per_day_ci[1] - fit.sessions_per_day_ci[0]
    assert 0.7 < width / (2 * 1.96 * error) < 1.3
    assert fit.chi_square is not None and fit.chi_square[2] < 1e-6  # always, the best fixed one, is rejected


def test_the_chi_square_pools_hours_and_takes_off_the_fitted_rate() -> None:
    expected = np.full(168, 2.0)  # under 5: blocks of three hours
    counts = expected.copy()
    statistic, dof, pvalue = chi_square(counts, expected)
    assert statistic == 0 and dof == 56 - 2 and pvalue == 1.0
    assert stats.chi2.sf(0, dof) == 1.0
