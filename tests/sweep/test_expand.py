"""Grid and case expansion, override paths, cell ids, and the errors of a bad sweep section."""

from __future__ import annotations

import pytest

from sim.core.validation import ConfigError
from sim.experiments.cells import expand, plan_cells, swept_paths
from sim.scenario import scenario_from_dict, scenario_from_yaml
from sim.scenario.overrides import base_config
from sim.scenario.paths import PathError, apply_overrides, parse_path, short_names, value_at
from tests.sweep.scenarios import CASES, GRID, SKIPPING_GRID, scenario_text


def _load(text: str):
    return scenario_from_yaml(text, "sweep.yaml")


def test_grid_expands_in_listed_order_last_path_fastest() -> None:
    scenario = _load(scenario_text(GRID))
    cells = expand(scenario.sweep)
    assert [c.overrides for c in cells] == [
        {"policy.sliding_lifetime": s, "policy.max_tokens_per_user": m}
        for s in ("3d", "7d", "14d")
        for m in (2, 5)
    ]
    assert [c.id for c in cells] == [
        "c01-sliding_lifetime=3d-max_tokens_per_user=2",
        "c02-sliding_lifetime=3d-max_tokens_per_user=5",
        "c03-sliding_lifetime=7d-max_tokens_per_user=2",
        "c04-sliding_lifetime=7d-max_tokens_per_user=5",
        "c05-sliding_lifetime=14d-max_tokens_per_user=2",
        "c06-sliding_lifetime=14d-max_tokens_per_user=5",
    ]
    assert cells[2].label == "sliding_lifetime=7d, max_tokens_per_user=2"
    assert swept_paths(scenario.sweep) == ["policy.sliding_lifetime", "policy.max_tokens_per_user"]


def test_grid_cells_get_their_values_and_nothing_else_changes() -> None:
    scenario = _load(scenario_text(GRID))
    planned = plan_cells(scenario)
    assert all(p.error is None for p in planned)
    cell = planned[5].scenario
    assert cell.policy.sliding_lifetime == 14 * 86400 and cell.policy.max_tokens_per_user == 5
    assert cell.sweep is None and cell.requirements == ()
    assert (cell.seed, cell.replications, cell.population) == (
        scenario.seed,
        scenario.replications,
        scenario.population,
    )


def test_cases_override_any_field_including_the_population() -> None:
    scenario = _load(scenario_text(CASES))
    planned = plan_cells(scenario)
    assert [p.cell.id for p in planned] == ["c01-as_written", "c02-long_sliding", "c03-bigger_office"]
    assert [p.cell.label for p in planned] == ["as written", "long sliding", "bigger office"]
    assert planned[0].scenario.to_config() == base_config(scenario)
    assert planned[1].scenario.policy.sliding_lifetime == 20 * 86400
    bigger = planned[2].scenario
    assert bigger.population[0].users == 30 and bigger.population[1].devices.to_config() == 2
    assert swept_paths(scenario.sweep) == [
        "policy.sliding_lifetime",
        "population.office.users",
        "population[1].devices",
    ]


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("horizon", ("horizon",)),
        ("policy.sliding_lifetime", ("policy", "sliding_lifetime")),
        ("population[0].clients.tabs", ("population", 0, "clients", "tabs")),
        ("population.office.clients.tabs", ("population", "office", "clients", "tabs")),
    ],
)
def test_parse_path(path: str, parts: tuple) -> None:
    assert parse_path(path) == parts


@pytest.mark.parametrize("path", ["", "policy..cap", ".horizon", "population[x].users", "population[0"])
def test_malformed_paths_are_refused(path: str) -> None:
    with pytest.raises(PathError):
        parse_path(path)


def test_overrides_by_persona_name_and_position_and_inside_distributions() -> None:
    config = base_config(_load(scenario_text(GRID)))
    changed = apply_overrides(
        config,
        {
            "population.office.activity.session_duration.exponential.mean": "2h",
            "population[1].clients.tabs": 3,
            "horizon": "50d",
        },
    )
    assert value_at(changed, "population.office.activity.session_duration") == {"exponential": {"mean": "2h"}}
    assert changed["population"][1]["clients"]["tabs"] == 3 and changed["horizon"] == "50d"
    assert value_at(config, "population[1].clients.tabs") == 1  # the input is not modified
    scenario = scenario_from_dict(changed)
    assert scenario.horizon == 50 * 86400 and scenario.population[1].clients.tabs.to_config() == 3


def test_short_names_grow_until_distinct() -> None:
    names = short_names(["population.office.users", "population.mobile.users", "policy.on_cap"])
    assert names == {
        "population.office.users": "office.users",
        "population.mobile.users": "mobile.users",
        "policy.on_cap": "on_cap",
    }


def _error_of(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(text)
    return caught.value.render()


@pytest.mark.parametrize(
    ("sweep", "line", "fragments"),
    [
        (
            "sweep:\n  grid:\n    policy.sliding_lifetime: [3d]\n    policy.max_token_per_user: [2]\n",
            4,
            ["sweep.grid.policy.max_token_per_user", "did you mean 'max_tokens_per_user'?"],
        ),
        (
            "sweep:\n  grid:\n    population.ofice.users: [5]\n",
            3,
            ["no entry named 'ofice' in population", "did you mean 'office'?"],
        ),
        (
            "sweep:\n  grid:\n    population[2].users: [5]\n",
            3,
            ["population has 2 entries, no position [2]"],
        ),
        (
            "sweep:\n  grid:\n    horizon.days: [5]\n",
            3,
            ["horizon is a single value"],
        ),
        (
            "sweep:\n  grid:\n    polcy.sliding_lifetime: [5d]\n",
            3,
            ["unknown key 'polcy'", "did you mean 'policy'?"],
        ),
        (
            "sweep:\n  grid:\n    seed: [1, 2]\n",
            3,
            ["'seed' cannot be swept", "common random numbers"],
        ),
        (
            "sweep:\n  cases:\n    - name: a\n    - name: b\n"
            "      overrides:\n        policy.slidng_lifetime: 2d\n",
            6,
            ["sweep.cases[1].overrides.policy.slidng_lifetime", "did you mean 'sliding_lifetime'?"],
        ),
        (
            "sweep:\n  grid:\n    policy.sliding_lifetime: 7d\n",
            3,
            ["must be a non-empty list of values"],
        ),
        (
            "sweep:\n  grid:\n    policy.sliding_lifetime: [7d, 7d]\n",
            3,
            ["lists the value '7d' twice"],
        ),
        (
            "sweep:\n  grid: {policy.sliding_lifetime: [7d]}\n  cases: [{name: a}]\n",
            1,
            ["either grid", "not both"],
        ),
        (
            "sweep: {}\n",
            1,
            ["either grid", "not neither"],
        ),
        (
            "sweep:\n  cases:\n    - name: a\n    - name: a\n",
            4,
            ["duplicate case name 'a'"],
        ),
        (
            "sweep:\n  gird: {policy.sliding_lifetime: [7d]}\n",
            2,
            ["unknown field 'gird'", "did you mean 'grid'?"],
        ),
    ],
    ids=[
        "unknown-policy-key",
        "unknown-persona",
        "persona-position",
        "into-a-value",
        "unknown-section",
        "fixed-field",
        "case-path",
        "not-a-list",
        "duplicate-value",
        "grid-and-cases",
        "neither",
        "duplicate-case",
        "typo-in-sweep",
    ],
)
def test_bad_sweeps_name_the_file_line_and_path(sweep: str, line: int, fragments: list[str]) -> None:
    """`line` counts within the sweep section; the file's line is after the base scenario's lines."""
    base_lines = len(scenario_text("").splitlines())
    message = _error_of(scenario_text(sweep))
    assert message.startswith(f"sweep.yaml:{base_lines + line}: "), message
    for fragment in fragments:
        assert fragment in message, message


def test_skipped_cells_keep_the_error_and_the_others_run() -> None:
    planned = plan_cells(_load(scenario_text(SKIPPING_GRID)))
    assert [p.cell.id for p in planned] == [
        "c01-max_tokens_per_user=3",
        "c02-max_tokens_per_user=25",
        "c03-max_tokens_per_user=10",
    ]
    assert planned[0].scenario is not None and planned[2].scenario is not None
    assert planned[1].scenario is None
    assert planned[1].error == (
        "policy.max_tokens_per_user: visma_connect allows 1..20 refresh tokens per user and application, "
        "got 25"
    )


def test_to_config_round_trips_a_sweep_and_requirements() -> None:
    scenario = _load(scenario_text(CASES, extra="requirements:\n  - logins_per_user_month > 0\n"))
    config = scenario.to_config()
    assert config["sweep"]["cases"][0] == {"name": "as written", "overrides": {}}
    assert "grid" not in config["sweep"]
    assert config["requirements"] == ["logins_per_user_month > 0"]
    assert scenario_from_dict(config) == scenario
    plain = _load(scenario_text(""))
    assert "sweep" not in plain.to_config() and "requirements" not in plain.to_config()


def test_a_preset_default_that_depends_on_another_field_follows_the_override() -> None:
    """Okta's 30 s grace is a default only for rotating tokens: sweeping usage to reuse must not keep it."""
    text = """\
name: okta-usage
horizon: 10d
policy: {preset: okta}
population: [{name: p, users: 2}]
sweep:
  grid:
    policy.refresh_token_usage: [one_time, reuse]
"""
    planned = plan_cells(_load(text))
    assert [p.error for p in planned] == [None, None]
    rotating, reusing = (p.scenario.policy for p in planned)
    assert (rotating.refresh_token_usage, rotating.reuse_interval) == ("one_time", 30.0)
    assert (reusing.refresh_token_usage, reusing.reuse_interval) == ("reuse", 0.0)
    assert reusing.preset == "okta"
