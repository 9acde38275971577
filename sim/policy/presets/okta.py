"""Okta (custom authorization server): rotation with a grace period, a lifetime inherited from the first
token, and an idle window reset on every refresh.

Sources: okta/okta-developer-docs@468de9c5 `docs/guides/refresh-tokens/main/index.md` (rotation, grace
period 0..60 s default 30 s, replay, inherited lifetime), `docs/guides/customize-authz-server/main/index.md`
(idle window), `docs/guides/terraform-create-custom-auth-server/main/index.md` (ranges, access tokens),
`docs/release-notes/2018/index.md` (an idle window of 0 was a bug), and the Okta support article
"Refresh Token Expiration Behavior" (support.okta.com: lifetime 10 minutes..5 years or unlimited).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.core.durations import MINUTE
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

NAME = "okta"
#: refreshTokenWindowMinutes: 5..2,628,000 minutes (5 years).
MIN_WINDOW, MAX_WINDOW = 5 * MINUTE, 2_628_000 * MINUTE
#: refreshTokenLifetimeMinutes: 10 minutes..5 years, or unlimited.
MIN_LIFETIME = 10 * MINUTE
#: accessTokenLifetimeMinutes: 5..1440.
MIN_ACCESS_TOKEN, MAX_ACCESS_TOKEN = 5 * MINUTE, 1440 * MINUTE
MAX_GRACE = 60.0

_RULES = {
    "on_reuse": (
        "revoke_family",
        "invalidates the most recently issued refresh token when a rotated one is replayed",
    ),
    "absolute_anchor": ("chain", "keeps the lifetime of the first refresh token across rotations"),
    "max_tokens_per_user": (None, "documents no per-user refresh-token cap"),
    "idle_tolerance": (0.0, "has no idle tolerance"),
    "max_reuse": (0, "has a time-based grace period (reuse_interval), not a count of reuses"),
}


def check(policy: PolicyFields) -> None:
    """Okta's limits."""
    require_choice(
        policy, "refresh_token_usage", ("one_time", "reuse"), NAME,
        "offers rotating (ROTATE, one_time) and persistent (STATIC, reuse) refresh tokens",
    )
    require_duration(policy, "reuse_interval", NAME, "a grace period", 0.0, MAX_GRACE)
    require_values(policy, NAME, _RULES)
    require_duration(
        policy, "absolute_lifetime", NAME, "a refresh-token lifetime", MIN_LIFETIME, MAX_WINDOW,
        unlimited=True, limits="10m..2628000m (5 years)",
    )
    require_duration(
        policy, "sliding_lifetime", NAME, "an idle window", MIN_WINDOW, MAX_WINDOW,
        limits="5m..2628000m (5 years)",
    )
    require_access_token(policy, NAME, MIN_ACCESS_TOKEN, MAX_ACCESS_TOKEN, limits="5m..1440m")
    window = policy.sliding_lifetime
    access = policy.fixed_access_token_lifetime
    assert window is not None and access is not None  # both required above
    got = f"got {show('sliding_lifetime', window)}"
    if window < access:
        fail(
            "sliding_lifetime",
            f"{NAME} requires the idle window to be at least the access-token lifetime "
            f"({show('access_token_lifetime', policy.access_token_lifetime)}), {got}",
        )
    if policy.absolute_lifetime is not None and window > policy.absolute_lifetime:
        fail(
            "sliding_lifetime",
            f"{NAME} requires the idle window to be at most the refresh-token lifetime "
            f"({show('absolute_lifetime', policy.absolute_lifetime)}), {got}",
        )


def conditional_defaults(data: Mapping[str, Any]) -> dict[str, Any]:
    """The 30 s grace period applies to rotating tokens only: persistent (reuse) tokens get none."""
    usage = data.get("refresh_token_usage", "one_time")
    return {"reuse_interval": "30s" if usage == "one_time" else "0s"}


PRESET = Preset(
    name=NAME,
    description=(
        "Okta: rotating tokens with a 30-second grace period, replay revokes the most recent token, "
        "lifetime inherited from the first token (unlimited), 7-day idle window."
    ),
    defaults={
        "refresh_token_usage": "one_time",
        "absolute_lifetime": "unlimited",
        "sliding_lifetime": "7d",
        "max_tokens_per_user": "unlimited",
        "on_cap": "evict_oldest",
        "access_token_lifetime": "1h",
        "reuse_interval": "30s",
        "on_reuse": "revoke_family",
        "absolute_anchor": "chain",
        "idle_tolerance": "0s",
        "max_reuse": 0,
    },
    check=check,
    conditional_defaults=conditional_defaults,
)
