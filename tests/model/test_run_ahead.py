"""Running a device ahead of SimPy's clock gives exactly what stepping every refresh gives.

`UserSimulation` lets a device process its refreshes, retries and racing tabs without a SimPy event
whenever no other process of the same user acts before them (`_wait`); attackers (thefts) do the same.
This test is the proof that the shortcut is exact: on random personas (thefts included) and random
policies, the chains, forced re-authentications, thefts, revocation lags, request and rotation counts
are identical to those of the plain model that yields to SimPy at every step.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.model.behaviour import simulate_users
from sim.model.recording import Recorder
from sim.policy.model import Policy
from sim.scenario import Persona

DURATIONS = ["30s", "5m", "20m", "1h", "4h", "1d", "3d"]


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    usage = draw(st.sampled_from(["reuse", "one_time", "rotate_keep_old"]))
    sliding = draw(st.sampled_from(["none", "1h", "1d", "3d"]))
    data = {
        "refresh_token_usage": usage,
        "absolute_lifetime": draw(st.sampled_from(["unlimited", "1d", "5d", "20d"])),
        "sliding_lifetime": sliding,
        "max_tokens_per_user": draw(st.sampled_from(["unlimited", 1, 2, 3])),
        "on_cap": draw(st.sampled_from(["evict_oldest", "evict_least_recently_used", "reject_new"])),
        "access_token_lifetime": draw(st.sampled_from(["1m", "15m", "1h"])),
        "absolute_anchor": draw(st.sampled_from(["chain", "token"])),
    }
    if usage == "one_time":
        data["reuse_interval"] = draw(st.sampled_from(["0s", "2s", "30s"]))
        data["on_reuse"] = draw(st.sampled_from(["reject", "revoke_family"]))
        data["max_reuse"] = draw(st.integers(0, 2))
    if sliding != "none":
        data["idle_tolerance"] = draw(st.sampled_from(["0s", "2m"]))
    if data["absolute_lifetime"] == "unlimited" and data["absolute_anchor"] == "token":
        data["absolute_anchor"] = "chain"
    return Policy.from_dict(data)


@st.composite
def personas(draw: st.DrawFn) -> Persona:
    return Persona.model_validate(
        {
            "name": "p",
            "users": 1,
            "devices": draw(st.integers(1, 3)),
            "activity": {
                "schedule": draw(st.sampled_from(["always", "weekdays", "business_hours"])),
                "sessions_per_day": draw(st.sampled_from([0.3, 1, 4, 12])),
                "session_duration": draw(
                    st.sampled_from(["0s", "10m", "2h", {"lognormal": {"median": "1h", "sigma": 1.0}}])
                ),
                "fresh_login": draw(st.sampled_from([0.0, 0.2])),
            },
            "absences": {"per_year": draw(st.sampled_from([0, 8])), "duration": "5d"},
            "clients": {
                "tabs": draw(st.sampled_from([1, 3, {"poisson": {"mean": 2}, "min": 1}])),
                "refresh_lock": draw(st.booleans()),
                "race_window": {"uniform": {"low": "0s", "high": "3s"}},
            },
            "faults": {
                "lost_refresh_response": draw(st.sampled_from([0.0, 0.05, 0.3])),
                "retry_after": {"exponential": {"mean": draw(st.sampled_from(["5s", "10m"]))}},
                "persist_failure": draw(st.sampled_from([0.0, 0.1])),
            },
            "lifecycle": {
                "device_replaced_per_year": draw(st.sampled_from([0, 10])),
                "logout_at_session_end": draw(st.sampled_from([0.0, 0.1])),
                "password_changes_per_year": draw(st.sampled_from([0, 20])),
            },
            "threats": draw(
                st.sampled_from(
                    [
                        None,
                        {"thefts_per_year": 15, "strategy": "immediate"},
                        {"thefts_per_year": 15, "stolen_device_share": 0.3, "strategy": "when_idle"},
                        {"stolen_device_share": 0.5, "strategy": "daily"},
                    ]
                )
            ),
        }
    )


def _simulate(policy: Policy, persona: Persona, seed: int, run_ahead: bool) -> Recorder:
    recorder = Recorder(horizon=12 * 86400.0)
    simulate_users(policy, persona, 12 * 86400.0, seed, 0, range(3), recorder, run_ahead=run_ahead)
    return recorder.finish()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=policies(), persona=personas(), seed=st.integers(0, 2**32 - 1))
def test_running_ahead_equals_stepping_every_refresh(policy: Policy, persona: Persona, seed: int) -> None:
    fast = _simulate(policy, persona, seed, run_ahead=True)
    slow = _simulate(policy, persona, seed, run_ahead=False)
    assert fast.chains == slow.chains
    assert fast.reauths == slow.reauths
    assert fast.rejected_logins == slow.rejected_logins
    assert fast.thefts == slow.thefts
    assert fast.revocation_lags == slow.revocation_lags
    assert fast.minute_requests.keys() == slow.minute_requests.keys()
    for key in fast.minute_requests:
        np.testing.assert_array_equal(fast.minute_requests[key], slow.minute_requests[key])
        np.testing.assert_array_equal(fast.hourly_counts[key], slow.hourly_counts[key])
    assert fast.minute_rotations.keys() == slow.minute_rotations.keys()
    for key in fast.minute_rotations:
        np.testing.assert_array_equal(fast.minute_rotations[key], slow.minute_rotations[key])


def test_running_ahead_saves_events() -> None:
    """The shortcut is real: a long session of hourly refreshes needs one SimPy event, not one per hour."""
    from sim.model.behaviour import UserSimulation

    policy = Policy.from_dict({"access_token_lifetime": "1h"})
    persona = Persona.model_validate(
        {"name": "p", "users": 1, "activity": {"sessions_per_day": 1, "session_duration": "8h"}}
    )
    counts = {}
    for run_ahead in (True, False):
        horizon = 10 * 86400.0
        sim = UserSimulation(policy, persona, horizon, 1, 0, 0, Recorder(horizon=horizon), run_ahead)
        events = 0
        original = sim.env.step

        def counting_step(original=original) -> None:
            nonlocal events
            events += 1
            original()

        sim.env.step = counting_step  # type: ignore[method-assign]
        sim.run()
        counts[run_ahead] = events
    assert counts[True] * 3 < counts[False]
