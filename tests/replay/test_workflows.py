"""Sweeps, compare, check and reports work on replayed personas like on any other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim import api
from sim.cli.main import main
from tests.replay.traces import ROOT, SAMPLE

SCENARIO = f"""
name: replayed
seed: 3
horizon: 28d
warmup: 7d
replications: 2
policy: {{preset: okta}}
population:
  - name: recorded
    users: 40
    activity: {{trace: {SAMPLE}}}
    faults: {{lost_refresh_response: 0.01}}
"""


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "replayed.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


def test_a_sweep_over_the_policy_replays_the_same_users(tmp_path: Path, scenario_file: Path) -> None:
    text = scenario_file.read_text() + "sweep:\n  grid:\n    policy.sliding_lifetime: [1d, 30d]\n"
    scenario_file.write_text(text)
    result = api.sweep(scenario_file, tmp_path / "sweep", workers=1)
    cells = json.loads((tmp_path / "sweep" / "summary.json").read_text())["cells"]
    assert len(cells) == 2
    summary = result.summary
    sessions = [cell.metrics["sessions_per_user_month"].mean for cell in summary.cells]
    assert sessions[0] == sessions[1]  # the same recorded sessions in both cells
    forced = [cell.metrics["forced_reauth_per_user_month"].mean for cell in summary.cells]
    assert forced[0] > forced[1]  # a 1-day sliding lifetime forces more logins than 30 days


def test_compare_runs_the_replayed_population_under_each_preset(scenario_file: Path) -> None:
    comparison = api.compare(scenario_file, ["okta", "auth0"], workers=1)
    every = comparison.replications[comparison.replications["persona"] == "*"]
    assert set(every["preset"]) == {"okta", "auth0"}
    by_preset = every.pivot(index="replication", columns="preset", values="sessions_per_user_month")
    assert (by_preset["okta"] == by_preset["auth0"]).all()  # the same recorded sessions for each preset


def test_check_holds_and_fails_on_a_replayed_population(scenario_file: Path) -> None:
    """Bootstrap replications differ (other users each time): with 5 of them the interval is tight enough."""
    scenario = api.load_scenario(scenario_file).with_overrides(replications=5)
    assert api.check(scenario, ["sessions_per_user_month[recorded] > 1"], workers=1).passed
    assert not api.check(scenario, ["forced_reauth_per_user_month < 0"], workers=1).passed


def test_run_and_report_of_the_shipped_replay_scenario(tmp_path: Path) -> None:
    out = tmp_path / "run"
    status = main(["run", str(ROOT / "scenarios" / "traces" / "replay-sample.yaml"), "--out", str(out),
                   "--replications", "2", "--users-scale", "0.2", "--quiet", "--report", "--workers", "1"])
    assert status == 0
    report = (out / "report.md").read_text()
    assert "trace sample.parquet, bootstrap" in report  # --users-scale draws from the trace
    summary = json.loads((out / "summary.json").read_text())
    assert summary["users"] == 40
    assert summary["resolved_scenario"]["population"][0]["activity"]["trace"]["sampling"] == "bootstrap"
    assert main(["validate", str(ROOT / "scenarios" / "traces" / "replay-sample.yaml")]) == 0
