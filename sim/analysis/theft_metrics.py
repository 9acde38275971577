"""Metrics of stolen tokens, from the thefts table (see sim/threats.py for how thefts are simulated).

Dwell is estimated with Kaplan-Meier (`sim.analysis.survival`): a theft still open at the horizon is censored,
never counted as ended.
"""

from __future__ import annotations

import math

import pandas as pd

from sim.analysis.survival import kaplan_meier, km_quantile, km_restricted_mean
from sim.core.durations import DAY
from sim.core.reasons import NO_TOKEN

#: The end reason of a theft from a device that held no refresh token (left out of the figures).

#: The theft metrics (names, in METRICS of sim/metrics.py).
THEFT_METRICS = (
    "attacker_dwell_days_mean",
    "attacker_dwell_days_p95",
    "theft_detected_share",
    "thefts_active_at_horizon_share",
    "victim_reauths_per_theft",
)


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
