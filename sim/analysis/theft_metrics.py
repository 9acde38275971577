"""Metrics of stolen tokens, from the thefts table (see sim/model/threats.py for how thefts are simulated).

Dwell is estimated with Kaplan-Meier (`sim.analysis.survival`): a theft still open at the horizon is censored,
never counted as ended. A run computes the figures from `TheftPartial`s merged over its shards and a
second look at the thefts for the dwell curve (`theft_metrics_merged`); `theft_metrics` computes the same
figures from a whole thefts table.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.counts import SparseCounts
from sim.analysis.rescan import RowSource, bin_ranges
from sim.analysis.survival import kaplan_meier, km_quantile, km_restricted_mean, km_scan
from sim.core.durations import DAY
from sim.core.reasons import NO_TOKEN

#: The theft metrics (names, in METRICS of sim/core/metric_names.py).
THEFT_METRICS = (
    "attacker_dwell_days_mean",
    "attacker_dwell_days_p95",
    "theft_detected_share",
    "thefts_active_at_horizon_share",
    "victim_reauths_per_theft",
)
#: The thefts columns the figures read.
THEFT_FIGURE_COLUMNS = ("stolen_at_s", "ended_at_s", "end_reason", "detected", "dwell_s", "victim_reauths")


def measured_thefts(thefts: pd.DataFrame, warmup: float) -> pd.DataFrame:
    """Thefts that count in the figures: stolen in the window, with a token to use."""
    if thefts.empty:
        return thefts
    keep = (thefts["stolen_at_s"].to_numpy(dtype=float) >= warmup) & (
        thefts["end_reason"].to_numpy(dtype=object) != NO_TOKEN
    )
    return thefts[keep]


def theft_metrics(thefts: pd.DataFrame, warmup: float) -> dict[str, float]:
    """Dwell (Kaplan-Meier: censored thefts handled), detection, censoring and friction (NaN: no theft)."""
    measured = measured_thefts(thefts, warmup)
    if measured.empty:
        return dict.fromkeys(THEFT_METRICS, math.nan)
    dwell = measured["dwell_s"].to_numpy(dtype=float) / DAY
    censored = measured["ended_at_s"].isna().to_numpy()
    return {
        "attacker_dwell_days_mean": km_restricted_mean(dwell, censored),
        "attacker_dwell_days_p95": km_quantile(dwell, censored, 0.95),
        "theft_detected_share": float(measured["detected"].astype(bool).mean()),
        "thefts_active_at_horizon_share": float(censored.mean()),
        "victim_reauths_per_theft": float(measured["victim_reauths"].astype(float).mean()),
    }


def _measured(columns: Mapping[str, Any], warmup: float) -> np.ndarray:
    """Which thefts of these columns count (the rows `measured_thefts` keeps)."""
    stolen = np.asarray(columns["stolen_at_s"], dtype=float)
    return (stolen >= warmup) & (np.asarray(columns["end_reason"], dtype=object) != NO_TOKEN)


def _dwell(columns: Mapping[str, Any], keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dwell in days and censoring of the kept thefts."""
    dwell = np.asarray(columns["dwell_s"], dtype=float)[keep] / DAY
    censored = np.isnan(np.asarray(columns["ended_at_s"], dtype=float))[keep]
    return dwell, censored


def dwell_bins(days: np.ndarray) -> np.ndarray:
    """The bin of each dwell in days: its whole minutes (monotone in the value)."""
    return np.floor(np.asarray(days, dtype=float) * 1440).astype(np.int64)


@dataclass
class TheftPartial:
    """The mergeable theft figures of some users: counts, and the measured dwells by whole minute."""

    thefts: int = 0
    detected: int = 0
    censored: int = 0
    victim_reauths: int = 0
    dwell_bins: SparseCounts = field(default_factory=SparseCounts.empty)

    @classmethod
    def of(cls, thefts: Mapping[str, Any], warmup: float) -> TheftPartial:
        """The partial of these thefts (columns as recorded)."""
        keep = _measured(thefts, warmup)
        if not keep.any():
            return cls()
        dwell, censored = _dwell(thefts, keep)
        return cls(
            thefts=int(np.count_nonzero(keep)),
            detected=int(np.count_nonzero(np.asarray(thefts["detected"], dtype=bool)[keep])),
            censored=int(np.count_nonzero(censored)),
            victim_reauths=int(np.asarray(thefts["victim_reauths"], dtype=np.int64)[keep].sum()),
            dwell_bins=SparseCounts.of(dwell_bins(dwell)),
        )

    def merge(self, other: TheftPartial) -> TheftPartial:
        """Add another's thefts; returns self."""
        self.thefts += other.thefts
        self.detected += other.detected
        self.censored += other.censored
        self.victim_reauths += other.victim_reauths
        self.dwell_bins.merge(other.dwell_bins)
        return self


def theft_metrics_merged(partial: TheftPartial, warmup: float, rows: RowSource) -> dict[str, float]:
    """The figures of `theft_metrics` from a merged partial and the group's thefts read again in
    ascending chunks of dwell (every figure equal to the whole table's)."""
    n = partial.thefts
    if n == 0:
        return dict.fromkeys(THEFT_METRICS, math.nan)

    def chunks() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for first, last in bin_ranges(partial.dwell_bins.bins, partial.dwell_bins.counts):
            found = [(np.zeros(0), np.zeros(0, dtype=bool))] + [
                _in_bins(*_dwell(batch, _measured(batch, warmup)), first, last)
                for batch in rows("thefts", THEFT_FIGURE_COLUMNS)
            ]
            yield np.concatenate([f[0] for f in found]), np.concatenate([f[1] for f in found])

    p95, mean = km_scan(chunks(), n, partial.censored, quantile=0.95, restricted_mean=True)
    return {
        "attacker_dwell_days_mean": mean,
        "attacker_dwell_days_p95": p95,
        "theft_detected_share": partial.detected / n,
        "thefts_active_at_horizon_share": partial.censored / n,
        "victim_reauths_per_theft": float(partial.victim_reauths) / n,
    }


def _in_bins(days: np.ndarray, censored: np.ndarray, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
    bins = dwell_bins(days)
    keep = (bins >= first) & (bins <= last)
    return days[keep], censored[keep]


def dwell_survival(thefts: pd.DataFrame, warmup: float) -> pd.DataFrame:
    """The dwell-time distribution for a report: per persona (and `*`), Kaplan-Meier S(t) by dwell day.

    Columns `persona, dwell_days, survival` (the share of thefts whose attacker still had access
    after that many days); replications are pooled.
    """
    frames = []
    measured = measured_thefts(thefts, warmup)
    groups = [("*", measured), *((str(p), g) for p, g in measured.groupby("persona", sort=False))]
    for persona, group in groups:
        censored = group["ended_at_s"].isna().to_numpy()
        if group.empty or censored.all():
            continue
        times, survival = kaplan_meier(group["dwell_s"].to_numpy(dtype=float) / DAY, censored)
        frames.append(pd.DataFrame({"persona": persona, "dwell_days": times, "survival": survival}))
    if not frames:
        return pd.DataFrame(columns=["persona", "dwell_days", "survival"])
    return pd.concat(frames, ignore_index=True)
