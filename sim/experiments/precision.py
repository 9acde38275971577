"""Precision on demand (`--precision 2%`): add replications until every headline metric's 95% interval is
narrow enough, within a cap.

A metric is precise enough when the half-width of its 95% Student-t interval over the replications is at
most `relative` times the absolute value of its mean, or at most `absolute` (for metrics near zero, where
a relative width cannot be reached). After each batch the replications still needed are estimated from
the current spread, n = ceil((t * s / target)^2), and the next batch goes there (at most doubling the
count, at most the cap). This is the fixed-width sequential procedure of Chow and Robbins ("On the
asymptotic theory of fixed-width sequential confidence intervals for the mean", Annals of Mathematical
Statistics 36(2):457-462, 1965): its coverage tends to the nominal 95% as the width shrinks; starting
from at least `MIN_START` replications keeps the early spread estimates from stopping it too soon.

Replication r always uses the random numbers of replication r (sim.model.streams), so added replications
continue the same streams: a run with precision equals a plain run with the replications it took.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from sim.core.metric_names import HEADLINE
from sim.core.validation import ConfigError, Problem

#: The fewest replications precision mode starts from.
MIN_START = 5
#: The default cap on replications.
DEFAULT_MAX = 100
#: The default absolute half-width that is always precise enough (metrics near zero).
DEFAULT_ABSOLUTE = 0.01
_PERCENT = re.compile(r"^\s*(?P<value>\d+(?:\.\d+)?|\.\d+)\s*%\s*$")


@dataclass(frozen=True)
class PrecisionTarget:
    """How narrow every headline metric's 95% interval must be, and the most replications to spend."""

    relative: float
    absolute: float = DEFAULT_ABSOLUTE
    max_replications: int = DEFAULT_MAX
    metrics: tuple[str, ...] = tuple(name for name, _ in HEADLINE)

    @classmethod
    def parse(
        cls, text: str | float | PrecisionTarget, absolute: float | None = None,
        max_replications: int | None = None,
    ) -> PrecisionTarget:
        """`"2%"` (or 0.02) -> a target; ConfigError for anything else (named `--precision`)."""
        if isinstance(text, PrecisionTarget):
            return text
        relative: float | None = None
        if isinstance(text, str):
            match = _PERCENT.match(text)
            if match is not None:
                relative = float(match["value"]) / 100.0
        elif isinstance(text, int | float) and not isinstance(text, bool):
            relative = float(text)
        problems = []
        if relative is None or not 0 < relative < 1:
            problems.append(Problem(("precision",), "must be a percentage above 0 and below 100, such as "
                                                    f"2%, got {text!r}"))
        if absolute is not None and not (math.isfinite(absolute) and absolute >= 0):
            problems.append(Problem(("precision_absolute",), f"must be a number >= 0, got {absolute!r}"))
        if max_replications is not None and max_replications < 2:
            problems.append(Problem(("max_replications",), f"must be at least 2, got {max_replications}"))
        if problems:
            raise ConfigError(problems, source="--precision")
        assert relative is not None
        return cls(
            relative=relative,
            absolute=DEFAULT_ABSOLUTE if absolute is None else float(absolute),
            max_replications=DEFAULT_MAX if max_replications is None else int(max_replications),
        )

    def text(self) -> str:
        """`2% (or ±0.001)`."""
        return f"{100 * self.relative:g}% of the mean (or ±{self.absolute:g})"


@dataclass(frozen=True)
class Width:
    """One metric's precision: mean, 95% half-width, the width allowed, and whether it is met."""

    metric: str
    mean: float
    half_width: float
    allowed: float
    met: bool
    needed: int


def half_width(values: Sequence[float]) -> tuple[float, float, float]:
    """(mean, 95% t half-width, standard deviation) of the values (NaN half-width below two)."""
    data = np.asarray(values, dtype=float)
    mean = float(data.mean())
    if len(data) < 2:
        return mean, math.nan, math.nan
    sd = float(data.std(ddof=1))
    t = float(stats.t.ppf(0.975, df=len(data) - 1))
    return mean, t * sd / math.sqrt(len(data)), sd


def widths(values: Mapping[str, Sequence[float]], target: PrecisionTarget) -> list[Width]:
    """Each metric's precision against the target (metrics without a value in every replication are left
    out: an undefined metric cannot be made precise)."""
    found = []
    for metric, series in values.items():
        data = [float(v) for v in series if v is not None and not math.isnan(float(v))]
        if len(data) < len(series) or len(data) < 2:
            continue
        mean, half, sd = half_width(data)
        allowed = max(target.relative * abs(mean), target.absolute)
        met = half <= allowed
        t = float(stats.t.ppf(0.975, df=len(data) - 1))
        needed = len(data) if met else math.ceil((t * sd / allowed) ** 2)
        found.append(Width(metric, mean, half, allowed, met, needed))
    return found


@dataclass
class PrecisionOutcome:
    """How precision mode ended: replications taken, every metric's width, and whether all are met."""

    target: PrecisionTarget
    replications: int
    met: bool
    widths: list[Width] = field(default_factory=list)
    #: The replication counts after each batch.
    batches: list[int] = field(default_factory=list)

    @property
    def unmet(self) -> list[Width]:
        """The metrics whose interval is still too wide (at the cap)."""
        return [w for w in self.widths if not w.met]


def next_count(current: int, found: Iterable[Width], cap: int) -> int:
    """The replication count of the next batch: what the widest metric needs, at most double, at most cap."""
    needed = max((w.needed for w in found if not w.met), default=current)
    return min(cap, max(current + 1, min(2 * current, needed)))


def until_precise(
    sample: Callable[[range], Mapping[str, Sequence[float]]],
    target: PrecisionTarget,
    start: int,
) -> PrecisionOutcome:
    """Take replications in batches until every metric meets the target (or the cap).

    `sample(range)` returns the values of each metric for those replication numbers (in order); it is
    called first with `range(start)`, then with the following ranges.
    """
    start = max(2, min(start, target.max_replications))
    values: dict[str, list[float]] = {}
    count = 0
    batches = []
    upcoming = start
    while True:
        for metric, series in sample(range(count, upcoming)).items():
            values.setdefault(metric, []).extend(float(v) if v is not None else math.nan for v in series)
        count = upcoming
        batches.append(count)
        found = widths({m: v for m, v in values.items() if m in target.metrics}, target)
        met = all(w.met for w in found)
        if met or count >= target.max_replications:
            return PrecisionOutcome(target, count, met, found, batches)
        upcoming = next_count(count, found, target.max_replications)
