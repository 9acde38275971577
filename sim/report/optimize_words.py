"""The words of an optimisation's answer and evidence: how a requirement decision reads (no plotting here,
so the workflow that writes the answer does not load matplotlib)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.analysis.optimization import ConstraintCheck
from sim.core.durations import format_duration
from sim.core.validation import ConfigError
from sim.policy.model import Policy
from sim.report.numbers import formatter
from sim.scenario.requirements import parse_requirement


def requirement_value(text: str, value: float | None) -> str:
    """A value of the requirement's metric in the metric's number format."""
    return formatter(parse_requirement(text).metric)(value)


def missing_words(check: ConstraintCheck) -> str:
    """Why a requirement has no value in some replications, in plain words ('' when it always has one)."""
    if not check.missing:
        return ""
    metric = parse_requirement(check.requirement).metric
    why = (" (the Kaplan-Meier 95th percentile is not reached when too many of the observations are still "
           "running at the horizon)" if metric.endswith("_p95") else "")
    return f"no value in {check.missing} of {check.replications} replications{why}"


def check_words(check: ConstraintCheck) -> str:
    """`estimate 11.4, one-sided 95% bound 12.2`, or why there is no estimate."""
    if check.missing:
        known = (f"; the other replications average {requirement_value(check.requirement, check.mean)}"
                 if check.mean is not None else "")
        return missing_words(check) + known
    return (f"estimate {requirement_value(check.requirement, check.mean)}, one-sided 95% bound "
            f"{requirement_value(check.requirement, check.bound)}")


def check_cell(check: ConstraintCheck, point: bool) -> str:
    """The evidence table's cell of one requirement: status, estimate and bound (and the design point)."""
    mark = {"holds": "ok", "fails": "**fails**", "undecided": "undecided"}.get(check.status, check.status)
    where = f", point {check.design_point + 1}" if point else ""
    if check.missing:
        return f"{mark}: no value in {check.missing} of {check.replications} replications{where}"
    return (f"{mark}: {requirement_value(check.requirement, check.mean)} (bound "
            f"{requirement_value(check.requirement, check.bound)}{where})")



def moot_sliding_words(values: Mapping[str, Any], policy: Mapping[str, Any]) -> str:
    """A note when the chosen sliding lifetime cannot matter: with the absolute lifetime counted from the
    login, a chain ends at min(last use + sliding + idle tolerance, login + absolute), so any sliding
    lifetime at least the absolute one (less the tolerance) gives the same chains ('' otherwise)."""
    chosen = {path.removeprefix("policy."): value for path, value in values.items()
              if path.startswith("policy.")}
    if "sliding_lifetime" not in chosen:
        return ""
    try:
        resolved = Policy.from_dict({**policy, **chosen})
    except ConfigError:
        return ""
    sliding, absolute = resolved.sliding_lifetime, resolved.absolute_lifetime
    if resolved.absolute_anchor != "chain" or sliding is None or absolute is None:
        return ""
    if sliding + resolved.idle_tolerance < absolute:
        return ""
    shortest = format_duration(max(absolute - resolved.idle_tolerance, 0.0))
    return (f"The sliding lifetime ({values['policy.sliding_lifetime']}) is at least the absolute lifetime "
            f"({format_duration(absolute)}), so it never ends a chain: every sliding lifetime from "
            f"{shortest} up (or none) gives the same results, and the absolute lifetime is the limit that "
            "acts.")
