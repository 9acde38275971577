"""docs/ci.md's scenario validates, and the example workflow installs tokensim and runs `tokensim check`."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from sim.scenario import scenario_from_yaml
from sim.scenario.requirements import parse_requirement

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_ci_guide_scenario_validates() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", (DOCS / "ci.md").read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1
    scenario = scenario_from_yaml(blocks[0], "docs/ci.md")
    assert len(scenario.requirements) == 3


def test_the_example_workflow_runs_tokensim_check() -> None:
    workflow = yaml.safe_load((DOCS / "examples" / "tokensim-check.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["tokensim-check"]["steps"]
    scripts = [step.get("run", "") for step in steps]
    assert any("pip install" in script for script in scripts)
    check = next(script for script in scripts if "tokensim check" in script)
    for requirement in re.findall(r'--require "([^"]+)"', check):
        parse_requirement(requirement)
    assert any(step.get("uses", "").startswith("actions/upload-artifact") for step in steps)
