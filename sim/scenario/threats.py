"""The threat model (a persona's `threats:` section) and the token store's bookkeeping (`storage:`).

`threats` says how often a device's tokens are stolen and what the attacker then does with them; the
attacker itself is simulated in `sim.model.threats`. `storage` says how the authorization server keeps its
rows
(consumed one-time tokens kept for replay detection, the cleanup job); it only changes the storage
figures computed by `sim.analysis.storage`, never the simulation.

Both sections are optional. A persona without `threats:` has no thefts (and the section is left out of the
resolved scenario); a scenario without `storage:` uses the defaults below.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from sim.core.distributions import (
    DURATION_JSON,
    NonNegativeDuration,
    Probability,
    Rate,
    as_positive_duration,
    duration_config,
    shown,
)
from sim.core.durations import DURATION_HELP
from sim.core.validation import suggest

#: What an attacker does with a stolen refresh token (see `Threats.strategy` and sim/threats.py).
Strategy = Literal["immediate", "when_idle", "daily"]
STRATEGIES: tuple[str, ...] = ("immediate", "when_idle", "daily")

#: Default bytes per stored row: IdentityServer's PersistedGrants row (a 64-character key, type,
#: subject, session and client ids, three timestamps and a JSON payload of a few hundred bytes), about
#: half a kilobyte, indexes not included.
DEFAULT_ROW_BYTES = 512


def _strategy(value: object) -> object:
    if isinstance(value, str) and value not in STRATEGIES:
        hint = suggest(value, STRATEGIES)
        message = f"unknown strategy {shown(value)}" + (f"; did you mean {hint!r}?" if hint else "")
        raise ValueError(f"{message} (allowed: {', '.join(STRATEGIES)})")
    return value


def _interval_or_none(value: object) -> float | None:
    if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
        return None
    try:
        return as_positive_duration(value)
    except ValueError:
        message = f"must be a positive duration ({DURATION_HELP}) or 'none', got {shown(value)}"
        raise ValueError(message) from None


def _interval_config(seconds: float | None) -> str | float:
    return "none" if seconds is None else duration_config(seconds)


def _row_bytes(value: object) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"must be a whole number of bytes, at least 1, got {shown(value)}")
    return value


#: A positive duration in seconds, or None for `none` (rows removed the moment they are no longer needed).
CleanupInterval = Annotated[
    float | None,
    BeforeValidator(_interval_or_none),
    PlainSerializer(_interval_config),
    WithJsonSchema({"anyOf": [DURATION_JSON, {"enum": ["none"]}]}),
]
RowBytes = Annotated[int, Field(ge=1), BeforeValidator(_row_bytes)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Threats(_Section):
    """Stolen tokens: how often a device's refresh token (and access token) is copied, and how it is used."""

    thefts_per_year: Rate = Field(
        default=0.0,
        description="Thefts per user and year (a Poisson rate); each copies the tokens of one of the "
        "user's devices, chosen at random, at that moment.",
    )
    stolen_device_share: Probability = Field(
        default=0.0,
        description="Share of devices stolen from once, at a uniform random time within the horizon.",
    )
    strategy: Annotated[Strategy, BeforeValidator(_strategy)] = Field(
        default="immediate",
        description="immediate: use the token at once, then at every expiry of the attacker's access "
        "token; when_idle: the same, but never while the stolen device is in a session (a use that would "
        "fall in one waits until a minute after it ends); daily: use it once every 24 hours from the theft.",
    )

    @property
    def active(self) -> bool:
        """True when the section can produce a theft."""
        return self.thefts_per_year > 0 or self.stolen_device_share > 0


class Storage(_Section):
    """How the authorization server's token store keeps rows (for the storage figures only)."""

    consumed_retention: NonNegativeDuration = Field(
        default="1d",
        validate_default=True,
        description="How long a consumed one-time refresh token is kept after its rotation, for replay "
        "detection (one_time usage only).",
    )
    cleanup_interval: CleanupInterval = Field(
        default="1d",
        validate_default=True,
        description="How often the cleanup job removes ended chains and consumed tokens past their "
        "retention (runs at every multiple of the interval); none: rows go the moment they are not needed.",
    )
    row_bytes: RowBytes = Field(
        default=DEFAULT_ROW_BYTES,
        description="Bytes per stored row, for the byte figures (default: about one IdentityServer "
        "PersistedGrants row, indexes excluded).",
    )
