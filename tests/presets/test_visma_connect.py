"""visma_connect: one test per documented rule, on the preset's defaults unless a rule needs an override.

Sources: the Visma developer forum thread "Questions regarding web application authentication"
(community.visma.com/t5/Forum-in-Developers-Visma-net/Questions-regarding-web-application-authentication-
and/td-p/568041, "forum" below) and the Dinero developer news "Grace period on refresh tokens"
(developer.dinero.dk/news/grace-period-on-refresh-tokens, "Dinero news"). Visma Connect is
IdentityServer-based (docs.vismasoftware.no/vismanetapi/authentication); rules marked [DERIVED] follow
IdentityServer (vendor-semantics.md §2.7).
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

P = "visma_connect"


def test_defaults() -> None:
    """The preset's defaults (Visma publishes none; those of the Visma Connect example scenario)."""
    pol = policy(P)
    assert pol.refresh_token_usage == "one_time"
    assert pol.absolute_lifetime is None and pol.sliding_lifetime == 15 * DAY
    assert pol.max_tokens_per_user == 20 and pol.on_cap == "evict_oldest"
    assert pol.reuse_interval == 0 and pol.on_reuse == "reject"
    assert pol.fixed_access_token_lifetime == 3600


def test_one_time_refresh_issues_a_new_token_and_consumes_the_old() -> None:
    """"Refresh Token usage: One time" (forum): every refresh returns a new token."""
    eng = engine(P)
    t0 = login(eng)
    t1 = use(eng, t0, 1 * DAY)
    assert t1 != t0
    assert_fails(eng, t0, 2 * DAY, "consumed")


def test_replay_is_rejected_and_the_newer_token_keeps_working() -> None:
    """[DERIVED] IdentityServer rejects a consumed token without revoking the newer one."""
    eng = engine(P)
    t0 = login(eng)
    t1 = use(eng, t0, 1 * DAY)
    assert_fails(eng, t0, 1 * DAY + 1, "consumed")
    assert use(eng, t1, 2 * DAY) != t1


def test_reuse_returns_the_same_token() -> None:
    """"Refresh Token usage: Re use" (forum): the same token on every refresh."""
    eng = engine(P, refresh_token_usage="reuse", absolute_lifetime="180d")
    t0 = login(eng)
    assert use(eng, t0, 1 * DAY) == t0
    assert use(eng, t0, 2 * DAY) == t0


def test_sliding_expiry_at_both_sides_of_the_idle_deadline() -> None:
    """Sliding expiration resets on each use (forum): valid exactly 15 d after the last use, not after."""
    eng = engine(P)
    t0 = login(eng)
    t1 = use(eng, t0, 15 * DAY)  # exactly at the deadline
    assert eng.chain_info(eng.chain_of(t1)).expires_at == 30 * DAY
    assert use(eng, t1, 30 * DAY)
    eng2 = engine(P)
    token = login(eng2)
    assert_fails(eng2, token, 15 * DAY + EPS, "sliding_expiry")


def test_one_time_with_sliding_may_be_unlimited() -> None:
    """One time: absolute expiration "Unlimited" allowed (forum), so regular use never expires."""
    eng = engine(P)
    token = login(eng)
    for day in range(14, 3 * 365, 14):
        token = use(eng, token, day * DAY)
    assert eng.chain_info(eng.chain_of(token)).absolute_deadline == float("inf")


def test_reuse_absolute_deadline_at_both_sides_of_180_days() -> None:
    """Re use: absolute expiration of at most 180 days from the authorization (forum)."""
    eng = engine(P, refresh_token_usage="reuse", absolute_lifetime="180d", sliding_lifetime="none")
    token = login(eng)
    assert use(eng, token, 180 * DAY) == token
    assert_fails(eng, token, 180 * DAY + EPS, "absolute_expiry")


def test_one_time_absolute_deadline_is_kept_across_rotations() -> None:
    """[DERIVED] IdentityServer copies the first token's creation time to every rotated token."""
    eng = engine(P, absolute_lifetime="30d", sliding_lifetime="none")
    token = login(eng)
    for day in (10, 20, 30):
        token = use(eng, token, day * DAY)
    assert_fails(eng, token, 30 * DAY + EPS, "absolute_expiry")


def test_cap_of_20_evicts_the_oldest_by_default() -> None:
    """At most 20 refresh tokens per user and application (forum); which one goes is undocumented, the
    preset evicts the oldest (`on_cap` stays a parameter)."""
    eng = engine(P)
    tokens = [login(eng, now=float(i)) for i in range(20)]
    grant = eng.authorize("alice", 20.0)
    assert grant.evicted == (eng.chain_of(tokens[0]),)
    assert_fails(eng, tokens[0], 21.0, "evicted")
    assert eng.active_chains("alice", 21.0) == 20


def test_cap_eviction_rule_is_a_parameter() -> None:
    """The eviction rule is undocumented, so every `on_cap` is accepted."""
    eng = engine(P, max_tokens_per_user=2, on_cap="reject_new")
    login(eng)
    login(eng)
    assert eng.authorize("alice", 1.0).reason == "rejected_cap"
    assert policy(P, on_cap="evict_least_recently_used").on_cap == "evict_least_recently_used"


@pytest.mark.parametrize("grace", [5, 60])
def test_grace_period_at_both_sides(grace: int) -> None:
    """Grace period for one-time tokens: "5 to 60 seconds" (Dinero news)."""
    eng = engine(P, reuse_interval=grace)
    t0 = login(eng)
    t1 = use(eng, t0, 100.0)
    retry = eng.refresh(t0, 100.0 + grace)
    assert retry.ok and retry.grace and retry.refresh_token == t1
    assert_fails(eng, t0, 100.0 + grace + EPS, "consumed")


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"max_tokens_per_user": 21}, "max_tokens_per_user", ["1..20", "21"]),
        ({"max_tokens_per_user": "unlimited"}, "max_tokens_per_user", ["1..20", "unlimited"]),
        (
            {"refresh_token_usage": "reuse", "absolute_lifetime": "181d"},
            "absolute_lifetime",
            ["at most 180d", "181d"],
        ),
        ({"refresh_token_usage": "reuse"}, "absolute_lifetime", ["unlimited", "one_time", "180d"]),
        ({"sliding_lifetime": "none"}, "sliding_lifetime", ["unlimited absolute lifetime", "sliding"]),
        ({"reuse_interval": "4s"}, "reuse_interval", ["5s..60s", "got 4s"]),
        ({"reuse_interval": "61s"}, "reuse_interval", ["5s..60s", "got 61s"]),
        ({"refresh_token_usage": "rotate_keep_old"}, "refresh_token_usage", ["reuse or one_time"]),
        ({"max_reuse": 1}, "max_reuse", ["reuse_interval 5s..60s", "got 1"]),
        ({"absolute_anchor": "token"}, "absolute_anchor", ["must be chain", "got token"]),
        ({"idle_tolerance": "1m"}, "idle_tolerance", ["must be 0s", "got 1m"]),
    ],
)
def test_invalid_overrides_name_the_limit(overrides: dict, field: str, words: list[str]) -> None:
    """Overrides outside Visma Connect's limits are refused with the limit in the message."""
    limit_error(P, field, P, *words, **overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"max_tokens_per_user": 1},
        {"max_tokens_per_user": 20, "on_cap": "evict_least_recently_used"},
        {"refresh_token_usage": "reuse", "absolute_lifetime": "180d", "sliding_lifetime": "none"},
        {"reuse_interval": "5s"},
        {"reuse_interval": "60s"},
        {"absolute_lifetime": "365d", "sliding_lifetime": "none"},
    ],
)
def test_valid_overrides_are_accepted(overrides: dict) -> None:
    """Values within the limits are kept as given."""
    assert_kept(P, **overrides)
