"""Weekly profile schedules (`schedule: {profile: ...}`): the fixed schedules are special cases, and
simulated session starts follow the profile's rates (closed forms, tolerances from the Poisson error)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sim.core.durations import DAY, HOUR, WEEK
from sim.model.behaviour import simulate_users
from sim.model.recording import Recorder
from sim.model.schedule import ProfileSchedule, WeeklySchedule
from sim.policy.model import Policy
from sim.scenario import Persona
from sim.scenario.activity import WeeklyProfile

WEEKDAY_ROWS = [[1.0] * 24] * 5 + [[0.0] * 24] * 2
OFFICE_ROWS = [[1.0 if 8 <= h < 18 else 0.0 for h in range(24)]] * 5 + [[0.0] * 24] * 2
EQUIVALENT = {"always": [[1.0] * 24] * 7, "weekdays": WEEKDAY_ROWS, "business_hours": OFFICE_ROWS}


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(EQUIVALENT)), t=st.floats(0, 10 * WEEK), active=st.floats(1e-3, 3 * WEEK),
       scale=st.sampled_from([1.0, 0.25, 7.0]))
def test_a_profile_of_zeros_and_ones_is_the_fixed_schedule(
    name: str, t: float, active: float, scale: float
) -> None:
    """Scaling every weight changes nothing: only ratios matter."""
    fixed = WeeklySchedule(name)
    rows = [[w * scale for w in row] for row in EQUIVALENT[name]]
    profile = ProfileSchedule(WeeklyProfile(profile=rows))
    assert profile.active_per_day == fixed.active_per_day or name == "business_hours"
    # business_hours counts 10 active hours per active day; the profile makes each of them count 2.4 h
    factor = fixed.active_per_day / profile.active_per_day
    expected = fixed.advance(t, active)
    assert math.isclose(profile.advance(t, active / factor), expected, rel_tol=1e-9, abs_tol=1e-5)
    end = t + active
    assert math.isclose(profile.active_seconds(t, end) * factor, fixed.active_seconds(t, end),
                        rel_tol=1e-9, abs_tol=1e-5)


@settings(max_examples=200, deadline=None)
@given(weights=st.lists(st.sampled_from([0.0, 0.0, 0.5, 1.0, 3.0]), min_size=168, max_size=168),
       t=st.floats(0, 5 * WEEK), active=st.floats(1e-3, 2 * WEEK))
def test_advance_inverts_the_active_time(weights: list[float], t: float, active: float) -> None:
    if not any(weights):
        weights[100] = 1.0
    rows = [weights[d * 24:(d + 1) * 24] for d in range(7)]
    schedule = ProfileSchedule(WeeklyProfile(profile=rows))
    end = schedule.advance(t, active)
    assert end >= t
    assert math.isclose(schedule.active_seconds(t, end), active, rel_tol=1e-9, abs_tol=1e-6)
    hour = int((end % WEEK) // HOUR) % 168
    before = int(((end - 1e-6) % WEEK) // HOUR) % 168
    assert weights[hour] > 0 or weights[before] > 0  # a start never falls in an hour of rate zero


def test_simulated_starts_follow_the_profile() -> None:
    """Sessions of length 0: starts are a Poisson process with rate spd * A * w_h / sum(w) per hour h.
    Counts per hour of the week are checked against their expectation with a chi-square test, and the
    total against its Poisson interval (both at the 0.1% level, with a fixed seed)."""
    weights = np.zeros(168)
    weights[24 * 0 + 9: 24 * 0 + 12] = 1.0   # Monday 09-12
    weights[24 * 2 + 14: 24 * 2 + 18] = 2.0  # Wednesday 14-18
    weights[24 * 6 + 20] = 5.0               # Sunday 20-21
    rows = [weights[d * 24:(d + 1) * 24].tolist() for d in range(7)]
    spd, users, weeks = 1.5, 300, 8
    persona = Persona.model_validate({"name": "p", "users": users, "activity": {
        "schedule": {"profile": rows}, "sessions_per_day": spd, "session_duration": "0s"}})
    horizon = weeks * WEEK
    recorder = Recorder(horizon=horizon, session_log=True)
    simulate_users(Policy.from_dict({}), persona, horizon, 7, 0, range(users), recorder)
    assert recorder.sessions is not None
    starts = np.asarray(recorder.sessions["start_s"])
    expected_total = spd * 3 * weeks * users  # three active days
    z = (len(starts) - expected_total) / math.sqrt(expected_total)
    assert abs(z) < stats.norm.ppf(0.9995)
    counts = np.bincount(((starts % WEEK) // HOUR).astype(int), minlength=168)
    assert counts[weights == 0].sum() == 0
    active = weights > 0
    expected = weights[active] / weights.sum() * len(starts)
    assert stats.chisquare(counts[active], expected).pvalue > 0.001


def test_the_profile_form_round_trips_through_the_scenario() -> None:
    data = {"name": "p", "users": 1, "activity": {"schedule": {"profile": OFFICE_ROWS}}}
    persona = Persona.model_validate(data)
    assert isinstance(persona.activity.schedule, WeeklyProfile)
    assert persona.activity.weekly_profile is not None and persona.activity.weekly_profile.active_days == 5
    dumped = persona.model_dump(mode="json")["activity"]["schedule"]
    assert dumped == {"profile": OFFICE_ROWS}
    assert Persona.model_validate(persona.model_dump(mode="json")) == persona
    assert DAY == 24 * HOUR
