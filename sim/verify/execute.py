"""Drive the policy engine through a timeline and record every step: the input of the properties.

The clients behave as in the statistical model (`sim.model.behaviour`, `sim.model.threats`), without SimPy
or random numbers: every choice comes from the timeline.

- A device's session: at its start the device logs in when it holds no refresh token (its first login,
  after a logout, or a fresh login, which abandons the old chain on the server), else refreshes with one
  request when its access token has expired; during the session it refreshes at every access-token expiry
  before the session's end, one request per racing tab (`tab_offsets` after the expiry), all presenting
  the token the device held at the expiry. A lost response (the server handled the request) is retried
  `retry_after` later with the same token. A successful answer is stored; a failed one makes the device
  log in again at once, once per refresh episode: a **forced login**, whose cause is the failure reason.
  A session flagged `logout` ends with a logout (the chain is revoked, the token discarded).
- A password change revokes every chain of the user.
- A theft copies the refresh and access tokens the device holds at that moment (nothing, when it holds
  none); the attacker then refreshes by its strategy (`immediate`: at once and at every expiry of its own
  access token; `when_idle`: the same, but a refresh that falls within a session of the stolen device waits
  until a minute after the session ends; `daily`: every 24 hours from the theft) until a refresh fails.

Events at the same instant run in a fixed order: password changes, thefts, devices (in order), attackers.
The run stops at the timeline's end. Every engine call is a `Step`; a step also carries the facts the
properties read (the chain's login time, how long the presented token had been unused, whether it was a
replay, the user's valid chains after a login, ...).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.core.durations import DAY
from sim.policy.engine import ChainInfo, RefreshResult, TokenEngine
from sim.policy.model import Policy
from sim.verify.timelines import Timeline

# What a step is.
SESSION = "session"
LOGIN = "login"
REFRESH = "refresh"
LOGOUT = "logout"
PASSWORD_CHANGE = "password_change"
THEFT = "theft"

# Why a device logged in.
FIRST_LOGIN = "first_login"
FRESH_LOGIN = "fresh_login"
LOGIN_AFTER_LOGOUT = "login_after_logout"
FORCED_LOGIN = "forced_login"

#: How long after the stolen device's session ends a `when_idle` attacker acts (as sim.model.threats).
IDLE_MARGIN = 60.0
USER = "user"

# Order of processes at the same instant.
_CHANGES, _THEFTS, _DEVICES, _ATTACKERS = range(4)


@dataclass(slots=True)
class Step:
    """One thing that happened: a session start, a login, a refresh request, a logout, a theft, ..."""

    index: int
    at: float
    #: A device's name, `attacker N` or `server` (a password change).
    actor: str
    kind: str
    ok: bool = True
    #: The failure reason of a refresh, `rejected_cap` for a refused login.
    reason: str | None = None
    #: The refresh token presented (refresh, logout, theft) or issued (login).
    token: int | None = None
    #: The refresh token the answer carries (a successful refresh).
    issued: int | None = None
    chain: int | None = None
    #: Device index, or None for attackers and the server.
    device: int | None = None
    #: Theft index for an attacker's steps.
    attacker: int | None = None
    #: The racing tab that sent the request (0 for a single request).
    tab: int = 0
    #: A successful refresh with a consumed token inside the reuse interval.
    grace: bool = False
    #: The presented token had been rotated away (a newer token of its chain existed).
    replay: bool = False
    #: The response was lost; the client retries at `retry_at`.
    lost: bool = False
    retry_at: float | None = None
    #: A failed refresh that forced the device to log in.
    forced: bool = False
    login_kind: str | None = None
    #: Chains ended by this step (eviction at a login, revocation by a password change or logout).
    ended: tuple[int, ...] = ()
    #: A session's length; a theft's stolen access-token expiry.
    duration: float | None = None
    access_until: float | None = None
    # Facts for the properties.
    chain_login_at: float | None = None
    token_idle: float | None = None
    since_theft: float | None = None
    victim_refreshes: int | None = None
    valid_chains: int | None = None


@dataclass
class ChainRecord:
    """A chain's life: its login, its end and its rotations (successful refreshes, not grace retries)."""

    chain: int
    owner: str
    authorized_at: float
    ended_at: float | None = None
    end_reason: str | None = None
    rotations: list[float] = field(default_factory=list)


@dataclass
class Trace:
    """What executing a timeline did: the steps in order, the chains, and a label for every token."""

    policy: Policy
    timeline: Timeline
    steps: list[Step]
    chains: dict[int, ChainRecord]
    labels: dict[int, str]

    def label(self, token: int | None) -> str:
        """A token as the story shows it: `chain.n`, the n-th token issued in the chain."""
        return "-" if token is None else self.labels.get(token, str(token))

    @property
    def forced_logins(self) -> list[Step]:
        """The failed refreshes that forced a device to log in."""
        return [s for s in self.steps if s.forced]


@dataclass
class _DeviceState:
    name: str
    token: int | None = None
    access_expires_at: float = -math.inf
    login_kind: str = FIRST_LOGIN
    session_end: float = -math.inf
    requests: int = 0


@dataclass
class _Stolen:
    at: float
    device: int
    token: int | None = None
    access_expires_at: float = -math.inf
    requests_at_theft: int = 0


_Process = Generator[tuple[float, int], None, None]


class _Run:
    """One execution of a timeline (use `execute`)."""

    def __init__(self, policy: Policy, timeline: Timeline):
        self.policy = policy
        self.timeline = timeline
        rng = None
        if policy.fixed_access_token_lifetime is None:
            rng = np.random.default_rng(np.random.SeedSequence(timeline.access_seed))
        self.engine = TokenEngine(policy, on_chain_end=self._chain_ended, retain_ended=True, rng=rng)
        self.rotating = policy.refresh_token_usage != "reuse"
        self.now = 0.0
        self.steps: list[Step] = []
        self.chains: dict[int, ChainRecord] = {}
        self.labels: dict[int, str] = {}
        self.issued: dict[int, int] = {}
        self.newest: dict[int, int] = {}
        self.last_use: dict[int, float] = {}
        self.devices = [_DeviceState(d.name) for d in timeline.devices]
        self.lost = {(x.device, x.request): x.retry_after for x in timeline.lost_responses}
        self.stolen = [_Stolen(t.at, t.device) for t in timeline.thefts]

    # ------------------------------------------------------------------ scheduling

    def run(self) -> Trace:
        end = self.timeline.end
        heap: list[tuple[float, int, int, int, _Process]] = []
        seq = 0

        def schedule(process: _Process, order: int) -> None:
            nonlocal seq
            try:
                at, priority = next(process)
            except StopIteration:
                return
            seq += 1
            heapq.heappush(heap, (at, priority, order, seq, process))

        for order, at in enumerate(self.timeline.password_changes):
            schedule(self._password_change(at), order)
        for order in range(len(self.timeline.devices)):
            schedule(self._device(order), order)
        for order in range(len(self.stolen)):
            schedule(self._attacker(order), order)
        while heap:
            at, _, order, _, process = heapq.heappop(heap)
            if at > end:
                break
            self.now = max(self.now, at)
            schedule(process, order)
        self.engine.advance(max(self.now, end))
        return Trace(self.policy, self.timeline, self.steps, self.chains, self.labels)

    # ------------------------------------------------------------------ processes

    def _password_change(self, at: float) -> _Process:
        yield at, _CHANGES
        revoked = self.engine.revoke_user(USER, self.now)
        self._step("server", PASSWORD_CHANGE, ended=tuple(revoked))

    def _device(self, index: int) -> _Process:
        state = self.devices[index]
        for session in self.timeline.devices[index].sessions:
            yield max(session.start, self.now), _DEVICES
            start = self.now  # later than planned when a retry of the last session ran past it
            end = start + session.duration
            state.session_end = end
            self._step(state.name, SESSION, device=index, duration=session.duration)
            if session.fresh_login and state.token is not None:
                state.token = None  # the old chain is abandoned on the server
                state.login_kind = FRESH_LOGIN
            if state.token is None:
                self._login(index)
            elif state.access_expires_at < start:
                yield from self._episode(index, (0.0,))
            while state.token is not None and state.access_expires_at < end:
                yield state.access_expires_at, _DEVICES
                yield from self._episode(index, session.tab_offsets)
            if session.logout and state.token is not None:
                if end > self.now:
                    yield end, _DEVICES
                token = state.token
                chain = self.engine.chain_of(token)
                ended = (chain,) if self.engine.logout(token, self.now) else ()
                self._step(state.name, LOGOUT, token=token, chain=chain, device=index, ended=ended)
                state.token = None
                state.access_expires_at = -math.inf
                state.login_kind = LOGIN_AFTER_LOGOUT

    def _episode(self, index: int, offsets: tuple[float, ...]) -> _Process:
        """One refresh per racing tab, all with the token held now; retries of lost responses."""
        state = self.devices[index]
        presented = state.token
        assert presented is not None
        trigger = self.now
        if len(offsets) == 1:
            offsets = (0.0,)  # a single request goes at the expiry itself
        pending = [(trigger + offset, tab, presented) for tab, offset in enumerate(offsets)]
        heapq.heapify(pending)
        relogged = False
        while pending:
            at, tab, token = heapq.heappop(pending)
            if at > self.now:
                yield at, _DEVICES
            request = state.requests
            state.requests += 1
            retry = self.lost.get((index, request))
            result, facts = self._refresh(token)
            lost = retry is not None
            forced = not lost and not relogged and not result.ok
            self._step(
                state.name,
                REFRESH,
                ok=result.ok,
                reason=result.reason,
                token=token,
                issued=result.refresh_token,
                chain=self.engine.chain_of(token),
                device=index,
                tab=tab,
                grace=result.grace,
                lost=lost,
                retry_at=None if retry is None else self.now + retry,
                forced=forced,
                **facts,
            )
            if retry is not None:
                heapq.heappush(pending, (self.now + retry, tab, token))
                continue
            if relogged:
                continue
            if result.ok:
                state.token = result.refresh_token
                assert result.access_expires_at is not None  # a successful refresh issued one
                state.access_expires_at = result.access_expires_at
            else:
                state.login_kind = FORCED_LOGIN
                self._login(index)
                relogged = True

    def _attacker(self, order: int) -> _Process:
        theft = self.stolen[order]
        actor = f"attacker {order + 1}"
        yield theft.at, _THEFTS
        victim = self.devices[theft.device]
        if victim.token is None:
            self._step(actor, THEFT, ok=False, device=theft.device, attacker=order)
            return
        theft.token = victim.token
        theft.access_expires_at = victim.access_expires_at
        theft.requests_at_theft = victim.requests
        self._step(
            actor,
            THEFT,
            token=theft.token,
            chain=self.engine.chain_of(theft.token),
            device=theft.device,
            attacker=order,
            access_until=theft.access_expires_at,
        )
        strategy = self.timeline.attacker
        t = theft.at
        uses = 0
        while True:
            while True:
                if t >= self.timeline.end:
                    return
                yield t, _ATTACKERS
                if strategy != "when_idle" or t >= victim.session_end:
                    break
                t = victim.session_end + IDLE_MARGIN
            token = theft.token
            assert token is not None  # the theft holds a token until it ends
            result, facts = self._refresh(token)
            uses += 1
            self._step(
                actor,
                REFRESH,
                ok=result.ok,
                reason=result.reason,
                token=token,
                issued=result.refresh_token,
                chain=self.engine.chain_of(token),
                attacker=order,
                grace=result.grace,
                since_theft=self.now - theft.at,
                victim_refreshes=victim.requests - theft.requests_at_theft,
                **facts,
            )
            if not result.ok:
                return
            theft.token = result.refresh_token
            assert result.access_expires_at is not None  # a successful refresh issued one
            theft.access_expires_at = result.access_expires_at
            t = theft.at + uses * DAY if strategy == "daily" else theft.access_expires_at

    # ------------------------------------------------------------------ engine calls

    def _refresh(self, token: int) -> tuple[RefreshResult, dict[str, Any]]:
        """Refresh with `token` now; the answer and the facts of the request (before the answer)."""
        chain = self.engine.chain_of(token)
        facts = {
            "chain_login_at": self.chains[chain].authorized_at if chain in self.chains else None,
            "token_idle": self.now - self.last_use[token] if token in self.last_use else None,
            "replay": self.rotating and self.newest.get(chain, token) != token,
        }
        result = self.engine.refresh(token, self.now)
        if result.ok:
            self.last_use[token] = self.now
            issued = result.refresh_token
            assert issued is not None
            if issued not in self.labels:
                self._issue(chain, issued)
            self.newest[chain] = issued
            if not result.grace:
                self.chains[chain].rotations.append(self.now)
        return result, facts

    def _issue(self, chain: int, token: int) -> None:
        count = self.issued.get(chain, 0)
        self.issued[chain] = count + 1
        self.labels[token] = f"{chain}.{count}"
        self.last_use[token] = self.now

    def _login(self, index: int) -> None:
        state = self.devices[index]
        kind = state.login_kind
        grant = self.engine.authorize(USER, self.now, device=state.name)
        if grant.refresh_token is None:
            self._step(
                state.name,
                LOGIN,
                ok=False,
                reason=grant.reason,
                device=index,
                login_kind=kind,
                valid_chains=self.engine.active_chains(USER, self.now),
            )
            state.token = None
            state.access_expires_at = -math.inf
            return
        chain = grant.chain
        assert chain is not None
        self.chains[chain] = ChainRecord(chain, state.name, self.now)
        self._issue(chain, grant.refresh_token)
        self.newest[chain] = grant.refresh_token
        self._step(
            state.name,
            LOGIN,
            token=grant.refresh_token,
            chain=chain,
            device=index,
            login_kind=kind,
            ended=grant.evicted,
            valid_chains=self.engine.active_chains(USER, self.now),
        )
        state.token = grant.refresh_token
        state.access_expires_at = grant.access_expires_at  # type: ignore[assignment]
        state.login_kind = FIRST_LOGIN

    def _chain_ended(self, info: ChainInfo) -> None:
        record = self.chains.get(info.chain)
        if record is not None:
            record.ended_at = info.ended_at
            record.end_reason = info.end_reason

    def _step(self, actor: str, kind: str, **fields: object) -> None:
        self.steps.append(Step(len(self.steps), self.now, actor, kind, **fields))  # type: ignore[arg-type]


def execute(policy: Policy, timeline: Timeline) -> Trace:
    """Run `timeline` against a fresh engine under `policy`; the trace of every step.

    Deterministic: the same policy and timeline always give the same trace (access-token lifetimes drawn
    from a distribution use the timeline's `access_seed`).
    """
    return _Run(policy, timeline).run()
