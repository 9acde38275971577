"""The public Python API of tokensim: every workflow of the command line as one call, typed results.

A small, stable facade over the package for notebooks and scripts (reference: docs/api.md)::

    from sim import api

    scenario = api.load_scenario("scenarios/occasional-users.yaml")
    result = api.run(scenario, users_scale=0.2, overrides={"policy.sliding_lifetime": "30d"})
    api.metric(result, "forced_reauth_per_user_month")          # an Estimate: mean, ci95, unit
    api.plot_causes(result)                                     # a matplotlib Figure
    api.write(result, "out/occasional-30d"); api.report("out/occasional-30d")

    api.sweep("scenarios/sweep-sliding-cap.yaml", "out/sweep")  # -> SweepResult (resumable)
    api.compare("scenarios/compare-vendors.yaml", ["visma_connect", "auth0"])   # -> Comparison
    api.check("scenarios/sweep-sliding-cap.yaml", ["evictions_per_user_month < 4"])  # -> CheckResult
    api.probe("https://idp.example/token", "my-app", login="password:probe-user:secret",
              out="policy.yaml")                                 # -> ProbeResult (a live server's policy)

Runs with the same seed simulate the same users with the same random numbers whatever the policy
(common random numbers), so two results differ by the policy, not by chance; `paired_difference` puts
a confidence interval on that difference from the per-replication values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from sim.analysis.stats import mean_ci
from sim.analysis.summary import Estimate, RunSummary
from sim.analysis.tradeoff import exposure_point, idle_window_days, pareto_mask
from sim.core.metric_names import ALL, METRIC_UNITS
from sim.core.resultset import ResultSet
from sim.core.validation import suggest
from sim.experiments.check import CheckResult
from sim.experiments.check import check as _check
from sim.experiments.compare import Comparison, compare_presets
from sim.experiments.explore import ExploreResult
from sim.experiments.explore import explore as _explore
from sim.experiments.optimize import OptimizeResult
from sim.experiments.optimize import optimize as _optimize
from sim.experiments.precision import PrecisionTarget
from sim.experiments.progress import Progress
from sim.experiments.run import RunOutcome, run_into
from sim.experiments.run import run as _run
from sim.experiments.sweep import SweepResult, run_sweep
from sim.fit.fit import FitResult, fit_trace
from sim.fit.synthetic import simulate_trace as _simulate_trace
from sim.fit.workflow import FitOutcome
from sim.fit.workflow import fit as _fit
from sim.ingest.pipeline import IngestOptions, IngestResult
from sim.ingest.pipeline import ingest as _ingest
from sim.ingest.trace import Trace
from sim.ingest.trace import read_trace as _read_trace
from sim.probe.result import ProbeResult
from sim.probe.workflow import probe
from sim.report import ReportPaths, build_report, plots
from sim.report import tables as _tables
from sim.report.plots import metric_heatmap, metric_over_values, pareto_front, save_figure
from sim.run.executors import WORKER_TIMEOUT
from sim.run.runner import RunResult
from sim.scenario.loader import load_scenario, scenario_from_dict
from sim.scenario.model import Scenario
from sim.scenario.overrides import with_path_overrides
from sim.verify.runner import DEFAULT_EXAMPLES, VerifyResult, verify_scenario

__all__ = [
    "CheckResult",
    "Comparison",
    "Estimate",
    "ExploreResult",
    "FitOutcome",
    "FitResult",
    "IngestOptions",
    "IngestResult",
    "OptimizeResult",
    "PrecisionTarget",
    "ProbeResult",
    "Progress",
    "RunOutcome",
    "RunResult",
    "RunSummary",
    "Scenario",
    "SweepResult",
    "Trace",
    "VerifyResult",
    "check",
    "compare",
    "compare_runs",
    "explore",
    "fit",
    "fit_personas",
    "idle_window_days",
    "ingest",
    "load_scenario",
    "metric",
    "metric_heatmap",
    "metric_over_values",
    "optimize",
    "paired_difference",
    "pareto_front",
    "pareto_mask",
    "plot_active_chains",
    "plot_causes",
    "plot_chains_per_user",
    "plot_survival",
    "plot_weekly_load",
    "prepare",
    "probe",
    "read_trace",
    "report",
    "run",
    "run_to",
    "save_figure",
    "scenario_from_dict",
    "simulate_trace",
    "summary",
    "sweep",
    "tradeoff",
    "verify",
    "with_overrides",
    "write",
]

ScenarioLike = Scenario | str | os.PathLike[str]
PrecisionLike = PrecisionTarget | str | float | None


def _precision(precision: PrecisionLike) -> PrecisionTarget | None:
    return None if precision is None else PrecisionTarget.parse(precision)


def _scenario(scenario: ScenarioLike) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def _source(scenario: ScenarioLike) -> str | None:
    return None if isinstance(scenario, Scenario) else str(scenario)


def with_overrides(scenario: ScenarioLike, overrides: Mapping[str, Any]) -> Scenario:
    """A scenario (or scenario file) with values replaced at dotted paths, validated like a file.

    Paths are those of a sweep: `policy.sliding_lifetime`, `population.office.users`,
    `population[0].clients.tabs`, `horizon`. Raises `sim.core.validation.ConfigError` (with "did you
    mean") for an unknown path or an invalid value.
    """
    return with_path_overrides(_scenario(scenario), overrides)


def prepare(
    scenario: ScenarioLike,
    overrides: Mapping[str, Any] | None = None,
    replications: int | None = None,
    seed: int | None = None,
    users_scale: float | None = None,
    **path_overrides: Any,
) -> Scenario:
    """The scenario with dotted-path overrides (`policy__sliding_lifetime="7d"` for each `__` a dot) and
    the command line's `replications`, `seed` and `users_scale` applied, validated."""
    changes = dict(overrides or {})
    changes.update({key.replace("__", "."): value for key, value in path_overrides.items()})
    resolved = with_overrides(scenario, changes)
    return resolved.with_overrides(replications=replications, seed=seed, users_scale=users_scale)


def run(
    scenario: ScenarioLike,
    *,
    overrides: Mapping[str, Any] | None = None,
    replications: int | None = None,
    seed: int | None = None,
    users_scale: float | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    worker_timeout: float = WORKER_TIMEOUT,
    progress: Progress | None = None,
    allow_large: bool = False,
    precision: PrecisionLike = None,
    **path_overrides: Any,
) -> RunResult:
    """Run every replication of a scenario (a `Scenario` or a YAML file) and return its tables.

    `overrides` maps dotted paths to values (see `with_overrides`); keyword arguments are overrides
    too, with `__` for each dot: `run(s, policy__sliding_lifetime="7d")`. `replications`, `seed` and
    `users_scale` are applied like the command line's options; `workers` is the number of processes
    (default: one per core) and `scheduler` a Dask scheduler (`tcp://HOST:PORT`); results depend on
    neither. `precision="2%"` (or a `PrecisionTarget`) adds replications until every headline metric's 95%
    half-width is within 2% of its mean (docs/optimize.md); `result.scenario.replications` says how many.
    """
    resolved = prepare(scenario, overrides, replications, seed, users_scale, **path_overrides)
    return _run(resolved, workers=workers, scheduler=scheduler, worker_timeout=worker_timeout,
                progress=progress, allow_large=allow_large, precision=_precision(precision))


def run_to(
    scenario: ScenarioLike,
    out: str | os.PathLike[str],
    *,
    fmt: str = "parquet",
    force: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    worker_timeout: float = WORKER_TIMEOUT,
    progress: Progress | None = None,
    report: bool = False,
    events: str | None = None,
    allow_large: bool = False,
    precision: PrecisionLike = None,
) -> RunOutcome:
    """`tokensim run`: run a scenario and write its result set into `out` (and its report when asked; with
    `events`, every token event as that vendor's log, see docs/ingest.md); with `precision`, replications
    are added until the target is met (`precision.json` says how many)."""
    outcome = run_into(_scenario(scenario), Path(out), fmt=fmt, force=force, workers=workers,
                       scheduler=scheduler, worker_timeout=worker_timeout, progress=progress, events=events,
                       allow_large=allow_large, precision=_precision(precision))
    if report:
        build_report(out)
    return outcome


def sweep(
    scenario: ScenarioLike,
    out: str | os.PathLike[str],
    *,
    resume: bool = False,
    force: bool = False,
    fmt: str = "parquet",
    workers: int | None = None,
    scheduler: str | None = None,
    worker_timeout: float = WORKER_TIMEOUT,
    progress: Progress | None = None,
    report: bool = False,
    allow_large: bool = False,
    precision: PrecisionLike = None,
) -> SweepResult:
    """`tokensim sweep`: every cell of the scenario's sweep on common random numbers, written into `out`.

    `resume` finishes an interrupted sweep (only the missing cells run); `force` replaces an earlier
    result there; `precision` adds replications to each cell until its headline metrics meet the target.
    Raises ShardFailure when a worker or the cluster fails (finished cells are kept).
    """
    result = run_sweep(_scenario(scenario), Path(out), fmt=fmt, resume=resume, force=force, workers=workers,
                       scheduler=scheduler, worker_timeout=worker_timeout, progress=progress,
                       source=_source(scenario), allow_large=allow_large, precision=_precision(precision))
    if report:
        build_report(out)
    return result


def compare(
    scenario: ScenarioLike,
    presets: Sequence[str] | str,
    *,
    out: str | os.PathLike[str] | None = None,
    fmt: str = "parquet",
    force: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    worker_timeout: float = WORKER_TIMEOUT,
    progress: Progress | None = None,
    report: bool = False,
    allow_large: bool = False,
) -> Comparison:
    """`tokensim compare`: the scenario's population under each preset's defaults (the first is the
    baseline), on common random numbers; written into `out` when given (with its report when asked)."""
    comparison = compare_presets(_scenario(scenario), presets, workers=workers, scheduler=scheduler,
                                 worker_timeout=worker_timeout, progress=progress, allow_large=allow_large)
    if out is not None:
        comparison.write(Path(out), fmt, force)
        if report:
            build_report(out)
    return comparison


def fit(
    trace: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    personas: int | str = 1,
    policy: str | Mapping[str, Any] | None = None,
    report_dir: str | os.PathLike[str] | None = None,
    compare: bool = True,
    replications: int = 5,
    seed: int = 0,
    workers: int | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> FitOutcome:
    """`tokensim fit`: personas fitted to a trace (`personas` a number or "auto"), written as a scenario
    to `out` with the fit report in `report_dir` (default: beside `out`, named `<stem>-fit`). `policy`: the
    log's own policy (a preset's name, a YAML file or a mapping) for the report's token-event comparison,
    which simulates the fitted scenario and the replayed trace `replications` times (`compare=False`:
    not). The outcome has the fit (`.fit.personas`), the loaded scenario and the comparison table."""
    policy_value = dict(policy) if isinstance(policy, Mapping) else policy
    folder = None if report_dir is None else Path(report_dir)
    return _fit(Path(trace), Path(out), personas=personas, policy=policy_value, report_dir=folder,
                compare=compare, replications=replications, seed=seed, workers=workers, force=force,
                progress=progress)


def fit_personas(trace: str | os.PathLike[str], personas: int | str = 1, seed: int = 0) -> FitResult:
    """The personas fitted to a trace, in memory (no file written); `.scenario_config(policy)` is the
    scenario's YAML form."""
    return fit_trace(Path(trace), personas, seed=seed)


def read_trace(trace: str | os.PathLike[str]) -> Trace:
    """A trace read back (`.sessions`, `.users` DataFrames, `.metadata`, `.summary`); ConfigError naming
    the file when it is not a trace."""
    return _read_trace(Path(trace))


def simulate_trace(
    scenario: ScenarioLike, out: str | os.PathLike[str], replication: int = 0
) -> Path:
    """Simulate one replication of a scenario and write its sessions as a trace (`out` is trace.parquet,
    with trace.users.parquet and trace.summary.json beside it): a known truth to replay or fit."""
    return _simulate_trace(_scenario(scenario), Path(out), replication, _source(scenario))


def check(
    scenario: ScenarioLike,
    require: Sequence[str] = (),
    *,
    out: str | os.PathLike[str] | None = None,
    force: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    worker_timeout: float = WORKER_TIMEOUT,
    progress: Progress | None = None,
    allow_large: bool = False,
) -> CheckResult:
    """`tokensim check`: do the scenario's requirements and `require` hold with 95% confidence?

    Reads the results from `out` when it holds this very scenario's, else runs it (writing `out` when
    given). An unknown metric or persona raises (ConfigError / UnknownMetricError) before anything runs.
    """
    return _check(_scenario(scenario), list(require), out=None if out is None else Path(out), force=force,
                  workers=workers, scheduler=scheduler, worker_timeout=worker_timeout, progress=progress,
                  source=_source(scenario), allow_large=allow_large)


def ingest(
    logs: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], options: IngestOptions
) -> IngestResult:
    """`tokensim ingest`: read identity-provider logs and write the activity trace at `out` (with its users
    table and summary beside it); see docs/ingest.md for the formats and how sessions are reconstructed."""
    return _ingest([Path(log) for log in logs], Path(out), options)


def optimize(
    scenario: ScenarioLike,
    out: str | os.PathLike[str],
    *,
    resume: bool = False,
    force: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    worker_timeout: float = WORKER_TIMEOUT,
    progress: Progress | None = None,
    precision: PrecisionLike = None,
    report: bool = False,
    allow_large: bool = False,
) -> OptimizeResult:
    """`tokensim optimize`: search the scenario's `optimize.over` (optuna), select the best candidate that
    meets every requirement with Kim and Nelson's procedure (probability of correct selection >= 95% within
    the indifference zone), and write recommended.yaml, candidates.parquet and summary.json into `out`
    (and the report when asked). `result.recommended` is the chosen values (None when no candidate meets
    the requirements). `resume` finishes a killed optimisation; see docs/optimize.md.
    """
    result = _optimize(_scenario(scenario), Path(out), resume=resume, force=force, workers=workers,
                       scheduler=scheduler, worker_timeout=worker_timeout, progress=progress,
                       precision=_precision(precision), source=_source(scenario), allow_large=allow_large)
    if report:
        build_report(out)
    return result


def explore(
    scenario: ScenarioLike,
    out: str | os.PathLike[str],
    *,
    values: Mapping[str, Any] | None = None,
    require: Sequence[str] = (),
    points: int | None = None,
    resume: bool = False,
    force: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    worker_timeout: float = WORKER_TIMEOUT,
    progress: Progress | None = None,
    report: bool = False,
    allow_large: bool = False,
) -> ExploreResult:
    """`tokensim explore`: where does the scenario's policy (with `values` set at their dotted paths, e.g.
    `optimize(...).recommended`) fail its requirements over the `uncertain:` ranges? Runs a Latin hypercube
    of `points` and finds PRIM boxes of the failures; writes points.parquet and summary.json into `out`.
    """
    result = _explore(_scenario(scenario), Path(out), values=values, require=list(require), points=points,
                      resume=resume, force=force, workers=workers, scheduler=scheduler,
                      worker_timeout=worker_timeout, progress=progress, source=_source(scenario),
                      allow_large=allow_large)
    if report:
        build_report(out)
    return result


def verify(scenario: ScenarioLike, *, examples: int = DEFAULT_EXAMPLES, seed: int = 0) -> VerifyResult:
    """`tokensim verify`: prove each of the scenario's invariants, or search `examples` timelines of its
    behaviour class for a counterexample (shrunk to a minimal story); see docs/verify.md."""
    return verify_scenario(_scenario(scenario), examples=examples, seed=seed, source=_source(scenario))


def summary(result: RunResult) -> RunSummary:
    """The run's summary (the content of summary.json): every metric's estimate, overall and per persona."""
    return result.summary


def metric(result: RunResult, name: str, persona: str = ALL) -> Estimate:
    """One metric of a run: an `Estimate` with `mean`, `ci95` (low, high) and `unit` (persona `"*"`:
    everyone). An unknown metric or persona raises UnknownMetricError with the nearest valid name."""
    return result.summary.estimate(name, persona)


def compare_runs(results: Mapping[str, RunResult], metrics: list[str] | None = None,
                 persona: str = ALL) -> pd.DataFrame:
    """A tidy table of metrics for several labelled runs, ready for `metric_over_values` or `pareto_front`.

    Columns: label, metric, mean, ci_low, ci_high, unit, exposure_days (the policy's idle window, see
    `idle_window_days`), in the order of `results`.
    """
    for name in metrics or []:
        if name not in METRIC_UNITS:
            hint = suggest(name, list(METRIC_UNITS))
            raise KeyError(f"no metric {name!r}" + (f"; did you mean {hint!r}?" if hint else ""))
    rows = []
    for label, result in results.items():
        frame = _tables.metric_frame(result.summary)
        frame = frame[frame["persona"] == persona]
        if metrics is not None:
            frame = frame[frame["metric"].isin(metrics)]
        horizon_days = result.scenario.horizon / 86400.0
        exposure = idle_window_days(result.scenario.policy.to_config(), horizon_days)
        rows.append(frame.drop(columns=["persona"]).assign(label=label, exposure_days=exposure))
    table = pd.concat(rows, ignore_index=True)
    return table[["label", "metric", "mean", "ci_low", "ci_high", "unit", "exposure_days"]]


def tradeoff(results: Mapping[str, RunResult]) -> pd.DataFrame:
    """Friction against exposure for several labelled runs, with the Pareto-optimal ones marked.

    Columns: label, friction, friction_low, friction_high, exposure_days, exposure_low, exposure_high,
    exposure_source (`metric`: the mean attacker dwell when the scenario models thefts; `policy`: the
    idle window), pareto.
    """
    rows = []
    for label, result in results.items():
        estimate = result.summary.metrics["forced_reauth_per_user_month"]
        point = exposure_point(result.summary.metrics, result.scenario.policy.to_config(),
                               result.scenario.horizon / 86400.0)
        rows.append({"label": label, "friction": estimate.mean, "friction_low": estimate.low,
                     "friction_high": estimate.high, **point})
    frame = pd.DataFrame(rows).astype({"friction": float, "friction_low": float, "friction_high": float})
    frame["pareto"] = pareto_mask(frame["exposure_days"], frame["friction"])
    return frame


def paired_difference(result: RunResult, baseline: RunResult, name: str,
                      persona: str = ALL) -> tuple[float, float, float]:
    """Mean and 95% CI of `metric(result) - metric(baseline)`, paired by replication.

    Meaningful when both runs share the seed (common random numbers): replication r of each simulates
    the same users, so the per-replication differences remove the users' own variation.
    """
    result.summary.estimate(name, persona)  # raises for an unknown metric or persona

    def values(run_result: RunResult) -> pd.Series:
        table = run_result.replication_metrics
        return table[table["persona"] == persona].set_index("replication")[name].astype(float)

    diff = (values(result) - values(baseline)).dropna()
    return mean_ci(diff.tolist())


def write(
    result: RunResult, out_dir: str | os.PathLike[str], fmt: str = "parquet", force: bool = False
) -> Path:
    """Write summary.json and the tables as `tokensim run` does (one result set); return the directory."""
    out = Path(out_dir)
    with ResultSet.open(out, "run", force=force) as results:
        result.write(results, fmt)
        results.commit()
    return out


def report(out_dir: str | os.PathLike[str]) -> ReportPaths:
    """Write report.md, report.html and figures/ for a run, sweep or comparison folder (see `sim.report`)."""
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
    frame = _tables.metric_frame(result.summary)
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
