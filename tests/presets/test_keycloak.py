"""keycloak and keycloak_offline: one test per documented rule, on the presets' defaults unless a rule
needs an override.

Sources (vendor-semantics.md §1, §2.4), in keycloak/keycloak: `services/src/main/java/org/keycloak/protocol/
oidc/TokenManager.java@90a8409c` ("TokenManager": refresh expiry, validateTokenReuse),
`server-spi/src/main/java/org/keycloak/models/Constants.java@4f1d83b9` ("Constants"),
`docs/documentation/server_admin/topics/sessions/timeouts.adoc@68a58dbf` ("timeouts.adoc"),
`testsuite/integration-arquillian/tests/base/src/test/java/org/keycloak/testsuite/oauth/RefreshTokenTest.java
@30989d19` ("RefreshTokenTest"), `model/jpa/.../RealmEntity.java@85c5014d` ("RealmEntity").
"""

from __future__ import annotations

import pytest

from tests.presets.timeline import (
    DAY,
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

P = "keycloak"
OFFLINE = "keycloak_offline"
WINDOW = 120.0


def test_defaults() -> None:
    """Revoke Refresh Token off, max reuse 0 (RealmEntity); SSO Session Idle 1800 s and Max 36000 s
    (Constants); 120 s idle window (timeouts.adoc); access tokens 300 s (realm import default)."""
    pol = policy(P)
    assert pol.refresh_token_usage == "rotate_keep_old" and pol.max_reuse == 0
    assert pol.sliding_lifetime == 30 * MINUTE and pol.absolute_lifetime == 10 * HOUR
    assert pol.idle_tolerance == WINDOW
    assert pol.fixed_access_token_lifetime == 5 * MINUTE
    assert pol.max_tokens_per_user is None


def test_every_refresh_issues_a_new_token_and_the_old_one_stays_valid() -> None:
    """A new refresh token on every refresh; without Revoke Refresh Token the old one stays valid
    (RefreshTokenTest `refreshTokenRequest`, `refreshTokenReuseTokenWithoutRefreshTokensRevoked`)."""
    eng = engine(P)
    t0 = login(eng)
    t1 = use(eng, t0, 10 * MINUTE)
    assert t1 != t0
    t2 = use(eng, t0, 20 * MINUTE)  # the old token still works and issues another new one
    assert t2 not in (t0, t1)
    assert use(eng, t1, 30 * MINUTE) not in (t0, t1, t2)


def test_idle_timeout_with_its_two_minute_window_at_both_sides() -> None:
    """`exp = now + idle`; idle checks get a two-minute window: "when you have the timeout set to 30 minutes,
    it will be 32 minutes before the session expires" (timeouts.adoc)."""
    eng = engine(P)
    token = login(eng)
    token = use(eng, token, 31 * MINUTE)  # past 30 minutes, inside the window
    token = use(eng, token, 31 * MINUTE + 32 * MINUTE)  # exactly at the extended deadline
    eng = engine(P)
    token = login(eng)
    assert_fails(eng, token, 32 * MINUTE + EPS, "sliding_expiry")


def test_session_max_counts_from_the_login_at_both_sides() -> None:
    """`exp = min(now + idle, session start + max)` (TokenManager): the absolute anchor is the login."""
    eng = engine(P)
    token = login(eng)
    for minute in range(20, 600, 20):
        token = use(eng, token, minute * MINUTE)
    assert eng.chain_info(eng.chain_of(token)).absolute_deadline == 10 * HOUR
    token = use(eng, token, 10 * HOUR)
    assert_fails(eng, token, 10 * HOUR + EPS, "absolute_expiry")


def test_revoke_refresh_token_makes_tokens_single_use_and_misuse_ends_the_session() -> None:
    """Revoke Refresh Token with max reuse 0: a token can be used once; a reuse fails and
    `clientSession.detachFromUserSession()` ends every token of that login
    (TokenManager.validateTokenReuse)."""
    eng = engine(P, refresh_token_usage="one_time")
    t0 = login(eng)
    t1 = use(eng, t0, 1 * MINUTE)
    assert_fails(eng, t0, 2 * MINUTE, "consumed")
    assert_fails(eng, t1, 3 * MINUTE, "family_revoked")


@pytest.mark.parametrize("max_reuse", [1, 2])
def test_max_reuse_allows_max_reuse_plus_one_uses(max_reuse: int) -> None:
    """"An RT can be used at most maxReuse + 1 times" (TokenManager.validateTokenReuse), each use issuing a
    new token; one more use ends the session."""
    eng = engine(P, refresh_token_usage="one_time", max_reuse=max_reuse)
    t0 = login(eng)
    issued = {use(eng, t0, float(60 * (i + 1))) for i in range(max_reuse + 1)}
    assert len(issued) == max_reuse + 1 and t0 not in issued
    assert_fails(eng, t0, 10 * MINUTE, "consumed")
    assert eng.chain_info(eng.chain_of(t0)).end_reason == "family_revoked"


def test_an_older_token_after_a_newer_one_was_used_is_stale() -> None:
    """"Stale token": an older token than the one used last fails even when reuses are left
    (TokenManager.validateTokenReuse), and ends the session."""
    eng = engine(P, refresh_token_usage="one_time", max_reuse=2)
    t0 = login(eng)
    t1 = use(eng, t0, 60.0)
    use(eng, t1, 120.0)
    assert_fails(eng, t0, 180.0, "consumed")
    assert eng.chain_info(eng.chain_of(t0)).end_reason == "family_revoked"


def test_no_cap() -> None:
    """Keycloak has no per-user refresh-token cap (vendor-semantics.md §4.7)."""
    eng = engine(P)
    for i in range(60):
        login(eng, now=float(i))
    assert eng.active_chains("alice", 60.0) == 60 and eng.counters.evictions == 0


def test_offline_defaults() -> None:
    """Offline Session Idle 2,592,000 s, Offline Session Max Limited off (Constants, timeouts.adoc)."""
    pol = policy(OFFLINE)
    assert pol.sliding_lifetime == 30 * DAY and pol.absolute_lifetime is None
    assert pol.idle_tolerance == WINDOW and pol.refresh_token_usage == "rotate_keep_old"


def test_offline_idle_at_both_sides_and_no_maximum() -> None:
    """Offline tokens: only the offline idle check (30 d plus the 120 s window) applies by default
    (TokenManager, timeouts.adoc)."""
    eng = engine(OFFLINE)
    token = login(eng)
    for day in range(30, 3 * 365, 30):
        token = use(eng, token, day * DAY + WINDOW * (day // 30))  # each time exactly at the deadline
    eng = engine(OFFLINE)
    token = login(eng)
    assert_fails(eng, token, 30 * DAY + WINDOW + EPS, "sliding_expiry")


def test_offline_session_max_when_limited() -> None:
    """With Offline Session Max Limited on: `exp = min(now + offlineIdle, start + offlineMax)` (TokenManager);
    60 d is the default maximum then (Constants)."""
    eng = engine(OFFLINE, absolute_lifetime="60d")
    token = login(eng)
    token = use(eng, token, 29 * DAY)
    token = use(eng, token, 58 * DAY)
    token = use(eng, token, 60 * DAY)
    assert_fails(eng, token, 60 * DAY + EPS, "absolute_expiry")


@pytest.mark.parametrize("preset", [P, OFFLINE])
@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"refresh_token_usage": "reuse"}, "refresh_token_usage", ["rotate_keep_old or one_time", "reuse"]),
        (
            {"refresh_token_usage": "one_time", "reuse_interval": "10s"},
            "reuse_interval",
            ["max_reuse", "must be 0s", "got 10s"],
        ),
        ({"on_reuse": "reject"}, "on_reuse", ["ends the client session", "got reject"]),
        ({"idle_tolerance": "0s"}, "idle_tolerance", ["two-minute window", "must be 2m", "got 0s"]),
        ({"max_tokens_per_user": 5}, "max_tokens_per_user", ["no per-user", "got 5"]),
        ({"absolute_anchor": "token"}, "absolute_anchor", ["start of the session", "got token"]),
        (
            {"access_token_lifetime": {"exponential": {"mean": "5m"}}},
            "access_token_lifetime",
            ["same lifetime", "one duration"],
        ),
    ],
)
def test_invalid_overrides_name_the_limit(preset: str, overrides: dict, field: str, words: list[str]) -> None:
    """Overrides outside Keycloak's settings are refused with the limit in the message."""
    limit_error(preset, field, preset, *words, **overrides)


@pytest.mark.parametrize("preset", [P, OFFLINE])
def test_the_idle_timeout_cannot_be_switched_off(preset: str) -> None:
    """Every Keycloak refresh token carries an idle expiry (TokenManager); the fixed two-minute window needs
    one, so `sliding_lifetime: none` is refused."""
    limit_error(preset, "idle_tolerance", "needs a sliding_lifetime", sliding_lifetime="none")
    limit_error(preset, "sliding_lifetime", preset, "idle timeout", "got none", sliding_lifetime="none",
                idle_tolerance=0)


def test_max_reuse_needs_revoke_refresh_token() -> None:
    """Refresh Token Max Reuse applies only with Revoke Refresh Token on (RealmEntity, TokenManager)."""
    limit_error(P, "max_reuse", "only to refresh_token_usage: one_time", "got 1", max_reuse=1)


def test_online_sessions_always_have_a_maximum() -> None:
    """A realm SSO Session Max <= 0 falls back to the default (SessionExpirationUtils), so an online session
    cannot be unlimited."""
    limit_error(
        P, "absolute_lifetime", P, "cannot be unlimited", "keycloak_offline", absolute_lifetime="unlimited"
    )


@pytest.mark.parametrize(
    ("preset", "overrides"),
    [
        (P, {"refresh_token_usage": "one_time", "max_reuse": 2}),
        (P, {"sliding_lifetime": "15m", "absolute_lifetime": "8h", "access_token_lifetime": "1m"}),
        (OFFLINE, {"absolute_lifetime": "60d"}),
        (OFFLINE, {"sliding_lifetime": "90d", "refresh_token_usage": "one_time"}),
    ],
)
def test_valid_overrides_are_accepted(preset: str, overrides: dict) -> None:
    """Values Keycloak can be configured with are kept as given."""
    assert_kept(preset, **overrides)
