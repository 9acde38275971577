"""Replaying a trace in the model: each recorded device replays exactly its sessions, the rest is drawn.

- a replayed device starts its sessions exactly at the recorded starts (overlapping ones merged), up to
  the horizon, and a repeated trace tiles its whole weeks;
- replaying a simulation's own sessions with its seed reproduces it exactly (chains, forced
  re-authentications, thefts), since every other draw comes from the same per-device streams;
- two policies replaying one trace see the same sessions and the same bootstrap users (common random
  numbers); each replication draws its bootstrap users afresh, from the seed;
- running ahead of SimPy equals stepping every refresh for replayed personas too (as
  tests/model/test_run_ahead.py proves for drawn ones).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.core.durations import DAY, HOUR, WEEK
from sim.fit.synthetic import simulate_trace
from sim.model.behaviour import simulate_users
from sim.model.recording import Recorder
from sim.model.replay import RecordedTrace, merge_overlapping, recorded_users
from sim.policy.model import Policy
from sim.scenario import Persona, scenario_from_dict
from tests.replay.traces import make_trace


def _replay_persona(path: Path, users: int | None = None, **sections: object) -> Persona:
    trace: dict[str, object] = {"path": str(path)}
    data: dict[str, object] = {"name": "p", "activity": {"trace": trace}, **sections}
    if users is not None:
        data["users"] = users
    return Persona.model_validate(data)


def _sessions_of(persona: Persona, policy: Policy, horizon: float, seed: int = 1,
                 replication: int = 0) -> pd.DataFrame:
    recorder = Recorder(horizon=horizon, session_log=True)
    simulate_users(policy, persona, horizon, seed, replication, range(persona.users), recorder,
                   recorded=recorded_users(persona, seed, replication, 0, persona.users))
    assert recorder.sessions is not None
    return pd.DataFrame(recorder.sessions)


def test_a_replayed_device_starts_its_recorded_sessions_overlapping_ones_merged(tmp_path: Path) -> None:
    sessions = [
        ("u1", "phone", 100.0, 200.0),
        ("u1", "phone", 150.0, 400.0),    # overlaps the one before: one session 100-400
        ("u1", "phone", 400.0, 500.0),    # touches it: merged too
        ("u1", "phone", 5000.0, 6000.0),
        ("u1", "laptop", 50.0, 60.0),
        ("u2", "tablet", 3 * DAY, 3 * DAY + 30.0),
        ("u2", "tablet", 20 * DAY, 20 * DAY + 30.0),  # after the horizon: not replayed
    ]
    trace = make_trace(tmp_path / "t.parquet", sessions, until=3 * WEEK)
    persona = _replay_persona(trace)
    rows = _sessions_of(persona, Policy.from_dict({}), horizon=10 * DAY)
    got = sorted(zip(rows["user"], rows["device"], rows["start_s"], rows["end_s"], strict=True))
    # users in id order (u1 = 0, u2 = 1), devices in key order (laptop = 0, phone = 1)
    assert got == [(0, 0, 50.0, 60.0), (0, 1, 100.0, 500.0), (0, 1, 5000.0, 6000.0),
                   (1, 0, 3 * DAY, 3 * DAY + 30.0)]


def test_merge_overlapping_keeps_separate_sessions_and_joins_the_rest() -> None:
    rows = np.array([[10.0, 20.0], [0.0, 5.0], [5.0, 7.0], [30.0, 31.0], [15.0, 25.0]])
    assert merge_overlapping(rows).tolist() == [[0.0, 7.0], [10.0, 25.0], [30.0, 31.0]]


def test_a_repeated_trace_tiles_its_whole_weeks(tmp_path: Path) -> None:
    sessions = [("u", "d", 1 * DAY, 1 * DAY + HOUR), ("u", "d", 8 * DAY, 8 * DAY + HOUR),
                ("u", "d", 15 * DAY + HOUR, 15 * DAY + 2 * HOUR)]  # in the third, partial week: dropped
    trace = make_trace(tmp_path / "t.parquet", sessions, until=2 * WEEK + 3 * DAY)
    scenario = scenario_from_dict({"name": "r", "horizon": "5w", "policy": {},
                                   "population": [{"name": "p", "activity": {"trace": {"path": str(trace),
                                                                                       "repeat": True}}}]})
    rows = _sessions_of(scenario.population[0], scenario.policy, scenario.horizon)
    starts = sorted(rows["start_s"] / DAY)
    assert starts == [1, 8, 15, 22, 29]  # the two whole weeks, repeated every two weeks


def test_users_without_sessions_are_simulated_with_one_idle_device(tmp_path: Path) -> None:
    trace = make_trace(tmp_path / "t.parquet", [("a", "d", 0.0, 10.0)], users=["b"], until=WEEK)
    persona = _replay_persona(trace)
    assert persona.users == 2
    recorder = Recorder(horizon=WEEK)
    simulate_users(Policy.from_dict({}), persona, WEEK, 1, 0, range(2), recorder,
                   recorded=recorded_users(persona, 1, 0, 0, 2))
    assert recorder.users[(0, "p")] == 2 and recorder.devices[(0, "p")] == 2
    assert recorder.chains["user"] == [0]  # only a logs in


SIMULATED = {
    "name": "known",
    "seed": 5,
    "horizon": "60d",
    "replications": 1,
    "policy": {"preset": "okta", "sliding_lifetime": "3d"},
    "population": [{
        "name": "p",
        "users": 40,
        "devices": {"empirical": {"values": [1, 2, 3], "weights": [1, 1, 1]}},
        "activity": {"schedule": "weekdays", "sessions_per_day": 3,
                     "session_duration": {"lognormal": {"median": "40m", "sigma": 1.0}}},
        "absences": {"per_year": 6, "duration": "9d"},
        "clients": {"tabs": 2},
        "faults": {"lost_refresh_response": 0.02, "persist_failure": 0.01},
        "lifecycle": {"device_replaced_per_year": 2, "logout_at_session_end": 0.05},
        "threats": {"thefts_per_year": 3, "strategy": "when_idle"},
    }],
}


def test_replaying_a_simulation_with_its_seed_reproduces_it_exactly(tmp_path: Path) -> None:
    """Tabs fixed, no fresh logins and no password changes: the only draws replay does not make (the
    drawn sessions) do not matter, so every chain, forced login and theft comes back the same."""
    original = scenario_from_dict(SIMULATED)
    trace = simulate_trace(original, tmp_path / "trace.parquet")
    persona = original.population[0]
    expected = _recorder(original.policy, persona, original.horizon, None)
    replay = persona.model_copy(update={"activity": _replay_persona(trace).activity})
    got = _recorder(original.policy, replay, original.horizon, recorded_users(replay, 5, 0, 0, persona.users))
    assert recorder_devices(expected) == recorder_devices(got)  # every simulated device had sessions
    assert got.chains == expected.chains
    assert got.reauths == expected.reauths
    assert got.thefts == expected.thefts
    assert got.revocation_lags == expected.revocation_lags
    np.testing.assert_array_equal(got.minute_requests[(0, "p")], expected.minute_requests[(0, "p")])
    assert len(expected.reauths["cause"]) > 20  # there was something to reproduce


def recorder_devices(recorder: Recorder) -> int:
    return recorder.devices[(0, "p")]


def _recorder(policy: Policy, persona: Persona, horizon: float, recorded: object) -> Recorder:
    recorder = Recorder(horizon=horizon)
    simulate_users(policy, persona, horizon, 5, 0, range(persona.users), recorder,
                   recorded=recorded)  # type: ignore[arg-type]
    return recorder.finish()


def test_two_policies_replay_the_same_sessions_and_users(tmp_path: Path) -> None:
    original = scenario_from_dict(SIMULATED)
    trace = simulate_trace(original, tmp_path / "trace.parquet")
    persona = _replay_persona(trace, users=60, faults={"lost_refresh_response": 0.05})
    one = _sessions_of(persona, Policy.from_dict({"preset": "okta"}), 60 * DAY, seed=9)
    other = _sessions_of(persona, Policy.from_dict({"refresh_token_usage": "reuse"}), 60 * DAY, seed=9)
    pd.testing.assert_frame_equal(one, other)


def test_each_replication_bootstraps_its_own_users_from_the_seed(tmp_path: Path) -> None:
    original = scenario_from_dict(SIMULATED)
    trace = simulate_trace(original, tmp_path / "trace.parquet")
    recorded = RecordedTrace.load(trace)
    persona = _replay_persona(trace, users=500)
    first = recorded.indices(persona, seed=3, replication=0)
    assert np.array_equal(first, recorded.indices(persona, seed=3, replication=0))  # reproducible
    assert not np.array_equal(first, recorded.indices(persona, seed=3, replication=1))  # afresh
    assert not np.array_equal(first, recorded.indices(persona, seed=4, replication=0))
    counts = np.bincount(first, minlength=len(recorded.users))
    assert counts.max() > 1  # with replacement
    # every trace user equally likely: a chi-square test of the counts (40 users, 500 draws)
    from scipy import stats

    assert stats.chisquare(counts).pvalue > 0.001
    # the simulated users are those users: user i replays trace user first[i]
    rows = _sessions_of(persona, Policy.from_dict({}), 60 * DAY, seed=3)
    for user in (0, 7, 499):
        mine = rows[rows["user"] == user].sort_values("start_s")["start_s"].to_numpy()
        theirs = np.sort(np.concatenate([d[:, 0] for d in recorded.users[first[user]].devices]))
        np.testing.assert_array_equal(mine, theirs[theirs <= 60 * DAY])


def test_recorded_sampling_replays_every_user_once_in_every_replication(tmp_path: Path) -> None:
    original = scenario_from_dict(SIMULATED)
    trace = simulate_trace(original, tmp_path / "trace.parquet")
    persona = _replay_persona(trace)
    recorded = RecordedTrace.load(trace)
    for replication in (0, 3):
        assert recorded.indices(persona, 1, replication).tolist() == list(range(40))


@st.composite
def traces(draw: st.DrawFn) -> list[tuple[str, str, float, float]]:
    sessions = []
    for user in range(draw(st.integers(1, 3))):
        for device in range(draw(st.integers(1, 3))):
            for _ in range(draw(st.integers(0, 12))):
                start = draw(st.floats(0, 11 * DAY))
                length = draw(st.sampled_from([0.0, 60.0, 1800.0, 4 * HOUR, 2 * DAY]))
                sessions.append((f"u{user}", f"d{device}", start, start + length))
    return sessions


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(sessions=traces(), seed=st.integers(0, 2**31), usage=st.sampled_from(["reuse", "one_time"]),
       lost=st.sampled_from([0.0, 0.2]), tabs=st.sampled_from([1, 3]))
def test_running_ahead_equals_stepping_for_replayed_personas(
    tmp_path_factory: pytest.TempPathFactory, sessions: list, seed: int, usage: str, lost: float, tabs: int
) -> None:
    if not sessions:
        sessions = [("u0", "d0", 0.0, 1.0)]
    trace = make_trace(tmp_path_factory.mktemp("t") / "t.parquet", sessions, until=12 * DAY)
    persona = _replay_persona(trace, faults={"lost_refresh_response": lost}, clients={"tabs": tabs},
                              lifecycle={"password_changes_per_year": 30, "logout_at_session_end": 0.1})
    policy = Policy.from_dict({"refresh_token_usage": usage, "sliding_lifetime": "1d",
                               "access_token_lifetime": "20m", "max_tokens_per_user": 2})
    results = []
    for run_ahead in (True, False):
        recorder = Recorder(horizon=12 * DAY)
        simulate_users(policy, persona, 12 * DAY, seed, 0, range(persona.users), recorder,
                       run_ahead=run_ahead, recorded=recorded_users(persona, seed, 0, 0, persona.users))
        results.append(recorder.finish())
    fast, slow = results
    assert fast.chains == slow.chains and fast.reauths == slow.reauths
    for key in fast.minute_requests:
        np.testing.assert_array_equal(fast.minute_requests[key], slow.minute_requests[key])
