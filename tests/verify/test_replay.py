"""Every counterexample the tool prints replays to the same failure through the engine.

Two replays: the timeline itself (written out as JSON and read back) through `execute`, and, independently
of the executor, every engine call the trace records made again on a fresh `TokenEngine`, which must
answer each one exactly as the story says.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim.policy.engine import TokenEngine
from sim.policy.model import Policy
from sim.verify.execute import LOGIN, LOGOUT, PASSWORD_CHANGE, REFRESH, USER, Trace, execute
from sim.verify.properties import checker
from sim.verify.runner import FAILED, replay, verify_invariant
from sim.verify.story import render
from sim.verify.timelines import Timeline
from tests.verify.cases import invariant, policy

FAILING = [
    ("one_time", "at", "never_forced"),
    ("one_time", "tabs", "never_forced"),
    ("one_time", "lost", "never_forced"),
    ("one_time", "theft", "stolen_victim"),
    ("grace_family", "theft", "replay_refused"),
    ("grace_family", "lost", "never_forced"),
    ("keep_old", "tabs", "replay_kills"),
    ("keep_old", "theft", "login_2d"),
    ("reuse_absolute", "theft", "stolen_1d"),
    ("reuse_absolute", "password", "never_forced"),
    ("family_reject_new", "devices", "never_rejected"),
    ("token_anchor", "fresh", "chains_2"),
    ("token_anchor", "below", "never_forced"),
]


def engine_replay(trace: Trace) -> None:
    """Make every engine call of the trace again on a fresh engine; each answer must match the step."""
    policy = trace.policy
    rng = None
    if policy.fixed_access_token_lifetime is None:
        rng = np.random.default_rng(np.random.SeedSequence(trace.timeline.access_seed))
    engine = TokenEngine(policy, rng=rng)
    for step in trace.steps:
        if step.kind == LOGIN:
            grant = engine.authorize(USER, step.at, device=step.actor)
            assert (grant.refresh_token is not None) == step.ok, step
            assert grant.refresh_token == (step.token if step.ok else None)
            assert grant.evicted == step.ended and grant.reason == step.reason
        elif step.kind == REFRESH:
            assert step.token is not None
            result = engine.refresh(step.token, step.at)
            assert (result.ok, result.reason, result.grace) == (step.ok, step.reason, step.grace), step
            assert result.refresh_token == step.issued
        elif step.kind == LOGOUT:
            assert step.token is not None
            assert engine.logout(step.token, step.at) == bool(step.ended)
        elif step.kind == PASSWORD_CHANGE:
            assert tuple(engine.revoke_user(USER, step.at)) == step.ended


@pytest.mark.parametrize("use_decision", [True, False], ids=["decided", "searched"])
@pytest.mark.parametrize(("policy_name", "who", "prop"), FAILING, ids=["-".join(c) for c in FAILING])
def test_a_printed_counterexample_replays_to_the_same_failure(
    policy_name: str, who: str, prop: str, use_decision: bool
) -> None:
    pol, inv = policy(policy_name), invariant(who, prop)
    result = verify_invariant(pol, inv, examples=400, seed=1, use_decision=use_decision)
    assert result.outcome == FAILED, result.headline()
    example = result.counterexample
    assert example is not None
    # the timeline, written out and read back, fails the same way at the same step
    timeline = Timeline.from_dict(json.loads(json.dumps(example.timeline.to_dict())))
    assert timeline == example.timeline
    assert replay(pol, inv, timeline) == example.violation
    trace = execute(pol, timeline)
    assert tuple(render(trace, example.violation)) == example.story
    # the engine itself gives every answer the story tells
    engine_replay(trace)
    failing = trace.steps[example.violation.step]
    assert failing.at == example.violation.at


def test_replay_with_drawn_access_token_lifetimes() -> None:
    pol = Policy.from_dict({"preset": "entra_id_spa"})  # access tokens of 60..90 minutes, 24 h absolute
    inv = invariant(
        {"sessions": 4, "largest_gap": "12h", "over": "3d", "session_length": "0s..9h"}, "never_forced"
    )
    result = verify_invariant(pol, inv, examples=200, seed=2)
    assert result.outcome == FAILED
    example = result.counterexample
    trace = execute(pol, example.timeline)
    assert checker(inv)(trace) == example.violation
    engine_replay(trace)
    assert "absolute_expiry" in example.violation.message
