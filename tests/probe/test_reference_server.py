"""The probe against tokensim's own engine behind HTTP (tests/probe/engine_server.py: the model, not a real
server): it must recover every policy the engine can express, to its stated resolution, over real HTTP.

Named policies cover each rule; hypothesis draws random ones (with random answer shapes: with or without
`expires_in`, `refresh_expires_in`, JWT access tokens, an echoed refresh token). The server's clock is
virtual and shared with the probe, so a plan that waits hours takes about a second.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.policy.model import Policy
from sim.probe.plan import worst_case_seconds
from tests.probe.engine_server import Answers
from tests.probe.expect import evidence_text, problems
from tests.probe.helpers import MAX_LOGINS, MAX_WAIT, probe_reference

NAMED: dict[str, dict[str, Any]] = {
    "reuse, absolute from the login": {"refresh_token_usage": "reuse", "absolute_lifetime": "90s"},
    "reuse, sliding within an absolute": {
        "refresh_token_usage": "reuse",
        "absolute_lifetime": "250s",
        "sliding_lifetime": "40s",
    },
    "reuse, sliding only, with idle tolerance": {
        "refresh_token_usage": "reuse",
        "absolute_lifetime": "unlimited",
        "sliding_lifetime": "30s",
        "idle_tolerance": "7s",
    },
    "one_time, no grace, family revoked": {
        "refresh_token_usage": "one_time",
        "absolute_lifetime": "120s",
        "on_reuse": "revoke_family",
    },
    "one_time, grace period, reject": {
        "refresh_token_usage": "one_time",
        "absolute_lifetime": "unlimited",
        "sliding_lifetime": "200s",
        "reuse_interval": "17s",
        "on_reuse": "reject",
    },
    "one_time, max_reuse and grace": {
        "refresh_token_usage": "one_time",
        "absolute_lifetime": "200s",
        "sliding_lifetime": "60s",
        "reuse_interval": "9s",
        "max_reuse": 2,
        "on_reuse": "revoke_family",
    },
    "one_time, token anchor (a lifetime per token)": {
        "refresh_token_usage": "one_time",
        "absolute_lifetime": "75s",
        "absolute_anchor": "token",
    },
    "rotate_keep_old with a cap, evict oldest": {
        "refresh_token_usage": "rotate_keep_old",
        "absolute_lifetime": "100s",
        "max_tokens_per_user": 3,
        "on_cap": "evict_oldest",
    },
    "cap evicting the least recently used": {
        "refresh_token_usage": "one_time",
        "absolute_lifetime": "unlimited",
        "sliding_lifetime": "90s",
        "max_tokens_per_user": 4,
        "on_cap": "evict_least_recently_used",
    },
    "cap of one": {"refresh_token_usage": "reuse", "absolute_lifetime": "60s", "max_tokens_per_user": 1},
    "cap refusing new logins": {
        "refresh_token_usage": "one_time",
        "absolute_lifetime": "150s",
        "max_tokens_per_user": 2,
        "on_cap": "reject_new",
        "on_reuse": "revoke_family",
    },
    "nothing within max-wait": {
        "refresh_token_usage": "reuse",
        "absolute_lifetime": "30d",
        "access_token_lifetime": "5m",
    },
    "grace longer than the chain lives": {
        "refresh_token_usage": "one_time",
        "absolute_lifetime": "unlimited",
        "sliding_lifetime": "20s",
        "reuse_interval": "40s",
    },
}


def check(policy: dict[str, Any], answers: Answers | None = None) -> None:
    result, truth, _ = probe_reference(policy, answers)
    found = problems(result, truth, max_logins=MAX_LOGINS, max_wait=MAX_WAIT)
    assert not found, "\n".join(found) + "\n" + result.policy_yaml() + "\n" + evidence_text(result)
    assert result.policy().refresh_token_usage == truth.refresh_token_usage
    # the plan's stated worst case is an upper bound: the default time budget never cut a search short
    assert not any("time budget" in warning for warning in result.warnings), result.warnings
    assert result.duration <= worst_case_seconds(MAX_WAIT)


@pytest.mark.parametrize("name", list(NAMED))
def test_the_probe_recovers_each_named_policy(name: str) -> None:
    check(NAMED[name])


def test_refresh_expires_in_is_read_instead_of_waited_for() -> None:
    policy = {"refresh_token_usage": "reuse", "absolute_lifetime": "260s", "sliding_lifetime": "45s"}
    announced, _, with_it = probe_reference(policy, Answers(refresh_expires_in=True))
    waited, _, without = probe_reference(policy, Answers())
    for result in (announced, waited):
        assert result.finding("sliding_lifetime").value == "45s"
        assert result.finding("absolute_lifetime").value == "260s"
    assert "refresh_expires_in" in announced.finding("sliding_lifetime").summary
    assert with_it < without / 2  # reading the announcement saves the bisections
    assert announced.duration < waited.duration


def test_access_lifetime_from_a_jwt_when_expires_in_is_missing() -> None:
    policy = {"refresh_token_usage": "reuse", "absolute_lifetime": "60s", "access_token_lifetime": "17m"}
    result, _, _ = probe_reference(policy, Answers(expires_in=False, jwt_access_tokens=True))
    access = result.finding("access_token_lifetime")
    assert (access.value, access.confidence) == ("17m", "exact")
    assert "JWT" in access.summary
    bare, _, _ = probe_reference(policy, Answers(expires_in=False))
    assert bare.finding("access_token_lifetime").confidence == "not_measured"


def test_a_distributed_access_lifetime_is_written_as_the_range_seen() -> None:
    policy = {
        "refresh_token_usage": "reuse",
        "absolute_lifetime": "60s",
        "access_token_lifetime": {"uniform": {"low": "50m", "high": "70m"}},
    }
    result, _, _ = probe_reference(policy)
    access = result.finding("access_token_lifetime")
    assert access.confidence == "bounded"
    low, high = access.low, access.high
    assert low is not None and high is not None and 3000 <= low < high <= 4200
    assert set(access.value) == {"uniform"}


@st.composite
def random_policies(draw: st.DrawFn) -> dict[str, Any]:
    usage = draw(st.sampled_from(["reuse", "one_time", "rotate_keep_old"]))
    sliding = draw(st.one_of(st.none(), st.integers(3, 300)))
    config: dict[str, Any] = {
        "refresh_token_usage": usage,
        "absolute_lifetime": draw(st.one_of(st.none(), st.integers(5, 600))) or "unlimited",
        "sliding_lifetime": sliding or "none",
        "idle_tolerance": draw(st.integers(0, 10)) if sliding else 0,
        "absolute_anchor": draw(st.sampled_from(["chain", "token"])),
        "max_tokens_per_user": draw(st.one_of(st.none(), st.integers(1, 5))) or "unlimited",
        "on_cap": draw(st.sampled_from(["evict_oldest", "evict_least_recently_used", "reject_new"])),
        "access_token_lifetime": draw(st.integers(5, 7200)),
    }
    if usage == "one_time":
        config["reuse_interval"] = draw(st.one_of(st.just(0), st.integers(1, 60)))
        config["on_reuse"] = draw(st.sampled_from(["reject", "revoke_family"]))
        config["max_reuse"] = draw(st.integers(0, 2))
    return config


answer_shapes = st.builds(
    Answers,
    expires_in=st.booleans(),
    refresh_expires_in=st.booleans(),
    echo_refresh_token=st.booleans(),
    jwt_access_tokens=st.booleans(),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=random_policies(), answers=answer_shapes)
def test_the_probe_recovers_random_policies(policy: dict[str, Any], answers: Answers) -> None:
    Policy.from_dict(policy)  # every drawn policy is valid
    check(policy, answers)
