"""The `invariants:` section of a scenario: promises about a policy, checked by `tokensim verify`.

An invariant names a **behaviour class** (`who:`, a bounded set of timelines: devices, sessions, gaps,
tabs, lost responses, fresh logins, logouts, password changes, thefts) and one **property** that must hold
on every timeline of the class. It reads like the sentence a team would write:

    - name: a user who opens the app at least every 14 days is never forced to log in
      who: {devices: 1..2, largest_gap: 14d}
      never: forced_login

The grammar lives here, in the scenario layer, so that a scenario file is validated as a whole (file, line,
field, "did you mean"); generating timelines, deciding and searching is `sim.verify`. The reference is
docs/verify.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from sim.core.distributions import (
    DURATION_JSON,
    NonNegativeDuration,
    PositiveDuration,
    as_duration,
    as_whole,
    duration_config,
    rule_error,
    shown,
)
from sim.core.durations import DAY, HOUR, format_duration
from sim.core.reasons import FAILURE_REASONS, REJECTED_CAP
from sim.core.validation import suggest
from sim.scenario.threats import STRATEGIES, Strategy

#: Hard bounds of a behaviour class: every timeline stays small in count and time.
MAX_DEVICES = 20
MAX_SESSIONS = 50
MAX_OVER = 3 * 365 * DAY
MAX_SESSION_LENGTH = 7 * DAY
MAX_TABS = 10
MAX_RACE_WINDOW = HOUR
MAX_LOST_RESPONSES = 20
MAX_RETRY_AFTER = DAY
MAX_OCCURRENCES = 100

#: What `never:` can name: a forced login (of any cause, or `forced_login.<cause>`), an eviction at the
#: cap, a login refused at the cap.
FORCED_LOGIN = "forced_login"
EVICTION = "eviction"
REJECTED_LOGIN = "rejected_login"
#: Why a device's refresh can fail, the causes a forced login can have.
FORCED_CAUSES: tuple[str, ...] = tuple(r for r in FAILURE_REASONS if r != REJECTED_CAP)
NEVER_EVENTS: tuple[str, ...] = (
    FORCED_LOGIN,
    *(f"{FORCED_LOGIN}.{cause}" for cause in FORCED_CAUSES),
    EVICTION,
    REJECTED_LOGIN,
)
#: The property keys of an invariant; exactly one is given.
PROPERTIES: tuple[str, ...] = ("never", "no_token_works", "replay", "stolen_token_stops", "at_most")

_RANGE = re.compile(r"^\s*(?P<low>[^.\s][^\s]*?)\s*\.\.\s*(?P<high>[^\s]+)\s*$")
_RANGE_PATTERN = r"^\s*\S+\s*\.\.\s*\S+\s*$"


# --- ranges -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """A closed range `low..high` of counts or durations (seconds); `low == high` for a single value."""

    low: float
    high: float

    def to_config(self, duration: bool) -> Any:
        """The written form: `3`, `1..5`, `1h`, `0s..2h`."""

        def one(value: float) -> Any:
            return duration_config(value) if duration else int(value)

        if self.low == self.high:
            return one(self.low)
        if duration:
            return f"{format_duration(self.low)}..{format_duration(self.high)}"
        return f"{int(self.low)}..{int(self.high)}"


def _split_range(value: object) -> tuple[object, object]:
    if isinstance(value, str):
        match = _RANGE.match(value)
        if match:
            return match["low"], match["high"]
    return value, value


def _count_span(low_limit: int, high_limit: int, example: str) -> Any:
    def parse(value: object) -> Span:
        if isinstance(value, Span):
            return value
        low_text, high_text = _split_range(value)
        try:
            low = as_whole(_number(low_text), low_limit, high_limit)
            high = as_whole(_number(high_text), low_limit, high_limit)
        except ValueError:
            raise ValueError(
                f"must be a whole number from {low_limit} to {high_limit} or a range such as {example}, "
                f"got {shown(value)}"
            ) from None
        if low > high:
            raise ValueError(f"a range is written low..high, got {shown(value)}")
        return Span(low, high)

    return parse


def _number(text: object) -> object:
    if isinstance(text, str) and text.strip().isdigit():
        return int(text.strip())
    return text


def _duration_span(high_limit: float, example: str) -> Any:
    def parse(value: object) -> Span:
        if isinstance(value, Span):
            return value
        low_text, high_text = _split_range(value)
        try:
            low, high = as_duration(low_text), as_duration(high_text)
        except ValueError:
            raise ValueError(
                f"must be a duration (90s, 15m, 1h, 15d) or a range such as {example}, got {shown(value)}"
            ) from None
        if low > high:
            raise ValueError(f"a range is written low..high, got {shown(value)}")
        if high > high_limit:
            raise ValueError(f"must be at most {format_duration(high_limit)}, got {shown(value)}")
        return Span(low, high)

    return parse


def _count_schema(low: int, high: int) -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "integer", "minimum": low, "maximum": high},
            {"type": "string", "pattern": _RANGE_PATTERN},
        ]
    }


_DURATION_SPAN_SCHEMA: dict[str, Any] = {
    "anyOf": [DURATION_JSON, {"type": "string", "pattern": _RANGE_PATTERN}]
}


def _span_serializer(duration: bool) -> PlainSerializer:
    return PlainSerializer(lambda span: span.to_config(duration))


TabsSpan = Annotated[
    Span,
    BeforeValidator(_count_span(1, MAX_TABS, "1..3")),
    _span_serializer(False),
    WithJsonSchema(_count_schema(1, MAX_TABS)),
]
SessionLength = Annotated[
    Span,
    BeforeValidator(_duration_span(MAX_SESSION_LENGTH, "0s..2h")),
    _span_serializer(True),
    WithJsonSchema(_DURATION_SPAN_SCHEMA),
]
RetrySpan = Annotated[
    Span,
    BeforeValidator(_duration_span(MAX_RETRY_AFTER, "1s..30s")),
    _span_serializer(True),
    WithJsonSchema(_DURATION_SPAN_SCHEMA),
]


@dataclass(frozen=True)
class Devices:
    """How many devices a user has (`low..high`), with their names when the class lists them."""

    low: int
    high: int
    names: tuple[str, ...] = ()

    def name(self, index: int) -> str:
        """The name of the device at `index` (0-based): its listed name, else `device 1`, `device 2`..."""
        return self.names[index] if index < len(self.names) else f"device {index + 1}"

    def to_config(self) -> Any:
        """The written form: `2`, `1..3` or a list of names."""
        if self.names:
            return list(self.names)
        return self.low if self.low == self.high else f"{self.low}..{self.high}"


def _devices(value: object) -> Devices:
    if isinstance(value, Devices):
        return value
    if isinstance(value, list | tuple):
        names = [str(item).strip() if isinstance(item, str) else item for item in value]
        if not names or not all(isinstance(n, str) and n for n in names):
            raise ValueError(f"a list of devices names each device, e.g. [laptop, phone], got {shown(value)}")
        if len(names) > MAX_DEVICES:
            raise ValueError(f"at most {MAX_DEVICES} devices, got {len(names)}")
        for index, name in enumerate(names):
            if name in names[:index]:
                raise rule_error(index, f"the device name {name!r} is listed twice")
        return Devices(len(names), len(names), tuple(names))
    span = _count_span(1, MAX_DEVICES, "1..3")(value)
    return Devices(int(span.low), int(span.high))


DeviceCount = Annotated[
    Devices,
    BeforeValidator(_devices),
    PlainSerializer(lambda devices: devices.to_config()),
    WithJsonSchema(
        {
            "anyOf": [
                *_count_schema(1, MAX_DEVICES)["anyOf"],
                {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
            ]
        }
    ),
]


# --- the behaviour class ------------------------------------------------------------------------------


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Occurrences(_Section):
    """How often an event may happen in a timeline: at most `at_most` times, or per `per` when given."""

    at_most: Annotated[int, Field(ge=0, le=MAX_OCCURRENCES)] = Field(
        description=f"The most times it happens (0 to {MAX_OCCURRENCES}); with `per`, in any window of "
        "that length."
    )
    per: PositiveDuration | None = Field(
        default=None,
        description="A period: at most `at_most` in any window of this length (e.g. 30d); none: in the "
        "whole timeline.",
    )

    @model_validator(mode="before")
    @classmethod
    def _plain_count(cls, data: Any) -> Any:
        if isinstance(data, bool):
            raise ValueError(f"must be a count such as 2 or {{at_most: 2, per: 30d}}, got {shown(data)}")
        if isinstance(data, int | float):
            return {"at_most": as_whole(data, 0, MAX_OCCURRENCES)}
        return data

    @property
    def possible(self) -> bool:
        """True when the event can happen at all."""
        return self.at_most > 0

    def allows(self, times: list[float]) -> bool:
        """True when the sorted event times respect the bound."""
        if self.per is None:
            return len(times) <= self.at_most
        limit = self.at_most
        return all(times[i + limit] - times[i] >= self.per for i in range(len(times) - limit))


def _count_or_occurrences(schema: dict[str, Any]) -> None:
    """In the JSON Schema, an event bound is a plain count or an {at_most, per} mapping."""
    ref = schema.pop("$ref", None) or schema.pop("allOf", [{}])[0].get("$ref")
    schema["anyOf"] = [{"type": "integer", "minimum": 0, "maximum": MAX_OCCURRENCES}, {"$ref": ref}]


def _strategy(value: object) -> object:
    if isinstance(value, str) and value not in STRATEGIES:
        hint = suggest(value, STRATEGIES)
        message = f"unknown attacker strategy {shown(value)}" + (f"; did you mean {hint!r}?" if hint else "")
        raise ValueError(f"{message} (allowed: {', '.join(STRATEGIES)})")
    return value


class Behaviour(_Section):
    """The behaviour class an invariant quantifies over (`who:`): every timeline within these bounds."""

    devices: DeviceCount = Field(
        default=1,
        validate_default=True,
        description=f"Devices of the user: a count, a range such as 1..3 (at most {MAX_DEVICES}), or a list "
        "of names such as [laptop, phone].",
    )
    sessions: Annotated[int, Field(ge=1, le=MAX_SESSIONS)] = Field(
        default=10,
        description=f"At most this many sessions per device (1 to {MAX_SESSIONS}).",
    )
    over: PositiveDuration = Field(
        default="90d",
        validate_default=True,
        description="How long a timeline lasts at most (every session ends by then; at most 3 years).",
    )
    largest_gap: NonNegativeDuration = Field(
        default="1d",
        validate_default=True,
        description="The longest a device goes unused: from the start of the timeline to its first "
        "session, and from the end of one session to the start of the next.",
    )
    smallest_gap: NonNegativeDuration = Field(
        default="0s",
        validate_default=True,
        description="The shortest time between the end of one session of a device and the start of its next.",
    )
    session_length: SessionLength = Field(
        default="0s..2h",
        validate_default=True,
        description="How long a session lasts: a duration or a range such as 0s..8h (at most 7d).",
    )
    tabs: TabsSpan = Field(
        default=1,
        validate_default=True,
        description=f"Tabs (or app instances) that refresh at each access-token expiry during a session: "
        f"a count or a range such as 1..3 (at most {MAX_TABS}).",
    )
    race_window: NonNegativeDuration = Field(
        default="2s",
        validate_default=True,
        description="Racing tabs send their refreshes within this long of each other (at most 1h).",
    )
    refresh_lock: bool = Field(
        default=False,
        strict=True,
        description="True when the tabs share a lock, so that one request is sent per expiry.",
    )
    lost_responses: Annotated[int, Field(ge=0, le=MAX_LOST_RESPONSES)] = Field(
        default=0,
        description="At most this many refresh responses are lost in a timeline (the server handled the "
        "request; the client retries with the token it holds).",
    )
    retry_after: RetrySpan = Field(
        default="1s..30s",
        validate_default=True,
        description="The delay before a client retries a refresh whose response was lost: a duration or a "
        "range.",
    )
    fresh_logins: Occurrences = Field(
        default=0,
        validate_default=True,
        json_schema_extra=_count_or_occurrences,
        description="Sessions that start with a new login instead of the stored token (the old chain is "
        "abandoned on the server), per user: a count, or {at_most: N, per: PERIOD}.",
    )
    logouts: Occurrences = Field(
        default=0,
        validate_default=True,
        json_schema_extra=_count_or_occurrences,
        description="Sessions that end with an explicit logout, per user: a count, or {at_most, per}.",
    )
    password_changes: Occurrences = Field(
        default=0,
        validate_default=True,
        json_schema_extra=_count_or_occurrences,
        description="Password changes (every chain of the user is revoked): a count, or {at_most, per}.",
    )
    thefts: Occurrences = Field(
        default=0,
        validate_default=True,
        json_schema_extra=_count_or_occurrences,
        description="Thefts of a device's tokens, each used by an attacker: a count, or {at_most, per}.",
    )
    attacker: Annotated[Strategy, BeforeValidator(_strategy)] = Field(
        default="immediate",
        description="What an attacker does with a stolen token: immediate (use it at once, then at every "
        "expiry of its access token), when_idle (the same, never while the device is in a session), daily.",
    )

    @field_validator("race_window")
    @classmethod
    def _race_window(cls, value: float) -> float:
        if value > MAX_RACE_WINDOW:
            raise ValueError(f"must be at most 1h, got {format_duration(value)}")
        return value

    @field_validator("over")
    @classmethod
    def _over(cls, value: float) -> float:
        if value > MAX_OVER:
            raise ValueError(f"must be at most {format_duration(MAX_OVER)}, got {format_duration(value)}")
        return value

    @model_validator(mode="after")
    def _gaps(self) -> Behaviour:
        if self.smallest_gap > self.largest_gap:
            raise rule_error(
                "smallest_gap",
                f"must not exceed largest_gap ({format_duration(self.largest_gap)}), got "
                f"{format_duration(self.smallest_gap)}",
            )
        if self.session_length.low > self.over:
            raise rule_error(
                "session_length",
                f"the shortest session ({format_duration(self.session_length.low)}) must fit in `over` "
                f"({format_duration(self.over)})",
            )
        return self

    @property
    def racing(self) -> bool:
        """True when tabs can send two refreshes with the same token (several tabs, no lock)."""
        return self.tabs.high > 1 and not self.refresh_lock

    @property
    def replays_possible(self) -> bool:
        """True when some timeline presents a token twice: racing tabs, a lost response or a theft."""
        return self.racing or self.lost_responses > 0 or self.thefts.possible

    def max_requests(self, shortest_access: float) -> float:
        """An upper bound on the refresh requests of one timeline, given the shortest access token."""
        per_session = (self.session_length.high / shortest_access + 2) * self.tabs.high
        devices = self.devices.high * self.sessions * per_session + self.lost_responses
        attacker_gap = DAY if self.attacker == "daily" else min(shortest_access, DAY)
        return devices + self.thefts.at_most * (self.over / attacker_gap + 1)


# --- the properties -----------------------------------------------------------------------------------


def _never(value: object) -> object:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ValueError(
            f"must name what never happens: {', '.join((FORCED_LOGIN, EVICTION, REJECTED_LOGIN))} or "
            f"forced_login.<cause>, or a list of them, got {shown(value)}"
        )
    for index, item in enumerate(items):
        if not isinstance(item, str) or item not in NEVER_EVENTS:
            hint = suggest(item, NEVER_EVENTS) if isinstance(item, str) else None
            message = f"unknown event {shown(item)}"
            message += f"; did you mean {hint!r}?" if hint else ""
            message += f" (allowed: {FORCED_LOGIN}, {FORCED_LOGIN}.<cause> with a cause among "
            message += f"{', '.join(FORCED_CAUSES)}; {EVICTION}; {REJECTED_LOGIN})"
            if isinstance(value, str):
                raise ValueError(message)
            raise rule_error(index, message)
    return tuple(dict.fromkeys(items))


NeverEvents = Annotated[
    tuple[str, ...],
    BeforeValidator(_never),
    PlainSerializer(lambda items: items[0] if len(items) == 1 else list(items)),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": list(NEVER_EVENTS)},
                {"type": "array", "items": {"enum": list(NEVER_EVENTS)}, "minItems": 1},
            ]
        }
    ),
]


class TokenBound(_Section):
    """No refresh token is accepted later than `later_than` after its chain's login, or its own last use."""

    later_than: PositiveDuration = Field(description="The bound, e.g. 90d.")
    after: Literal["login", "last_use"] = Field(
        description="login: counted from the login that started the token's chain; last_use: from the "
        "token's last successful use (or its issue, if never used).",
    )


class StolenBound(_Section):
    """A stolen refresh token stops working: the attacker's refreshes fail from a bound on."""

    within: PositiveDuration | None = Field(
        default=None, description="Every attacker refresh later than this after the theft fails."
    )
    after_victim_refreshes: Annotated[int, Field(ge=0, le=MAX_OCCURRENCES)] | None = Field(
        default=None,
        description="Every attacker refresh after this many refresh requests of the stolen device "
        "(since the theft) fails.",
    )

    @model_validator(mode="after")
    def _one_bound(self) -> StolenBound:
        if self.within is None and self.after_victim_refreshes is None:
            raise ValueError("give within: DURATION, after_victim_refreshes: N, or both")
        return self


class RowBound(_Section):
    """At every moment a user holds at most so many valid chains, or rows in the token store."""

    valid_chains: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="Valid chains (logins whose tokens still work) of the user at once."
    )
    stored_rows: Annotated[int, Field(ge=1)] | None = Field(
        default=None,
        description="Rows of the user in the token store at once (the rules of the scenario's `storage`).",
    )

    @model_validator(mode="after")
    def _one_bound(self) -> RowBound:
        if self.valid_chains is None and self.stored_rows is None:
            raise ValueError("give valid_chains: N, stored_rows: N, or both")
        return self


Replay = Literal["refused", "kills_family"]


class Invariant(_Section):
    """A promise about the policy: on every timeline of the behaviour class `who`, the property holds."""

    name: Annotated[str, Field(min_length=1)] = Field(
        description="A unique name: the sentence the invariant stands for."
    )
    description: str = Field(default="", description="Why the team makes this promise.")
    who: Behaviour = Field(default_factory=Behaviour, description=Behaviour.__doc__)
    never: NeverEvents | None = Field(
        default=None,
        description="Events that never happen: forced_login (or forced_login.<cause>), eviction, "
        "rejected_login.",
    )
    no_token_works: TokenBound | None = Field(default=None, description=TokenBound.__doc__)
    replay: Replay | None = Field(
        default=None,
        description="refused: every replayed token (one already rotated away) is refused; kills_family: "
        "and its whole chain (the family) ends.",
    )
    stolen_token_stops: StolenBound | None = Field(default=None, description=StolenBound.__doc__)
    at_most: RowBound | None = Field(default=None, description=RowBound.__doc__)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @model_validator(mode="after")
    def _one_property(self) -> Invariant:
        given = [name for name in PROPERTIES if getattr(self, name) is not None]
        if not given:
            raise ValueError(f"give one property: {', '.join(PROPERTIES)}")
        if len(given) > 1:
            raise rule_error(given[1], f"give one property per invariant, got {' and '.join(given)}")
        if self.stolen_token_stops is not None and not self.who.thefts.possible:
            raise rule_error(
                "stolen_token_stops",
                "the behaviour class has no thefts (who.thefts is 0): add e.g. `thefts: 1` to `who`",
            )
        if self.replay is not None and not self.who.replays_possible:
            raise rule_error(
                "replay",
                "no timeline of the behaviour class presents a token twice: add thefts, tabs: 2 (without "
                "refresh_lock) or lost_responses to `who`",
            )
        return self

    @property
    def property_name(self) -> str:
        """The key of the invariant's property (`never`, `no_token_works`, ...)."""
        return next(name for name in PROPERTIES if getattr(self, name) is not None)

    def sentence(self) -> str:
        """The property as a short sentence, for reports."""
        if self.never is not None:
            return "never " + ", ".join(self.never)
        if self.no_token_works is not None:
            bound = self.no_token_works
            after = "its login" if bound.after == "login" else "its last use"
            return f"no token works later than {format_duration(bound.later_than)} after {after}"
        if self.replay is not None:
            family = " and ends its family" if self.replay == "kills_family" else ""
            return "every replay is refused" + family
        if self.stolen_token_stops is not None:
            parts = []
            if self.stolen_token_stops.within is not None:
                parts.append(f"within {format_duration(self.stolen_token_stops.within)}")
            if self.stolen_token_stops.after_victim_refreshes is not None:
                parts.append(f"after {self.stolen_token_stops.after_victim_refreshes} victim refreshes")
            return "a stolen token stops working " + " and ".join(parts)
        rows = self.at_most
        assert rows is not None
        parts = []
        if rows.valid_chains is not None:
            parts.append(f"{rows.valid_chains} valid chains")
        if rows.stored_rows is not None:
            parts.append(f"{rows.stored_rows} stored rows")
        return "at most " + " and ".join(parts) + " per user"

    def to_config(self) -> dict[str, Any]:
        """The invariant in its YAML form, every default of `who` applied, only its own property."""
        config = self.model_dump(mode="json")
        for name in PROPERTIES:
            if config.get(name) is None:
                config.pop(name, None)
            elif isinstance(config[name], dict):
                config[name] = {k: v for k, v in config[name].items() if v is not None}
        who = config["who"]
        for key in ("fresh_logins", "logouts", "password_changes", "thefts"):
            if who[key].get("per") is None:
                who[key] = who[key]["at_most"]
        return config
