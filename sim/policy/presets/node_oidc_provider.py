"""node oidc-provider 9.x (panva, OpenID certified): rotation, a refresh-token TTL counted from each token's
issue, a Grant TTL counted from the authorization, and a replay of a rotated token revoking the grant.

Sources, panva/node-oidc-provider v9.13.3 (npm `oidc-provider@9.13.3`): `lib/helpers/defaults.js`
(`rotateRefreshToken`: rotate public clients always, others once 70 % of the token's TTL has passed, never
after a chain of 365.25 days; `ttl.RefreshToken` 14 days, `ttl.Grant` 14 days, `ttl.AccessToken` 1 hour,
`ttl.Session` 14 days; `issueRefreshToken`: only with `offline_access`; `revokeGrantPolicy`),
`lib/actions/grants/refresh_token.js` (checks in order: unknown token, `isExpired`, grant missing or
expired, consumed -> `revoke(ctx, grantId)` and `invalid_grant`; a rotated token is a new RefreshToken with
its own TTL from now and the same grant), `lib/helpers/grant_source.js` (`validateGrant`),
`lib/models/base_model.js` (`isExpired`: `exp <= now` in whole seconds), `lib/helpers/revoke.js`.
Checked against the running server by the conformance suite (tests/conformance, docs/conformance.md).
"""

from __future__ import annotations

from sim.core.durations import DAY
from sim.policy.fields import PolicyFields
from sim.policy.presets.base import Preset, fail, require_access_token, require_choice, require_values

NAME = "node_oidc_provider"
#: The default rotation function stops rotating a chain older than this (its last token's TTL is final).
MAX_ROTATING_CHAIN = 365.25 * DAY

_RULES = {
    "reuse_interval": (0.0, "has no grace period: a rotated (consumed) token is refused at once"),
    "on_reuse": ("revoke_family", "revokes the whole grant when a consumed refresh token is presented"),
    "max_tokens_per_user": (None, "has no per-user refresh-token cap (every authorization is its own grant)"),
    "absolute_anchor": ("chain", "counts the Grant TTL from the authorization"),
    "idle_tolerance": (0.0, "has no idle tolerance"),
    "max_reuse": (0, "has no count-based reuse"),
}


def check(policy: PolicyFields) -> None:
    """oidc-provider's limits."""
    require_choice(
        policy, "refresh_token_usage", ("one_time", "reuse"), NAME,
        "rotates a refresh token (rotateRefreshToken true, one_time) or returns the same one (false, reuse)",
    )
    require_values(policy, NAME, _RULES)
    require_access_token(policy, NAME)
    if policy.absolute_lifetime is None:
        fail(
            "absolute_lifetime",
            f"{NAME} ends every chain with its Grant (ttl.Grant, a positive number of seconds counted from "
            "the authorization), so absolute_lifetime must be a duration, got unlimited",
        )
    if policy.refresh_token_usage == "reuse" and policy.sliding_lifetime is not None:
        fail(
            "sliding_lifetime",
            f"{NAME} gives a refresh token that is not rotated a fixed expiry (ttl.RefreshToken from its "
            "issue), so with refresh_token_usage: reuse sliding_lifetime must be none and absolute_lifetime "
            "the smaller of ttl.RefreshToken and ttl.Grant",
        )


PRESET = Preset(
    name=NAME,
    description=(
        "node oidc-provider 9.x: rotation, each new refresh token valid 14 days from its issue, the grant 14 "
        "days from the authorization, replay of a rotated token revokes the grant, no grace, no cap."
    ),
    defaults={
        "refresh_token_usage": "one_time",
        "absolute_lifetime": "14d",
        "sliding_lifetime": "14d",
        "max_tokens_per_user": "unlimited",
        "on_cap": "evict_oldest",
        "access_token_lifetime": "1h",
        "reuse_interval": "0s",
        "on_reuse": "revoke_family",
        "absolute_anchor": "chain",
        "idle_tolerance": "0s",
        "max_reuse": 0,
    },
    check=check,
)
