"""Requirements evaluated on results with 95% confidence (`tokensim check`).

A requirement (`sim.scenario.requirements`) holds *with 95% confidence* when the whole 95% interval of the
metric is on the required side: for `<` / `<=` the interval's upper bound is below (or, for `<=`, at) the
threshold; for `>` / `>=` its lower bound is above (or at) it. A metric without an interval (a single
replication) or without an estimate (e.g. a median when too few chains ended) does not hold, and the
verdict says why.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sim.analysis.stats import json_number
from sim.scenario.requirements import Requirement

COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}


@dataclass(frozen=True)
class Verdict:
    """A requirement evaluated on one result: whether it holds, the estimate, its interval and why."""

    requirement: Requirement
    holds: bool
    mean: float | None
    low: float | None
    high: float | None
    reason: str


def evaluate(requirement: Requirement, summary: Mapping[str, Any]) -> Verdict:
    """Evaluate a requirement on a summary (`summary.json` of a run, or one cell of a sweep)."""
    if requirement.persona is None:
        block = summary["metrics"].get(requirement.metric)
    else:
        persona = summary.get("by_persona", {}).get(requirement.persona)
        if persona is None:
            known = ", ".join(summary.get("by_persona", {}))
            return Verdict(requirement, False, None, None, None,
                           f"no persona {requirement.persona!r} in the results (personas: {known})")
        block = persona.get(requirement.metric)
    if block is None:
        reason = f"no metric {requirement.metric!r} in the results"
        return Verdict(requirement, False, None, None, None, reason)
    mean = json_number(block["mean"])
    low, high = (json_number(v) for v in block["ci95"])
    if mean is None:
        return Verdict(requirement, False, None, None, None, "no estimate (the metric is undefined here)")
    if low is None or high is None:
        reason = (
            "no 95% interval: it needs at least 2 replications"
            if summary.get("replications", 2) < 2
            else "no 95% interval (too few replications with a value)"
        )
        return Verdict(requirement, False, mean, None, None, reason)
    bound = high if requirement.upper else low
    holds = COMPARE[requirement.op](bound, requirement.threshold)
    side = "upper" if requirement.upper else "lower"
    relation = "meets" if holds else "does not meet"
    reason = f"{side} 95% bound {bound:.4g} {relation} {requirement.op} {requirement.threshold:g}"
    return Verdict(requirement, holds, mean, low, high, reason)
