"""Tidy tables behind the report's figures, derived from a run's (or a sweep's) output tables.

Every function reads plain DataFrames and dicts (the files `tokensim run` and `tokensim sweep` write),
never simulator objects, and returns a small DataFrame that one function of `sim.report.plots` draws.

Conventions: times in the run tables are seconds from a Monday 00:00; the measured window is
[warmup, horizon]; persona `"*"` is the whole population.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.analysis.summary import RunSummary, SweepSummary
from sim.analysis.tradeoff import FRICTION, exposure_point, pareto_mask
from sim.core.durations import DAY, HOUR, WEEK
from sim.core.metric_names import ALL, CAUSES

HOURS_PER_WEEK = int(WEEK // HOUR)

#: Plain words for the causes of a forced re-authentication (the engine's failure reasons).
CAUSE_WORDS: dict[str, str] = {
    "absolute_expiry": "absolute expiry",
    "sliding_expiry": "sliding expiry",
    "evicted": "eviction at the per-user cap",
    "consumed": "an already-rotated (consumed) token",
    "family_revoked": "token-family revocation on reuse",
    "revoked": "revocation (password change)",
    "logout": "logout",
    "unknown_token": "an unknown token",
    "rejected_cap": "a login refused at the cap",
}


# --- summary.json -> tables -------------------------------------------------------------------------


def metric_frame(summary: RunSummary) -> pd.DataFrame:
    """Every metric of a run's summary, overall (`"*"`) and per persona, one row each.

    Columns: persona, metric, mean, ci_low, ci_high, unit (NaN where the summary has null).
    """
    rows = []
    for persona, blocks in summary.groups():
        for name, block in blocks.items():
            rows.append(
                {
                    "persona": persona,
                    "metric": name,
                    "mean": _nan(block.mean),
                    "ci_low": _nan(block.low),
                    "ci_high": _nan(block.high),
                    "unit": block.unit,
                }
            )
    return pd.DataFrame(rows, columns=["persona", "metric", "mean", "ci_low", "ci_high", "unit"])


def cause_frame(metrics: pd.DataFrame, personas: Sequence[str] | None = None) -> pd.DataFrame:
    """Forced re-authentications per user and month by cause and persona (causes that occur only).

    `metrics` is a `metric_frame`. Columns: persona, cause, label, mean, ci_low, ci_high, share (of the
    persona's forced re-authentications). With several personas, `"*"` (everyone) comes first. Causes are
    sorted from the most frequent (for the first persona listed) to the least.
    """
    prefix = f"{FRICTION}."
    rows = metrics[metrics["metric"].str.startswith(prefix)].copy()
    rows["cause"] = rows["metric"].str.slice(len(prefix))
    names = list(personas) if personas is not None else list(dict.fromkeys(rows["persona"]))
    if len([p for p in names if p != ALL]) <= 1:
        names = [p for p in names if p == ALL] or names
    rows = rows[rows["persona"].isin(names)]
    totals = metrics[metrics["metric"] == FRICTION].set_index("persona")["mean"]
    largest = rows.groupby("cause")["mean"].max()
    first = rows[rows["persona"] == names[0]].set_index("cause")["mean"] if names else largest
    occurring = [c for c in CAUSES if largest.get(c, 0.0) > 0]
    occurring.sort(key=lambda cause: (-float(first.get(cause, 0.0) or 0.0), -float(largest[cause])))
    rows = rows[rows["cause"].isin(occurring)]
    rows["label"] = rows["cause"].map(CAUSE_WORDS).fillna(rows["cause"])
    rows["share"] = [
        m / totals[p] if totals.get(p, 0) else math.nan
        for p, m in zip(rows["persona"], rows["mean"], strict=True)
    ]
    rows["persona"] = pd.Categorical(rows["persona"], categories=names, ordered=True)
    rows["cause"] = pd.Categorical(rows["cause"], categories=occurring, ordered=True)
    rows = rows.sort_values(["persona", "cause"]).reset_index(drop=True)
    rows["persona"] = rows["persona"].astype(str)
    rows["cause"] = rows["cause"].astype(str)
    return rows[["persona", "cause", "label", "mean", "ci_low", "ci_high", "share"]]


# --- chains -> Kaplan-Meier --------------------------------------------------------------------------


def survival_table(
    chains: pd.DataFrame, warmup: float, horizon: float, max_points: int = 500
) -> pd.DataFrame:
    """Kaplan-Meier survival of chains authorized in the window, per persona, with 95% bands.

    A chain still valid at the horizon is right-censored at the horizon (its lifetime is at least
    `horizon - authorized_at`); replications are pooled. Uses `scipy.stats.ecdf` on `CensoredData`.
    Columns: persona, days, survival, ci_low, ci_high, chains, censored (counts for the legend). Each
    persona's curve starts at (0 days, survival 1). A curve with more than `max_points` steps is read
    off on an even grid of `max_points` ages (the step function's value at each), which draws the
    same picture from far fewer points.
    """
    frames = []
    born = chains[chains["authorized_at_s"] >= warmup]
    for persona, group in born.groupby("persona", sort=False):
        authorized = group["authorized_at_s"].to_numpy(dtype=float)
        ended = group["ended_at_s"].to_numpy(dtype=float)
        censored = np.isnan(ended)
        lifetimes = (np.where(censored, horizon, ended) - authorized) / DAY
        frames.append(_thin(_km(str(persona), lifetimes, censored), max_points))
    columns = ["persona", "days", "survival", "ci_low", "ci_high", "chains", "censored"]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def _km(persona: str, lifetimes: np.ndarray, censored: np.ndarray) -> pd.DataFrame:
    n, n_censored = len(lifetimes), int(censored.sum())
    if n_censored == n:  # nothing ended: survival stays 1 up to the longest observation
        days = np.array([0.0, float(lifetimes.max())])
        one = np.ones(2)
        return pd.DataFrame(
            {"persona": persona, "days": days, "survival": one, "ci_low": one, "ci_high": one,
             "chains": n, "censored": n_censored}
        )
    data = stats.CensoredData(uncensored=lifetimes[~censored], right=lifetimes[censored])
    sf = stats.ecdf(data).sf
    with warnings.catch_warnings():  # undefined at the curve's ends (survival 0 or 1): drawn as 0 / 1
        warnings.simplefilter("ignore", RuntimeWarning)
        band = sf.confidence_interval(0.95)
    days = np.concatenate([[0.0], sf.quantiles])
    survival = np.concatenate([[1.0], sf.probabilities])
    low = np.concatenate([[1.0], np.nan_to_num(band.low.probabilities, nan=0.0)])
    high = np.concatenate([[1.0], np.nan_to_num(band.high.probabilities, nan=1.0)])
    if lifetimes.max() > days[-1]:  # censored chains outlive the last event: extend the flat tail
        days = np.append(days, lifetimes.max())
        survival, low, high = (np.append(a, a[-1]) for a in (survival, low, high))
    return pd.DataFrame(
        {"persona": persona, "days": days, "survival": survival, "ci_low": low, "ci_high": high,
         "chains": n, "censored": n_censored}
    )


def _thin(curve: pd.DataFrame, max_points: int, log: bool = False) -> pd.DataFrame:
    """The curve read off at `max_points` ages, evenly spaced (`log`: geometrically, for a log axis)."""
    if len(curve) <= max_points:
        return curve
    days = curve["days"].to_numpy()
    positive = days[days > 0]
    if log and len(positive):
        grid = np.concatenate([[0.0], np.geomspace(positive[0], days[-1], max_points - 1)])
    else:
        grid = np.linspace(0.0, days[-1], max_points)
    index = np.searchsorted(days, grid, side="right") - 1  # the step in force at each grid age
    thinned = curve.iloc[index].copy()
    thinned["days"] = grid
    return thinned.reset_index(drop=True)


def km_median(table: pd.DataFrame, persona: str) -> float:
    """The Kaplan-Meier median (days) of one persona's curve in a `survival_table`; NaN if not reached."""
    curve = table[table["persona"] == persona]
    below = curve[curve["survival"] <= 0.5]
    return float(below["days"].iloc[0]) if len(below) else math.nan


def dwell_table(thefts: pd.DataFrame, warmup: float, personas: Sequence[str] | None = None,
                max_points: int = 600) -> pd.DataFrame:
    """Kaplan-Meier survival of attacker dwell time (days) per persona, with 95% bands.

    The thefts counted are those of the theft metrics (`sim.analysis.theft_metrics.measured_thefts`: stolen
    in the
    measured window, with a token to use); replications are pooled; a theft still active at the horizon
    is right-censored at its dwell so far (`scipy.stats.ecdf` on `CensoredData`, as `survival_table`).
    With thefts in more than one persona, everyone (`"*"`) comes first. Columns: persona, days, survival,
    ci_low, ci_high, thefts, censored, median_days (the Kaplan-Meier median, NaN when fewer than half
    ended; computed before thinning), active_share (share still active at the horizon). Long curves are
    thinned on a geometric grid of ages (the figure's x axis is logarithmic).
    """
    from sim.analysis.survival import km_quantile
    from sim.analysis.theft_metrics import measured_thefts

    columns = ["persona", "days", "survival", "ci_low", "ci_high", "thefts", "censored", "median_days",
               "active_share"]
    measured = measured_thefts(thefts, warmup)
    if measured.empty:
        return pd.DataFrame(columns=columns)
    order = list(personas) if personas is not None else []
    order += [p for p in dict.fromkeys(measured["persona"].astype(str)) if p not in order]
    groups = [(p, measured[measured["persona"].astype(str) == p]) for p in order]
    groups = [(p, g) for p, g in groups if len(g)]
    if len(groups) > 1:
        groups.insert(0, (ALL, measured))
    frames = []
    for persona, group in groups:
        dwell = group["dwell_s"].to_numpy(dtype=float) / DAY
        censored = group["ended_at_s"].isna().to_numpy()
        curve = _km(persona, dwell, censored).rename(columns={"chains": "thefts"})
        curve["median_days"] = km_quantile(dwell, censored, 0.5)
        curve["active_share"] = float(censored.mean())
        frames.append(_thin(curve, max_points, log=True))
    return pd.concat(frames, ignore_index=True)[columns]


# --- time series ----------------------------------------------------------------------------------


def active_over_time(timeseries: pd.DataFrame, users: Mapping[str, int], every_hours: int = 24,
                     at_hour: int = 12) -> pd.DataFrame:
    """Active chains per user over the whole run (warm-up included), per persona, sampled daily at noon.

    Columns: persona, day, mean, low, high (the mean over replications of the persona's active chains
    divided by its users, and its 95% Student-t confidence interval; no interval with one replication).
    """
    sampled = timeseries[(timeseries["hour"] % every_hours) == at_hour].copy()
    sampled["per_user"] = sampled["active_chains"] / sampled["persona"].map(users).astype(float)
    grouped = sampled.groupby(["persona", "hour"], sort=False)["per_user"]
    out = grouped.agg(mean="mean", sd="std", n="count").reset_index()
    out["low"], out["high"] = mean_interval(out["mean"], out["sd"], out["n"])
    out["day"] = out["hour"] * HOUR / DAY
    order = {p: i for i, p in enumerate(users)}
    out = out.sort_values(["persona", "hour"], key=lambda s: s.map(order) if s.name == "persona" else s)
    return out[["persona", "day", "mean", "low", "high"]].reset_index(drop=True)


def storage_over_time(timeseries: pd.DataFrame, personas: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows in the token store per day, for everyone and (with several personas) per persona.

    `stored_rows` (rows at every hour's start) is summed over personas for everyone (`"*"`) and averaged
    over replications hour by hour; each day then gets the mean of its hours and its lowest and highest
    hour (the daily swing: consumed tokens retained, cleanup runs, weekends). Columns: persona, day (the
    day's middle), mean, low, high; empty when the time series has no `stored_rows` column (runs written
    before storage was modelled).
    """
    columns = ["persona", "day", "mean", "low", "high"]
    if "stored_rows" not in timeseries.columns or timeseries.empty:
        return pd.DataFrame(columns=columns)
    total = timeseries.groupby(["replication", "hour"], sort=False)["stored_rows"].sum().reset_index()
    parts = [total.assign(persona=ALL)]
    names = list(personas) if personas is not None else list(dict.fromkeys(timeseries["persona"]))
    if len(names) > 1:
        own = timeseries[["replication", "hour", "persona", "stored_rows"]]
        parts += [own[own["persona"] == p].drop(columns="persona").assign(persona=p) for p in names]
    frames = []
    for part in parts:
        hourly = part.groupby("hour", sort=True)["stored_rows"].mean().reset_index()
        day_index = (hourly["hour"] * HOUR // DAY).astype(int)
        grouped = hourly.groupby(day_index)["stored_rows"].agg(mean="mean", low="min", high="max")
        grouped = grouped.reset_index(names="day_index")
        grouped["day"] = grouped["day_index"] + 0.5
        grouped["persona"] = part["persona"].iloc[0] if len(part) else ALL
        frames.append(grouped)
    return pd.concat(frames, ignore_index=True)[columns]


def weekly_load(timeseries: pd.DataFrame, warmup: float) -> pd.DataFrame:
    """Mean token-endpoint requests per second for each hour of the week, over the measured window.

    Hours from the first whole hour after the warm-up; requests summed over personas per replication and
    hour, then averaged over every week and replication. Time zero is a Monday 00:00. Columns:
    hour_of_week, logins_per_s, refreshes_per_s, total_per_s (refreshes include failed ones and retries),
    total_low, total_high (the 95% confidence interval of the total over replications: each replication's
    own weekly profile is one observation).
    """
    first = math.ceil(warmup / HOUR)
    window = timeseries[timeseries["hour"] >= first]
    per_hour = window.groupby(["replication", "hour"], sort=False)[["authorizations", "refreshes"]].sum()
    per_hour = per_hour.reset_index()
    per_hour["hour_of_week"] = per_hour["hour"] % HOURS_PER_WEEK
    mean = per_hour.groupby("hour_of_week")[["authorizations", "refreshes"]].mean()
    mean = mean.reindex(range(HOURS_PER_WEEK), fill_value=0.0)
    per_replication = per_hour.assign(total=per_hour["authorizations"] + per_hour["refreshes"])
    profile = per_replication.groupby(["replication", "hour_of_week"])["total"].mean() / HOUR
    spread = profile.groupby("hour_of_week").agg(mean="mean", sd="std", n="count")
    spread = spread.reindex(range(HOURS_PER_WEEK))
    low, high = mean_interval(spread["mean"], spread["sd"], spread["n"])
    out = pd.DataFrame(
        {
            "hour_of_week": np.arange(HOURS_PER_WEEK),
            "logins_per_s": mean["authorizations"].to_numpy(dtype=float) / HOUR,
            "refreshes_per_s": mean["refreshes"].to_numpy(dtype=float) / HOUR,
        }
    )
    out["total_per_s"] = out["logins_per_s"] + out["refreshes_per_s"]
    out["total_low"], out["total_high"] = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    return out


def mean_interval(mean: pd.Series, sd: pd.Series, n: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The 95% Student-t interval of a mean from its sample's standard deviation and size (NaN with fewer
    than 2 values)."""
    count = n.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.975, count - 1) * sd / np.sqrt(count)
    half = half.where(count >= 2)
    return mean - half, mean + half


def active_per_user_counts(
    chains: pd.DataFrame,
    users: Mapping[str, int],
    replications: int,
    warmup: float,
    horizon: float,
    at_hour: float = 12.0,
    max_cells: int = 20_000_000,
) -> pd.DataFrame:
    """Distribution of the number of valid chains a user holds, sampled every day at `at_hour` o'clock.

    Every user of every persona and replication counts at every sampled time (users holding no chain
    count as 0). Samples lie in the measured window; with very large runs the days are thinned so that
    users x samples stays below `max_cells`. Columns: persona, chains, user_days, share (of the persona's
    user-day samples).
    """
    first_day = math.ceil((warmup - at_hour * HOUR) / DAY)
    times = np.arange(first_day, math.ceil(horizon / DAY) + 1) * DAY + at_hour * HOUR
    times = times[(times >= warmup) & (times <= horizon)]
    total_users = sum(users.values()) * max(replications, 1)
    if len(times) and total_users * len(times) > max_cells:
        stride = math.ceil(total_users * len(times) / max_cells)
        times = times[::stride]
    frames = []
    for persona, n_users in users.items():
        n_keys = n_users * max(replications, 1)
        group = chains[chains["persona"] == persona]
        level = np.zeros((n_keys, len(times) + 1), dtype=np.int32)
        if len(group) and len(times):
            key = group["replication"].to_numpy(dtype=np.int64) * n_users + group["user"].to_numpy(np.int64)
            authorized = group["authorized_at_s"].to_numpy(dtype=float)
            ended = group["ended_at_s"].to_numpy(dtype=float)
            # valid at t when authorized_at <= t < ended_at (still valid at the horizon: no end)
            start = np.searchsorted(times, authorized, side="left")
            stop = np.searchsorted(times, np.where(np.isnan(ended), np.inf, ended), side="left")
            keep = (key >= 0) & (key < n_keys) & (stop > start)
            np.add.at(level, (key[keep], start[keep]), 1)
            np.add.at(level, (key[keep], stop[keep]), -1)
        counts = np.cumsum(level, axis=1)[:, : len(times)].ravel()
        values, frequency = np.unique(counts, return_counts=True)
        frames.append(
            pd.DataFrame(
                {"persona": persona, "chains": values.astype(int), "user_days": frequency.astype(int),
                 "share": frequency / max(counts.size, 1)}
            )
        )
    columns = ["persona", "chains", "user_days", "share"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


# --- sweeps ---------------------------------------------------------------------------------------


def sweep_frame(summary: SweepSummary) -> pd.DataFrame:
    """One row per cell of a sweep's summary.json: the swept values, friction and exposure with CIs.

    Columns: cell, label, one column per swept path (the value as text), friction, friction_low,
    friction_high, exposure_days, exposure_low, exposure_high, exposure_source (`metric` when the
    summary has `attacker_dwell_days_mean`, else `policy`: the cell's idle window, see
    `sim.analysis.tradeoff`), point (a short label: the swept values for a grid, the case name for cases)
    and pareto (on the Pareto front).
    """
    from sim.scenario.paths import apply_overrides, value_at, value_text

    base = dict(summary.resolved_scenario)
    base.pop("sweep", None)
    base.pop("requirements", None)
    horizon = float(summary.horizon_days)
    swept: list[str] = list(summary.swept)
    rows = []
    for cell in summary.cells:
        overrides = cell.overrides
        config = apply_overrides(base, overrides)
        row: dict[str, Any] = {"cell": cell.cell, "label": cell.label}
        for path in swept:
            if path in overrides:
                row[path] = value_text(overrides[path])
            else:
                row[path] = value_text(value_at(config, path))
        friction = cell.metrics[FRICTION]
        row["friction"], row["friction_low"], row["friction_high"] = (
            _nan(friction.mean), _nan(friction.low), _nan(friction.high)
        )
        cell_horizon = float(_days(config.get("horizon")) or horizon)
        row.update(exposure_point(cell.metrics, config["policy"], cell_horizon))
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    grid = "grid" in (summary.resolved_scenario.get("sweep") or {})
    frame["point"] = frame[swept].agg(", ".join, axis=1) if grid and swept else frame["label"]
    frame["pareto"] = pareto_mask(frame["exposure_days"].to_numpy(), frame["friction"].to_numpy())
    return frame


def sweep_metric_frame(summary: SweepSummary, metric: str, persona: str = ALL) -> pd.DataFrame:
    """One metric of every cell of a sweep summary: cell, label, mean, ci_low, ci_high, unit."""
    rows = []
    for cell in summary.cells:
        blocks = cell.metrics if persona == ALL else cell.by_persona.get(persona, {})
        block = blocks.get(metric)
        if block is None:
            continue
        rows.append({"cell": cell.cell, "label": cell.label, "mean": _nan(block.mean),
                     "ci_low": _nan(block.low), "ci_high": _nan(block.high), "unit": block.unit})
    return pd.DataFrame(rows, columns=["cell", "label", "mean", "ci_low", "ci_high", "unit"])


def _days(value: Any) -> float | None:
    if value is None:
        return None
    from sim.core.durations import parse_duration

    try:
        return parse_duration(value) / DAY
    except ValueError:
        return None


def _nan(value: Any) -> float:
    return math.nan if value is None else float(value)


def difference_frame(summary: SweepSummary, metric: str = FRICTION) -> pd.DataFrame:
    """Every cell's difference from the baseline for one metric (everyone): cell, label, mean, ci_low,
    ci_high (paired over replications), unpaired_low, unpaired_high (Welch); the baseline is left out."""
    rows = []
    for cell in summary.cells:
        diff = (cell.difference_from_baseline or {}).get(metric)
        if diff is None:
            continue
        rows.append({"cell": cell.cell, "label": cell.label, "mean": _nan(diff.mean),
                     "ci_low": _nan(diff.low), "ci_high": _nan(diff.high),
                     "unpaired_low": _nan(diff.unpaired_ci95[0]),
                     "unpaired_high": _nan(diff.unpaired_ci95[1])})
    columns = ["cell", "label", "mean", "ci_low", "ci_high", "unpaired_low", "unpaired_high"]
    return pd.DataFrame(rows, columns=columns)
