"""Statistics across the cells of a sweep: each cell's means and intervals, and differences between cells.

Cells run on common random numbers: replication r of every cell simulates the same users with the
same random streams, so metric(cell, r) - metric(baseline, r) removes the variation that users bring to
both. The *paired* interval is Student's t over those per-replication differences
(`sim.analysis.stats.mean_ci`);
the *unpaired* (Welch) interval (`scipy.stats.ttest_ind(equal_var=False)`) treats the two cells as
independent samples and is reported for comparison: it is what the same replications would give without
common random numbers, and is usually much wider.

Input: a long table with one row per cell, replication and persona, a column `cell` and one column per
metric (what `tokensim sweep` writes as `cells.parquet`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from sim.analysis.stats import mean_ci
from sim.core.metric_names import METRIC_UNITS, metric_range

SUMMARY_COLUMNS = ("persona", "metric", "mean", "ci_low", "ci_high", "unit")
DIFFERENCE_COLUMNS = (
    "cell",
    "baseline",
    "persona",
    "metric",
    "mean_diff",
    "ci_low",
    "ci_high",
    "unpaired_ci_low",
    "unpaired_ci_high",
)


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """The metric columns of a table, in the order of `sim.analysis.metrics.METRICS`."""
    return [name for name in METRIC_UNITS if name in frame.columns]


def _long(cells: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """One row per key..., persona, metric and replication (in the input's order), with its `value`."""
    long = cells.melt(
        id_vars=[*keys, "replication", "persona"],
        value_vars=metric_columns(cells),
        var_name="metric",
        value_name="value",
    )
    order = [*keys, "persona", "metric"]
    ranks = {column: pd.factorize(long[column])[0] for column in order}  # first-appearance order
    ranked = pd.DataFrame(ranks).assign(replication=long["replication"].to_numpy())
    positions = ranked.sort_values([*order, "replication"], kind="stable").index
    return long.loc[positions].reset_index(drop=True)


def summary_table(cells: pd.DataFrame, keys: Sequence[str] = ("cell",)) -> pd.DataFrame:
    """Mean and 95% interval of every metric per `keys`, persona and metric (in the input's order)."""
    rows = []
    long = _long(cells, keys)
    groups = long.groupby([*keys, "persona", "metric"], sort=False)["value"]
    for group_key, values in groups:
        metric = group_key[-1]
        mean, low, high = mean_ci(values.astype(float).tolist(), within=metric_range(metric))
        rows.append((*group_key, mean, low, high, METRIC_UNITS[metric]))
    return pd.DataFrame(rows, columns=[*keys, *SUMMARY_COLUMNS])


def welch_interval(
    values: Sequence[float], baseline: Sequence[float], confidence: float = 0.95
) -> tuple[float, float]:
    """Welch's two-sample t interval for mean(values) - mean(baseline) (NaN when either has < 2 values)."""
    a = np.asarray(values, dtype=float)
    b = np.asarray(baseline, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    if np.ptp(a) == 0 and np.ptp(b) == 0:  # no spread at all: the difference is exact
        diff = float(a.mean() - b.mean())
        return diff, diff
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        interval = stats.ttest_ind(a, b, equal_var=False).confidence_interval(confidence)
    return float(interval.low), float(interval.high)


def differences(cells: pd.DataFrame, baseline: str, confidence: float = 0.95) -> pd.DataFrame:
    """Every other cell minus the baseline, per persona and metric: paired and unpaired 95% intervals.

    Pairs are matched on (persona, metric, replication); a replication where either value is missing
    (NaN) is left out of the paired interval.
    """
    long = _long(cells, ["cell"])
    pair_keys = ["persona", "metric", "replication"]
    base = long.loc[long["cell"] == baseline, [*pair_keys, "value"]]
    rows = []
    for cell in long["cell"].drop_duplicates():
        if cell == baseline:
            continue
        other = long.loc[long["cell"] == cell, [*pair_keys, "value"]]
        merged = other.merge(base, on=pair_keys, how="inner", suffixes=("", "_base"))
        merged["diff"] = merged["value"] - merged["value_base"]
        for (persona, metric), group in merged.groupby(["persona", "metric"], sort=False):
            mean, low, high = mean_ci(group["diff"].astype(float).tolist(), confidence)
            u_low, u_high = welch_interval(group["value"], group["value_base"], confidence)
            rows.append((cell, baseline, persona, metric, mean, low, high, u_low, u_high))
    return pd.DataFrame(rows, columns=list(DIFFERENCE_COLUMNS))
