"""Comparing vendors (`tokensim compare`, `sim.api.compare_presets`): one population under several presets.

The scenario's population runs once under each preset's defaults (`policy: {preset: NAME}`; the
scenario's own policy is ignored) with the scenario's seed and replications, so replication r of every
preset simulates the same users with the same random numbers (common random numbers). The first preset
is the baseline: every metric's difference against it is paired by replication, which removes the users'
own variation; the unpaired (Welch) interval of the same difference is written beside it for contrast.
The files a comparison writes are listed in the README (`comparison.json`, the tables, the figures and
`comparison.md`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis.differences import differences, summary_table
from sim.analysis.stats import json_number
from sim.analysis.summary import (
    ComparisonRow,
    ComparisonSummary,
    DifferenceRow,
    MetricLabel,
    TradeoffRow,
    header,
)
from sim.analysis.tradeoff import DWELL, FRICTION, exposure_point, pareto_mask
from sim.core.metric_names import ALL, HEADLINE, METRIC_UNITS
from sim.core.output import write_table, write_text_atomic
from sim.core.resultset import ResultSet
from sim.core.validation import ConfigError, Problem, suggest
from sim.experiments.progress import Progress
from sim.experiments.run import prepare_work
from sim.policy.model import Policy
from sim.policy.presets import PRESETS
from sim.report.compare import comparison_figure, comparison_markdown, tradeoff_figure
from sim.report.plots import save_figure
from sim.run.executors import WORKER_TIMEOUT, guarded, open_executor
from sim.run.runner import run_scenario
from sim.run.shards import default_workers
from sim.scenario.model import Scenario

#: The metrics compared (the headline metrics of a run), with their labels.
METRICS: tuple[tuple[str, str], ...] = tuple((name, label.strip()) for name, label in HEADLINE)


def parse_presets(text: str | Sequence[str]) -> list[str]:
    """`"auth0, okta"` (or a list) -> `["auth0", "okta"]`; ConfigError for none, an unknown or a repeated
    name."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    available = ", ".join(PRESETS)
    if not names:
        raise ConfigError([Problem((), f"name at least one preset (available: {available})")], "--presets")
    for name in names:
        if name not in PRESETS:
            hint = suggest(name, list(PRESETS))
            tail = f"; did you mean {hint!r}?" if hint else f"; available: {available}"
            raise ConfigError([Problem((), f"unknown preset {name!r}{tail}")], "--presets")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError([Problem((), f"lists {', '.join(repeated)} more than once")], "--presets")
    return names


@dataclass
class Comparison:
    """A finished comparison: its typed summary (comparison.json) and the tables behind it."""

    summary: ComparisonSummary
    #: Every metric per preset, replication and persona.
    replications: pd.DataFrame
    #: One row per preset, persona and compared metric: mean and 95% interval.
    comparison: pd.DataFrame
    #: The same against the first preset, paired and unpaired, with per-replication differences.
    differences: pd.DataFrame
    seconds: float = 0.0

    @property
    def presets(self) -> list[str]:
        """The presets in the order compared (the first is the baseline)."""
        return list(self.summary.presets)

    def write(self, out: Path, fmt: str = "parquet", force: bool = False) -> Path:
        """Write every file of the comparison into `out` as one result set; return `out`."""
        with ResultSet.open(out, "compare", force=force) as results:
            for name, frame in (("comparison", self.comparison), ("differences", self.differences),
                                ("replications", self.replications)):
                write_table(frame, results.path(f"{name}.{fmt}"), fmt)
            write_text_atomic(results.path("comparison.json"), self.summary.to_json())
            save_figure(comparison_figure(self.summary), results.staging, "comparison")
            save_figure(tradeoff_figure(self.summary), results.staging, "tradeoff")
            write_text_atomic(results.path("comparison.md"), comparison_markdown(self.summary))
            results.commit()
        return Path(out)


def compare_presets(
    scenario: Scenario,
    presets: str | Sequence[str],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    worker_timeout: float = WORKER_TIMEOUT,
    progress: Progress | None = None,
    allow_large: bool = False,
) -> Comparison:
    """Run the scenario's population under each preset's defaults and compare them (see the module)."""
    names = parse_presets(presets)
    policies = {name: Policy.from_dict({"preset": name}, source=f"preset {name!r} cannot be built")
                for name in names}
    progress = progress or Progress()
    prepare_work(scenario, workers or default_workers(), progress, allow_large, cells=len(names))
    started = time.perf_counter()
    frames = []
    try:
        progress.started("presets", len(names), "presets")
        with open_executor(scheduler, workers, worker_timeout) as (executor, count):
            for index, (name, policy) in enumerate(policies.items()):
                variant = scenario.model_copy(update={"policy": policy})
                total = sum(p.users for p in variant.population) * variant.replications
                progress.started(name, total, "users")

                def advanced(done: int, all_users: int, label: str = name) -> None:
                    progress.advanced(label, done, all_users)

                # a comparison needs only the metrics: each result is closed (its row tables removed) at once
                with run_scenario(variant, workers=count, progress=advanced,
                                  executor=guarded(executor, where=f"preset {name}")) as result:
                    frames.append(result.replication_metrics.assign(preset=name))
                progress.finished(name, time.perf_counter() - started)
                progress.advanced("presets", index + 1, len(names))
    finally:
        progress.end()
    comparison = _compare(scenario, policies, frames)
    comparison.seconds = time.perf_counter() - started
    return comparison


def _compare(scenario: Scenario, policies: dict[str, Policy], frames: list[pd.DataFrame]) -> Comparison:
    """Means, intervals and paired differences against the first preset, for the compared metrics."""
    presets = list(policies)
    baseline = presets[0]
    names = [name for name, _ in METRICS]
    replications = pd.concat(frames, ignore_index=True)
    replications = replications[["preset", *[c for c in replications.columns if c != "preset"]]]
    cells = replications[["preset", "replication", "persona", *names]].rename(columns={"preset": "cell"})
    comparison = summary_table(cells).rename(columns={"cell": "preset"})
    diffs = differences(cells, baseline).rename(columns={"cell": "preset"})
    diffs["unit"] = diffs["metric"].map(METRIC_UNITS)
    per_rep = _per_replication_differences(cells, baseline)
    base_rows = comparison[comparison["preset"] == baseline][["preset", "persona", "metric", "unit"]]
    base_rows = base_rows.assign(
        baseline=baseline, mean_diff=0.0, ci_low=0.0, ci_high=0.0, unpaired_ci_low=0.0, unpaired_ci_high=0.0
    )
    diffs = pd.concat([base_rows[diffs.columns], diffs], ignore_index=True)
    diffs = diffs.merge(per_rep, on=["preset", "persona", "metric"], how="left")
    resolved = {name: policy.to_config() for name, policy in policies.items()}
    tradeoff = tradeoff_rows(replications, resolved, scenario.horizon / 86400.0)
    config = scenario.to_config()
    config.pop("policy", None)
    summary = ComparisonSummary(
        **{key: value for key, value in header(scenario).items()},
        presets=presets,
        baseline=baseline,
        metrics={name: MetricLabel(label=label, unit=METRIC_UNITS[name]) for name, label in METRICS},
        comparison=[ComparisonRow(**row) for row in _records(comparison)],
        differences=[DifferenceRow(**row) for row in _records(diffs)],
        tradeoff=tradeoff,
        pareto_front=front(tradeoff),
        policies=resolved,
        scenario_without_policy=config,
    )
    return Comparison(summary, replications, comparison, diffs)


def tradeoff_rows(
    replications: pd.DataFrame, policies: dict[str, dict[str, Any]], horizon_days: float
) -> list[TradeoffRow]:
    """Friction against exposure, one row per preset (everyone), in the order of `policies`, with the
    Pareto-optimal presets marked (see `sim.analysis.tradeoff` for the exposure measure)."""
    everyone = replications[replications["persona"] == ALL]
    columns = [name for name in (FRICTION, DWELL) if name in everyone.columns]
    cells = everyone[["preset", "replication", "persona", *columns]].rename(columns={"preset": "cell"})
    table = summary_table(cells)
    points = []
    for preset, policy in policies.items():
        blocks: dict[str, dict[str, Any]] = {
            row.metric: {"mean": json_number(row.mean),
                         "ci95": [json_number(row.ci_low), json_number(row.ci_high)]}
            for row in table[table["cell"] == preset].itertuples()
        }
        friction = blocks.get(FRICTION, {"mean": None, "ci95": [None, None]})
        points.append({
            "preset": preset,
            "friction": friction["mean"],
            "friction_low": friction["ci95"][0],
            "friction_high": friction["ci95"][1],
            **exposure_point(blocks, policy, horizon_days),
        })
    mask = pareto_mask([_nan(p["exposure_days"]) for p in points], [_nan(p["friction"]) for p in points])
    return [
        TradeoffRow(**{key: json_number(v) if isinstance(v, float) else v for key, v in point.items()},
                    pareto=bool(on_front))
        for point, on_front in zip(points, mask, strict=True)
    ]


def front(tradeoff: Sequence[TradeoffRow]) -> list[str]:
    """The Pareto-optimal presets, from the least exposure to the most."""
    points = [row for row in tradeoff if row.pareto]
    points.sort(key=lambda row: (_nan(row.exposure_days), _nan(row.friction)))
    return [row.preset for row in points]


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _per_replication_differences(cells: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """One column `diff_rep<r>` per replication: metric(preset, r) - metric(baseline, r)."""
    long = cells.melt(id_vars=["cell", "replication", "persona"], var_name="metric", value_name="value")
    base = long[long["cell"] == baseline].drop(columns="cell")
    merged = long.merge(base, on=["replication", "persona", "metric"], suffixes=("", "_base"))
    merged["diff"] = merged["value"].astype(float) - merged["value_base"].astype(float)
    wide = merged.pivot_table(
        index=["cell", "persona", "metric"], columns="replication", values="diff", dropna=False, sort=False
    )
    wide.columns = [f"diff_rep{int(r)}" for r in wide.columns]
    return wide.reset_index().rename(columns={"cell": "preset"})


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-safe dicts (NaN -> null)."""
    return [
        {k: json_number(v) if isinstance(v, float) else v for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]
