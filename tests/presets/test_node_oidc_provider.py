"""node_oidc_provider: one test per rule of oidc-provider 9.13.3, on the preset's defaults unless a rule
needs an override.

Sources (panva/node-oidc-provider v9.13.3): `lib/helpers/defaults.js` ("defaults"),
`lib/actions/grants/refresh_token.js` ("refresh grant"), `lib/helpers/grant_source.js` ("validateGrant").
The same rules are checked against the running server in tests/conformance.
"""

from __future__ import annotations

import pytest

from tests.presets.timeline import (
    DAY,
    EPS,
    HOUR,
    assert_fails,
    assert_kept,
    engine,
    limit_error,
    login,
    policy,
    use,
)

P = "node_oidc_provider"


def test_defaults() -> None:
    """ttl.RefreshToken and ttl.Grant 14 days, ttl.AccessToken 1 hour, rotation, no grace (defaults)."""
    pol = policy(P)
    assert pol.refresh_token_usage == "one_time"
    assert pol.sliding_lifetime == 14 * DAY and pol.absolute_lifetime == 14 * DAY
    assert pol.fixed_access_token_lifetime == 1 * HOUR
    assert pol.reuse_interval == 0 and pol.on_reuse == "revoke_family"
    assert pol.max_tokens_per_user is None


def test_replay_of_a_rotated_token_revokes_the_grant() -> None:
    """A consumed token: "refresh token already used", and `revoke(ctx, grantId)` (refresh grant)."""
    eng = engine(P)
    t0 = login(eng)
    t1 = use(eng, t0, 1 * HOUR)
    assert_fails(eng, t0, 1 * HOUR + 1, "consumed")
    assert_fails(eng, t1, 1 * HOUR + 2, "family_revoked")


def test_each_rotated_token_gets_a_full_ttl() -> None:
    """The rotated token is a new RefreshToken whose expiry is ttl.RefreshToken from its own issue (refresh
    grant): a sliding lifetime, here 1 day under a 7-day grant."""
    eng = engine(P, sliding_lifetime="1d", absolute_lifetime="7d")
    token = login(eng)
    for day in range(1, 7):
        token = use(eng, token, day * DAY - 60)
    eng2 = engine(P, sliding_lifetime="1d", absolute_lifetime="7d")
    token = login(eng2)
    assert_fails(eng2, token, 1 * DAY + EPS, "sliding_expiry")


def test_the_grant_ends_the_chain() -> None:
    """The Grant expires ttl.Grant after the authorization and is never renewed (validateGrant)."""
    eng = engine(P)
    token = login(eng)
    for day in (4, 8, 12):
        token = use(eng, token, day * DAY)
    assert_fails(eng, token, 14 * DAY + EPS, "absolute_expiry")


def test_without_rotation_the_token_keeps_its_expiry() -> None:
    """rotateRefreshToken false: the same token, expiring ttl.RefreshToken after its issue."""
    eng = engine(P, refresh_token_usage="reuse", sliding_lifetime="none", absolute_lifetime="3d")
    token = login(eng)
    assert use(eng, token, 2 * DAY) == token
    assert_fails(eng, token, 3 * DAY + EPS, "absolute_expiry")


def test_no_cap() -> None:
    """Every authorization is its own grant; no per-user limit."""
    eng = engine(P)
    for i in range(30):
        login(eng, now=float(i))
    assert eng.active_chains("alice", 30.0) == 30


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"reuse_interval": "30s"}, "reuse_interval", ["no grace period"]),
        ({"on_reuse": "reject"}, "on_reuse", ["revokes the whole grant"]),
        ({"absolute_lifetime": "unlimited"}, "absolute_lifetime", ["ttl.Grant"]),
        ({"refresh_token_usage": "reuse"}, "sliding_lifetime", ["must be none"]),
        ({"max_tokens_per_user": 3}, "max_tokens_per_user", ["no per-user"]),
        ({"refresh_token_usage": "rotate_keep_old"}, "refresh_token_usage", ["one_time or reuse"]),
    ],
)
def test_invalid_overrides_name_the_limit(overrides: dict, field: str, words: list[str]) -> None:
    """Values oidc-provider cannot produce are refused with the reason."""
    limit_error(P, field, P, *words, **overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"sliding_lifetime": "1d", "absolute_lifetime": "30d"},
        {"refresh_token_usage": "reuse", "sliding_lifetime": "none", "absolute_lifetime": "3d"},
        {"access_token_lifetime": "10m"},
    ],
)
def test_valid_overrides_are_accepted(overrides: dict) -> None:
    """Values oidc-provider's configuration can produce are kept as given."""
    assert_kept(P, **overrides)
