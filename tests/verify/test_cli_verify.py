"""`tokensim verify` as a user meets it: exit codes, the story, JUnit XML, the shipped example."""

from __future__ import annotations

import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sim.cli.main import main
from sim.scenario import load_scenario
from sim.scenario.overrides import with_path_overrides
from sim.verify.runner import PROVED, verify_scenario

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "scenarios" / "visma-office-invariants.yaml"

SMALL = """\
name: small
horizon: 30d
policy: {preset: visma_connect, reuse_interval: 0s}
population: [{name: office, users: 3}]
invariants:
  - name: weekly users stay logged in
    who: {largest_gap: 7d, sessions: 4}
    never: forced_login
  - name: racing tabs stay logged in
    who: {tabs: 2, race_window: 1s, sessions: 2}
    never: forced_login
"""


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


def test_a_failing_invariant_exits_1_with_its_story(small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(small), "--examples", "20"]) == 1
    out = capsys.readouterr().out
    assert "proved" in out and "FAILED racing tabs stay logged in" in out
    assert "(tab 2) refreshes with token 1.0: refused, consumed -> forced login" in out
    assert f"replay: tokensim verify {small} --seed 0 --examples 20" in out


def test_every_invariant_holding_exits_0(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(SMALL.replace("reuse_interval: 0s", "reuse_interval: 5s"))
    assert main(["verify", str(fixed), "--examples", "20"]) == 0
    assert "2 of 2 invariants hold" in capsys.readouterr().out


def test_junit_xml_has_one_test_case_per_invariant(small: Path, tmp_path: Path) -> None:
    junit = tmp_path / "reports" / "verify.xml"
    assert main(["verify", str(small), "--examples", "10", "--junit", str(junit)]) == 1
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "2" and root.get("failures") == "1"
    cases = root.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == ["weekly users stay logged in", "racing tabs stay logged in"]
    assert cases[0].find("failure") is None and "proved" in (cases[0].findtext("system-out") or "")
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("message") == "device 1 is forced to log in (consumed)"
    assert "refused, consumed -> forced login" in (failure.text or "")
    assert {p.get("name"): p.get("value") for p in root.iter("property")}["seed"] == "0"


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["verify", "{ROOT}/scenarios/office-workers.yaml"], "no invariants to verify"),
        (["verify", "{TMP}/missing.yaml"], "file not found"),
        (["verify", "{SMALL}", "--examples", "0"], "examples: must be a whole number from 1"),
        (["verify", "{SMALL}", "--seed", "-1"], "seed: must be a whole number of at least 0"),
    ],
)
def test_bad_input_exits_2(
    argv: list[str], fragment: str, small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [a.format(ROOT=ROOT, TMP=tmp_path, SMALL=small) for a in argv]
    assert main(args) == 2
    assert fragment in capsys.readouterr().err


def test_a_broken_invariant_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        SMALL.replace("never: forced_login\n  - name: racing", "never: forced_logn\n  - name: racing")
    )
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "verify", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert (
        f"{path}:8: invariants[0].never: unknown event 'forced_logn'; did you mean 'forced_login'?"
        in proc.stderr
    )


def test_the_shipped_example_fails_under_visma_defaults_and_holds_with_a_grace_period() -> None:
    scenario = load_scenario(SHIPPED)
    started = time.perf_counter()
    result = verify_scenario(scenario, examples=30, source=str(SHIPPED))
    assert time.perf_counter() - started < 60
    failed = [r.name for r in result.results if not r.ok]
    assert failed == ["two tabs refreshing within one second never log the user out"]
    assert [r.outcome for r in result.results].count(PROVED) == 3
    fixed = with_path_overrides(scenario, {"policy.reuse_interval": "5s"})
    assert verify_scenario(fixed, examples=30).ok


def test_the_readme_draft_shows_what_the_tool_prints() -> None:
    doc = (ROOT / "docs" / "verify.md").read_text(encoding="utf-8")
    draft = doc[doc.index("## README section (draft)") :]
    result = verify_scenario(
        load_scenario(SHIPPED), examples=30, source="scenarios/visma-office-invariants.yaml"
    )
    example = next(r for r in result.results if not r.ok).counterexample
    assert example is not None
    for line in example.story:
        assert line in draft, line
