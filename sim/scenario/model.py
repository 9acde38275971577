"""The scenario model: who the users are, how they behave, and which refresh-token policy they meet.

A `Scenario` is validated once (from YAML by `sim.scenario.loader`, or from a dict) and is immutable.
Durations are seconds (float); distributions are the fast objects of `sim.core.distributions`.
`to_config()` gives the fully resolved scenario back in its YAML form.

Defaults are written in their YAML form (`"0s"`, `{uniform: ...}`) and validated like user input, so
the JSON Schema shows them as a user would write them.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from sim.core.distributions import (
    CountDist,
    CountDistribution,
    DurationDist,
    NonNegativeDuration,
    PositiveDuration,
    Probability,
    Rate,
    as_number,
    as_whole,
    rule_error,
    shown,
)
from sim.core.durations import WEEK, format_duration
from sim.core.metric_names import ALL
from sim.core.validation import ConfigError, Problem, suggest
from sim.policy.model import Policy
from sim.policy.presets.base import support
from sim.scenario.activity import (
    SCHEDULES,
    ScheduleField,
    TraceReplay,
    WeeklyProfile,
    base_dir,
    path_or_mapping_json,
    persona_json,
    trace_form,
)
from sim.scenario.invariants import Invariant
from sim.scenario.optimize import Optimize, Uncertain, parse_objective
from sim.scenario.paths import check_path
from sim.scenario.requirements import parse_requirement
from sim.scenario.threats import Storage, Threats
from sim.scenario.trace_file import TraceFileError, resolve, trace_shape

#: The most refresh requests one timeline of an invariant's behaviour class may make (verify stays fast).
MAX_TIMELINE_REQUESTS = 100_000

__all__ = ["SCHEDULES", "WeeklyProfile"]
#: Activity fields a trace replaces (the trace gives the sessions), and persona fields it replaces.
TRACE_REPLACES_ACTIVITY = ("schedule", "sessions_per_day", "session_duration")
TRACE_REPLACES_PERSONA = ("devices", "absences")


def _positive_rate(value: object) -> float:
    number = as_number(value)
    if number <= 0:
        raise ValueError(f"must be a rate greater than 0, got {shown(value)}")
    return number


def _text(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        raise ValueError("must not be empty")
    return value


def _at_least_one(dist: CountDistribution) -> CountDistribution:
    if dist.lowest < 1:
        if isinstance(dist.to_config(), int):
            raise ValueError(f"must be at least 1, got {dist.lowest}")
        kind = next(iter(dist.to_config()))
        raise ValueError(
            f"must be at least 1 on every draw, but this {kind} distribution can give {dist.lowest}; "
            f"add 'min: 1' beside '{kind}'"
        )
    return dist


def _at_least_one_json(schema: dict[str, Any]) -> None:
    """In the JSON Schema of devices/tabs, a plain count must be at least 1."""
    for option in schema.get("anyOf", []):
        if option.get("type") == "integer":
            option["minimum"] = 1


PositiveRate = Annotated[float, Field(gt=0), BeforeValidator(_positive_rate)]
Name = Annotated[str, Field(min_length=1), BeforeValidator(_text)]
Users = Annotated[int, Field(ge=1), BeforeValidator(lambda v: as_whole(v, 1))]
Seed = Annotated[int, Field(ge=0), BeforeValidator(lambda v: as_whole(v, 0))]
Replications = Annotated[int, Field(ge=1), BeforeValidator(lambda v: as_whole(v, 1))]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Activity(_Section):
    """When the persona's users are active and what a session looks like."""

    schedule: Annotated[str | WeeklyProfile, ScheduleField] = Field(
        default="always",
        description="When sessions may start: always; weekdays (Monday to Friday, all day); "
        "business_hours (Monday to Friday, 08:00-18:00); or a weekly profile {profile: 7 rows of 24 "
        "relative hourly rates, Monday first}.",
    )
    sessions_per_day: PositiveRate = Field(
        default=1.0, description="Poisson rate of session starts per day while the schedule is active."
    )
    session_duration: DurationDist = Field(
        default="0s",
        validate_default=True,
        description="How long a session lasts (the app refreshes as access tokens expire meanwhile).",
    )
    fresh_login: Probability = Field(
        default=0.0, description="Chance that a session starts with a new login instead of a stored token."
    )
    trace: Annotated[TraceReplay | None, BeforeValidator(trace_form)] = Field(
        default=None,
        json_schema_extra=path_or_mapping_json,
        description="Replay a recorded trace instead of drawing sessions: a trace file (trace.parquet, "
        "relative to the scenario file) or {path, sampling, repeat}. Each recorded device replays its "
        "sessions; schedule, sessions_per_day and session_duration (and the persona's devices and "
        "absences) are then not used.",
    )

    @model_validator(mode="after")
    def _trace_alone(self) -> Activity:
        if self.trace is not None:
            for name in TRACE_REPLACES_ACTIVITY:
                if name in self.model_fields_set:
                    raise rule_error(name, "not used with a trace (the trace gives the sessions); remove it")
        return self

    @property
    def weekly_profile(self) -> WeeklyProfile | None:
        """The schedule's weekly profile, or None for a fixed schedule."""
        return self.schedule if isinstance(self.schedule, WeeklyProfile) else None


class Absences(_Section):
    """Holidays and leave: periods without any session."""

    per_year: Rate = Field(default=0.0, description="Absences per user and year (a Poisson rate).")
    duration: DurationDist = Field(
        default="14d", validate_default=True, description="How long one absence lasts."
    )


class Clients(_Section):
    """How the client application refreshes its tokens."""

    tabs: CountDist = Field(
        default=1,
        validate_default=True,
        json_schema_extra=_at_least_one_json,
        description="Tabs (or app instances) per device that refresh concurrently; at least 1 on every draw.",
    )
    refresh_lock: bool = Field(
        default=False,
        strict=True,
        description="True when the tabs share a lock so that only one refreshes at a time.",
    )
    race_window: DurationDist = Field(
        default={"uniform": {"low": "0s", "high": "2s"}},
        validate_default=True,
        description="Spread between the tabs' refresh attempts when they race (no lock).",
    )

    @field_validator("tabs")
    @classmethod
    def _tabs_positive(cls, value: CountDistribution) -> CountDistribution:
        return _at_least_one(value)


class Faults(_Section):
    """Network and storage failures around refreshes."""

    lost_refresh_response: Probability = Field(
        default=0.0,
        description="Probability per refresh that the server handles it but the response never arrives.",
    )
    retry_after: DurationDist = Field(
        default={"exponential": {"mean": "5s"}},
        validate_default=True,
        description="Delay before the client retries a refresh whose response was lost.",
    )
    persist_failure: Probability = Field(
        default=0.0,
        description="Probability per refresh that the client fails to store the new refresh token.",
    )


class Lifecycle(_Section):
    """Events that end a user's tokens outside normal use."""

    device_replaced_per_year: Rate = Field(
        default=0.0, description="Device replacements per device and year (a Poisson rate)."
    )
    logout_at_session_end: Probability = Field(
        default=0.0, description="Probability that a session ends with an explicit logout."
    )
    password_changes_per_year: Rate = Field(
        default=0.0, description="Password changes per user and year (a Poisson rate)."
    )


class Persona(_Section):
    """A group of users who behave alike."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=persona_json)

    name: Name = Field(description="A unique name, used in the results.")
    users: Users = Field(
        description="How many users this persona has (at least 1); with a trace, how many to draw from it "
        "(default: the trace's users, replayed as recorded)."
    )
    devices: CountDist = Field(
        default=1,
        validate_default=True,
        json_schema_extra=_at_least_one_json,
        description="Devices per user, drawn once per user; at least 1 on every draw.",
    )
    activity: Activity = Field(default_factory=Activity, description=Activity.__doc__)
    absences: Absences = Field(default_factory=Absences, description=Absences.__doc__)
    clients: Clients = Field(default_factory=Clients, description=Clients.__doc__)
    faults: Faults = Field(default_factory=Faults, description=Faults.__doc__)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle, description=Lifecycle.__doc__)
    threats: Threats | None = Field(default=None, description=Threats.__doc__)

    @field_validator("devices")
    @classmethod
    def _devices_positive(cls, value: CountDistribution) -> CountDistribution:
        return _at_least_one(value)

    @model_validator(mode="before")
    @classmethod
    def _replayed_users(cls, data: Any, info: ValidationInfo) -> Any:
        """With a trace: `users` defaults to the trace's users, `sampling` to recorded/bootstrap."""
        if not isinstance(data, dict) or not isinstance(data.get("activity"), dict):
            return data
        trace = trace_form(data["activity"].get("trace"))
        if not isinstance(trace, dict) or not isinstance(trace.get("path"), str):
            return data
        data = dict(data)
        if trace.get("sampling") is None:
            trace = {**trace, "sampling": "bootstrap" if "users" in data else "recorded"}
        if "users" not in data:
            try:
                data["users"] = trace_shape(resolve(trace["path"], base_dir(info))).users
            except (TraceFileError, OSError):
                data["users"] = 1  # a stand-in: the trace's own error is what gets reported
        data["activity"] = {**data["activity"], "trace": trace}
        return data

    @model_validator(mode="after")
    def _trace_replaces(self) -> Persona:
        trace = self.activity.trace
        if trace is None:
            return self
        for name in TRACE_REPLACES_PERSONA:
            if name in self.model_fields_set:
                message = f"not used with a trace (the trace gives each user's {name}); remove it"
                raise rule_error(name, message)
        recorded = trace_shape(trace.path).users
        if trace.sampling == "recorded" and self.users != recorded:
            raise rule_error(
                "users",
                f"the trace has {recorded} users and sampling is recorded (each replayed once); remove "
                f"users, or set activity.trace.sampling: bootstrap to draw {self.users} of the trace's users",
            )
        return self


def _plain(value: object, depth: int = 0) -> bool:
    """True for YAML's plain data: text, numbers, true/false, null, and lists and mappings of them."""
    if depth > 20:
        return False
    if value is None or isinstance(value, str | int | float | bool):
        return not isinstance(value, float) or math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(_plain(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False


def _override_mapping(value: object) -> object:
    """Overrides: a mapping of dotted paths to plain values (paths are checked against the scenario later)."""
    if not isinstance(value, dict):
        raise ValueError(
            "must be a mapping of dotted paths to values, e.g. {policy.sliding_lifetime: 7d}, "
            f"got {shown(value)}"
        )
    for path, item in value.items():
        if not isinstance(path, str) or not path.strip():
            message = f"an override path must be text such as 'policy.sliding_lifetime', got {shown(path)}"
            raise rule_error(str(path), message)
        if not _plain(item):
            message = f"must be a plain value (text, number, true/false, list or mapping), got {shown(item)}"
            raise rule_error(path, message)
    return value


def _grid(value: object) -> object:
    """A grid: a non-empty mapping of paths to non-empty lists of distinct plain values."""
    if value is None:
        return value
    _override_mapping(value)
    assert isinstance(value, dict)
    if not value:
        raise ValueError(
            "must name at least one path and its values, e.g. policy.sliding_lifetime: [7d, 15d]"
        )
    for path, values in value.items():
        if not isinstance(values, list | tuple) or not values:
            message = f"must be a non-empty list of values to try, e.g. [7d, 15d], got {shown(values)}"
            raise rule_error(path, message)
        seen: set[str] = set()
        for item in values:
            key = json.dumps(item, sort_keys=True)
            if key in seen:
                raise rule_error(path, f"lists the value {shown(item)} twice; each value makes its own cells")
            seen.add(key)
    return value


def _requirement(value: object) -> object:
    parse_requirement(value)  # raises ValueError with the reason and a "did you mean"
    return value.strip() if isinstance(value, str) else value


class Case(_Section):
    """One named variant of the scenario: a set of overrides."""

    name: Name = Field(description="A unique name for the case; it names the cell in the results.")
    overrides: Annotated[dict[str, Any], BeforeValidator(_override_mapping)] = Field(
        default_factory=dict,
        description="Dotted paths into the scenario and the values to use, e.g. "
        "{policy.sliding_lifetime: 7d, population.office.users: 50}; empty: the scenario as written.",
    )


def _trace_value(path: object, value: object, base: str | None) -> object:
    """An override value with a trace file path made absolute (other values unchanged)."""
    if not isinstance(path, str):
        return value
    if path.endswith(".activity.trace.path") and isinstance(value, str):
        return resolve(value, base)
    if path.endswith(".activity.trace"):
        if isinstance(value, str):
            return resolve(value, base)
        if isinstance(value, dict) and isinstance(value.get("path"), str):
            return {**value, "path": resolve(value["path"], base)}
    return value


class Sweep(_Section):
    """Variants of the scenario run on common random numbers: a grid of values, or a list of cases."""

    grid: Annotated[dict[str, tuple[Any, ...]] | None, BeforeValidator(_grid)] = Field(
        default=None,
        description="Dotted paths into the scenario, each with a list of values: every combination is "
        "a cell, in the listed order, the last path varying fastest.",
    )
    cases: tuple[Case, ...] | None = Field(
        default=None, description="Named variants, each a set of overrides; the first is the baseline."
    )

    @field_validator("cases")
    @classmethod
    def _cases(cls, cases: tuple[Case, ...] | None) -> tuple[Case, ...] | None:
        if cases is None:
            return cases
        if not cases:
            raise ValueError("must list at least one case (each with a name and overrides)")
        seen: dict[str, int] = {}
        for index, case in enumerate(cases):
            if case.name in seen:
                first = seen[case.name]
                message = f"duplicate case name {case.name!r} (also cases[{first}]); names must be unique"
                raise rule_error(index, message)
            seen[case.name] = index
        return cases

    @model_validator(mode="before")
    @classmethod
    def _trace_paths(cls, data: Any, info: ValidationInfo) -> Any:
        """Trace files named in overrides are relative to the scenario file, as in the persona itself."""
        if not isinstance(data, dict):
            return data
        base = base_dir(info)
        data = dict(data)
        if isinstance(data.get("grid"), dict):
            data["grid"] = {
                path: [_trace_value(path, v, base) for v in values] if isinstance(values, list) else values
                for path, values in data["grid"].items()
            }
        if isinstance(data.get("cases"), list):
            data["cases"] = [
                {**case, "overrides": {p: _trace_value(p, v, base) for p, v in case["overrides"].items()}}
                if isinstance(case, dict) and isinstance(case.get("overrides"), dict)
                else case
                for case in data["cases"]
            ]
        return data

    @model_validator(mode="after")
    def _grid_or_cases(self) -> Sweep:
        if (self.grid is None) == (self.cases is None):
            given = "both" if self.grid is not None else "neither"
            raise ValueError(
                f"give either grid (every combination of values) or cases (named variants), not {given}"
            )
        return self

    def override_locations(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every override path with its location in the scenario file, e.g. `(("sweep", "grid", p), p)`."""
        if self.grid is not None:
            return [(("sweep", "grid", path), path) for path in self.grid]
        return [
            (("sweep", "cases", index, "overrides", path), path)
            for index, case in enumerate(self.cases or ())
            for path in case.overrides
        ]


def _without_nulls(value: Any) -> Any:
    """A section's YAML form without the fields left unset (null)."""
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    return value


class Scenario(_Section):
    """A tokensim scenario: a refresh-token policy and the population of users that meets it."""

    name: Name = Field(description="A short name for the scenario, used in reports.")
    description: str = Field(default="", description="What the scenario shows.")
    seed: Seed = Field(default=0, description="Seed of the random numbers; same seed, same results.")
    horizon: PositiveDuration = Field(description="Simulated time per replication, e.g. 365d.")
    warmup: NonNegativeDuration = Field(
        default="0d",
        validate_default=True,
        description="Start-up period excluded from the figures; shorter than the horizon.",
    )
    replications: Replications = Field(default=5, description="Independent runs (at least 1).")
    policy: Annotated[Policy, WithJsonSchema({"x-ref": "Policy"})] = Field(
        description="The refresh-token policy (see the policy reference in the README)."
    )
    population: tuple[Persona, ...] = Field(description="One or more personas with unique names.")
    storage: Storage = Field(default_factory=Storage, description=Storage.__doc__)
    sweep: Sweep | None = Field(
        default=None,
        description="Variants to compare with `tokensim sweep`: a grid of values or a list of cases, "
        "each overriding fields given by dotted paths (policy.sliding_lifetime, population.office.users).",
    )
    requirements: tuple[Annotated[str, BeforeValidator(_requirement)], ...] = Field(
        default=(),
        description="Conditions `tokensim check` verifies with 95% confidence, e.g. "
        "'forced_reauth_per_user_month < 0.5' or 'forced_reauth_per_user_month[office] <= 0.3'.",
    )
    optimize: Optimize | None = Field(
        default=None,
        description="What `tokensim optimize` chooses: decision variables (dotted paths), an objective, "
        "requirements and a budget (docs/optimize.md).",
    )
    uncertain: Uncertain | None = Field(
        default=None,
        description="Ranges of what is not known (dotted paths), explored by a Latin hypercube common to "
        "every candidate of `tokensim optimize` and by `tokensim explore`.",
    )
    invariants: tuple[Invariant, ...] = Field(
        default=(),
        description="Promises about the policy that `tokensim verify` proves or searches a counterexample "
        "for: each names a behaviour class (who) and one property (never, no_token_works, replay, "
        "stolen_token_stops, at_most). See docs/verify.md.",
    )

    @field_validator("population")
    @classmethod
    def _population(cls, personas: tuple[Persona, ...]) -> tuple[Persona, ...]:
        if not personas:
            raise ValueError("must list at least one persona (each with a name and users)")
        seen: dict[str, int] = {}
        for index, persona in enumerate(personas):
            if persona.name == ALL:
                raise rule_error(
                    index, f"the persona name {ALL!r} is reserved: it stands for everyone in the results"
                )
            if persona.name in seen:
                raise rule_error(
                    index,
                    f"duplicate persona name {persona.name!r} (also population[{seen[persona.name]}]); "
                    "persona names must be unique",
                )
            seen[persona.name] = index
        return personas

    @field_validator("invariants")
    @classmethod
    def _invariant_names(cls, invariants: tuple[Invariant, ...]) -> tuple[Invariant, ...]:
        seen: dict[str, int] = {}
        for index, invariant in enumerate(invariants):
            if invariant.name in seen:
                message = (
                    f"duplicate invariant name {invariant.name!r} (also invariants[{seen[invariant.name]}]); "
                    "names must be unique"
                )
                raise rule_error(index, message)
            seen[invariant.name] = index
        return invariants

    @model_validator(mode="after")
    def _invariants_bounded(self) -> Scenario:
        shortest_access = support(self.policy.access_token_lifetime)[0]
        errors: list[InitErrorDetails] = []
        for index, invariant in enumerate(self.invariants):
            requests = invariant.who.max_requests(shortest_access)
            if requests > MAX_TIMELINE_REQUESTS:
                message = (
                    f"a timeline of this class can make about {requests:,.0f} refresh requests with access "
                    f"tokens of {format_duration(shortest_access)}; at most {MAX_TIMELINE_REQUESTS:,} keep "
                    "verify fast: shorten over or session_length, or lower sessions, devices, tabs or thefts"
                )
                kind = PydanticCustomError("scenario_rule", "{message}", {"message": message})
                errors.append(InitErrorDetails(type=kind, loc=("invariants", index, "who"), input=None))
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    @model_validator(mode="after")
    def _warmup_before_horizon(self) -> Scenario:
        if self.warmup >= self.horizon:
            raise rule_error(
                "warmup",
                f"must be shorter than the horizon ({format_duration(self.horizon)}), "
                f"got {format_duration(self.warmup)}",
            )
        return self

    @model_validator(mode="after")
    def _traces_cover_the_horizon(self) -> Scenario:
        errors: list[InitErrorDetails] = []
        for index, persona in enumerate(self.population):
            trace = persona.activity.trace
            if trace is None:
                continue
            span = trace_shape(trace.path).span
            message = None
            if trace.repeat and span < WEEK:
                lasts = format_duration(span)
                message = f"repeat needs a trace of at least one whole week; this one lasts {lasts}"
            elif not trace.repeat and self.horizon > span:
                weeks = f"repeat: true to repeat the trace's {int(span // WEEK)} whole week(s)"
                message = (
                    f"the trace lasts {format_duration(span)} (to the end of the day of its latest session) "
                    f"but the horizon is {format_duration(self.horizon)}: shorten the horizon to at most "
                    f"{format_duration(span)}"
                    + (f", or set {weeks}" if span >= WEEK else "")
                )
            if message is not None:
                kind = PydanticCustomError("scenario_rule", "{message}", {"message": message})
                loc = ("population", index, "activity", "trace")
                errors.append(InitErrorDetails(type=kind, loc=loc, input=trace.path))
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    @model_validator(mode="after")
    def _sweep_paths_and_personas(self) -> Scenario:
        errors: list[InitErrorDetails] = []

        def error(loc: tuple[str | int, ...], message: str, value: object) -> None:
            kind = PydanticCustomError("scenario_rule", "{message}", {"message": message})
            errors.append(InitErrorDetails(type=kind, loc=loc, input=value))

        optional = ("sweep", "requirements", "invariants", "optimize", "uncertain")
        config = {k: v for k, v in self.to_config().items() if k not in optional}
        locations = self.sweep.override_locations() if self.sweep is not None else []
        decided: dict[str, tuple[str, ...]] = {}
        for section in ("optimize", "uncertain"):
            block = getattr(self, section)
            for path in block.over if block is not None else {}:
                locations.append(((section, "over", path), path))
                if section == "uncertain" and path in decided:
                    error((section, "over", path), f"{path!r} is also a decision variable (optimize.over); "
                          "a value is either chosen or uncertain", path)
                decided.setdefault(path, (section,))
        for loc, path in locations:
            problem = check_path(config, path)
            if problem is not None:
                error(loc, problem, path)
        personas = {p.name for p in self.population}

        def check_persona(persona: str | None, loc: tuple[str | int, ...], text: str) -> None:
            if persona is not None and persona != "*" and persona not in personas:
                hint = suggest(persona, sorted(personas))
                message = f"no persona named {persona!r} in the population"
                names = ", ".join(sorted(personas))
                message += f"; did you mean {hint!r}?" if hint else f" (personas: {names})"
                error(loc, message, text)

        for index, text in enumerate(self.requirements):
            check_persona(parse_requirement(text).persona, ("requirements", index), text)
        if self.optimize is not None:
            for index, text in enumerate(self.optimize.subject_to):
                check_persona(parse_requirement(text).persona, ("optimize", "subject_to", index), text)
            for text in self.optimize.objectives:
                check_persona(parse_objective(text)[1], ("optimize", self.optimize.sense), text)
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    @field_serializer("policy")
    def _policy_config(self, policy: Policy) -> dict[str, Any]:
        return policy.to_config()

    @field_serializer("invariants")
    def _invariants_config(self, invariants: tuple[Invariant, ...]) -> list[dict[str, Any]]:
        return [invariant.to_config() for invariant in invariants]

    def to_config(self) -> dict[str, Any]:
        """The fully resolved scenario (every default applied) in its YAML form; JSON-serialisable.

        `sweep`, `requirements`, `invariants`, `optimize` and `uncertain` appear only when the scenario has
        them, and a persona's `threats` only when it has that section (so a plain scenario's form, recorded
        in every summary.json, does not depend on these optional sections).
        """
        optional = ("sweep", "requirements", "invariants", "optimize", "uncertain")
        exclude = {name for name in optional if not getattr(self, name)}
        config = self.model_dump(mode="json", exclude=exclude)
        for persona in config["population"]:  # `threats` only where a persona has the section
            if persona.get("threats") is None:
                persona.pop("threats", None)
            activity = persona["activity"]
            if activity.get("trace") is None:  # `trace` only where a persona replays one
                activity.pop("trace", None)
            else:  # what the trace replaces is not part of the persona
                for name in TRACE_REPLACES_ACTIVITY:
                    activity.pop(name, None)
                for name in TRACE_REPLACES_PERSONA:
                    persona.pop(name, None)
        if "sweep" in config:
            config["sweep"] = {key: value for key, value in config["sweep"].items() if value is not None}
        for section in ("optimize", "uncertain"):
            if section in config:
                config[section] = _without_nulls(config[section])
        return config

    def with_overrides(
        self,
        replications: int | None = None,
        seed: int | None = None,
        users_scale: float | None = None,
    ) -> Scenario:
        """A copy with the command line's overrides applied.

        `users_scale` multiplies every persona's users, rounding half up, with at least 1 user left.
        Raises ConfigError for a replication count below 1, a negative seed or a scale that is not > 0.
        """
        update: dict[str, Any] = {}
        problems: list[Problem] = []
        for name, value, low in (("replications", replications, 1), ("seed", seed, 0)):
            if value is None:
                continue
            try:
                update[name] = as_whole(value, low)
            except ValueError as exc:
                problems.append(Problem((name,), str(exc)))
        if users_scale is not None:
            scale = users_scale
            valid = not isinstance(scale, bool) and isinstance(scale, int | float) and math.isfinite(scale)
            if not valid or scale <= 0:
                problems.append(Problem(("users_scale",), f"must be a number greater than 0, got {scale!r}"))
            else:
                update["population"] = tuple(_scaled(persona, scale) for persona in self.population)
        if problems:
            raise ConfigError(problems, source="overrides")
        return self.model_copy(update=update)


def _scaled(persona: Persona, scale: float) -> Persona:
    """The persona with `users` scaled (rounded half up, at least 1).

    A trace replayed as recorded then draws the scaled number of users from the trace (bootstrap).
    """
    users = max(1, math.floor(persona.users * scale + 0.5))
    update: dict[str, Any] = {"users": users}
    trace = persona.activity.trace
    if trace is not None and trace.sampling == "recorded" and users != persona.users:
        replay = trace.model_copy(update={"sampling": "bootstrap"})
        update["activity"] = persona.activity.model_copy(update={"trace": replay})
    return persona.model_copy(update=update)
