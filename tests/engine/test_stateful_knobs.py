"""Model-based test of the engine's newer knobs against a deliberately plain reference model.

Random policies here also draw the knobs the vendor presets need: `refresh_token_usage: rotate_keep_old`,
`absolute_anchor: token`, `max_reuse` 0..2, `idle_tolerance`, and an access-token lifetime that is a uniform
distribution. The model is written from the specification in the README's policy table and the
`sim.policy.model` docstring, not from `sim.policy.engine`:

- a chain's deadline is `min(last slide + sliding_lifetime + idle_tolerance, anchor + absolute_lifetime)`,
  where the anchor is the authorization (`absolute_anchor: chain`) or the issue of the chain's newest token
  (`token`: every rotation gets a full absolute lifetime; a reuse never rotates, so it keeps the
  authorization);
- `reuse` returns the same token; `rotate_keep_old` returns a new token on every use and every token the
  chain ever issued stays valid while the chain is;
- `one_time` returns a new token and consumes the presented one; the token presented most recently with
  success may be presented `max_reuse` more times, each issuing a new token; after that (or for any other
  consumed token) it is a replay, unless it is that same token within `reuse_interval` of its first use (a
  retry that gets the chain's newest token, moves nothing but the last use); a replay fails with `consumed`
  and, with `on_reuse: revoke_family`, ends the chain.

The model keeps every token of every chain in a list and rescans everything before each operation.
Ties between eviction candidates may go either way, as in tests/engine/test_stateful.py.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from sim.core.reasons import END_REASONS
from sim.policy.engine import ChainInfo, TokenEngine
from sim.policy.model import Policy

USERS = ("u0", "u1")
USER_CHOICE = st.sampled_from(("u0", "u0", "u0", "u1"))
INF = math.inf
FORGED: tuple[Any, ...] = ("forged", -3, 2**90 + 1, None)

#: Fixed lifetimes and uniform distributions (the engine then draws them from its generator).
ACCESS_TOKEN_LIFETIMES: tuple[Any, ...] = (
    "30s",
    2,
    {"uniform": {"low": "1s", "high": "4s"}},
    {"uniform": {"low": 60, "high": 90}},
)

half_seconds = st.integers(min_value=1, max_value=30).map(lambda n: n / 2)  # 0.5 .. 15 s


@st.composite
def policy_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """A random valid policy (no preset) using the newer knobs."""
    usage = draw(st.sampled_from(["reuse", "one_time", "one_time", "rotate_keep_old", "rotate_keep_old"]))
    sliding = draw(st.one_of(st.just("none"), half_seconds, half_seconds))
    data: dict[str, Any] = {
        "refresh_token_usage": usage,
        "absolute_lifetime": draw(st.one_of(st.just("unlimited"), half_seconds, half_seconds)),
        "sliding_lifetime": sliding,
        "max_tokens_per_user": draw(st.one_of(st.just("unlimited"), st.integers(1, 3))),
        "on_cap": draw(st.sampled_from(["evict_oldest", "evict_least_recently_used", "reject_new"])),
        "on_reuse": draw(st.sampled_from(["reject", "revoke_family"])),
        "absolute_anchor": draw(st.sampled_from(["chain", "token"])),
        "access_token_lifetime": draw(st.sampled_from(ACCESS_TOKEN_LIFETIMES)),
    }
    if sliding != "none":
        data["idle_tolerance"] = draw(st.sampled_from([0, 0, 0.5, 2.5]))
    if usage == "one_time":
        data["max_reuse"] = draw(st.integers(0, 2))
        data["reuse_interval"] = draw(st.sampled_from([0, 1, 2.5, 5]))
    return data


@dataclass
class ModelChain:
    """One authorization as the model sees it."""

    chain: Any
    user: str
    authorized_at: float
    #: Every refresh token the chain issued, oldest first; the last is the newest.
    tokens: list[Any]
    anchor_at: float
    slid_at: float
    last_used_at: float
    refreshes: int = 0
    #: one_time: the token presented most recently with success (not a retry), its successes, first use.
    last_used: Any = None
    last_used_successes: int = 0
    last_used_first_at: float = -INF
    ended_at: float | None = None
    end_reason: str | None = None
    expired: bool = False

    @property
    def active(self) -> bool:
        return self.ended_at is None


@dataclass
class Success:
    """A successful refresh, kept for the invariants."""

    token: Any
    now: float
    retry: bool
    deadline_before: float
    engine_deadline_before: float


class KnobsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine: TokenEngine | None = None
        self.policy: Policy | None = None
        self.retain_ended = True
        self.now = 0.0
        self.chains: list[ModelChain] = []
        self.successes: list[Success] = []
        self.ended_infos: list[ChainInfo] = []
        self.counts: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()

    # ------------------------------------------------------------------ the reference model

    def absolute(self) -> float:
        assert self.policy is not None
        return INF if self.policy.absolute_lifetime is None else self.policy.absolute_lifetime

    def sliding(self) -> float:
        assert self.policy is not None
        if self.policy.sliding_lifetime is None:
            return INF
        return self.policy.sliding_lifetime + self.policy.idle_tolerance

    def absolute_deadline(self, c: ModelChain) -> float:
        return c.anchor_at + self.absolute()

    def deadline(self, c: ModelChain) -> float:
        return min(c.slid_at + self.sliding(), self.absolute_deadline(c))

    def end(self, c: ModelChain, at: float, reason: str) -> None:
        assert c.active
        c.ended_at, c.end_reason = at, reason
        event(f"chain ended: {reason}")

    def expire_all(self, now: float) -> None:
        for c in self.chains:
            if c.active and self.deadline(c) < now:
                absolute_first = self.absolute_deadline(c) <= c.slid_at + self.sliding()
                self.end(c, self.deadline(c), "absolute_expiry" if absolute_first else "sliding_expiry")
                c.expired = True

    def owner(self, token: Any) -> ModelChain | None:
        for c in self.chains:
            if token in c.tokens:
                return c
        return None

    def all_tokens(self) -> list[Any]:
        return [t for c in self.chains for t in c.tokens]

    def active_of(self, user: str) -> list[ModelChain]:
        return [c for c in self.chains if c.user == user and c.active]

    def by_id(self, chain_id: Any) -> ModelChain:
        (match,) = [c for c in self.chains if c.chain == chain_id]
        return match

    def check_access_expiry(self, expires_at: float | None) -> None:
        assert self.policy is not None and expires_at is not None
        fixed = self.policy.fixed_access_token_lifetime
        if fixed is not None:
            assert expires_at == self.now + fixed
        else:
            low, high = self.policy.access_token_lifetime.low, self.policy.access_token_lifetime.high
            assert self.now + low <= expires_at <= self.now + high, (expires_at, low, high)

    # ------------------------------------------------------------------ set-up

    @initialize(data=policy_dicts(), retain_ended=st.booleans(), seed=st.integers(0, 2**32 - 1))
    def setup(self, data: dict[str, Any], retain_ended: bool, seed: int) -> None:
        self.policy = Policy.from_dict(data)
        self.retain_ended = retain_ended
        self.engine = TokenEngine(
            self.policy,
            on_chain_end=self.ended_infos.append,
            retain_ended=retain_ended,
            rng=np.random.default_rng(seed),
        )
        event(f"usage {data['refresh_token_usage']}, anchor {data['absolute_anchor']}")

    # ------------------------------------------------------------------ steps

    @rule(user=USER_CHOICE)
    def authorize(self, user: str) -> None:
        assert self.engine is not None and self.policy is not None
        self.expire_all(self.now)
        grant = self.engine.authorize(user, self.now)
        active = self.active_of(user)
        cap = self.policy.max_tokens_per_user
        if cap is not None and len(active) >= cap and self.policy.on_cap == "reject_new":
            assert grant.refresh_token is None and grant.reason == "rejected_cap", grant
            self.counts["rejected"] += 1
            return
        assert grant.refresh_token is not None and grant.reason is None, grant
        evicted = list(grant.evicted)
        while cap is not None and len(active) >= cap:
            if self.policy.on_cap == "evict_oldest":
                key = min(c.authorized_at for c in active)
                candidates = [c for c in active if c.authorized_at == key]
            else:
                key = min(c.last_used_at for c in active)
                candidates = [c for c in active if c.last_used_at == key]
            assert evicted, "expected an eviction"
            victim = self.by_id(evicted.pop(0))
            assert victim in candidates
            self.end(victim, self.now, "evicted")
            active = self.active_of(user)
        assert evicted == []
        assert grant.refresh_token not in self.all_tokens()
        self.check_access_expiry(grant.access_expires_at)
        self.chains.append(
            ModelChain(
                chain=grant.chain,
                user=user,
                authorized_at=self.now,
                tokens=[grant.refresh_token],
                anchor_at=self.now,
                slid_at=self.now,
                last_used_at=self.now,
            )
        )
        self.counts["authorizations"] += 1

    def predict(self, c: ModelChain | None, token: Any) -> str:
        """What presenting `token` should do now: ok, retry, or a failure reason."""
        assert self.policy is not None
        if c is None:
            return "unknown_token"
        if not c.active:
            assert c.end_reason is not None
            return c.end_reason
        usage = self.policy.refresh_token_usage
        if usage in ("reuse", "rotate_keep_old") or token == c.tokens[-1]:
            return "ok"
        if token == c.last_used:
            if c.last_used_successes <= self.policy.max_reuse:
                event("refresh -> ok (one of max_reuse)")
                return "ok"
            interval = self.policy.reuse_interval
            if interval > 0 and self.now - c.last_used_first_at <= interval:
                return "retry"
        return "consumed"

    def do_refresh(self, token: Any) -> None:
        """Send `token` and compare the answer with the model's prediction, then update the model."""
        assert self.engine is not None and self.policy is not None
        self.expire_all(self.now)
        c = self.owner(token)
        try:
            before = self.engine.chain_info(c.chain) if c is not None else None
        except KeyError:  # forgotten with retain_ended=False
            before = None
        expected = self.predict(c, token)
        result = self.engine.refresh(token, self.now)
        event(f"refresh -> {expected}")
        assert result.ok == (expected in ("ok", "retry")), (result, expected)
        if not result.ok:
            assert result.reason == expected and result.refresh_token is None, (result, expected)
            self.failed[expected] += 1
            if expected == "consumed" and self.policy.on_reuse == "revoke_family":
                assert c is not None
                self.end(c, self.now, "family_revoked")
            return
        assert c is not None and before is not None
        if self.policy.sliding_lifetime is not None and self.now > c.slid_at + self.policy.sliding_lifetime:
            event("refresh -> ok inside the idle tolerance")
        self.check_access_expiry(result.access_expires_at)
        self.successes.append(
            Success(token, self.now, expected == "retry", self.deadline(c), before.expires_at)
        )
        self.counts["refreshes_ok"] += 1
        c.last_used_at = self.now
        if expected == "retry":
            assert result.grace and result.refresh_token == c.tokens[-1]
            self.counts["grace_retries"] += 1
            return
        assert not result.grace
        c.refreshes += 1
        c.slid_at = self.now
        usage = self.policy.refresh_token_usage
        if usage == "reuse":
            assert result.refresh_token == token
            return
        assert result.refresh_token not in self.all_tokens(), "a rotation must issue a new token"
        c.tokens.append(result.refresh_token)
        if self.policy.absolute_anchor == "token":
            c.anchor_at = self.now
        if usage == "one_time":
            if token == c.last_used:
                c.last_used_successes += 1
            else:
                c.last_used, c.last_used_successes, c.last_used_first_at = token, 1, self.now

    def pick(self, chains: list[ModelChain], index: int) -> ModelChain | None:
        return chains[index % len(chains)] if chains else None

    def pick_active_first(self, index: int) -> ModelChain | None:
        return self.pick([c for c in self.chains if c.active] or self.chains, index)

    @precondition(lambda self: self.chains)
    @rule(index=st.integers(0, 1000))
    def refresh_newest(self, index: int) -> None:
        """The well-behaved client: the newest token of a (preferably valid) chain."""
        c = self.pick_active_first(index)
        assert c is not None
        self.do_refresh(c.tokens[-1])

    @precondition(lambda self: self.chains)
    @rule(
        index=st.integers(0, 1000),
        which=st.sampled_from(["last_used", "last_used", "previous", "any", "ended", "forged"]),
    )
    def refresh_other(self, index: int, which: str) -> None:
        """The token used last (max_reuse, retries), the one before the newest, any token, a token of an
        ended chain, or a made-up value."""
        c = self.pick([c for c in self.chains if not c.active], index) if which == "ended" else None
        c = c or self.pick_active_first(index)
        assert c is not None
        if which == "forged":
            token = FORGED[index % len(FORGED)]
            assert self.owner(token) is None
        elif which == "last_used" and c.last_used is not None:
            token = c.last_used
        elif which == "previous":
            token = c.tokens[max(0, len(c.tokens) - 2)]
        else:
            token = c.tokens[index % len(c.tokens)]
        self.do_refresh(token)

    @precondition(lambda self: any(c.active for c in self.chains))
    @rule(
        index=st.integers(0, 1000),
        repeats=st.integers(1, 4),
        when=st.sampled_from(["same instant", "inside", "at edge", "edge+eps", "edge+ulp"]),
    )
    def refresh_then_repeat(self, index: int, repeats: int, when: str) -> None:
        """A client that refreshes, then presents the same token again several times (lost answers, racing
        tabs) at a time placed against the reuse interval."""
        assert self.policy is not None
        self.expire_all(self.now)
        c = self.pick([c for c in self.chains if c.active], index)
        if c is None:
            return
        token = c.tokens[-1]
        self.do_refresh(token)
        interval = self.policy.reuse_interval
        target = {
            "same instant": self.now,
            "inside": self.now + interval / 2,
            "at edge": self.now + interval,
            "edge+eps": self.now + interval + 1e-6,
            "edge+ulp": math.nextafter(self.now + interval, INF),
        }[when]
        self.move_to(target, tell=False)
        for _ in range(repeats):
            self.do_refresh(token)

    @precondition(lambda self: any(c.active for c in self.chains))
    @rule(index=st.integers(0, 1000), action=st.sampled_from(["logout", "revoke_user"]))
    def end_chains(self, index: int, action: str) -> None:
        """A logout (one chain, with its newest token) or a password change (every chain of the user)."""
        assert self.engine is not None
        self.expire_all(self.now)
        c = self.pick([c for c in self.chains if c.active], index)
        if c is None:
            return
        if action == "logout":
            assert self.engine.logout(c.tokens[-1], self.now) is True
            self.end(c, self.now, "logout")
            return
        revoked = self.engine.revoke_user(c.user, self.now)
        expected = self.active_of(c.user)
        assert sorted(revoked) == sorted(e.chain for e in expected)
        for e in expected:
            self.end(e, self.now, "revoked")

    def move_to(self, target: float, tell: bool = True) -> None:
        assert self.engine is not None and target >= self.now
        self.now = target
        if tell:
            self.engine.advance(target)
        self.expire_all(target)

    @rule(dt=st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.5, 6.0, 20.0]), tell=st.booleans())
    def advance(self, dt: float, tell: bool) -> None:
        self.move_to(self.now + dt, tell)

    @rule(
        index=st.integers(0, 1000),
        edge=st.sampled_from(["deadline", "deadline", "reuse_interval"]),
        past=st.sampled_from(["at", "eps", "ulp"]),
        tell=st.booleans(),
    )
    def advance_to_edge(self, index: int, edge: str, past: str, tell: bool) -> None:
        """Exactly a valid chain's deadline (idle tolerance included) or the end of a reuse interval, or
        just past it."""
        assert self.policy is not None
        if edge == "deadline":
            targets = {self.deadline(c) for c in self.chains if c.active}
        else:
            interval = self.policy.reuse_interval
            targets = {
                c.last_used_first_at + interval
                for c in self.chains
                if c.active and c.last_used is not None and interval > 0
            }
        reachable = sorted(t for t in targets if self.now <= t < INF)
        if reachable:
            t = reachable[index % len(reachable)]
            t = {"at": t, "eps": t + 1e-6, "ulp": math.nextafter(t, INF)}[past]
            self.move_to(t, tell)

    # ------------------------------------------------------------------ invariants
    # The engine may not have been told the latest time (`tell=False`): compare as of `engine.now`.

    def ended_as_of(self, c: ModelChain, t: float) -> bool:
        if c.ended_at is None:
            return False
        return not c.expired or c.ended_at < t

    @invariant()
    def cap_holds_and_active_counts_match(self) -> None:
        assert self.engine is not None and self.policy is not None
        t = self.engine.now
        cap = self.policy.max_tokens_per_user
        for user in USERS:
            count = self.engine.active_chains(user, t)
            assert count == sum(1 for c in self.chains if c.user == user and not self.ended_as_of(c, t))
            assert cap is None or count <= cap

    @invariant()
    def no_success_past_a_deadline(self) -> None:
        for s in self.successes:
            assert s.now <= s.deadline_before and s.now <= s.engine_deadline_before, s

    @invariant()
    def one_time_tokens_succeed_at_most_max_reuse_plus_one_times_outside_the_interval(self) -> None:
        assert self.policy is not None
        if self.policy.refresh_token_usage != "one_time":
            return
        uses: dict[Any, list[Success]] = {}
        for s in self.successes:
            uses.setdefault(s.token, []).append(s)
        for token, found in uses.items():
            rotations = [s for s in found if not s.retry]
            assert 1 <= len(rotations) <= self.policy.max_reuse + 1, (token, found)
            assert found[0] is rotations[0]
            for retry in (s for s in found if s.retry):
                assert retry.now - rotations[0].now <= self.policy.reuse_interval, (token, found)

    @invariant()
    def nothing_is_consumed_unless_tokens_are_one_time(self) -> None:
        assert self.policy is not None
        if self.policy.refresh_token_usage != "one_time":
            assert self.failed["consumed"] == 0
            assert self.counts["grace_retries"] == 0

    @invariant()
    def chain_info_matches_the_model(self) -> None:
        assert self.engine is not None
        t = self.engine.now
        ids = [info.chain for info in self.ended_infos]
        assert len(ids) == len(set(ids)), "a chain ended twice"
        ended = {c.chain: c for c in self.chains if self.ended_as_of(c, t)}
        assert set(ids) == set(ended)
        for info in self.ended_infos:
            c = ended[info.chain]
            assert (info.end_reason, info.ended_at) == (c.end_reason, c.ended_at), (info, c)
        for c in self.chains:
            if self.ended_as_of(c, t) and not self.retain_ended:
                continue
            info = self.engine.chain_info(c.chain)
            assert info.refreshes == c.refreshes and info.last_used_at == c.last_used_at, (info, c)
            assert info.absolute_deadline == self.absolute_deadline(c), (info, c)
            assert info.expires_at == self.deadline(c), (info, c)

    @invariant()
    def counters_add_up(self) -> None:
        assert self.engine is not None
        t = self.engine.now
        counters = self.engine.counters
        assert counters.authorizations == counters.active_chains + sum(counters.ended.values())
        assert counters.authorizations == self.counts["authorizations"] == len(self.chains)
        assert counters.rejected_authorizations == self.counts["rejected"]
        assert counters.refreshes_ok == self.counts["refreshes_ok"]
        assert counters.grace_retries == self.counts["grace_retries"]
        assert {k: v for k, v in counters.refreshes_failed.items() if v} == dict(+self.failed)
        ended = dict.fromkeys(END_REASONS, 0)
        for c in self.chains:
            if self.ended_as_of(c, t):
                assert c.end_reason is not None
                ended[c.end_reason] += 1
        assert counters.ended == ended


KnobsMachine.TestCase.settings = settings(
    max_examples=400,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineKnobs = KnobsMachine.TestCase
