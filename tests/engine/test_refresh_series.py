"""`TokenEngine.refresh_series` is exactly a series of `refresh` calls, only cheaper."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.policy.engine import TokenEngine
from sim.policy.model import Policy


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    usage = draw(st.sampled_from(["reuse", "one_time", "rotate_keep_old"]))
    sliding = draw(st.sampled_from(["none", 5, 12, 40]))
    data = {
        "refresh_token_usage": usage,
        "absolute_lifetime": draw(st.sampled_from(["unlimited", 20, 60, 200])),
        "sliding_lifetime": sliding,
        "max_tokens_per_user": draw(st.sampled_from(["unlimited", 1, 2])),
        "access_token_lifetime": draw(st.sampled_from([1, 3, 7])),
        "absolute_anchor": draw(st.sampled_from(["chain", "token"])),
    }
    if usage == "one_time":
        data["reuse_interval"] = draw(st.sampled_from([0, 2]))
        data["on_reuse"] = draw(st.sampled_from(["reject", "revoke_family"]))
        data["max_reuse"] = draw(st.integers(0, 1))
    if sliding != "none":
        data["idle_tolerance"] = draw(st.sampled_from([0, 1]))
    if data["absolute_lifetime"] == "unlimited":
        data["absolute_anchor"] = "chain"
    return Policy.from_dict(data)


# A short history before the series: (action, user, time step); the series then uses chain 0's token.
steps = st.lists(
    st.tuples(st.sampled_from(["login", "refresh", "logout"]), st.integers(0, 1), st.integers(0, 9)),
    max_size=8,
)


def _replay(policy: Policy, history: list[tuple[str, int, int]]) -> tuple[TokenEngine, int, float]:
    engine = TokenEngine(policy)
    now = 0.0
    token = engine.authorize("u0", now).refresh_token
    tokens = {0: token}
    for action, user, step in history:
        now += step
        if action == "login":
            grant = engine.authorize(f"u{user}", now)
            if grant.refresh_token is not None and user == 1:
                tokens[1] = grant.refresh_token
        elif action == "refresh" and user in tokens:
            result = engine.refresh(tokens[user], now)
            if result.ok:
                tokens[user] = result.refresh_token
        elif action == "logout" and user == 1 and user in tokens:
            engine.logout(tokens[user], now)
    return engine, tokens[0], now


@settings(max_examples=300, deadline=None)
@given(
    policy=policies(),
    history=steps,
    offset=st.integers(0, 30),
    span=st.integers(0, 80),
    max_requests=st.integers(1, 20),
)
def test_series_equals_refreshing_one_by_one(
    policy: Policy, history: list[tuple[str, int, int]], offset: int, span: int, max_requests: int
) -> None:
    fast, token, now = _replay(policy, history)
    slow, _, _ = _replay(policy, history)
    first = now + offset
    before = first + span
    series = fast.refresh_series(token, first, before, max_requests)

    times, tokens, access, failure = [], [], None, None
    t, held = first, token
    while (t < before or not times) and len(times) < max_requests:  # the first request is always made
        result = slow.refresh(held, t)
        times.append(t)
        if not result.ok:
            failure = result
            break
        held, access = result.refresh_token, result.access_expires_at
        tokens.append(held)
        t = access

    assert series.times == times
    assert series.tokens == tokens
    assert series.access_expires_at == access
    assert series.failure == failure
    # the engines are in the same state: check at a later time, where both process pending expiries
    later = (times[-1] if times else first) + 1000.0
    for engine in (fast, slow):
        engine.advance(later)
    assert fast.counters == slow.counters
    for chain in range(1, fast.counters.authorizations + 1):
        assert fast.chain_info(chain) == slow.chain_info(chain)
