"""auth0: one test per documented rule, on the preset's defaults unless a rule needs an override.

Sources (vendor-semantics.md §1, §2.2), in auth0/docs-v2@092b879e `main/docs/secure/tokens/`:
`refresh-tokens/refresh-token-rotation.mdx` ("rotation page"), `refresh-tokens/configure-refresh-token-
rotation.mdx` ("rotation config"), `refresh-tokens/configure-refresh-token-expiration.mdx` ("expiration
page"), `token-best-practices.mdx` and `refresh-tokens.mdx` ("limits"); the Auth0 KB "Failed token exchange
occurs when reusing an older refresh token within reuse interval" (community.auth0.com/t/.../189795, "KB");
auth0.com/docs/secure/tokens/access-tokens/update-access-token-lifetime ("access tokens").
"""

from __future__ import annotations

import pytest

from tests.presets.timeline import (
    DAY,
    EPS,
    assert_fails,
    assert_kept,
    engine,
    limit_error,
    login,
    policy,
    use,
)

P = "auth0"


def test_defaults() -> None:
    """Rotation on, leeway 0, maximum and idle lifetimes 2,592,000 s (expiration page), 200 tokens per user
    (limits), access tokens 86,400 s (access tokens)."""
    pol = policy(P)
    assert pol.refresh_token_usage == "one_time" and pol.on_reuse == "revoke_family"
    assert pol.reuse_interval == 0
    assert pol.absolute_lifetime == 30 * DAY and pol.sliding_lifetime == 30 * DAY
    assert pol.max_tokens_per_user == 200 and pol.on_cap == "evict_oldest"
    assert pol.fixed_access_token_lifetime == 1 * DAY


def test_each_exchange_issues_a_new_token_and_invalidates_the_used_one() -> None:
    """"the refresh token used in the request is invalidated" (rotation page)."""
    eng = engine(P)
    t0 = login(eng)
    t1 = use(eng, t0, 1 * DAY)
    assert t1 != t0
    assert use(eng, t1, 2 * DAY) not in (t0, t1)


def test_replay_revokes_the_whole_family() -> None:
    """Reusing an invalidated token "immediately invalidates the refresh token family"; "all subsequent
    requests will be denied until the user re-authenticates" (rotation page)."""
    eng = engine(P)
    t0 = login(eng)
    t1 = use(eng, t0, 1 * DAY)
    t2 = use(eng, t1, 2 * DAY)
    assert_fails(eng, t0, 3 * DAY, "consumed")
    assert_fails(eng, t2, 3 * DAY, "family_revoked")
    assert eng.chain_info(eng.chain_of(t2)).end_reason == "family_revoked"


def test_default_leeway_is_zero() -> None:
    """Reuse interval (leeway) default 0 = disabled (rotation config): a retry at the same instant is a
    breach."""
    eng = engine(P)
    t0 = login(eng)
    t1 = use(eng, t0, 100.0)
    assert_fails(eng, t0, 100.0, "consumed")
    assert_fails(eng, t1, 100.0, "family_revoked")


def test_leeway_at_both_sides() -> None:
    """"During the leeway window the breach detection features don't apply" (rotation config)."""
    eng = engine(P, reuse_interval="30s")
    t0 = login(eng)
    t1 = use(eng, t0, 100.0)
    retry = eng.refresh(t0, 130.0)
    assert retry.ok and retry.grace
    assert_fails(eng, t0, 130.0 + EPS, "consumed")
    assert_fails(eng, t1, 131.0, "family_revoked")


def test_leeway_covers_only_the_immediate_predecessor() -> None:
    """"Only the previous token can be reused; if the second-to-last one is exchanged, breach detection
    will be triggered" (rotation config); rt1 -> rt2 -> rt3, then rt1 inside the leeway fails and invalidates
    the family (KB)."""
    eng = engine(P, reuse_interval="60s")
    rt1 = login(eng)
    rt2 = use(eng, rt1, 10.0)
    rt3 = use(eng, rt2, 20.0)
    assert_fails(eng, rt1, 25.0, "consumed")
    assert_fails(eng, rt3, 26.0, "family_revoked")


def test_maximum_lifetime_is_fixed_at_issue_and_not_extended_by_rotation() -> None:
    """"The lifetime does not extend when tokens are rotated" (rotation page); it "is determined at issuance
    and remains fixed" (expiration page)."""
    eng = engine(P)
    token = login(eng)
    for day in (10, 20, 29):
        token = use(eng, token, day * DAY)
    assert eng.chain_info(eng.chain_of(token)).absolute_deadline == 30 * DAY
    token = use(eng, token, 30 * DAY)
    assert_fails(eng, token, 30 * DAY + EPS, "absolute_expiry")


def test_idle_lifetime_is_renewed_on_each_exchange() -> None:
    """The idle lifetime "updates with each successful refresh token exchange" (expiration page)."""
    eng = engine(P, absolute_lifetime="365d")
    token = login(eng)
    token = use(eng, token, 30 * DAY)  # exactly at the idle deadline
    token = use(eng, token, 60 * DAY)
    assert_fails(eng, token, 90 * DAY + EPS, "sliding_expiry")


def test_idle_gap_with_defaults_hits_both_deadlines_at_30_days() -> None:
    """Both default lifetimes are 30 d: an unused token is valid exactly at 30 d and expired just after."""
    eng = engine(P)
    token = login(eng)
    assert use(eng, token, 30 * DAY)
    eng = engine(P)
    token = login(eng)
    assert_fails(eng, token, 30 * DAY + EPS, "absolute_expiry")


def test_cap_of_200_evicts_the_oldest() -> None:
    """200 active refresh tokens per user per application; on overflow "the system revokes and deletes the
    oldest token for that user and application" (limits)."""
    eng = engine(P)
    tokens = [login(eng, now=float(i)) for i in range(200)]
    grant = eng.authorize("alice", 200.0)
    assert grant.evicted == (eng.chain_of(tokens[0]),)
    assert_fails(eng, tokens[0], 201.0, "evicted")
    assert eng.active_chains("alice", 201.0) == 200


def test_expired_and_revoked_tokens_do_not_count_against_the_cap() -> None:
    """"Revoked tokens and expired tokens do not count against the limit" (limits)."""
    eng = engine(P)
    old = login(eng, now=0.0)  # expires at 30 d
    tokens = [login(eng, now=10 * DAY + i) for i in range(199)]
    eng.logout(tokens[5], now=20 * DAY)
    assert eng.authorize("alice", 30 * DAY + EPS).evicted == ()  # 1 expired + 1 revoked leave room for 2
    assert eng.authorize("alice", 30 * DAY + 1).evicted == ()
    assert eng.authorize("alice", 30 * DAY + 2).evicted == (eng.chain_of(tokens[0]),)
    assert_fails(eng, old, 31 * DAY, "absolute_expiry")


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"max_tokens_per_user": 100}, "max_tokens_per_user", ["at most 200", "got 100"]),
        ({"max_tokens_per_user": "unlimited"}, "max_tokens_per_user", ["at most 200", "got unlimited"]),
        ({"on_cap": "reject_new"}, "on_cap", ["oldest", "got reject_new"]),
        ({"absolute_lifetime": 31_557_601}, "absolute_lifetime", ["1s..31557600s (1 year)", "unlimited"]),
        ({"sliding_lifetime": "400d"}, "sliding_lifetime", ["1s..31557600s (1 year)", "got 400d"]),
        ({"sliding_lifetime": "31d"}, "sliding_lifetime", ["at most the maximum lifetime (30d)", "got 31d"]),
        (
            {"absolute_lifetime": "unlimited", "sliding_lifetime": "none"},
            "absolute_lifetime",
            ["must expire"],
        ),
        ({"on_reuse": "reject"}, "on_reuse", ["revokes the whole refresh-token family", "got reject"]),
        ({"absolute_anchor": "token"}, "absolute_anchor", ["does not extend on rotation", "got token"]),
        ({"max_reuse": 1}, "max_reuse", ["not a count", "got 1"]),
        ({"access_token_lifetime": "31d"}, "access_token_lifetime", ["1s..30d", "got 31d"]),
        ({"refresh_token_usage": "rotate_keep_old"}, "refresh_token_usage", ["one_time or reuse"]),
    ],
)
def test_invalid_overrides_name_the_limit(overrides: dict, field: str, words: list[str]) -> None:
    """Overrides outside Auth0's documented limits are refused with the limit in the message."""
    limit_error(P, field, P, *words, **overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"absolute_lifetime": "unlimited"},  # infinite_token_lifetime, with the 30-day idle lifetime
        {"absolute_lifetime": 31_557_600, "sliding_lifetime": 31_557_600},
        {"sliding_lifetime": "none"},  # infinite_idle_token_lifetime
        {"refresh_token_usage": "reuse", "absolute_lifetime": "unlimited", "sliding_lifetime": "none"},
        {"reuse_interval": "30s"},
        {"access_token_lifetime": "30d"},
    ],
)
def test_valid_overrides_are_accepted(overrides: dict) -> None:
    """Values within Auth0's limits are kept as given."""
    assert_kept(P, **overrides)
