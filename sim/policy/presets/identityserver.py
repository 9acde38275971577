"""Duende IdentityServer (v7) and IdentityServer4: the same refresh-token service, different defaults.

Duende v7 defaults to `ReUse` tokens (commit ba81e7f5, "Enable refresh token reuse by default"),
IdentityServer4 to `OneTimeOnly`. Both: `AbsoluteRefreshTokenLifetime` 30 d counted from the first token
of the chain (one-time rotation copies its creation time), `SlidingRefreshTokenLifetime` 15 d when the
expiration mode is Sliding, 0 = unlimited only with Sliding; a replayed rotated token is rejected and the
newer one keeps working; no per-user cap and no grace period (both need custom code). Sources:
DuendeSoftware/IdentityServer@0850cda5 `src/Storage/Models/Client.cs`,
`src/IdentityServer/Services/Default/DefaultRefreshTokenService.cs`; IdentityServer/IdentityServer4@5e40bd18
`src/Storage/src/Models/Client.cs`.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.policy.fields import PolicyFields
from sim.policy.presets.base import Preset, fail, require_access_token, require_choice, require_values

DUENDE = "duende_identityserver"
IS4 = "identityserver4"

_RULES = {
    "max_tokens_per_user": (
        None,
        "has no per-user refresh-token cap (every authorization stores a new grant)",
    ),
    "reuse_interval": (
        0.0,
        "has no grace period (accepting a consumed token needs a custom AcceptConsumedTokenAsync)",
    ),
    "on_reuse": (
        "reject",
        "rejects a replayed rotated token and leaves the newer token valid (no family revocation)",
    ),
    "absolute_anchor": (
        "chain",
        "copies the first token's creation time to every rotated token (the absolute expiry counts from "
        "the authorization)",
    ),
    "idle_tolerance": (0.0, "has no idle tolerance"),
    "max_reuse": (0, "has no count-based reuse of a consumed token"),
}


def _checker(name: str) -> Callable[[PolicyFields], None]:
    def check(policy: PolicyFields) -> None:
        """IdentityServer's limits."""
        require_choice(
            policy, "refresh_token_usage", ("reuse", "one_time"), name,
            "offers RefreshTokenUsage ReUse and OneTimeOnly",
        )
        require_values(policy, name, _RULES)
        if policy.absolute_lifetime is None and policy.sliding_lifetime is None:
            fail(
                "absolute_lifetime",
                f"{name} allows an unlimited absolute lifetime (AbsoluteRefreshTokenLifetime 0) only with "
                "sliding expiration (a sliding_lifetime); with absolute expiration 0 issues tokens that are "
                "already expired",
            )
        require_access_token(policy, name)

    return check


_COMMON = {
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

DUENDE_PRESET = Preset(
    name=DUENDE,
    description=(
        "Duende IdentityServer v7: reuse tokens by default (one-time optional), 30-day absolute expiry "
        "from the authorization (sliding mode: typically 15 days), replay rejected, no cap, no grace."
    ),
    defaults={"refresh_token_usage": "reuse", **_COMMON},
    check=_checker(DUENDE),
)

IS4_PRESET = Preset(
    name=IS4,
    description="IdentityServer4: as Duende IdentityServer but one-time (rotating) tokens by default.",
    defaults={"refresh_token_usage": "one_time", **_COMMON},
    check=_checker(IS4),
)
