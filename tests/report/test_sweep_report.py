"""The report of a sweep: from a real `tokensim sweep` run, and from a directory synthesised with the
documented layout (summary.json with cells and swept paths, cells.parquet, summary.parquet)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis.summary import SweepSummary
from sim.analysis.tradeoff import DWELL, FRICTION
from sim.cli.main import COMMANDS, main
from sim.core.metric_names import METRIC_UNITS
from sim.report import build_report, tables
from tests.report.conftest import agrees, assert_self_contained, stamp

SWEEP = """\
name: tiny-sweep
seed: 4
horizon: 30d
warmup: 3d
replications: 3
policy:
  refresh_token_usage: one_time
  absolute_lifetime: 20d
  sliding_lifetime: 7d
population:
  - name: weekly
    users: 12
    activity: {sessions_per_day: 0.3}
sweep:
  grid:
    policy.absolute_lifetime: [5d, 20d, unlimited]
    policy.sliding_lifetime: [2d, 7d]
"""


def figure_names(directory: Path) -> set[str]:
    return {p.stem for p in (directory / "figures").glob("*.png")}


def check_figures(directory: Path, expected: set[str]) -> None:
    assert figure_names(directory) == expected
    for name in expected:
        for suffix in ("png", "svg"):
            assert (directory / "figures" / f"{name}.{suffix}").stat().st_size > 5_000, (name, suffix)


def pareto_by_brute_force(points: dict[str, tuple[float, float]]) -> set[str]:
    """Cells for which no other cell is at least as good on both axes and better on one (lower is better)."""
    front = set()
    for name, (x, y) in points.items():
        dominated = any(ox <= x and oy <= y and (ox < x or oy < y)
                        for other, (ox, oy) in points.items() if other != name)
        if not dominated:
            front.add(name)
    return front


@pytest.mark.skipif("sweep" not in COMMANDS, reason="`tokensim sweep` is not available")
def test_report_of_a_real_sweep(tmp_path: Path) -> None:
    scenario = tmp_path / "sweep.yaml"
    scenario.write_text(SWEEP)
    out = tmp_path / "sweep"
    assert main(["sweep", str(scenario), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert main(["report", str(out), "--quiet"]) == 0
    check_figures(out, {"sweep_friction", "sweep_differences", "sweep_heatmap", "pareto"})
    assert_self_contained((out / "report.html").read_text(), images=4)

    summary = json.loads((out / "summary.json").read_text())
    text = (out / "report.md").read_text()
    cells = {c["label"]: c for c in summary["cells"]}
    friction = {label: c["metrics"][FRICTION]["mean"] for label, c in cells.items()}
    least = min(friction, key=friction.__getitem__)
    match = re.search(r"^- Least friction: \*\*(?P<label>[^*]+)\*\*: (?P<v>[\d.,]+) ", text, re.M)
    assert match and match["label"] == least
    assert agrees(match["v"], friction[least])

    # exposure: the idle window, the sliding lifetime cut by the absolute lifetime
    days = {"2d": 2.0, "7d": 7.0, "5d": 5.0, "20d": 20.0, "unlimited": 30.0}
    exposure = {label: min(days[c["overrides"]["policy.absolute_lifetime"]],
                           days[c["overrides"]["policy.sliding_lifetime"]]) for label, c in cells.items()}
    expected = pareto_by_brute_force({label: (exposure[label], friction[label]) for label in cells})
    rows = [line for line in text.splitlines() if line.startswith("| absolute_lifetime=")]
    assert len(rows) == len(cells)
    def label_of(row: str) -> str:
        return row.split(" | ")[0].lstrip("| ").replace(" (baseline)", "")

    marked = {label_of(row) for row in rows if row.endswith("| yes |")}
    assert marked == expected
    for row in rows:
        assert agrees(row.split(" | ")[-2], exposure[label_of(row)]), row


def synthesise_sweep(directory: Path, with_resolved: bool = True, dwell: bool = False) -> dict:
    """A sweep directory with exactly the documented layout: 2 swept paths x 2 values, 3 replications.

    Friction is lowest with a long absolute lifetime and a large cap. `dwell`: the cells carry
    `attacker_dwell_days_mean` (5 days at 30d, 12 at 90d), else it is null as in runs without threats.
    """
    rng = np.random.default_rng(1)
    swept = ["policy.absolute_lifetime", "policy.max_tokens_per_user"]
    grid = [(a, c) for a in ("30d", "90d") for c in (2, 10)]
    cells_rows, summary_rows, cells = [], [], []
    for index, (absolute, cap) in enumerate(grid):
        cell = f"c{index + 1:02d}-absolute_lifetime={absolute}-max_tokens_per_user={cap}"
        label = f"absolute_lifetime={absolute}, max_tokens_per_user={cap}"
        level = {"30d": 0.8, "90d": 0.3}[absolute] + {2: 0.4, 10: 0.0}[cap]
        metrics = {}
        for persona in ("*", "office"):
            values = {name: level + rng.normal(0, 0.02, 3) if name == FRICTION else rng.uniform(0, 1, 3)
                      for name in METRIC_UNITS}
            if DWELL in values:
                days = {"30d": 5.0, "90d": 12.0}[absolute]
                values[DWELL] = days + rng.normal(0, 0.1, 3) if dwell else np.full(3, np.nan)
            for replication in range(3):
                cells_rows.append({"cell": cell, "label": label, swept[0]: absolute, swept[1]: str(cap),
                                   "replication": replication, "persona": persona,
                                   **{name: float(v[replication]) for name, v in values.items()}})
            for name, v in values.items():
                mean, half = float(v.mean()), float(v.std(ddof=1))
                if np.isnan(mean):
                    metrics[name] = {"mean": None, "ci95": [None, None], "unit": METRIC_UNITS[name]}
                    continue
                summary_rows.append({"cell": cell, "label": label, swept[0]: absolute, swept[1]: str(cap),
                                     "persona": persona, "metric": name, "mean": mean,
                                     "ci_low": mean - half, "ci_high": mean + half,
                                     "unit": METRIC_UNITS[name]})
                if persona == "*":
                    ci95 = [mean - half, mean + half]
                    metrics[name] = {"mean": mean, "ci95": ci95, "unit": METRIC_UNITS[name]}
        cells.append({"cell": cell, "label": label, "overrides": {swept[0]: absolute, swept[1]: cap},
                      "users": 10, "metrics": metrics, "by_persona": {"office": metrics}})
    summary = {"format": 1, "kind": "sweep", "scenario": "synthetic", "description": "",
               "tool_version": "0.1.0", "seed": 1, "replications": 3, "horizon_days": 180.0,
               "warmup_days": 10.0, "swept": swept, "baseline": cells[0]["cell"], "cells": cells,
               "skipped": []}
    # no sliding lifetime: the idle window is the absolute lifetime
    summary["resolved_scenario"] = {
        "name": "synthetic", "horizon": "180d", "warmup": "10d", "seed": 1, "replications": 3,
        "policy": {"refresh_token_usage": "one_time", "absolute_lifetime": "30d",
                   "sliding_lifetime": "none", "max_tokens_per_user": 2},
        "population": [{"name": "office", "users": 10}],
        "sweep": {"grid": {swept[0]: ["30d", "90d"], swept[1]: [2, 10]}},
    }
    directory.mkdir(parents=True)
    (directory / "summary.json").write_text(json.dumps(summary, indent=2))
    pd.DataFrame(cells_rows).to_parquet(directory / "cells.parquet", index=False)
    pd.DataFrame(summary_rows).to_parquet(directory / "summary.parquet", index=False)
    stamp(directory, "sweep")
    return summary


@pytest.mark.parametrize(("with_resolved", "dwell"), [(True, False), (True, True)],
                         ids=["exposure-from-policy", "exposure-from-dwell-metric"])
def test_report_of_a_synthesised_sweep(tmp_path: Path, with_resolved: bool, dwell: bool) -> None:
    out = tmp_path / "sweep"
    summary = synthesise_sweep(out, with_resolved, dwell)
    paths = build_report(out)
    expected = {"sweep_friction", "sweep_differences", "sweep_heatmap", "pareto"}
    check_figures(out, expected)
    assert set(paths.figures) == expected
    assert_self_contained(paths.html.read_text(), images=4)
    text = paths.markdown.read_text()
    # least friction by construction: 90d and a cap of 10 (level 0.3)
    assert "- Least friction: **absolute_lifetime=90d, max_tokens_per_user=10**" in text
    assert "- Most friction: **absolute_lifetime=30d, max_tokens_per_user=2**" in text
    # Pareto front: (30 days, cap 10) and (90 days, cap 10); the cap-2 cells are dominated
    front = re.search(r"Pareto-optimal cells[^:]*: (?P<names>.+)\.$", text, re.M)
    assert front is not None
    names = re.findall(r"\*\*([^*]+)\*\*", front["names"])
    assert names == [f"absolute_lifetime={days}, max_tokens_per_user=10" for days in ("30d", "90d")]
    exposures = re.findall(r"\*\* \((?P<days>[\d.]+) days, ", front["names"])
    by_label = {c["label"]: c for c in summary["cells"]}
    for name, shown in zip(names, exposures, strict=True):
        expected = by_label[name]["metrics"][DWELL]["mean"] if dwell else float(name.split("=")[1][:2])
        assert agrees(shown, expected), (name, shown, expected)
    pareto_text = "mean attacker dwell time" if dwell else "the idle window"
    assert pareto_text in text
    best = next(c for c in summary["cells"] if c["label"].endswith("90d, max_tokens_per_user=10"))
    value = re.search(r"Least friction: \*\*[^*]+\*\*: (?P<v>[\d.]+)", text)
    assert value is not None and agrees(value["v"], best["metrics"][FRICTION]["mean"])


def test_the_differences_figure_shows_the_summary_s_paired_and_unpaired_intervals(tmp_path: Path) -> None:
    scenario = tmp_path / "sweep.yaml"
    scenario.write_text(SWEEP)
    real = tmp_path / "real"
    assert main(["sweep", str(scenario), "--out", str(real), "--workers", "1", "--quiet"]) == 0
    summary = SweepSummary.read(real / "summary.json")
    frame = tables.difference_frame(summary).set_index("cell")
    assert list(frame.index) == [c.cell for c in summary.cells[1:]]  # every cell but the baseline
    for cell in summary.cells[1:]:
        diff = cell.difference_from_baseline[FRICTION]
        row = frame.loc[cell.cell]
        assert (row["mean"], row["ci_low"], row["ci_high"]) == (diff.mean, diff.low, diff.high)
        assert (row["unpaired_low"], row["unpaired_high"]) == diff.unpaired_ci95
