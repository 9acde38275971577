"""Two forms of activity beyond the fixed schedules: a fitted weekly profile, and a replayed trace.

- `schedule: {profile: [[24 values] x 7]}`: relative session-start rates for each hour of the week,
  Monday first (what `tokensim fit` writes when none of `always`, `weekdays`, `business_hours` fits).
  `sessions_per_day` stays the rate per *active day* (a day whose row is not all zero), so the profile
  that is 1 from 08:00 to 18:00 on weekdays and 0 elsewhere is exactly `business_hours`.
- `trace: FILE` or `trace: {path: FILE, sampling: ..., repeat: ...}`: the persona's users, devices and
  sessions come from a recorded trace (sim/model/replay.py); the path is relative to the scenario file.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import core_schema

from sim.core.distributions import NonNegativeNumber, rule_error, shown
from sim.core.validation import suggest
from sim.scenario.trace_file import resolve, trace_shape

#: The fixed schedules, by name.
SCHEDULES: tuple[str, ...] = ("always", "weekdays", "business_hours")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def base_dir(info: ValidationInfo | None) -> str | None:
    """The folder relative trace paths start from (the scenario file's; None: the current directory)."""
    context = info.context if info is not None else None
    return context.get("base_dir") if isinstance(context, dict) else None


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _rows_json(schema: dict[str, Any]) -> None:
    """In the JSON Schema, a profile is 7 rows of 24 numbers."""
    rows = dict(schema["items"])
    rows.update(minItems=24, maxItems=24)
    schema.update(minItems=7, maxItems=7, items=rows)


class WeeklyProfile(_Section):
    """A weekly activity profile: relative session-start rates for each hour of the week."""

    profile: tuple[tuple[NonNegativeNumber, ...], ...] = Field(
        json_schema_extra=lambda schema: _rows_json(schema),
        description="7 rows (Monday to Sunday) of 24 relative rates (hours 00-23, the trace's local time); "
        "only their ratios matter. sessions_per_day is the rate per day whose row is not all zero.",
    )

    @field_validator("profile")
    @classmethod
    def _shape(cls, rows: tuple[tuple[float, ...], ...]) -> tuple[tuple[float, ...], ...]:
        if len(rows) != 7:
            raise ValueError(f"must have 7 rows, Monday to Sunday, got {len(rows)}")
        for index, row in enumerate(rows):
            if len(row) != 24:
                raise rule_error(
                    index, f"{WEEKDAYS[index]} must have 24 values (hours 00 to 23), got {len(row)}"
                )
        if not any(value > 0 for row in rows for value in row):
            raise ValueError("must have at least one rate above 0 (all zero: no session would ever start)")
        return rows

    @property
    def active_days(self) -> int:
        """Days of the week whose row is not all zero."""
        return sum(1 for row in self.profile if any(value > 0 for value in row))


class _ScheduleField:
    """Pydantic metadata: a schedule is a fixed schedule's name or a `{profile: ...}` mapping."""

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        profile_schema = handler.generate_schema(WeeklyProfile)

        def validate(value: Any, inner: core_schema.ValidatorFunctionWrapHandler) -> str | WeeklyProfile:
            if isinstance(value, WeeklyProfile):
                return value
            if isinstance(value, str):
                if value in SCHEDULES:
                    return value
                hint = suggest(value, SCHEDULES)
                message = f"unknown schedule {shown(value)}"
                message += f"; did you mean {hint!r}?" if hint else ""
                raise ValueError(f"{message} (allowed: {', '.join(SCHEDULES)}, or {{profile: [...]}})")
            if isinstance(value, dict):
                profile: WeeklyProfile = inner(value)
                return profile
            raise ValueError(
                f"must be one of {', '.join(SCHEDULES)} or a weekly profile "
                f"{{profile: [7 rows of 24 rates]}}, got {shown(value)}"
            )

        def serialize(value: str | WeeklyProfile) -> Any:
            return value if isinstance(value, str) else {"profile": [list(row) for row in value.profile]}

        serialization = core_schema.plain_serializer_function_ser_schema(serialize)
        return core_schema.no_info_wrap_validator_function(
            validate, profile_schema, serialization=serialization
        )

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: Any) -> dict[str, Any]:
        return {"anyOf": [{"enum": list(SCHEDULES)}, handler(schema)]}


class TraceReplay(_Section):
    """Sessions replayed from a recorded trace (docs/replay-fit.md)."""

    path: str = Field(
        description="The trace's sessions file (trace.parquet, as `tokensim ingest` writes it, with "
        "trace.users.parquet beside it), relative to the scenario file.",
    )
    sampling: Literal["recorded", "bootstrap"] | None = Field(
        default=None,
        description="recorded: the trace's users as they are (every replication the same users); "
        "bootstrap: `users` users drawn with replacement from the trace's, afresh in every replication. "
        "Default: bootstrap when the persona gives `users`, else recorded.",
    )
    repeat: bool = Field(
        default=False,
        strict=True,
        description="Repeat the trace's whole weeks when the horizon is longer than the trace "
        "(false: a longer horizon is an error).",
    )

    @field_validator("path")
    @classmethod
    def _readable_trace(cls, value: str, info: ValidationInfo) -> str:
        if not value.strip():
            raise ValueError("must name the trace file, e.g. trace.parquet")
        path = resolve(value, base_dir(info))
        trace_shape(path)  # raises TraceFileError (a ValueError) saying what is wrong with the file
        return path


def trace_form(value: object) -> object:
    """`trace: FILE` is short for `trace: {path: FILE}`."""
    return {"path": value} if isinstance(value, str) else value


def path_or_mapping_json(schema: dict[str, Any]) -> None:
    """In the JSON Schema, `trace` is a file name or the full mapping."""
    ref = {key: schema.pop(key) for key in list(schema) if key in ("$ref", "allOf", "anyOf", "x-ref")}
    schema["anyOf"] = [{"type": "string", "minLength": 1}, ref]


#: The pydantic field type of a schedule (a name or a weekly profile).
ScheduleField = _ScheduleField()


def persona_json(schema: dict[str, Any]) -> None:
    """In the JSON Schema of a persona, `users` is required unless its activity replays a trace."""
    schema["required"] = [name for name in schema.get("required", []) if name != "users"]
    schema["if"] = {"not": {"required": ["activity"], "properties": {"activity": {"required": ["trace"]}}}}
    schema["then"] = {"required": ["users"]}
