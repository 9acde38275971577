"""The `invariants:` grammar: its written forms, defaults, round trips, sentences and JSON Schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from sim.core.durations import DAY, HOUR
from sim.scenario import load_scenario, scenario_from_dict, scenario_from_yaml, scenario_json_schema
from sim.scenario.invariants import Behaviour, Invariant, Span

ROOT = Path(__file__).resolve().parents[2]
BASE = {
    "name": "x",
    "horizon": "30d",
    "policy": {"preset": "visma_connect"},
    "population": [{"name": "p", "users": 1}],
}


def test_the_class_defaults_are_explicit() -> None:
    who = Behaviour()
    assert (who.devices.low, who.devices.high, who.sessions) == (1, 1, 10)
    assert (who.over, who.largest_gap, who.smallest_gap) == (90 * DAY, DAY, 0.0)
    assert who.session_length == Span(0.0, 2 * HOUR)
    assert who.tabs == Span(1, 1) and who.race_window == 2.0 and not who.refresh_lock
    assert who.lost_responses == 0 and who.retry_after == Span(1.0, 30.0)
    assert [o.at_most for o in (who.fresh_logins, who.logouts, who.password_changes, who.thefts)] == [
        0,
        0,
        0,
        0,
    ]
    assert who.attacker == "immediate"


@pytest.mark.parametrize(
    ("field", "written", "expected"),
    [
        ("devices", 3, (3, 3, ())),
        ("devices", "1..4", (1, 4, ())),
        ("devices", [" laptop", "phone"], (2, 2, ("laptop", "phone"))),
        ("tabs", "2..3", Span(2, 3)),
        ("session_length", "30m..9h", Span(1800.0, 9 * HOUR)),
        ("session_length", "1h", Span(HOUR, HOUR)),
        ("retry_after", 5, Span(5.0, 5.0)),
    ],
)
def test_counts_durations_and_ranges(field: str, written: object, expected: object) -> None:
    value = getattr(Behaviour.model_validate({field: written}), field)
    if field == "devices":
        value = (value.low, value.high, value.names)
    assert value == expected


def test_event_bounds_are_a_count_or_a_count_per_period() -> None:
    who = Behaviour.model_validate({"fresh_logins": {"at_most": 2, "per": "30d"}, "thefts": 1})
    assert (who.fresh_logins.at_most, who.fresh_logins.per) == (2, 30 * DAY)
    assert (who.thefts.at_most, who.thefts.per) == (1, None)
    # at most two in any 30 days
    assert who.fresh_logins.allows([0.0, DAY, 31 * DAY])
    assert not who.fresh_logins.allows([0.0, DAY, 29 * DAY])
    assert who.fresh_logins.allows([0.0, DAY, 30 * DAY])  # a window of 30 days is half-open


def test_the_resolved_form_round_trips_and_reads_like_the_file() -> None:
    text = (ROOT / "scenarios" / "visma-office-invariants.yaml").read_text(encoding="utf-8")
    scenario = scenario_from_yaml(text)
    config = scenario.to_config()
    assert scenario_from_dict(config) == scenario
    first = config["invariants"][0]
    assert first["who"]["devices"] == ["laptop", "phone"]
    assert first["who"]["session_length"] == "0s..9h" and first["who"]["fresh_logins"] == 0
    assert first["never"] == "forced_login" and "replay" not in first
    assert config["invariants"][2]["who"]["fresh_logins"] == {"at_most": 2, "per": "30d"}


def test_a_scenario_without_invariants_resolves_as_before() -> None:
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        scenario = load_scenario(path)
        assert ("invariants" in scenario.to_config()) == bool(scenario.invariants)
    assert "invariants" not in scenario_from_dict(BASE).to_config()


@pytest.mark.parametrize(
    ("body", "sentence"),
    [
        ({"never": "forced_login"}, "never forced_login"),
        ({"never": ["eviction", "forced_login.evicted"]}, "never eviction, forced_login.evicted"),
        (
            {"no_token_works": {"later_than": "90d", "after": "login"}},
            "no token works later than 90d after its login",
        ),
        ({"replay": "kills_family", "who": {"thefts": 1}}, "every replay is refused and ends its family"),
        (
            {"stolen_token_stops": {"within": "1h", "after_victim_refreshes": 1}, "who": {"thefts": 1}},
            "a stolen token stops working within 1h and after 1 victim refreshes",
        ),
        ({"at_most": {"valid_chains": 5}}, "at most 5 valid chains per user"),
    ],
)
def test_each_property_reads_as_a_sentence(body: dict, sentence: str) -> None:
    assert Invariant.model_validate({"name": "n", **body}).sentence() == sentence


def _schema_problems(data: object) -> list[str]:
    return [e.message for e in Draft202012Validator(scenario_json_schema()).iter_errors(data)]


def test_the_schema_accepts_every_written_form_and_catches_typos() -> None:
    good = {
        **BASE,
        "invariants": [
            {
                "name": "a",
                "who": {"devices": 2, "fresh_logins": {"at_most": 1, "per": "7d"}},
                "never": "eviction",
            },
            {
                "name": "b",
                "who": {"devices": "1..3", "tabs": "1..2", "session_length": "0s..1h"},
                "never": ["forced_login"],
            },
            {
                "name": "c",
                "who": {"devices": ["laptop"], "thefts": 1},
                "stolen_token_stops": {"within": "1d"},
            },
        ],
    }
    assert _schema_problems(good) == []
    scenario_from_dict(good)
    typo = {**BASE, "invariants": [{"name": "a", "never": "forced_logn"}]}
    assert any("forced_logn" in p for p in _schema_problems(typo))
    unknown = {**BASE, "invariants": [{"name": "a", "who": {"largest_gp": "1d"}, "never": "eviction"}]}
    assert any("largest_gp" in p for p in _schema_problems(unknown))


def test_a_yaml_file_with_invariants_conforms_to_the_schema() -> None:
    path = ROOT / "scenarios" / "visma-office-invariants.yaml"
    assert _schema_problems(yaml.safe_load(path.read_text(encoding="utf-8"))) == []
