"""Visma Connect: IdentityServer-based, reuse or one-time tokens, a cap of 1..20 tokens per user.

Sources (docs/presets.md has the full list): the Visma developer forum thread "Questions regarding web
application authentication" (community.visma.com, cap of 20, 180 days with reuse, unlimited one-time
expiry) and the Dinero developer news "Grace period on refresh tokens" (5..60 s grace period).
"""

from __future__ import annotations

from sim.core.durations import DAY, format_duration
from sim.policy.fields import PolicyFields
from sim.policy.presets.base import Preset, fail, require_choice, require_values

NAME = "visma_connect"

_RULES = {
    "absolute_anchor": ("chain", "counts the absolute expiry from the authorization (IdentityServer)"),
    "idle_tolerance": (0.0, "has no idle tolerance"),
    "max_reuse": (0, "has a time-based grace period (reuse_interval 5s..60s), not a count of reuses"),
}


def check(policy: PolicyFields) -> None:
    """Visma Connect's limits."""
    cap = policy.max_tokens_per_user
    if cap is None or not 1 <= cap <= 20:
        fail(
            "max_tokens_per_user",
            f"{NAME} allows 1..20 refresh tokens per user and application, got "
            f"{'unlimited' if cap is None else cap}",
        )
    require_choice(
        policy, "refresh_token_usage", ("reuse", "one_time"), NAME,
        "offers 'Re use' and 'One time' refresh tokens",
    )
    if policy.refresh_token_usage == "reuse":
        if policy.absolute_lifetime is None:
            fail(
                "absolute_lifetime",
                f"{NAME} allows an unlimited absolute lifetime only with refresh_token_usage: "
                "one_time; with reuse it is at most 180d",
            )
        if policy.absolute_lifetime > 180 * DAY:
            fail(
                "absolute_lifetime",
                f"{NAME} allows at most 180d of absolute lifetime with refresh_token_usage: reuse, "
                f"got {format_duration(policy.absolute_lifetime)}",
            )
    if policy.absolute_lifetime is None and policy.sliding_lifetime is None:
        fail(
            "sliding_lifetime",
            f"{NAME} allows an unlimited absolute lifetime only together with a sliding lifetime",
        )
    grace = policy.reuse_interval
    if grace != 0 and not 5 <= grace <= 60:
        fail("reuse_interval", f"{NAME}'s grace period is 0s (off) or 5s..60s, got {format_duration(grace)}")
    require_values(policy, NAME, _RULES)


PRESET = Preset(
    name=NAME,
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
        "absolute_anchor": "chain",
        "idle_tolerance": "0s",
        "max_reuse": 0,
    },
    check=check,
)
