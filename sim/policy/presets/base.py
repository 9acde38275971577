"""What every vendor preset is made of: defaults, a check of the vendor's limits, and the helpers the checks
share so that every message has the same shape.

A limit check raises `sim.policy.fields.policy_error(field, message)`; the message starts with the preset's
name, says what the vendor allows and ends with the value given, e.g.
`okta allows a grace period (reuse_interval) of 0s..1m, got 2m`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from sim.core.distributions import DurationDistribution, Empirical, Fixed, Uniform
from sim.core.durations import format_duration
from sim.policy.fields import DURATION_FIELDS, PolicyFields, policy_error


def _no_conditional_defaults(data: Mapping[str, Any]) -> dict[str, Any]:
    return {}


def _no_check(policy: PolicyFields) -> None:
    return None


@dataclass(frozen=True)
class Preset:
    """A vendor's defaults and a check of its limits (raises a policy error naming the field).

    `conditional_defaults(data)` returns defaults that depend on the fields the user gave (e.g. Okta's
    30 s grace period applies only to rotating tokens); they override `defaults` and are overridden by
    the user's own values.
    """

    name: str
    description: str
    defaults: dict[str, Any] = field(default_factory=dict)
    check: Callable[[PolicyFields], None] = _no_check
    conditional_defaults: Callable[[Mapping[str, Any]], dict[str, Any]] = _no_conditional_defaults

    def resolved_defaults(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The defaults for a policy given as `data` (its own values are applied on top by the caller)."""
        return {**self.defaults, **self.conditional_defaults(data)}


def fail(field_name: str, message: str) -> NoReturn:
    """Raise the policy error for one field."""
    raise policy_error(field_name, message)


def show(field_name: str, value: object) -> str:
    """A policy value as a user writes it: `15d`, `unlimited`, `none`, `20`, `one_time`."""
    if field_name == "sliding_lifetime" and value is None:
        return "none"
    if field_name in DURATION_FIELDS:
        return format_duration(value)  # type: ignore[arg-type]
    if field_name == "max_tokens_per_user" and value is None:
        return "unlimited"
    if field_name == "access_token_lifetime" and isinstance(value, DurationDistribution):
        config = value.to_config()
        return config if isinstance(config, str) else repr(config)
    return str(value)


def require_value(policy: PolicyFields, field_name: str, expected: object, preset: str, why: str) -> None:
    """The field must hold `expected`; `why` says what the vendor does instead of other values."""
    value = getattr(policy, field_name)
    if value != expected:
        fail(
            field_name,
            f"{preset} {why}, so {field_name} must be {show(field_name, expected)}, "
            f"got {show(field_name, value)}",
        )


def require_values(policy: PolicyFields, preset: str, rules: Mapping[str, tuple[object, str]]) -> None:
    """`require_value` for several fields: field -> (expected value, what the vendor does)."""
    for field_name, (expected, why) in rules.items():
        require_value(policy, field_name, expected, preset, why)


def require_choice(
    policy: PolicyFields, field_name: str, allowed: tuple[str, ...], preset: str, why: str
) -> None:
    """The field must be one of `allowed`."""
    value = getattr(policy, field_name)
    if value not in allowed:
        fail(field_name, f"{preset} {why}: {field_name} must be {' or '.join(allowed)}, got {value}")


def require_fixed(policy: PolicyFields, fields: Mapping[str, object], preset: str, why: str) -> None:
    """Fields the vendor does not let anyone configure: each must keep the preset's value."""
    for field_name, expected in fields.items():
        value = getattr(policy, field_name)
        if value != expected:
            fail(
                field_name,
                f"{preset} does not let {field_name} be configured ({why}); it is fixed at "
                f"{show(field_name, expected)}, got {show(field_name, value)}",
            )


def require_duration(
    policy: PolicyFields,
    field_name: str,
    preset: str,
    what: str,
    low: float = 0.0,
    high: float = math.inf,
    unlimited: bool = False,
    limits: str | None = None,
) -> None:
    """A duration field within [low, high]; `unlimited` (None) allowed only when `unlimited` is True.

    `limits` replaces the range as written in the message (e.g. `1s..1 year`).
    """
    value = getattr(policy, field_name)
    allowed = limits or _range_text(low, high)
    if unlimited:
        allowed += " or unlimited" if field_name != "sliding_lifetime" else " or none"
    message = f"{preset} allows {what} ({field_name}) of {allowed}, got {show(field_name, value)}"
    if value is None:
        if not unlimited:
            fail(field_name, message)
        return
    if not low <= value <= high:
        fail(field_name, message)


def _range_text(low: float, high: float) -> str:
    if math.isinf(high):
        return f"at least {format_duration(low)}" if low > 0 else "any positive duration"
    return f"{format_duration(low)}..{format_duration(high)}"


def support(dist: DurationDistribution) -> tuple[float, float]:
    """The smallest and largest value a duration distribution can draw (inf when unbounded)."""
    if isinstance(dist, Fixed):
        return dist.value, dist.value
    if isinstance(dist, Uniform):
        return dist.low, dist.high
    if isinstance(dist, Empirical):
        return min(dist.values), max(dist.values)
    return 0.0, math.inf  # exponential, lognormal


def require_access_token(
    policy: PolicyFields,
    preset: str,
    low: float = 0.0,
    high: float = math.inf,
    distribution: bool = False,
    limits: str | None = None,
) -> None:
    """The access-token lifetime within [low, high]; a distribution only when the vendor draws one."""
    dist = policy.access_token_lifetime
    allowed = limits or _range_text(low, high)
    if not isinstance(dist, Fixed) and not distribution:
        fail(
            "access_token_lifetime",
            f"{preset} gives every access token the same lifetime ({allowed}); write one duration, "
            f"got {show('access_token_lifetime', dist)}",
        )
    smallest, largest = support(dist)
    if smallest < low or largest > high:
        fail(
            "access_token_lifetime",
            f"{preset} allows an access-token lifetime of {allowed}, "
            f"got {show('access_token_lifetime', dist)}",
        )
