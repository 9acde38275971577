"""Absences found in a trace: a user's gaps too long for the fitted session process.

Between two consecutive sessions of a user (all devices together; also before the first and after the
last), the fitted process expects `mu = r_u * d_u * integral of the intensity over the gap` session
starts: d_u the user's devices, r_u the user's own activity relative to the persona's
(`(starts + 0.5) / (expected starts + 0.5)`). A gap is an absence when a gap that long would happen
with probability `exp(-mu) < ALPHA` and it lasts at least `MIN_DAYS`. Its estimated interval leaves out
the expected wait before it and after it (the time in which the process expects one start), so its
duration is the gap less about two mean waits. Gaps at the trace's ends are counted but give no
duration (they are cut by the trace).

Approximations, stated in the report: absences shorter than the detection threshold are not found
(for rarely active users the threshold is long), so `per_year` is biased low and the durations high
when absences are short compared with the time between sessions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.core.durations import DAY
from sim.fit.activity import Absences, Intensity, Sessions
from sim.fit.durations import DurationFit, fit_duration

YEAR = 365 * DAY
#: A gap is an absence when the fitted process gives it at most this probability ...
ALPHA = 1e-4
#: ... and it lasts at least this many days.
MIN_DAYS = 3.0
#: Fewer detected absences than this: their durations are used as they are (empirical), not fitted.
MIN_TO_FIT = 8


@dataclass
class AbsenceFit:
    """Absences found in a group's sessions and what the scenario gets from them."""

    absences: Absences
    count: int
    #: absences per user and year, with a bootstrap interval over users
    per_year: float
    per_year_ci: tuple[float, float]
    #: durations of the absences inside the trace (seconds), and their fitted distribution
    durations: np.ndarray
    duration: DurationFit | None
    #: gaps shorter than this many seconds cannot be told from ordinary gaps, for the median user
    typical_threshold: float

    @property
    def config(self) -> dict | None:
        """The scenario's `absences` section (None: no absence found)."""
        if self.count == 0 or self.per_year <= 0:
            return None
        section: dict = {"per_year": float(f"{self.per_year:.4g}")}
        if self.duration is not None:
            section["duration"] = self.duration.config
        return section


def find_absences(
    sessions: Sessions, intensity: Intensity, rng: np.random.Generator, bootstrap: int = 400
) -> AbsenceFit:
    """Find the absences of a group of users under the fitted per-device intensity."""
    n_users = sessions.n_users
    event_user, _ = sessions.events()
    starts = np.bincount(event_user, minlength=n_users).astype(float)
    idle_user, a, b = sessions.idle()
    expected_per_user = np.bincount(
        idle_user, weights=intensity.integral(b) - intensity.integral(a), minlength=n_users
    )
    multiplier = (starts + 0.5) / (expected_per_user + 0.5)
    user, gap_a, gap_b, interior = _user_gaps(sessions)
    devices = np.maximum(sessions.devices[user], 1)
    scale = multiplier[user] * devices  # the user's intensity, relative to one device of the persona
    mu = scale * (intensity.integral(gap_b) - intensity.integral(gap_a))
    absent = (mu > -math.log(ALPHA)) & (gap_b - gap_a >= MIN_DAYS * DAY)
    user, gap_a, gap_b, interior, scale = (v[absent] for v in (user, gap_a, gap_b, interior, scale))
    # the absence leaves out the expected wait for one start before and after it
    wait = 1.0 / scale
    start = intensity.inverse(intensity.integral(gap_a) + wait)
    end = np.where(
        interior, intensity.inverse(np.maximum(intensity.integral(gap_b) - wait, 1e-9)), gap_b
    )
    end = np.maximum(end, start)
    found = Absences(user.astype(np.int64), start, end)
    count = len(user)
    first = np.full(n_users, sessions.span)
    np.minimum.at(first, sessions.user, sessions.start)
    years = float(np.sum(sessions.span - first)) / YEAR  # users are seen from their first session
    per_user = np.bincount(user, minlength=n_users).astype(float)
    draws = [per_user[rng.integers(0, n_users, n_users)].sum() / years for _ in range(bootstrap)]
    low, high = np.percentile(draws, [2.5, 97.5]) if draws else (0.0, 0.0)
    inside = (end - start)[interior & (end > start)]
    duration = None
    if len(inside) >= MIN_TO_FIT:
        duration = fit_duration(inside, user[interior & (end > start)], rng,
                                families=("lognormal", "exponential", "uniform"), bootstrap=bootstrap,
                                quantiles=20)
    elif len(inside):
        duration = fit_duration(inside, user[interior & (end > start)], rng, families=(), bootstrap=bootstrap,
                                quantiles=20)
    per_device = intensity.per_week / (7 * DAY)
    typical = float(np.median(multiplier * np.maximum(sessions.devices, 1))) * per_device
    threshold = -math.log(ALPHA) / typical if typical > 0 else math.inf
    return AbsenceFit(found, count, count / years if years else 0.0, (float(low), float(high)),
                      inside, duration, max(threshold, MIN_DAYS * DAY))


def _user_gaps(sessions: Sessions) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every user's gaps between sessions (all devices merged) and after the last one, to the trace's end:
    (user, start, end, interior). Users are seen from their first session on, as devices are in the rate's
    exposure, so the time before it is no gap; users without a session have none."""
    import pandas as pd

    order = np.lexsort((sessions.start, sessions.user))
    user, start, end = sessions.user[order], sessions.start[order], sessions.end[order]
    n = len(user)
    if n == 0:
        empty = np.empty(0)
        return np.empty(0, dtype=np.int64), empty, empty, np.empty(0, dtype=bool)
    ends = pd.Series(end).groupby(user).cummax().to_numpy()  # a user's busy time so far
    last = np.r_[user[1:] != user[:-1], True]
    following = np.r_[start[1:], np.inf]
    gap = ~last & (following > ends)
    index = np.flatnonzero(gap)
    result_user = np.r_[user[index], user[last]].astype(np.int64)
    a = np.r_[ends[index], ends[last]]
    b = np.r_[start[index + 1], np.full(int(last.sum()), sessions.span)]
    interior = np.r_[np.ones(len(index), dtype=bool), np.zeros(int(last.sum()), dtype=bool)]
    keep = b > a
    return result_user[keep], a[keep], b[keep], interior[keep]
