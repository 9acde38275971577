"""Model-based test of the token engine against a deliberately plain reference model.

The model is written from the specification only (not from `sim.policy.engine`): it keeps a list of
chains, each
with every refresh token it issued (opaque values, compared only for equality) and when each was
consumed, and recomputes every expiry by scanning all chains before each operation. It knows nothing of
how the engine encodes tokens or files its deadlines.

Random policies use small durations on a 0.5 s grid and the clock moves in small steps, including steps
of 0 and jumps to exactly a deadline (or a reuse-interval edge) and then just past it, so every deadline
is hit on both sides.

Where the specification leaves a choice open the model picks a reading and says so:
- ties between eviction candidates (same authorization time / same last use): any of them may be evicted;
- a retry inside the reuse interval counts as a use of the chain for `evict_least_recently_used`
  (it moves `last_used_at`), but it does not slide the deadline and is not a refresh;
- logout is only exercised with a chain's current token (or tokens of ended chains, or made-up ones).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from sim.core.reasons import END_REASONS
from sim.policy.engine import ChainInfo, TokenEngine
from sim.policy.model import Policy

USERS = ("u0", "u1", "u2")
#: u0 is picked more often so that one user reaches the cap and holds several chains.
USER_CHOICE = st.sampled_from(("u0", "u0", "u0", "u1", "u2"))
INF = math.inf
#: Values that are not refresh tokens the engine issued (the model checks they never collide).
FORGED: tuple[Any, ...] = ("forged", -7, 2**80 + 3, None, 1.5)

half_seconds = st.integers(min_value=1, max_value=40).map(lambda n: n / 2)  # 0.5 .. 20 s


def unlimited_or(words: list[Any], values: st.SearchStrategy[Any], odds: int) -> st.SearchStrategy[Any]:
    """One of `words` (unlimited/none) about once in `odds + 1` draws, else a value."""
    return st.integers(min_value=0, max_value=odds).flatmap(
        lambda n: st.sampled_from(words) if n == 0 else values
    )


@st.composite
def policy_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """A random valid policy (no preset) as the plain dict a scenario file would hold."""
    usage = draw(st.sampled_from(["reuse", "one_time", "one_time"]))
    data: dict[str, Any] = {
        "refresh_token_usage": usage,
        "absolute_lifetime": draw(unlimited_or(["unlimited", None], half_seconds, 3)),
        "sliding_lifetime": draw(unlimited_or(["none", None], half_seconds, 3)),
        "max_tokens_per_user": draw(unlimited_or(["unlimited"], st.integers(min_value=1, max_value=4), 4)),
        "on_cap": draw(st.sampled_from(["evict_oldest", "evict_least_recently_used", "reject_new"])),
        "access_token_lifetime": draw(st.sampled_from([1, 30, "15m", "1h"])),
        "on_reuse": draw(st.sampled_from(["reject", "revoke_family"])),
    }
    if usage == "one_time":
        data["reuse_interval"] = draw(st.sampled_from([0, 0.25, 1, 2.5, 5, 10]))
    elif draw(st.booleans()):
        data["reuse_interval"] = "0s"
    return data


@dataclass
class ModelChain:
    """One authorization as the model sees it."""

    chain: Any  # the id the engine gave it (opaque)
    user: str
    device: str | None
    authorized_at: float
    #: Every refresh token issued for this chain, oldest first; the last one is the current token.
    tokens: list[Any]
    #: token index -> time it was consumed by a rotation.
    consumed_at: dict[int, float] = field(default_factory=dict)
    #: When the sliding deadline was last set (the authorization or the last successful non-retry use).
    slid_at: float = 0.0
    last_used_at: float = 0.0
    refreshes: int = 0
    ended_at: float | None = None
    end_reason: str | None = None
    #: True when it ended by passing its deadline (not by a request at `ended_at`).
    expired: bool = False

    @property
    def active(self) -> bool:
        return self.ended_at is None


@dataclass
class Success:
    """A successful refresh, recorded for the invariants."""

    token: Any
    chain: Any
    user: str
    now: float
    grace: bool
    deadline_before: float  # the model's deadline in force just before the request
    absolute_deadline: float
    #: The same two deadlines as the engine reported them (chain_info) just before the request.
    engine_deadline_before: float
    engine_absolute_deadline: float
    seq: int  # position in the sequence of requests (several requests can share a time)


class TokenEngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine: TokenEngine | None = None
        self.policy: Policy | None = None
        self.retain_ended = True
        self.now = 0.0
        self.chains: list[ModelChain] = []
        self.ended_infos: list[ChainInfo] = []
        self.successes: list[Success] = []
        #: (user, request sequence number of a revoke_user, every token of that user's chains then)
        self.revocations: list[tuple[str, int, list[Any]]] = []
        self.seq = 0
        self.expected_counts: dict[str, Any] = {}

    # ------------------------------------------------------------------ the reference model

    @property
    def absolute(self) -> float:
        assert self.policy is not None
        return INF if self.policy.absolute_lifetime is None else self.policy.absolute_lifetime

    @property
    def sliding(self) -> float:
        assert self.policy is not None
        return INF if self.policy.sliding_lifetime is None else self.policy.sliding_lifetime

    @property
    def one_time(self) -> bool:
        assert self.policy is not None
        return self.policy.refresh_token_usage == "one_time"

    def absolute_deadline(self, c: ModelChain) -> float:
        return c.authorized_at + self.absolute

    def sliding_deadline(self, c: ModelChain) -> float:
        return c.slid_at + self.sliding

    def deadline(self, c: ModelChain) -> float:
        return min(self.sliding_deadline(c), self.absolute_deadline(c))

    def end(self, c: ModelChain, at: float, reason: str) -> None:
        assert c.active
        c.ended_at = at
        c.end_reason = reason
        event(f"chain ended: {reason}")

    def expire_all(self, now: float) -> None:
        """End every chain whose deadline is strictly before `now` (recomputed by a full scan)."""
        for c in self.chains:
            if c.active and self.deadline(c) < now:
                reason = (
                    "absolute_expiry"
                    if self.absolute_deadline(c) <= self.sliding_deadline(c)
                    else "sliding_expiry"
                )
                self.end(c, self.deadline(c), reason)
                c.expired = True

    def owner(self, token: Any) -> tuple[ModelChain, int] | None:
        for c in self.chains:
            for i, t in enumerate(c.tokens):
                if t == token:
                    return c, i
        return None

    def all_tokens(self) -> list[Any]:
        return [t for c in self.chains for t in c.tokens]

    def active_of(self, user: str) -> list[ModelChain]:
        return [c for c in self.chains if c.user == user and c.active]

    def by_engine_id(self, chain_id: Any) -> ModelChain:
        matches = [c for c in self.chains if c.chain == chain_id]
        assert len(matches) == 1, (chain_id, matches)
        return matches[0]

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def pick(self, chains: list[ModelChain], index: int) -> ModelChain | None:
        return chains[index % len(chains)] if chains else None

    # ------------------------------------------------------------------ set-up

    @initialize(data=policy_dicts(), retain_ended=st.booleans())
    def setup(self, data: dict[str, Any], retain_ended: bool) -> None:
        self.policy = Policy.from_dict(data)
        self.retain_ended = retain_ended
        self.engine = TokenEngine(
            self.policy, on_chain_end=self.ended_infos.append, retain_ended=retain_ended
        )
        self.now = 0.0
        self.expected_counts = {
            "authorizations": 0,
            "rejected_authorizations": 0,
            "refreshes_ok": 0,
            "grace_retries": 0,
            "refreshes_failed": {},
        }

    # ------------------------------------------------------------------ steps

    @rule(user=USER_CHOICE, device=st.sampled_from([None, "phone", "laptop"]))
    def authorize(self, user: str, device: str | None) -> None:
        assert self.engine is not None and self.policy is not None
        self.expire_all(self.now)
        grant = self.engine.authorize(user, self.now, device=device)
        active = self.active_of(user)
        cap = self.policy.max_tokens_per_user
        at_cap = cap is not None and len(active) >= cap
        if at_cap and self.policy.on_cap == "reject_new":
            assert grant.refresh_token is None and grant.chain is None, grant
            assert grant.reason == "rejected_cap"
            assert grant.evicted == ()
            self.expected_counts["rejected_authorizations"] += 1
            return
        assert grant.reason is None and grant.refresh_token is not None, grant
        # evictions: one at a time, each victim must be among the chains with the smallest key
        evicted = list(grant.evicted)
        while cap is not None and len(active) >= cap:
            if self.policy.on_cap == "evict_oldest":
                key = min(c.authorized_at for c in active)
                candidates = [c for c in active if c.authorized_at == key]
            else:
                key = min(c.last_used_at for c in active)
                candidates = [c for c in active if c.last_used_at == key]
            assert evicted, f"expected an eviction among {[c.chain for c in candidates]}"
            victim = self.by_engine_id(evicted.pop(0))
            assert victim in candidates, (victim, candidates)
            self.end(victim, self.now, "evicted")
            active = self.active_of(user)
        assert evicted == [], f"unexpected evictions {evicted}"
        assert grant.refresh_token not in self.all_tokens(), "a token was issued twice"
        assert grant.chain not in [c.chain for c in self.chains], "a chain id was issued twice"
        assert grant.access_expires_at == self.now + self.policy.fixed_access_token_lifetime
        self.chains.append(
            ModelChain(
                chain=grant.chain,
                user=user,
                device=device,
                authorized_at=self.now,
                tokens=[grant.refresh_token],
                slid_at=self.now,
                last_used_at=self.now,
            )
        )
        self.expected_counts["authorizations"] += 1

    @rule(user=USER_CHOICE, dt=st.sampled_from([0.0, 0.25]))
    def use_oldest_session_then_log_in(self, user: str, dt: float) -> None:
        """The user refreshes their oldest valid chain, then logs in again: at the cap the oldest
        authorization and the least recently used chain are then different chains."""
        self.expire_all(self.now)
        active = self.active_of(user)
        if active:
            self.do_refresh(min(active, key=lambda c: c.authorized_at).tokens[-1])
            self.move_to(self.now + dt)
        self.authorize(user, None)

    def do_refresh(self, token: Any) -> None:
        """Send `token` to the engine and compare the answer with the model's prediction."""
        assert self.engine is not None and self.policy is not None
        now = self.now
        self.expire_all(now)
        found = self.owner(token)
        try:
            before: ChainInfo | None = self.engine.chain_info(found[0].chain) if found else None
        except KeyError:  # forgotten (retain_ended=False)
            before = None
        result = self.engine.refresh(token, now)
        if found is None:
            expected_ok, expected_reason = False, "unknown_token"
        else:
            c, index = found
            current = len(c.tokens) - 1
            interval = self.policy.reuse_interval
            if not c.active:
                expected_ok, expected_reason = False, c.end_reason
            elif index == current:
                expected_ok, expected_reason = True, None
            elif interval > 0 and index == current - 1 and now - c.consumed_at[index] <= interval:
                expected_ok, expected_reason = True, "grace"
            else:
                expected_ok, expected_reason = False, "consumed"
        event(f"refresh -> {expected_reason or 'ok'}")
        assert result.ok == expected_ok, (result, expected_reason)
        if not expected_ok:
            assert result.reason == expected_reason, result
            assert result.refresh_token is None and not result.grace
            failed = self.expected_counts["refreshes_failed"]
            failed[expected_reason] = failed.get(expected_reason, 0) + 1
            if expected_reason == "consumed" and self.policy.on_reuse == "revoke_family":
                assert found is not None
                self.end(found[0], now, "family_revoked")
            return
        assert found is not None and before is not None
        c, index = found
        assert result.reason is None
        assert result.chain == c.chain
        assert result.access_expires_at == now + self.policy.fixed_access_token_lifetime
        self.successes.append(
            Success(
                token=token,
                chain=c.chain,
                user=c.user,
                now=now,
                grace=expected_reason == "grace",
                deadline_before=self.deadline(c),
                absolute_deadline=self.absolute_deadline(c),
                engine_deadline_before=before.expires_at,
                engine_absolute_deadline=before.absolute_deadline,
                seq=self.next_seq(),
            )
        )
        self.expected_counts["refreshes_ok"] += 1
        c.last_used_at = now
        if expected_reason == "grace":
            assert result.grace
            assert result.refresh_token == c.tokens[-1], "a retry must get the chain's current token"
            self.expected_counts["grace_retries"] += 1
            return
        assert not result.grace
        c.refreshes += 1
        if self.sliding < INF:
            c.slid_at = now
        if self.one_time:
            assert result.refresh_token not in self.all_tokens(), "rotation must issue a new token"
            c.consumed_at[index] = now
            c.tokens.append(result.refresh_token)
        else:
            assert result.refresh_token == token, "reuse must return the same token"

    def pick_active_first(self, index: int) -> ModelChain | None:
        """A valid chain when there is one, else any chain (None before the first authorization)."""
        return self.pick([c for c in self.chains if c.active] or self.chains, index)

    @precondition(lambda self: self.chains)
    @rule(index=st.integers(0, 1000))
    def refresh_current(self, index: int) -> None:
        """The well-behaved client: the current token of a (preferably valid) chain."""
        c = self.pick_active_first(index)
        self.do_refresh(c.tokens[-1] if c is not None else FORGED[index % len(FORGED)])

    @precondition(lambda self: self.chains)
    @rule(
        index=st.integers(0, 1000),
        which=st.sampled_from(["current", "previous", "any", "ended", "forged"]),
    )
    def refresh_any(self, index: int, which: str) -> None:
        """A token the model knows (current, predecessor, any old one, one of an ended chain) or a made-up
        one."""
        if which == "ended":
            c = self.pick([c for c in self.chains if not c.active], index)
        else:
            c = self.pick_active_first(index)
        if which == "forged" or c is None:
            token = FORGED[index % len(FORGED)]
            assert self.owner(token) is None, "a made-up value collided with an issued token"
        elif which == "current":
            token = c.tokens[-1]
        elif which == "previous":
            token = c.tokens[max(0, len(c.tokens) - 2)]
        else:
            token = c.tokens[index % len(c.tokens)]
        self.do_refresh(token)

    @precondition(lambda self: any(len(c.tokens) >= 2 for c in self.chains))
    @rule(index=st.integers(0, 1000), older=st.booleans())
    def reuse_old_token(self, index: int, older: bool) -> None:
        """A consumed token again: the immediate predecessor, or a token older than it."""
        rotated = [c for c in self.chains if len(c.tokens) >= 2]
        c = self.pick([c for c in rotated if c.active] or rotated, index)
        if c is None:
            return
        position = len(c.tokens) - 2
        if older and position > 0:
            position = index % position
        self.do_refresh(c.tokens[position])

    @precondition(lambda self: any(c.active for c in self.chains))
    @rule(
        index=st.integers(0, 1000),
        when=st.sampled_from(["same instant", "inside", "at edge", "edge+eps", "edge+ulp"]),
        older=st.booleans(),
    )
    def refresh_then_retry(self, index: int, when: str, older: bool) -> None:
        """A client that refreshes, then sends the token it just used again (a retry after a lost answer)
        at a time placed against the reuse interval: the same instant, inside it, exactly at its end or
        just after; sometimes with the token before it instead."""
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
        if older and len(c.tokens) >= 3:
            token = c.tokens[-3]
        self.do_refresh(token)

    @precondition(lambda self: self.chains)
    @rule(user=USER_CHOICE)
    def revoke_user(self, user: str) -> None:
        assert self.engine is not None
        self.expire_all(self.now)
        revoked = self.engine.revoke_user(user, self.now)
        expected = self.active_of(user)
        assert sorted(revoked) == sorted(c.chain for c in expected)
        for c in expected:
            self.end(c, self.now, "revoked")
        tokens = [t for c in self.chains if c.user == user for t in c.tokens]
        self.revocations.append((user, self.next_seq(), tokens))

    @precondition(lambda self: self.chains)
    @rule(
        index=st.integers(0, 1000),
        action=st.sampled_from(["logout", "logout", "logout_made_up", "revoke_chain"]),
        reason=st.sampled_from(END_REASONS),
    )
    def logout_or_revoke_chain(self, index: int, action: str, reason: str) -> None:
        """Logout (current token of a chain, a token of an ended chain, a made-up value) or revoke_chain."""
        assert self.engine is not None
        self.expire_all(self.now)
        c = self.pick_active_first(index)
        if action == "logout_made_up" or c is None:
            assert self.engine.logout(FORGED[index % len(FORGED)], self.now) is False
            return
        if action == "revoke_chain":
            assert self.engine.revoke_chain(c.chain, self.now, reason) is c.active
            if c.active:
                self.end(c, self.now, reason)
            return
        token = c.tokens[-1] if c.active else c.tokens[index % len(c.tokens)]
        assert self.engine.logout(token, self.now) is c.active
        if c.active:
            self.end(c, self.now, "logout")

    def move_to(self, target: float, tell: bool = True) -> None:
        """Move the clock; tell the engine (`advance`) or let it learn the time from its next call."""
        assert self.engine is not None
        assert target >= self.now
        self.now = target
        if tell:
            self.engine.advance(target)
        self.expire_all(target)

    @rule(dt=st.sampled_from([0.0, 0.0, 0.25, 0.5, 1.0, 1.5, 3.0, 7.0, 25.0]), tell=st.booleans())
    def advance(self, dt: float, tell: bool) -> None:
        self.move_to(self.now + dt, tell)

    @rule(
        index=st.integers(0, 1000),
        edge=st.sampled_from(["deadline", "deadline", "reuse_interval"]),
        past=st.sampled_from(["at", "eps", "ulp"]),
        tell=st.booleans(),
    )
    def advance_to_edge(self, index: int, edge: str, past: str, tell: bool) -> None:
        """Move to exactly a valid chain's deadline (or the end of a predecessor's reuse interval), or
        just past it (+1e-6, or the next float up)."""
        assert self.policy is not None
        interval = self.policy.reuse_interval
        if edge == "deadline":
            targets = {self.deadline(c) for c in self.chains if c.active}
        else:
            targets = {
                c.consumed_at[len(c.tokens) - 2] + interval
                for c in self.chains
                if c.active and len(c.tokens) >= 2 and interval > 0
            }
        reachable = sorted(t for t in targets if self.now <= t < INF)
        if reachable:
            self.move_to(self.nudge(reachable[index % len(reachable)], past), tell)

    @staticmethod
    def nudge(t: float, past: str) -> float:
        if past == "eps":
            return t + 1e-6
        if past == "ulp":
            return math.nextafter(t, INF)
        return t

    # ------------------------------------------------------------------ invariants
    #
    # The clock may have moved without the engine being told (`tell=False`): the engine then knows the
    # state only up to `engine.now`, and catches up on its next call. The invariants therefore compare the
    # engine with the model as of `engine.now` (and never move the engine's clock themselves).

    def ended_as_of(self, c: ModelChain, t: float) -> bool:
        """True when chain `c` had ended by time `t` (an expiry at deadline d counts from just after d)."""
        if c.ended_at is None:
            return False
        return not c.expired or c.ended_at < t

    @invariant()
    def never_more_valid_chains_than_the_cap(self) -> None:
        assert self.engine is not None and self.policy is not None
        t = self.engine.now
        cap = self.policy.max_tokens_per_user
        for user in USERS:
            count = self.engine.active_chains(user, t)
            assert count == sum(1 for c in self.chains if c.user == user and not self.ended_as_of(c, t))
            assert cap is None or count <= cap, (user, count, cap)

    @invariant()
    def no_success_past_a_deadline(self) -> None:
        for s in self.successes:
            assert s.now <= s.deadline_before and s.now <= s.engine_deadline_before, s
            assert s.now <= s.absolute_deadline and s.now <= s.engine_absolute_deadline, s

    @invariant()
    def one_time_tokens_succeed_once_outside_the_reuse_interval(self) -> None:
        assert self.policy is not None
        if not self.one_time:
            return
        by_token: dict[Any, list[Success]] = {}
        for s in self.successes:
            by_token.setdefault(s.token, []).append(s)
        for token, uses in by_token.items():
            rotations = [s for s in uses if not s.grace]
            assert len(rotations) == 1 and rotations[0] is uses[0], (token, uses)
            for retry in uses[1:]:
                assert retry.now - rotations[0].now <= self.policy.reuse_interval, (token, uses)

    @invariant()
    def nothing_refreshes_after_revoke_user(self) -> None:
        for user, at, tokens in self.revocations:
            for s in self.successes:
                assert not (s.seq > at and s.token in tokens), (user, at, s)

    @invariant()
    def ended_chains_have_one_reason_and_a_time(self) -> None:
        assert self.engine is not None
        t = self.engine.now
        ids = [info.chain for info in self.ended_infos]
        assert len(ids) == len(set(ids)), "a chain ended twice"
        for info in self.ended_infos:
            assert info.end_reason in END_REASONS and info.ended_at is not None, info
            assert not info.active
        ended = {c.chain: c for c in self.chains if self.ended_as_of(c, t)}
        assert set(ids) == set(ended)
        for info in self.ended_infos:
            c = ended[info.chain]
            assert (info.end_reason, info.ended_at) == (c.end_reason, c.ended_at), (info, c)
        for c in self.chains:
            if not self.ended_as_of(c, t) or self.retain_ended:
                self.check_chain_info(self.engine.chain_info(c.chain), c, t)
            else:
                try:
                    self.engine.chain_info(c.chain)
                except KeyError:
                    continue
                raise AssertionError(f"chain {c.chain} kept with retain_ended=False")

    def check_chain_info(self, info: ChainInfo, c: ModelChain, t: float) -> None:
        assert info.chain == c.chain and info.user == c.user and info.device == c.device
        assert info.authorized_at == c.authorized_at
        assert info.last_used_at == c.last_used_at, (info, c)
        assert info.refreshes == c.refreshes, (info, c)
        if self.ended_as_of(c, t):
            assert (info.ended_at, info.end_reason) == (c.ended_at, c.end_reason), (info, c)
            assert info.end_reason in END_REASONS and not info.active
        else:
            assert (info.ended_at, info.end_reason) == (None, None), (info, c)
            assert info.active
        assert info.absolute_deadline == self.absolute_deadline(c)
        assert info.expires_at == self.deadline(c), (info, c)

    @invariant()
    def counters_add_up(self) -> None:
        assert self.engine is not None
        t = self.engine.now
        counters = self.engine.counters
        assert counters.authorizations == counters.active_chains + sum(counters.ended.values())
        assert counters.active_chains == sum(self.engine.active_chains(u, t) for u in USERS)
        expected = self.expected_counts
        assert counters.authorizations == expected["authorizations"] == len(self.chains)
        assert counters.rejected_authorizations == expected["rejected_authorizations"]
        assert counters.refreshes_ok == expected["refreshes_ok"]
        assert counters.grace_retries == expected["grace_retries"]
        assert {k: v for k, v in counters.refreshes_failed.items() if v} == expected["refreshes_failed"]
        ended = dict.fromkeys(END_REASONS, 0)
        for c in self.chains:
            if self.ended_as_of(c, t):
                assert c.end_reason is not None
                ended[c.end_reason] += 1
        assert counters.ended == ended
        assert counters.evictions == ended["evicted"]


TokenEngineMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngine = TokenEngineMachine.TestCase
