"""docs/verify.md documents the whole grammar, and its examples (YAML, workflow) are valid."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from sim.cli.main import _parser
from sim.scenario import scenario_from_yaml
from sim.scenario.invariants import FORCED_CAUSES, PROPERTIES, Behaviour, Invariant, Occurrences

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "verify.md"
WORKFLOW = ROOT / "docs" / "examples" / "tokensim-verify.yml"
HEAD = "name: doc\nhorizon: 30d\npolicy: {preset: visma_connect}\npopulation: [{name: p, users: 1}]\n"


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("model", [Invariant, Behaviour, Occurrences], ids=lambda m: m.__name__)
def test_every_field_has_a_row(model: type) -> None:
    text = _text()
    for field in model.model_fields:
        assert f"| `{field}` |" in text, f"{model.__name__}.{field} is missing from docs/verify.md"


def test_every_property_event_and_cause_is_documented() -> None:
    text = _text()
    for name in (
        *PROPERTIES,
        "later_than",
        "last_use",
        "kills_family",
        "after_victim_refreshes",
        "stored_rows",
    ):
        assert name in text, name
    for cause in FORCED_CAUSES:
        assert f"`{cause}`" in text, cause
    for word in ("forced_login", "eviction", "rejected_login", "immediate", "when_idle", "daily"):
        assert f"`{word}`" in text or f"never: {word}" in text, word


@pytest.mark.parametrize("doc", [DOC, ROOT / "README.md"], ids=["verify.md", "README.md"])
def test_the_invariant_examples_validate(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if b.startswith("invariants:")]
    assert blocks, f"no invariants: example in {doc.name}"
    for block in blocks:
        scenario = scenario_from_yaml(HEAD + block, doc.name)
        assert scenario.invariants


def test_the_workflows_are_valid_and_call_verify_as_documented() -> None:
    inline = next(b for b in re.findall(r"```yaml\n(.*?)```", _text(), flags=re.S) if b.startswith("name:"))
    for workflow in (yaml.safe_load(inline), yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))):
        steps = next(iter(workflow["jobs"].values()))["steps"]
        commands = [s["run"] for s in steps if "tokensim verify" in s.get("run", "")]
        assert len(commands) == 1
        argv = shlex.split(commands[0].replace('"$SCENARIO"', "policy.yaml"))[1:]
        args = _parser().parse_args(argv)
        assert args.junit is not None and args.examples == 500
        report = next(s for s in steps if "junit" in s.get("uses", ""))
        assert report["with"]["report_paths"] == str(args.junit) and report["if"] == "always()"
