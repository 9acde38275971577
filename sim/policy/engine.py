"""The policy engine: the authorization server's refresh-token state, pure and deterministic.

No SimPy here. Time is passed in explicitly (seconds, never going backwards) and every call first
processes the expiries that happened before it, so the state is exact at any time.

Vocabulary:
- a **chain** is what one authorization (a login) starts: its refresh token and all its rotations.
  It counts once against the per-user cap and ends exactly once, with one reason.
- a **token** is an opaque int handle. With `one_time` usage each successful refresh consumes the
  presented token and issues the next one; with `reuse` the same token is returned; with
  `rotate_keep_old` a new token is issued and every earlier token of the chain stays valid as long as
  the chain does (the chain's deadlines apply to all its tokens: a use of any of them slides it).

Deadlines are inclusive: a token is valid at exactly its deadline and expired just after it. A chain that
expires is recorded as ended at its deadline, not when someone noticed.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from sim.core.reasons import (
    ABSOLUTE_EXPIRY,
    CONSUMED,
    END_REASONS,
    EVICTED,
    FAILURE_REASONS,
    FAMILY_REVOKED,
    LOGOUT,
    REJECTED_CAP,
    REVOKED,
    SLIDING_EXPIRY,
    UNKNOWN_TOKEN,
)
from sim.policy.model import Policy

# A token handle is chain * _GENERATIONS + generation, so the engine needs no per-token storage.
_GENERATIONS = 1 << 32
_INF = math.inf


class Grant(NamedTuple):
    """The answer to an authorization (a login)."""

    #: The new chain's first refresh token; None when the authorization was rejected at the cap.
    refresh_token: int | None
    #: The new chain's id; None when rejected.
    chain: int | None
    #: Chains ended (reason `evicted`) to make room under the cap.
    evicted: tuple[int, ...] = ()
    #: `rejected_cap` when no refresh token was issued, else None.
    reason: str | None = None
    #: The access token's `exp` (None when rejected).
    access_expires_at: float | None = None


class RefreshResult(NamedTuple):
    """The answer to a refresh-token request (a named tuple: cheap to create on every refresh)."""

    ok: bool
    #: The refresh token the client should hold from now on (new with rotation, the same with reuse).
    refresh_token: int | None = None
    #: Why the request failed (one of FAILURE_REASONS), else None.
    reason: str | None = None
    chain: int | None = None
    #: True when a consumed token was accepted within the reuse interval (an idempotent retry).
    grace: bool = False
    #: The new access token's `exp`, when ok.
    access_expires_at: float | None = None


class SeriesResult(NamedTuple):
    """The answers to a series of refreshes by one client (see `TokenEngine.refresh_series`)."""

    #: When each request was made (the failed one, if any, is the last).
    times: list[float]
    #: The refresh token held after each successful request, in order.
    tokens: list[int]
    #: The access token's `exp` after the last success (None when none succeeded).
    access_expires_at: float | None
    #: The answer to the request that failed, if one did (it ends the series).
    failure: RefreshResult | None
    #: True when the first request was a retry within the reuse interval (only the first can be).
    grace: bool = False


@dataclass(frozen=True, slots=True)
class ChainInfo:
    """A snapshot of one chain."""

    chain: int
    user: str
    device: str | None
    authorized_at: float
    last_used_at: float
    #: None while the chain is valid.
    ended_at: float | None
    end_reason: str | None
    #: Successful refreshes (rotations or reuses), not counting retries within the reuse interval.
    refreshes: int
    #: The deadline that never moves (inf when unlimited).
    absolute_deadline: float
    #: The deadline now in force: min(sliding deadline, absolute deadline) (inf when neither).
    expires_at: float

    @property
    def active(self) -> bool:
        """True while the chain has not ended."""
        return self.ended_at is None


@dataclass(slots=True)
class _Chain:
    chain: int
    user: str
    device: str | None
    authorized_at: float
    absolute_deadline: float
    deadline: float
    last_used_at: float
    generation: int = 0  # the newest token issued
    parent: int = -1  # one_time: the token presented most recently with success (now consumed)
    parent_uses: int = 0  # successful presentations of `parent` (max_reuse)
    consumed_at: float = -_INF  # when `parent` was first used (the reuse interval counts from there)
    refreshes: int = 0
    ended_at: float | None = None
    end_reason: str | None = None

    def info(self) -> ChainInfo:
        return ChainInfo(
            chain=self.chain,
            user=self.user,
            device=self.device,
            authorized_at=self.authorized_at,
            last_used_at=self.last_used_at,
            ended_at=self.ended_at,
            end_reason=self.end_reason,
            refreshes=self.refreshes,
            absolute_deadline=self.absolute_deadline,
            expires_at=self.deadline,
        )


@dataclass
class Counters:
    """Running totals kept by the engine (cheap: updated in place)."""

    #: Chains created (authorizations that issued a refresh token).
    authorizations: int = 0
    #: Authorizations refused at the cap (`on_cap: reject_new`).
    rejected_authorizations: int = 0
    refreshes_ok: int = 0
    #: Successful requests with a consumed token inside the reuse interval (also in refreshes_ok).
    grace_retries: int = 0
    refreshes_failed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAILURE_REASONS, 0))
    #: Chains ended, by reason.
    ended: dict[str, int] = field(default_factory=lambda: dict.fromkeys(END_REASONS, 0))
    active_chains: int = 0

    @property
    def evictions(self) -> int:
        """Chains ended to make room under the cap."""
        return self.ended[EVICTED]

    @property
    def refreshes(self) -> int:
        """Every refresh request, successful or not."""
        return self.refreshes_ok + sum(self.refreshes_failed.values())


class TokenEngine:
    """The refresh-token state of one authorization server and one client application.

    `on_chain_end` is called with a ChainInfo whenever a chain ends; with `retain_ended=False` ended
    chains are then forgotten (only their end reason is kept, to answer later requests), so long runs
    stay small in memory.
    """

    def __init__(
        self,
        policy: Policy,
        on_chain_end: Callable[[ChainInfo], None] | None = None,
        retain_ended: bool = True,
        rng: np.random.Generator | None = None,
    ):
        self.policy = policy
        self.counters = Counters()
        self._on_chain_end = on_chain_end
        self._retain_ended = retain_ended
        self._one_time = policy.refresh_token_usage == "one_time"
        self._rotates = policy.refresh_token_usage != "reuse"
        self._absolute = _INF if policy.absolute_lifetime is None else policy.absolute_lifetime
        self._token_anchor = policy.absolute_anchor == "token"
        # The sliding deadline as the server enforces it: the lifetime plus any idle tolerance.
        self._sliding = (
            _INF if policy.sliding_lifetime is None else policy.sliding_lifetime + policy.idle_tolerance
        )
        self._cap = policy.max_tokens_per_user
        self._on_cap = policy.on_cap
        self._access_fixed = policy.fixed_access_token_lifetime
        self._access_dist = policy.access_token_lifetime
        if self._access_fixed is None and rng is None:
            raise ValueError("the policy's access_token_lifetime is a distribution: pass rng= to draw it")
        self._rng = rng
        self._reuse_interval = policy.reuse_interval
        self._max_reuse = policy.max_reuse
        self._revoke_family = policy.on_reuse == "revoke_family"
        self._chains: dict[int, _Chain] = {}
        # forgotten chains (retain_ended=False): chain -> (end reason, last generation issued)
        self._ended_reasons: dict[int, tuple[str, int]] = {}
        self._active_by_user: dict[str, dict[int, _Chain]] = {}
        self._expiries: list[tuple[float, int]] = []  # at most one entry per active chain
        self._next_chain = 1
        self._now = -_INF

    # ---------------------------------------------------------------- public API

    @property
    def now(self) -> float:
        """The latest time the engine has seen."""
        return self._now

    def advance(self, now: float) -> None:
        """Move the clock to `now`, ending every chain whose deadline passed (strictly before now)."""
        if now < self._now:
            raise ValueError(f"time went backwards: {now} < {self._now}")
        if math.isnan(now):
            raise ValueError("time is NaN")
        self._now = now
        heap = self._expiries
        while heap and heap[0][0] < now:
            deadline, chain_id = heapq.heappop(heap)
            chain = self._chains.get(chain_id)
            if chain is None or chain.ended_at is not None:
                continue
            if chain.deadline > deadline:  # slid since this entry was pushed: re-file it
                heapq.heappush(heap, (chain.deadline, chain_id))
                continue
            reason = ABSOLUTE_EXPIRY if chain.deadline >= chain.absolute_deadline else SLIDING_EXPIRY
            self._end(chain, chain.deadline, reason)

    def authorize(self, user: str, now: float, device: str | None = None) -> Grant:
        """A new authorization (login) of `user`: a new chain, evicting or rejecting at the cap."""
        self.advance(now)
        active = self._active_by_user.get(user)
        evicted: list[int] = []
        if self._cap is not None and active and len(active) >= self._cap:
            if self._on_cap == "reject_new":
                self.counters.rejected_authorizations += 1
                return Grant(refresh_token=None, chain=None, reason=REJECTED_CAP)
            while len(active) >= self._cap:
                victim = self._eviction_victim(active)
                self._end(victim, now, EVICTED)
                evicted.append(victim.chain)
        chain_id = self._next_chain
        self._next_chain += 1
        absolute_deadline = now + self._absolute
        deadline = min(now + self._sliding, absolute_deadline)
        chain = _Chain(
            chain=chain_id,
            user=user,
            device=device,
            authorized_at=now,
            absolute_deadline=absolute_deadline,
            deadline=deadline,
            last_used_at=now,
        )
        self._chains[chain_id] = chain
        self._active_by_user.setdefault(user, {})[chain_id] = chain
        if deadline < _INF:
            heapq.heappush(self._expiries, (deadline, chain_id))
        self.counters.authorizations += 1
        self.counters.active_chains += 1
        return Grant(
            refresh_token=chain_id * _GENERATIONS,
            chain=chain_id,
            evicted=tuple(evicted),
            access_expires_at=self._access_expiry(now),
        )

    def refresh(self, token: int, now: float) -> RefreshResult:
        """Exchange a refresh token for a new access token (and, with rotation, a new refresh token)."""
        self.advance(now)
        chain_id, generation = divmod(token, _GENERATIONS) if isinstance(token, int) else (0, 0)
        chain = self._chains.get(chain_id)
        if chain is None:
            reason, last_generation = self._ended_reasons.get(chain_id, (UNKNOWN_TOKEN, -1))
            if generation > last_generation:
                return self._fail(UNKNOWN_TOKEN, None)
            return self._fail(reason, chain_id)
        if generation > chain.generation:
            return self._fail(UNKNOWN_TOKEN, None)
        if chain.ended_at is not None:
            return self._fail(chain.end_reason or UNKNOWN_TOKEN, chain_id)
        counters = self.counters
        if generation == chain.generation or (
            not self._one_time and generation < chain.generation  # rotate_keep_old: old ones stay valid
        ):
            token, access = self._use(chain, now, self._one_time)  # with one_time, the newest
            return RefreshResult(ok=True, refresh_token=token, chain=chain_id, access_expires_at=access)
        # A consumed one-time token.
        if generation == chain.parent:
            if chain.parent_uses <= self._max_reuse:  # count-based reuse: a new token each time
                chain.parent_uses += 1
                token, access = self._use(chain, now, False)
                return RefreshResult(ok=True, refresh_token=token, chain=chain_id, access_expires_at=access)
            # A retry inside the reuse interval is a use (it moves last_used_at, which
            # evict_least_recently_used reads) but not a rotation or a slide.
            if self._reuse_interval > 0 and now - chain.consumed_at <= self._reuse_interval:
                chain.last_used_at = now
                counters.refreshes_ok += 1
                counters.grace_retries += 1
                return RefreshResult(
                    ok=True,
                    refresh_token=chain_id * _GENERATIONS + chain.generation,
                    chain=chain_id,
                    grace=True,
                    access_expires_at=self._access_expiry(now),
                )
        if self._revoke_family:
            self._end(chain, now, FAMILY_REVOKED)
        return self._fail(CONSUMED, chain_id)

    def refresh_series(self, token: int, first: float, before: float, max_requests: int) -> SeriesResult:
        """Refresh at `first`, then at each new access token's expiry while that is before `before`.

        This is what one client holding one token does during a session. The request at `first` is
        always made (the caller knows it is due); the series stops at the first failure and after
        `max_requests` requests (at least one). The state, the counters and every answer are exactly those of
        calling `refresh` at each of those times (property-tested), but a run of successful refreshes of
        a valid chain costs far less: expiries of other chains are then processed once, at the end (an
        ended chain records its deadline, not the time it was noticed, so nothing observable changes).
        """
        times: list[float] = []
        tokens: list[int] = []
        access: float | None = None
        grace = False
        limit = max(1, max_requests)
        chain = self._chains.get(token // _GENERATIONS) if isinstance(token, int) else None
        # Holding the newest token of a valid chain, a refresh before the chain's deadline can only
        # succeed: it takes the short path through the same state update. After any successful refresh
        # the client holds the chain's newest token, and nothing else touches the chain meanwhile.
        newest = (
            chain is not None
            and chain.ended_at is None
            and token % _GENERATIONS == chain.generation
            and self._now <= first
        )
        use = self._use
        consume = self._one_time
        t = first
        while True:
            if newest and t <= chain.deadline:  # type: ignore[union-attr]
                token, access = use(chain, t, consume)  # type: ignore[arg-type]
            else:
                result = self.refresh(token, t)  # the general path: every rule, in order
                if not result.ok:
                    times.append(t)
                    return SeriesResult(times, tokens, access, result, grace)
                grace = grace or result.grace
                assert result.refresh_token is not None and result.access_expires_at is not None
                assert result.chain is not None  # a successful refresh names its chain
                token, access = result.refresh_token, result.access_expires_at
                chain = self._chains[result.chain]
                newest = True
            times.append(t)
            tokens.append(token)
            t = access
            if t >= before or len(times) >= limit:
                break
        self.advance(times[-1])
        return SeriesResult(times, tokens, access, None, grace)

    def _use(self, chain: _Chain, now: float, consume: bool) -> tuple[int, float]:
        """A successful refresh: count it, rotate when the policy does, move the deadlines.

        `consume`: the presented token is the chain's newest one-time token, which this use consumes
        (count-based reuse of the previous token consumes nothing). Returns the token the client holds
        from now on and the new access token's expiry.
        """
        if consume:
            chain.parent = chain.generation
            chain.parent_uses = 1
            chain.consumed_at = now
        chain.refreshes += 1
        chain.last_used_at = now
        if self._rotates:
            chain.generation += 1
            if self._token_anchor:  # each new token gets a full absolute lifetime
                chain.absolute_deadline = now + self._absolute
        if self._sliding < _INF:
            chain.deadline = min(now + self._sliding, chain.absolute_deadline)
        else:
            chain.deadline = chain.absolute_deadline
        # Deadlines never move earlier, so the chain's entry in the expiry heap (pushed at its
        # authorization) stays a lower bound and is re-filed when popped (see `advance`).
        self.counters.refreshes_ok += 1
        access = now + self._access_fixed if self._access_fixed is not None else self._access_expiry(now)
        return chain.chain * _GENERATIONS + chain.generation, access

    def _access_expiry(self, now: float) -> float:
        if self._access_fixed is not None:
            return now + self._access_fixed
        assert self._rng is not None  # a distributed lifetime needs the stream given to the constructor
        return now + self._access_dist.sample(self._rng)

    def logout(self, token: int, now: float) -> bool:
        """Revoke the chain that `token` belongs to (reason `logout`); True if a valid chain ended."""
        self.advance(now)
        chain = self._chains.get(token // _GENERATIONS) if isinstance(token, int) else None
        if chain is None or chain.ended_at is not None or token % _GENERATIONS > chain.generation:
            return False
        self._end(chain, now, LOGOUT)
        return True

    def revoke_chain(self, chain_id: int, now: float, reason: str = REVOKED) -> bool:
        """End one chain (by id) with `reason`; True if it was valid."""
        if reason not in END_REASONS:
            raise ValueError(f"unknown end reason {reason!r}; expected one of {END_REASONS}")
        self.advance(now)
        chain = self._chains.get(chain_id)
        if chain is None or chain.ended_at is not None:
            return False
        self._end(chain, now, reason)
        return True

    def revoke_user(self, user: str, now: float) -> list[int]:
        """Revoke every valid chain of `user` (e.g. a password change); return their ids."""
        self.advance(now)
        active = self._active_by_user.get(user)
        if not active:
            return []
        ended = list(active.values())
        for chain in ended:
            self._end(chain, now, REVOKED)
        return [chain.chain for chain in ended]

    def active_chains(self, user: str, now: float) -> int:
        """How many valid chains `user` holds at `now`."""
        self.advance(now)
        active = self._active_by_user.get(user)
        return len(active) if active else 0

    def chain_info(self, chain_id: int) -> ChainInfo:
        """A snapshot of a chain (KeyError for an unknown or forgotten chain)."""
        return self._chains[chain_id].info()

    def chain_of(self, token: int) -> int:
        """The chain a token belongs to (the token need not be valid)."""
        return token // _GENERATIONS

    def iter_active(self) -> Iterator[ChainInfo]:
        """Snapshots of every chain still valid at the engine's current time."""
        for active in self._active_by_user.values():
            for chain in active.values():
                yield chain.info()

    # ---------------------------------------------------------------- internals

    def _eviction_victim(self, active: dict[int, _Chain]) -> _Chain:
        if self._on_cap == "evict_least_recently_used":
            return min(active.values(), key=lambda c: (c.last_used_at, c.chain))
        return min(active.values(), key=lambda c: (c.authorized_at, c.chain))

    def _fail(self, reason: str, chain_id: int | None) -> RefreshResult:
        self.counters.refreshes_failed[reason] += 1
        return RefreshResult(ok=False, reason=reason, chain=chain_id)

    def _end(self, chain: _Chain, at: float, reason: str) -> None:
        chain.ended_at = at
        chain.end_reason = reason
        counters = self.counters
        counters.ended[reason] += 1
        counters.active_chains -= 1
        active = self._active_by_user[chain.user]
        del active[chain.chain]
        if not active:
            del self._active_by_user[chain.user]
        if self._on_chain_end is not None:
            self._on_chain_end(chain.info())
        if not self._retain_ended:
            del self._chains[chain.chain]
            self._ended_reasons[chain.chain] = (reason, chain.generation)
