"""The JSON Schema: the committed file is current, it covers every field, and it agrees with the loader."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from sim.core.durations import parse_duration
from sim.policy.model import Policy
from sim.scenario import (
    Absences,
    Activity,
    Clients,
    Faults,
    Lifecycle,
    Persona,
    Scenario,
    scenario_json_schema,
)
from sim.scenario.schema import DURATION_PATTERN
from tests.scenario.broken_cases import VALID

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "docs" / "scenario.schema.json"
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))


def test_the_committed_schema_is_current() -> None:
    expected = json.dumps(scenario_json_schema(), indent=2) + "\n"
    assert SCHEMA_FILE.read_text(encoding="utf-8") == expected, (
        "docs/scenario.schema.json is stale: run `python -m sim schema --out docs/scenario.schema.json`"
    )


def test_the_schema_is_draft_2020_12_with_definitions() -> None:
    schema = scenario_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "horizon", "policy", "population"}
    text = json.dumps(schema)
    assert "x-ref" not in text
    for ref in re.findall(r'"\$ref": "#/\$defs/([^"]+)"', text):
        assert ref in schema["$defs"]


def test_every_model_field_has_a_title_and_a_description() -> None:
    schema = scenario_json_schema()
    for model in (Scenario, Persona, Activity, Absences, Clients, Faults, Lifecycle):
        name = model.__name__
        definition = schema if model is Scenario else schema["$defs"][name]
        assert definition["additionalProperties"] is False
        assert definition["description"]
        assert list(definition["properties"]) == list(model.model_fields)
        for field, prop in definition["properties"].items():
            assert prop.get("title"), f"{name}.{field}"
            assert prop.get("description") or "$ref" in prop, f"{name}.{field}"


def test_the_policy_schema_covers_every_policy_field() -> None:
    policy = scenario_json_schema()["$defs"]["Policy"]
    assert list(policy["properties"]) == list(Policy.model_fields)
    assert policy["additionalProperties"] is False
    assert policy["properties"]["on_cap"]["enum"] == [
        "evict_oldest",
        "evict_least_recently_used",
        "reject_new",
    ]
    from sim.policy.presets import PRESETS

    assert policy["properties"]["preset"]["enum"] == [*PRESETS, None]
    for prop in policy["properties"].values():
        assert prop["title"] and prop["description"]


def test_enums_for_the_literal_choices() -> None:
    activity = scenario_json_schema()["$defs"]["Activity"]
    named, profile = activity["properties"]["schedule"]["anyOf"]
    assert named["enum"] == ["always", "weekdays", "business_hours"]
    assert profile == {"$ref": "#/$defs/WeeklyProfile"}


@pytest.mark.parametrize(
    ("persona", "fragment"),
    [
        ({"name": "p", "activity": {"trace": "t.parquet"}}, None),
        ({"name": "p", "users": 5, "activity": {"trace": {"path": "t.parquet", "sampling": "bootstrap"}}},
         None),
        ({"name": "p", "users": 1, "activity": {"schedule": {"profile": [[1] * 24] * 7}}}, None),
        ({"name": "p"}, "'users' is a required property"),
        ({"name": "p", "users": 1, "activity": {"schedule": {"profile": [[1] * 24] * 6}}},
         "is not valid under any"),
        ({"name": "p", "activity": {"trace": {"path": "t.parquet", "sampling": "all"}}}, "is not valid"),
    ],
)
def test_the_schema_knows_traces_and_profiles(persona: dict[str, Any], fragment: str | None) -> None:
    scenario = {"name": "s", "horizon": "7d", "policy": {}, "population": [persona]}
    problems = _check(scenario, scenario_json_schema())
    if fragment is None:
        assert problems == []
    else:
        assert any(fragment in problem for problem in problems), problems


@pytest.mark.parametrize("text", ["90s", "15m", "1h", "15d", "2w", "0", "1.5h", ".5s", " 3 d "])
def test_duration_pattern_accepts_what_the_parser_accepts(text: str) -> None:
    assert re.match(DURATION_PATTERN, text)
    parse_duration(text)


@pytest.mark.parametrize("text", ["-1s", "1y", "1 hour", "h", "1e3s", ""])
def test_duration_pattern_refuses_what_the_parser_refuses(text: str) -> None:
    assert not re.match(DURATION_PATTERN, text)
    with pytest.raises(ValueError):
        parse_duration(text)


def _check(value: Any, schema: dict[str, Any]) -> list[str]:
    """Problems found by a real JSON Schema validator (draft 2020-12), as readable strings."""
    validator = Draft202012Validator(schema)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value)]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_scenarios_conform_to_the_schema(path: Path) -> None:
    schema = scenario_json_schema()
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert _check(data, schema) == []


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_resolved_scenarios_conform_to_the_schema(path: Path) -> None:
    from sim.scenario import load_scenario

    schema = scenario_json_schema()
    assert _check(load_scenario(path).to_config(), schema) == []


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (("schedule: weekdays", "schedule: weekday"), "is not valid under any of the given schemas"),
        (("schedule: weekdays", "schedul: weekdays"), "'schedul' was unexpected"),
        (("tabs: 1", "tabs: {poison: {mean: 2}}"), "tabs: "),
        (("tabs: 1", "tabs: 0"), "tabs: "),
        (("horizon: 90d", "horizon: 3 months"), "horizon: "),
        (("preset: visma_connect", "preset: visma"), "preset: "),
        (("users: 10", "users: ten"), "is not of type 'integer'"),
    ],
)
def test_the_schema_catches_common_mistakes(edit: tuple[str, str], fragment: str) -> None:
    schema = scenario_json_schema()
    assert _check(yaml.safe_load(VALID), schema) == []
    broken = yaml.safe_load(VALID.replace(*edit))
    assert any(fragment in problem for problem in _check(broken, schema))
