"""`tokensim sweep`: the files it writes, skipped cells, and its bad-input exits."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from sim.cli.main import main
from sim.cli.progress import RichProgress
from sim.core.metric_names import METRIC_UNITS
from sim.experiments.sweep import run_sweep
from sim.scenario import scenario_from_yaml
from tests.sweep.scenarios import SKIPPING_GRID, scenario_text, write


def test_a_cell_breaking_a_preset_limit_is_skipped_not_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write(tmp_path, scenario_text(SKIPPING_GRID, replications=2, users=8, mobile_users=2))
    out = tmp_path / "out"
    assert main(["sweep", str(scenario), "--out", str(out), "--workers", "1"]) == 0
    captured = capsys.readouterr()
    assert (
        "warning: skipping cell c02-max_tokens_per_user=25 (max_tokens_per_user=25): "
        "policy.max_tokens_per_user: visma_connect allows 1..20" in captured.err
    )
    assert "c03-max_tokens_per_user=10: done in" in captured.err
    assert "tiny-sweep: 2/2 cells done" in captured.err
    assert sorted(p.name for p in (out / "cells").iterdir()) == [
        "c01-max_tokens_per_user=3",
        "c03-max_tokens_per_user=10",
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["swept"] == ["policy.max_tokens_per_user"]
    assert summary["baseline"] == "c01-max_tokens_per_user=3"
    assert summary["skipped"] == [
        {
            "cell": "c02-max_tokens_per_user=25",
            "label": "max_tokens_per_user=25",
            "overrides": {"policy.max_tokens_per_user": 25},
            "error": "policy.max_tokens_per_user: visma_connect allows 1..20 refresh tokens per user and "
            "application, got 25",
        }
    ]
    assert [c["cell"] for c in summary["cells"]] == [
        "c01-max_tokens_per_user=3",
        "c03-max_tokens_per_user=10",
    ]
    assert "difference_from_baseline" in summary["cells"][1]
    assert summary["resolved_scenario"]["sweep"]["grid"] == {"policy.max_tokens_per_user": [3, 25, 10]}

    cells = pd.read_parquet(out / "cells.parquet")
    metrics = [m for m in METRIC_UNITS if m in cells.columns]
    keys = ["cell", "label", "policy.max_tokens_per_user", "replication", "persona"]
    assert list(cells.columns) == [*keys, *metrics]
    assert len(cells) == 2 * 2 * 3  # cells x replications x personas (with "*")
    assert cells["policy.max_tokens_per_user"].tolist()[:1] == ["3"]
    differences = pd.read_parquet(out / "differences.parquet")
    assert set(differences["cell"]) == {"c03-max_tokens_per_user=10"}
    assert len(differences) == 3 * len(metrics)
    summary_table = pd.read_parquet(out / "summary.parquet")
    assert len(summary_table) == 2 * 3 * len(metrics)


def test_every_cell_invalid_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = "sweep:\n  grid:\n    policy.max_tokens_per_user: [21, 30]\n"
    scenario = write(tmp_path, scenario_text(sweep))
    assert main(["sweep", str(scenario), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "every cell of the sweep is invalid" in err
    assert "cell c02-max_tokens_per_user=30 (max_tokens_per_user=30): policy.max_tokens_per_user" in err


def test_csv_format(tmp_path: Path) -> None:
    sweep = (
        "sweep:\n  cases:\n    - name: base\n"
        "    - name: short\n      overrides: {policy.sliding_lifetime: 1d}\n"
    )
    scenario = write(tmp_path, scenario_text(sweep, replications=2, users=5, mobile_users=1))
    out = tmp_path / "out"
    options = ["--format", "csv", "--quiet", "--workers", "1"]
    assert main(["sweep", str(scenario), "--out", str(out), *options]) == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "cells",
        "cells.csv",
        "differences.csv",
        "summary.csv",
        "summary.json",
    ]
    assert (out / "cells" / "c02-short" / "replications.csv").is_file()
    assert pd.read_csv(out / "cells.csv")["policy.sliding_lifetime"].unique().tolist() == ["3d", "1d"]


def test_a_scenario_without_a_sweep_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = write(tmp_path, scenario_text(""))
    assert main(["sweep", str(scenario), "--out", str(tmp_path / "out")]) == 2
    assert "has no sweep: section" in capsys.readouterr().err


def test_progress_bars_on_a_terminal(tmp_path: Path) -> None:
    scenario = scenario_from_yaml(scenario_text(SKIPPING_GRID, replications=2, users=4, mobile_users=1))
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    outcome = run_sweep(scenario, tmp_path, workers=1, progress=RichProgress(console))
    assert outcome.ran == ["c01-max_tokens_per_user=3", "c03-max_tokens_per_user=10"]
    assert outcome.skipped == ["c02-max_tokens_per_user=25"]
    text = screen.getvalue()
    assert "skipping cell c02-max_tokens_per_user=25" in text and "tiny-sweep" in text


def test_report_flag_writes_the_sweep_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = (
        "sweep:\n  cases:\n    - name: base\n"
        "    - name: short\n      overrides: {policy.sliding_lifetime: 1d}\n"
    )
    scenario = write(tmp_path, scenario_text(sweep, replications=2, users=5, mobile_users=1))
    out = tmp_path / "out"
    assert main(["sweep", str(scenario), "--out", str(out), "--workers", "1", "--report"]) == 0
    assert f"wrote {out / 'report.html'}" in " ".join(capsys.readouterr().out.split())
    text = (out / "report.md").read_text()
    assert text.startswith("# tokensim sweep report: tiny-sweep")
    assert "**base**" in text and "**short**" in text  # both cells are in the headline or the table
    html = (out / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count('src="data:image/svg+xml;base64,') >= 2
    assert {p.name for p in (out / "figures").glob("*.png")} >= {"sweep_friction.png", "pareto.png"}
    quiet = tmp_path / "quiet"
    assert main(["sweep", str(scenario), "--out", str(quiet), "--workers", "1", "--quiet", "--report"]) == 0
    assert capsys.readouterr().out == ""
    assert (quiet / "report.md").read_bytes() == (out / "report.md").read_bytes()
