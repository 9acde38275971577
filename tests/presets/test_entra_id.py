"""entra_id and entra_id_spa: one test per documented rule, on the presets' defaults.

Sources (vendor-semantics.md §1, §2.5): MicrosoftDocs/entra-docs `docs/identity-platform/refresh-tokens.md`
("refresh tokens page", learn.microsoft.com/entra/identity-platform/refresh-tokens),
`docs/identity-platform/configurable-token-lifetimes.md` ("lifetimes page"), and
AzureAD/microsoft-authentication-library-for-js `lib/msal-browser/docs/token-lifetimes.md` ("MSAL.js").
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.policy.engine import TokenEngine
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

P = "entra_id"
SPA = "entra_id_spa"


def test_defaults() -> None:
    """90-day inactivity, max age until revoked, a new token on every use (refresh tokens page, lifetimes
    page); access tokens 60..90 minutes at random (lifetimes page)."""
    pol = policy(P)
    assert pol.refresh_token_usage == "rotate_keep_old"
    assert pol.sliding_lifetime == 90 * DAY and pol.absolute_lifetime is None
    assert pol.max_tokens_per_user is None
    assert pol.access_token_lifetime.to_config() == {"uniform": {"low": "1h", "high": "90m"}}


def test_a_new_token_on_every_use_and_old_ones_are_not_revoked() -> None:
    """"Refresh tokens replace themselves with a fresh token upon every use"; "The Microsoft identity platform
    doesn't revoke old refresh tokens when used to fetch new access tokens" (refresh tokens page)."""
    eng = engine(P)
    t0 = login(eng)
    t1 = use(eng, t0, 1 * DAY)
    assert t1 != t0
    assert use(eng, t0, 2 * DAY) not in (t0, t1)


def test_inactivity_at_both_sides_of_90_days() -> None:
    """MaxInactiveTime 90 d (lifetimes page): valid exactly 90 d after the last use, expired just after."""
    eng = engine(P)
    token = login(eng)
    token = use(eng, token, 90 * DAY)
    assert eng.chain_info(eng.chain_of(token)).expires_at == 180 * DAY
    eng = engine(P)
    token = login(eng)
    assert_fails(eng, token, 90 * DAY + EPS, "sliding_expiry")


def test_no_maximum_age() -> None:
    """MaxAgeSingleFactor / MaxAgeMultiFactor default to "until-revoked" (lifetimes page)."""
    eng = engine(P)
    token = login(eng)
    for day in range(80, 5 * 365, 80):
        token = use(eng, token, day * DAY)
    assert eng.chain_info(eng.chain_of(token)).absolute_deadline == float("inf")


def test_access_tokens_last_60_to_90_minutes_at_random() -> None:
    """"a random value ranging between 60-90 minutes (75 minutes on average)" (lifetimes page)."""
    eng = TokenEngine(policy(P), rng=np.random.default_rng(3))
    token = login(eng)
    lifetimes = []
    for i in range(1, 201):
        result = eng.refresh(token, i * HOUR)
        assert result.ok and result.access_expires_at is not None and result.refresh_token is not None
        lifetimes.append(result.access_expires_at - i * HOUR)
        token = result.refresh_token
    assert min(lifetimes) >= 60 * MINUTE and max(lifetimes) <= 90 * MINUTE
    assert max(lifetimes) - min(lifetimes) > 20 * MINUTE


def test_password_change_revokes_the_users_tokens() -> None:
    """"Password changed by user" -> Revoked for password-based flows of public clients (refresh tokens
    page); the scenario's password changes call `revoke_user`."""
    eng = engine(P)
    tokens = [login(eng, now=float(i)) for i in range(3)]
    assert len(eng.revoke_user("alice", now=10.0)) == 3
    for token in tokens:
        assert_fails(eng, token, 11.0, "revoked")


def test_no_cap() -> None:
    """Entra ID documents no per-user refresh-token cap (vendor-semantics.md §4.7)."""
    eng = engine(P)
    for i in range(60):
        login(eng, now=float(i))
    assert eng.active_chains("alice", 60.0) == 60 and eng.counters.evictions == 0


def test_spa_defaults() -> None:
    """Single-page apps: 24 hours, non-sliding (refresh tokens page, MSAL.js)."""
    pol = policy(SPA)
    assert pol.absolute_lifetime == 24 * HOUR and pol.sliding_lifetime is None
    assert pol.refresh_token_usage == "rotate_keep_old" and pol.absolute_anchor == "chain"


def test_spa_expiry_is_carried_over_to_every_new_token() -> None:
    """"Additional refresh tokens acquired using the initial refresh token carry over that expiration time"
    (refresh tokens page); the new token's lifetime equals the remaining lifetime of the original
    (MSAL.js)."""
    eng = engine(SPA)
    t0 = login(eng)
    t1 = use(eng, t0, 1 * HOUR)
    t2 = use(eng, t1, 23 * HOUR)
    assert eng.chain_info(eng.chain_of(t2)).absolute_deadline == 24 * HOUR
    t3 = use(eng, t2, 24 * HOUR)
    assert_fails(eng, t3, 24 * HOUR + EPS, "absolute_expiry")


def test_spa_lifetime_does_not_slide() -> None:
    """"non-adjustable, non-sliding" (MSAL.js): 23 idle hours do not matter, 24 h after the login does."""
    eng = engine(SPA)
    t0 = login(eng)
    t1 = use(eng, t0, 23 * HOUR)
    assert eng.chain_info(eng.chain_of(t1)).expires_at == 24 * HOUR


def test_spa_old_token_stays_usable_until_the_expiry() -> None:
    """The old token "is not invalidated by the server and may still be used ... until its expiration"
    (MSAL.js)."""
    eng = engine(SPA)
    t0 = login(eng)
    use(eng, t0, 1 * HOUR)
    use(eng, t0, 24 * HOUR)
    assert_fails(eng, t0, 24 * HOUR + EPS, "absolute_expiry")


@pytest.mark.parametrize("preset", [P, SPA])
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"refresh_token_usage": "one_time"}, "refresh_token_usage"),
        ({"absolute_lifetime": "30d"}, "absolute_lifetime"),
        ({"sliding_lifetime": "30d"}, "sliding_lifetime"),
        ({"max_tokens_per_user": 10}, "max_tokens_per_user"),
        ({"absolute_anchor": "token"}, "absolute_anchor"),
    ],
)
def test_fixed_fields_refuse_any_override(preset: str, overrides: dict, field: str) -> None:
    """"As of January 30, 2021 you can't configure refresh and session token lifetimes" (lifetimes page):
    the message says the field is fixed and why."""
    words = (preset, f"does not let {field} be configured", "2021-01-30", "fixed at")
    limit_error(preset, field, *words, **overrides)


@pytest.mark.parametrize("preset", [P, SPA])
@pytest.mark.parametrize("value", ["5m", "25h", {"uniform": {"low": "9m", "high": "20m"}}])
def test_access_token_lifetime_outside_10_minutes_to_1_day(preset: str, value: object) -> None:
    """AccessTokenLifetime in a token lifetime policy: 10 minutes..1 day (lifetimes page)."""
    limit_error(preset, "access_token_lifetime", preset, "10m..1d", access_token_lifetime=value)


@pytest.mark.parametrize("preset", [P, SPA])
@pytest.mark.parametrize("value", ["10m", "2h", "1d", {"uniform": {"low": "30m", "high": "45m"}}])
def test_access_token_lifetime_may_be_configured(preset: str, value: object) -> None:
    """Access-token lifetimes remain configurable (lifetimes page)."""
    assert_kept(preset, access_token_lifetime=value)
