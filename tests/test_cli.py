"""The command line as a user meets it: exit codes, messages, files written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.cli.main import main
from tests.scenario.broken_cases import BROKEN_CASES

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))

TINY = """\
name: tiny
seed: 3
horizon: 20d
warmup: 2d
replications: 2
policy:
  preset: visma_connect
  sliding_lifetime: 3d
  max_tokens_per_user: 2
population:
  - name: office
    users: 12
    devices: 2
    activity:
      schedule: weekdays
      sessions_per_day: 2
      session_duration: {exponential: {mean: 2h}}
      fresh_login: 0.2
    faults: {lost_refresh_response: 0.05}
  - name: mobile
    users: 8
    activity: {sessions_per_day: 0.4}
    lifecycle: {password_changes_per_year: 6}
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_validate_accepts_every_shipped_scenario(scenario: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(scenario)]) == 0
    assert "ok" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("case_id", "text", "line", "fragments"), BROKEN_CASES, ids=[c[0] for c in BROKEN_CASES]
)
def test_validate_rejects_broken_scenarios_with_exit_2(
    case_id: str,
    text: str,
    line: int,
    fragments: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / f"{case_id}.yaml"
    path.write_text(text)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}:" in err
    for fragment in fragments:
        assert fragment in err


def test_bad_input_in_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    _, text, line, _ = BROKEN_CASES[0]
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(path), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{path}:{line}:" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_run_writes_every_output(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["run", str(tiny), "--out", str(out), "--workers", "1"]) == 0
    names = {p.name for p in out.iterdir()}
    assert names == {
        ".tokensim-manifest.json",
        "summary.json",
        "chains.parquet",
        "reauths.parquet",
        "thefts.parquet",
        "timeseries.parquet",
        "replications.parquet",
    }
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "tiny"
    assert summary["seed"] == 3 and summary["replications"] == 2 and summary["users"] == 20
    metric = summary["metrics"]["forced_reauth_per_user_month"]
    assert set(metric) == {"mean", "ci95", "unit"}
    assert metric["ci95"][0] <= metric["mean"] <= metric["ci95"][1]
    assert set(summary["by_persona"]) == {"office", "mobile"}
    assert summary["resolved_scenario"]["policy"]["max_tokens_per_user"] == 2
    assert summary["tool_version"]
    chains = pd.read_parquet(out / "chains.parquet")
    assert list(chains.columns)[:10] == [
        "replication", "persona", "user", "device", "chain",
        "authorized_at_s", "ended_at_s", "end_reason", "refreshes", "last_used_at_s",
    ]
    reauths = pd.read_parquet(out / "reauths.parquet")
    expected = ["replication", "persona", "user", "device", "at_s", "cause", "mid_session"]
    assert list(reauths.columns) == expected
    # the causes of forced re-auths are the engine's reasons, and end reasons use the same words
    assert set(reauths["cause"]) <= {"sliding_expiry", "evicted", "consumed", "revoked"}
    assert "forced re-auths" in capsys.readouterr().out


def test_run_refuses_a_non_empty_directory_without_force(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    keep = out / "precious.txt"
    keep.write_text("do not lose me")
    assert main(["run", str(tiny), "--out", str(out), "--quiet"]) == 2
    assert keep.read_text() == "do not lose me"
    assert sorted(p.name for p in out.iterdir()) == ["precious.txt"]
    assert main(["run", str(tiny), "--out", str(out), "--quiet", "--force", "--workers", "1"]) == 0
    assert (out / "summary.json").exists() and keep.exists()


def test_run_csv_format_and_overrides(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "csv"
    argv = ["run", str(tiny), "--out", str(out), "--format", "csv", "--replications", "1", "--seed", "9",
            "--users-scale", "0.5", "--quiet", "--workers", "1"]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 9 and summary["replications"] == 1 and summary["users"] == 10
    assert summary["metrics"]["forced_reauth_per_user_month"]["ci95"] == [None, None]
    chains = pd.read_csv(out / "chains.csv")
    assert set(chains["replication"]) == {0}
    assert not list(out.glob("*.tmp")) and [p.name for p in out.glob(".*")] == [".tokensim-manifest.json"]


@pytest.mark.parametrize(
    ("flag", "value"), [("--workers", "0"), ("--replications", "0"), ("--users-scale", "-1")]
)
def test_run_rejects_bad_flags_with_exit_2(
    flag: str, value: str, tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(tiny), "--out", str(tmp_path / "o"), flag, value]) == 2
    assert flag in capsys.readouterr().err


def test_missing_scenario_file_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o")]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_python_dash_m_and_demo() -> None:
    proc = subprocess.run([sys.executable, "-m", "sim", "demo"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "evicted" in proc.stdout and "family_revoked" in proc.stdout


def test_schema_command_matches_the_committed_schema(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    assert main(["schema", "--out", str(out)]) == 0
    assert out.read_text() == (ROOT / "docs" / "scenario.schema.json").read_text()


def test_usage_error_exits_2() -> None:
    assert main(["frobnicate"]) == 2
