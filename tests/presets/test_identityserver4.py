"""identityserver4: as Duende IdentityServer but OneTimeOnly by default; one test per documented rule.

Sources (vendor-semantics.md §1, §2.1): IdentityServer/IdentityServer4@5e40bd18 `src/Storage/src/Models/
Client.cs` ("Client.cs": defaults), `src/IdentityServer4/src/Services/Default/DefaultRefreshTokenService.cs`
("DefaultRefreshTokenService"), commits cc22192f (v2.1, "Unlimited refresh lifetime") and b76402b3 (v4.0,
consumed tokens are marked, not deleted).
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

P = "identityserver4"


def test_defaults() -> None:
    """Client.cs: RefreshTokenUsage OneTimeOnly, Absolute 2,592,000 s, AccessTokenLifetime 3600 s."""
    pol = policy(P)
    assert pol.refresh_token_usage == "one_time"
    assert pol.absolute_lifetime == 30 * DAY and pol.sliding_lifetime is None
    assert pol.max_tokens_per_user is None and pol.reuse_interval == 0 and pol.on_reuse == "reject"
    assert pol.fixed_access_token_lifetime == 1 * HOUR


def test_each_refresh_issues_a_new_token() -> None:
    """OneTimeOnly: a new handle on every refresh, the old one marked consumed (DefaultRefreshTokenService,
    commit b76402b3)."""
    eng = engine(P)
    t0 = login(eng)
    t1 = use(eng, t0, 1 * HOUR)
    assert t1 != t0
    assert_fails(eng, t0, 1 * HOUR, "consumed")


def test_replay_is_rejected_and_the_newer_token_keeps_working() -> None:
    """The consumed check fails the replay with invalid_grant; there is no family revocation
    (DefaultRefreshTokenService)."""
    eng = engine(P)
    t0 = login(eng)
    t1 = use(eng, t0, 1 * HOUR)
    assert_fails(eng, t0, 2 * HOUR, "consumed")
    assert use(eng, t1, 3 * HOUR) != t1


def test_rotation_keeps_the_absolute_deadline_of_the_first_token() -> None:
    """The new handle copies the record with the same CreationTime (DefaultRefreshTokenService)."""
    eng = engine(P)
    token = login(eng)
    for day in (7, 14, 21, 28, 30):
        token = use(eng, token, day * DAY)
    assert_fails(eng, token, 30 * DAY + EPS, "absolute_expiry")


def test_sliding_mode_at_both_sides_of_the_idle_deadline() -> None:
    """Sliding: `exp = min(now + Sliding, chain_created + Absolute)` (DefaultRefreshTokenService)."""
    eng = engine(P, sliding_lifetime="15d")
    token = login(eng)
    token = use(eng, token, 15 * DAY)
    assert eng.chain_info(eng.chain_of(token)).expires_at == 30 * DAY
    eng = engine(P, sliding_lifetime="15d")
    token = login(eng)
    assert_fails(eng, token, 15 * DAY + EPS, "sliding_expiry")


def test_absolute_zero_is_unlimited_with_sliding() -> None:
    """Since v2.1 AbsoluteRefreshTokenLifetime 0 with Sliding slides without a cap (commit cc22192f)."""
    eng = engine(P, absolute_lifetime="unlimited", sliding_lifetime="15d")
    token = login(eng)
    for day in range(14, 2 * 365, 14):
        token = use(eng, token, day * DAY)


def test_no_cap_and_no_grace() -> None:
    """No per-user cap, no grace window (neither exists in IdentityServer4)."""
    eng = engine(P)
    for i in range(30):
        login(eng, now=float(i))
    assert eng.counters.evictions == 0
    t0 = login(eng, now=100.0)
    use(eng, t0, 200.0)
    assert_fails(eng, t0, 200.0, "consumed")


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"max_tokens_per_user": 20}, "max_tokens_per_user", ["no per-user", "got 20"]),
        ({"reuse_interval": "10s"}, "reuse_interval", ["no grace period", "got 10s"]),
        ({"on_reuse": "revoke_family"}, "on_reuse", ["must be reject"]),
        ({"absolute_lifetime": "unlimited"}, "absolute_lifetime", ["only with sliding"]),
        ({"absolute_anchor": "token"}, "absolute_anchor", ["must be chain"]),
        ({"max_reuse": 2}, "max_reuse", ["must be 0", "got 2"]),
    ],
)
def test_invalid_overrides_name_the_limit(overrides: dict, field: str, words: list[str]) -> None:
    """Overrides outside IdentityServer4's options are refused with the limit in the message."""
    limit_error(P, field, P, *words, **overrides)


@pytest.mark.parametrize(
    "overrides",
    [{"refresh_token_usage": "reuse"}, {"sliding_lifetime": "15d"}, {"absolute_lifetime": "7d"}],
)
def test_valid_overrides_are_accepted(overrides: dict) -> None:
    """Values IdentityServer4 can be configured with are kept as given."""
    assert_kept(P, **overrides)
