"""When users are active: weekly schedules and absences, for drawing Poisson session starts.

Time zero is a Monday 00:00. `sessions_per_day` is the rate per *active day*: a day of 24 hours for
`always` and `weekdays`, the 10 hours 08:00-18:00 for `business_hours`. Session starts form a Poisson
process in active time; absences remove whole intervals (a start that falls in one is dropped and the
process restarts at the absence's end, which is exact for a memoryless process).

A weekly profile (`schedule: {profile: ...}`, `ProfileSchedule`) makes the rate vary by the hour of the
week: active time then runs at a speed proportional to the hour's weight, scaled so that an active day
(a weekday whose row is not all zero) holds on average one day of active time. The fixed schedules are
profiles of 0s and 1s (`business_hours` is 1 from 08:00 to 18:00 on weekdays), and give the same starts.
"""

from __future__ import annotations

import bisect
import math
from typing import TYPE_CHECKING

import numpy as np

from sim.core.durations import DAY, HOUR, WEEK

if TYPE_CHECKING:
    from sim.scenario.activity import WeeklyProfile

#: Active windows within a week, in seconds from Monday 00:00, and active seconds per active day.
SCHEDULES: dict[str, tuple[tuple[tuple[float, float], ...], float]] = {
    "always": (((0.0, WEEK),), DAY),
    "weekdays": (((0.0, 5 * DAY),), DAY),
    "business_hours": (tuple((d * DAY + 8 * HOUR, d * DAY + 18 * HOUR) for d in range(5)), 10 * HOUR),
}


class WeeklySchedule:
    """Maps active time onto wall-clock time for one of the SCHEDULES."""

    def __init__(self, name: str):
        self.name = name
        self.windows, self.active_per_day = SCHEDULES[name]
        self.active_per_week = sum(end - start for start, end in self.windows)

    def advance(self, t: float, active: float) -> float:
        """The wall-clock time at which `active` seconds of active time have passed after `t`."""
        weeks = math.floor(active / self.active_per_week)
        t += weeks * WEEK
        active -= weeks * self.active_per_week
        week_start = math.floor(t / WEEK) * WEEK
        pos = t - week_start
        while True:
            for start, end in self.windows:
                if pos >= end:
                    continue
                begin = max(pos, start)
                available = end - begin
                if active <= available:
                    return week_start + begin + active
                active -= available
            week_start += WEEK
            pos = 0.0

    def active_seconds(self, t0: float, t1: float) -> float:
        """Active seconds between two wall-clock times (used by closed-form checks)."""
        total = 0.0
        week_start = math.floor(t0 / WEEK) * WEEK
        while week_start < t1:
            for start, end in self.windows:
                lo = max(t0, week_start + start)
                hi = min(t1, week_start + end)
                if hi > lo:
                    total += hi - lo
            week_start += WEEK
        return total


class ProfileSchedule:
    """Maps active time onto wall-clock time for a weekly profile of hourly weights (`WeeklyProfile`).

    Hour k of the week (Monday 00:00-01:00 is 0) runs active time at speed `w_k * 24 * A / sum(w)`,
    A the number of active days, so a week holds A days of active time, as with a fixed schedule.
    """

    name = "profile"

    def __init__(self, profile: WeeklyProfile):
        weights = np.asarray(profile.profile, dtype=float).reshape(-1)
        self.active_days = profile.active_days
        self.speeds = (weights * 24 * self.active_days / weights.sum()).tolist()
        # active seconds from the week's start to the start of each hour, and to the week's end
        self.cumulative = [0.0]
        for speed in self.speeds:
            self.cumulative.append(self.cumulative[-1] + speed * HOUR)
        self.active_per_day = DAY
        self.active_per_week = self.cumulative[-1]

    def _active_at(self, t: float) -> float:
        """Active seconds from time zero to `t`."""
        weeks = math.floor(t / WEEK)
        pos = t - weeks * WEEK
        hour = min(int(pos // HOUR), 167)
        return weeks * self.active_per_week + self.cumulative[hour] + self.speeds[hour] * (pos - hour * HOUR)

    def advance(self, t: float, active: float) -> float:
        """The wall-clock time at which `active` seconds of active time have passed after `t`."""
        if active <= 0:
            return t
        target = self._active_at(t) + active
        weeks = math.floor(target / self.active_per_week)
        within = target - weeks * self.active_per_week
        if within <= 0:  # exactly at a week's boundary of active time: the end of the previous week's last
            weeks -= 1  # active hour
            within = self.active_per_week
        hour = bisect.bisect_left(self.cumulative, within) - 1  # cumulative[hour] < within <= next
        return weeks * WEEK + hour * HOUR + (within - self.cumulative[hour]) / self.speeds[hour]

    def active_seconds(self, t0: float, t1: float) -> float:
        """Active seconds between two wall-clock times (used by closed-form checks)."""
        return self._active_at(t1) - self._active_at(t0)


def make_schedule(schedule: str | WeeklyProfile) -> WeeklySchedule | ProfileSchedule:
    """The schedule object of an activity's `schedule` (a fixed schedule's name or a weekly profile)."""
    return WeeklySchedule(schedule) if isinstance(schedule, str) else ProfileSchedule(schedule)


class Absences:
    """A user's absence intervals (sorted, merged), drawn once up to the horizon."""

    def __init__(self, intervals: list[tuple[float, float]]):
        merged: list[tuple[float, float]] = []
        for start, end in sorted(intervals):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        self.intervals = merged
        self._starts = [start for start, _ in merged]

    @classmethod
    def draw(cls, rng: np.random.Generator, per_year: float, duration, horizon: float) -> Absences:
        """Poisson absence starts at `per_year` a year, each lasting a draw of `duration`."""
        if per_year <= 0:
            return cls([])
        rate = per_year / (365 * DAY)
        intervals = []
        t = rng.exponential(1 / rate)
        while t < horizon:
            intervals.append((t, t + duration.sample(rng)))
            t += rng.exponential(1 / rate)
        return cls(intervals)

    def containing(self, t: float) -> tuple[float, float] | None:
        """The absence that covers time t, if any."""
        i = bisect.bisect_right(self._starts, t) - 1
        if i >= 0 and self.intervals[i][0] <= t < self.intervals[i][1]:
            return self.intervals[i]
        return None
