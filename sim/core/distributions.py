"""Random quantities in a scenario: session durations, retry delays, device and tab counts.

Two families, both frozen and cheap to sample (simulations call `sample(rng)` millions of times, so the
objects hold plain floats and precomputed tables, never pydantic models or dicts):

- duration distributions (values in seconds, floats >= 0): `Fixed`, `Exponential`, `LogNormal`,
  `Uniform`, `Empirical`;
- count distributions (ints >= 0, optional `min` / `max` clamps): `FixedCount`, `Poisson`,
  `UniformCount`, `EmpiricalCount`.

Each has `sample(rng)`, `sample_many(rng, n)`, an analytic `mean` and `to_config()` (the YAML form).

In a scenario file a distribution is written as a plain value (`1h`, `3`) or as a mapping with one key
naming the distribution, e.g. `{lognormal: {median: 1h, sigma: 0.8}}` or
`{poisson: {mean: 1.5}, min: 1}`. The pydantic field types `DurationDist` and `CountDist` parse those
forms (through small pydantic "form" models, so that errors carry the exact location of the bad key)
and store the fast objects.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic import model_validator as _model_validator
from pydantic_core import PydanticCustomError, core_schema
from scipy import stats

from sim.core.durations import DURATION_HELP, format_duration, parse_duration
from sim.core.validation import suggest

#: The largest value any count distribution may produce or be parameterised with.
MAX_COUNT = 1_000_000
#: The largest Poisson mean accepted for a count.
MAX_POISSON_MEAN = 10_000.0
#: The largest lognormal sigma accepted (the spread factor e**sigma is then about 22000).
MAX_SIGMA = 10.0

# ---------------------------------------------------------------------------------------------------
# Plain-value helpers shared with the scenario model
# ---------------------------------------------------------------------------------------------------


def shown(value: object, limit: int = 60) -> str:
    """`repr(value)`, shortened for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_number(value: object) -> float:
    """A finite float from an int or float (booleans and text are refused); raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {shown(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"number too large, got {shown(value)}") from None
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {shown(value)}")
    return number


def as_whole(value: object, low: int, high: int | None = None) -> int:
    """An int in `[low, high]` from an int or an integral float; raises ValueError naming the range."""
    allowed = f"a whole number of at least {low}" + (f" and at most {high}" if high is not None else "")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be {allowed}, got {shown(value)}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"must be {allowed}, got {shown(value)}")
    return value


def as_duration(value: object) -> float:
    """Seconds (>= 0) from a duration string or a number; raises ValueError saying what is allowed."""
    try:
        return parse_duration(value)
    except OverflowError:
        raise ValueError(f"expected {DURATION_HELP}, got a number too large: {shown(value)}") from None
    except ValueError as exc:
        if "negative" in str(exc):
            raise ValueError(f"must not be negative: expected {DURATION_HELP}, got {shown(value)}") from None
        raise ValueError(f"expected {DURATION_HELP}, got {shown(value)}") from None


def as_positive_duration(value: object) -> float:
    """Seconds (> 0) from a duration string or a number; raises ValueError saying what is allowed."""
    seconds = as_duration(value)
    if seconds <= 0:
        raise ValueError(f"must be a positive duration ({DURATION_HELP}), got {shown(value)}")
    return seconds


def duration_config(seconds: float) -> str | float:
    """A duration in its YAML form (`format_duration`), or plain seconds when that form would round."""
    text = format_duration(seconds)
    try:
        exact = parse_duration(text) == seconds
    except ValueError:
        exact = False
    return text if exact else float(seconds)


#: JSON Schema of a duration as written in a file (a placeholder resolved by `sim.scenario.schema`).
DURATION_JSON: dict[str, Any] = {"x-ref": "Duration"}

#: A duration in seconds, >= 0, written as `90s`, `15m`, `1h`, `15d`, `2w` or plain seconds.
NonNegativeDuration = Annotated[
    float,
    BeforeValidator(as_duration),
    PlainSerializer(duration_config),
    WithJsonSchema(DURATION_JSON),
]
#: A duration in seconds, > 0.
PositiveDuration = Annotated[
    float,
    BeforeValidator(as_positive_duration),
    PlainSerializer(duration_config),
    WithJsonSchema(DURATION_JSON),
]


def _non_negative_number(value: object) -> float:
    number = as_number(value)
    if number < 0:
        raise ValueError(f"must be a number of at least 0, got {shown(value)}")
    return number


def _sigma(value: object) -> float:
    number = as_number(value)
    if not 0 <= number <= MAX_SIGMA:
        raise ValueError(f"must be a number from 0 to {MAX_SIGMA:g}, got {shown(value)}")
    return number


def _poisson_mean(value: object) -> float:
    number = as_number(value)
    if not 0 <= number <= MAX_POISSON_MEAN:
        raise ValueError(f"must be a number from 0 to {MAX_POISSON_MEAN:g}, got {shown(value)}")
    return number


def _count_value(value: object) -> int:
    return as_whole(value, 0, MAX_COUNT)


def _probability(value: object) -> float:
    number = as_number(value)
    if not 0 <= number <= 1:
        raise ValueError(f"must be a probability from 0 to 1, got {shown(value)}")
    return number


def _rate(value: object) -> float:
    number = as_number(value)
    if number < 0:
        raise ValueError(f"must be a rate of at least 0, got {shown(value)}")
    return number


NonNegativeNumber = Annotated[float, Field(ge=0), BeforeValidator(_non_negative_number)]
Sigma = Annotated[float, Field(ge=0, le=MAX_SIGMA), BeforeValidator(_sigma)]
PoissonMean = Annotated[float, Field(ge=0, le=MAX_POISSON_MEAN), BeforeValidator(_poisson_mean)]
CountValue = Annotated[int, Field(ge=0, le=MAX_COUNT), BeforeValidator(_count_value)]
#: A number from 0 to 1.
Probability = Annotated[float, Field(ge=0, le=1), BeforeValidator(_probability)]
#: A rate (events per unit of time), >= 0.
Rate = Annotated[float, Field(ge=0), BeforeValidator(_rate)]

# ---------------------------------------------------------------------------------------------------
# The fast objects
# ---------------------------------------------------------------------------------------------------


class Distribution(ABC):
    """A random quantity: `sample(rng)`, `sample_many(rng, n)`, an analytic `mean`, `to_config()`."""

    __slots__ = ()

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> float:
        """One draw."""

    @abstractmethod
    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` independent draws as an array."""

    @property
    @abstractmethod
    def mean(self) -> float:
        """The expected value, computed analytically."""

    @abstractmethod
    def to_config(self) -> Any:
        """The distribution as it is written in a scenario file."""


class DurationDistribution(Distribution):
    """A distribution of durations in seconds (floats >= 0)."""

    __slots__ = ()


class CountDistribution(Distribution):
    """A distribution of whole numbers >= 0, optionally clamped to `[min, max]`."""

    __slots__ = ()

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> int:
        """One draw."""

    @property
    @abstractmethod
    def lowest(self) -> int:
        """The smallest value a draw can take (after clamping)."""


# --- durations --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fixed(DurationDistribution):
    """Always the same duration (seconds)."""

    value: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", float(self.value))

    def sample(self, rng: np.random.Generator) -> float:
        """The fixed value (the generator is not used)."""
        return self.value

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` copies of the value."""
        return np.full(n, self.value, dtype=float)

    @property
    def mean(self) -> float:
        """The value."""
        return self.value

    def to_config(self) -> str | float:
        """The duration, e.g. `1h`."""
        return duration_config(self.value)


@dataclass(frozen=True, slots=True)
class Exponential(DurationDistribution):
    """Exponentially distributed durations with the given mean (seconds)."""

    mean_seconds: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean_seconds", float(self.mean_seconds))

    def sample(self, rng: np.random.Generator) -> float:
        """One draw."""
        return rng.exponential(self.mean_seconds)

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` draws."""
        return rng.exponential(self.mean_seconds, n)

    @property
    def mean(self) -> float:
        """The mean."""
        return self.mean_seconds

    def to_config(self) -> dict[str, Any]:
        """`{exponential: {mean: ...}}`."""
        return {"exponential": {"mean": duration_config(self.mean_seconds)}}


@dataclass(frozen=True, slots=True)
class LogNormal(DurationDistribution):
    """Log-normally distributed durations: `median` in seconds, `sigma` of the underlying normal."""

    median: float
    sigma: float
    _mu: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.median > 0 or not 0 <= self.sigma <= MAX_SIGMA:
            raise ValueError(
                f"lognormal needs median > 0 and sigma in [0, {MAX_SIGMA:g}], got {self.median}, {self.sigma}"
            )
        object.__setattr__(self, "median", float(self.median))
        object.__setattr__(self, "sigma", float(self.sigma))
        object.__setattr__(self, "_mu", math.log(self.median))

    def sample(self, rng: np.random.Generator) -> float:
        """One draw."""
        return rng.lognormal(self._mu, self.sigma)

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` draws."""
        return rng.lognormal(self._mu, self.sigma, n)

    @property
    def mean(self) -> float:
        """`median * exp(sigma**2 / 2)`."""
        return self.median * math.exp(self.sigma**2 / 2)

    def to_config(self) -> dict[str, Any]:
        """`{lognormal: {median: ..., sigma: ...}}`."""
        return {"lognormal": {"median": duration_config(self.median), "sigma": self.sigma}}


@dataclass(frozen=True, slots=True)
class Uniform(DurationDistribution):
    """Durations uniform on `[low, high]` (seconds)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))

    def sample(self, rng: np.random.Generator) -> float:
        """One draw (what `rng.uniform` computes, without its argument handling)."""
        return self.low + (self.high - self.low) * rng.random()

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` draws."""
        return rng.uniform(self.low, self.high, n)

    @property
    def mean(self) -> float:
        """`(low + high) / 2`."""
        return (self.low + self.high) / 2

    def to_config(self) -> dict[str, Any]:
        """`{uniform: {low: ..., high: ...}}`."""
        return {"uniform": {"low": duration_config(self.low), "high": duration_config(self.high)}}


def _cumulative(weights: Sequence[float]) -> tuple[list[float], np.ndarray]:
    """Cumulative probabilities (last exactly 1.0) and the probabilities, from non-negative weights."""
    total = math.fsum(weights)
    if not (len(weights) > 0 and total > 0 and math.isfinite(total) and min(weights) >= 0):
        raise ValueError(f"empirical weights must be >= 0 with a positive sum, got {list(weights)}")
    probabilities = np.asarray(weights, dtype=float) / total
    cumulative = np.cumsum(probabilities).tolist()
    cumulative[-1] = 1.0
    return cumulative, probabilities


@dataclass(frozen=True, slots=True)
class Empirical(DurationDistribution):
    """One of the listed durations (seconds), drawn with probability proportional to its weight."""

    values: tuple[float, ...]
    weights: tuple[float, ...]
    _cumulative: list[float] = field(init=False, repr=False, compare=False)
    _probabilities: np.ndarray = field(init=False, repr=False, compare=False)
    _array: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.values) != len(self.weights):
            raise ValueError("empirical needs as many weights as values")
        object.__setattr__(self, "values", tuple(float(v) for v in self.values))
        object.__setattr__(self, "weights", tuple(float(w) for w in self.weights))
        cumulative, probabilities = _cumulative(self.weights)
        object.__setattr__(self, "_cumulative", cumulative)
        object.__setattr__(self, "_probabilities", probabilities)
        object.__setattr__(self, "_array", np.asarray(self.values, dtype=float))

    def sample(self, rng: np.random.Generator) -> float:
        """One draw."""
        return self.values[bisect_right(self._cumulative, rng.random())]

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` draws."""
        return self._array[np.searchsorted(self._cumulative, rng.random(n), side="right")]

    @property
    def mean(self) -> float:
        """The weighted mean of the values."""
        return float(self._array @ self._probabilities)

    def to_config(self) -> dict[str, Any]:
        """`{empirical: {values: [...], weights: [...]}}`."""
        return {
            "empirical": {
                "values": [duration_config(v) for v in self.values],
                "weights": list(self.weights),
            }
        }


# --- counts -----------------------------------------------------------------------------------------


def _clamp_config(config: dict[str, Any], low: int | None, high: int | None) -> dict[str, Any]:
    if low is not None:
        config["min"] = low
    if high is not None:
        config["max"] = high
    return config


def _check_clamps(low: int | None, high: int | None) -> None:
    if low is not None and high is not None and low > high:
        raise ValueError(f"min must not exceed max, got min {low}, max {high}")


@dataclass(frozen=True, slots=True)
class FixedCount(CountDistribution):
    """Always the same count."""

    value: int

    def sample(self, rng: np.random.Generator) -> int:
        """The fixed value (the generator is not used)."""
        return self.value

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` copies of the value."""
        return np.full(n, self.value, dtype=np.int64)

    @property
    def mean(self) -> float:
        """The value."""
        return float(self.value)

    @property
    def lowest(self) -> int:
        """The value."""
        return self.value

    def to_config(self) -> int:
        """The count."""
        return self.value


@dataclass(frozen=True, slots=True)
class Poisson(CountDistribution):
    """Poisson-distributed counts with the given mean, clamped to `[min, max]` when those are set."""

    mean_count: float
    min: int | None = None
    max: int | None = None

    def __post_init__(self) -> None:
        _check_clamps(self.min, self.max)

    def sample(self, rng: np.random.Generator) -> int:
        """One draw."""
        value = int(rng.poisson(self.mean_count))
        if self.min is not None and value < self.min:
            return self.min
        if self.max is not None and value > self.max:
            return self.max
        return value

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` draws."""
        return np.clip(rng.poisson(self.mean_count, n), self.min, self.max).astype(np.int64)

    @property
    def mean(self) -> float:
        """The exact mean of the clamped distribution."""
        low = self.min or 0
        if self.max is None:
            return _poisson_mean_of_max(self.mean_count, low)
        # clip(x, a, b) = max(x, a) - max(x, b) + b   for a <= b
        return (
            _poisson_mean_of_max(self.mean_count, low)
            - _poisson_mean_of_max(self.mean_count, self.max)
            + self.max
        )

    @property
    def lowest(self) -> int:
        """0, or `min`."""
        return self.min or 0

    def to_config(self) -> dict[str, Any]:
        """`{poisson: {mean: ...}, min: ..., max: ...}`."""
        return _clamp_config({"poisson": {"mean": self.mean_count}}, self.min, self.max)


def _poisson_mean_of_max(mu: float, c: int) -> float:
    """E[max(X, c)] for X ~ Poisson(mu): `mu + sum_{k<c} (c-k) P(X=k)`, or `c + sum_{k>=c} P(X>k)`."""
    if c <= 0:
        return mu
    if c <= mu:
        k = np.arange(c)
        return mu + float(np.sum((c - k) * stats.poisson.pmf(k, mu)))
    upper = math.ceil(mu + 40 * math.sqrt(mu) + 40)  # P(X > upper) < 1e-30
    if c > upper:
        return float(c)
    k = np.arange(c, upper + 1)
    return c + float(np.sum(stats.poisson.sf(k, mu)))


@dataclass(frozen=True, slots=True)
class UniformCount(CountDistribution):
    """Counts uniform on the integers `low..high` (both included), clamped to `[min, max]` when set."""

    low: int
    high: int
    min: int | None = None
    max: int | None = None

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError(f"uniform needs low <= high, got {self.low}, {self.high}")
        _check_clamps(self.min, self.max)

    def sample(self, rng: np.random.Generator) -> int:
        """One draw (`low + floor(u * size)`: several times cheaper than `rng.integers` per call)."""
        value = self.low + int(rng.random() * (self.high - self.low + 1))
        if self.min is not None and value < self.min:
            return self.min
        if self.max is not None and value > self.max:
            return self.max
        return value

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` draws."""
        return np.clip(rng.integers(self.low, self.high + 1, n), self.min, self.max).astype(np.int64)

    @property
    def mean(self) -> float:
        """The exact mean of the clamped distribution."""
        values = np.clip(np.arange(self.low, self.high + 1), self.min, self.max)
        return float(values.mean())

    @property
    def lowest(self) -> int:
        """`low`, clamped."""
        return _clamp(self.low, self.min, self.max)

    def to_config(self) -> dict[str, Any]:
        """`{uniform: {low: ..., high: ...}, min: ..., max: ...}`."""
        return _clamp_config({"uniform": {"low": self.low, "high": self.high}}, self.min, self.max)


def _clamp(value: int, low: int | None, high: int | None) -> int:
    if low is not None and value < low:
        return low
    if high is not None and value > high:
        return high
    return value


@dataclass(frozen=True, slots=True)
class EmpiricalCount(CountDistribution):
    """One of the listed counts, drawn with probability proportional to its weight, then clamped."""

    values: tuple[int, ...]
    weights: tuple[float, ...]
    min: int | None = None
    max: int | None = None
    _cumulative: list[float] = field(init=False, repr=False, compare=False)
    _probabilities: np.ndarray = field(init=False, repr=False, compare=False)
    _clamped: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _array: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.values) != len(self.weights):
            raise ValueError("empirical needs as many weights as values")
        _check_clamps(self.min, self.max)
        object.__setattr__(self, "values", tuple(int(v) for v in self.values))
        object.__setattr__(self, "weights", tuple(float(w) for w in self.weights))
        cumulative, probabilities = _cumulative(self.weights)
        clamped = tuple(_clamp(v, self.min, self.max) for v in self.values)
        object.__setattr__(self, "_cumulative", cumulative)
        object.__setattr__(self, "_probabilities", probabilities)
        object.__setattr__(self, "_clamped", clamped)
        object.__setattr__(self, "_array", np.asarray(clamped, dtype=np.int64))

    def sample(self, rng: np.random.Generator) -> int:
        """One draw."""
        return self._clamped[bisect_right(self._cumulative, rng.random())]

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` draws."""
        return self._array[np.searchsorted(self._cumulative, rng.random(n), side="right")]

    @property
    def mean(self) -> float:
        """The exact mean of the clamped distribution."""
        return float(self._array @ self._probabilities)

    @property
    def lowest(self) -> int:
        """The smallest clamped value with a positive weight."""
        return min(v for v, p in zip(self._clamped, self._probabilities, strict=True) if p > 0)

    def to_config(self) -> dict[str, Any]:
        """`{empirical: {values: [...], weights: [...]}, min: ..., max: ...}`."""
        config = {"empirical": {"values": list(self.values), "weights": list(self.weights)}}
        return _clamp_config(config, self.min, self.max)


# ---------------------------------------------------------------------------------------------------
# The YAML forms (pydantic models used only while validating)
# ---------------------------------------------------------------------------------------------------


def rule_error(field_name: str | int, message: str) -> PydanticCustomError:
    """An error about one key below the value being validated (the key is appended to the location)."""
    return PydanticCustomError("scenario_rule", "{message}", {"field": field_name, "message": message})


class _Form(BaseModel):
    """A mapping with a fixed set of keys; unknown keys get a "did you mean" naming the allowed ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: What the mapping is, for messages ("lognormal", "a duration distribution").
    label: ClassVar[str] = "this mapping"
    #: Shown when the value is not a mapping.
    example: ClassVar[str] = ""

    @_model_validator(mode="before")
    @classmethod
    def _check_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError(f"{cls.label} needs a mapping such as {cls.example}, got {shown(data)}")
        allowed = list(cls.model_fields)
        for key in data:
            if key not in cls.model_fields:
                raise rule_error(key, cls._unknown_key_message(key, allowed))
        return data

    @classmethod
    def _unknown_key_message(cls, key: object, allowed: list[str]) -> str:
        hint = suggest(key, allowed) if isinstance(key, str) else None
        message = f"unknown parameter {shown(key)} of {cls.label}"
        if hint:
            message += f"; did you mean {hint!r}?"
        return message + f" ({cls.label} takes {', '.join(allowed)})"


class ExponentialForm(_Form):
    """Exponentially distributed durations (memoryless waiting times)."""

    model_config = ConfigDict(title="exponential")
    label: ClassVar[str] = "exponential"
    example: ClassVar[str] = "{mean: 5s}"
    mean: PositiveDuration = Field(description="The mean duration.")


class LogNormalForm(_Form):
    """Log-normally distributed durations: half are shorter than `median`, `sigma` sets the spread."""

    model_config = ConfigDict(title="lognormal")
    label: ClassVar[str] = "lognormal"
    example: ClassVar[str] = "{median: 1h, sigma: 0.8}"
    median: PositiveDuration = Field(description="The median duration.")
    sigma: Sigma = Field(description="The standard deviation of the duration's logarithm (0 to 10).")


class UniformForm(_Form):
    """Durations uniformly distributed between `low` and `high`."""

    model_config = ConfigDict(title="uniform")
    label: ClassVar[str] = "uniform"
    example: ClassVar[str] = "{low: 0s, high: 2s}"
    low: NonNegativeDuration = Field(description="The shortest duration.")
    high: NonNegativeDuration = Field(description="The longest duration (at least `low`).")

    @_model_validator(mode="after")
    def _ordered(self) -> UniformForm:
        if self.low > self.high:
            raise rule_error(
                "high",
                f"uniform needs high >= low, got low {format_duration(self.low)} and high "
                f"{format_duration(self.high)}",
            )
        return self


def _check_weights(values: Sequence[object], weights: Sequence[float] | None) -> None:
    if weights is None:
        return
    if len(weights) != len(values):
        raise rule_error(
            "weights", f"empirical needs one weight per value: {len(values)} values, {len(weights)} weights"
        )
    if not math.fsum(weights) > 0:
        raise rule_error("weights", f"empirical weights must not all be 0, got {list(weights)}")


class EmpiricalForm(_Form):
    """One of the listed durations, with probabilities proportional to `weights` (equal if omitted)."""

    model_config = ConfigDict(title="empirical")
    label: ClassVar[str] = "empirical"
    example: ClassVar[str] = "{values: [1m, 1h], weights: [0.8, 0.2]}"
    values: list[NonNegativeDuration] = Field(min_length=1, description="The possible durations.")
    weights: list[NonNegativeNumber] | None = Field(
        default=None, description="Relative weights, one per value (default: equal)."
    )

    @_model_validator(mode="after")
    def _matching(self) -> EmpiricalForm:
        _check_weights(self.values, self.weights)
        return self


class PoissonCountForm(_Form):
    """Poisson-distributed counts with the given mean."""

    model_config = ConfigDict(title="poisson")
    label: ClassVar[str] = "poisson"
    example: ClassVar[str] = "{mean: 1.5}"
    mean: PoissonMean = Field(description="The mean count (before clamping).")


class UniformCountForm(_Form):
    """Counts uniformly distributed on the whole numbers `low..high`, both included."""

    model_config = ConfigDict(title="uniform")
    label: ClassVar[str] = "uniform"
    example: ClassVar[str] = "{low: 1, high: 3}"
    low: CountValue = Field(description="The smallest count.")
    high: CountValue = Field(description="The largest count (at least `low`).")

    @_model_validator(mode="after")
    def _ordered(self) -> UniformCountForm:
        if self.low > self.high:
            raise rule_error("high", f"uniform needs high >= low, got low {self.low} and high {self.high}")
        return self


class EmpiricalCountForm(_Form):
    """One of the listed counts, with probabilities proportional to `weights` (equal if omitted)."""

    model_config = ConfigDict(title="empirical")
    label: ClassVar[str] = "empirical"
    example: ClassVar[str] = "{values: [1, 2, 3], weights: [0.6, 0.3, 0.1]}"
    values: list[CountValue] = Field(min_length=1, description="The possible counts.")
    weights: list[NonNegativeNumber] | None = Field(
        default=None, description="Relative weights, one per value (default: equal)."
    )

    @_model_validator(mode="after")
    def _matching(self) -> EmpiricalCountForm:
        _check_weights(self.values, self.weights)
        return self


class _ChoiceForm(_Form):
    """A mapping naming exactly one distribution."""

    kinds: ClassVar[tuple[str, ...]] = ()
    #: Keys that belong to the other family, with the reason they are refused here.
    misplaced: ClassVar[dict[str, str]] = {}

    @classmethod
    def _unknown_key_message(cls, key: object, allowed: list[str]) -> str:
        if isinstance(key, str) and key in cls.misplaced:
            return cls.misplaced[key]
        hint = suggest(key, list(cls.kinds)) if isinstance(key, str) else None
        message = f"unknown distribution {shown(key)}"
        if hint:
            message += f"; did you mean {hint!r}?"
        return message + f" ({cls.label} is one of: {', '.join(cls.kinds)})"

    @_model_validator(mode="after")
    def _exactly_one(self) -> _ChoiceForm:
        chosen = [kind for kind in self.kinds if getattr(self, kind) is not None]
        if len(chosen) != 1:
            got = "none" if not chosen else ", ".join(chosen)
            raise ValueError(f"name exactly one distribution ({', '.join(self.kinds)}), got {got}")
        return self


class DurationDistributionForm(_ChoiceForm):
    """A duration distribution: exactly one of `exponential`, `lognormal`, `uniform`, `empirical`."""

    model_config = ConfigDict(
        title="Duration distribution", json_schema_extra={"minProperties": 1, "maxProperties": 1}
    )
    label: ClassVar[str] = "a duration distribution"
    example: ClassVar[str] = "{exponential: {mean: 5s}}"
    kinds: ClassVar[tuple[str, ...]] = ("exponential", "lognormal", "uniform", "empirical")
    misplaced: ClassVar[dict[str, str]] = {
        "poisson": "poisson is a count distribution; a duration is one of: exponential, lognormal, "
        "uniform, empirical",
        "min": "min/max clamps apply to counts (devices, tabs) only, not to durations",
        "max": "min/max clamps apply to counts (devices, tabs) only, not to durations",
    }

    exponential: ExponentialForm | None = None
    lognormal: LogNormalForm | None = None
    uniform: UniformForm | None = None
    empirical: EmpiricalForm | None = None


class CountDistributionForm(_ChoiceForm):
    """A count distribution: exactly one of `poisson`, `uniform`, `empirical`, with optional clamps."""

    model_config = ConfigDict(
        title="Count distribution",
        json_schema_extra={
            "oneOf": [{"required": ["poisson"]}, {"required": ["uniform"]}, {"required": ["empirical"]}]
        },
    )
    label: ClassVar[str] = "a count distribution"
    example: ClassVar[str] = "{poisson: {mean: 1.5}, min: 1}"
    kinds: ClassVar[tuple[str, ...]] = ("poisson", "uniform", "empirical")
    misplaced: ClassVar[dict[str, str]] = {
        kind: f"{kind} is a duration distribution; a count is one of: poisson, uniform, empirical"
        for kind in ("exponential", "lognormal")
    }

    poisson: PoissonCountForm | None = None
    uniform: UniformCountForm | None = None
    empirical: EmpiricalCountForm | None = None
    min: CountValue | None = Field(default=None, description="Draws below this become it.")
    max: CountValue | None = Field(default=None, description="Draws above this become it.")

    @_model_validator(mode="after")
    def _clamps_ordered(self) -> CountDistributionForm:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise rule_error("max", f"max must be at least min, got min {self.min} and max {self.max}")
        return self


def _build_duration(form: DurationDistributionForm) -> DurationDistribution:
    if form.exponential is not None:
        return Exponential(form.exponential.mean)
    if form.lognormal is not None:
        return LogNormal(form.lognormal.median, form.lognormal.sigma)
    if form.uniform is not None:
        return Uniform(form.uniform.low, form.uniform.high)
    assert form.empirical is not None
    values = tuple(form.empirical.values)
    weights = tuple(form.empirical.weights or [1.0] * len(values))
    return Empirical(values, weights)


def _build_count(form: CountDistributionForm) -> CountDistribution:
    low, high = form.min, form.max
    if form.poisson is not None:
        return Poisson(form.poisson.mean, low, high)
    if form.uniform is not None:
        return UniformCount(form.uniform.low, form.uniform.high, low, high)
    assert form.empirical is not None
    values = tuple(form.empirical.values)
    weights = tuple(form.empirical.weights or [1.0] * len(values))
    return EmpiricalCount(values, weights, low, high)


def _fixed_duration(value: object) -> Fixed:
    try:
        return Fixed(as_duration(value))
    except ValueError as exc:
        raise ValueError(f"{exc}; or a distribution such as {DurationDistributionForm.example}") from None


def _fixed_count(value: object) -> FixedCount:
    try:
        return FixedCount(as_whole(value, 0, MAX_COUNT))
    except ValueError as exc:
        raise ValueError(f"{exc}; or a distribution such as {CountDistributionForm.example}") from None


@dataclass(frozen=True)
class _DistributionField:
    """Pydantic metadata: parse a plain value or a distribution mapping into a distribution object."""

    family: type[Distribution]
    form: type[_ChoiceForm]
    build: Callable[[Any], Distribution]
    fixed: Callable[[object], Distribution]
    scalar_json: dict[str, Any]

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        form_schema = handler.generate_schema(self.form)

        def validate(value: Any, inner: core_schema.ValidatorFunctionWrapHandler) -> Distribution:
            if isinstance(value, self.family):
                return value
            if isinstance(value, dict):
                return self.build(inner(value))
            return self.fixed(value)

        return core_schema.no_info_wrap_validator_function(
            validate,
            form_schema,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda d: d.to_config()),
        )

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: Any) -> dict[str, Any]:
        return {"anyOf": [dict(self.scalar_json), handler(schema)]}


#: A pydantic field type: a duration distribution, written as `1h` or `{lognormal: {...}}`.
DurationDist = Annotated[
    DurationDistribution,
    _DistributionField(
        DurationDistribution, DurationDistributionForm, _build_duration, _fixed_duration, DURATION_JSON
    ),
]
#: A pydantic field type: a count distribution (>= 0), written as `2` or `{poisson: {...}, min: 1}`.
CountDist = Annotated[
    CountDistribution,
    _DistributionField(
        CountDistribution,
        CountDistributionForm,
        _build_count,
        _fixed_count,
        {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
    ),
]

__all__ = [
    "CountDist",
    "CountDistribution",
    "CountDistributionForm",
    "Distribution",
    "DurationDist",
    "DurationDistribution",
    "DurationDistributionForm",
    "Empirical",
    "EmpiricalCount",
    "Exponential",
    "Fixed",
    "FixedCount",
    "LogNormal",
    "Poisson",
    "Uniform",
    "UniformCount",
]
