"""The properties on traces: stored rows against the storage model of the statistical runs, and each
property's first violation on hand-written timelines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.analysis.storage import StorageModel
from sim.core.durations import DAY, HOUR, MINUTE
from sim.policy.model import Policy
from sim.scenario.threats import Storage
from sim.verify.execute import Trace, execute
from sim.verify.properties import checker, removed_at, stored_rows
from sim.verify.timelines import Device, Session, Theft, Timeline
from tests.verify.cases import invariant

USAGES = ("one_time", "rotate_keep_old", "reuse")


def _minutes(n: int) -> float:
    return n * MINUTE


@st.composite
def minute_timelines(draw: st.DrawFn) -> Timeline:
    """Timelines whose every request falls on a whole minute (the storage model counts per minute)."""
    devices = []
    for index in range(draw(st.integers(1, 3))):
        sessions = []
        start = _minutes(draw(st.integers(0, 600)))
        for _ in range(draw(st.integers(1, 4))):
            duration = _minutes(draw(st.integers(0, 300)))
            sessions.append(
                Session(start, duration, fresh_login=draw(st.booleans()), logout=draw(st.booleans()))
            )
            start += duration + _minutes(draw(st.integers(0, 3000)))
        devices.append(Device(f"device {index + 1}", tuple(sessions)))
    return Timeline(tuple(devices), end=10 * DAY)


def _model_rows(trace: Trace, storage: Storage, times: np.ndarray) -> np.ndarray:
    chains = pd.DataFrame(
        {
            "authorized_at_s": [c.authorized_at for c in trace.chains.values()],
            "ended_at_s": [np.nan if c.ended_at is None else c.ended_at for c in trace.chains.values()],
            "refreshes": [len(c.rotations) for c in trace.chains.values()],
        }
    )
    minutes = int(trace.timeline.end // MINUTE) + 2
    rotations = np.zeros(minutes, dtype=np.int64)
    for record in trace.chains.values():
        for at in record.rotations:
            rotations[int(at // MINUTE)] += 1
    model = StorageModel(
        trace.policy.refresh_token_usage, storage.consumed_retention, storage.cleanup_interval, 512
    )
    return model.rows(chains, rotations, times)


@pytest.mark.parametrize("usage", USAGES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    timeline=minute_timelines(),
    cleanup=st.sampled_from([None, "1h", "1d"]),
    retention=st.sampled_from(["0s", "2h", "1d"]),
)
def test_stored_rows_agree_with_the_storage_model(
    usage: str, timeline: Timeline, cleanup: str | None, retention: str
) -> None:
    extra = {"absolute_lifetime": "30d"} if usage == "reuse" else {"absolute_lifetime": "unlimited"}
    policy = Policy.from_dict(
        {"refresh_token_usage": usage, "sliding_lifetime": "1d", "access_token_lifetime": "1h", **extra}
    )
    storage = Storage.model_validate({"cleanup_interval": cleanup or "none", "consumed_retention": retention})
    trace = execute(policy, timeline)
    levels = stored_rows(trace, storage)
    if not levels:
        return
    times = np.array([at for at, _, _ in levels])
    assert list(_model_rows(trace, storage, times)) == [rows for _, rows, _ in levels]
    grid = np.arange(0, timeline.end, MINUTE)
    assert max(rows for _, rows, _ in levels) == _model_rows(trace, storage, grid).max()


def test_removed_at_is_the_next_cleanup_run() -> None:
    assert removed_at(90.0, 60.0) == 120.0
    assert removed_at(120.0, 60.0) == 120.0
    assert removed_at(90.0, None) == 90.0
    assert removed_at(float("inf"), 60.0) == float("inf")


POLICY = Policy.from_dict(
    {
        "refresh_token_usage": "one_time",
        "absolute_lifetime": "3d",
        "sliding_lifetime": "1d",
        "on_reuse": "revoke_family",
    }
)


def first_violation(prop: str | dict, timeline: Timeline, policy: Policy = POLICY) -> str | None:
    violation = checker(invariant({"thefts": 1, "over": "10d"}, prop))(execute(policy, timeline))
    return None if violation is None else violation.message


def test_no_token_works_after_login_catches_the_first_late_refresh() -> None:
    sessions = tuple(Session(k * 20 * HOUR, 0.0) for k in range(6))  # every 20 h: the chain stays alive
    timeline = Timeline((Device("laptop", sessions),), end=10 * DAY)
    message = first_violation({"no_token_works": {"later_than": "2d", "after": "login"}}, timeline)
    assert message == "token 1.2 still works 2d 12h after its chain's login (more than 2d)"
    assert first_violation({"no_token_works": {"later_than": "3d", "after": "login"}}, timeline) is None


def test_no_token_works_after_last_use_measures_each_token() -> None:
    timeline = Timeline((Device("laptop", (Session(0.0, 0.0), Session(20 * HOUR, 0.0))),), end=10 * DAY)
    message = first_violation({"no_token_works": {"later_than": "19h", "after": "last_use"}}, timeline)
    assert message == "token 1.0 still works 20h after its last use (more than 19h)"


def test_a_replay_that_revokes_the_family_keeps_kills_family() -> None:
    timeline = Timeline((Device("laptop", (Session(0.0, HOUR + 5, (0.0, 2.0)),)),), end=10 * DAY)
    assert first_violation("replay_kills", timeline) is None
    reject = Policy.from_dict(
        {"refresh_token_usage": "one_time", "absolute_lifetime": "3d", "on_reuse": "reject"}
    )
    assert first_violation("replay_kills", timeline, reject) == (
        "laptop replays token 1.0: refused (consumed), but chain 1 stays valid"
    )
    assert first_violation("replay_refused", timeline, reject) is None


def test_a_stolen_token_is_measured_from_the_theft_and_by_victim_refreshes() -> None:
    sessions = (Session(0.0, 0.0), Session(2 * DAY, 0.0))
    timeline = Timeline((Device("laptop", sessions),), end=4 * DAY, thefts=(Theft(HOUR, 0),))
    assert first_violation({"stolen_token_stops": {"within": "1d"}}, timeline) == (
        "attacker 1's stolen token still works 1d 1h after the theft (more than 1d)"
    )
    # the victim's refresh at day 2 is a replay: the family is revoked and the attacker stops
    assert first_violation({"stolen_token_stops": {"after_victim_refreshes": 1}}, timeline) is None
