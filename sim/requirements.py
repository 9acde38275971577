"""Requirements on a scenario's results, checked with 95% confidence (`tokensim check`).

A requirement is written `METRIC OP NUMBER` or `METRIC[PERSONA] OP NUMBER`, with OP one of `<`, `<=`,
`>`, `>=`, e.g. `forced_reauth_per_user_month < 0.5` or `forced_reauth_per_user_month[office] <= 0.3`.
It holds *with 95% confidence* when the whole 95% interval of the metric is on the required side: for
`<` / `<=` the interval's upper bound is below (or, for `<=`, at) the threshold; for `>` / `>=` its lower
bound is above (or at) it. A metric without an interval (a single replication) or without an estimate
(e.g. a median when too few chains ended) does not hold, and the verdict says why.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sim.metrics import ALL, METRIC_UNITS
from sim.stats import json_number
from sim.validation import ConfigError, Problem, suggest

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}

_FORM = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][\w.]*)\s*(?:\[\s*(?P<persona>[^\]]+?)\s*\])?\s*"
    r"(?P<op><=|>=|<|>)\s*(?P<threshold>\S+)\s*$"
)
SYNTAX_HELP = "write METRIC OP NUMBER or METRIC[PERSONA] OP NUMBER, with OP one of <, <=, >, >="


@dataclass(frozen=True)
class Requirement:
    """A parsed requirement: a metric (optionally of one persona), a comparison and a threshold."""

    text: str
    metric: str
    op: str
    threshold: float
    #: A persona name, or None for the whole population.
    persona: str | None = None

    @property
    def upper(self) -> bool:
        """True for `<` / `<=` (the metric must stay low), False for `>` / `>=`."""
        return self.op.startswith("<")


@dataclass(frozen=True)
class Verdict:
    """A requirement evaluated on one result: whether it holds, the estimate, its interval and why."""

    requirement: Requirement
    holds: bool
    mean: float | None
    low: float | None
    high: float | None
    reason: str


def parse_requirement(text: object) -> Requirement:
    """Parse `METRIC[PERSONA] OP NUMBER`; ValueError (with "did you mean" for a metric) otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"a requirement is text such as 'forced_reauth_per_user_month < 0.5', got {text!r}")
    match = _FORM.match(text)
    if match is None:
        raise ValueError(f"cannot read requirement {text!r}: {SYNTAX_HELP}")
    metric = match["metric"]
    if metric not in METRIC_UNITS:
        hint = suggest(metric, list(METRIC_UNITS))
        message = f"unknown metric {metric!r} in requirement {text!r}"
        raise ValueError(message + (f"; did you mean {hint!r}?" if hint else "; see the README's metrics"))
    try:
        threshold = float(match["threshold"])
    except ValueError:
        raise ValueError(
            f"the threshold of requirement {text!r} must be a number, got {match['threshold']!r}"
        ) from None
    if not math.isfinite(threshold):
        raise ValueError(f"the threshold of requirement {text!r} must be a finite number")
    persona = match["persona"]
    return Requirement(
        text=text.strip(),
        metric=metric,
        op=match["op"],
        threshold=threshold,
        persona=None if persona in (None, ALL) else persona,
    )


def parse_requirements(texts: Iterable[str], source: str = "--require") -> list[Requirement]:
    """Parse several requirements; one ConfigError listing every bad one (named by `source`)."""
    parsed: list[Requirement] = []
    problems: list[Problem] = []
    for text in texts:
        try:
            parsed.append(parse_requirement(text))
        except ValueError as exc:
            problems.append(Problem((), str(exc)))
    if problems:
        raise ConfigError(problems, source=source)
    return parsed


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
    holds = OPERATORS[requirement.op](bound, requirement.threshold)
    side = "upper" if requirement.upper else "lower"
    relation = "meets" if holds else "does not meet"
    reason = f"{side} 95% bound {bound:.4g} {relation} {requirement.op} {requirement.threshold:g}"
    return Verdict(requirement, holds, mean, low, high, reason)
