"""Decision spaces and uncertainty designs: `optimize.over` as optuna distributions, `uncertain.over` as a
Latin hypercube (scipy.stats.qmc), and both back into the scenario's values at dotted paths.

A range with a `step` is searched as a whole number of steps (so `step: 1d` gives whole days, on a log
scale when the range is); a choice is searched by its position in the list. Values come back in the
scenario's form: durations as text (`9d`, `1.5h`), whole numbers as ints.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from scipy.stats import qmc

from sim.scenario.optimize import Variable
from sim.scenario.paths import short_names, value_text

#: Spawn key of the design's random stream (apart from every user's streams, sim.model.streams).
DESIGN_STREAM = (0x4C48,)


def distribution(variable: Variable) -> BaseDistribution:
    """The optuna distribution that searches one variable."""
    if variable.choices is not None:
        return CategoricalDistribution(list(range(len(variable.choices))))
    low, high = variable.bounds()
    step = variable.step_value
    if step is not None:
        first = max(1 if variable.scaled_log else 0, math.ceil(low / step - 1e-9))
        last = math.floor(high / step + 1e-9)
        return IntDistribution(first, max(first, last), log=variable.scaled_log)
    if variable.kind == "integer":
        return IntDistribution(int(low), int(high), log=variable.scaled_log)
    return FloatDistribution(low, high, log=variable.scaled_log)


def decode(variable: Variable, raw: Any) -> Any:
    """The scenario's value of what optuna suggested for one variable."""
    if variable.choices is not None:
        return variable.choices[int(raw)]
    step = variable.step_value
    return variable.value(raw * step if step is not None else raw)


class Space:
    """The decision variables of `optimize.over`, in their order."""

    def __init__(self, variables: Mapping[str, Variable]):
        self.variables = dict(variables)
        self.names = short_names(list(self.variables))

    def distributions(self) -> dict[str, BaseDistribution]:
        """Path -> optuna distribution."""
        return {path: distribution(v) for path, v in self.variables.items()}

    def decode(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """optuna's parameters -> path -> scenario value."""
        return {path: decode(v, params[path]) for path, v in self.variables.items()}

    def size(self) -> float:
        """How many distinct candidates there are (infinite with a continuous range)."""
        total = 1.0
        for variable in self.variables.values():
            dist = distribution(variable)
            if isinstance(dist, CategoricalDistribution):
                total *= len(dist.choices)
            elif isinstance(dist, IntDistribution):
                total *= dist.high - dist.low + 1
            else:
                return math.inf
        return total

    def label(self, values: Mapping[str, Any]) -> str:
        """`sliding_lifetime=9d, max_tokens_per_user=12`."""
        return ", ".join(f"{self.names[p]}={_short(values[p])}" for p in self.variables if p in values)

    def number(self, path: str, value: Any) -> float | None:
        """A variable's value as a number for figures (seconds in days for durations; a choice's position)."""
        variable = self.variables[path]
        if variable.choices is not None:
            for index, choice in enumerate(variable.choices):
                if value_text(choice) == value_text(value):
                    return float(index)
            return None
        number = variable.number(value)
        return number / 86400.0 if variable.kind == "duration" else number


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return value_text(value)


def latin_hypercube(variables: Mapping[str, Variable], points: int, seed: int) -> list[dict[str, Any]]:
    """A Latin hypercube of `points` over the ranges (log scale where a range is), from the scenario's seed.

    Every range is cut into `points` equal strata (of the log where the range is on a log scale) and each
    stratum holds exactly one point; choices are spread the same way over their positions. The design
    depends only on the ranges, the number of points and the seed: it is common to every candidate.
    """
    paths = list(variables)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=DESIGN_STREAM)))
    unit = qmc.LatinHypercube(d=len(paths), rng=rng).random(points)
    return [{path: _from_unit(variables[path], float(u)) for path, u in zip(paths, row, strict=True)}
            for row in unit]


def _from_unit(variable: Variable, u: float) -> Any:
    if variable.choices is not None:
        return variable.choices[min(len(variable.choices) - 1, int(u * len(variable.choices)))]
    low, high = variable.bounds()
    if variable.kind == "integer" and variable.step is None:
        return min(int(high), math.floor(low + u * (high - low + 1)))
    if variable.scaled_log:
        number = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    else:
        number = low + u * (high - low)
    step = variable.step_value
    if step is not None:
        number = min(high, max(low, round(number / step) * step))
    if variable.kind == "float":
        number = float(f"{number:.4g}")
    return variable.value(number)
