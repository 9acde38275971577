"""User behaviour in SimPy: each device of each user is a process that calls the policy engine.

One user is simulated at a time, in an environment and an engine of its own: users never interact
(every policy rule is per user), so a user's results do not depend on which other users share a worker.

A device's life:
- Sessions start as a Poisson process in the persona's active time, skipping absences; each lasts a draw
  of `session_duration`. At a session start the device needs an access token: it logs in if it holds no
  refresh token (first login, after a logout, a new device, a fresh login), else refreshes when the last
  access token has expired. During the session it refreshes at each access-token expiry.
- A refresh *episode* sends one request per tab (one with `refresh_lock`), spread over `race_window`
  after the trigger, all presenting the token the device held at the trigger. Each response may be lost
  (the server handled it; the client retries after `retry_after` with the token it still holds). A
  successful response is stored (unless `persist_failure`: then the next session starts from the token
  stored before); a failed one makes the device log in again, once per episode: a **forced
  re-authentication** with the engine's reason as its cause, `mid_session` when the episode was
  triggered by an expiry during a session rather than by the session start.
- Lifecycle: a replaced device abandons its token (the server keeps the chain until it ends) and the new
  device logs in; a logout at session end revokes the chain; a password change revokes every chain of
  the user.
- Thefts (a persona's `threats`): an attacker process per theft copies a device's tokens and refreshes
  like any client (sim/threats.py). When a chain is revoked (logout, password change, eviction, family
  revocation), every access token issued from it that a device or an attacker still holds outlives the
  revocation: its remaining lifetime is recorded (the revocation lag).
Races are modelled with explicit request times, never through SimPy's order of same-instant events.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import math
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import simpy

from sim.core.durations import DAY
from sim.core.reasons import DETECTING, EVICTED, FAMILY_REVOKED, LOGOUT, REVOKED
from sim.model import streams
from sim.model.recording import AUTHORIZATION, REFRESH_FAILED, REFRESH_OK, SESSION, Recorder
from sim.model.schedule import Absences, make_schedule
from sim.model.threats import Attacker, Theft, plan_thefts, settle
from sim.policy.engine import ChainInfo, RefreshResult, SeriesResult, TokenEngine

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sim.model.replay import RecordedUser
    from sim.policy.model import Policy
    from sim.scenario import Persona

YEAR = 365 * DAY

# Why a chain was started (column `started_by` of the chains table).
FIRST_LOGIN = "first_login"
FRESH_LOGIN = "fresh_login"
LOGIN_AFTER_LOGOUT = "login_after_logout"
NEW_DEVICE = "new_device"
FORCED = "forced_reauth"
#: Chain ends that revoke tokens someone may still hold an access token of (expiries are not revocations).
REVOCATIONS = (LOGOUT, REVOKED, EVICTED, FAMILY_REVOKED)
#: Session draws are made this many at a time (a numpy call per draw costs far more than the draw).
DRAW_BLOCK = 64


def blocks(draw: Callable[[int], np.ndarray]) -> Iterator[float]:
    """Endless draws, `DRAW_BLOCK` at a time: `next()` gives the next value of `draw(DRAW_BLOCK)` arrays."""
    return itertools.chain.from_iterable(iter(lambda: draw(DRAW_BLOCK).tolist(), None))


@dataclass
class _Device:
    index: int
    sessions: np.random.Generator
    faults: np.random.Generator
    lifecycle: np.random.Generator
    token: int | None = None  # in memory
    stored: int | None = None  # persisted: what the next session starts from
    access_expires_at: float = -math.inf
    login_kind: str = FIRST_LOGIN
    next_replacement: float = math.inf
    session_end: float = -math.inf  # the end of the latest session started (read by when_idle attackers)
    clock: float = 0.0  # the device's own time: may run ahead of env.now (see UserSimulation._wait)
    # Faults as countdowns: requests until the next lost response, successful refreshes until the next
    # token that is not persisted. Geometric gaps between Bernoulli(p) events are the same process as
    # a draw per request, and let a run of refreshes be simulated in one step.
    lost_in: float = math.inf
    unsaved_in: float = math.inf
    #: A replayed device's recorded sessions, (start, end) rows (None: sessions are drawn).
    recorded: np.ndarray | None = None


class UserSimulation:
    """Simulate one user of a persona over the horizon, recording into `recorder`."""

    def __init__(
        self,
        policy: Policy,
        persona: Persona,
        horizon: float,
        seed: int,
        replication: int,
        user: int,
        recorder: Recorder,
        run_ahead: bool = True,
        recorded: RecordedUser | None = None,
    ):
        self.persona = persona
        self.run_ahead = run_ahead
        self.horizon = horizon
        self.recorder = recorder
        self.env = simpy.Environment()
        self._started_by: dict[int, tuple[int, str]] = {}

        def rng(device: int, purpose: int) -> np.random.Generator:
            return streams.stream(seed, replication, persona.name, user, device, purpose)

        access_rng = None if policy.fixed_access_token_lifetime is not None else rng(-1, streams.ACCESS)
        self.engine = TokenEngine(policy, on_chain_end=self._chain_ended, retain_ended=False, rng=access_rng)
        self.schedule = make_schedule(persona.activity.schedule)
        self.session_gap_mean = self.schedule.active_per_day / persona.activity.sessions_per_day

        user_rng = rng(-1, streams.USER)
        if persona.activity.trace is None:
            n_devices = max(1, int(persona.devices.sample(user_rng)))
            absences = persona.absences
            self.absences = Absences.draw(user_rng, absences.per_year, absences.duration, horizon)
        else:  # the trace gives the devices and their sessions (absences included)
            if recorded is None:
                message = f"persona {persona.name!r} replays a trace: give each user's recorded sessions"
                raise ValueError(message)
            n_devices = max(1, len(recorded.devices))  # a user without sessions still has a device
            self.absences = Absences([])
        self.password_rng = user_rng
        self.devices = [
            _Device(i, rng(i, streams.SESSIONS), rng(i, streams.FAULTS), rng(i, streams.LIFECYCLE))
            for i in range(n_devices)
        ]
        if recorded is not None:
            for device in self.devices:  # a user without sessions has one device that never starts one
                has = device.index < len(recorded.devices)
                device.recorded = recorded.devices[device.index] if has else np.empty((0, 2))
        #: The opt-in session log (sim/model/recording.py): each session's start and end as a row.
        self._session_log = recorder.sessions is not None
        self.thefts: list[Theft] = plan_thefts(
            persona.threats, lambda device: rng(device, streams.THEFT), n_devices, horizon
        )
        self._probing = False
        #: The event log is on (sim/model/recording.py): every token event is also kept as a row.
        self._events = recorder.events is not None
        recorder.begin_user(replication, persona.name, user, n_devices)

    def run(self) -> None:
        """Run to the horizon, then record the chains still valid (censored)."""
        for device in self.devices:
            self.env.process(self._device(device))
        if self.persona.lifecycle.password_changes_per_year > 0:
            self.env.process(self._password_changes())
        strategy = self.persona.threats.strategy if self.persona.threats is not None else "immediate"
        for theft in self.thefts:
            self.env.process(Attacker(self, theft, strategy).run())
        self.env.run(until=self.horizon)
        self.engine.advance(self.horizon)
        settle(self, self.thefts)
        for info in self.engine.iter_active():
            self._record_chain(info)
        for theft in self.thefts:
            self.recorder.theft(**theft.row(self.horizon))

    def probe(self, token: int, at: float) -> RefreshResult:
        """What refreshing `token` at `at` would answer, on a copy of the engine (nothing is recorded)."""
        engine = copy.deepcopy(self.engine, {id(self): self})  # the copy's callbacks come back here
        self._probing = True
        try:
            return engine.refresh(token, at)
        finally:
            self._probing = False

    # ------------------------------------------------------------------ processes

    def _password_changes(self) -> Generator[simpy.Event, None, None]:
        rate = self.persona.lifecycle.password_changes_per_year / YEAR
        rng = self.password_rng
        while True:
            yield self.env.timeout(rng.exponential(1 / rate))
            self.engine.revoke_user("u", self.env.now)

    def _run_ahead_to(self, device: _Device, t: float) -> bool:
        """Move the device's clock to `t` without SimPy when nothing else can happen first.

        Every user has an environment of its own, so `env.peek()` is the time of the next thing any
        other process of this user (another device, a password change) will do. When `t` comes
        strictly before it, nothing can happen in between, so the device runs ahead without an event:
        the engine sees the same calls at the same times as when stepping every refresh (proved by
        tests/model/test_run_ahead.py). False when the caller must wait through SimPy (`_wait`).
        """
        if t <= device.clock:
            return t < self.horizon
        if self.run_ahead and t < self.horizon and t < self.env.peek():
            device.clock = t
            return True
        return False

    def _wait(self, device: _Device, t: float) -> Generator[simpy.Event, None, None]:
        """Wait through SimPy until `t` (at or after the horizon: forever, since the run stops there)."""
        env = self.env
        yield env.timeout(t - env.now)
        device.clock = t

    def _device(self, device: _Device) -> Generator[simpy.Event, None, None]:
        persona = self.persona
        activity = persona.activity
        lifecycle = persona.lifecycle
        rng = device.sessions
        # Each session variable has its own block of draws from the device's session stream, so the
        # draws do not depend on the policy (common random numbers) and cost little each.
        gaps = blocks(lambda n: rng.exponential(self.session_gap_mean, n))
        durations = blocks(lambda n: activity.session_duration.sample_many(rng, n))
        tabs_drawn = blocks(lambda n: persona.clients.tabs.sample_many(rng, n))
        fresh_draws = blocks(rng.random)  # drawn even at probability 0: sweeps over it keep CRN
        fresh_chance = activity.fresh_login
        refresh_lock = persona.clients.refresh_lock
        record = self.recorder.request
        horizon = self.horizon
        env = self.env
        logout_chance = lifecycle.logout_at_session_end
        replacement_rate = lifecycle.device_replaced_per_year / YEAR
        if replacement_rate > 0:
            device.next_replacement = device.lifecycle.exponential(1 / replacement_rate)
        device.lost_in = self._geometric(device.faults, persona.faults.lost_refresh_response)
        device.unsaved_in = self._geometric(device.faults, persona.faults.persist_failure)
        ready_at = 0.0  # when the previous session ended
        # a replayed device takes its sessions from the trace; the other draws stay as they are
        recorded = None if device.recorded is None else device.recorded.tolist()
        replayed = 0
        session_log = self._session_log
        while True:
            if recorded is None:
                start = self._next_session_start(gaps, ready_at)
                if start > horizon:
                    return
                duration = next(durations)
            else:
                if replayed == len(recorded):
                    return
                start, recorded_end = recorded[replayed]
                replayed += 1
                if start > horizon:
                    return
                duration = recorded_end - start
            tabs = max(1, int(next(tabs_drawn)))
            fresh = next(fresh_draws) < fresh_chance
            if not self._run_ahead_to(device, start):
                yield env.timeout(start - env.now)  # as `_wait`, inline on this busiest path
                device.clock = start
            start = device.clock  # later than drawn if the device was still busy (a retry after the end)
            record(start, SESSION)
            if self._events:
                self.recorder.event(device.index, -1, start, "session", "ok")
            while device.next_replacement <= start:
                device.token = device.stored = None
                device.login_kind = NEW_DEVICE
                device.next_replacement += device.lifecycle.exponential(1 / replacement_rate)
            end = start + duration
            device.session_end = end
            if session_log:
                self.recorder.session(device.index, start, end)
            racing = 1 if refresh_lock else tabs
            opened = self._open_session(device, end, racing, fresh)
            if not opened or (device.token is not None and device.access_expires_at < end):
                yield from self._session(device, end, racing, opened)
            if logout_chance > 0 and device.lifecycle.random() < logout_chance and device.token is not None:
                if not self._run_ahead_to(device, end):
                    yield from self._wait(device, end)
                if self._events:
                    chain = self.engine.chain_of(device.token)
                    self.recorder.event(device.index, chain, device.clock, "logout", "ok")
                self.engine.logout(device.token, device.clock)
                device.token = device.stored = None
                device.login_kind = LOGIN_AFTER_LOGOUT
            ready_at = end

    def _next_session_start(self, gaps: Iterator[float], after: float) -> float:
        """The next session start after `after`: an active-time gap later, skipping absences."""
        t = self.schedule.advance(after, next(gaps))
        if not self.absences.intervals:
            return t
        while True:
            absence = self.absences.containing(t)
            if absence is None:
                return t
            t = absence[1]
            if t > self.horizon:
                return t
            t = self.schedule.advance(t, next(gaps))

    def _open_session(self, device: _Device, end: float, racing: int, fresh: bool) -> bool:
        """Start a session without SimPy: take the persisted token, then log in or make the refresh due.

        The refresh due at the start comes with the session's later ones when nothing else can happen
        first (`_refresh_series`). False when it must go through the general path (a lost response
        is due, or the model runs without run-ahead): `_session` then makes it.
        """
        device.token = device.stored  # a new session starts from what was persisted
        if fresh and device.token is not None:
            device.token = device.stored = None  # the old chain is abandoned on the server
            device.login_kind = FRESH_LOGIN
        if device.token is None:
            self._login(device, device.login_kind)
        elif device.access_expires_at < device.clock:  # the access token has expired: refresh first
            if not self.run_ahead or device.lost_in <= 1:
                return False
            # with racing tabs, the refreshes after the first go through the general path
            before = min(end, self.horizon, self.env.peek()) if racing == 1 else device.clock
            self._refresh_series(device, device.clock, before, False)
        return True

    def _session(
        self, device: _Device, end: float, racing: int, opened: bool
    ) -> Generator[simpy.Event, None, None]:
        """The rest of a session after `_open_session` (`opened` False: its first refresh is still due)."""
        if not opened:
            yield from self._refresh_episode(device, requests=1, mid_session=False)
        while device.token is not None and device.access_expires_at < end:
            t = device.access_expires_at
            if racing == 1 and self.run_ahead:
                # The refreshes before anything else happens, and before the next lost response,
                # in one step (the engine's refresh_series is exact).
                before = min(end, self.horizon, self.env.peek())
                if t < before and device.lost_in > 1:
                    self._refresh_series(device, t, before, True)
                    continue
            if not self._run_ahead_to(device, t):
                yield from self._wait(device, t)
            yield from self._refresh_episode(device, requests=racing, mid_session=True)

    def _refresh_series(self, device: _Device, first: float, before: float, mid_session: bool) -> None:
        """A single client's refreshes from `first` (always made) while before `before`, in one step.

        Only the first request can be at the session start (`mid_session` False); the others are at
        access-token expiries during the session.
        """
        limit = device.lost_in - 1  # the next lost response goes through the general path
        presented = device.token
        assert presented is not None  # a series starts only from a token the device holds
        series = self.engine.refresh_series(presented, first, before, int(min(limit, 1 << 30)))
        times, tokens = series.times, series.tokens
        if self._events:
            self._series_events(device, presented, series)
        device.lost_in -= len(times)
        device.clock = times[-1]
        if tokens:
            # a retry within the reuse interval (only ever the first request) rotates nothing
            self.recorder.refreshes(times if series.failure is None else times[:-1], not series.grace)
            device.token = tokens[-1]
            assert series.access_expires_at is not None  # a successful refresh issued an access token
            device.access_expires_at = series.access_expires_at
            if device.unsaved_in > len(tokens):  # every new token is persisted
                device.unsaved_in -= len(tokens)
                device.stored = tokens[-1]
            else:
                self._persist(device, tokens)
        if series.failure is not None:
            self.recorder.request(device.clock, REFRESH_FAILED)
            mid = mid_session or len(times) > 1
            assert series.failure.reason is not None  # a failed refresh always says why
            self._reauth(device, device.clock, series.failure.reason, mid, series.failure.chain)
            self._login(device, FORCED)

    def _series_events(self, device: _Device, presented: int, series: SeriesResult) -> None:
        """The event rows of a run of refreshes made in one step (`_refresh_series`)."""
        times = series.times
        ok = times if series.failure is None else times[:-1]
        chain = self.engine.chain_of(presented)
        if ok and series.grace:
            self.recorder.event(device.index, chain, ok[0], "refresh", "grace")
            ok = ok[1:]
        if ok:
            self.recorder.events_of(device.index, chain, ok, "refresh", "ok")
        if series.failure is not None:
            failed_chain = series.failure.chain if series.failure.chain is not None else chain
            reason = series.failure.reason
            self.recorder.event(device.index, failed_chain, times[-1], "refresh", "failed", reason)

    def _persist(self, device: _Device, tokens: list[int]) -> None:
        """Store each new token in turn, except those the countdown says are never persisted."""
        stored_index = -1
        index = 0
        while index < len(tokens):
            gap = device.unsaved_in
            if index + gap > len(tokens):  # no failure among the remaining tokens
                device.unsaved_in -= len(tokens) - index
                stored_index = len(tokens) - 1
                break
            failed = index + int(gap) - 1  # this token is never persisted
            if failed > index:
                stored_index = failed - 1
            index = failed + 1
            device.unsaved_in = self._geometric(device.faults, self.persona.faults.persist_failure)
        if stored_index >= 0:
            device.stored = tokens[stored_index]

    @staticmethod
    def _geometric(rng: np.random.Generator, p: float) -> float:
        """Trials until the first success of Bernoulli(p) trials (inf when p is 0)."""
        return float(rng.geometric(p)) if p > 0 else math.inf

    def _refresh_episode(
        self, device: _Device, requests: int, mid_session: bool
    ) -> Generator[simpy.Event, None, None]:
        faults = self.persona.faults
        rng = device.faults
        presented = device.token
        assert presented is not None
        trigger = device.clock
        if requests == 1:
            pending = [(trigger, 0, presented)]
        else:
            race_window = self.persona.clients.race_window
            offsets = sorted(race_window.sample(rng) for _ in range(requests))
            pending = [(trigger + offset, i, presented) for i, offset in enumerate(offsets)]
        relogged = False
        while pending:
            at, i, token = heapq.heappop(pending)
            if not self._run_ahead_to(device, at):
                yield from self._wait(device, at)
            now = device.clock
            result = self.engine.refresh(token, now)
            self.recorder.request(now, REFRESH_OK if result.ok else REFRESH_FAILED)
            if self._events:
                outcome = ("grace" if result.grace else "ok") if result.ok else "failed"
                chain = result.chain if result.chain is not None else self.engine.chain_of(token)
                self.recorder.event(device.index, chain, now, "refresh", outcome, result.reason)
            if result.ok and not result.grace:
                self.recorder.rotations([now])
            device.lost_in -= 1
            if device.lost_in <= 0:  # the server answered, the client never got it: retry later
                device.lost_in = self._geometric(rng, faults.lost_refresh_response)
                heapq.heappush(pending, (now + faults.retry_after.sample(rng), i, token))
                continue
            if relogged:
                continue  # the device already logged in again during this episode
            if result.ok:
                assert result.refresh_token is not None and result.access_expires_at is not None
                device.token = result.refresh_token
                device.access_expires_at = result.access_expires_at
                self._persist(device, [result.refresh_token])
            else:
                assert result.reason is not None  # a failed refresh always says why
                self._reauth(device, now, result.reason, mid_session, result.chain)
                self._login(device, FORCED)
                relogged = True

    def _reauth(self, device: _Device, at: float, cause: str, mid_session: bool, chain: int | None) -> None:
        """Record a forced re-authentication; a replay failure on a chain an attacker used is its friction."""
        self.recorder.reauth(device.index, at, cause, mid_session)
        if cause in DETECTING:
            for theft in self.thefts:
                if chain in theft.chains and theft.first_use_at is not None and at >= theft.first_use_at:
                    theft.victim_reauths += 1

    def _login(self, device: _Device, kind: str) -> None:
        now = device.clock
        grant = self.engine.authorize("u", now, device=str(device.index))
        self.recorder.request(now, AUTHORIZATION)
        if self._events:
            rejected = grant.refresh_token is None
            chain = -1 if rejected or grant.chain is None else grant.chain
            self.recorder.event(device.index, chain, now, "login",
                                "rejected" if rejected else "ok", grant.reason if rejected else None)
        if grant.refresh_token is None:
            self.recorder.rejected_login(now)
            device.token = device.stored = None
            device.access_expires_at = -math.inf
            return
        assert grant.chain is not None and grant.access_expires_at is not None  # not rejected: a new chain
        self._started_by[grant.chain] = (device.index, kind)
        device.token = device.stored = grant.refresh_token
        device.access_expires_at = grant.access_expires_at
        device.login_kind = FIRST_LOGIN

    # ------------------------------------------------------------------ recording

    def _chain_ended(self, info: ChainInfo) -> None:
        if self._probing:  # a dry run on a copy of the engine (see `probe`): nothing happened
            return
        self._record_chain(info)
        if info.end_reason in REVOCATIONS:
            self._revoked(info)

    def _revoked(self, info: ChainInfo) -> None:
        """Record the access tokens that outlive a revoked chain; note a family revocation for attackers."""
        at = info.ended_at
        assert at is not None
        chain_of = self.engine.chain_of
        for device in self.devices:
            holds = device.token is not None and chain_of(device.token) == info.chain
            if holds and device.access_expires_at > at:
                self.recorder.revocation_lag(at, device.access_expires_at - at)
        for theft in self.thefts:
            if theft.access_chain == info.chain and theft.access_expires_at > at:
                self.recorder.revocation_lag(at, theft.access_expires_at - at)
            if (
                info.end_reason == FAMILY_REVOKED
                and not theft.ended
                and theft.token is not None
                and chain_of(theft.token) == info.chain
            ):
                theft.family_revoked_at = at

    def _record_chain(self, info: ChainInfo) -> None:
        device, kind = self._started_by.pop(info.chain)
        self.recorder.chain(
            device=device,
            chain=info.chain,
            authorized_at=info.authorized_at,
            ended_at=info.ended_at,
            end_reason=info.end_reason,
            refreshes=info.refreshes,
            last_used_at=info.last_used_at,
            started_by=kind,
        )


def simulate_users(
    policy: Policy,
    persona: Persona,
    horizon: float,
    seed: int,
    replication: int,
    users: range,
    recorder: Recorder,
    run_ahead: bool = True,
    recorded: Sequence[RecordedUser] | None = None,
) -> None:
    """Simulate a range of a persona's users (one shard), recording into `recorder`.

    `run_ahead=False` steps every refresh through SimPy (slower, same results: kept for the proof).
    `recorded`: for a persona that replays a trace, each user's recorded sessions (sim/model/replay.py).
    """
    trace = persona.activity.trace
    for index, user in enumerate(users):
        replay = None
        if recorded is not None and trace is not None:
            replay = recorded[index].within(horizon, trace.repeat)
        UserSimulation(policy, persona, horizon, seed, replication, user, recorder, run_ahead, replay).run()
