"""A scenario with values replaced at dotted paths, validated again like a file (sweep cells, the API).

A variant's YAML form is the base scenario's (without its sweep and requirements) with the overrides set;
its policy starts from its minimal form (the preset and the fields that differ from its defaults), so that
overriding one field lets the preset's other defaults follow, as in a file written by hand (Okta's grace
period, for one, is a default only for rotating tokens).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from sim.core.validation import ConfigError, Problem
from sim.scenario.loader import scenario_from_dict
from sim.scenario.model import Scenario
from sim.scenario.paths import PathError, apply_overrides


def base_config(scenario: Scenario) -> dict[str, Any]:
    """The scenario's YAML form without its sweep, requirements, optimize and uncertain sections: what every
    cell (and every candidate of an optimisation) starts from."""
    config = scenario.to_config()
    for section in ("sweep", "requirements", "optimize", "uncertain"):
        config.pop(section, None)
    return config


def cell_config(base: Mapping[str, Any], scenario: Scenario, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A variant's YAML form: the base with the overrides set (PathError for a bad path)."""
    config = apply_overrides(base, overrides)
    policy = scenario.policy.minimal_config()
    for path, value in overrides.items():
        if path.startswith("policy."):
            policy[path.split(".", 1)[1]] = copy.deepcopy(value)
    config["policy"] = policy
    return config


def with_path_overrides(
    scenario: Scenario, overrides: Mapping[str, Any], source: str = "overrides"
) -> Scenario:
    """The scenario with values replaced at dotted paths, validated like a file.

    Raises ConfigError (named by `source`, with "did you mean") for an unknown path or an invalid value.
    """
    if not overrides:
        return scenario
    try:
        config = cell_config(base_config(scenario), scenario, dict(overrides))
    except PathError as exc:
        raise ConfigError([Problem(("overrides",), str(exc))], source=source) from None
    return scenario_from_dict(config, source=source)
