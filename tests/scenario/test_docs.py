"""docs/scenario.md documents every field, and its complete examples validate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim.core.distributions import CountDistributionForm, DurationDistributionForm
from sim.policy.model import Policy
from sim.scenario import (
    Absences,
    Activity,
    Clients,
    Faults,
    Lifecycle,
    Persona,
    Scenario,
    scenario_from_yaml,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "scenario.md"


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "model",
    [Scenario, Persona, Activity, Absences, Clients, Faults, Lifecycle, Policy],
    ids=lambda m: m.__name__,
)
def test_every_field_is_documented(model: type) -> None:
    text = _text()
    for field in model.model_fields:
        assert f"| `{field}` |" in text, f"{model.__name__}.{field} is missing from docs/scenario.md"


def test_every_distribution_is_documented() -> None:
    text = _text()
    for kind in (*DurationDistributionForm.model_fields, *CountDistributionForm.model_fields):
        assert f"`{kind}`" in text


def test_the_complete_examples_validate() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", _text(), flags=re.S)
    complete = [block for block in blocks if re.search(r"^horizon:", block, flags=re.M)]
    assert complete
    for block in complete:
        scenario_from_yaml(block, "docs/scenario.md")


def test_the_merge_key_example_validates() -> None:
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", _text(), flags=re.S) if "<<: *" in b]
    assert len(blocks) == 1
    scenario = scenario_from_yaml("name: x\nhorizon: 30d\npolicy: {}\n" + blocks[0], "docs/scenario.md")
    assert scenario.population[1].activity.fresh_login == 0.1
