"""Microsoft Entra ID: a new refresh token on every use, old ones not revoked; lifetimes not configurable.

Since 2021-01-30 refresh-token lifetimes cannot be configured: 90 days of inactivity and no maximum age
for most clients; for single-page apps (`spa` redirect URIs) 24 hours fixed, carried over to every new
token. Access tokens last a random 60..90 minutes by default (a token lifetime policy may set 10 minutes..1
day). Sources: MicrosoftDocs/entra-docs `docs/identity-platform/refresh-tokens.md`,
`docs/identity-platform/configurable-token-lifetimes.md`;
AzureAD/microsoft-authentication-library-for-js `lib/msal-browser/docs/token-lifetimes.md`.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.core.durations import DAY, HOUR, MINUTE
from sim.policy.fields import PolicyFields
from sim.policy.presets.base import Preset, require_access_token, require_fixed

STANDARD = "entra_id"
SPA = "entra_id_spa"
#: AccessTokenLifetime in a token lifetime policy: 10 minutes..1 day.
MIN_ACCESS_TOKEN, MAX_ACCESS_TOKEN = 10 * MINUTE, 1 * DAY
WHY = (
    "Microsoft fixes its refresh tokens: a new one on every use, old ones not revoked, no cap, and "
    "lifetimes that cannot be configured since 2021-01-30"
)


def _checker(name: str, absolute: float | None, sliding: float | None) -> Callable[[PolicyFields], None]:
    def check(policy: PolicyFields) -> None:
        """Entra ID's fixed refresh-token behaviour and configurable access-token range."""
        require_fixed(
            policy,
            {
                "refresh_token_usage": "rotate_keep_old",
                "absolute_lifetime": absolute,
                "sliding_lifetime": sliding,
                "max_tokens_per_user": None,
                "absolute_anchor": "chain",
                "idle_tolerance": 0.0,
            },
            name,
            WHY,
        )
        require_access_token(policy, name, MIN_ACCESS_TOKEN, MAX_ACCESS_TOKEN, distribution=True)

    return check


_COMMON = {
    "refresh_token_usage": "rotate_keep_old",
    "max_tokens_per_user": "unlimited",
    "on_cap": "evict_oldest",
    "access_token_lifetime": {"uniform": {"low": "60m", "high": "90m"}},
    "reuse_interval": "0s",
    "on_reuse": "reject",
    "absolute_anchor": "chain",
    "idle_tolerance": "0s",
    "max_reuse": 0,
}

STANDARD_PRESET = Preset(
    name=STANDARD,
    description=(
        "Microsoft Entra ID: a new refresh token on every use, old ones stay valid, 90 days of inactivity, "
        "no maximum age (not configurable); access tokens 60..90 minutes at random."
    ),
    defaults={"absolute_lifetime": "unlimited", "sliding_lifetime": "90d", **_COMMON},
    check=_checker(STANDARD, None, 90 * DAY),
)

SPA_PRESET = Preset(
    name=SPA,
    description=(
        "Microsoft Entra ID for single-page apps: a new refresh token on every use, old ones stay valid, "
        "24 hours fixed from the first token and carried over (not configurable)."
    ),
    defaults={"absolute_lifetime": "24h", "sliding_lifetime": "none", **_COMMON},
    check=_checker(SPA, 24 * HOUR, None),
)
