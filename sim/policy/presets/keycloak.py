"""Keycloak: a new refresh token on every refresh, the old one still valid (default), or, with "Revoke
Refresh Token", tokens usable `max_reuse + 1` times whose misuse ends the client session.

Every refresh token of a login expires at `min(now + idle, session start + max)`; idle checks get a
120-second window. Online sessions (`keycloak`): SSO Session Idle 30 min, SSO Session Max 10 h. Offline
tokens (`keycloak_offline`, scope `offline_access`): Offline Session Idle 30 d, no maximum unless "Offline
Session Max Limited" is on (then 60 d by default). Sources: keycloak/keycloak
`services/src/main/java/org/keycloak/protocol/oidc/TokenManager.java@90a8409c` (expiry, validateTokenReuse),
`server-spi/src/main/java/org/keycloak/models/Constants.java@4f1d83b9` (defaults),
`docs/documentation/server_admin/topics/sessions/timeouts.adoc@68a58dbf` (the two-minute idle window),
`testsuite/.../oauth/RefreshTokenTest.java@30989d19` (old tokens stay valid without revocation).
"""

from __future__ import annotations

from collections.abc import Callable

from sim.policy.fields import PolicyFields
from sim.policy.presets.base import (
    Preset,
    fail,
    require_access_token,
    require_choice,
    require_duration,
    require_values,
)

ONLINE = "keycloak"
OFFLINE = "keycloak_offline"
#: SessionTimeoutHelper.IDLE_TIMEOUT_WINDOW_SECONDS: a constant, not a setting.
IDLE_WINDOW = 120.0

_RULES = {
    "reuse_interval": (
        0.0,
        "counts reuses of a refresh token (max_reuse) instead of a time-based grace period",
    ),
    "on_reuse": (
        "revoke_family",
        "ends the client session (every token of that login) when a refresh token is reused beyond "
        "max_reuse or an older token is presented",
    ),
    "absolute_anchor": ("chain", "counts the maximum lifetime from the start of the session (the login)"),
    "max_tokens_per_user": (None, "has no per-user refresh-token cap"),
    "idle_tolerance": (
        IDLE_WINDOW,
        "adds a fixed two-minute window to every idle timeout (IDLE_TIMEOUT_WINDOW_SECONDS)",
    ),
}


def _checker(name: str, offline: bool) -> Callable[[PolicyFields], None]:
    def check(policy: PolicyFields) -> None:
        """Keycloak's limits."""
        require_choice(
            policy, "refresh_token_usage", ("rotate_keep_old", "one_time"), name,
            "issues a new refresh token on every refresh; the old one stays valid (rotate_keep_old) "
            "unless Revoke Refresh Token is on (one_time)",
        )
        require_duration(
            policy, "sliding_lifetime", name,
            "an offline session idle timeout" if offline else "a session idle timeout",
        )
        require_values(policy, name, _RULES)
        if offline:
            require_duration(
                policy, "absolute_lifetime", name,
                "an offline session max (with Offline Session Max Limited on; unlimited when off)",
                unlimited=True,
            )
        elif policy.absolute_lifetime is None:
            fail(
                "absolute_lifetime",
                f"{name} always limits an online session (SSO Session Max; a value of 0 falls back to the "
                "10h default), so absolute_lifetime cannot be unlimited; use keycloak_offline for offline "
                "tokens",
            )
        require_access_token(policy, name)

    return check


_COMMON = {
    "refresh_token_usage": "rotate_keep_old",
    "max_tokens_per_user": "unlimited",
    "on_cap": "evict_oldest",
    "access_token_lifetime": "5m",
    "reuse_interval": "0s",
    "on_reuse": "revoke_family",
    "absolute_anchor": "chain",
    "idle_tolerance": "120s",
    "max_reuse": 0,
}

ONLINE_PRESET = Preset(
    name=ONLINE,
    description=(
        "Keycloak: a new refresh token on every refresh, old ones stay valid (or, with Revoke Refresh "
        "Token, max_reuse + 1 uses and misuse ends the session); 30-minute idle (+120 s), 10-hour max."
    ),
    defaults={"absolute_lifetime": "10h", "sliding_lifetime": "30m", **_COMMON},
    check=_checker(ONLINE, offline=False),
)

OFFLINE_PRESET = Preset(
    name=OFFLINE,
    description=(
        "Keycloak offline tokens (offline_access): as keycloak, with a 30-day idle timeout (+120 s) and "
        "no maximum lifetime by default."
    ),
    defaults={"absolute_lifetime": "unlimited", "sliding_lifetime": "30d", **_COMMON},
    check=_checker(OFFLINE, offline=True),
)
