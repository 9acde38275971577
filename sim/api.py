"""The public Python API of tokensim: run scenarios, read their figures, draw and write reports.

A small, stable facade over the package for notebooks and scripts (reference: docs/api.md)::

    from sim import api

    scenario = api.load_scenario("scenarios/occasional-users.yaml")
    result = api.run(scenario, users_scale=0.2, overrides={"policy.sliding_lifetime": "30d"})
    api.summary(result)["metrics"]["forced_reauth_per_user_month"]   # {"mean", "ci95", "unit"}
    api.plot_causes(result)                                          # a matplotlib Figure
    api.write(result, "out/occasional-30d"); api.report("out/occasional-30d")

Runs with the same seed simulate the same users with the same random numbers whatever the policy
(common random numbers), so two results differ by the policy, not by chance; `paired_difference` puts
a confidence interval on that difference from the per-replication values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from sim.analysis.stats import mean_ci
from sim.analysis.summary import build_summary
from sim.core.metric_names import ALL
from sim.report import ReportPaths, build_report, plots
from sim.report import tables as _tables
from sim.report.plots import metric_heatmap, metric_over_values, pareto_front, save_figure
from sim.report.tables import exposure_days, pareto_mask
from sim.run.runner import RunResult, run_scenario
from sim.scenario import Scenario, load_scenario, scenario_from_dict

__all__ = [
    "RunResult",
    "Scenario",
    "compare",
    "exposure_days",
    "load_scenario",
    "metric",
    "metric_heatmap",
    "metric_over_values",
    "paired_difference",
    "pareto_front",
    "pareto_mask",
    "plot_active_chains",
    "plot_causes",
    "plot_chains_per_user",
    "plot_survival",
    "plot_weekly_load",
    "report",
    "run",
    "save_figure",
    "scenario_from_dict",
    "summary",
    "with_overrides",
    "write",
]


def with_overrides(scenario: Scenario | str | os.PathLike[str], overrides: Mapping[str, Any]) -> Scenario:
    """A scenario (or scenario file) with values replaced at dotted paths, validated like a file.

    Paths are those of a sweep: `policy.sliding_lifetime`, `population.office.users`,
    `population[0].clients.tabs`, `horizon`. Raises `sim.core.validation.ConfigError` (with "did you mean")
    for an unknown path or an invalid value.
    """
    from sim.scenario.overrides import with_path_overrides

    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    return with_path_overrides(base, overrides)


def run(
    scenario: Scenario | str | os.PathLike[str],
    *,
    overrides: Mapping[str, Any] | None = None,
    replications: int | None = None,
    seed: int | None = None,
    users_scale: float | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    **path_overrides: Any,
) -> RunResult:
    """Run every replication of a scenario (a `Scenario` or a YAML file) and return its tables.

    `overrides` maps dotted paths to values (see `with_overrides`); keyword arguments are overrides
    too, with `__` for each dot: `run(s, policy__sliding_lifetime="7d")`. `replications`, `seed` and
    `users_scale` are applied like the command line's options; `workers` is the number of processes
    (default: one per core; results do not depend on it). `scheduler` (tcp://HOST:PORT) runs the shards
    on that Dask cluster instead, with the same results.
    """
    changes = dict(overrides or {})
    changes.update({key.replace("__", "."): value for key, value in path_overrides.items()})
    resolved = with_overrides(scenario, changes)
    resolved = resolved.with_overrides(replications=replications, seed=seed, users_scale=users_scale)
    if scheduler is None:
        return run_scenario(resolved, workers=workers)
    from sim.run.executors import open_executor

    with open_executor(scheduler, workers) as (executor, count):
        return run_scenario(resolved, workers=count, executor=executor)


def summary(result: RunResult) -> dict[str, Any]:
    """The run's summary.json content: every metric's mean, 95% CI and unit, overall and per persona."""
    return build_summary(result.scenario, result.replication_metrics)


def metric(result: RunResult, name: str, persona: str = ALL) -> dict[str, Any]:
    """One metric of a run as `{"mean", "ci95": [low, high], "unit"}` (persona `"*"`: everyone)."""
    content = summary(result)
    blocks = content["metrics"] if persona == ALL else content["by_persona"][persona]
    return blocks[name]


def compare(results: Mapping[str, RunResult], metrics: list[str] | None = None,
            persona: str = ALL) -> pd.DataFrame:
    """A tidy table of metrics for several labelled runs, ready for `metric_over_values` or `pareto_front`.

    Columns: label, metric, mean, ci_low, ci_high, unit, exposure_days (the policy's worst-case
    refresh-token usability window, see `exposure_days`), in the order of `results`.
    """
    rows = []
    for label, result in results.items():
        frame = _tables.metric_frame(summary(result))
        frame = frame[frame["persona"] == persona]
        if metrics is not None:
            frame = frame[frame["metric"].isin(metrics)]
        horizon_days = result.scenario.horizon / 86400.0
        exposure = exposure_days(result.scenario.policy.to_config(), horizon_days)
        rows.append(frame.drop(columns=["persona"]).assign(label=label, exposure_days=exposure))
    table = pd.concat(rows, ignore_index=True)
    return table[["label", "metric", "mean", "ci_low", "ci_high", "unit", "exposure_days"]]


def paired_difference(result: RunResult, baseline: RunResult, name: str,
                      persona: str = ALL) -> tuple[float, float, float]:
    """Mean and 95% CI of `metric(result) - metric(baseline)`, paired by replication.

    Meaningful when both runs share the seed (common random numbers): replication r of each simulates
    the same users, so the per-replication differences remove the users' own variation.
    """
    def values(run_result: RunResult) -> pd.Series:
        table = run_result.replication_metrics
        return table[table["persona"] == persona].set_index("replication")[name].astype(float)

    diff = (values(result) - values(baseline)).dropna()
    return mean_ci(diff.tolist())


def write(result: RunResult, out_dir: str | os.PathLike[str], fmt: str = "parquet") -> Path:
    """Write summary.json and the tables as `tokensim run` does (atomically); return the directory."""
    from sim.experiments.run import write_run

    out = Path(out_dir)
    write_run(result, out, fmt)
    return out


def report(out_dir: str | os.PathLike[str]) -> ReportPaths:
    """Write report.md, report.html and figures/ for a run or sweep directory (see `sim.report`)."""
    return build_report(out_dir)


# --- figures of one run (each builds its table from the run's DataFrames and returns a Figure) ---------


def _window(result: RunResult) -> tuple[float, float]:
    return result.scenario.warmup, result.scenario.horizon


def _users(result: RunResult) -> dict[str, int]:
    return {p.name: p.users for p in result.scenario.population}


def plot_survival(result: RunResult) -> Figure:
    """Kaplan-Meier survival of the run's chains per persona (censored at the horizon)."""
    warmup, horizon = _window(result)
    return plots.survival_curves(_tables.survival_table(result.chains, warmup, horizon),
                                 title=f"How long refresh-token chains last ({result.scenario.name})")


def plot_causes(result: RunResult) -> Figure:
    """Forced re-authentications per user and month by cause and persona, with 95% CIs."""
    frame = _tables.metric_frame(summary(result))
    causes = _tables.cause_frame(frame, [ALL, *_users(result)])
    return plots.reauth_causes(causes, title=f"Why users are forced to log in again ({result.scenario.name})")


def plot_active_chains(result: RunResult) -> Figure:
    """Valid chains per user over time per persona."""
    frame = _tables.active_over_time(result.timeseries, _users(result))
    title = f"Valid refresh-token chains per user ({result.scenario.name})"
    return plots.active_chains_over_time(frame, result.scenario.warmup / 86400.0, title=title)


def plot_chains_per_user(result: RunResult) -> Figure:
    """Distribution of valid chains per user (daily at noon) against the policy's cap."""
    warmup, horizon = _window(result)
    counts = _tables.active_per_user_counts(result.chains, _users(result), result.scenario.replications,
                                            warmup, horizon)
    policy = result.scenario.policy
    return plots.chains_per_user(counts, policy.max_tokens_per_user, policy.on_cap,
                                 title=f"Valid chains per user against the cap ({result.scenario.name})")


def plot_weekly_load(result: RunResult) -> Figure:
    """Mean token-endpoint requests per second over a typical week."""
    frame = _tables.weekly_load(result.timeseries, result.scenario.warmup)
    return plots.weekly_load(frame, title=f"Token endpoint load over a typical week ({result.scenario.name})")
