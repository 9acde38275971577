"""The public strategies: policies within a preset's limits, timelines of a class, usable in @given."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.core.validation import ConfigError
from sim.policy.model import Policy
from sim.policy.presets import PRESETS
from sim.scenario.invariants import Behaviour
from sim.verify import execute
from sim.verify.strategies import FIELD_VALUES, policies, timelines
from sim.verify.timelines import admits

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("preset", [None, *PRESETS])
def test_policies_stay_within_the_preset_and_vary(preset: str | None) -> None:
    drawn: list[Policy] = []

    @SETTINGS
    @given(policies(preset))
    def collect(policy: Policy) -> None:
        assert policy.preset == preset
        # the policy is exactly what validating its own resolved form gives: every limit was checked
        assert Policy.from_dict(policy.to_config()) == policy
        drawn.append(policy)

    collect()
    assert len(set(drawn)) > 1 or preset in ("entra_id", "entra_id_spa")


def test_fixed_fields_are_kept_and_strategies_drawn_from() -> None:
    @SETTINGS
    @given(policies("okta", sliding_lifetime="1d", reuse_interval=st.sampled_from(["0s", "10s"])))
    def check(policy: Policy) -> None:
        assert policy.sliding_lifetime == 86400.0 and policy.reuse_interval in (0.0, 10.0)

    check()


def test_every_field_has_values_to_try() -> None:
    assert set(FIELD_VALUES) == set(Policy.model_fields) - {"preset"}


def test_unknown_names_are_reported_with_did_you_mean() -> None:
    with pytest.raises(ConfigError, match="did you mean 'sliding_lifetime'"):
        policies("okta", slidng_lifetime="1d")
    with pytest.raises(ConfigError, match="did you mean 'okta'"):
        policies("oktaa")
    with pytest.raises(
        ConfigError, match=r"who\.largest_gp: unknown field 'largest_gp'; did you mean 'largest_gap'"
    ):
        timelines({"largest_gp": "1d"})


WHO = {"devices": "1..2", "tabs": 2, "race_window": "1s", "sessions": 3}


@SETTINGS
@given(policies("okta"), timelines(WHO))
def test_a_team_property_test_written_with_the_strategies(policy: Policy, timeline) -> None:  # type: ignore[no-untyped-def]
    assert admits(Behaviour.model_validate(WHO), timeline) == []
    trace = execute(policy, timeline)
    # Okta's default grace period (30 s) covers tabs racing within a second
    assert policy.reuse_interval == 0 or not [s for s in trace.forced_logins if s.reason == "consumed"]
