"""Paired differences on common random numbers, against unpaired (Welch) intervals for the same cells."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from sim.analysis.differences import differences, summary_table, welch_interval
from sim.experiments.sweep import run_sweep
from sim.scenario import scenario_from_yaml
from tests.sweep.scenarios import scenario_text


def _frame(cells: dict[str, list[float]]) -> pd.DataFrame:
    rows = [
        {"cell": cell, "replication": r, "persona": "*", "logins_per_user_month": v}
        for cell, values in cells.items()
        for r, v in enumerate(values)
    ]
    return pd.DataFrame(rows)


def test_paired_and_unpaired_intervals_on_known_numbers() -> None:
    frame = _frame({"base": [1.0, 2.0, 3.0, 4.0], "other": [1.1, 2.2, 3.1, 4.2]})
    row = differences(frame, "base").iloc[0]
    assert (row.cell, row.baseline, row.persona) == ("other", "base", "*")
    assert row.metric == "logins_per_user_month"
    diffs = [0.1, 0.2, 0.1, 0.2]
    low, high = stats.t.interval(0.95, df=3, loc=0.15, scale=stats.sem(diffs))
    assert row.mean_diff == pytest.approx(0.15)
    assert (row.ci_low, row.ci_high) == (pytest.approx(low), pytest.approx(high))
    welch = stats.ttest_ind([1.1, 2.2, 3.1, 4.2], [1.0, 2.0, 3.0, 4.0], equal_var=False)
    interval = welch.confidence_interval()
    assert row.unpaired_ci_low == pytest.approx(interval.low)
    assert row.unpaired_ci_high == pytest.approx(interval.high)
    assert row.ci_high - row.ci_low < (row.unpaired_ci_high - row.unpaired_ci_low) / 10


def test_missing_values_and_degenerate_samples() -> None:
    assert welch_interval([1.0, 1.0], [2.0, 2.0]) == (-1.0, -1.0)
    assert all(math.isnan(bound) for bound in welch_interval([1.0], [2.0, 3.0]))
    frame = _frame({"base": [1.0, 2.0, float("nan")], "other": [2.0, 3.5, 4.0]})
    row = differences(frame, "base").iloc[0]
    assert row.mean_diff == pytest.approx(1.25)  # the replication without a baseline value is left out
    summary = summary_table(frame)
    assert list(summary.columns) == ["cell", "persona", "metric", "mean", "ci_low", "ci_high", "unit"]
    assert summary.loc[0, "mean"] == pytest.approx(1.5) and summary.loc[1, "mean"] == pytest.approx(19 / 6)


def test_paired_intervals_are_tighter_on_common_random_numbers(tmp_path: Path) -> None:
    """Two close sliding lifetimes: the same users log in and refresh alike in both cells."""
    sweep = "sweep:\n  grid:\n    policy.sliding_lifetime: [4d, 5d]\n"
    scenario = scenario_from_yaml(scenario_text(sweep, replications=6, users=12, mobile_users=4))
    run_sweep(scenario, tmp_path, workers=1)
    diffs = pd.read_parquet(tmp_path / "differences.parquet").set_index(["persona", "metric"])
    for metric in ("logins_per_user_month", "active_chains_per_user", "refresh_requests_per_user_month"):
        row = diffs.loc[("*", metric)]
        paired = row.ci_high - row.ci_low
        unpaired = row.unpaired_ci_high - row.unpaired_ci_low
        assert unpaired > 0
        assert paired < unpaired / 2, (metric, paired, unpaired)
