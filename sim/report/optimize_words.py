"""The words of an optimisation's answer and evidence: how a requirement decision reads (no plotting here,
so the workflow that writes the answer does not load matplotlib)."""

from __future__ import annotations

from sim.analysis.optimization import ConstraintCheck
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
