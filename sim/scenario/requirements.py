"""Requirements on a scenario's results (`requirements:`, `--require`): their grammar and parsing.

A requirement is written `METRIC OP NUMBER` or `METRIC[PERSONA] OP NUMBER`, with OP one of `<`, `<=`,
`>`, `>=`, e.g. `forced_reauth_per_user_month < 0.5` or `forced_reauth_per_user_month[office] <= 0.3`.
It holds *with 95% confidence* when the whole 95% interval of the metric is on the required side: for
`<` / `<=` the interval's upper bound is below (or, for `<=`, at) the threshold; for `>` / `>=` its lower
bound is above (or at) it (evaluated by `sim.analysis.verdicts`). A leaf of the scenario layer: it checks
metric names without loading the analysis.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sim.core.metric_names import ALL, METRIC_UNITS
from sim.core.validation import ConfigError, Problem, suggest

#: The comparisons a requirement can make.
OPERATORS: tuple[str, ...] = ("<=", ">=", "<", ">")

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
