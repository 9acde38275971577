"""The pytest plugin, in a real pytest process: invariants as test items, stories as failures."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.verify.test_cli_verify import SMALL

ROOT = Path(__file__).resolve().parents[2]


def pytest_run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_invariants_are_collected_as_test_items_and_failures_tell_the_story(tmp_path: Path) -> None:
    scenarios = tmp_path / "policy"
    scenarios.mkdir()
    (scenarios / "small.yaml").write_text(SMALL)
    (scenarios / "no-invariants.yml").write_text(SMALL[: SMALL.index("invariants:")])
    junit = tmp_path / "junit.xml"
    proc = pytest_run(
        tmp_path, "--tokensim-scenarios", "policy", "--tokensim-examples", "10", f"--junitxml={junit}"
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 1 passed" in proc.stdout
    assert "FAILED policy/small.yaml::racing tabs stay logged in" in proc.stdout
    assert "(tab 2) refreshes with token 1.0: refused, consumed -> forced login" in proc.stdout
    assert "replay: pytest --tokensim-scenarios" in proc.stdout
    cases = ET.parse(junit).getroot().findall(".//testcase")
    assert sorted(c.get("name") for c in cases) == [
        "racing tabs stay logged in",
        "weekly users stay logged in",
    ]


def test_items_are_selected_by_keyword_like_any_test(tmp_path: Path) -> None:
    (tmp_path / "small.yaml").write_text(SMALL)
    args = ("--tokensim-scenarios", "small.yaml", "-k", "weekly", "--tokensim-examples", "5", "-vv")
    selected = pytest_run(tmp_path, *args)
    assert selected.returncode == 0 and "1 passed, 1 deselected" in selected.stdout
    assert "small.yaml::weekly users stay logged in PASSED" in selected.stdout


def test_a_broken_scenario_is_a_collection_error_with_file_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(SMALL.replace("largest_gap: 7d", "largest_gp: 7d"))
    proc = pytest_run(tmp_path, "--tokensim-scenarios", ".")
    assert proc.returncode != 0
    assert "broken.yaml:7: invariants[0].who.largest_gp: unknown field 'largest_gp'" in proc.stdout
    assert "did you mean 'largest_gap'?" in proc.stdout


def test_without_the_option_the_plugin_collects_nothing(tmp_path: Path) -> None:
    (tmp_path / "small.yaml").write_text(SMALL)
    (tmp_path / "test_nothing.py").write_text("def test_ok():\n    pass\n")
    proc = pytest_run(tmp_path, ".")
    assert proc.returncode == 0 and "1 passed" in proc.stdout
