"""The exact arguments at their boundaries (no search: the decision procedure alone)."""

from __future__ import annotations

import pytest

from sim.core.durations import DAY, HOUR
from sim.policy.model import Policy
from sim.verify.decide import decide
from sim.verify.runner import FAILED, verify_invariant
from tests.verify.cases import invariant


def visma(**fields: object) -> Policy:
    return Policy.from_dict({"preset": "visma_connect", "sliding_lifetime": "15d", **fields})


@pytest.mark.parametrize(
    ("gap", "proved"),
    [(15 * DAY - HOUR, True), (15 * DAY - HOUR + 1, False), (14 * DAY, True), (15 * DAY, False)],
)
def test_the_sliding_argument_is_exact_to_the_second(gap: float, proved: bool) -> None:
    inv = invariant({"largest_gap": gap, "sessions": 3, "over": "60d"}, "never_forced")
    decision = decide(visma(), inv)
    assert decision.proved is proved, decision.reason
    if not proved:  # and then the engine agrees: a counterexample in the class replays
        assert verify_invariant(visma(), inv, examples=0).outcome == FAILED


def test_the_idle_tolerance_widens_the_sliding_window() -> None:
    keycloak = Policy.from_dict({"preset": "keycloak", "absolute_lifetime": "30d"})  # 30m + 120s, 5m tokens
    fits = invariant(
        {"largest_gap": "27m", "sessions": 3, "over": "1d"}, {"never": "forced_login.sliding_expiry"}
    )
    assert decide(keycloak, fits).proved  # 27m + 5m = 32m = 30m + 120s
    over = invariant(
        {"largest_gap": 1621, "sessions": 3, "over": "1d"}, {"never": "forced_login.sliding_expiry"}
    )
    assert not decide(keycloak, over).proved
    assert verify_invariant(keycloak, over, examples=0).outcome == FAILED


def test_the_reach_of_a_class_decides_the_absolute_lifetime() -> None:
    policy = Policy.from_dict({"refresh_token_usage": "reuse", "absolute_lifetime": "2d"})
    short = invariant(
        {"sessions": 3, "largest_gap": "12h", "session_length": "0s..2h", "over": "10d"}, "never_forced"
    )
    assert decide(policy, short).proved  # 3 sessions reach 42 h at most
    long = invariant(
        {"sessions": 5, "largest_gap": "12h", "session_length": "0s..2h", "over": "10d"}, "never_forced"
    )
    decision = decide(policy, long)
    assert not decision.proved and "absolute lifetime 2d" in decision.reason


@pytest.mark.parametrize(("sliding", "bound"), [("15d", 7), ("45d", 9), ("59d", 9), ("60d", 11)])
def test_the_cap_argument_counts_devices_and_fresh_logins_still_alive(sliding: str, bound: int) -> None:
    who = {"devices": "1..5", "fresh_logins": {"at_most": 2, "per": "30d"}, "over": "120d"}
    decision = decide(
        visma(sliding_lifetime=sliding, max_tokens_per_user=20), invariant(who, "never_evicted")
    )
    assert decision.proved and f"at most {bound} valid chains" in decision.reason
    tight = decide(
        visma(sliding_lifetime=sliding, max_tokens_per_user=bound - 1), invariant(who, "never_evicted")
    )
    assert not tight.proved


def test_a_refused_replay_leaves_chains_behind_the_cap_argument_does_not_hold() -> None:
    who = {"devices": 2, "tabs": 2}
    decision = decide(visma(max_tokens_per_user=20), invariant(who, "never_evicted"))
    assert not decision.proved and "on_reuse: reject" in decision.reason
    family = visma(max_tokens_per_user=20, on_reuse="revoke_family")
    assert decide(family, invariant(who, "never_evicted")).proved


def test_evident_causes_give_their_own_reason() -> None:
    decision = decide(visma(), invariant({}, {"never": "forced_login.unknown_token"}))
    assert decision.proved and decision.reason == "devices only present tokens they were issued"


def test_last_use_bounds_by_usage() -> None:
    keep_old = Policy.from_dict(
        {"refresh_token_usage": "rotate_keep_old", "absolute_lifetime": "3d", "sliding_lifetime": "1d"}
    )
    prop = {"no_token_works": {"later_than": "3d", "after": "last_use"}}
    assert decide(keep_old, invariant({}, prop)).proved
    shorter = {"no_token_works": {"later_than": "2d", "after": "last_use"}}
    decision = decide(keep_old, invariant({}, shorter))
    assert not decision.proved and "rotate_keep_old" in decision.reason
    grace = visma(reuse_interval="30s")
    assert decide(grace, invariant({}, {"no_token_works": {"later_than": "15d", "after": "last_use"}})).proved


def test_a_fresh_login_defeats_victim_refreshes() -> None:
    family = visma(on_reuse="revoke_family")
    prop = {"stolen_token_stops": {"after_victim_refreshes": 1}}
    assert decide(family, invariant({"thefts": 1}, prop)).proved
    decision = decide(family, invariant({"thefts": 1, "fresh_logins": 1}, prop))
    assert not decision.proved and "fresh login abandons the stolen chain" in decision.reason
