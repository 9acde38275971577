"""django-oauth-toolkit (DOT) 3.x: rotation on by default, an optional grace period and family revocation,
and a refresh-token expiry that counts from the expiry of the token's access token.

Sources, django-oauth/django-oauth-toolkit at tag 3.4.1 (commit db6c4f51): `oauth2_provider/settings.py`
(defaults: ACCESS_TOKEN_EXPIRE_SECONDS 36000, REFRESH_TOKEN_EXPIRE_SECONDS None,
REFRESH_TOKEN_GRACE_PERIOD_SECONDS 0, REFRESH_TOKEN_REUSE_PROTECTION False, ROTATE_REFRESH_TOKEN True),
`oauth2_provider/oauth2_validators.py` (`validate_refresh_token`: a revoked token is accepted only inside the
grace period and only while it is the immediate predecessor whose successor's access token still exists,
#1617; reuse protection revokes the family; a live token is refused once `access_token.expires +
REFRESH_TOKEN_EXPIRE_SECONDS <= now`, #746; `_save_bearer_token`: rotation revokes the presented token, the
grace retry returns the existing successor, no rotation renews the access token in place),
`oauth2_provider/models.py` (`RefreshToken.revoke`, `revoke_family`), `docs/settings.rst`. Checked against the
running server by the conformance suite (tests/conformance, docs/conformance.md).
"""

from __future__ import annotations

from sim.policy.fields import PolicyFields
from sim.policy.presets.base import Preset, fail, require_access_token, require_choice, require_values, show

NAME = "django_oauth_toolkit"

_RULES = {
    "absolute_lifetime": (
        None,
        "has no absolute refresh-token lifetime (REFRESH_TOKEN_EXPIRE_SECONDS slides with each refresh)",
    ),
    "max_tokens_per_user": (None, "has no per-user refresh-token cap (every login starts a new family)"),
    "absolute_anchor": ("chain", "has no absolute lifetime to anchor"),
    "idle_tolerance": (0.0, "has no idle tolerance"),
    "max_reuse": (0, "has a time-based grace period (reuse_interval), not a count of reuses"),
}


def check(policy: PolicyFields) -> None:
    """django-oauth-toolkit's limits."""
    require_choice(
        policy, "refresh_token_usage", ("one_time", "reuse"), NAME,
        "offers ROTATE_REFRESH_TOKEN True (one_time) and False (reuse)",
    )
    require_values(policy, NAME, _RULES)
    require_access_token(policy, NAME)
    if policy.refresh_token_usage == "reuse" and policy.on_reuse != "reject":
        fail(
            "on_reuse",
            f"{NAME} detects reuse only among rotated tokens (REFRESH_TOKEN_REUSE_PROTECTION needs "
            f"ROTATE_REFRESH_TOKEN), so with refresh_token_usage: reuse on_reuse must be reject, "
            f"got {policy.on_reuse}",
        )
    sliding = policy.sliding_lifetime
    access = policy.fixed_access_token_lifetime
    if sliding is not None and access is not None and sliding <= access:
        fail(
            "sliding_lifetime",
            f"{NAME} counts REFRESH_TOKEN_EXPIRE_SECONDS from the access token's expiry, so the sliding "
            f"lifetime is ACCESS_TOKEN_EXPIRE_SECONDS + REFRESH_TOKEN_EXPIRE_SECONDS and must exceed the "
            f"access-token lifetime ({show('access_token_lifetime', policy.access_token_lifetime)}), "
            f"got {show('sliding_lifetime', sliding)}",
        )


PRESET = Preset(
    name=NAME,
    description=(
        "django-oauth-toolkit 3.x: rotation (a grace period and family revocation optional), no lifetime "
        "unless REFRESH_TOKEN_EXPIRE_SECONDS (then sliding from the access token's expiry), no cap."
    ),
    defaults={
        "refresh_token_usage": "one_time",
        "absolute_lifetime": "unlimited",
        "sliding_lifetime": "none",
        "max_tokens_per_user": "unlimited",
        "on_cap": "evict_oldest",
        "access_token_lifetime": "10h",
        "reuse_interval": "0s",
        "on_reuse": "reject",
        "absolute_anchor": "chain",
        "idle_tolerance": "0s",
        "max_reuse": 0,
    },
    check=check,
)
