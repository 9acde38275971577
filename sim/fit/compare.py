"""The trace's token-event statistics against simulations under the log's own policy.

Two simulations of the trace's whole span (no warm-up, since the log's counts cover it all), both with
the policy the log was produced under:
- the **fitted** scenario: does the persona model reproduce what the users did to the token endpoint?
- the trace **replayed** as recorded: with the recorded sessions themselves, does the policy (and the
  client model: one tab, no faults unless given) reproduce the log? If the replay misses a figure,
  the policy or the client model is off; if only the fitted scenario misses it, the personas are.

Every statistic is per user and 30-day month. From the trace: the users table's sums over its users and
span (`sessions`, `logins`, `refreshes + refresh_failures`, `refresh_failures`, `forced_logins`, each
`failures.<reason>`). From a simulation: the metric of the same meaning, mean and 95% interval over
replications (failed refreshes per user-month is `failed_refresh_share` times
`refresh_requests_per_user_month`, replication by replication; a failure reason's rate is compared with
the forced re-authentications of that cause, one per failed refresh but for racing tabs that fail
together). Sessions differ by construction: a session that starts while its access token is valid makes
no request, so a log cannot see it (docs/ingest.md), while the simulation counts every session.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.stats import mean_ci
from sim.core.durations import MONTH
from sim.core.metric_names import ALL
from sim.core.reasons import FAILURE_REASONS
from sim.experiments.progress import Progress
from sim.experiments.run import run
from sim.fit.fit import FitResult
from sim.run.runner import RunResult
from sim.scenario.loader import scenario_from_dict
from sim.scenario.model import Scenario

#: (statistic, what it counts, the trace's users-table columns summed, the simulation's metric)
STATISTICS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("sessions_per_user_month", "sessions", ("sessions",), "sessions_per_user_month"),
    ("logins_per_user_month", "logins (authorizations)", ("logins",), "logins_per_user_month"),
    ("refresh_requests_per_user_month", "refresh requests", ("refreshes", "refresh_failures"),
     "refresh_requests_per_user_month"),
    ("failed_refreshes_per_user_month", "failed refresh requests", ("refresh_failures",), ""),
    ("forced_logins_per_user_month", "forced logins", ("forced_logins",), "forced_reauth_per_user_month"),
)


@dataclass
class TokenComparison:
    """The statistics table and the two simulations it came from."""

    table: pd.DataFrame
    fitted: RunResult
    replayed: RunResult
    policy: dict[str, Any]
    replications: int


def simulation_scenarios(
    fit: FitResult, policy: dict[str, Any], replications: int
) -> tuple[Scenario, Scenario]:
    """The fitted scenario and the trace replayed as recorded, both over the trace's span, no warm-up."""
    fitted = fit.scenario_config(policy, replications=replications, warmup=0.0)
    replayed = {
        **{k: v for k, v in fitted.items() if k != "population"},
        "name": f"{fitted['name']}-replayed",
        "description": "The trace replayed as recorded.",
        "population": [{"name": "trace", "activity": {"trace": fit.trace}}],
    }
    return (scenario_from_dict(fitted, "the fitted scenario"),
            scenario_from_dict(replayed, "the replayed trace"))


def trace_statistics(users: pd.DataFrame, span: float) -> dict[str, float]:
    """The trace's statistics per user and month, from its users table (absent columns: NaN)."""
    months = span / MONTH
    n = len(users)
    found: dict[str, float] = {}
    for name, _, columns, _ in STATISTICS:
        if all(column in users.columns for column in columns):
            found[name] = float(sum(users[column].sum() for column in columns)) / n / months
        else:
            found[name] = math.nan
    for reason in FAILURE_REASONS:
        column = f"failures.{reason}"
        if column in users.columns:
            found[f"failures.{reason}"] = float(users[column].sum()) / n / months
    return found


def _simulated(result: RunResult, name: str, metric: str) -> tuple[float, float, float]:
    frame = result.replication_metrics
    everyone = frame[frame["persona"] == ALL]
    if name == "failed_refreshes_per_user_month":
        values = (everyone["failed_refresh_share"] * everyone["refresh_requests_per_user_month"]).tolist()
    elif metric in everyone.columns:
        values = everyone[metric].tolist()
    else:
        return (math.nan, math.nan, math.nan)
    return mean_ci([float(v) for v in values], within=(0.0, math.inf))


def statistics_table(trace: dict[str, float], fitted: RunResult, replayed: RunResult) -> pd.DataFrame:
    """One row per statistic: the trace's value, each simulation's mean and interval, and whether the
    trace's value is inside that interval."""
    rows = []
    plan = [(name, words, metric) for name, words, _, metric in STATISTICS]
    for reason in FAILURE_REASONS:
        metric = f"forced_reauth_per_user_month.{reason}"
        if f"failures.{reason}" in trace or _simulated(replayed, metric, metric)[0] > 0:
            plan.append((f"failures.{reason}", f"failed refreshes ({reason.replace('_', ' ')})", metric))
    for name, words, metric in plan:
        value = trace.get(name, math.nan)
        row: dict[str, Any] = {"statistic": name, "counts": words, "trace": value}
        for label, result in (("fitted", fitted), ("replayed", replayed)):
            mean, low, high = _simulated(result, name, metric)
            row[label] = mean
            row[f"{label}_low"] = low
            row[f"{label}_high"] = high
            inside = None
            if not (math.isnan(value) or math.isnan(low)):
                inside = bool(low - 1e-12 <= value <= high + 1e-12)
            row[f"{label}_covers"] = inside
        rows.append(row)
    return pd.DataFrame(rows)


def compare_tokens(
    fit: FitResult,
    users: pd.DataFrame,
    policy: dict[str, Any],
    replications: int = 5,
    workers: int | None = None,
    progress: Progress | None = None,
) -> TokenComparison:
    """Simulate the fitted scenario and the replayed trace under `policy` and compare with the trace."""
    fitted_scenario, replayed_scenario = simulation_scenarios(fit, policy, replications)
    fitted = run(fitted_scenario, workers=workers, progress=progress)
    replayed = run(replayed_scenario, workers=workers, progress=progress)
    table = statistics_table(trace_statistics(users, fit.span), fitted, replayed)
    return TokenComparison(table, fitted, replayed, policy, replications)


def within_share(table: pd.DataFrame, label: str) -> tuple[int, int]:
    """How many statistics the `label` simulation's intervals cover, of those that can be compared."""
    covers = table[f"{label}_covers"].dropna()
    return int(np.sum(covers.astype(bool))), len(covers)
