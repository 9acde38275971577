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
Races are modelled with explicit request times, never through SimPy's order of same-instant events.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import simpy

from sim import streams
from sim.durations import DAY
from sim.engine import ChainInfo, TokenEngine
from sim.recording import AUTHORIZATION, REFRESH_FAILED, REFRESH_OK, Recorder
from sim.schedule import Absences, WeeklySchedule

if TYPE_CHECKING:
    import numpy as np

    from sim.policy import Policy
    from sim.scenario import Persona

YEAR = 365 * DAY

# Why a chain was started (column `started_by` of the chains table).
FIRST_LOGIN = "first_login"
FRESH_LOGIN = "fresh_login"
LOGIN_AFTER_LOGOUT = "login_after_logout"
NEW_DEVICE = "new_device"
FORCED = "forced_reauth"


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
    ):
        self.persona = persona
        self.horizon = horizon
        self.recorder = recorder
        self.env = simpy.Environment()
        self._started_by: dict[int, tuple[int, str]] = {}

        def rng(device: int, purpose: int) -> np.random.Generator:
            return streams.stream(seed, replication, persona.name, user, device, purpose)

        access_rng = None if policy.fixed_access_token_lifetime is not None else rng(-1, streams.ACCESS)
        self.engine = TokenEngine(policy, on_chain_end=self._chain_ended, retain_ended=False, rng=access_rng)
        self.schedule = WeeklySchedule(persona.activity.schedule)
        self.session_rate = persona.activity.sessions_per_day / self.schedule.active_per_day

        user_rng = rng(-1, streams.USER)
        n_devices = max(1, int(persona.devices.sample(user_rng)))
        self.absences = Absences.draw(user_rng, persona.absences.per_year, persona.absences.duration, horizon)
        self.password_rng = user_rng
        self.devices = [
            _Device(i, rng(i, streams.SESSIONS), rng(i, streams.FAULTS), rng(i, streams.LIFECYCLE))
            for i in range(n_devices)
        ]
        recorder.begin_user(replication, persona.name, user, n_devices)

    def run(self) -> None:
        """Run to the horizon, then record the chains still valid (censored)."""
        for device in self.devices:
            self.env.process(self._device(device))
        if self.persona.lifecycle.password_changes_per_year > 0:
            self.env.process(self._password_changes())
        self.env.run(until=self.horizon)
        self.engine.advance(self.horizon)
        for info in self.engine.iter_active():
            self._record_chain(info)

    # ------------------------------------------------------------------ processes

    def _password_changes(self) -> Generator[simpy.Event, None, None]:
        rate = self.persona.lifecycle.password_changes_per_year / YEAR
        rng = self.password_rng
        while True:
            yield self.env.timeout(rng.exponential(1 / rate))
            self.engine.revoke_user("u", self.env.now)

    def _device(self, device: _Device) -> Generator[simpy.Event, None, None]:
        env = self.env
        persona = self.persona
        activity = persona.activity
        lifecycle = persona.lifecycle
        replacement_rate = lifecycle.device_replaced_per_year / YEAR
        if replacement_rate > 0:
            device.next_replacement = device.lifecycle.exponential(1 / replacement_rate)
        ready_at = 0.0  # when the previous session ended
        while True:
            start = self._next_session_start(device.sessions, ready_at)
            if start > self.horizon:
                return
            # Session-level draws come first and in a fixed order, whatever the policy does.
            duration = activity.session_duration.sample(device.sessions)
            tabs = max(1, int(persona.clients.tabs.sample(device.sessions)))
            fresh = device.sessions.random() < activity.fresh_login
            start = max(start, env.now)
            yield env.timeout(start - env.now)
            while device.next_replacement <= start:
                device.token = device.stored = None
                device.login_kind = NEW_DEVICE
                device.next_replacement += device.lifecycle.exponential(1 / replacement_rate)
            end = start + duration
            yield from self._session(device, end, tabs, fresh)
            if device.lifecycle.random() < lifecycle.logout_at_session_end and device.token is not None:
                self.engine.logout(device.token, env.now)
                device.token = device.stored = None
                device.login_kind = LOGIN_AFTER_LOGOUT
            ready_at = end

    def _next_session_start(self, rng: np.random.Generator, after: float) -> float:
        t = after
        while True:
            t = self.schedule.advance(t, rng.exponential(1 / self.session_rate))
            absence = self.absences.containing(t)
            if absence is None:
                return t
            t = absence[1]
            if t > self.horizon:
                return t

    def _session(
        self, device: _Device, end: float, tabs: int, fresh: bool
    ) -> Generator[simpy.Event, None, None]:
        env = self.env
        device.token = device.stored  # a new session starts from what was persisted
        if fresh and device.token is not None:
            device.token = device.stored = None  # the old chain is abandoned on the server
            device.login_kind = FRESH_LOGIN
        if device.token is None:
            self._login(device, device.login_kind)
        elif device.access_expires_at < env.now:
            yield from self._refresh_episode(device, requests=1, mid_session=False)
        racing = 1 if self.persona.clients.refresh_lock else tabs
        while device.token is not None and device.access_expires_at < end:
            yield env.timeout(max(0.0, device.access_expires_at - env.now))
            yield from self._refresh_episode(device, requests=racing, mid_session=True)

    def _refresh_episode(
        self, device: _Device, requests: int, mid_session: bool
    ) -> Generator[simpy.Event, None, None]:
        env = self.env
        clients = self.persona.clients
        faults = self.persona.faults
        rng = device.faults
        presented = device.token
        assert presented is not None
        trigger = env.now
        offsets = [0.0] if requests == 1 else sorted(clients.race_window.sample(rng) for _ in range(requests))
        pending = [(trigger + offset, i, presented) for i, offset in enumerate(offsets)]
        heapq.heapify(pending)
        relogged = False
        while pending:
            at, i, token = heapq.heappop(pending)
            if at > env.now:
                yield env.timeout(at - env.now)
            result = self.engine.refresh(token, env.now)
            self.recorder.request(env.now, REFRESH_OK if result.ok else REFRESH_FAILED)
            if rng.random() < faults.lost_refresh_response:
                heapq.heappush(pending, (env.now + faults.retry_after.sample(rng), i, token))
                continue
            if relogged:
                continue  # the device already logged in again during this episode
            if result.ok:
                device.token = result.refresh_token
                device.access_expires_at = result.access_expires_at
                if rng.random() >= faults.persist_failure:
                    device.stored = result.refresh_token
            else:
                self.recorder.reauth(device.index, env.now, result.reason, mid_session)
                self._login(device, FORCED)
                relogged = True

    def _login(self, device: _Device, kind: str) -> None:
        now = self.env.now
        grant = self.engine.authorize("u", now, device=str(device.index))
        self.recorder.request(now, AUTHORIZATION)
        if grant.refresh_token is None:
            self.recorder.rejected_login(now)
            device.token = device.stored = None
            device.access_expires_at = -math.inf
            return
        self._started_by[grant.chain] = (device.index, kind)
        device.token = device.stored = grant.refresh_token
        device.access_expires_at = grant.access_expires_at
        device.login_kind = FIRST_LOGIN

    # ------------------------------------------------------------------ recording

    def _chain_ended(self, info: ChainInfo) -> None:
        self._record_chain(info)

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
) -> None:
    """Simulate a range of a persona's users (one shard), recording into `recorder`."""
    for user in users:
        UserSimulation(policy, persona, horizon, seed, replication, user, recorder).run()
