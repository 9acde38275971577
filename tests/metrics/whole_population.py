"""The whole-population computation of every metric: all rows of a group in memory at once.

An independent reference for the merged, shard-by-shard metrics of sim/analysis/metrics.py: this is the
computation tokensim did before runs were merged from partial results (whole pandas frames, scipy's
Kaplan-Meier on every duration, numpy's quantile on every revocation lag, one sort of every chain event
for the peak), with one deliberate change: float sums are correctly rounded (math.fsum) instead of
numpy's pairwise sums, whose last bits depend on the order of the terms. Merged metrics must equal these
bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.analysis.levels import peak_active
from sim.analysis.metrics import Window
from sim.analysis.storage import StorageModel
from sim.analysis.survival import km_quantile
from sim.analysis.theft_metrics import theft_metrics
from sim.core.durations import DAY, HOUR, MONTH
from sim.core.metric_names import CAUSES


def whole_metrics(
    chains: pd.DataFrame,
    reauths: pd.DataFrame,
    thefts: pd.DataFrame,
    lags: list[tuple[float, float]],
    rejected: list[float],
    minute_requests: np.ndarray | None,
    hourly: np.ndarray | None,
    rotations: np.ndarray | None,
    users: int,
    window: Window,
    storage: StorageModel | None,
) -> dict[str, float]:
    """Every metric of one group from all its rows (chains, reauths, thefts with a `user` column that
    identifies a user within the group) and its summed counts."""
    user_months = max(users, 1) * window.months
    out: dict[str, float] = {}
    in_window = reauths[reauths["at_s"] >= window.warmup]
    out["forced_reauth_per_user_month"] = len(in_window) / user_months
    counts = in_window["cause"].value_counts()
    for cause in CAUSES:
        out[f"forced_reauth_per_user_month.{cause}"] = float(counts.get(cause, 0)) / user_months
    out["mid_session_reauth_per_user_month"] = float(in_window["mid_session"].sum()) / user_months
    forced = _users_forced_by_month(reauths, window)
    out["users_with_forced_reauth_share_monthly"] = float(forced.mean()) / users if users else math.nan

    authorized = chains["authorized_at_s"].to_numpy(dtype=float)
    ended = chains["ended_at_s"].to_numpy(dtype=float)
    rejected_in_window = sum(1 for t in rejected if t >= window.warmup)
    out["logins_per_user_month"] = (
        float(np.count_nonzero(authorized >= window.warmup)) + rejected_in_window
    ) / user_months
    out["rejected_logins_per_user_month"] = rejected_in_window / user_months

    first_hour = math.ceil(window.warmup / HOUR)
    refreshes = float(hourly[1, first_hour:].sum()) if hourly is not None else 0.0
    failures = float(hourly[2, first_hour:].sum()) if hourly is not None else 0.0
    sessions = float(hourly[3, first_hour:].sum()) if hourly is not None else 0.0
    out["sessions_per_user_month"] = sessions / user_months
    out["refresh_requests_per_user_month"] = refreshes / user_months
    out["failed_refresh_share"] = failures / refreshes if refreshes else 0.0
    evicted = (chains["end_reason"] == "evicted").to_numpy() & (ended >= window.warmup)
    out["evictions_per_user_month"] = float(np.count_nonzero(evicted)) / user_months

    end_or_horizon = np.where(np.isnan(ended), window.horizon, ended)
    overlap = np.clip(
        np.minimum(end_or_horizon, window.horizon) - np.maximum(authorized, window.warmup), 0, None
    )
    out["active_chains_per_user"] = math.fsum(overlap.tolist()) / window.length / max(users, 1)
    out["active_chains_peak"] = float(peak_active(authorized, ended, window))
    owners = chains["user"].to_numpy(dtype=np.int64)
    out["active_chains_per_user_max"] = float(peak_active(authorized, ended, window, owners=owners))

    born = authorized >= window.warmup
    lifetimes = (end_or_horizon - authorized)[born] / DAY
    censored = np.isnan(ended)[born]
    finished = lifetimes[~censored]
    out["chain_lifetime_days_mean"] = (
        math.fsum(finished.tolist()) / len(finished) if len(finished) else math.nan
    )
    out["chain_lifetime_days_median"] = km_quantile(lifetimes, censored, 0.5)
    out["chains_censored_share"] = float(censored.mean()) if len(censored) else math.nan
    if minute_requests is not None:
        first_minute = math.ceil(window.warmup / 60.0)
        out["token_requests_per_second_peak"] = float(minute_requests[first_minute:].max(initial=0)) / 60.0
    else:
        out["token_requests_per_second_peak"] = 0.0

    out.update(theft_metrics(thefts, window.warmup))
    remaining = np.sort(np.asarray([left for at, left in lags if at >= window.warmup], dtype=float)) / 60.0
    if len(remaining):
        out["revocation_lag_minutes_mean"] = math.fsum(remaining.tolist()) / len(remaining)
        out["revocation_lag_minutes_p95"] = float(np.quantile(remaining, 0.95))
    else:
        out["revocation_lag_minutes_mean"] = out["revocation_lag_minutes_p95"] = math.nan
    if storage is not None:
        out.update(storage.metrics(chains, rotations, users, window.warmup, window.horizon))
    return out


def _users_forced_by_month(reauths: pd.DataFrame, window: Window) -> np.ndarray:
    months = max(1, math.floor(window.length / MONTH))
    span = MONTH if window.length >= MONTH else window.length
    at = reauths["at_s"].to_numpy(dtype=float)
    month = ((at - window.warmup) // span).astype(np.int64)
    keep = (at >= window.warmup) & (month < months)
    distinct = pd.DataFrame(
        {"month": month[keep], "user": reauths["user"].to_numpy()[keep]}
    ).drop_duplicates()
    return np.bincount(distinct["month"].to_numpy(dtype=np.int64), minlength=months).astype(np.int64)


def whole_timeseries(
    chains: pd.DataFrame,
    hourly: np.ndarray,
    rotations: np.ndarray | None,
    horizon: float,
    storage: StorageModel | None,
) -> pd.DataFrame:
    """The hourly series of one group: valid chains and stored rows at each hour's start, and counts."""
    n_hours = math.ceil(horizon / HOUR)
    starts = np.arange(n_hours) * HOUR
    authorized = np.sort(chains["authorized_at_s"].to_numpy(dtype=float))
    ended = chains["ended_at_s"].to_numpy(dtype=float)
    ended = np.sort(ended[~np.isnan(ended)])
    active = np.searchsorted(authorized, starts, side="right") - np.searchsorted(ended, starts, side="right")
    frame = pd.DataFrame(
        {
            "hour": np.arange(n_hours, dtype=np.int64),
            "t_s": starts,
            "active_chains": active.astype(np.int64),
            "authorizations": hourly[0, :n_hours],
            "refreshes": hourly[1, :n_hours],
            "failures": hourly[2, :n_hours],
            "sessions": hourly[3, :n_hours],
        }
    )
    if storage is not None:
        frame["stored_rows"] = storage.rows(chains, rotations, starts).astype(np.int64)
    return frame
