"""okta: one test per documented rule, on the preset's defaults unless a rule needs an override.

Sources (vendor-semantics.md §1, §2.3), in okta/okta-developer-docs@468de9c5 `packages/@okta/vuepress-site/
docs/`: `guides/refresh-tokens/main/index.md` ("refresh guide"), `guides/customize-authz-server/main/index.md`
("authz guide"), `guides/terraform-create-custom-auth-server/main/index.md` ("terraform guide"),
`release-notes/2018/index.md`; and the Okta support article "Refresh Token Expiration Behavior"
(support.okta.com/help/s/article/refresh-token-expiration-behavior, "support article").
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

P = "okta"


def test_defaults() -> None:
    """Rotation with a 30 s grace period (refresh guide), lifetime unlimited and idle window 7 d (refresh
    guide, terraform guide), access tokens 60 min (terraform guide), no cap."""
    pol = policy(P)
    assert pol.refresh_token_usage == "one_time" and pol.reuse_interval == 30
    assert pol.on_reuse == "revoke_family"
    assert pol.absolute_lifetime is None and pol.sliding_lifetime == 7 * DAY
    assert pol.max_tokens_per_user is None
    assert pol.fixed_access_token_lifetime == 1 * HOUR


def test_rotation_issues_a_new_token() -> None:
    """When new tokens are issued "Okta invalidates the refresh token that was passed" (refresh guide)."""
    eng = engine(P)
    t0 = login(eng)
    t1 = use(eng, t0, 1 * HOUR)
    assert t1 != t0
    assert use(eng, t1, 2 * HOUR) not in (t0, t1)


def test_grace_period_at_both_sides_of_30_seconds() -> None:
    """"After the refresh token is rotated, the previous token remains valid for the configured amount of
    time"; default 30 s (refresh guide)."""
    eng = engine(P)
    t0 = login(eng)
    t1 = use(eng, t0, 1000.0)
    retry = eng.refresh(t0, 1030.0)
    assert retry.ok and retry.grace and retry.refresh_token == t1
    assert_fails(eng, t0, 1030.0 + EPS, "consumed")


def test_replay_outside_the_grace_period_revokes_the_most_recent_token() -> None:
    """Reuse of a previously used token: Okta "immediately invalidates the most recently issued refresh
    token" (refresh guide); tokensim ends the chain."""
    eng = engine(P)
    t0 = login(eng)
    t1 = use(eng, t0, 1 * HOUR)
    assert_fails(eng, t0, 2 * HOUR, "consumed")
    assert_fails(eng, t1, 2 * HOUR, "family_revoked")


def test_idle_window_at_both_sides_and_reset_by_each_refresh() -> None:
    """The idle window "resets each time a request is made to refresh an access token and when a refresh
    token is rotated" (authz guide); default 7 d."""
    eng = engine(P)
    token = login(eng)
    token = use(eng, token, 7 * DAY)  # exactly at the idle deadline
    assert eng.chain_info(eng.chain_of(token)).expires_at == 14 * DAY
    eng = engine(P)
    token = login(eng)
    assert_fails(eng, token, 7 * DAY + EPS, "sliding_expiry")


def test_default_lifetime_is_unlimited() -> None:
    """Refresh-token lifetime "Unlimited" by default (refresh guide): regular use never expires."""
    eng = engine(P)
    token = login(eng)
    for day in range(6, 3 * 365, 6):
        token = use(eng, token, day * DAY)
    assert eng.chain_info(eng.chain_of(token)).absolute_deadline == float("inf")


def test_lifetime_is_inherited_from_the_first_token() -> None:
    """With rotation "the expiration date remains the same. The lifetime is inherited from the initial
    refresh token minted when the user first authenticates" (refresh guide)."""
    eng = engine(P, absolute_lifetime="30d")
    token = login(eng)
    for day in (6, 12, 18, 24, 30):
        token = use(eng, token, day * DAY)
    assert_fails(eng, token, 30 * DAY + EPS, "absolute_expiry")


def test_no_cap() -> None:
    """Okta documents no per-user refresh-token cap (vendor-semantics.md §4.7)."""
    eng = engine(P)
    for i in range(100):
        login(eng, now=float(i))
    assert eng.active_chains("alice", 100.0) == 100 and eng.counters.evictions == 0


def test_access_token_lives_60_minutes() -> None:
    """accessTokenLifetimeMinutes 60 (terraform guide)."""
    eng = engine(P)
    assert eng.authorize("alice", 10.0).access_expires_at == 10.0 + 60 * MINUTE


def test_persistent_tokens_get_no_grace_period() -> None:
    """Persistent (STATIC) tokens are not rotated (refresh guide); the grace period is a rotation setting,
    so it defaults to 0 s and the same token comes back."""
    pol = policy(P, refresh_token_usage="reuse")
    assert pol.reuse_interval == 0
    eng = engine(P, refresh_token_usage="reuse")
    token = login(eng)
    assert use(eng, token, 1 * DAY) == token


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"reuse_interval": "61s"}, "reuse_interval", ["0s..1m", "got 61s"]),
        ({"sliding_lifetime": "4m", "access_token_lifetime": "5m"}, "sliding_lifetime", ["5m..2628000m"]),
        ({"sliding_lifetime": 2_628_001 * 60}, "sliding_lifetime", ["5m..2628000m (5 years)"]),
        ({"sliding_lifetime": "none"}, "sliding_lifetime", ["idle window", "got none"]),
        ({"sliding_lifetime": "30m"}, "sliding_lifetime", ["at least the access-token lifetime (1h)"]),
        (
            {"absolute_lifetime": "1d", "sliding_lifetime": "2d"},
            "sliding_lifetime",
            ["at most the refresh-token lifetime (1d)", "got 2d"],
        ),
        ({"absolute_lifetime": "9m"}, "absolute_lifetime", ["10m..2628000m (5 years) or unlimited"]),
        ({"access_token_lifetime": "4m"}, "access_token_lifetime", ["5m..1440m", "got 4m"]),
        ({"access_token_lifetime": "1441m"}, "access_token_lifetime", ["5m..1440m"]),
        ({"max_tokens_per_user": 10}, "max_tokens_per_user", ["no per-user", "got 10"]),
        ({"on_reuse": "reject"}, "on_reuse", ["most recently issued", "got reject"]),
        ({"absolute_anchor": "token"}, "absolute_anchor", ["first refresh token", "got token"]),
        ({"refresh_token_usage": "rotate_keep_old"}, "refresh_token_usage", ["one_time or reuse"]),
    ],
)
def test_invalid_overrides_name_the_limit(overrides: dict, field: str, words: list[str]) -> None:
    """Overrides outside Okta's ranges are refused with the limit in the message."""
    limit_error(P, field, P, *words, **overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"reuse_interval": "0s"},
        {"reuse_interval": "60s"},
        {"sliding_lifetime": "5m", "access_token_lifetime": "5m"},
        {"absolute_lifetime": "90d", "sliding_lifetime": "90d"},
        {"sliding_lifetime": 2_628_000 * 60},
        {"access_token_lifetime": "1440m", "sliding_lifetime": "1d"},
        {"refresh_token_usage": "reuse"},
    ],
)
def test_valid_overrides_are_accepted(overrides: dict) -> None:
    """Values within Okta's ranges are kept as given."""
    assert_kept(P, **overrides)
