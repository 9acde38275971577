"""How much work a scenario asks for, before any of it is done: simulated user-days, expected token
requests, memory of the per-minute counts, sweep cells; and the limits above which tokensim refuses to
start without `--allow-large` (`tokensim validate` prints the estimate; a long run at a terminal shows it
first).

The estimate is rough on purpose (the expected values of the scenario's distributions, the speeds
measured by `make bench` on a 2-core machine); it exists to catch `users: 1e9`, `horizon: 1000000d` or an
access token of a millisecond before they fill the memory, not to predict a run to the second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sim.core.durations import DAY, MINUTE
from sim.core.validation import ConfigError, Problem
from sim.model.schedule import SCHEDULES
from sim.scenario.activity import WeeklyProfile
from sim.scenario.model import Persona, Scenario
from sim.scenario.trace_file import trace_shape

#: Simulated user-days per second on one core of the benchmark machine (`make bench`, full model).
USER_DAYS_PER_CORE_SECOND = 60_000.0
#: Token requests (logins and refreshes) per second on one core, the same way.
REQUESTS_PER_CORE_SECOND = 350_000.0
#: Per (replication, persona) the main process keeps a few per-minute count arrays of 8-byte integers.
MINUTE_ARRAYS = 3

#: The limits: beyond any of them a run needs `--allow-large` (`allow_large=True`).
LIMITS = {
    "cpu_hours": 4.0,  # estimated CPU time of the whole run (a year of 10^6 users is about 1.7)
    "memory_gib": 4.0,  # per-minute arrays in the main process
    "users": 100_000_000,
    "replications": 10_000,
    "devices_per_user": 1_000,
    "cells": 10_000,
    "refreshes_per_session": 20_000,  # a week-long session with one-minute access tokens makes ~10,000
}


class TooLargeError(ConfigError):
    """A scenario whose estimated work is beyond the limits (bad input unless the user allows it)."""


@dataclass(frozen=True)
class WorkEstimate:
    """The estimated size of a run (every replication and sweep cell)."""

    users: int
    replications: int
    cells: int
    horizon_days: float
    user_days: float
    requests: float
    memory_bytes: float
    devices_per_user: float
    #: The most refreshes one session is expected to make (its mean duration over the access token's).
    refreshes_per_session: float = 0.0
    cores: int = 1
    problems: list[str] = field(default_factory=list)

    @property
    def cpu_seconds(self) -> float:
        """Estimated CPU time of the simulation."""
        return max(self.user_days / USER_DAYS_PER_CORE_SECOND, self.requests / REQUESTS_PER_CORE_SECOND)

    @property
    def seconds(self) -> float:
        """Estimated wall time on `cores` cores."""
        return self.cpu_seconds / max(1, self.cores)

    def describe(self) -> str:
        """One line for people: `about 3.6e7 user-days, 2.1e8 token requests, ~5 min on 2 cores, ...`."""
        cells = f" in {self.cells} cells" if self.cells > 1 else ""
        return (
            f"about {self.user_days:,.3g} user-days and {self.requests:,.3g} token requests{cells}: "
            f"~{duration_words(self.seconds)} on {self.cores} core(s), "
            f"~{self.memory_bytes / 2**20:,.0f} MiB of per-minute counts"
        )


def duration_words(seconds: float) -> str:
    """`under a second`, `45 s`, `12 min`, `3.5 h`, `41 days`."""
    if not math.isfinite(seconds):
        return "forever"
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / DAY:,.0f} days"


def _requests_per_user_day(persona: Persona, access_token_lifetime: float) -> float:
    activity = persona.activity
    duration = activity.session_duration.mean
    devices = persona.devices.mean
    if activity.trace is not None:  # the trace's own rate: sessions of all its users' devices
        shape = trace_shape(activity.trace.path)
        sessions = shape.sessions / shape.users / max(shape.span / DAY, 1.0)
        devices = 1.0
    elif isinstance(activity.schedule, WeeklyProfile):
        sessions = activity.sessions_per_day * activity.schedule.active_days / 7
    else:
        windows, per_active_day = SCHEDULES[activity.schedule]
        active_days_per_week = sum(end - start for start, end in windows) / per_active_day
        sessions = activity.sessions_per_day * active_days_per_week / 7  # per calendar day
    refreshes_per_session = 1.0 + duration / max(access_token_lifetime, 1e-9)
    return sessions * devices * persona.clients.tabs.mean * refreshes_per_session


def estimate(scenario: Scenario, cells: int = 1, cores: int = 1) -> WorkEstimate:
    """The estimated work of running the scenario (`cells` times for a sweep) on `cores` cores."""
    horizon_days = scenario.horizon / DAY
    access = scenario.policy.access_token_lifetime.mean
    users = sum(p.users for p in scenario.population)
    runs = scenario.replications * cells
    user_days = float(users) * horizon_days * runs
    requests = sum(
        p.users * horizon_days * _requests_per_user_day(p, access) for p in scenario.population
    ) * runs
    minutes = scenario.horizon / MINUTE
    memory = minutes * 8 * MINUTE_ARRAYS * (len(scenario.population) + 1) * scenario.replications
    devices = max(float(p.devices.mean) for p in scenario.population)
    per_session = max(p.activity.session_duration.mean for p in scenario.population) / max(access, 1e-9)
    return WorkEstimate(users, scenario.replications, cells, horizon_days, user_days, requests, memory,
                        devices, per_session, cores)


def check_limits(work: WorkEstimate, source: str | None = None, allow_large: bool = False) -> None:
    """Raise TooLargeError naming what is too large and what it would cost, unless `allow_large`."""
    if allow_large:
        return
    problems = []
    if not math.isfinite(work.cpu_seconds):
        problems.append(Problem((), "the run would never finish (an infinite amount of work)"))
    elif work.cpu_seconds / 3600 > LIMITS["cpu_hours"]:
        cpu = duration_words(work.cpu_seconds)
        problems.append(Problem((), f"the run would take about {cpu} of CPU time ({work.describe()}); the "
                                    f"limit is {LIMITS['cpu_hours']:g} hours"))
    if work.memory_bytes / 2**30 > LIMITS["memory_gib"]:
        gib = work.memory_bytes / 2**30
        days = f"{work.horizon_days:,.0f} days"
        text = f"{days} of per-minute counts would need {gib:,.1f} GiB of memory"
        problems.append(Problem(("horizon",), text))
    if work.refreshes_per_session > LIMITS["refreshes_per_session"]:
        limit = LIMITS["refreshes_per_session"]
        text = (f"sessions would refresh about {work.refreshes_per_session:,.3g} times each (the session "
                f"duration against the access-token lifetime); the limit is {limit:,}")
        problems.append(Problem(("policy", "access_token_lifetime"), text))
    places = {"users": "population", "devices_per_user": "population", "cells": "sweep"}
    for name, value in (("users", work.users), ("replications", work.replications),
                        ("devices_per_user", work.devices_per_user), ("cells", work.cells)):
        if value > LIMITS[name]:
            shown = f"{value:,.0f}" if value < 1e12 else f"{value:.3g}"
            text = f"{name.replace('_', ' ')} {shown} is above the limit of {LIMITS[name]:,.0f}"
            problems.append(Problem((places.get(name, name),), text))
    if problems:
        problems.append(Problem((), "use --allow-large (allow_large=True) if you mean it"))
        raise TooLargeError(problems, source=source)
