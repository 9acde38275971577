"""The scenario model: defaults, shipped scenarios, to_config round trips, overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pydantic
import pytest
import yaml

from sim.core.durations import DAY, HOUR
from sim.core.validation import ConfigError
from sim.policy.model import Policy
from sim.scenario import (
    Activity,
    Empirical,
    EmpiricalCount,
    Exponential,
    Fixed,
    FixedCount,
    LogNormal,
    Persona,
    Poisson,
    Scenario,
    Uniform,
    UniformCount,
    load_scenario,
    scenario_from_dict,
    scenario_from_yaml,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))

MINIMAL = {
    "name": "minimal",
    "horizon": "30d",
    "policy": {},
    "population": [{"name": "p", "users": 3}],
}

EVERY_DISTRIBUTION = {
    "name": "every-distribution",
    "horizon": "10d",
    "policy": {"preset": "visma_connect"},
    "population": [
        {
            "name": "a",
            "users": 7,
            "devices": {"poisson": {"mean": 1.5}, "min": 1, "max": 4},
            "activity": {"session_duration": {"empirical": {"values": ["1m", 90, "1.5h"]}}},
            "absences": {"per_year": 1, "duration": {"exponential": {"mean": "3d"}}},
            "clients": {"tabs": {"uniform": {"low": 1, "high": 3}}, "race_window": 0.25},
            "faults": {"retry_after": {"lognormal": {"median": 1.2345678, "sigma": 0.3}}},
        },
        {
            "name": "b",
            "users": 1,
            "devices": {"empirical": {"values": [1, 2, 3], "weights": [0.6, 0.3, 0.1]}},
            "clients": {"tabs": {"uniform": {"low": 0, "high": 2}, "min": 1}},
        },
    ],
}


def test_minimal_scenario_gets_the_documented_defaults() -> None:
    scenario = scenario_from_dict(MINIMAL)
    assert scenario.description == ""
    assert scenario.seed == 0
    assert scenario.horizon == 30 * DAY
    assert scenario.warmup == 0.0
    assert scenario.replications == 5
    assert scenario.policy == Policy.from_dict({})
    (persona,) = scenario.population
    assert persona.devices == FixedCount(1)
    assert persona.activity.schedule == "always"
    assert persona.activity.sessions_per_day == 1.0
    assert persona.activity.session_duration == Fixed(0.0)
    assert persona.activity.fresh_login == 0.0
    assert persona.absences.per_year == 0.0
    assert persona.absences.duration == Fixed(14 * DAY)
    assert persona.clients.tabs == FixedCount(1)
    assert persona.clients.refresh_lock is False
    assert persona.clients.race_window == Uniform(0.0, 2.0)
    assert persona.faults.lost_refresh_response == 0.0
    assert persona.faults.retry_after == Exponential(5.0)
    assert persona.faults.persist_failure == 0.0
    assert persona.lifecycle.device_replaced_per_year == 0.0
    assert persona.lifecycle.logout_at_session_end == 0.0
    assert persona.lifecycle.password_changes_per_year == 0.0


def test_sections_can_be_built_directly_with_distribution_objects() -> None:
    activity = Activity(session_duration=LogNormal(HOUR, 0.8), sessions_per_day=2)
    assert activity.session_duration == LogNormal(HOUR, 0.8)
    persona = Persona(name="x", users=2, devices=2)
    assert persona.devices == FixedCount(2)


def test_every_distribution_form_is_parsed_into_its_object() -> None:
    scenario = scenario_from_dict(EVERY_DISTRIBUTION)
    a, b = scenario.population
    assert a.devices == Poisson(1.5, 1, 4)
    assert a.activity.session_duration == Empirical((60.0, 90.0, 5400.0), (1.0, 1.0, 1.0))
    assert a.absences.duration == Exponential(3 * DAY)
    assert a.clients.tabs == UniformCount(1, 3)
    assert a.clients.race_window == Fixed(0.25)
    assert a.faults.retry_after == LogNormal(1.2345678, 0.3)
    assert b.devices == EmpiricalCount((1, 2, 3), (0.6, 0.3, 0.1))
    assert b.clients.tabs == UniformCount(0, 2, 1, None)


def test_models_are_frozen() -> None:
    scenario = scenario_from_dict(MINIMAL)
    with pytest.raises(pydantic.ValidationError):
        scenario.seed = 3  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        scenario.population[0].activity.fresh_login = 0.5  # type: ignore[misc]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_scenario_loads(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.description.strip()
    assert scenario.replications == 3
    assert 90 * DAY <= scenario.horizon <= 365 * DAY
    assert sum(p.users for p in scenario.population) <= 500
    first_line = path.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=../docs/scenario.schema.json"


def test_the_shipped_scenarios_are_the_documented_ones() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    undocumented = [p.name for p in SHIPPED if f"`{p.name}`" not in readme]
    assert undocumented == [], "add these to the README's table of shipped scenarios"
    spa = load_scenario(ROOT / "scenarios" / "spa-racing-tabs.yaml")
    grace = load_scenario(ROOT / "scenarios" / "spa-racing-tabs-grace.yaml")
    assert spa.policy.preset is None and spa.policy.on_reuse == "revoke_family"
    assert spa.policy.reuse_interval == 0 and grace.policy.reuse_interval == 30
    assert spa.population[0].clients.tabs == Poisson(3.0, 1, None)
    assert spa.population == grace.population
    cap = load_scenario(ROOT / "scenarios" / "multi-device-cap.yaml")
    assert cap.policy.max_tokens_per_user == 5 and cap.policy.on_cap == "evict_oldest"
    assert cap.population[0].devices == UniformCount(3, 6)


@pytest.mark.parametrize(
    "scenario",
    [
        *[load_scenario(p) for p in SHIPPED],
        scenario_from_dict(MINIMAL),
        scenario_from_dict(EVERY_DISTRIBUTION),
    ],
    ids=[*[p.stem for p in SHIPPED], "minimal", "every-distribution"],
)
def test_to_config_round_trips(scenario: Scenario) -> None:
    config = scenario.to_config()
    assert scenario_from_dict(config) == scenario
    # it is JSON- and YAML-serialisable, and the YAML form reads back the same
    assert json.loads(json.dumps(config)) == config
    assert scenario_from_yaml(yaml.safe_dump(config, sort_keys=False)) == scenario


def test_to_config_is_fully_resolved() -> None:
    config = scenario_from_dict(MINIMAL).to_config()
    assert config["warmup"] == "0s"
    assert config["policy"]["refresh_token_usage"] == "reuse"
    persona = config["population"][0]
    assert set(persona) == {
        "name",
        "users",
        "devices",
        "activity",
        "absences",
        "clients",
        "faults",
        "lifecycle",
    }
    assert persona["clients"]["race_window"] == {"uniform": {"low": "0s", "high": "2s"}}
    assert persona["faults"]["retry_after"] == {"exponential": {"mean": "5s"}}
    assert persona["absences"]["duration"] == "2w"


def test_with_overrides_scales_users_rounding_and_keeping_at_least_one() -> None:
    data = {**MINIMAL, "population": [{"name": "a", "users": 1000}, {"name": "b", "users": 3}]}
    scenario = scenario_from_dict(data)
    smaller = scenario.with_overrides(users_scale=0.0025)
    assert [p.users for p in smaller.population] == [3, 1]  # 2.5 rounds half up; 0.0075 -> at least 1
    assert [p.users for p in scenario.with_overrides(users_scale=1.5).population] == [1500, 5]  # 4.5 -> 5
    other = scenario.with_overrides(replications=2, seed=99)
    assert (other.replications, other.seed) == (2, 99)
    assert other.population == scenario.population
    assert scenario.with_overrides() == scenario


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"replications": 0}, "replications: must be a whole number of at least 1, got 0"),
        ({"seed": -1}, "seed: must be a whole number of at least 0, got -1"),
        ({"users_scale": 0}, "users_scale: must be a number greater than 0, got 0"),
        ({"users_scale": float("nan")}, "users_scale: must be a number greater than 0"),
    ],
)
def test_with_overrides_refuses_bad_values(overrides: dict[str, float], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        scenario_from_dict(MINIMAL).with_overrides(**overrides)  # type: ignore[arg-type]
    assert fragment in info.value.render()


def test_scenario_from_dict_reports_problems_without_lines() -> None:
    with pytest.raises(ConfigError) as info:
        scenario_from_dict({**MINIMAL, "horizon": "0s", "seeed": 1}, source="inline")
    rendered = info.value.render()
    assert "inline: horizon: must be a positive duration" in rendered
    assert "inline: seeed: unknown field 'seeed'; did you mean 'seed'?" in rendered
    assert all(p.line is None for p in info.value.problems)


@pytest.mark.parametrize("data", [None, [], "text", 3])
def test_scenario_from_dict_refuses_a_non_mapping(data: object) -> None:
    with pytest.raises(ConfigError, match=r"must be a mapping|no content"):
        scenario_from_dict(data)  # type: ignore[arg-type]


def test_a_number_too_large_for_a_float_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"policy.access_token_lifetime: number too large"):
        scenario_from_dict({**MINIMAL, "policy": {"access_token_lifetime": 10**400}})
