"""The scenario layer: YAML scenario files -> validated, immutable `Scenario` models.

- `load_scenario(path)`: read a file (safe YAML; problems carry file, line and field).
- `scenario_from_dict(data)` / `scenario_from_yaml(text)`: the same from a dict or a string.
- `scenario_json_schema()`: the JSON Schema of the file format (`docs/scenario.schema.json`).
- The distribution types used for random quantities (`sim.core.distributions`).

The field reference is `docs/scenario.md`.
"""

from sim.core.distributions import (
    CountDist,
    CountDistribution,
    Distribution,
    DurationDist,
    DurationDistribution,
    Empirical,
    EmpiricalCount,
    Exponential,
    Fixed,
    FixedCount,
    LogNormal,
    Poisson,
    Uniform,
    UniformCount,
)
from sim.scenario.loader import load_scenario, scenario_from_dict, scenario_from_yaml
from sim.scenario.model import Absences, Activity, Clients, Faults, Lifecycle, Persona, Scenario
from sim.scenario.schema import scenario_json_schema

__all__ = [
    "Absences",
    "Activity",
    "Clients",
    "CountDist",
    "CountDistribution",
    "Distribution",
    "DurationDist",
    "DurationDistribution",
    "Empirical",
    "EmpiricalCount",
    "Exponential",
    "Faults",
    "Fixed",
    "FixedCount",
    "Lifecycle",
    "LogNormal",
    "Persona",
    "Poisson",
    "Scenario",
    "Uniform",
    "UniformCount",
    "load_scenario",
    "scenario_from_dict",
    "scenario_from_yaml",
    "scenario_json_schema",
]
