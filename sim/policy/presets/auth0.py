"""Auth0: rotating refresh tokens with reuse detection, absolute and idle lifetimes, 200 tokens per user.

Sources: auth0/docs-v2@092b879e `main/docs/secure/tokens/refresh-tokens/refresh-token-rotation.mdx`,
`configure-refresh-token-rotation.mdx`, `configure-refresh-token-expiration.mdx`,
`secure/tokens/token-best-practices.mdx` (cap of 200), and
https://auth0.com/docs/secure/tokens/access-tokens/update-access-token-lifetime (access tokens).
"""

from __future__ import annotations

from sim.core.durations import DAY
from sim.policy.fields import PolicyFields
from sim.policy.presets.base import (
    Preset,
    fail,
    require_access_token,
    require_choice,
    require_duration,
    require_values,
    show,
)

NAME = "auth0"
#: The longest refresh-token lifetime (maximum or idle) the documentation allows: 1 year.
MAX_LIFETIME = 31_557_600.0
LIFETIME_LIMITS = "1s..31557600s (1 year)"
#: The longest access-token lifetime of an API ("Maximum value is 2,592,000 seconds").
MAX_ACCESS_TOKEN = 30 * DAY
CAP = 200

_RULES = {
    "on_reuse": (
        "revoke_family",
        "revokes the whole refresh-token family when a rotated token is reused outside the leeway",
    ),
    "absolute_anchor": ("chain", "fixes the maximum lifetime at issue; it does not extend on rotation"),
    "idle_tolerance": (0.0, "has no idle tolerance"),
    "max_reuse": (0, "has a time-based reuse leeway (reuse_interval), not a count of reuses"),
}


def check(policy: PolicyFields) -> None:
    """Auth0's limits."""
    require_choice(
        policy, "refresh_token_usage", ("one_time", "reuse"), NAME,
        "offers rotating (one_time) and non-rotating (reuse) refresh tokens",
    )
    for field_name, fixed in (("max_tokens_per_user", CAP), ("on_cap", "evict_oldest")):
        if getattr(policy, field_name) != fixed:
            fail(
                field_name,
                f"{NAME} keeps at most {CAP} active refresh tokens per user and application and revokes "
                f"the oldest at the limit (fixed: max_tokens_per_user {CAP}, on_cap evict_oldest), got "
                f"{show(field_name, getattr(policy, field_name))}",
            )
    require_values(policy, NAME, _RULES)
    for field_name, what in (
        ("absolute_lifetime", "a maximum refresh-token lifetime"),
        ("sliding_lifetime", "an idle refresh-token lifetime"),
    ):
        require_duration(
            policy, field_name, NAME, what, 1.0, MAX_LIFETIME, unlimited=True, limits=LIFETIME_LIMITS
        )
    absolute, idle = policy.absolute_lifetime, policy.sliding_lifetime
    if absolute is not None and idle is not None and idle > absolute:
        fail(
            "sliding_lifetime",
            f"{NAME} requires the idle lifetime to be at most the maximum lifetime "
            f"({show('absolute_lifetime', absolute)}), got {show('sliding_lifetime', idle)}",
        )
    if policy.refresh_token_usage == "one_time" and absolute is None and idle is None:
        fail(
            "absolute_lifetime",
            f"{NAME}'s rotating refresh tokens must expire: set an absolute_lifetime or a sliding_lifetime "
            "(both are unlimited)",
        )
    require_access_token(policy, NAME, 1.0, MAX_ACCESS_TOKEN)


PRESET = Preset(
    name=NAME,
    description=(
        "Auth0: rotating tokens, reuse outside the leeway (default 0s) revokes the family, 30-day maximum "
        "lifetime fixed at issue, 30-day idle lifetime, 200 tokens per user (oldest evicted)."
    ),
    defaults={
        "refresh_token_usage": "one_time",
        "absolute_lifetime": "30d",
        "sliding_lifetime": "30d",
        "max_tokens_per_user": CAP,
        "on_cap": "evict_oldest",
        "access_token_lifetime": "1d",
        "reuse_interval": "0s",
        "on_reuse": "revoke_family",
        "absolute_anchor": "chain",
        "idle_tolerance": "0s",
        "max_reuse": 0,
    },
    check=check,
)
