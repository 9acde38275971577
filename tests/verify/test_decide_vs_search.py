"""The exact decisions agree with hypothesis search on small cases.

For each case the decision procedure either proves the property (then a search of the same class finds no
counterexample), or builds a counterexample from the policy's rules (then a search finds one too, without
the decision's help), or leaves it to the search. The cases cover every argument of sim/verify/decide.py:
the sliding and absolute bounds, the reach of a timeline, the cap against devices and fresh logins, the
reuse interval against racing tabs and lost responses, replays, stolen tokens and valid chains.
"""

from __future__ import annotations

import pytest

from sim.verify.decide import decide
from sim.verify.runner import FAILED, search, verify_invariant
from tests.verify.cases import invariant, policy

PROVED = [
    ("one_time", "below", "never_forced"),
    ("one_time", "at", "idle_1d"),
    ("one_time", "theft", "replay_refused"),
    ("one_time", "password", "never_evicted"),
    ("grace_family", "tabs", "never_forced"),
    ("grace_family", "lost", "idle_1d"),
    ("grace_family", "fresh", "chains_2"),
    ("family_reject_new", "theft", "stolen_victim"),
    ("family_reject_new", "lost", "replay_kills"),
    ("family_reject_new", "devices", "never_evicted"),
    ("reuse_absolute", "theft", "login_2d"),
    ("reuse_absolute", "tabs", "replay_refused"),
    ("reuse_absolute", "fresh", "never_forced"),
    ("keep_old", "fresh", "never_evicted"),
    ("token_anchor", "at", "idle_1d"),
]

REFUTED = [
    ("one_time", "at", "never_forced"),
    ("one_time", "tabs", "never_forced"),
    ("one_time", "lost", "never_forced"),
    ("one_time", "theft", "stolen_victim"),
    ("one_time", "password", "never_forced"),
    ("one_time", "fresh", "never_evicted"),
    ("grace_family", "lost", "never_forced"),
    ("grace_family", "theft", "replay_refused"),
    ("grace_family", "theft", "stolen_victim"),
    ("grace_family", "tabs", "replay_kills"),
    ("keep_old", "tabs", "replay_refused"),
    ("keep_old", "theft", "login_2d"),
    ("reuse_absolute", "theft", "stolen_1d"),
    ("reuse_absolute", "at", "idle_1d"),
    ("family_reject_new", "devices", "never_rejected"),
    ("token_anchor", "fresh", "chains_2"),
    ("reuse_absolute", "fresh", "chains_2"),
]

SEED = 11


@pytest.mark.slow
@pytest.mark.parametrize(("policy_name", "who", "prop"), PROVED, ids=["-".join(c) for c in PROVED])
def test_a_proved_property_has_no_counterexample(policy_name: str, who: str, prop: str) -> None:
    pol, inv = policy(policy_name), invariant(who, prop)
    decision = decide(pol, inv)
    assert decision.proved, decision.reason
    tried, example = search(pol, inv, examples=120, seed=SEED)
    assert example is None, "\n".join(example.story)
    assert tried > 0


@pytest.mark.slow
@pytest.mark.parametrize(("policy_name", "who", "prop"), REFUTED, ids=["-".join(c) for c in REFUTED])
def test_a_refuted_property_is_also_refuted_by_search(policy_name: str, who: str, prop: str) -> None:
    pol, inv = policy(policy_name), invariant(who, prop)
    decision = decide(pol, inv)
    assert not decision.proved
    decided = verify_invariant(pol, inv, examples=0)
    assert decided.outcome == FAILED and decided.counterexample.found_by == "decision"
    _, example = search(pol, inv, examples=1500, seed=SEED)
    assert example is not None, decision.reason
