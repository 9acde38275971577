"""The weekly schedule and the session rate: maximum likelihood on the idle exposure (sim/fit/activity.py).

Candidates: the three fixed schedules (one rate over their windows, zero elsewhere: 1 parameter) and a
weekly profile (one rate per hour of the week with any exposure: up to 168 parameters). The
log-likelihood of a Poisson process with intensity `l_h` over exposure `E_h` with `C_h` events is
`sum_h C_h log l_h - l_h E_h`; the schedule with the lowest AIC (`2k - 2 logL`) is chosen. A fixed
schedule that gives zero rate to an hour with session starts has likelihood zero and is never chosen.

The fitted `sessions_per_day` follows the scenario language: for a fixed schedule, the rate times the
active seconds per active day (24 h, or 10 h for business_hours); for a profile, starts per week of idle
time divided by the number of active days (sim/model/schedule.py `ProfileSchedule`). Its interval is a
bootstrap over users (so differences between users of one persona widen it, as they should).

Goodness of fit: a chi-square test of the hour-of-week starts against the fixed schedule's expected
counts (`E_h * rate`), with hours pooled into blocks so that every expected count is at least 5. The
rate is estimated from the same data, so one degree of freedom is taken off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from sim.core.durations import DAY, HOUR
from sim.fit.activity import HOURS

#: The fixed schedules as 0/1 masks over the 168 hours of the week, and their active seconds per day.
_DAYS = np.arange(HOURS) // 24
_HOUR = np.arange(HOURS) % 24
MASKS: dict[str, np.ndarray] = {
    "always": np.ones(HOURS, dtype=bool),
    "weekdays": _DAYS < 5,
    "business_hours": (_DAYS < 5) & (_HOUR >= 8) & (_HOUR < 18),
}
ACTIVE_PER_DAY = {"always": DAY, "weekdays": DAY, "business_hours": 10 * HOUR}


@dataclass
class Candidate:
    """One schedule's fit: its rates per hour, log-likelihood, parameters and AIC."""

    name: str
    rates: np.ndarray
    log_likelihood: float
    parameters: int

    @property
    def aic(self) -> float:
        """Akaike's information criterion (lower is better)."""
        return 2 * self.parameters - 2 * self.log_likelihood


@dataclass
class ScheduleFit:
    """The chosen schedule and rate, every candidate, the interval and the goodness of fit."""

    chosen: Candidate
    candidates: list[Candidate]
    sessions_per_day: float
    sessions_per_day_ci: tuple[float, float]
    #: the chosen profile's relative rates, 7 rows of 24 (None for a fixed schedule)
    profile: list[list[float | int]] | None
    #: chi-square of the best fixed schedule: statistic, degrees of freedom, p-value (None: too few data)
    chi_square: tuple[float, int, float] | None
    chi_square_schedule: str
    counts: np.ndarray = field(repr=False)
    exposure: np.ndarray = field(repr=False)

    @property
    def schedule(self) -> str | dict[str, Any]:
        """The `activity.schedule` value of the scenario."""
        if self.profile is None:
            return self.chosen.name
        return {"profile": self.profile}


def _log_likelihood(counts: np.ndarray, exposure: np.ndarray, rates: np.ndarray) -> float:
    if np.any((counts > 0) & (rates <= 0)):
        return -np.inf
    positive = rates > 0
    return float(np.sum(counts[positive] * np.log(rates[positive])) - np.sum(rates * exposure))


def candidates(counts: np.ndarray, exposure: np.ndarray) -> list[Candidate]:
    """Every schedule fitted to hour-of-week starts `counts` over idle `exposure` (seconds), both (168,)."""
    found = []
    for name, mask in MASKS.items():
        total = exposure[mask].sum()
        rate = counts[mask].sum() / total if total > 0 else 0.0
        rates = np.where(mask, rate, 0.0)
        found.append(Candidate(name, rates, _log_likelihood(counts, exposure, rates), 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = np.where(exposure > 0, counts / exposure, 0.0)
    profile_ll = _log_likelihood(counts, exposure, rates)
    found.append(Candidate("profile", rates, profile_ll, int((exposure > 0).sum())))
    return found


def sessions_per_day(candidate: Candidate) -> float:
    """The scenario's `sessions_per_day` for a fitted candidate."""
    if candidate.name in ACTIVE_PER_DAY:
        rate = candidate.rates[MASKS[candidate.name]]
        return float(rate[0] * ACTIVE_PER_DAY[candidate.name]) if len(rate) else 0.0
    days = (candidate.rates.reshape(7, 24) > 0).any(axis=1).sum()
    return float(candidate.rates.sum() * HOUR / max(1, days))


def profile_rows(rates: np.ndarray) -> list[list[float | int]]:
    """A profile's relative rates, scaled so the busiest hour is 1, to 3 significant digits (0 and 1 as
    whole numbers)."""
    top = rates.max()
    scaled = rates / top if top > 0 else rates
    rows = []
    for row in scaled.reshape(7, 24):
        values = [float(f"{value:.3g}") for value in row]
        rows.append([int(v) if v in (0.0, 1.0) else v for v in values])
    return rows


def chi_square(counts: np.ndarray, expected: np.ndarray, fitted: int = 1) -> tuple[float, int, float] | None:
    """Pearson's chi-square of `counts` against `expected` over the hours where `expected` > 0, pooling
    consecutive hours until each block expects at least 5; `fitted` parameters were estimated."""
    blocks_observed, blocks_expected = [], []
    observed_sum = expected_sum = 0.0
    for o, e in zip(counts.tolist(), expected.tolist(), strict=True):
        if e <= 0:
            continue
        observed_sum += o
        expected_sum += e
        if expected_sum >= 5:
            blocks_observed.append(observed_sum)
            blocks_expected.append(expected_sum)
            observed_sum = expected_sum = 0.0
    if expected_sum > 0 and blocks_expected:
        blocks_observed[-1] += observed_sum
        blocks_expected[-1] += expected_sum
    dof = len(blocks_expected) - 1 - fitted
    if dof < 1:
        return None
    o, e = np.asarray(blocks_observed), np.asarray(blocks_expected)
    statistic = float(np.sum((o - e) ** 2 / e))
    return statistic, dof, float(stats.chi2.sf(statistic, dof))


def fit_schedule(
    counts: np.ndarray, exposure: np.ndarray, rng: np.random.Generator, bootstrap: int = 400
) -> ScheduleFit:
    """Choose the schedule and rate from per-user hour-of-week starts and idle exposure, (n_users, 168)."""
    total_counts, total_exposure = counts.sum(axis=0), exposure.sum(axis=0)
    if total_counts.sum() == 0:
        return _no_repeat(total_counts, total_exposure)
    found = candidates(total_counts, total_exposure)
    chosen = min(found, key=lambda c: (c.aic, c.parameters))
    spd = sessions_per_day(chosen)
    n = counts.shape[0]
    draws = []
    for _ in range(bootstrap):
        pick = rng.integers(0, n, n)
        c, e = counts[pick].sum(axis=0), exposure[pick].sum(axis=0)
        if chosen.name in MASKS:
            mask = MASKS[chosen.name]
            total = e[mask].sum()
            rates = np.where(mask, c[mask].sum() / total if total > 0 else 0.0, 0.0)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                rates = np.where(e > 0, c / e, 0.0)
        draws.append(sessions_per_day(Candidate(chosen.name, rates, 0.0, chosen.parameters)))
    low, high = np.percentile(draws, [2.5, 97.5]) if draws else (spd, spd)
    fixed = [c for c in found if c.name in MASKS and np.isfinite(c.log_likelihood)]
    best_fixed = min(fixed, key=lambda c: c.aic) if fixed else None
    chi = chi_square(total_counts, best_fixed.rates * total_exposure) if best_fixed is not None else None
    return ScheduleFit(
        chosen=chosen,
        candidates=found,
        sessions_per_day=spd,
        sessions_per_day_ci=(float(low), float(high)),
        profile=profile_rows(chosen.rates) if chosen.name == "profile" else None,
        chi_square=chi,
        chi_square_schedule=best_fixed.name if best_fixed is not None else "",
        counts=total_counts,
        exposure=total_exposure,
    )


def _no_repeat(counts: np.ndarray, exposure: np.ndarray) -> ScheduleFit:
    """No device started a second session: the maximum-likelihood rate is 0, which no scenario can
    have. The persona gets `always` at half an event over the exposure (a rate the data cannot tell
    from 0), and the interval is the exact Poisson one for no event (up to 3.69 events)."""
    total = float(exposure.sum())
    per_second = 0.5 / total if total > 0 else 1.0 / DAY
    rates = np.full(HOURS, per_second)
    chosen = Candidate("always", rates, _log_likelihood(counts, exposure, rates), 1)
    high = 3.69 / total * DAY if total > 0 else float("inf")
    return ScheduleFit(chosen=chosen, candidates=[chosen], sessions_per_day=per_second * DAY,
                       sessions_per_day_ci=(0.0, high), profile=None, chi_square=None, chi_square_schedule="",
                       counts=counts, exposure=exposure)
