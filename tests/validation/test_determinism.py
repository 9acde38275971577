"""Reproducibility: the same scenario and seed give the same tables, whatever the workers or the population.

Every user's random streams derive from the scenario's seed, keyed by replication, persona name, user
index, device and purpose (sim/streams.py), and never by worker, shard or the rest of the population. So:
the same seed gives identical tables and metrics; one worker or two (different shards) give the same; a
different seed gives different users; adding a persona leaves the first persona's users untouched; adding
users leaves the first users untouched.

The scenario exercises every source of randomness: several devices, absences, racing tabs, lost
responses and persist failures, device replacement, logouts, password changes, fresh logins and a cap.
"""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from sim.run.runner import RunResult, run_scenario
from sim.scenario import scenario_from_dict

OFFICE: dict[str, Any] = {
    "name": "office",
    "users": 12,
    "devices": {"uniform": {"low": 1, "high": 3}},
    "activity": {
        "schedule": "weekdays",
        "sessions_per_day": 3,
        "session_duration": {"lognormal": {"median": "1h", "sigma": 0.8}},
        "fresh_login": 0.05,
    },
    "absences": {"per_year": 6, "duration": {"uniform": {"low": "2d", "high": "9d"}}},
    "clients": {
        "tabs": {"uniform": {"low": 1, "high": 3}},
        "race_window": {"uniform": {"low": 0, "high": 2}},
    },
    "faults": {"lost_refresh_response": 0.05, "persist_failure": 0.02},
    "lifecycle": {
        "device_replaced_per_year": 4,
        "logout_at_session_end": 0.02,
        "password_changes_per_year": 6,
    },
}

OCCASIONAL: dict[str, Any] = {
    "name": "occasional",
    "users": 10,
    "activity": {"sessions_per_day": 0.3, "session_duration": "10m"},
}

BASE: dict[str, Any] = {
    "name": "determinism",
    "seed": 5,
    "horizon": "60d",
    "warmup": "7d",
    "replications": 2,
    "policy": {
        "refresh_token_usage": "one_time",
        "absolute_lifetime": "unlimited",
        "sliding_lifetime": "5d",
        "max_tokens_per_user": 3,
        "on_cap": "evict_oldest",
        "access_token_lifetime": "30m",
    },
    "population": [OFFICE],
}

TABLES = ("chains", "reauths", "timeseries", "replication_metrics")


def scenario_dict(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data.update(copy.deepcopy(changes))
    return data


def run(data: dict[str, Any], workers: int = 1) -> RunResult:
    return run_scenario(scenario_from_dict(data), workers=workers)


def assert_same_run(a: RunResult, b: RunResult) -> None:
    for table in TABLES:
        assert_frame_equal(getattr(a, table), getattr(b, table), check_exact=True, obj=table)
    assert (a.token_requests, a.sessions) == (b.token_requests, b.sessions)


def rows_of(frame: pd.DataFrame, mask: pd.Series) -> pd.DataFrame:
    return frame[mask].reset_index(drop=True)


@pytest.fixture(scope="module")
def base_run() -> RunResult:
    result = run(scenario_dict())
    # The scenario must actually exercise the behaviour whose reproducibility is checked.
    assert len(result.chains) > 100
    assert result.chains["user"].nunique() == OFFICE["users"]
    assert {"evicted", "revoked"} <= set(result.chains["end_reason"].dropna())
    assert len(result.reauths) > 10
    assert {"new_device", "forced_reauth"} <= set(result.chains["started_by"])
    return result


def test_same_seed_gives_identical_results(base_run: RunResult) -> None:
    assert_same_run(base_run, run(scenario_dict()))


def test_one_worker_or_two_give_identical_results(base_run: RunResult) -> None:
    """workers=2 runs smaller shards in a process pool, finishing in any order; the tables must not change."""
    assert_same_run(base_run, run(scenario_dict(), workers=2))


def test_replications_differ(base_run: RunResult) -> None:
    chains = base_run.chains
    first = rows_of(chains, chains["replication"] == 0).drop(columns="replication")
    second = rows_of(chains, chains["replication"] == 1).drop(columns="replication")
    assert not first.equals(second)


def test_a_different_seed_gives_different_results(base_run: RunResult) -> None:
    other = run(scenario_dict(seed=BASE["seed"] + 1))
    assert not other.chains.equals(base_run.chains)
    assert not other.chains["authorized_at_s"].equals(base_run.chains["authorized_at_s"])
    assert not other.replication_metrics.equals(base_run.replication_metrics)


def test_adding_a_persona_leaves_the_first_personas_users_unchanged(base_run: RunResult) -> None:
    """Streams are keyed by persona name and user index, so another persona (listed first) changes nothing."""
    both = run(scenario_dict(population=[OCCASIONAL, OFFICE]))
    assert set(both.chains["persona"]) == {"office", "occasional"}
    name = OFFICE["name"]
    for table in ("chains", "reauths", "timeseries"):
        ours, theirs = getattr(base_run, table), getattr(both, table)
        assert_frame_equal(
            rows_of(ours, ours["persona"] == name),
            rows_of(theirs, theirs["persona"] == name),
            check_exact=True,
            obj=table,
        )
    metrics_alone = base_run.replication_metrics
    metrics_both = both.replication_metrics
    assert_frame_equal(
        rows_of(metrics_alone, metrics_alone["persona"] == name),
        rows_of(metrics_both, metrics_both["persona"] == name),
        check_exact=True,
    )
    # Alone, the persona is the whole population.
    assert_frame_equal(
        rows_of(metrics_alone, metrics_alone["persona"] == "*").drop(columns="persona"),
        rows_of(metrics_alone, metrics_alone["persona"] == name).drop(columns="persona"),
        check_exact=True,
    )


def test_more_users_leave_the_first_users_unchanged(base_run: RunResult) -> None:
    bigger = copy.deepcopy(OFFICE)
    bigger["users"] = OFFICE["users"] + 7
    more = run(scenario_dict(population=[bigger]))
    assert more.chains["user"].max() >= OFFICE["users"]
    for table in ("chains", "reauths"):
        ours, theirs = getattr(base_run, table), getattr(more, table)
        assert_frame_equal(
            ours,
            rows_of(theirs, theirs["user"] < OFFICE["users"]),
            check_exact=True,
            obj=table,
        )


def test_when_the_recorder_flushes_its_buffers_does_not_change_the_counts(
    base_run: RunResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sim.model.recording

    monkeypatch.setattr(sim.model.recording, "_FLUSH_EVERY", 7)  # flush inside users and inside sessions
    flushed_often = run(scenario_dict())
    assert_same_run(base_run, flushed_often)  # the timeseries and per-minute peaks included
