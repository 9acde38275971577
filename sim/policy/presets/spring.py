"""Spring Authorization Server: reuse by default with a 60-minute lifetime per token; without reuse every
new token gets a full lifetime (no absolute cap); a replaced token is unknown afterwards.

Sources: spring-projects/spring-authorization-server@b90fb093
`oauth2-authorization-server/src/main/java/.../settings/TokenSettings.java` (defaults, TTL > 0),
`.../token/OAuth2RefreshTokenGenerator.java` (expiresAt = now + TTL),
`.../authentication/OAuth2RefreshTokenAuthenticationProvider.java` (lookup by the current token only).
"""

from __future__ import annotations

from sim.policy.fields import PolicyFields
from sim.policy.presets.base import (
    Preset,
    fail,
    require_access_token,
    require_choice,
    require_values,
)

NAME = "spring_authorization_server"

_RULES = {
    "absolute_anchor": ("token", "gives every new refresh token a full time to live from its own issue"),
    "on_reuse": (
        "reject",
        "answers a replaced refresh token with invalid_grant and leaves the authorization valid",
    ),
    "max_tokens_per_user": (None, "has no per-user refresh-token cap"),
    "sliding_lifetime": (None, "has no idle timeout (without reuse each new token gets a full lifetime)"),
    "reuse_interval": (0.0, "has no grace period (a replaced token is unknown at once)"),
    "idle_tolerance": (0.0, "has no idle timeout"),
    "max_reuse": (0, "has no count-based reuse of a replaced token"),
}


def check(policy: PolicyFields) -> None:
    """Spring Authorization Server's limits."""
    require_choice(
        policy, "refresh_token_usage", ("reuse", "one_time"), NAME,
        "reuses refresh tokens (reuseRefreshTokens true, reuse) or issues a new one on every refresh "
        "(false, one_time)",
    )
    if policy.absolute_lifetime is None:
        fail(
            "absolute_lifetime",
            f"{NAME} requires a refresh-token time to live greater than 0 (refreshTokenTimeToLive), "
            "got unlimited",
        )
    require_values(policy, NAME, _RULES)
    require_access_token(policy, NAME)


PRESET = Preset(
    name=NAME,
    description=(
        "Spring Authorization Server: reuse tokens with a 60-minute lifetime each (default); without reuse "
        "every new token gets a full lifetime (no absolute cap); replay rejected."
    ),
    defaults={
        "refresh_token_usage": "reuse",
        "absolute_lifetime": "60m",
        "sliding_lifetime": "none",
        "max_tokens_per_user": "unlimited",
        "on_cap": "evict_oldest",
        "access_token_lifetime": "5m",
        "reuse_interval": "0s",
        "on_reuse": "reject",
        "absolute_anchor": "token",
        "idle_tolerance": "0s",
        "max_reuse": 0,
    },
    check=check,
)
