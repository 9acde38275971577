"""One test per rule of the refresh-token contract, with times on both sides of every deadline.

Every deadline is probed exactly at it (still valid) and just after it (`+EPS`, or the next float up):
deadlines are inclusive. Durations are plain seconds so the arithmetic in each test is obvious.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from sim.core.durations import parse_duration
from sim.core.reasons import END_REASONS, FAILURE_REASONS
from sim.core.validation import ConfigError
from sim.policy.engine import ChainInfo, TokenEngine
from sim.policy.model import Policy

EPS = 1e-6
USAGES = ("reuse", "one_time")


def make_policy(**fields: Any) -> Policy:
    return Policy.from_dict(fields)


def make_engine(**fields: Any) -> TokenEngine:
    return TokenEngine(make_policy(**fields))


def login(engine: TokenEngine, now: float = 0.0, user: str = "alice") -> int:
    grant = engine.authorize(user, now)
    assert grant.refresh_token is not None, grant
    assert grant.reason is None
    return grant.refresh_token


def rotate(engine: TokenEngine, token: int, now: float) -> int:
    result = engine.refresh(token, now)
    assert result.ok, result
    assert result.refresh_token is not None
    return result.refresh_token


def assert_fails(engine: TokenEngine, token: object, now: float, reason: str) -> None:
    result = engine.refresh(token, now)  # type: ignore[arg-type]
    assert not result.ok, result
    assert result.reason == reason, result
    assert result.refresh_token is None


# --------------------------------------------------------------------------- refresh_token_usage


def test_reuse_returns_the_same_token_every_time() -> None:
    engine = make_engine(refresh_token_usage="reuse", absolute_lifetime=1000)
    token = login(engine)
    for now in (1.0, 2.0, 2.0, 50.0):
        result = engine.refresh(token, now)
        assert result.ok and result.refresh_token == token and not result.grace
    assert engine.chain_info(engine.chain_of(token)).refreshes == 4


def test_rotation_issues_a_new_token_and_consumes_the_old() -> None:
    engine = make_engine(refresh_token_usage="one_time", absolute_lifetime=1000)
    t0 = login(engine)
    t1 = rotate(engine, t0, 1.0)
    assert t1 != t0
    assert_fails(engine, t0, 2.0, "consumed")
    t2 = rotate(engine, t1, 3.0)
    assert t2 not in (t0, t1)
    assert_fails(engine, t1, 4.0, "consumed")
    assert_fails(engine, t0, 4.0, "consumed")
    assert rotate(engine, t2, 5.0) not in (t0, t1, t2)


def test_rotated_tokens_belong_to_the_same_chain() -> None:
    engine = make_engine(refresh_token_usage="one_time")
    grant = engine.authorize("alice", 0.0)
    r1 = engine.refresh(grant.refresh_token or 0, 1.0)
    r2 = engine.refresh(r1.refresh_token or 0, 2.0)
    assert grant.chain == r1.chain == r2.chain
    assert engine.chain_info(grant.chain or 0).refreshes == 2
    assert engine.active_chains("alice", 2.0) == 1


# --------------------------------------------------------------------------- absolute_lifetime


@pytest.mark.parametrize("usage", USAGES)
def test_absolute_lifetime_valid_exactly_at_deadline(usage: str) -> None:
    engine = make_engine(refresh_token_usage=usage, absolute_lifetime=100)
    token = login(engine, now=0.0)
    assert engine.refresh(token, 100.0).ok


@pytest.mark.parametrize("usage", USAGES)
@pytest.mark.parametrize("after", [100.0 + EPS, math.nextafter(100.0, math.inf)])
def test_absolute_lifetime_expired_just_after_deadline(usage: str, after: float) -> None:
    engine = make_engine(refresh_token_usage=usage, absolute_lifetime=100)
    token = login(engine, now=0.0)
    assert_fails(engine, token, after, "absolute_expiry")


def test_absolute_lifetime_counts_from_the_authorization() -> None:
    engine = make_engine(absolute_lifetime=100)
    token = login(engine, now=50.0)
    assert engine.chain_info(engine.chain_of(token)).absolute_deadline == 150.0
    assert engine.refresh(token, 150.0).ok
    assert_fails(engine, token, 150.0 + EPS, "absolute_expiry")


def test_absolute_lifetime_is_kept_across_rotations() -> None:
    engine = make_engine(refresh_token_usage="one_time", absolute_lifetime=100)
    token = login(engine, now=0.0)
    for now in (30.0, 60.0, 90.0, 100.0):  # the last one is exactly at the deadline: still valid
        token = rotate(engine, token, now)
    info = engine.chain_info(engine.chain_of(token))
    assert info.absolute_deadline == 100.0
    assert info.expires_at == 100.0
    assert_fails(engine, token, 100.0 + EPS, "absolute_expiry")
    assert engine.chain_info(info.chain).ended_at == 100.0


def test_unlimited_absolute_and_no_sliding_never_expires() -> None:
    engine = make_engine(
        refresh_token_usage="one_time", absolute_lifetime="unlimited", sliding_lifetime="none"
    )
    token = login(engine)
    token = rotate(engine, token, 1e9)
    assert engine.chain_info(engine.chain_of(token)).expires_at == math.inf
    assert engine.refresh(token, 1e12).ok


# --------------------------------------------------------------------------- sliding_lifetime


@pytest.mark.parametrize("usage", USAGES)
def test_sliding_lifetime_unused_token_expires_after_sliding(usage: str) -> None:
    engine = make_engine(refresh_token_usage=usage, absolute_lifetime="unlimited", sliding_lifetime=10)
    token = login(engine, now=0.0)
    assert engine.chain_info(engine.chain_of(token)).expires_at == 10.0
    assert_fails(engine, token, 10.0 + EPS, "sliding_expiry")


@pytest.mark.parametrize("usage", USAGES)
def test_sliding_lifetime_each_use_moves_the_deadline(usage: str) -> None:
    engine = make_engine(refresh_token_usage=usage, absolute_lifetime="unlimited", sliding_lifetime=10)
    token = login(engine, now=0.0)
    token = rotate(engine, token, 10.0)  # exactly at the deadline: valid, moves it to 20
    assert engine.chain_info(engine.chain_of(token)).expires_at == 20.0
    token = rotate(engine, token, 20.0)  # exactly at the new deadline: moves it to 30
    assert engine.chain_info(engine.chain_of(token)).expires_at == 30.0
    assert_fails(engine, token, 30.0 + EPS, "sliding_expiry")
    info = engine.chain_info(engine.chain_of(token))
    assert (info.end_reason, info.ended_at) == ("sliding_expiry", 30.0)


def test_sliding_expiry_before_absolute_is_reported_as_sliding() -> None:
    engine = make_engine(absolute_lifetime=100, sliding_lifetime=10)
    token = login(engine, now=0.0)
    assert engine.refresh(token, 10.0).ok
    assert_fails(engine, token, 20.0 + EPS, "sliding_expiry")


@pytest.mark.parametrize("usage", USAGES)
def test_sliding_deadline_is_capped_by_the_absolute_deadline(usage: str) -> None:
    engine = make_engine(refresh_token_usage=usage, absolute_lifetime=25, sliding_lifetime=10)
    token = login(engine, now=0.0)
    chain = engine.chain_of(token)
    token = rotate(engine, token, 8.0)
    assert engine.chain_info(chain).expires_at == 18.0
    token = rotate(engine, token, 18.0)
    assert engine.chain_info(chain).expires_at == 25.0  # min(28, 25)
    token = rotate(engine, token, 25.0)  # exactly at the absolute deadline
    assert engine.chain_info(chain).expires_at == 25.0  # min(35, 25): no further slide
    assert_fails(engine, token, 25.0 + EPS, "absolute_expiry")
    assert engine.chain_info(chain).ended_at == 25.0


def test_sliding_longer_than_absolute_is_capped_from_the_start() -> None:
    engine = make_engine(absolute_lifetime=10, sliding_lifetime=50)
    token = login(engine, now=0.0)
    assert engine.chain_info(engine.chain_of(token)).expires_at == 10.0
    assert engine.refresh(token, 10.0).ok
    assert_fails(engine, token, 10.0 + EPS, "absolute_expiry")


@pytest.mark.parametrize("refresh_at", [None, 10.0])
def test_coinciding_sliding_and_absolute_deadlines_end_as_absolute_expiry(refresh_at: float | None) -> None:
    # Without a refresh both deadlines are 10 (sliding 10 from 0, absolute 10); with a refresh at 10
    # the sliding deadline becomes 20, equal to an absolute of 20.
    absolute = 10 if refresh_at is None else 20
    engine = make_engine(absolute_lifetime=absolute, sliding_lifetime=10)
    token = login(engine, now=0.0)
    if refresh_at is not None:
        token = rotate(engine, token, refresh_at)
    assert engine.refresh(token, float(absolute)).ok
    assert_fails(engine, token, absolute + EPS, "absolute_expiry")
    info = engine.chain_info(engine.chain_of(token))
    assert (info.end_reason, info.ended_at) == ("absolute_expiry", float(absolute))


# --------------------------------------------------------------------------- ended_at for expiries


def test_expiry_ended_at_is_the_deadline_even_when_noticed_much_later() -> None:
    ended: list[ChainInfo] = []
    engine = TokenEngine(
        make_policy(refresh_token_usage="one_time", absolute_lifetime=100, sliding_lifetime=10),
        on_chain_end=ended.append,
    )
    slid = login(engine, now=0.0, user="alice")
    capped = login(engine, now=5.0, user="bob")
    slid = rotate(engine, slid, 7.0)  # sliding deadline 17
    for now in range(8, 105, 8):  # keep bob's chain alive up to its absolute deadline of 105
        capped = rotate(engine, capped, float(now))
    assert_fails(engine, slid, 10_000.0, "sliding_expiry")
    assert_fails(engine, capped, 1e7, "absolute_expiry")
    by_user = {info.user: info for info in ended}
    assert (by_user["alice"].end_reason, by_user["alice"].ended_at) == ("sliding_expiry", 17.0)
    assert (by_user["bob"].end_reason, by_user["bob"].ended_at) == ("absolute_expiry", 105.0)
    assert engine.chain_info(engine.chain_of(slid)).ended_at == 17.0
    assert engine.chain_info(engine.chain_of(capped)).ended_at == 105.0


def test_expiry_is_processed_by_advance_without_a_request() -> None:
    ended: list[ChainInfo] = []
    engine = TokenEngine(make_policy(absolute_lifetime=100), on_chain_end=ended.append)
    login(engine, now=0.0)
    engine.advance(100.0)
    assert ended == []
    assert engine.counters.active_chains == 1
    engine.advance(5000.0)
    assert [(i.end_reason, i.ended_at) for i in ended] == [("absolute_expiry", 100.0)]
    assert engine.counters.active_chains == 0
    assert engine.counters.ended["absolute_expiry"] == 1


# --------------------------------------------------------------------------- reuse_interval (grace)


def grace_engine(interval: float = 5, on_reuse: str = "reject", **fields: Any) -> TokenEngine:
    """One-time tokens with a reuse interval (5s by default) and lifetimes that do not get in the way."""
    base: dict[str, Any] = {
        "refresh_token_usage": "one_time",
        "absolute_lifetime": "unlimited",
        "sliding_lifetime": 1000,
        "reuse_interval": interval,
        "on_reuse": on_reuse,
    }
    return make_engine(**{**base, **fields})


@pytest.mark.parametrize("on_reuse", ["reject", "revoke_family"])
@pytest.mark.parametrize("retry_at", [10.0, 12.0, 15.0])  # consumed at 10, interval 5: 15 is the edge
def test_grace_retry_inside_interval_gets_the_current_token(on_reuse: str, retry_at: float) -> None:
    engine = grace_engine(on_reuse=on_reuse)
    t0 = login(engine, now=0.0)
    t1 = rotate(engine, t0, 10.0)
    retry = engine.refresh(t0, retry_at)
    assert retry.ok and retry.grace
    assert retry.refresh_token == t1
    assert retry.chain == engine.chain_of(t1)
    assert engine.counters.grace_retries == 1
    # the retry did not rotate: t1 is still the current token and rotates normally
    t2 = rotate(engine, t1, retry_at)
    assert t2 not in (t0, t1)


@pytest.mark.parametrize("on_reuse", ["reject", "revoke_family"])
@pytest.mark.parametrize("retry_at", [15.0 + EPS, math.nextafter(15.0, math.inf), 100.0])
def test_grace_retry_just_outside_interval_is_consumed(on_reuse: str, retry_at: float) -> None:
    engine = grace_engine(on_reuse=on_reuse)
    t0 = login(engine, now=0.0)
    t1 = rotate(engine, t0, 10.0)
    assert_fails(engine, t0, retry_at, "consumed")
    assert engine.counters.grace_retries == 0
    if on_reuse == "reject":
        assert engine.refresh(t1, retry_at).ok
    else:
        assert_fails(engine, t1, retry_at, "family_revoked")


def test_grace_interval_counts_from_the_predecessors_consumption() -> None:
    engine = grace_engine()
    t0 = login(engine, now=0.0)
    t1 = rotate(engine, t0, 10.0)
    t2 = rotate(engine, t1, 14.0)  # t1 consumed at 14: its grace lasts until 19 inclusive
    retry = engine.refresh(t1, 19.0)
    assert retry.ok and retry.grace and retry.refresh_token == t2
    assert_fails(engine, t1, 19.0 + EPS, "consumed")


def test_grace_only_for_the_immediate_predecessor() -> None:
    engine = grace_engine()
    t0 = login(engine, now=0.0)
    t1 = rotate(engine, t0, 10.0)
    t2 = rotate(engine, t1, 11.0)
    # t0 was consumed 2s ago (inside the interval) but it is not the immediate predecessor any more
    assert_fails(engine, t0, 12.0, "consumed")
    retry = engine.refresh(t1, 12.0)
    assert retry.ok and retry.grace and retry.refresh_token == t2
    assert engine.refresh(t2, 12.0).ok  # on_reuse reject: the chain is untouched


def test_repeated_grace_retries_return_the_same_current_token() -> None:
    engine = grace_engine()
    t0 = login(engine, now=0.0)
    t1 = rotate(engine, t0, 10.0)
    for now in (11.0, 12.0, 13.0):  # several retries: each answers with the same current token
        retry = engine.refresh(t0, now)
        assert retry.ok and retry.grace and retry.refresh_token == t1
    info = engine.chain_info(engine.chain_of(t1))
    assert info.refreshes == 1  # retries are not refreshes
    assert engine.counters.refreshes_ok == 4 and engine.counters.grace_retries == 3


@pytest.mark.parametrize("probe", [14.0, 14.0 + EPS])
def test_grace_retry_does_not_move_the_sliding_deadline(probe: float) -> None:
    engine = grace_engine(sliding_lifetime=10)
    t0 = login(engine, now=0.0)
    t1 = rotate(engine, t0, 4.0)  # deadline 14
    chain = engine.chain_of(t1)
    retry = engine.refresh(t0, 9.0)  # at the edge of the interval; would slide to 19 if it counted
    assert retry.ok and retry.grace
    assert engine.chain_info(chain).expires_at == 14.0
    result = engine.refresh(t1, probe)
    if probe == 14.0:
        assert result.ok
    else:
        assert (result.ok, result.reason) == (False, "sliding_expiry")
        assert engine.chain_info(chain).ended_at == 14.0


def test_reuse_interval_zero_means_no_grace_even_at_the_same_instant() -> None:
    engine = make_engine(refresh_token_usage="one_time", reuse_interval=0)
    t0 = login(engine, now=0.0)
    t1 = rotate(engine, t0, 10.0)
    assert_fails(engine, t0, 10.0, "consumed")
    assert engine.refresh(t1, 10.0).ok


def test_grace_is_not_granted_on_an_expired_chain() -> None:
    engine = make_engine(refresh_token_usage="one_time", absolute_lifetime=12, reuse_interval=5)
    t0 = login(engine, now=0.0)
    rotate(engine, t0, 10.0)
    assert engine.refresh(t0, 12.0).ok  # inside both the interval and the lifetime
    assert_fails(engine, t0, 12.0 + EPS, "absolute_expiry")  # inside the interval, past the lifetime


# --------------------------------------------------------------------------- on_reuse


def test_on_reuse_reject_leaves_the_current_token_valid() -> None:
    engine = make_engine(refresh_token_usage="one_time", on_reuse="reject")
    t0 = login(engine, now=0.0)
    t1 = rotate(engine, t0, 10.0)
    assert_fails(engine, t0, 20.0, "consumed")
    assert_fails(engine, t0, 21.0, "consumed")
    assert engine.active_chains("alice", 21.0) == 1
    assert engine.chain_info(engine.chain_of(t1)).ended_at is None
    assert rotate(engine, t1, 22.0) not in (t0, t1)
    assert engine.counters.refreshes_failed["consumed"] == 2
    assert engine.counters.ended["family_revoked"] == 0


def test_on_reuse_revoke_family_ends_the_chain() -> None:
    ended: list[ChainInfo] = []
    engine = TokenEngine(
        make_policy(refresh_token_usage="one_time", on_reuse="revoke_family"), on_chain_end=ended.append
    )
    t0 = login(engine, now=0.0)
    t1 = rotate(engine, t0, 10.0)
    other = login(engine, now=11.0)  # a second chain of the same user is not part of the family
    assert_fails(engine, t0, 20.0, "consumed")
    info = engine.chain_info(engine.chain_of(t1))
    assert (info.end_reason, info.ended_at) == ("family_revoked", 20.0)
    assert [(i.chain, i.end_reason) for i in ended] == [(info.chain, "family_revoked")]
    assert_fails(engine, t1, 20.0, "family_revoked")
    assert_fails(engine, t0, 30.0, "family_revoked")  # the chain has ended: its end reason from now on
    assert engine.counters.ended["family_revoked"] == 1
    assert engine.active_chains("alice", 30.0) == 1
    assert engine.refresh(other, 30.0).ok


@pytest.mark.parametrize("on_reuse", ["reject", "revoke_family"])
def test_expiry_is_checked_before_consumption(on_reuse: str) -> None:
    engine = make_engine(refresh_token_usage="one_time", absolute_lifetime=100, on_reuse=on_reuse)
    t0 = login(engine, now=0.0)
    t1 = rotate(engine, t0, 50.0)
    assert_fails(engine, t0, 100.0 + EPS, "absolute_expiry")
    assert_fails(engine, t1, 100.0 + EPS, "absolute_expiry")
    assert engine.counters.ended["family_revoked"] == 0
    assert engine.chain_info(engine.chain_of(t1)).end_reason == "absolute_expiry"


# --------------------------------------------------------------------------- max_tokens_per_user / on_cap


@pytest.mark.parametrize("usage", USAGES)
def test_cap_counts_chains_not_tokens(usage: str) -> None:
    engine = make_engine(refresh_token_usage=usage, max_tokens_per_user=2, on_cap="reject_new")
    token = login(engine, now=0.0)
    for now in range(1, 6):
        token = rotate(engine, token, float(now))  # 6 tokens issued with one_time, still one chain
    assert engine.active_chains("alice", 6.0) == 1
    second = engine.authorize("alice", 6.0)
    assert second.refresh_token is not None and second.reason is None
    third = engine.authorize("alice", 7.0)
    assert (third.refresh_token, third.reason) == (None, "rejected_cap")


def test_cap_is_per_user() -> None:
    engine = make_engine(max_tokens_per_user=1, on_cap="reject_new")
    login(engine, user="alice")
    login(engine, user="bob")
    assert engine.authorize("alice", 1.0).reason == "rejected_cap"
    assert engine.active_chains("alice", 1.0) == engine.active_chains("bob", 1.0) == 1


@pytest.mark.parametrize("on_cap", ["reject_new", "evict_oldest", "evict_least_recently_used"])
@pytest.mark.parametrize("kind", ["absolute", "sliding"])
def test_expired_chains_do_not_count_toward_the_cap(on_cap: str, kind: str) -> None:
    lifetimes = {"absolute_lifetime": 10} if kind == "absolute" else {"sliding_lifetime": 10}
    engine = make_engine(max_tokens_per_user=1, on_cap=on_cap, **lifetimes)
    old = login(engine, now=0.0)
    assert engine.active_chains("alice", 10.0) == 1  # valid exactly at its deadline: still counts
    grant = engine.authorize("alice", 10.0 + EPS)
    assert grant.refresh_token is not None and grant.evicted == ()
    assert_fails(engine, old, 10.0 + EPS, f"{kind}_expiry")  # expired, not evicted
    assert engine.counters.evictions == 0


def test_chain_valid_exactly_at_its_deadline_still_counts_toward_the_cap() -> None:
    engine = make_engine(absolute_lifetime=10, max_tokens_per_user=1, on_cap="reject_new")
    login(engine, now=0.0)
    assert engine.authorize("alice", 10.0).reason == "rejected_cap"


@pytest.mark.parametrize("how", ["logout", "revoke_user", "revoke_chain", "family_revoked"])
def test_revoked_chains_do_not_count_toward_the_cap(how: str) -> None:
    engine = make_engine(
        refresh_token_usage="one_time", max_tokens_per_user=1, on_cap="reject_new", on_reuse="revoke_family"
    )
    token = login(engine, now=0.0)
    if how == "logout":
        assert engine.logout(token, 1.0)
    elif how == "revoke_user":
        assert engine.revoke_user("alice", 1.0) == [engine.chain_of(token)]
    elif how == "revoke_chain":
        assert engine.revoke_chain(engine.chain_of(token), 1.0)
    else:
        rotate(engine, token, 0.5)
        assert_fails(engine, token, 1.0, "consumed")
    assert engine.active_chains("alice", 1.0) == 0
    grant = engine.authorize("alice", 1.0)
    assert grant.refresh_token is not None and grant.reason is None


def test_evicted_chains_do_not_count_toward_the_cap() -> None:
    engine = make_engine(max_tokens_per_user=2, on_cap="evict_oldest")
    a = engine.authorize("alice", 0.0)
    b = engine.authorize("alice", 1.0)
    c = engine.authorize("alice", 2.0)
    assert c.evicted == (a.chain,)
    d = engine.authorize("alice", 3.0)
    assert d.evicted == (b.chain,)  # a (already evicted) is not counted or evicted again
    assert engine.active_chains("alice", 3.0) == 2
    assert engine.counters.evictions == 2


@pytest.mark.parametrize(
    ("on_cap", "victim"), [("evict_oldest", "first"), ("evict_least_recently_used", "second")]
)
@pytest.mark.parametrize("usage", USAGES)
def test_oldest_and_least_recently_used_eviction_pick_different_victims(
    on_cap: str, victim: str, usage: str
) -> None:
    # first: authorized at 0, used at 2. second: authorized at 1, never used. The oldest authorization
    # is `first`; the least recently used is `second`.
    engine = make_engine(refresh_token_usage=usage, max_tokens_per_user=2, on_cap=on_cap)
    tokens = {"first": login(engine, now=0.0), "second": login(engine, now=1.0)}
    tokens["first"] = rotate(engine, tokens["first"], 2.0)
    grant = engine.authorize("alice", 3.0)
    assert grant.refresh_token is not None
    survivor = "second" if victim == "first" else "first"
    assert grant.evicted == (engine.chain_of(tokens[victim]),)
    assert_fails(engine, tokens[victim], 3.0, "evicted")
    info = engine.chain_info(engine.chain_of(tokens[victim]))
    assert (info.end_reason, info.ended_at) == ("evicted", 3.0)
    assert engine.refresh(tokens[survivor], 3.0).ok
    assert engine.counters.evictions == 1
    assert engine.active_chains("alice", 3.0) == 2


def test_least_recently_used_counts_the_authorization_as_a_use() -> None:
    engine = make_engine(max_tokens_per_user=2, on_cap="evict_least_recently_used")
    a = engine.authorize("alice", 0.0)
    b = engine.authorize("alice", 1.0)
    assert engine.refresh(b.refresh_token or 0, 2.0).ok
    assert engine.authorize("alice", 3.0).evicted == (a.chain,)


def test_reject_new_at_the_cap() -> None:
    engine = make_engine(max_tokens_per_user=2, on_cap="reject_new")
    a, b = login(engine, now=0.0), login(engine, now=1.0)
    grant = engine.authorize("alice", 2.0)
    assert grant.refresh_token is None
    assert grant.chain is None
    assert grant.reason == "rejected_cap"
    assert grant.evicted == ()
    assert engine.counters.rejected_authorizations == 1
    assert engine.counters.authorizations == 2
    assert engine.counters.evictions == 0
    assert engine.refresh(a, 2.0).ok and engine.refresh(b, 2.0).ok
    assert engine.active_chains("alice", 2.0) == 2


def test_unlimited_cap_never_evicts_or_rejects() -> None:
    engine = make_engine(max_tokens_per_user="unlimited", on_cap="reject_new")
    grants = [engine.authorize("alice", float(i)) for i in range(60)]
    assert all(g.refresh_token is not None and g.evicted == () for g in grants)
    assert engine.active_chains("alice", 60.0) == 60


# --------------------------------------------------------------------------- logout / revoke


@pytest.mark.parametrize("usage", USAGES)
def test_logout_ends_the_chain(usage: str) -> None:
    engine = make_engine(refresh_token_usage=usage)
    token = rotate(engine, login(engine, now=0.0), 1.0)
    other = login(engine, now=1.0)
    assert engine.logout(token, 5.0) is True
    info = engine.chain_info(engine.chain_of(token))
    assert (info.end_reason, info.ended_at) == ("logout", 5.0)
    assert_fails(engine, token, 6.0, "logout")
    assert engine.logout(token, 6.0) is False  # already ended
    assert engine.refresh(other, 6.0).ok
    assert engine.counters.ended["logout"] == 1
    assert engine.counters.refreshes_failed["logout"] == 1


def test_logout_with_an_unknown_token_is_false() -> None:
    engine = make_engine()
    login(engine)
    assert engine.logout("no-such-token", 1.0) is False  # type: ignore[arg-type]
    assert engine.active_chains("alice", 1.0) == 1


def test_logout_ends_the_grace_of_the_predecessor() -> None:
    engine = grace_engine()
    t0 = login(engine, now=0.0)
    t1 = rotate(engine, t0, 10.0)
    assert engine.logout(t1, 11.0)
    assert_fails(engine, t0, 12.0, "logout")  # inside the interval, but the chain has ended


def test_revoke_user_ends_every_valid_chain_of_that_user_only() -> None:
    engine = make_engine(absolute_lifetime=100)
    expired = login(engine, now=0.0, user="alice")
    a1, a2 = login(engine, now=50.0, user="alice"), login(engine, now=60.0, user="alice")
    bob = login(engine, now=60.0, user="bob")
    revoked = engine.revoke_user("alice", 120.0)  # the first chain expired at 100: not revoked
    assert sorted(revoked) == sorted([engine.chain_of(a1), engine.chain_of(a2)])
    for token in (a1, a2):
        assert_fails(engine, token, 120.0, "revoked")
        info = engine.chain_info(engine.chain_of(token))
        assert (info.end_reason, info.ended_at) == ("revoked", 120.0)
    assert_fails(engine, expired, 120.0, "absolute_expiry")
    assert engine.refresh(bob, 120.0).ok
    assert engine.revoke_user("alice", 121.0) == []
    assert engine.counters.ended["revoked"] == 2
    fresh = login(engine, now=122.0, user="alice")
    assert engine.refresh(fresh, 123.0).ok


def test_revoke_user_without_chains_is_empty() -> None:
    assert make_engine().revoke_user("nobody", 0.0) == []


def test_revoke_chain_with_a_reason() -> None:
    engine = make_engine()
    a, b = login(engine, now=0.0), login(engine, now=0.0)
    assert engine.revoke_chain(engine.chain_of(a), 1.0) is True
    assert engine.revoke_chain(engine.chain_of(b), 1.0, "logout") is True
    assert engine.revoke_chain(engine.chain_of(a), 2.0) is False
    assert_fails(engine, a, 2.0, "revoked")
    assert_fails(engine, b, 2.0, "logout")
    with pytest.raises(ValueError, match="unknown end reason"):
        engine.revoke_chain(engine.chain_of(a), 2.0, "consumed")


# --------------------------------------------------------------------------- on_chain_end / retain_ended


def ending_engine(how: str, retain_ended: bool, ended: list[ChainInfo]) -> tuple[TokenEngine, int, int, str]:
    """An engine where alice's chain ends by `how` at time 10: (engine, old token, current token, reason)."""
    policy = make_policy(
        refresh_token_usage="one_time",
        absolute_lifetime=10,
        max_tokens_per_user=1,
        on_cap="evict_oldest",
        on_reuse="revoke_family",
    )
    engine = TokenEngine(policy, on_chain_end=ended.append, retain_ended=retain_ended)
    old = login(engine, now=0.0)
    current = rotate(engine, old, 5.0)
    if how == "absolute_expiry":
        engine.advance(50.0)
    elif how == "evicted":
        login(engine, now=10.0)
    elif how == "family_revoked":
        assert_fails(engine, old, 10.0, "consumed")
    elif how == "revoked":
        engine.revoke_user("alice", 10.0)
    elif how == "logout":
        assert engine.logout(current, 10.0)
    return engine, old, current, how


@pytest.mark.parametrize("how", ["absolute_expiry", "evicted", "family_revoked", "revoked", "logout"])
@pytest.mark.parametrize("retain_ended", [True, False])
def test_on_chain_end_receives_each_ended_chain_once(how: str, retain_ended: bool) -> None:
    ended: list[ChainInfo] = []
    engine, old, current, reason = ending_engine(how, retain_ended, ended)
    assert len(ended) == 1
    info = ended[0]
    assert info.chain == engine.chain_of(current)
    assert info.user == "alice"
    assert info.end_reason == reason and info.end_reason in END_REASONS
    assert info.ended_at == 10.0
    assert not info.active
    assert info.authorized_at == 0.0 and info.refreshes == 1
    # later requests do not end it again
    engine.refresh(current, 60.0)
    engine.refresh(old, 60.0)
    engine.revoke_user("alice", 60.0)
    assert sum(1 for i in ended if i.chain == info.chain) == 1


@pytest.mark.parametrize("how", ["absolute_expiry", "evicted", "family_revoked", "revoked", "logout"])
def test_retain_ended_false_forgets_the_chain_but_keeps_its_reason(how: str) -> None:
    ended: list[ChainInfo] = []
    engine, old, current, reason = ending_engine(how, False, ended)
    chain = engine.chain_of(current)
    with pytest.raises(KeyError):
        engine.chain_info(chain)
    assert_fails(engine, current, 60.0, reason)
    assert_fails(engine, old, 60.0, reason)
    assert engine.logout(current, 60.0) is False
    assert engine.revoke_chain(chain, 60.0) is False
    assert engine.counters.ended[reason] == 1
    assert engine.counters.active_chains == 0  # (with `evicted`, the newer chain expired at 20)


def test_retain_ended_true_keeps_the_chain_info() -> None:
    ended: list[ChainInfo] = []
    engine, _, current, _ = ending_engine("logout", True, ended)
    assert engine.chain_info(engine.chain_of(current)) == ended[0]


# --------------------------------------------------------------------------- time, unknown tokens, counters

OPERATIONS: dict[str, Callable[[TokenEngine, int, float], object]] = {
    "advance": lambda e, t, now: e.advance(now),
    "authorize": lambda e, t, now: e.authorize("alice", now),
    "refresh": lambda e, t, now: e.refresh(t, now),
    "logout": lambda e, t, now: e.logout(t, now),
    "revoke_chain": lambda e, t, now: e.revoke_chain(e.chain_of(t), now),
    "revoke_user": lambda e, t, now: e.revoke_user("alice", now),
    "active_chains": lambda e, t, now: e.active_chains("alice", now),
}


@pytest.mark.parametrize("op", sorted(OPERATIONS))
def test_time_going_backwards_raises(op: str) -> None:
    engine = make_engine()
    token = login(engine, now=10.0)
    with pytest.raises(ValueError, match="backwards"):
        OPERATIONS[op](engine, token, math.nextafter(10.0, -math.inf))
    assert engine.now == 10.0
    assert engine.counters.authorizations == 1 and engine.counters.refreshes == 0
    assert engine.refresh(token, 10.0).ok  # the same time again is fine; nothing changed
    assert engine.active_chains("alice", 10.0) == 1


def test_nan_time_raises() -> None:
    engine = make_engine()
    with pytest.raises(ValueError):
        engine.advance(math.nan)


@pytest.mark.parametrize("token", ["garbage", -1, 10**30, 3.5, None])
def test_unknown_token(token: object) -> None:
    engine = make_engine(refresh_token_usage="one_time")
    login(engine, now=0.0)
    assert_fails(engine, token, 1.0, "unknown_token")
    assert engine.counters.refreshes_failed["unknown_token"] == 1
    assert engine.active_chains("alice", 1.0) == 1


def test_access_token_expiry_is_now_plus_access_lifetime() -> None:
    engine = grace_engine(access_token_lifetime=300)
    grant = engine.authorize("alice", 2.0)
    assert grant.access_expires_at == 302.0
    result = engine.refresh(grant.refresh_token or 0, 10.0)
    assert result.access_expires_at == 310.0
    retry = engine.refresh(grant.refresh_token or 0, 11.0)
    assert retry.grace and retry.access_expires_at == 311.0


def test_counters_add_up() -> None:
    engine = make_engine(
        refresh_token_usage="one_time",
        absolute_lifetime=100,
        max_tokens_per_user=2,
        on_cap="evict_oldest",
        reuse_interval=5,
        on_reuse="revoke_family",
    )
    a0 = login(engine, now=0.0)
    a1 = rotate(engine, a0, 1.0)
    assert engine.refresh(a0, 2.0).grace
    login(engine, now=3.0)
    login(engine, now=4.0)  # evicts a
    assert_fails(engine, a1, 5.0, "evicted")
    b = login(engine, now=5.0, user="bob")
    b1 = rotate(engine, b, 6.0)
    assert_fails(engine, b, 20.0, "consumed")  # revokes bob's family
    assert_fails(engine, b1, 20.0, "family_revoked")
    assert_fails(engine, "x", 20.0, "unknown_token")
    engine.advance(200.0)  # alice's two chains expire
    c = engine.counters
    assert c.authorizations == 4
    assert c.refreshes_ok == 3 and c.grace_retries == 1
    assert {k: v for k, v in c.refreshes_failed.items() if v} == {
        "evicted": 1,
        "consumed": 1,
        "family_revoked": 1,
        "unknown_token": 1,
    }
    assert set(c.refreshes_failed) == set(FAILURE_REASONS)
    assert {k: v for k, v in c.ended.items() if v} == {
        "evicted": 1,
        "family_revoked": 1,
        "absolute_expiry": 2,
    }
    assert c.evictions == 1
    assert c.active_chains == 0
    assert c.authorizations == c.active_chains + sum(c.ended.values())
    assert c.refreshes == 7


# --------------------------------------------------------------------------- policy rules and preset limits


def test_defaults_without_preset() -> None:
    policy = make_policy()
    assert policy.refresh_token_usage == "reuse"
    assert policy.absolute_lifetime == 30 * 86400
    assert policy.sliding_lifetime is None
    assert policy.reuse_interval == 0


def test_reuse_interval_with_reuse_usage_is_an_error_without_preset() -> None:
    with pytest.raises(ConfigError, match="reuse_interval"):
        make_policy(refresh_token_usage="reuse", reuse_interval=1)
    assert make_policy(refresh_token_usage="one_time", reuse_interval=1).reuse_interval == 1


VISMA_LIMITS: list[tuple[str, dict[str, Any], str | None]] = [
    # (limit, fields, field named in the error or None when valid)
    ("cap lower edge", {"max_tokens_per_user": 1}, None),
    ("cap upper edge", {"max_tokens_per_user": 20}, None),
    ("cap above", {"max_tokens_per_user": 21}, "max_tokens_per_user"),
    ("cap unlimited", {"max_tokens_per_user": "unlimited"}, "max_tokens_per_user"),
    ("reuse 180d", {"refresh_token_usage": "reuse", "absolute_lifetime": "180d"}, None),
    (
        "reuse 180d+1s",
        {"refresh_token_usage": "reuse", "absolute_lifetime": 180 * 86400 + 1},
        "absolute_lifetime",
    ),
    (
        "reuse unlimited",
        {"refresh_token_usage": "reuse", "absolute_lifetime": "unlimited"},
        "absolute_lifetime",
    ),
    ("one_time unlimited + sliding", {"absolute_lifetime": "unlimited", "sliding_lifetime": "1d"}, None),
    ("one_time 1y absolute", {"absolute_lifetime": "365d", "sliding_lifetime": "none"}, None),
    (
        "unlimited, no sliding",
        {"absolute_lifetime": "unlimited", "sliding_lifetime": "none"},
        "sliding_lifetime",
    ),
    ("grace off", {"reuse_interval": 0}, None),
    ("grace lower edge", {"reuse_interval": "5s"}, None),
    ("grace upper edge", {"reuse_interval": "60s"}, None),
    ("grace below", {"reuse_interval": 4.999}, "reuse_interval"),
    ("grace above", {"reuse_interval": 60.001}, "reuse_interval"),
]


def _normalized(key: str, value: object) -> object:
    """The value as a Policy holds it (seconds, None for unlimited/none)."""
    if value in ("unlimited", "none"):
        return None
    if key in ("refresh_token_usage", "max_tokens_per_user"):
        return value
    return parse_duration(value)


@pytest.mark.parametrize(("limit", "fields", "field"), VISMA_LIMITS, ids=[v[0] for v in VISMA_LIMITS])
def test_visma_connect_limits(limit: str, fields: dict[str, Any], field: str | None) -> None:
    data = {"preset": "visma_connect", **fields}
    if field is None:
        policy = Policy.from_dict(data)
        for key, value in fields.items():
            assert getattr(policy, key) == _normalized(key, value), limit
    else:
        with pytest.raises(ConfigError) as excinfo:
            Policy.from_dict(data)
        assert str(excinfo.value).startswith(f"{field}: ")
        assert "visma_connect" in str(excinfo.value)


def test_visma_connect_defaults_drive_the_engine() -> None:
    day = 86400.0
    engine = TokenEngine(make_policy(preset="visma_connect"))
    tokens = [login(engine, now=0.0) for _ in range(20)]
    assert engine.authorize("alice", 0.0).evicted == (engine.chain_of(tokens[0]),)  # cap 20, evict oldest
    token = rotate(engine, tokens[1], 15 * day)  # sliding 15d, exactly at the deadline
    assert token != tokens[1]  # one_time
    assert engine.refresh(token, 30 * day).ok  # unlimited absolute
    assert_fails(engine, tokens[2], 30 * day, "sliding_expiry")
    assert engine.chain_info(engine.chain_of(tokens[2])).ended_at == 15 * day
