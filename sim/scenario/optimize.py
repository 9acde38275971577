"""The `optimize:` and `uncertain:` sections of a scenario: what to choose, under which requirements, and
over which unknowns (`tokensim optimize`, `tokensim explore`; reference: docs/scenario.md, docs/optimize.md).

```yaml
optimize:
  minimize: stored_rows_peak                 # or maximize:; METRIC or METRIC[PERSONA]; a list of two: a front
  subject_to:                                # requirements, each must hold with 95% confidence
    - users_with_forced_reauth_share_monthly <= 0.05
  over:                                      # decision variables: dotted paths of the scenario
    policy.sliding_lifetime: {low: 1d, high: 60d, step: 1d}    # a duration range (log scale by default)
    policy.max_tokens_per_user: {low: 5, high: 20}             # an integer range
    policy.reuse_interval: [0s, 10s, 30s]                      # choices
  budget: {user_years: 5000}                 # or {runs: 200}: candidates x replications (x design points)
  indifference: 1000                         # the smallest difference of the objective worth telling apart
uncertain:
  points: 8                                  # a Latin hypercube of the ranges, common to every candidate
  robust: worst                              # or a quantile such as 0.9 of the objective over the points
  over:
    population.office.activity.sessions_per_day: {low: 0.5, high: 3}
```

A variable's kind follows from what is written: `choices` (or a plain list) is a choice; a range whose
ends are durations with a unit (`1d`) is a duration range, on a log scale unless `log: false`; whole
numbers without a unit make an integer range; other numbers a continuous range. `step` rounds a range
to multiples of it. This module is pure: no I/O and no simulation.
"""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from sim.core.durations import DAY, HOUR, MINUTE, parse_duration
from sim.core.metric_names import ALL, METRIC_UNITS
from sim.core.validation import suggest

#: The largest number of points of an uncertainty design and of candidates taken into selection.
MAX_POINTS = 200
MAX_CANDIDATES = 20
_OBJECTIVE = re.compile(r"^\s*(?P<metric>[A-Za-z_][\w.]*)\s*(?:\[\s*(?P<persona>[^\]]+?)\s*\])?\s*$")
_DURATION_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*[smhdw]\s*$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _is_duration_text(value: object) -> bool:
    return isinstance(value, str) and bool(_DURATION_TEXT.match(value))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _plain_choice(value: object) -> bool:
    if value is None or isinstance(value, str | bool):
        return True
    if _is_number(value):
        return True
    if isinstance(value, list | tuple):
        return all(_plain_choice(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_choice(v) for k, v in value.items())
    return False


def duration_text(seconds: float) -> str:
    """A duration in the largest unit it reaches, at most three decimals: `9d`, `1.5h`, `36.25d`."""
    for unit, size in (("d", DAY), ("h", HOUR), ("m", MINUTE)):
        if seconds >= size:
            return f"{round(seconds / size, 3):g}{unit}"
    return f"{round(seconds, 3):g}s"


def _range_or_list(schema: dict[str, Any]) -> None:
    """In the JSON Schema a variable is its mapping or, as written most often for choices, a plain list."""
    mapping = dict(schema)
    schema.clear()
    schema.update({
        "title": mapping.pop("title", "Variable"),
        "description": mapping.pop("description", ""),
        "anyOf": [mapping, {"type": "array", "minItems": 1, "description": "The choices, as a plain list."}],
    })


class Variable(_Section):
    """A decision variable or an uncertain parameter: a range (`low`, `high`, optional `log`, `step`)
    or a list of `choices`."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_range_or_list)

    low: Any = Field(default=None, description="The smallest value: a number, or a duration such as 1d.")
    high: Any = Field(default=None, description="The largest value (same kind as low).")
    log: bool | None = Field(
        default=None,
        description="Search the range on a log scale (default: yes for durations, no for numbers); low "
        "must then be above 0.",
    )
    step: Any = Field(default=None,
                      description="Round values to multiples of this (a duration for durations).")
    choices: tuple[Any, ...] | None = Field(
        default=None, description="The values to choose from (text, numbers, true/false, mappings)."
    )

    @model_validator(mode="before")
    @classmethod
    def _plain_list(cls, data: Any) -> Any:
        if isinstance(data, list | tuple):
            return {"choices": list(data)}
        if not isinstance(data, dict):
            raise ValueError(
                "must be a range such as {low: 1d, high: 30d} or {low: 5, high: 20}, or a list of "
                f"choices such as [0s, 10s, 30s]; got {data!r}"
            )
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Variable:
        if self.choices is not None:
            if self.low is not None or self.high is not None or self.step is not None or self.log:
                raise ValueError("give either choices or a range (low, high), not both")
            if not self.choices:
                raise ValueError("choices must list at least one value")
            seen: set[str] = set()
            for value in self.choices:
                if not _plain_choice(value):
                    raise ValueError(f"a choice must be a plain value (text, number, mapping), got {value!r}")
                key = json.dumps(value, sort_keys=True)
                if key in seen:
                    raise ValueError(f"choices list {value!r} twice")
                seen.add(key)
            return self
        if self.low is None or self.high is None:
            raise ValueError("a range needs both low and high (or give choices: a list of values)")
        low, high = self.bounds()
        if not low < high:
            raise ValueError(f"low must be below high, got low {self.low!r} and high {self.high!r}")
        if self.scaled_log and low <= 0:
            raise ValueError(f"a log-scale range needs low above 0, got {self.low!r} (or set log: false)")
        if self.step is not None:
            step = self._number(self.step, "step")
            if step <= 0:
                raise ValueError(f"step must be above 0, got {self.step!r}")
            if step > high - low:
                raise ValueError(f"step {self.step!r} is wider than the range")
        return self

    def _number(self, value: Any, name: str) -> float:
        if self.kind == "duration":
            try:
                return parse_duration(value)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        if not _is_number(value):
            raise ValueError(f"{name} must be a number (or a duration with a unit, such as 1d), got "
                             f"{value!r}")
        return float(value)

    @property
    def kind(self) -> Literal["choice", "duration", "integer", "float"]:
        """What the variable is: `choice`, `duration` (seconds inside), `integer` or `float`."""
        if self.choices is not None:
            return "choice"
        if _is_duration_text(self.low) or _is_duration_text(self.high):
            return "duration"
        step_whole = self.step is None or (isinstance(self.step, int) and not isinstance(self.step, bool))
        whole = all(isinstance(v, int) and not isinstance(v, bool) for v in (self.low, self.high))
        return "integer" if whole and step_whole else "float"

    def bounds(self) -> tuple[float, float]:
        """(low, high) as numbers (seconds for durations)."""
        return self._number(self.low, "low"), self._number(self.high, "high")

    @property
    def step_value(self) -> float | None:
        """The step as a number (seconds for durations), None without one."""
        return None if self.step is None else self._number(self.step, "step")

    @property
    def scaled_log(self) -> bool:
        """True when the range is searched on a log scale."""
        if self.choices is not None:
            return False
        return self.log if self.log is not None else self.kind == "duration"

    def value(self, number: float) -> Any:
        """A number of the range as the scenario's value: a duration text (`9d`), an int or a float."""
        if self.kind == "duration":
            return duration_text(number)
        if self.kind == "integer":
            return round(number)
        return float(number)

    def number(self, value: Any) -> float:
        """The scenario's value of a range as a number (seconds for a duration)."""
        return self._number(value, "value")


def _objectives(value: object) -> object:
    if value is None:
        return value
    items = list(value) if isinstance(value, list | tuple) else [value]
    if not 1 <= len(items) <= 2:
        raise ValueError(f"name one metric, or a list of two for a Pareto front; got {len(items)}")
    return tuple(_objective_text(item) for item in items)


def _objective_text(item: object) -> str:
    """The objective's text, checked (ValueError with "did you mean")."""
    parse_objective(item)
    assert isinstance(item, str)  # parse_objective accepts text only
    return item.strip()


def parse_objective(text: object) -> tuple[str, str]:
    """`METRIC` or `METRIC[PERSONA]` -> (metric, persona or `*`); ValueError with "did you mean"."""
    if not isinstance(text, str):
        raise ValueError(f"an objective is a metric name such as 'stored_rows_peak', got {text!r}")
    match = _OBJECTIVE.match(text)
    if match is None:
        raise ValueError(f"cannot read objective {text!r}: write METRIC or METRIC[PERSONA]")
    metric = match["metric"]
    if metric not in METRIC_UNITS:
        hint = suggest(metric, list(METRIC_UNITS))
        message = f"unknown metric {metric!r}"
        raise ValueError(message + (f"; did you mean {hint!r}?" if hint else "; see the README's metrics"))
    return metric, match["persona"] or ALL


def _requirement_texts(value: object) -> object:
    from sim.scenario.requirements import parse_requirement

    if not isinstance(value, list | tuple):
        raise ValueError(f"must be a list of requirements such as 'forced_reauth_per_user_month < 0.5', "
                         f"got {value!r}")
    for item in value:
        parse_requirement(item)
    return tuple(item.strip() for item in value)


class Budget(_Section):
    """The most the search may spend: simulated user-years, or runs (candidates x replications x design
    points); give one."""

    user_years: float | None = Field(default=None, gt=0, description="Simulated user-years (users x "
                                     "measured-and-warm-up years x replications x design points).")
    runs: int | None = Field(default=None, ge=1, description="Simulated replications of candidates "
                             "(each design point counts once).")

    @model_validator(mode="after")
    def _one(self) -> Budget:
        if (self.user_years is None) == (self.runs is None):
            raise ValueError("give one of user_years or runs, e.g. {user_years: 5000} or {runs: 200}")
        return self


def _robust(value: object) -> object:
    if value == "worst":
        return value
    if _is_number(value) and 0 < float(value) <= 1:  # type: ignore[arg-type]
        return float(value)  # type: ignore[arg-type]
    raise ValueError(f"must be 'worst' or a quantile above 0 and at most 1 (e.g. 0.9), got {value!r}")


Robust = Annotated[str | float, BeforeValidator(_robust)]


class Uncertain(_Section):
    """What is not known: ranges of behaviour and threat parameters, explored by a Latin hypercube design
    common to every candidate."""

    points: int = Field(default=8, ge=2, le=MAX_POINTS, description="Points of the Latin hypercube design.")
    robust: Robust = Field(
        default="worst",
        description="How candidates are compared across the points: 'worst' (the worst point of the "
        "objective) or a quantile such as 0.9. Requirements must hold at every point.",
    )
    over: dict[str, Variable] = Field(description="Dotted paths of the scenario and their ranges.")

    @field_validator("over")
    @classmethod
    def _not_empty(cls, over: dict[str, Variable]) -> dict[str, Variable]:
        if not over:
            raise ValueError("name at least one path and its range")
        return over


#: In the JSON Schema: one metric name, or a list of one or two (a Pareto front).
_OBJECTIVE_JSON = {"anyOf": [{"type": "string"},
                             {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2}]}
Objectives = Annotated[tuple[str, ...] | None, BeforeValidator(_objectives), WithJsonSchema(_OBJECTIVE_JSON)]


class Optimize(_Section):
    """What `tokensim optimize` chooses: decision variables, an objective, requirements and a budget."""

    minimize: Objectives = Field(
        default=None, description="The metric to make small (METRIC or METRIC[PERSONA]), or a list of two "
        "for a Pareto front (the first decides what to ship).")
    maximize: Objectives = Field(
        default=None, description="The metric to make large (instead of minimize).")
    subject_to: Annotated[tuple[str, ...], BeforeValidator(_requirement_texts)] = Field(
        default=(), description="Requirements (as in requirements:), each must hold with 95% confidence "
        "(one-sided).")
    over: dict[str, Variable] = Field(description="The decision variables: dotted paths and their ranges or "
                                      "choices.")
    budget: Budget = Field(description=Budget.__doc__)
    indifference: float = Field(gt=0, description="The smallest difference of the objective worth telling "
                                "apart (its unit): the selection stage's indifference zone.")
    candidates: int = Field(default=5, ge=1, le=MAX_CANDIDATES, description="Best candidates of the search "
                            "taken into the selection stage.")
    max_replications: int = Field(default=60, ge=2, le=10_000, description="The most replications the "
                                  "selection stage gives one candidate.")
    search: Literal["auto", "tpe", "nsga2", "random"] = Field(
        default="auto", description="The optimiser: tpe (one objective), nsga2 (two), random; auto picks.")

    @model_validator(mode="after")
    def _direction(self) -> Optimize:
        if (self.minimize is None) == (self.maximize is None):
            raise ValueError("give one of minimize or maximize (a metric name)")
        if not self.over:
            raise ValueError("over: name at least one decision variable")
        return self

    @property
    def objectives(self) -> tuple[str, ...]:
        """The objective texts (one, or two for a front)."""
        return self.minimize if self.minimize is not None else (self.maximize or ())

    @property
    def sense(self) -> Literal["minimize", "maximize"]:
        """minimize or maximize."""
        return "minimize" if self.minimize is not None else "maximize"

    @property
    def sampler(self) -> str:
        """The optimiser that runs: `tpe`, `nsga2` or `random`."""
        if self.search != "auto":
            return self.search
        return "nsga2" if len(self.objectives) == 2 else "tpe"
