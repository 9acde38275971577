"""Metrics: turn the recorded tables of a run into one value per metric, replication and persona.

Every figure covers the measured window [warmup, horizon]. A month is 30 days. Each metric is computed
per replication, for the whole population (persona `"*"`) and for each persona, so that the statistics
layer can put a confidence interval on it across replications.

Censoring: a chain still valid at the horizon has no end. `chain_lifetime_days_median` is the
Kaplan-Meier median (scipy.stats.ecdf on right-censored data), which uses censored chains properly;
`chain_lifetime_days_mean` is the mean over chains that ended (censored chains excluded, so it is biased
low when many chains outlive the horizon; `chains_censored_share` says how many did).

Thefts (sim/threats.py) still going at the horizon are censored the same way: the dwell figures are
Kaplan-Meier estimates. Storage figures come from sim/storage.py.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.analysis.storage import STORAGE_METRICS, StorageModel
from sim.analysis.survival import km_quantile
from sim.analysis.theft_metrics import theft_metrics
from sim.core.durations import DAY, HOUR, MONTH
from sim.core.metric_names import ALL, CAUSES

#: The columns of each row table that `replication_metrics` and `hourly_timeseries` read (with
#: sim/storage.py and sim/theft_metrics.py) besides the per-user figures: a run reads only these back
#: from its spool (sim/spool.py), one replication at a time.
METRIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "chains": ("replication", "persona", "authorized_at_s", "ended_at_s", "end_reason", "refreshes"),
    "reauths": ("replication", "persona", "at_s", "cause", "mid_session"),
    "thefts": (
        "replication", "persona", "stolen_at_s", "ended_at_s", "end_reason", "detected", "dwell_s",
        "victim_reauths",
    ),
}
#: The columns PerUserFigures reads, one chunk of whole users (a shard) at a time.
PER_USER_COLUMNS: dict[str, tuple[str, ...]] = {
    "chains": ("replication", "persona", "user", "authorized_at_s", "ended_at_s"),
    "reauths": ("persona", "user", "at_s"),
}


@dataclass(frozen=True)
class Window:
    """The measured window of a run."""

    warmup: float
    horizon: float

    @property
    def length(self) -> float:
        """Seconds measured."""
        return self.horizon - self.warmup

    @property
    def months(self) -> float:
        """Months (of 30 days) measured."""
        return self.length / MONTH


def replication_metrics(
    chains: pd.DataFrame,
    reauths: pd.DataFrame,
    minute_requests: dict[tuple[int, str], np.ndarray],
    hourly_counts: dict[tuple[int, str], np.ndarray],
    rejected_logins: dict[tuple[int, str], list[float]],
    users: dict[tuple[int, str], int],
    window: Window,
    replications: Iterable[int],
    personas: list[str],
    thefts: pd.DataFrame | None = None,
    revocation_lags: dict[tuple[int, str], list[tuple[float, float]]] | None = None,
    minute_rotations: dict[tuple[int, str], np.ndarray] | None = None,
    storage: StorageModel | None = None,
    per_user: dict[tuple[int, str], PerUserFigures] | None = None,
) -> pd.DataFrame:
    """One row per (replication, persona incl. "*") with a column per metric.

    Without `storage` the storage metrics are NaN; without thefts the theft metrics are NaN; without
    revocation lags the lag metrics are NaN. `per_user`: the PerUserFigures of each (replication,
    persona), computed chunk by chunk by the caller (default: from `chains` and `reauths`).
    """
    rows = []
    chain_positions = chains.groupby(["replication", "persona"], sort=False).indices
    reauth_positions = reauths.groupby(["replication", "persona"], sort=False).indices
    theft_groups = {}
    if thefts is not None and not thefts.empty:
        theft_groups = dict(tuple(thefts.groupby(["replication", "persona"], sort=False)))
    lags = revocation_lags or {}
    rotations = minute_rotations or {}
    for replication in replications:
        for persona in [ALL, *personas]:
            members = personas if persona == ALL else [persona]
            keys = [(replication, p) for p in members]
            c = _rows_of(chains, chain_positions, keys)
            r = _rows_of(reauths, reauth_positions, keys)
            n_users = sum(users.get(k, 0) for k in keys)
            minute = _sum_arrays([minute_requests.get(k) for k in keys])
            hourly = _sum_arrays([hourly_counts.get(k) for k in keys])
            rejected = [t for k in keys for t in rejected_logins.get(k, [])]
            figures = None
            if per_user is not None:
                figures = PerUserFigures.combine((per_user[k] for k in keys if k in per_user), window)
            values = _metrics_for(c, r, minute, hourly, rejected, n_users, window, figures)
            stolen = [theft_groups[k] for k in keys if k in theft_groups]
            values.update(theft_metrics(pd.concat(stolen) if stolen else pd.DataFrame(), window.warmup))
            values.update(_lag_metrics([lag for k in keys for lag in lags.get(k, [])], window))
            if storage is not None:
                rotated = _sum_arrays([rotations.get(k) for k in keys])
                values.update(storage.metrics(c, rotated, n_users, window.warmup, window.horizon))
            else:
                values.update(dict.fromkeys(STORAGE_METRICS, math.nan))
            rows.append({"replication": replication, "persona": persona, **values})
    return pd.DataFrame(rows)


def _lag_metrics(lags: list[tuple[float, float]], window: Window) -> dict[str, float]:
    """Mean and 95th percentile of the remaining access-token minutes at revocations in the window."""
    # sorted: shards arrive in any order, and a float sum must not depend on it
    remaining = np.sort(np.asarray([left for at, left in lags if at >= window.warmup], dtype=float)) / 60.0
    if len(remaining) == 0:
        return {"revocation_lag_minutes_mean": math.nan, "revocation_lag_minutes_p95": math.nan}
    return {
        "revocation_lag_minutes_mean": float(remaining.mean()),
        "revocation_lag_minutes_p95": float(np.quantile(remaining, 0.95)),
    }


def _rows_of(
    frame: pd.DataFrame, positions: dict[tuple[int, str], np.ndarray], keys: list[tuple[int, str]]
) -> pd.DataFrame:
    """The rows of these (replication, persona) keys, key after key: the frame itself, not a copy, when
    it holds no other key (one persona; or the whole population of one replication)."""
    found = [positions[key] for key in keys if key in positions]
    if not found:
        return frame.iloc[0:0]
    if sum(map(len, found)) == len(frame) and _consecutive(found):
        return frame
    return frame.take(np.concatenate(found)).reset_index(drop=True)


def _consecutive(runs: list[np.ndarray]) -> bool:
    """True when the positions are 0, 1, 2, ... run after run (each run ascending, as groupby gives)."""
    start = 0
    for run in runs:
        if run[0] != start or run[-1] != start + len(run) - 1:
            return False
        start += len(run)
    return True


def _sum_arrays(arrays: list[np.ndarray | None]) -> np.ndarray | None:
    present = [a for a in arrays if a is not None]
    return np.asarray(np.sum(present, axis=0, dtype=np.int64)) if present else None


def _metrics_for(
    chains: pd.DataFrame,
    reauths: pd.DataFrame,
    minute: np.ndarray | None,
    hourly: np.ndarray | None,
    rejected: list[float],
    n_users: int,
    window: Window,
    per_user: PerUserFigures | None = None,
) -> dict[str, float]:
    user_months = max(n_users, 1) * window.months
    out: dict[str, float] = {}

    in_window = reauths[reauths["at_s"] >= window.warmup]
    out["forced_reauth_per_user_month"] = len(in_window) / user_months
    counts = in_window["cause"].value_counts()
    for cause in CAUSES:
        out[f"forced_reauth_per_user_month.{cause}"] = float(counts.get(cause, 0)) / user_months
    out["mid_session_reauth_per_user_month"] = float(in_window["mid_session"].sum()) / user_months
    if per_user is None:
        per_user = PerUserFigures.of(chains, reauths, window)
    forced_by_month = per_user.users_forced_by_month
    out["users_with_forced_reauth_share_monthly"] = (
        float(forced_by_month.mean()) / n_users if n_users else math.nan
    )

    authorized = chains["authorized_at_s"].to_numpy(dtype=float)
    ended = chains["ended_at_s"].to_numpy(dtype=float)  # NaN while valid at the horizon
    rejected_in_window = sum(1 for t in rejected if t >= window.warmup)
    out["logins_per_user_month"] = (
        float(np.count_nonzero(authorized >= window.warmup)) + rejected_in_window
    ) / user_months
    out["rejected_logins_per_user_month"] = rejected_in_window / user_months

    first_hour = math.ceil(window.warmup / HOUR)
    if hourly is not None:
        refreshes = float(hourly[1, first_hour:].sum())
        failures = float(hourly[2, first_hour:].sum())
        sessions = float(hourly[3, first_hour:].sum())
    else:
        refreshes = failures = sessions = 0.0
    out["sessions_per_user_month"] = sessions / user_months
    out["refresh_requests_per_user_month"] = refreshes / user_months
    out["failed_refresh_share"] = failures / refreshes if refreshes else 0.0

    evicted = (chains["end_reason"] == "evicted").to_numpy() & (ended >= window.warmup)
    out["evictions_per_user_month"] = float(np.count_nonzero(evicted)) / user_months

    end_or_horizon = np.where(np.isnan(ended), window.horizon, ended)
    overlap = np.clip(
        np.minimum(end_or_horizon, window.horizon) - np.maximum(authorized, window.warmup), 0, None
    )
    out["active_chains_per_user"] = float(overlap.sum()) / window.length / max(n_users, 1)
    out["active_chains_peak"] = float(_peak_active(authorized, ended, window))
    out["active_chains_per_user_max"] = float(per_user.peak_chains)

    born = authorized >= window.warmup
    lifetimes = (end_or_horizon - authorized)[born] / DAY
    censored = np.isnan(ended)[born]
    finished = lifetimes[~censored]
    out["chain_lifetime_days_mean"] = float(finished.mean()) if len(finished) else math.nan
    out["chain_lifetime_days_median"] = km_quantile(lifetimes, censored, 0.5)
    out["chains_censored_share"] = float(censored.mean()) if len(censored) else math.nan

    if minute is not None:
        first_minute = math.ceil(window.warmup / 60.0)
        out["token_requests_per_second_peak"] = float(minute[first_minute:].max(initial=0)) / 60.0
    else:
        out["token_requests_per_second_peak"] = 0.0
    return out


@dataclass(frozen=True)
class PerUserFigures:
    """The figures that need each user's rows together. Computed on any chunks of whole users (a
    shard's rows, say) and combined, they equal those of all the rows at once."""

    #: The most valid chains any one user held at once within the window.
    peak_chains: int
    #: Users with at least one forced re-authentication, per whole 30-day month of the window.
    users_forced_by_month: np.ndarray

    @classmethod
    def of(cls, chains: pd.DataFrame, reauths: pd.DataFrame, window: Window) -> PerUserFigures:
        """The figures of these rows (every row of each user they contain)."""
        return cls(_peak_active_per_user(chains, window), _users_forced_by_month(reauths, window))

    @staticmethod
    def combine(parts: Iterable[PerUserFigures], window: Window) -> PerUserFigures:
        """The figures of disjoint sets of users together."""
        parts = list(parts)
        return PerUserFigures(
            max((part.peak_chains for part in parts), default=0),
            np.asarray(np.sum([part.users_forced_by_month for part in parts], axis=0, dtype=np.int64))
            if parts
            else np.zeros(_whole_months(window), dtype=np.int64),
        )


def _whole_months(window: Window) -> int:
    return max(1, math.floor(window.length / MONTH))


def _users_forced_by_month(reauths: pd.DataFrame, window: Window) -> np.ndarray:
    """For each whole 30-day month of the window, how many users had a forced re-authentication."""
    months = _whole_months(window)
    span = MONTH if window.length >= MONTH else window.length
    at = reauths["at_s"].to_numpy(dtype=float)
    month = ((at - window.warmup) // span).astype(np.int64)
    keep = (at >= window.warmup) & (month < months)
    distinct = pd.DataFrame(
        {
            "month": month[keep],
            "persona": reauths["persona"].to_numpy()[keep],  # a user is identified by persona and index
            "user": reauths["user"].to_numpy()[keep],
        }
    ).drop_duplicates()
    return np.bincount(distinct["month"].to_numpy(dtype=np.int64), minlength=months).astype(np.int64)


def _peak_active(
    authorized: np.ndarray, ended: np.ndarray, window: Window, owners: np.ndarray | None = None
) -> int:
    """The most chains valid at once within the window (exact, over every start and end).

    With `owners` (one integer per chain), the most that any one owner held at once: every owner's
    events go through the same sort, and the running count restarts at each owner's first event.
    """
    if len(authorized) == 0:
        return 0
    has_end = ~np.isnan(ended)
    # Ends first, so that a stable sort puts them before starts at equal times; small integer types,
    # since at 10^6 users this runs over tens of millions of events.
    times = np.concatenate([ended[has_end], authorized])
    if owners is None:
        order = np.argsort(times, kind="stable")
    else:
        keys = np.concatenate([owners[has_end], owners])
        order = np.lexsort((times, keys))  # by owner, then time (lexsort is stable)
        keys = keys[order]
    ends = len(times) - len(authorized)
    times = times[order]
    steps = (order >= ends).astype(np.int8) * np.int8(2) - np.int8(1)  # +1 a start, -1 an end
    del order
    level: np.ndarray = np.cumsum(steps, dtype=np.int64 if len(times) >= 2**31 else np.int32)
    last = np.zeros(len(times), dtype=bool)  # the last event of its owner
    last[-1] = True
    if owners is not None:
        first = np.concatenate([[True], keys[1:] != keys[:-1]])
        level -= (level - steps)[first][np.cumsum(first) - 1]  # each owner's own running count
        last[:-1] = first[1:]
    before = times < window.warmup
    # the level entering the window: after each owner's last event before it
    at_warmup = before & (last | ~np.concatenate([before[1:], [False]]))
    during = (times >= window.warmup) & (times <= window.horizon)
    return int(level[at_warmup | during].max(initial=0))


def _peak_active_per_user(chains: pd.DataFrame, window: Window) -> int:
    """The most chains any one user held at once within the window (exact), all users in one sort."""
    if chains.empty:
        return 0
    persona = pd.factorize(chains["persona"])[0].astype(np.int64)
    user = chains["user"].to_numpy(dtype=np.int64)
    replication = chains["replication"].to_numpy(dtype=np.int64)
    owners = (replication * (int(persona.max()) + 1) + persona) * (int(user.max()) + 1) + user
    authorized = chains["authorized_at_s"].to_numpy(dtype=float)
    return _peak_active(authorized, chains["ended_at_s"].to_numpy(dtype=float), window, owners)


def hourly_timeseries(
    chains: pd.DataFrame,
    hourly_counts: dict[tuple[int, str], np.ndarray],
    horizon: float,
    minute_rotations: dict[tuple[int, str], np.ndarray] | None = None,
    storage: StorageModel | None = None,
) -> pd.DataFrame:
    """Per replication, persona and hour: active chains at the hour's start, and requests in the hour.

    With `storage`, also `stored_rows`: the token store's rows at the hour's start (sim/storage.py).
    """
    n_hours = math.ceil(horizon / HOUR)
    frames = []
    groups = dict(tuple(chains.groupby(["replication", "persona"], sort=False)))
    for (replication, persona), counts in sorted(hourly_counts.items()):
        starts = np.arange(n_hours) * HOUR
        group = groups.get((replication, persona))
        if group is not None:
            authorized = np.sort(group["authorized_at_s"].to_numpy(dtype=float))
            ended = group["ended_at_s"].to_numpy(dtype=float)
            ended = np.sort(ended[~np.isnan(ended)])
            active = np.searchsorted(authorized, starts, side="right") - np.searchsorted(
                ended, starts, side="right"
            )
        else:
            active = np.zeros(n_hours, dtype=np.int64)
        frame = pd.DataFrame(
            {
                "replication": replication,
                "persona": persona,
                "hour": np.arange(n_hours, dtype=np.int64),
                "t_s": starts,
                "active_chains": active.astype(np.int64),
                "authorizations": counts[0, :n_hours],
                "refreshes": counts[1, :n_hours],
                "failures": counts[2, :n_hours],
                "sessions": counts[3, :n_hours],
            }
        )
        if storage is not None:
            rows_of = group if group is not None else chains.iloc[0:0]
            rotations = (minute_rotations or {}).get((replication, persona))
            frame["stored_rows"] = storage.rows(rows_of, rotations, starts).astype(np.int64)
        frames.append(frame)
    if not frames:
        columns = ["replication", "persona", "hour", "t_s", "active_chains", "authorizations",
                   "refreshes", "failures", "sessions"]
        return pd.DataFrame(columns=[*columns, "stored_rows"] if storage is not None else columns)
    return pd.concat(frames, ignore_index=True)
