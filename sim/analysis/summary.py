"""`summary.json`: every metric's mean and 95% confidence interval, overall and per persona.

The file also records the fully resolved scenario, the seed and the tool's version, so a result can be
reproduced and trusted on its own. It holds no timestamps: the same scenario and seed give the same
file byte for byte.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from sim import __version__
from sim.analysis.stats import json_number, mean_ci
from sim.core.metric_names import ALL, METRIC_UNITS, metric_range
from sim.scenario import Scenario

SUMMARY_FORMAT = 1


def metric_block(values: pd.Series, name: str) -> dict[str, Any]:
    """`{"mean": x, "ci95": [lo, hi], "unit": ...}` of metric `name` from per-replication values."""
    mean, low, high = mean_ci(values.astype(float).tolist(), within=metric_range(name))
    interval = [json_number(low), json_number(high)]
    return {"mean": json_number(mean), "ci95": interval, "unit": METRIC_UNITS[name]}


def run_header(scenario: Scenario) -> dict[str, Any]:
    """What every results file says about the run: scenario, version, seed, size and window."""
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "tool_version": __version__,
        "seed": scenario.seed,
        "replications": scenario.replications,
        "users": sum(p.users for p in scenario.population),
        "horizon_days": scenario.horizon / 86400,
        "warmup_days": scenario.warmup / 86400,
    }


def build_summary(scenario: Scenario, per_replication: pd.DataFrame) -> dict[str, Any]:
    """The content of summary.json."""
    metric_names = [name for name in METRIC_UNITS if name in per_replication.columns]

    def blocks(frame: pd.DataFrame) -> dict[str, Any]:
        return {name: metric_block(frame[name], name) for name in metric_names}

    overall = per_replication[per_replication["persona"] == ALL].sort_values("replication")
    by_persona = {
        persona.name: blocks(per_replication[per_replication["persona"] == persona.name])
        for persona in scenario.population
    }
    return {
        "format": SUMMARY_FORMAT,
        **run_header(scenario),
        "metrics": blocks(overall),
        "by_persona": by_persona,
        "per_replication": {
            name: [json_number(v) for v in overall[name].astype(float)] for name in metric_names
        },
        "resolved_scenario": scenario.to_config(),
    }
