"""The refresh-token policy model: the knobs an identity provider exposes, validated once.

A `Policy` is built from a plain dict (as it comes from YAML) with `Policy.from_dict`, which raises a
`ConfigError` naming the field, the value and what is allowed. Durations are held in seconds; `None`
stands for `unlimited` (absolute lifetime, cap) and `none` (sliding lifetime).

Field reference (also in the README):

- `refresh_token_usage`: `reuse` (same token on every refresh) | `one_time` (rotation: a new token, the
  old one consumed) | `rotate_keep_old` (a new token on every refresh, the old ones stay valid while
  their chain is: Keycloak's default, Entra ID).
- `absolute_lifetime`: deadline counted from the authorization and kept across rotations, or `unlimited`.
- `sliding_lifetime`: each successful use moves the deadline to `min(now + sliding, authorized_at +
  absolute)`, or `none`.
- `max_tokens_per_user`: valid chains a user may hold at once, or `unlimited`.
- `on_cap`: `evict_oldest` | `evict_least_recently_used` | `reject_new`.
- `absolute_anchor`: `chain` (the absolute deadline counts from the authorization) | `token` (from
  each token's issue: every rotation gets a full absolute lifetime, so no cap on the chain).
- `idle_tolerance`: extra time the server accepts a token after its sliding deadline (Keycloak: 120 s).
- `max_reuse`: `one_time` only: how many extra times the most recently used token may be presented
  again (each use issues a new token; Keycloak's "refresh token max reuse"); any other replay fails.
- `access_token_lifetime`: the JWT `exp` of each access token (a duration or a distribution, e.g.
  `{uniform: {low: 60m, high: 90m}}`); access tokens are never revoked.
- `reuse_interval`: how long after its consumption the chain's immediate predecessor still succeeds
  (an idempotent retry that gets the chain's current token).
- `on_reuse`: `reject` | `revoke_family`: what a consumed token presented outside the interval does.
- `preset`: a vendor preset that fills defaults and enforces that vendor's limits (see `sim.policy.presets`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from sim.core.distributions import DurationDist, DurationDistribution, Empirical, Fixed, Uniform
from sim.core.durations import DURATION_HELP, format_duration, parse_duration
from sim.core.validation import ConfigError, describe_errors, suggest
from sim.policy.fields import AbsoluteAnchor, OnCap, OnReuse, RefreshTokenUsage, policy_error
from sim.policy.presets import PRESETS, get_preset

_UNLIMITED_WORDS = {"unlimited", "none", "never", "infinite"}


def _is_unlimited(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in _UNLIMITED_WORDS)


def _duration_or_unlimited(value: object) -> float | None:
    if _is_unlimited(value):
        return None
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(
            f"must be a positive duration ({DURATION_HELP}) or 'unlimited'/'none', got {value!r}"
        )
    return seconds


def _count_or_unlimited(value: object) -> int | None:
    if _is_unlimited(value):
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a positive whole number or 'unlimited', got {value!r}")
    if value < 1:
        raise ValueError(f"must be at least 1 or 'unlimited', got {value!r}")
    return value


#: A non-negative duration in seconds (0 allowed).
Duration = Annotated[float, BeforeValidator(parse_duration)]
#: A positive duration, or None for `unlimited` / `none`.
OptionalDuration = Annotated[float | None, BeforeValidator(_duration_or_unlimited)]
#: A positive count, or None for `unlimited`.
OptionalCount = Annotated[int | None, BeforeValidator(_count_or_unlimited)]

#: Defaults when no preset is named (IdentityServer v7's: reuse, 30 days absolute, no sliding).
GENERIC_DEFAULTS: dict[str, Any] = {
    "refresh_token_usage": "reuse",
    "absolute_lifetime": "30d",
    "sliding_lifetime": "none",
    "max_tokens_per_user": "unlimited",
    "on_cap": "evict_oldest",
    "access_token_lifetime": "1h",
    "reuse_interval": "0s",
    "on_reuse": "reject",
    "absolute_anchor": "chain",
    "idle_tolerance": "0s",
    "max_reuse": 0,
}


def _positive_support(dist: DurationDistribution) -> bool:
    """True when every draw of a duration distribution is strictly positive."""
    if isinstance(dist, Fixed):
        return dist.value > 0
    if isinstance(dist, Uniform):
        return dist.low > 0
    if isinstance(dist, Empirical):
        return min(dist.values) > 0
    return True  # exponential and lognormal draws are positive


class Policy(BaseModel):
    """A validated refresh-token policy. Build it with `Policy.from_dict`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    preset: str | None = None
    refresh_token_usage: RefreshTokenUsage
    absolute_lifetime: OptionalDuration
    sliding_lifetime: OptionalDuration
    max_tokens_per_user: OptionalCount
    on_cap: OnCap
    access_token_lifetime: DurationDist
    reuse_interval: Duration
    on_reuse: OnReuse
    absolute_anchor: AbsoluteAnchor
    idle_tolerance: Duration
    max_reuse: Annotated[int, Field(ge=0, strict=True)]

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        defaults = dict(GENERIC_DEFAULTS)
        preset = get_preset(data.get("preset"))
        if preset is not None:  # an unknown name is reported by the rule check below
            defaults.update(preset.resolved_defaults(data))
        return {**defaults, **data}

    @model_validator(mode="after")
    def _check_rules(self) -> Policy:
        preset = get_preset(self.preset)
        if self.preset is not None and preset is None:
            hint = suggest(self.preset, list(PRESETS))
            raise policy_error(
                "preset",
                f"unknown preset {self.preset!r}"
                + (f"; did you mean {hint!r}?" if hint else f"; available: {', '.join(PRESETS)}"),
            )
        if self.refresh_token_usage != "one_time" and self.reuse_interval > 0:
            raise policy_error(
                "reuse_interval",
                f"reuse_interval applies only to refresh_token_usage: one_time (with "
                f"{self.refresh_token_usage} no token is ever consumed), got "
                f"{format_duration(self.reuse_interval)}",
            )
        if self.refresh_token_usage != "one_time" and self.max_reuse > 0:
            raise policy_error(
                "max_reuse",
                f"max_reuse applies only to refresh_token_usage: one_time, got {self.max_reuse} with "
                f"{self.refresh_token_usage}",
            )
        if self.idle_tolerance > 0 and self.sliding_lifetime is None:
            raise policy_error(
                "idle_tolerance",
                "idle_tolerance extends the sliding deadline, so it needs a sliding_lifetime, got "
                f"{format_duration(self.idle_tolerance)} with sliding_lifetime: none",
            )
        if not _positive_support(self.access_token_lifetime):
            raise policy_error(
                "access_token_lifetime",
                "access_token_lifetime must be a positive duration (every draw of a distribution too), got "
                f"{self.access_token_lifetime.to_config()!r}",
            )
        if preset is not None:
            preset.check(self)
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | None = None) -> Policy:
        """Validate a plain dict into a Policy; raise ConfigError with readable problems otherwise."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(describe_errors(exc, cls), source=source) from None

    # Convenience views used by the engine and the reports.
    @property
    def one_time(self) -> bool:
        """True when refresh tokens rotate (each is consumed by its use)."""
        return self.refresh_token_usage == "one_time"

    @property
    def fixed_access_token_lifetime(self) -> float | None:
        """The access-token lifetime in seconds when it is fixed, None when it is a distribution."""
        dist = self.access_token_lifetime
        return dist.value if isinstance(dist, Fixed) else None

    def minimal_config(self) -> dict[str, Any]:
        """The shortest YAML form that gives this policy: the preset and the fields its defaults miss.

        Sweeps apply their overrides to this form, so that changing one field lets the preset's
        defaults (some depend on other fields) follow, as they would in a file written by hand.
        """
        config = self.to_config()
        for name in list(config):
            if name == "preset":
                continue
            trial = {k: v for k, v in config.items() if k != name}
            try:
                if Policy.model_validate(trial) == self:
                    config = trial
            except ValidationError:
                continue
        if config.get("preset") is None:
            config.pop("preset", None)
        return config

    def to_config(self) -> dict[str, Any]:
        """The policy as it would be written in YAML, every default applied."""
        return {
            "preset": self.preset,
            "refresh_token_usage": self.refresh_token_usage,
            "absolute_lifetime": format_duration(self.absolute_lifetime),
            "sliding_lifetime": "none" if self.sliding_lifetime is None else format_duration(
                self.sliding_lifetime
            ),
            "max_tokens_per_user": (
                "unlimited" if self.max_tokens_per_user is None else self.max_tokens_per_user
            ),
            "on_cap": self.on_cap,
            "access_token_lifetime": self.access_token_lifetime.to_config(),
            "reuse_interval": format_duration(self.reuse_interval),
            "on_reuse": self.on_reuse,
            "absolute_anchor": self.absolute_anchor,
            "idle_tolerance": format_duration(self.idle_tolerance),
            "max_reuse": self.max_reuse,
        }
