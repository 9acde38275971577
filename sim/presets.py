"""Vendor presets: each fills a policy's defaults and enforces that vendor's documented limits.

A preset never hides a field: any value can be overridden within the vendor's limits. Sources for every
rule are in `docs/presets.md`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.durations import DAY, format_duration

if TYPE_CHECKING:
    from sim.policy import Policy


@dataclass(frozen=True)
class Preset:
    """A vendor's defaults and a check of its limits (raises a policy error naming the field)."""

    name: str
    description: str
    defaults: dict[str, Any] = field(default_factory=dict)
    check: Callable[[Policy], None] = lambda policy: None


def _check_visma_connect(policy: Policy) -> None:
    from sim.policy import policy_error

    cap = policy.max_tokens_per_user
    if cap is None or not 1 <= cap <= 20:
        raise policy_error(
            "max_tokens_per_user",
            f"visma_connect allows 1..20 refresh tokens per user and application, got "
            f"{'unlimited' if cap is None else cap}",
        )
    if policy.refresh_token_usage == "reuse":
        if policy.absolute_lifetime is None:
            raise policy_error(
                "absolute_lifetime",
                "visma_connect allows an unlimited absolute lifetime only with refresh_token_usage: "
                "one_time; with reuse it is at most 180d",
            )
        if policy.absolute_lifetime > 180 * DAY:
            raise policy_error(
                "absolute_lifetime",
                "visma_connect allows at most 180d of absolute lifetime with refresh_token_usage: reuse, "
                f"got {format_duration(policy.absolute_lifetime)}",
            )
    if policy.absolute_lifetime is None and policy.sliding_lifetime is None:
        raise policy_error(
            "sliding_lifetime",
            "visma_connect allows an unlimited absolute lifetime only together with a sliding lifetime",
        )
    grace = policy.reuse_interval
    if grace != 0 and not 5 <= grace <= 60:
        raise policy_error(
            "reuse_interval",
            f"visma_connect's grace period is 0s (off) or 5s..60s, got {format_duration(grace)}",
        )


PRESETS: dict[str, Preset] = {
    "visma_connect": Preset(
        name="visma_connect",
        description=(
            "Visma Connect (IdentityServer-based): reuse or one-time tokens, absolute expiry from the "
            "authorization, sliding expiry, at most 20 refresh tokens per user and application."
        ),
        defaults={
            "refresh_token_usage": "one_time",
            "absolute_lifetime": "unlimited",
            "sliding_lifetime": "15d",
            "max_tokens_per_user": 20,
            "on_cap": "evict_oldest",
            "access_token_lifetime": "1h",
            "reuse_interval": "0s",
            "on_reuse": "reject",
        },
        check=_check_visma_connect,
    ),
}


def get_preset(name: object) -> Preset | None:
    """The preset of that name, or None."""
    return PRESETS.get(name) if isinstance(name, str) else None
