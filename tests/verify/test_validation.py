"""The invariants with known answers of issue 19, each decided and searched.

- sliding S and a largest gap below S never force a login: holds, proved;
- a largest gap above S does: counterexample found, shrunk to a gap just over S;
- two tabs racing under one-time use without a reuse interval force a login (found); with a reuse
  interval longer than the race window they do not (holds);
- a cap of k with more than k devices logging in evicts (found); with k or fewer and no fresh logins it
  does not (holds).
"""

from __future__ import annotations

import pytest

from sim.core.durations import DAY, HOUR
from sim.policy.model import Policy
from sim.verify.execute import REFRESH, SESSION, execute
from sim.verify.runner import FAILED, HELD, PROVED, verify_invariant
from tests.verify.cases import invariant

SLIDING = 15 * DAY
ACCESS = HOUR
EXAMPLES = 60


def visma(**fields: object) -> Policy:
    return Policy.from_dict({"preset": "visma_connect", "sliding_lifetime": "15d", **fields})


def gaps(who_gap: str, sessions: int = 6) -> dict[str, object]:
    return {"sessions": sessions, "largest_gap": who_gap, "session_length": "0s..2h", "over": "60d"}


def failing_idle(policy: Policy, result) -> float:  # type: ignore[no-untyped-def]
    """How long the refused token had been unused, replaying the counterexample."""
    example = result.counterexample
    trace = execute(policy, example.timeline)
    step = trace.steps[example.violation.step]
    assert step.kind == REFRESH and step.reason == "sliding_expiry"
    assert step.token_idle is not None
    return step.token_idle


def test_a_largest_gap_below_the_sliding_lifetime_never_forces_a_login_proved() -> None:
    # the gap plus the access token's hour stays within 15 days
    result = verify_invariant(visma(), invariant(gaps("14d"), "never_forced"), examples=EXAMPLES)
    assert result.outcome == PROVED, result.headline()
    assert "14d 1h" in result.reason and "15d" in result.reason
    assert result.tried == EXAMPLES  # the search agrees


def test_the_gap_that_just_fits_is_proved_and_one_second_more_fails() -> None:
    # a client refreshes at its access token's expiry: the token idles up to the gap plus one hour
    fits = verify_invariant(visma(), invariant(gaps("359h"), "never_forced"), examples=20)
    assert fits.outcome == PROVED
    policy = visma()
    over = verify_invariant(policy, invariant(gaps(1292401), "never_forced"), examples=0)
    assert over.outcome == FAILED
    assert failing_idle(policy, over) == SLIDING + 1


def test_a_largest_gap_above_the_sliding_lifetime_forces_a_login_just_over_it() -> None:
    policy = visma()
    result = verify_invariant(policy, invariant(gaps("20d"), "never_forced"), examples=EXAMPLES)
    assert result.outcome == FAILED
    assert result.counterexample.found_by == "decision"
    assert failing_idle(policy, result) == SLIDING + 1
    sessions = [s for s in execute(policy, result.counterexample.timeline).steps if s.kind == SESSION]
    assert [s.at for s in sessions] == [0.0, SLIDING + 1]  # a gap of 15 days and one second
    assert "day 15 00:00:01" in "\n".join(result.counterexample.story)


def test_the_search_alone_finds_and_shrinks_the_gap_to_just_over_the_sliding_lifetime() -> None:
    policy = visma()
    result = verify_invariant(
        policy, invariant(gaps("20d"), "never_forced"), examples=200, seed=3, use_decision=False
    )
    assert result.outcome == FAILED and result.counterexample.found_by == "search"
    assert failing_idle(policy, result) == SLIDING + 1
    # shrunk: one device, the fewest sessions that show it
    timeline = result.counterexample.timeline
    assert len(timeline.devices) == 1 and len(timeline.devices[0].sessions) == 2


RACE = {"tabs": 2, "race_window": "1s", "sessions": 3, "largest_gap": "1d", "session_length": "0s..9h"}


@pytest.mark.parametrize("use_decision", [True, False], ids=["decided", "searched"])
def test_racing_tabs_without_a_reuse_interval_force_a_login(use_decision: bool) -> None:
    result = verify_invariant(
        visma(), invariant(RACE, "never_forced"), examples=300, use_decision=use_decision
    )
    assert result.outcome == FAILED
    assert "consumed" in result.counterexample.violation.message
    story = "\n".join(result.counterexample.story)
    assert "(tab 2) refreshes with token 1.0: refused, consumed -> forced login" in story


def test_racing_tabs_within_a_longer_reuse_interval_never_force_a_login() -> None:
    result = verify_invariant(visma(reuse_interval="5s"), invariant(RACE, "never_forced"), examples=EXAMPLES)
    assert result.outcome == PROVED, result.headline()
    assert result.tried == EXAMPLES
    # and by search alone: no counterexample
    searched = verify_invariant(
        visma(reuse_interval="5s"), invariant(RACE, "never_forced"), examples=EXAMPLES, use_decision=False
    )
    assert searched.outcome == HELD


def test_a_reuse_interval_shorter_than_the_race_window_is_not_enough() -> None:
    wide = {**RACE, "race_window": "10s"}
    result = verify_invariant(visma(reuse_interval="5s"), invariant(wide, "never_forced"), examples=0)
    assert result.outcome == FAILED
    assert "(tab 2) refreshes with token 1.0: refused, consumed" in "\n".join(result.counterexample.story)


@pytest.mark.parametrize("use_decision", [True, False], ids=["decided", "searched"])
def test_a_cap_of_k_with_more_than_k_devices_evicts(use_decision: bool) -> None:
    who = {"devices": "1..4", "sessions": 2, "over": "10d"}
    result = verify_invariant(
        visma(max_tokens_per_user=3), invariant(who, "never_evicted"), examples=200, use_decision=use_decision
    )
    assert result.outcome == FAILED
    assert "evicts chain 1 at the cap" in result.counterexample.violation.message
    assert len(result.counterexample.timeline.devices) == 4


def test_a_cap_of_k_with_at_most_k_devices_and_no_fresh_logins_never_evicts() -> None:
    who = {"devices": "1..3", "sessions": 4, "over": "10d"}
    result = verify_invariant(
        visma(max_tokens_per_user=3), invariant(who, "never_evicted"), examples=EXAMPLES
    )
    assert result.outcome == PROVED, result.headline()
    assert "at most 3 valid chains" in result.reason


def test_fresh_logins_within_the_sliding_lifetime_can_push_three_devices_over_a_cap_of_three() -> None:
    who = {"devices": "1..3", "sessions": 4, "over": "10d", "fresh_logins": {"at_most": 1, "per": "30d"}}
    result = verify_invariant(visma(max_tokens_per_user=3), invariant(who, "never_evicted"), examples=0)
    assert result.outcome == FAILED
    assert "afresh" in "\n".join(result.counterexample.story)
