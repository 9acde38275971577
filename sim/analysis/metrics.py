"""Metrics: one value per metric, replication and persona, from the merged partials of a run's shards.

Every figure covers the measured window [warmup, horizon]. A month is 30 days. Each metric is computed
per replication, for the whole population (persona `"*"`) and for each persona, so that the statistics
layer can put a confidence interval on it across replications.

A run never holds its rows in the main process: each shard returns a `GroupPartial`
(sim/analysis/partials.py: counts, exact sums, per-minute histograms), the partials of a group are merged,
and `group_metrics` finishes the figures from them. Three figures also read the group's rows again, a
bounded chunk at a time (sim/analysis/rescan.py): the population peak of valid chains (only the minutes
whose bound beats the best level found), the Kaplan-Meier lifetimes and dwells (in ascending chunks of
duration), and the 95th percentile of revocation lags (only the bins holding it). Every figure is the
one computed on all rows at once; float sums are exact (correctly rounded), so they do not depend on
the order or split of the rows either.

Censoring: a chain still valid at the horizon has no end. `chain_lifetime_days_median` is the
Kaplan-Meier median (as scipy.stats.ecdf on right-censored data), which uses censored chains properly;
`chain_lifetime_days_mean` is the mean over chains that ended (censored chains excluded, so it is biased
low when many chains outlive the horizon; `chains_censored_share` says how many did).

Thefts (sim/model/threats.py) still going at the horizon are censored the same way: the dwell figures are
Kaplan-Meier estimates (sim/analysis/theft_metrics.py). Storage figures come from sim/analysis/storage.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from sim.analysis.counts import MinuteGrid
from sim.analysis.levels import group_peak, peak_active
from sim.analysis.partials import (
    GroupPartial,
    chain_lifetimes,
    duration_bins,
    lag_bins,
    lifetime_bin_count,
    whole_months,
)
from sim.analysis.rescan import RangeSpill, RowSource, bin_ranges
from sim.analysis.storage import STORAGE_METRICS, StorageModel
from sim.analysis.survival import km_scan
from sim.analysis.theft_metrics import theft_metrics_merged
from sim.analysis.window import Window
from sim.core.durations import HOUR
from sim.core.metric_names import ALL, CAUSES

__all__ = [
    "TIMESERIES_COLUMNS",
    "Window",
    "group_metrics",
    "group_timeseries",
    "peak_active",
    "replication_metrics",
    "replication_timeseries",
]

#: Columns of the hourly time series (`stored_rows` only with a storage model).
TIMESERIES_COLUMNS = (
    "replication", "persona", "hour", "t_s", "active_chains", "authorizations", "refreshes", "failures",
    "sessions",
)  # fmt: skip
#: The columns of each table that a second look at the rows reads.
RESCAN_COLUMNS: dict[str, tuple[str, ...]] = {
    "chains": ("authorized_at_s", "ended_at_s"),
    "lags": ("at_s", "remaining_s"),
}


def replication_metrics(
    replication: int,
    partials: dict[str, GroupPartial],
    personas: Sequence[str],
    window: Window,
    storage: StorageModel | None,
    rows_of: Callable[[Sequence[str]], RowSource],
) -> list[dict[str, float | int | str]]:
    """One row per group of a replication (persona "*" first, then each persona in population order).

    `partials`: the merged partial of each persona (a persona without users may be absent);
    `rows_of(personas)` reads those personas' rows of this replication again.
    """
    rows: list[dict[str, float | int | str]] = []
    per_persona: dict[str, dict[str, float]] = {}
    for persona in personas:
        part = partials.get(persona, GroupPartial())
        per_persona[persona] = group_metrics(part, window, storage, rows_of([persona]))
    present = [p for p in personas if p in partials]
    if len(present) == 1:  # the whole population is that persona: the same figures
        overall = dict(per_persona[present[0]])
    else:
        whole = GroupPartial.total(partials[p] for p in present)
        overall = group_metrics(whole, window, storage, rows_of(list(personas)))
    rows.append({"replication": replication, "persona": ALL, **overall})
    rows.extend({"replication": replication, "persona": p, **per_persona[p]} for p in personas)
    return rows


def group_metrics(
    partial: GroupPartial, window: Window, storage: StorageModel | None, rows: RowSource
) -> dict[str, float]:
    """Every metric of one group (a persona or the whole population of a replication).

    Without `storage` the storage metrics are NaN; without thefts the theft metrics are NaN; without
    revocation lags the lag metrics are NaN.
    """
    n_users = partial.users
    user_months = max(n_users, 1) * window.months
    out: dict[str, float] = {}

    out["forced_reauth_per_user_month"] = partial.reauths / user_months
    for cause in CAUSES:
        out[f"forced_reauth_per_user_month.{cause}"] = (
            float(partial.reauth_causes.get(cause, 0)) / user_months
        )
    out["mid_session_reauth_per_user_month"] = float(partial.mid_session) / user_months
    forced_by_month = partial.users_forced_by_month
    if forced_by_month is None:
        forced_by_month = np.zeros(whole_months(window), dtype=np.int64)
    out["users_with_forced_reauth_share_monthly"] = (
        float(forced_by_month.mean()) / n_users if n_users else math.nan
    )
    out["logins_per_user_month"] = (float(partial.logins) + partial.rejected) / user_months
    out["rejected_logins_per_user_month"] = partial.rejected / user_months

    first_hour = math.ceil(window.warmup / HOUR)
    if partial.hourly is not None:
        refreshes = float(partial.hourly[1, first_hour:].sum())
        failures = float(partial.hourly[2, first_hour:].sum())
        sessions = float(partial.hourly[3, first_hour:].sum())
    else:
        refreshes = failures = sessions = 0.0
    out["sessions_per_user_month"] = sessions / user_months
    out["refresh_requests_per_user_month"] = refreshes / user_months
    out["failed_refresh_share"] = failures / refreshes if refreshes else 0.0
    out["evictions_per_user_month"] = float(partial.evictions) / user_months

    out["active_chains_per_user"] = partial.overlap_s.value() / window.length / max(n_users, 1)
    entering = partial.starts_before - partial.ends_before
    out["active_chains_peak"] = float(group_peak(partial.authorized, partial.ended, entering, window, rows))
    out["active_chains_per_user_max"] = float(partial.peak_per_user)

    out["chain_lifetime_days_mean"] = (
        partial.finished_days.value() / partial.finished if partial.finished else math.nan
    )
    out["chain_lifetime_days_median"] = _lifetime_median(partial, window, rows)
    out["chains_censored_share"] = partial.censored / partial.born if partial.born else math.nan

    if partial.minute_requests is not None:
        first_minute = math.ceil(window.warmup / 60.0)
        out["token_requests_per_second_peak"] = (
            float(partial.minute_requests[first_minute:].max(initial=0)) / 60.0
        )
    else:
        out["token_requests_per_second_peak"] = 0.0

    out.update(theft_metrics_merged(partial.thefts, window.warmup, rows))
    out.update(_lag_metrics(partial, window, rows))
    if storage is not None:
        grid = MinuteGrid(window.horizon)
        stored = storage.grid_rows(
            partial.authorized, partial.removed, partial.removed_rotations, partial.minute_rotations, grid
        )
        out.update(storage.window_metrics(stored, n_users, window.warmup, window.horizon))
    else:
        out.update(dict.fromkeys(STORAGE_METRICS, math.nan))
    return out


def _lifetime_median(partial: GroupPartial, window: Window, rows: RowSource) -> float:
    """The Kaplan-Meier median lifetime of the chains born in the window, read in ascending chunks.

    With one chunk the rows are read once; with several they are read once and spilled to disk by chunk
    (RangeSpill), so the work stays linear in the chains however many chunks the median needs.
    """
    counts = partial.lifetime_bins
    if counts is None:
        return math.nan
    bins = np.flatnonzero(counts)
    size = lifetime_bin_count(window)
    ranges = list(bin_ranges(bins, counts[bins]))

    def lifetimes() -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        for batch in rows("chains", RESCAN_COLUMNS["chains"]):
            authorized = np.asarray(batch["authorized_at_s"], dtype=float)
            ended = np.asarray(batch["ended_at_s"], dtype=float)
            days, censored = chain_lifetimes(authorized, ended, window)
            yield days, censored, duration_bins(days, size)

    if len(ranges) == 1:
        found = list(lifetimes())
        days = np.concatenate([np.zeros(0), *(f[0] for f in found)])
        censored = np.concatenate([np.zeros(0, dtype=bool), *(f[1] for f in found)])
        return km_scan([(days, censored)], partial.born, partial.censored, quantile=0.5)[0]
    spill = RangeSpill(ranges, {"days": np.dtype(np.float64), "censored": np.dtype(np.bool_)})
    try:
        for days, censored, bin_ in lifetimes():
            spill.add(bin_, {"days": days, "censored": censored})
        chunks = ((part["days"], part["censored"]) for part in map(spill.read, range(len(ranges))))
        return km_scan(chunks, partial.born, partial.censored, quantile=0.5)[0]
    finally:
        spill.close()


def _lag_metrics(partial: GroupPartial, window: Window, rows: RowSource) -> dict[str, float]:
    """Mean and 95th percentile (as numpy's linear quantile) of the access-token minutes left at the
    revocations in the window; the percentile's two neighbouring values are read again from the rows."""
    n = partial.lags
    if n == 0:
        return {"revocation_lag_minutes_mean": math.nan, "revocation_lag_minutes_p95": math.nan}
    return {
        "revocation_lag_minutes_mean": partial.lag_minutes.value() / n,
        "revocation_lag_minutes_p95": _lag_quantile(partial, 0.95, window, rows),
    }


def _lag_quantile(partial: GroupPartial, q: float, window: Window, rows: RowSource) -> float:
    n = partial.lags
    virtual = (n - 1) * q
    if virtual >= n - 1:
        below = above = n - 1
    else:
        below = math.floor(virtual)
        above = below + 1
    counts = partial.lag_bins
    wanted = sorted({counts.bin_of_rank(below), counts.bin_of_rank(above)})
    values = [np.zeros(0)]
    for batch in rows("lags", RESCAN_COLUMNS["lags"]):
        at = np.asarray(batch["at_s"], dtype=float)
        minutes = np.asarray(batch["remaining_s"], dtype=float)[at >= window.warmup] / 60.0
        values.append(minutes[np.isin(lag_bins(minutes), wanted)])
    found = np.sort(np.concatenate(values))
    offset = counts.before(wanted[0])
    lower, upper = float(found[below - offset]), float(found[above - offset])
    if below == above:
        return lower
    gamma = virtual - below
    difference = upper - lower
    # numpy's linear interpolation (numpy.lib._function_base_impl._lerp), for the same bits
    return upper - difference * (1 - gamma) if gamma >= 0.5 else lower + difference * gamma


def group_timeseries(
    replication: int, persona: str, partial: GroupPartial, horizon: float, storage: StorageModel | None
) -> pd.DataFrame:
    """Per hour of one group: valid chains at the hour's start, and requests and sessions in the hour.

    With `storage`, also `stored_rows`: the token store's rows at the hour's start.
    """
    n_hours = math.ceil(horizon / HOUR)
    grid = MinuteGrid(horizon)
    hours = np.arange(n_hours, dtype=np.int64)
    at_starts = hours * 60  # the grid's minute index of each hour's start
    if partial.authorized is not None:
        ended = partial.ended if partial.ended is not None else np.zeros_like(partial.authorized)
        active = (np.cumsum(partial.authorized) - np.cumsum(ended))[at_starts]
    else:
        active = np.zeros(n_hours, dtype=np.int64)
    counts = partial.hourly if partial.hourly is not None else np.zeros((4, n_hours), dtype=np.int64)
    frame = pd.DataFrame(
        {
            "replication": replication,
            "persona": persona,
            "hour": hours,
            "t_s": hours * HOUR,
            "active_chains": active.astype(np.int64),
            "authorizations": counts[0, :n_hours],
            "refreshes": counts[1, :n_hours],
            "failures": counts[2, :n_hours],
            "sessions": counts[3, :n_hours],
        }
    )
    if storage is not None:
        stored = storage.grid_rows(
            partial.authorized, partial.removed, partial.removed_rotations, partial.minute_rotations, grid
        )
        frame["stored_rows"] = stored[at_starts].astype(np.int64)
    return frame


def replication_timeseries(
    replication: int, partials: dict[str, GroupPartial], horizon: float, storage: StorageModel | None
) -> pd.DataFrame:
    """The hourly time series of every persona of a replication that made requests, by persona name."""
    frames = [
        group_timeseries(replication, persona, partials[persona], horizon, storage)
        for persona in sorted(partials)
        if partials[persona].hourly is not None
    ]
    if not frames:
        columns = [*TIMESERIES_COLUMNS, "stored_rows"] if storage is not None else list(TIMESERIES_COLUMNS)
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)
