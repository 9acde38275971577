"""Stolen refresh tokens: when thefts happen, what the attacker does, and the theft figures.

A theft copies one device's refresh token and access token at a random time. The attacker is then a
SimPy process in the victim user's environment (`Attacker.run`): it presents its token to the engine
like any client (it never logs in), so rotation, the reuse interval, family revocation, idle and
absolute expiry, password changes and caps act on it exactly as on the user's own devices, and the
attacker and the legitimate client race for the chain like any two clients.

Rules (the contract documented in docs/scenario.md):

- **When.** `thefts_per_year`: a Poisson process per user; each theft picks one of the user's devices
  uniformly. `stolen_device_share`: each device is stolen from once with that probability, at a uniform
  time in [0, horizon). Draws come from the THEFT streams (per device for the share, per user for the
  rate), so thefts never shift any other random number.
- **What is copied.** The refresh token the device holds at that moment (in memory) and its access token.
  A device that holds no refresh token then (not logged in yet, logged out, refused at the cap) gives the
  attacker nothing: the theft is recorded with end reason `no_token` and left out of the figures.
- **Strategies.** `immediate`: a refresh at the theft, then at every expiry of the attacker's own access
  token. `daily`: a refresh at the theft and every 24 hours after it. `when_idle`: as `immediate`, but a
  refresh that would fall while the stolen device is in a session (from a session's start to its end)
  waits until one minute (`IDLE_MARGIN`) after that session ends, and is checked again then.
- **End.** The theft ends when an attacker's refresh fails (its reason is the end reason). Thefts still
  going at the horizon are settled exactly: a dry run of the attacker's next refresh at the horizon, on a
  copy of the engine (`UserSimulation.probe`). If it would succeed the attacker still holds a working
  refresh token and the theft is **censored** (still active: no end, no end reason); otherwise it ended,
  with the reason the dry run gives.
- **Dwell.** From the theft to the moment the attacker last holds a working access token:
  `max(expiry of the stolen access token, expiry of the access token of its last successful refresh)`,
  never less than the theft time. `ended_at_s` is that moment. A censored theft's dwell is the time from
  the theft to the horizon (a lower bound).
- **Detection.** A theft is detected when it ends through reuse detection: the attacker's request fails
  with `consumed` or `family_revoked` (the latter also when the victim's replay revoked the family after
  the attacker rotated). `detected_at_s`: the family revocation, or the attacker's failed request.
  When the horizon's dry run says `consumed`, the victim has rotated past the attacker's token and its
  next use would be refused as a replay: detected, with no `detected_at_s` (it falls after the horizon).
- **Victim friction.** The victim's forced re-authentications with cause `consumed` or `family_revoked`
  on a chain the attacker presented a token of, at or after its first request (reauths for other causes,
  an expiry or a password change, would have happened without the theft).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from sim.core.durations import DAY
from sim.core.reasons import CONSUMED, DETECTING, FAMILY_REVOKED, NO_TOKEN
from sim.model.recording import REFRESH_FAILED, REFRESH_OK, Recorder
from sim.policy.engine import RefreshResult, TokenEngine

if TYPE_CHECKING:
    import simpy

    from sim.scenario.threats import Threats

YEAR = 365 * DAY
#: How long after the victim's session ends a `when_idle` attacker acts.
IDLE_MARGIN = 60.0
__all__ = ["DETECTING", "Attacker", "Theft", "Victim", "plan_thefts", "settle"]


class VictimDevice(Protocol):
    """What an attacker sees of the device it steals from."""

    @property
    def token(self) -> int | None: ...
    @property
    def access_expires_at(self) -> float: ...
    @property
    def session_end(self) -> float: ...


class Victim(Protocol):
    """What an attacker reads of its victim's simulation (`sim.model.behaviour.UserSimulation`)."""

    run_ahead: bool
    env: simpy.Environment
    engine: TokenEngine
    recorder: Recorder
    horizon: float

    @property
    def devices(self) -> Sequence[VictimDevice]: ...

    def probe(self, token: int, at: float) -> RefreshResult:
        """What refreshing `token` at `at` would answer, without changing anything."""
        ...


@dataclass
class Theft:
    """One theft and what became of it (a row of the thefts table)."""

    device: int
    stolen_at: float
    #: The refresh token the attacker holds (None: nothing was stolen).
    token: int | None = None
    #: The chain of the attacker's access token, and that token's expiry.
    access_chain: int | None = None
    access_expires_at: float = -math.inf
    first_use_at: float | None = None
    #: The last moment the attacker held a working access token.
    held_until: float = 0.0
    ended: bool = False
    end_reason: str | None = None
    detected: bool = False
    detected_at: float | None = None
    #: When the chain of the attacker's refresh token was revoked as a family (reuse detection).
    family_revoked_at: float | None = None
    refreshes: int = 0
    victim_reauths: int = 0
    #: Chains the attacker presented a token of.
    chains: set[int] = field(default_factory=set)

    def finish(self, reason: str, detected_at: float | None) -> None:
        """End the theft with `reason` (detected when the reason is a replay)."""
        self.ended = True
        self.end_reason = reason
        self.detected = reason in DETECTING
        self.detected_at = detected_at if self.detected else None

    def row(self, horizon: float) -> dict[str, object]:
        """The theft's row in the thefts table (without replication, persona and user)."""
        held = max(self.held_until, self.stolen_at)
        return {
            "device": self.device,
            "stolen_at_s": self.stolen_at,
            "first_use_at_s": self.first_use_at,
            "ended_at_s": held if self.ended else None,
            "end_reason": self.end_reason,
            "detected": self.detected,
            "detected_at_s": self.detected_at,
            "dwell_s": (held if self.ended else horizon) - self.stolen_at,
            "attacker_refreshes": self.refreshes,
            "victim_reauths": self.victim_reauths,
        }


def plan_thefts(
    threats: Threats | None,
    rng_for: Callable[[int], np.random.Generator],
    devices: int,
    horizon: float,
) -> list[Theft]:
    """The user's thefts in time order; `rng_for(device)` gives the THEFT stream (-1: the user's)."""
    if threats is None or not threats.active:
        return []
    thefts: list[Theft] = []
    if threats.stolen_device_share > 0:
        for device in range(devices):
            rng = rng_for(device)
            stolen = rng.random() < threats.stolen_device_share
            at = rng.uniform(0.0, horizon)
            if stolen:
                thefts.append(Theft(device, float(at)))
    if threats.thefts_per_year > 0:
        rng = rng_for(-1)
        gap = YEAR / threats.thefts_per_year
        at = rng.exponential(gap)
        while at < horizon:
            thefts.append(Theft(int(rng.integers(devices)), float(at)))
            at += rng.exponential(gap)
    thefts.sort(key=lambda theft: (theft.stolen_at, theft.device))
    return thefts


class Attacker:
    """The process that uses one stolen token (see the module's rules)."""

    def __init__(self, sim: Victim, theft: Theft, strategy: str):
        self.sim = sim
        self.theft = theft
        self.strategy = strategy
        self.clock = 0.0  # the attacker's own time: may run ahead of env.now, like a device's

    def _goto(self, t: float) -> Generator[simpy.Event, None, None]:
        """Move to `t`: without SimPy when nothing else of the user happens first (as devices do)."""
        sim = self.sim
        if t > self.clock:
            if not (sim.run_ahead and t < sim.env.peek()):
                yield sim.env.timeout(t - sim.env.now)
            self.clock = t

    def run(self) -> Generator[simpy.Event, None, None]:
        """The attacker's life: steal, then refresh by its strategy until a refresh fails."""
        sim, theft = self.sim, self.theft
        engine, recorder, horizon = sim.engine, sim.recorder, sim.horizon
        yield sim.env.timeout(theft.stolen_at)
        self.clock = theft.stolen_at
        device = sim.devices[theft.device]
        if device.token is None:
            theft.held_until = theft.stolen_at
            theft.finish(NO_TOKEN, None)
            return
        theft.token = device.token
        theft.access_chain = engine.chain_of(device.token)
        theft.access_expires_at = device.access_expires_at
        theft.held_until = max(theft.stolen_at, device.access_expires_at)
        t = theft.stolen_at
        uses = 0
        while True:
            while True:  # move to the next use; `when_idle` waits while the device is in a session
                if t >= horizon:
                    return
                yield from self._goto(t)
                if self.strategy != "when_idle" or t >= device.session_end:
                    break
                t = device.session_end + IDLE_MARGIN
            assert theft.token is not None  # the theft holds a token until it ends
            result = engine.refresh(theft.token, t)
            recorder.request(t, REFRESH_OK if result.ok else REFRESH_FAILED)
            if recorder.events is not None:
                outcome = ("grace" if result.grace else "ok") if result.ok else "failed"
                chain = result.chain if result.chain is not None else engine.chain_of(theft.token)
                recorder.event(theft.device, chain, t, "attacker_refresh", outcome, result.reason)
            uses += 1
            if theft.first_use_at is None:
                theft.first_use_at = t
            if result.chain is not None:
                theft.chains.add(result.chain)
            if not result.ok:
                reason = result.reason or CONSUMED
                detected_at = theft.family_revoked_at if reason == FAMILY_REVOKED else t
                theft.finish(reason, detected_at if detected_at is not None else t)
                return
            if not result.grace:
                recorder.rotations([t])
            theft.refreshes += 1
            assert result.access_expires_at is not None  # a successful refresh issued an access token
            theft.token = result.refresh_token
            theft.access_chain = result.chain
            theft.access_expires_at = result.access_expires_at
            theft.held_until = max(theft.held_until, result.access_expires_at)
            t = theft.stolen_at + uses * DAY if self.strategy == "daily" else result.access_expires_at


def settle(sim: Victim, thefts: list[Theft]) -> None:
    """At the horizon: end the thefts whose token no longer works (a dry run); the others are censored."""
    for theft in thefts:
        if theft.ended or theft.token is None:
            continue
        result = sim.probe(theft.token, sim.horizon)
        if not result.ok:
            reason = result.reason or CONSUMED
            theft.finish(reason, theft.family_revoked_at if reason == FAMILY_REVOKED else None)
