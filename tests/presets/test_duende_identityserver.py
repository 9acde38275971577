"""duende_identityserver (v7): one test per documented rule, on the preset's defaults unless a rule needs
an override.

Sources (vendor-semantics.md §1, §2.1): DuendeSoftware/IdentityServer@0850cda5 `src/Storage/Models/Client.cs`
("Client.cs": defaults), `src/IdentityServer/Services/Default/DefaultRefreshTokenService.cs`
("DefaultRefreshTokenService": creation, validation, refresh), commit ba81e7f5 ("Enable refresh token reuse
by default", v7.0), the test
`UpdateRefreshToken_one_time_use_with_consume_on_use_should_consume_token_and_create_new_one_with_correct_dates`,
and docs.duendesoftware.com/identityserver/tokens/refresh ("refresh docs").
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

P = "duende_identityserver"


def test_defaults() -> None:
    """v7 defaults (Client.cs; commit ba81e7f5): ReUse, Absolute expiration of 2,592,000 s, no cap, no
    grace; AccessTokenLifetime 3600 s."""
    pol = policy(P)
    assert pol.refresh_token_usage == "reuse"
    assert pol.absolute_lifetime == 30 * DAY and pol.sliding_lifetime is None
    assert pol.max_tokens_per_user is None and pol.reuse_interval == 0 and pol.on_reuse == "reject"
    assert pol.fixed_access_token_lifetime == 1 * HOUR


def test_issue_and_reuse_return_the_same_token() -> None:
    """ReUse keeps the same handle on every refresh (Client.cs `RefreshTokenUsage`)."""
    eng = engine(P)
    token = login(eng)
    assert use(eng, token, 1 * DAY) == token
    assert use(eng, token, 2 * DAY) == token


def test_access_token_lives_one_hour() -> None:
    """AccessTokenLifetime defaults to 3600 s (Client.cs)."""
    eng = engine(P)
    grant = eng.authorize("alice", 100.0)
    assert grant.access_expires_at == 100.0 + HOUR
    assert eng.refresh(grant.refresh_token or 0, 200.0).access_expires_at == 200.0 + HOUR


def test_absolute_expiry_at_both_sides_of_30_days() -> None:
    """Absolute: `exp = chain_created + Absolute`; expired only when `now > exp` (DefaultRefreshTokenService,
    `DateTimeExtensions.HasExceeded`)."""
    eng = engine(P)
    token = login(eng)
    assert use(eng, token, 30 * DAY) == token  # a refresh does not extend it
    assert_fails(eng, token, 30 * DAY + EPS, "absolute_expiry")


def test_one_time_rotation_copies_the_first_tokens_creation_time() -> None:
    """OneTimeOnly: the new handle is a copy of the record with the same CreationTime, so the 30-day
    deadline counts from the first token (DefaultRefreshTokenService; the test
    UpdateRefreshToken_one_time_use_..._with_correct_dates)."""
    eng = engine(P, refresh_token_usage="one_time")
    token = login(eng)
    for day in (10, 20, 29):
        token = use(eng, token, day * DAY)
    assert eng.chain_info(eng.chain_of(token)).absolute_deadline == 30 * DAY
    token = use(eng, token, 30 * DAY)
    assert_fails(eng, token, 30 * DAY + EPS, "absolute_expiry")


def test_replay_of_a_rotated_token_is_rejected_and_the_newer_one_keeps_working() -> None:
    """A consumed (or deleted) handle fails with invalid_grant; nothing revokes the newer token
    (DefaultRefreshTokenService; integration test `Replaying_a_rotated_token_should_fail`)."""
    eng = engine(P, refresh_token_usage="one_time")
    t0 = login(eng)
    t1 = use(eng, t0, 1 * HOUR)
    assert_fails(eng, t0, 1 * HOUR, "consumed")  # even at the same instant: no grace
    assert use(eng, t1, 2 * HOUR) != t1


def test_sliding_mode_slides_15_days_capped_by_the_30_day_absolute() -> None:
    """Sliding: `exp = min(now + Sliding, chain_created + Absolute)` (DefaultRefreshTokenService, Client.cs:
    SlidingRefreshTokenLifetime 1,296,000 s)."""
    eng = engine(P, sliding_lifetime="15d")
    token = login(eng)
    assert eng.chain_info(eng.chain_of(token)).expires_at == 15 * DAY
    token = use(eng, token, 10 * DAY)
    assert eng.chain_info(eng.chain_of(token)).expires_at == 25 * DAY
    token = use(eng, token, 25 * DAY)  # exactly at the sliding deadline
    assert eng.chain_info(eng.chain_of(token)).expires_at == 30 * DAY  # capped by the absolute deadline
    assert use(eng, token, 30 * DAY) == token
    assert_fails(eng, token, 30 * DAY + EPS, "absolute_expiry")


def test_sliding_mode_idle_gap_at_both_sides() -> None:
    """Sliding: a token unused for longer than the sliding lifetime has expired
    (DefaultRefreshTokenService)."""
    eng = engine(P, sliding_lifetime="15d")
    token = login(eng)
    assert use(eng, token, 15 * DAY) == token
    assert_fails(eng, token, 30 * DAY + EPS, "absolute_expiry")
    eng = engine(P, sliding_lifetime="15d")
    token = login(eng)
    assert_fails(eng, token, 15 * DAY + EPS, "sliding_expiry")


def test_absolute_zero_means_unlimited_with_sliding() -> None:
    """AbsoluteRefreshTokenLifetime 0 with Sliding: `exp = now + Sliding` without a cap
    (DefaultRefreshTokenService; refresh docs)."""
    eng = engine(P, absolute_lifetime="unlimited", sliding_lifetime="15d")
    token = login(eng)
    for day in range(15, 400, 15):
        token = use(eng, token, day * DAY)
    assert_fails(eng, token, 405 * DAY + EPS, "sliding_expiry")


def test_no_cap_on_authorizations() -> None:
    """Every authorization stores a new grant; nothing caps or revokes earlier ones (no such option in
    IdentityServer)."""
    eng = engine(P)
    tokens = [login(eng, now=float(i)) for i in range(50)]
    assert eng.active_chains("alice", 50.0) == 50
    assert eng.counters.evictions == 0
    assert use(eng, tokens[0], 60.0) == tokens[0]


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"max_tokens_per_user": 5}, "max_tokens_per_user", ["no per-user", "unlimited", "got 5"]),
        (
            {"refresh_token_usage": "one_time", "reuse_interval": "5s"},
            "reuse_interval",
            ["no grace period", "must be 0s", "got 5s"],
        ),
        ({"on_reuse": "revoke_family"}, "on_reuse", ["must be reject", "got revoke_family"]),
        ({"absolute_lifetime": "unlimited"}, "absolute_lifetime", ["only with sliding", "sliding_lifetime"]),
        ({"absolute_anchor": "token"}, "absolute_anchor", ["creation time", "must be chain"]),
        ({"refresh_token_usage": "rotate_keep_old"}, "refresh_token_usage", ["reuse or one_time"]),
        ({"refresh_token_usage": "one_time", "max_reuse": 1}, "max_reuse", ["must be 0", "got 1"]),
        ({"sliding_lifetime": "1d", "idle_tolerance": "2m"}, "idle_tolerance", ["must be 0s", "got 2m"]),
        (
            {"access_token_lifetime": {"uniform": {"low": "1h", "high": "2h"}}},
            "access_token_lifetime",
            ["same lifetime", "one duration"],
        ),
    ],
)
def test_invalid_overrides_name_the_limit(overrides: dict, field: str, words: list[str]) -> None:
    """Overrides outside IdentityServer's options are refused with the limit in the message."""
    limit_error(P, field, P, *words, **overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"refresh_token_usage": "one_time"},
        {"sliding_lifetime": "15d"},
        {"absolute_lifetime": "unlimited", "sliding_lifetime": "15d"},
        {"absolute_lifetime": "90d", "access_token_lifetime": "5m"},
    ],
)
def test_valid_overrides_are_accepted(overrides: dict) -> None:
    """Values IdentityServer can be configured with are kept as given."""
    assert_kept(P, **overrides)
