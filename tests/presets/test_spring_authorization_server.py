"""spring_authorization_server: one test per documented rule, on the preset's defaults unless a rule needs
an override.

Sources (vendor-semantics.md §1, §2.6), in spring-projects/spring-authorization-server@b90fb093
`oauth2-authorization-server/src/main/java/org/springframework/security/oauth2/server/authorization/`:
`settings/TokenSettings.java` ("TokenSettings": defaults, TTL > 0), `token/OAuth2RefreshTokenGenerator.java`
("generator": expiresAt = now + TTL), `authentication/OAuth2RefreshTokenAuthenticationProvider.java`
("provider": lookup by the current token only).
"""

from __future__ import annotations

import pytest

from tests.presets.timeline import (
    EPS,
    HOUR,
    MINUTE,
    assert_fails,
    assert_kept,
    engine,
    limit_error,
    login,
    policy,
    use,
)

P = "spring_authorization_server"


def test_defaults() -> None:
    """`reuseRefreshTokens(true)`, `refreshTokenTimeToLive(60 min)`, `accessTokenTimeToLive(5 min)`
    (TokenSettings)."""
    pol = policy(P)
    assert pol.refresh_token_usage == "reuse"
    assert pol.absolute_lifetime == 60 * MINUTE and pol.sliding_lifetime is None
    assert pol.absolute_anchor == "token" and pol.on_reuse == "reject"
    assert pol.fixed_access_token_lifetime == 5 * MINUTE


def test_reuse_returns_the_same_token_with_a_fixed_expiry() -> None:
    """With reuse the refresh token keeps `exp = issued + TTL` (TokenSettings, generator)."""
    eng = engine(P)
    token = login(eng)
    assert use(eng, token, 30 * MINUTE) == token
    assert eng.chain_info(eng.chain_of(token)).expires_at == 60 * MINUTE
    assert use(eng, token, 60 * MINUTE) == token
    assert_fails(eng, token, 60 * MINUTE + EPS, "absolute_expiry")


def test_without_reuse_each_new_token_gets_a_full_lifetime() -> None:
    """`expiresAt = now + refreshTokenTimeToLive` for every generated token (generator): no absolute cap."""
    eng = engine(P, refresh_token_usage="one_time")
    token = login(eng)
    for hour in range(1, 21):  # twenty hours of refreshes, each exactly at the previous token's expiry
        token = use(eng, token, hour * HOUR)
    assert eng.chain_info(eng.chain_of(token)).expires_at == 21 * HOUR


def test_without_reuse_an_idle_gap_at_both_sides_of_the_ttl() -> None:
    """Each token lives exactly its TTL from its own issue (generator)."""
    eng = engine(P, refresh_token_usage="one_time")
    token = login(eng)
    token = use(eng, token, 30 * MINUTE)
    token = use(eng, token, 90 * MINUTE)  # exactly 60 min after the previous issue
    assert_fails(eng, token, 150 * MINUTE + EPS, "absolute_expiry")


def test_a_replaced_token_is_rejected_and_the_new_one_keeps_working() -> None:
    """The authorization is found by the current token only; a replaced one gets invalid_grant (provider)."""
    eng = engine(P, refresh_token_usage="one_time")
    t0 = login(eng)
    t1 = use(eng, t0, 10 * MINUTE)
    assert_fails(eng, t0, 10 * MINUTE, "consumed")
    assert use(eng, t1, 20 * MINUTE) != t1


def test_no_cap() -> None:
    """Spring Authorization Server has no per-user refresh-token cap (vendor-semantics.md §4.7)."""
    eng = engine(P)
    for i in range(40):
        login(eng, now=float(i))
    assert eng.active_chains("alice", 40.0) == 40 and eng.counters.evictions == 0


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"absolute_lifetime": "unlimited"}, "absolute_lifetime", ["greater than 0", "got unlimited"]),
        ({"sliding_lifetime": "1h"}, "sliding_lifetime", ["no idle timeout", "must be none", "got 1h"]),
        ({"on_reuse": "revoke_family"}, "on_reuse", ["invalid_grant", "got revoke_family"]),
        ({"absolute_anchor": "chain"}, "absolute_anchor", ["its own issue", "got chain"]),
        ({"max_tokens_per_user": 3}, "max_tokens_per_user", ["no per-user", "got 3"]),
        (
            {"refresh_token_usage": "one_time", "reuse_interval": "5s"},
            "reuse_interval",
            ["no grace period", "got 5s"],
        ),
        ({"refresh_token_usage": "rotate_keep_old"}, "refresh_token_usage", ["reuse or one_time"]),
        (
            {"access_token_lifetime": {"uniform": {"low": "1m", "high": "5m"}}},
            "access_token_lifetime",
            ["one duration"],
        ),
    ],
)
def test_invalid_overrides_name_the_limit(overrides: dict, field: str, words: list[str]) -> None:
    """Overrides outside Spring Authorization Server's settings are refused with the limit in the message."""
    limit_error(P, field, P, *words, **overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"refresh_token_usage": "one_time"},
        {"absolute_lifetime": "30d", "access_token_lifetime": "10m"},
        {"absolute_lifetime": "1s"},
    ],
)
def test_valid_overrides_are_accepted(overrides: dict) -> None:
    """Values Spring Authorization Server can be configured with are kept as given."""
    assert_kept(P, **overrides)
