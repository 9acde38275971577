"""Requirements evaluated on results with 95% confidence (`tokensim check`).

A requirement (`sim.scenario.requirements`) holds *with 95% confidence* when the whole 95% interval of the
metric is on the required side: for `<` / `<=` the interval's upper bound is below (or, for `<=`, at) the
threshold; for `>` / `>=` its lower bound is above (or at) it. A metric without an interval (a single
replication) or without an estimate (e.g. a median when too few chains ended) does not hold, and the
verdict says why.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sim.analysis.summary import UnknownMetricError, _MetricsOwner
from sim.core.validation import suggest
from sim.scenario.requirements import Requirement

COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}


@dataclass(frozen=True)
class Verdict:
    """A requirement evaluated on one result: whether it holds, the estimate and its interval, and why.

    `problem` says why no verdict could be reached (no interval, no estimate); otherwise the verdict
    rests on `bound`, the interval's end on the required side.
    """

    requirement: Requirement
    holds: bool
    mean: float | None
    low: float | None
    high: float | None
    bound: float | None = None
    problem: str | None = None

    def reason(self, fmt: Callable[[float], str] = lambda value: f"{value:.4g}") -> str:
        """Why it holds or fails, numbers written by `fmt`: `upper 95% bound 0.56 does not meet < 0.5`."""
        if self.problem is not None or self.bound is None:
            return self.problem or "no verdict"
        side = "upper" if self.requirement.upper else "lower"
        relation = "meets" if self.holds else "does not meet"
        requirement = self.requirement
        return f"{side} 95% bound {fmt(self.bound)} {relation} {requirement.op} {requirement.threshold:g}"


def evaluate(requirement: Requirement, results: _MetricsOwner, replications: int) -> Verdict:
    """Evaluate a requirement on a run's summary or one cell of a sweep (`replications` per result).

    Raises UnknownMetricError (with the nearest valid name) for a metric or persona the results do not
    have: that is bad input, not a failed requirement.
    """
    estimate = results.estimate(requirement.metric, requirement.persona)
    mean, low, high = estimate.mean, estimate.low, estimate.high
    if mean is None:
        problem = "no estimate (the metric is undefined here)"
        return Verdict(requirement, False, None, None, None, problem=problem)
    if low is None or high is None:
        problem = (
            "no 95% interval: it needs at least 2 replications"
            if replications < 2
            else "no 95% interval (too few replications with a value)"
        )
        return Verdict(requirement, False, mean, None, None, problem=problem)
    bound = high if requirement.upper else low
    holds = COMPARE[requirement.op](bound, requirement.threshold)
    return Verdict(requirement, holds, mean, low, high, bound=bound)


def check_names(requirements: Iterable[Requirement], personas: Iterable[str]) -> None:
    """Raise UnknownMetricError when a requirement names a persona that is not in `personas` (metric names
    are checked when a requirement is parsed)."""
    known = list(personas)
    for requirement in requirements:
        if requirement.persona is not None and requirement.persona not in known:
            hint = suggest(requirement.persona, known)
            tail = f"; did you mean {hint!r}?" if hint else f" (personas: {', '.join(known)})"
            raise UnknownMetricError(
                f"requirement {requirement.text!r}: no persona {requirement.persona!r} in the scenario{tail}"
            )
