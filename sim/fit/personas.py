"""One persona fitted to its users' sessions: devices, schedule and rate, session duration, absences.

The steps, each documented in its module:
1. schedule and `sessions_per_day` by maximum likelihood on the idle exposure (sim/fit/schedule.py);
2. absences: gaps too long for that process (sim/fit/absences.py);
3. the schedule and rate again, with the absences taken out of the exposure, then the absences again
   with the new rate, and the rate a last time;
4. session duration (sim/fit/durations.py); devices per user: the observed counts (`empirical`).

Also a check of the process itself: the idle time before each session start, measured in the fitted
intensity (the expected number of starts), is exponential with mean 1 if the persona's users all follow
one Poisson process; a KS test (parameters estimated: the p-value is approximate) and its data are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from sim.fit.absences import AbsenceFit, find_absences
from sim.fit.activity import Absences, Intensity, Sessions, hour_counts, hour_exposure
from sim.fit.durations import DurationFit, fit_duration
from sim.fit.schedule import ScheduleFit, fit_schedule

#: Rounds of (rate, absences) before the final rate.
ROUNDS = 2
#: Idle periods that the trace's end could cut off with at least this probability are left out of the
#: check of the waits.
CENSORING = 1e-3


@dataclass
class DevicesFit:
    """Devices per user: the observed counts (users without a session count as one device)."""

    values: list[int]
    weights: list[int]
    mean: float
    mean_ci: tuple[float, float]

    @property
    def config(self) -> int | dict[str, Any]:
        """The persona's `devices` (a plain count when every user has the same number)."""
        if len(self.values) == 1:
            return self.values[0]
        return {"empirical": {"values": self.values, "weights": self.weights}}


@dataclass
class PersonaFit:
    """Everything fitted for one persona."""

    name: str
    users: list[str]
    sessions: int
    devices: DevicesFit
    schedule: ScheduleFit
    duration: DurationFit
    absences: AbsenceFit
    #: sessions per user and day with at least one session (descriptive)
    sessions_per_active_user_day: float
    #: the idle time before each start in units of the fitted intensity (Exp(1) under the model)
    waits: np.ndarray = field(repr=False)
    waits_ks: tuple[float, float] | None = None

    @property
    def config(self) -> dict[str, Any]:
        """The persona in its scenario YAML form."""
        persona: dict[str, Any] = {"name": self.name, "users": len(self.users)}
        persona["devices"] = self.devices.config
        persona["activity"] = {
            "schedule": self.schedule.schedule,
            "sessions_per_day": float(f"{self.schedule.sessions_per_day:.4g}"),
            "session_duration": self.duration.config,
        }
        absences = self.absences.config
        if absences is not None:
            persona["absences"] = absences
        return persona


def fit_devices(sessions: Sessions, rng: np.random.Generator, bootstrap: int = 400) -> DevicesFit:
    """The empirical distribution of devices per user, and a bootstrap interval of its mean."""
    counts = np.maximum(sessions.devices, 1)
    values, weights = np.unique(counts, return_counts=True)
    draws = [counts[rng.integers(0, len(counts), len(counts))].mean() for _ in range(bootstrap)]
    low, high = np.percentile(draws, [2.5, 97.5])
    return DevicesFit([int(v) for v in values], [int(w) for w in weights], float(counts.mean()),
                      (float(low), float(high)))


def _schedule(
    sessions: Sessions, absences: Absences, rng: np.random.Generator, bootstrap: int
) -> ScheduleFit:
    n = sessions.n_users
    event_user, event_time = sessions.events()
    idle_user, a, b = sessions.idle(absences)
    counts = hour_counts(event_user, event_time, n)
    exposure = hour_exposure(idle_user, a, b, n)
    return fit_schedule(counts, exposure, rng, bootstrap)


def _waits(sessions: Sessions, absences: Absences, intensity: Intensity) -> np.ndarray:
    """The idle time before each session start (but a device's first), in expected starts.

    Only idle periods that begin long enough before the trace's end to be seen whole with probability
    at least 1 - CENSORING are kept: the end of the trace would otherwise cut off the long ones.
    """
    _, a, b = sessions.idle(absences)
    _, event_time = sessions.events()
    remaining = intensity.integral(np.full(len(a), sessions.span)) - intensity.integral(a)
    seen_whole = remaining > -np.log(CENSORING)
    ends_at_start = np.isin(b, event_time) & seen_whole
    return intensity.integral(b[ends_at_start]) - intensity.integral(a[ends_at_start])


def fit_persona(name: str, sessions: Sessions, rng: np.random.Generator, bootstrap: int = 400) -> PersonaFit:
    """Fit one persona to its users' sessions (see the module's steps)."""
    absences = Absences.none()
    schedule = _schedule(sessions, absences, rng, bootstrap)
    found: AbsenceFit | None = None
    for _ in range(ROUNDS):
        found = find_absences(sessions, Intensity(schedule.chosen.rates), rng, bootstrap)
        absences = found.absences
        schedule = _schedule(sessions, absences, rng, bootstrap)
    assert found is not None
    duration = fit_duration(sessions.durations, sessions.user, rng, bootstrap=bootstrap)
    days = np.floor(sessions.start / 86400.0).astype(np.int64)
    user_days = len(set(zip(sessions.user.tolist(), days.tolist(), strict=True)))
    waits = _waits(sessions, absences, Intensity(schedule.chosen.rates))
    waits_ks = None
    if len(waits) >= 20:
        test = stats.kstest(waits, "expon")
        waits_ks = (float(test.statistic), float(test.pvalue))
    return PersonaFit(
        name=name,
        users=list(sessions.names),
        sessions=len(sessions.start),
        devices=fit_devices(sessions, rng, bootstrap),
        schedule=schedule,
        duration=duration,
        absences=found,
        sessions_per_active_user_day=len(sessions.start) / user_days if user_days else 0.0,
        waits=waits,
        waits_ks=waits_ks,
    )
