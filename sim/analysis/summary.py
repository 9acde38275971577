"""Typed summaries of results: a run's `summary.json`, a sweep's and a comparison's, as objects.

Every workflow returns one of these and every reader (the report, `check`, the API) reads them, instead of
passing dicts around. Each writes itself as JSON with `to_json()` and reads itself back with `read(path)`,
which names the file and the field when something is missing or malformed.

The files hold no timestamps: the same scenario and seed give the same file byte for byte (on the same
versions of the libraries recorded in `library_versions`; numpy does not promise the same random streams
across versions).
"""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_serializer

from sim import __version__
from sim.analysis.stats import json_number, mean_ci
from sim.core.durations import DAY
from sim.core.metric_names import ALL, METRIC_UNITS, metric_range
from sim.core.validation import suggest

if TYPE_CHECKING:
    import pandas as pd

    from sim.scenario.model import Scenario

SUMMARY_FORMAT: Final = 1
SWEEP_FORMAT: Final = 1
#: The libraries whose versions decide the numbers (random streams, statistics): recorded in every file.
RECORDED_LIBRARIES = ("numpy", "scipy", "simpy", "pandas", "pyarrow")


class ResultFileError(ValueError):
    """A results file that is missing, not JSON, or not what tokensim writes (names the file and field)."""


class UnknownMetricError(KeyError):
    """A metric or persona name that the results do not have (with the nearest valid name)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown metric"


def library_versions() -> dict[str, str]:
    """The installed versions of Python and of the libraries that decide the numbers."""
    versions = {"python": platform.python_version()}
    for name in RECORDED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover - every one is a dependency
            versions[name] = "not installed"
    return versions


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Estimate(_Frozen):
    """One metric's mean over replications and its 95% confidence interval (`None`: no value)."""

    mean: float | None
    ci95: tuple[float | None, float | None]
    unit: str

    @property
    def low(self) -> float | None:
        """The interval's lower bound, None without an interval."""
        return self.ci95[0]

    @property
    def high(self) -> float | None:
        """The interval's upper bound, None without an interval."""
        return self.ci95[1]

    @property
    def has_interval(self) -> bool:
        """True when there is a mean and both bounds."""
        return self.mean is not None and self.low is not None and self.high is not None

    @property
    def zero_width(self) -> bool:
        """True when every replication gave the same value: the interval has no width, which is not
        certainty (more replications, or a larger population, may still vary)."""
        return self.has_interval and self.low == self.high

    @classmethod
    def of(cls, values: list[float], name: str) -> Estimate:
        """The estimate of metric `name` from its per-replication values (intervals cut to its range)."""
        mean, low, high = mean_ci(values, within=metric_range(name))
        interval = (json_number(low), json_number(high))
        return cls(mean=json_number(mean), ci95=interval, unit=METRIC_UNITS[name])


class Difference(_Frozen):
    """A paired difference between two results with its paired and unpaired (Welch) 95% intervals."""

    mean: float | None
    ci95: tuple[float | None, float | None]
    unpaired_ci95: tuple[float | None, float | None]

    @property
    def low(self) -> float | None:
        """The paired interval's lower bound."""
        return self.ci95[0]

    @property
    def high(self) -> float | None:
        """The paired interval's upper bound."""
        return self.ci95[1]


Metrics = dict[str, Estimate]
#: The header fields every results file starts with, in their order in the file.
_HEADER_KEYS = ("scenario", "description", "tool_version", "library_versions", "seed", "replications")


class _Results(_Frozen):
    """What every results file says about the run: scenario, versions, seed, size, window."""

    scenario: str
    description: str = ""
    tool_version: str
    library_versions: dict[str, str] = Field(default_factory=dict)
    seed: int
    replications: int

    def to_json(self) -> str:
        """The file's text: indented JSON, no NaN, a final newline."""
        return json.dumps(self.model_dump(mode="json"), indent=2, allow_nan=False) + "\n"

    @classmethod
    def read(cls, path: str | Path) -> Self:
        """Read and validate a file written by `to_json`; ResultFileError naming the file and field."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ResultFileError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ResultFileError(f"{path}: cannot read it ({exc})") from None
        except json.JSONDecodeError as exc:
            raise ResultFileError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        return cls.parse(data, str(path))

    @classmethod
    def parse(cls, data: object, source: str = "summary") -> Self:
        """Validate already-loaded JSON; ResultFileError naming `source` and the field."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the top level"
            raise ResultFileError(
                f"{source}: not a tokensim {cls.__name__} ({where}: {first['msg']})"
            ) from None


def _estimates(metrics: Mapping[str, Estimate], name: str, where: str) -> Estimate:
    try:
        return metrics[name]
    except KeyError:
        hint = suggest(name, list(metrics))
        known = f"; did you mean {hint!r}?" if hint else "; see the README's metrics table"
        raise UnknownMetricError(f"no metric {name!r} in {where}{known}") from None


class _MetricsOwner(_Frozen):
    """Results with metrics for everyone and per persona."""

    metrics: Metrics
    by_persona: dict[str, Metrics]

    def estimate(self, name: str, persona: str | None = None) -> Estimate:
        """One metric, for everyone (`persona` None or `"*"`) or one persona; UnknownMetricError (with
        the nearest valid name) when there is no such metric or persona."""
        if persona is None or persona == ALL:
            return _estimates(self.metrics, name, "the results")
        if persona not in self.by_persona:
            hint = suggest(persona, list(self.by_persona))
            known = f"; did you mean {hint!r}?" if hint else f" (personas: {', '.join(self.by_persona)})"
            raise UnknownMetricError(f"no persona {persona!r} in the results{known}")
        return _estimates(self.by_persona[persona], name, f"the results of persona {persona!r}")

    def groups(self) -> Iterator[tuple[str, Metrics]]:
        """(persona, metrics) for everyone (`"*"`) and then each persona."""
        yield ALL, self.metrics
        yield from self.by_persona.items()


class CellInfo(_Frozen):
    """Which sweep cell a run is: its id, label and overrides."""

    id: str
    label: str
    overrides: dict[str, Any]


class RunSummary(_Results, _MetricsOwner):
    """The content of a run's `summary.json`."""

    format: Literal[1] = SUMMARY_FORMAT
    users: int
    horizon_days: float
    warmup_days: float
    per_replication: dict[str, list[float | None]]
    resolved_scenario: dict[str, Any]
    #: Set for a sweep's per-cell summary (`cells/<id>/summary.json`), left out otherwise.
    cell: CellInfo | None = None

    @model_serializer(mode="wrap")
    def _serialise(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        keys = ("format", *_HEADER_KEYS, "users", "horizon_days", "warmup_days", "metrics", "by_persona",
                "per_replication", "resolved_scenario")
        ordered = {key: data[key] for key in keys}
        if data.get("cell") is not None:
            ordered["cell"] = data["cell"]
        return ordered

    @property
    def policy(self) -> dict[str, Any]:
        """The resolved policy, in its YAML form."""
        return dict(self.resolved_scenario["policy"])

    @property
    def cap(self) -> int | None:
        """The per-user cap of the policy (None: unlimited)."""
        return policy_cap(self.resolved_scenario.get("policy", {}))

    @property
    def users_by_persona(self) -> dict[str, int]:
        """Users of each persona, in the order of the scenario."""
        return {p["name"]: int(p["users"]) for p in self.resolved_scenario["population"]}

    @property
    def warmup_seconds(self) -> float:
        """The warm-up in seconds."""
        return self.warmup_days * DAY

    @property
    def horizon_seconds(self) -> float:
        """The horizon in seconds."""
        return self.horizon_days * DAY


def policy_cap(policy: Mapping[str, Any]) -> int | None:
    """The per-user cap of a policy in its YAML form (None: unlimited)."""
    cap = policy.get("max_tokens_per_user")
    return cap if isinstance(cap, int) and not isinstance(cap, bool) else None


class CellSummary(_MetricsOwner):
    """One cell of a sweep's summary.json."""

    cell: str
    label: str
    overrides: dict[str, Any]
    users: int
    #: Every metric's difference from the baseline cell (everyone); None for the baseline itself.
    difference_from_baseline: dict[str, Difference] | None = None

    @model_serializer(mode="wrap")
    def _serialise(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        ordered = {key: data[key] for key in ("cell", "label", "overrides", "users", "metrics", "by_persona")}
        if data.get("difference_from_baseline") is not None:
            ordered["difference_from_baseline"] = data["difference_from_baseline"]
        return ordered


class SkippedCell(_Frozen):
    """A sweep cell that could not run, and why."""

    cell: str
    label: str
    overrides: dict[str, Any]
    error: str | None


class SweepSummary(_Results):
    """The content of a sweep's summary.json."""

    format: Literal[1] = SWEEP_FORMAT
    kind: Literal["sweep"] = "sweep"
    horizon_days: float
    warmup_days: float
    swept: list[str]
    baseline: str
    cells: list[CellSummary]
    skipped: list[SkippedCell]
    resolved_scenario: dict[str, Any]

    @model_serializer(mode="wrap")
    def _serialise(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        keys = ("format", "kind", *_HEADER_KEYS, "horizon_days", "warmup_days", "swept", "baseline", "cells",
                "skipped", "resolved_scenario")
        return {key: data[key] for key in keys}

    def cell(self, cell_id: str) -> CellSummary:
        """The cell with this id."""
        for cell in self.cells:
            if cell.cell == cell_id:
                return cell
        raise KeyError(cell_id)


def header(scenario: Scenario) -> dict[str, Any]:
    """What every results file says about the run: scenario, versions, seed, size and window."""
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "tool_version": __version__,
        "library_versions": library_versions(),
        "seed": scenario.seed,
        "replications": scenario.replications,
        "users": sum(p.users for p in scenario.population),
        "horizon_days": scenario.horizon / DAY,
        "warmup_days": scenario.warmup / DAY,
    }


def build_summary(
    scenario: Scenario, per_replication: pd.DataFrame, cell: CellInfo | None = None
) -> RunSummary:
    """The summary of a run from its per-replication metrics (one row per replication and persona)."""
    metric_names = [name for name in METRIC_UNITS if name in per_replication.columns]

    def estimates(frame: pd.DataFrame) -> Metrics:
        return {name: Estimate.of(frame[name].astype(float).tolist(), name) for name in metric_names}

    overall = per_replication[per_replication["persona"] == ALL].sort_values("replication")
    by_persona = {
        persona.name: estimates(per_replication[per_replication["persona"] == persona.name])
        for persona in scenario.population
    }
    return RunSummary(
        **header(scenario),
        metrics=estimates(overall),
        by_persona=by_persona,
        per_replication={
            name: [json_number(v) for v in overall[name].astype(float)] for name in metric_names
        },
        resolved_scenario=scenario.to_config(),
        cell=cell,
    )


def finite(value: float | None) -> float:
    """A value for arithmetic: NaN for a missing one."""
    return math.nan if value is None else float(value)


class MetricLabel(_Frozen):
    """A compared metric's label and unit."""

    label: str
    unit: str


class ComparisonRow(_Frozen):
    """One preset's mean and 95% interval of one metric, for one persona (`*`: everyone)."""

    preset: str
    persona: str
    metric: str
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    unit: str


class DifferenceRow(BaseModel):
    """One preset's metric minus the baseline's, paired by replication (Student's t) and unpaired (Welch);
    `diff_rep<r>` fields hold the per-replication differences."""

    model_config = ConfigDict(frozen=True, extra="allow")

    preset: str
    baseline: str
    persona: str
    metric: str
    mean_diff: float | None
    ci_low: float | None
    ci_high: float | None
    unpaired_ci_low: float | None
    unpaired_ci_high: float | None
    unit: str | None


class TradeoffRow(_Frozen):
    """One point of the friction/exposure trade-off (see `sim.analysis.tradeoff`)."""

    preset: str
    friction: float | None
    friction_low: float | None
    friction_high: float | None
    exposure_days: float | None
    exposure_low: float | None
    exposure_high: float | None
    exposure_source: str
    pareto: bool


class ComparisonSummary(_Results):
    """The content of `comparison.json`: one population under several vendor presets' defaults."""

    format: Literal[1] = 1
    kind: Literal["compare"] = "compare"
    users: int
    horizon_days: float
    warmup_days: float
    presets: list[str]
    baseline: str
    metrics: dict[str, MetricLabel]
    comparison: list[ComparisonRow]
    differences: list[DifferenceRow]
    tradeoff: list[TradeoffRow]
    pareto_front: list[str]
    policies: dict[str, dict[str, Any]]
    scenario_without_policy: dict[str, Any]

    @model_serializer(mode="wrap")
    def _serialise(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        keys = ("format", "kind", *_HEADER_KEYS, "users", "horizon_days", "warmup_days", "presets",
                "baseline", "metrics", "comparison", "differences", "tradeoff", "pareto_front", "policies",
                "scenario_without_policy")
        return {key: data[key] for key in keys}

    def row(self, preset: str, metric: str, persona: str = ALL) -> ComparisonRow | None:
        """The comparison row of one preset and metric (None when there is none)."""
        for row in self.comparison:
            if row.preset == preset and row.metric == metric and row.persona == persona:
                return row
        return None

    def difference(self, preset: str, metric: str, persona: str = ALL) -> DifferenceRow | None:
        """The difference row of one preset and metric against the baseline (None when there is none)."""
        for row in self.differences:
            if row.preset == preset and row.metric == metric and row.persona == persona:
                return row
        return None
