"""What happened in a simulation, recorded as plain columns (the raw material of the metrics tables).

Behaviour processes call a `Recorder`; nothing here knows about SimPy or the engine's internals. A
recorder holds one shard's rows: chains, forced re-authentications, thefts, access tokens that outlived a
revocation, and token-endpoint requests and token rotations counted per minute (kept as counts, not
events, so memory does not grow with the number of refreshes).

The event log (`Recorder(horizon, event_log=True)`, off by default) also keeps every token event as a
row (EVENT_COLUMNS): logins, refreshes (the attackers' too), logouts and session starts, with the
chain, the outcome and the failure reason, for `tokensim run --events FORMAT` (sim/ingest/export.py).
Off, it costs nothing: `events` is None and the behaviour code does not call it.

The session log (`Recorder(horizon, session_log=True)`, off by default) also keeps every session's start
and end as a row (SESSION_COLUMNS), from which sim/fit/synthetic.py writes a simulation's sessions as a
trace. Off, `sessions` is None and costs nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Event kinds: token-endpoint requests (counted per minute and hour) and session starts (per hour).
AUTHORIZATION, REFRESH_OK, REFRESH_FAILED, SESSION = 0, 1, 2, 3
#: Rows of the hourly counts; `refreshes` counts every refresh request, failed ones included.
HOURLY_KINDS = ("authorizations", "refreshes", "failures", "sessions")

CHAIN_COLUMNS = (
    "replication",
    "persona",
    "user",
    "device",
    "chain",
    "authorized_at_s",
    "ended_at_s",
    "end_reason",
    "refreshes",
    "last_used_at_s",
    "started_by",
)
REAUTH_COLUMNS = ("replication", "persona", "user", "device", "at_s", "cause", "mid_session")
#: One row per theft (see sim/threats.py for what each column means).
THEFT_COLUMNS = (
    "replication",
    "persona",
    "user",
    "device",
    "stolen_at_s",
    "first_use_at_s",
    "ended_at_s",
    "end_reason",
    "detected",
    "detected_at_s",
    "dwell_s",
    "attacker_refreshes",
    "victim_reauths",
)

#: One row per token event when the event log is on (see EVENT_KINDS and EVENT_OUTCOMES).
EVENT_COLUMNS = ("replication", "persona", "user", "device", "chain", "at_s", "kind", "outcome", "reason")
#: `kind` of an event row: a login (an authorization), a refresh request, a logout (a chain revoked by
#: the device), a session start (no request: kept so exports and tests can tell sessions), a refresh
#: request by an attacker holding a stolen token of the device.
EVENT_KINDS = ("login", "refresh", "logout", "session", "attacker_refresh")
#: `outcome`: `ok`; `grace` (a retry inside the reuse interval: succeeded, issued no new token);
#: `failed` (a refresh, `reason` says why); `rejected` (a login refused at the cap).
EVENT_OUTCOMES = ("ok", "grace", "failed", "rejected")
#: One row per session when the session log is on.
SESSION_COLUMNS = ("replication", "persona", "user", "device", "start_s", "end_s")

_FLUSH_EVERY = 200_000


@dataclass
class Recorder:
    """Rows of one shard, for one run of a scenario (any number of replications and personas)."""

    horizon: float
    chains: dict[str, list] = field(default_factory=lambda: {c: [] for c in CHAIN_COLUMNS})
    reauths: dict[str, list] = field(default_factory=lambda: {c: [] for c in REAUTH_COLUMNS})
    #: (replication, persona) -> token-endpoint requests (logins and refreshes) per minute (int32).
    minute_requests: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)
    #: (replication, persona) -> array [kind, hour] of counts, kinds as in HOURLY_KINDS.
    hourly_counts: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)
    #: (replication, persona) -> logins refused at the cap.
    rejected_logins: dict[tuple[int, str], list[float]] = field(default_factory=dict)
    thefts: dict[str, list] = field(default_factory=lambda: {c: [] for c in THEFT_COLUMNS})
    #: (replication, persona) -> successful refreshes that issued a new token (rotations), per minute.
    minute_rotations: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)
    #: (replication, persona) -> (time, seconds left) of every access token still valid when its chain
    #: was revoked (logout, password change, eviction, family revocation).
    revocation_lags: dict[tuple[int, str], list[tuple[float, float]]] = field(default_factory=dict)
    #: (replication, persona) -> number of users and devices simulated.
    users: dict[tuple[int, str], int] = field(default_factory=dict)
    devices: dict[tuple[int, str], int] = field(default_factory=dict)
    #: Keep every token event (EVENT_COLUMNS) in `events`; off, `events` is None.
    event_log: bool = False
    events: dict[str, list] | None = None

    #: Keep every session's start and end (SESSION_COLUMNS) in `sessions`; off, `sessions` is None.
    session_log: bool = False
    sessions: dict[str, list] | None = None

    def __post_init__(self) -> None:
        if self.event_log and self.events is None:
            self.events = {c: [] for c in EVENT_COLUMNS}
        if self.session_log and self.sessions is None:
            self.sessions = {c: [] for c in SESSION_COLUMNS}
        self._minutes = math.ceil(self.horizon / 60.0) + 1
        self._hours = math.ceil(self.horizon / 3600.0) + 1
        # times not yet counted, one list per event kind (AUTHORIZATION ... SESSION)
        self._pending: tuple[list[float], ...] = tuple([] for _ in HOURLY_KINDS)
        self._rotations: list[float] = []
        self._key: tuple[int, str] = (0, "")
        self._user = 0

    # -- context ------------------------------------------------------------

    def begin_user(self, replication: int, persona: str, user: int, devices: int) -> None:
        """Start recording for one user (flushes the previous persona's request buffer if it changes)."""
        key = (replication, persona)
        if key != self._key:
            self._flush()
            self._key = key
        self._user = user
        self.users[key] = self.users.get(key, 0) + 1
        self.devices[key] = self.devices.get(key, 0) + devices

    # -- events -------------------------------------------------------------

    def request(self, t: float, kind: int) -> None:
        """One token-endpoint request (or, with kind SESSION, a session start) at time t."""
        pending = self._pending[kind]
        pending.append(t)
        if len(pending) >= _FLUSH_EVERY:  # counts, not times, are kept: memory stays bounded
            self._flush()

    def refreshes(self, times: list[float], first_rotated: bool = True) -> None:
        """Successful refreshes; each rotated the token but a first that was a retry in the reuse interval."""
        pending = self._pending[REFRESH_OK]
        pending.extend(times)
        self._rotations.extend(times if first_rotated else times[1:])
        if len(pending) >= _FLUSH_EVERY:
            self._flush()

    def rotations(self, times: list[float]) -> None:
        """Successful refreshes that issued a new refresh token (not retries within the reuse interval)."""
        self._rotations.extend(times)

    def revocation_lag(self, at: float, remaining: float) -> None:
        """An access token still valid for `remaining` seconds when its chain was revoked at `at`."""
        self.revocation_lags.setdefault(self._key, []).append((at, remaining))

    def theft(self, **row: object) -> None:
        """One theft, at the end of the user's simulation (keys: THEFT_COLUMNS after `user`)."""
        replication, persona = self._key
        columns = self.thefts
        columns["replication"].append(replication)
        columns["persona"].append(persona)
        columns["user"].append(self._user)
        for name in THEFT_COLUMNS[3:]:
            columns[name].append(row[name])

    def chain(
        self,
        device: int,
        chain: int,
        authorized_at: float,
        ended_at: float | None,
        end_reason: str | None,
        refreshes: int,
        last_used_at: float,
        started_by: str,
    ) -> None:
        """One chain, when it ends or (censored, ended_at None) at the horizon."""
        replication, persona = self._key
        row = self.chains
        row["replication"].append(replication)
        row["persona"].append(persona)
        row["user"].append(self._user)
        row["device"].append(device)
        row["chain"].append(chain)
        row["authorized_at_s"].append(authorized_at)
        row["ended_at_s"].append(ended_at)
        row["end_reason"].append(end_reason)
        row["refreshes"].append(refreshes)
        row["last_used_at_s"].append(last_used_at)
        row["started_by"].append(started_by)

    def reauth(self, device: int, at: float, cause: str, mid_session: bool) -> None:
        """A forced re-authentication: a refresh failed and the user had to log in again."""
        replication, persona = self._key
        row = self.reauths
        row["replication"].append(replication)
        row["persona"].append(persona)
        row["user"].append(self._user)
        row["device"].append(device)
        row["at_s"].append(at)
        row["cause"].append(cause)
        row["mid_session"].append(mid_session)

    def event(
        self, device: int, chain: int, t: float, kind: str, outcome: str, reason: str | None = None
    ) -> None:
        """One token event (only with the event log on: callers check `events is not None`)."""
        self.events_of(device, chain, [t], kind, outcome, reason)

    def events_of(
        self, device: int, chain: int, times: list[float], kind: str, outcome: str, reason: str | None = None
    ) -> None:
        """Token events of one kind and outcome at `times` (a run of refreshes in one step)."""
        columns = self.events
        assert columns is not None, "the event log is off"
        replication, persona = self._key
        n = len(times)
        columns["replication"].extend([replication] * n)
        columns["persona"].extend([persona] * n)
        columns["user"].extend([self._user] * n)
        columns["device"].extend([device] * n)
        columns["chain"].extend([chain] * n)
        columns["at_s"].extend(times)
        columns["kind"].extend([kind] * n)
        columns["outcome"].extend([outcome] * n)
        columns["reason"].extend([reason] * n)

    def session(self, device: int, start: float, end: float) -> None:
        """One session (only with the session log on: callers check `sessions is not None`)."""
        columns = self.sessions
        assert columns is not None, "the session log is off"
        replication, persona = self._key
        columns["replication"].append(replication)
        columns["persona"].append(persona)
        columns["user"].append(self._user)
        columns["device"].append(device)
        columns["start_s"].append(start)
        columns["end_s"].append(end)

    def rejected_login(self, t: float) -> None:
        """A login refused because the user is at the cap (`on_cap: reject_new`)."""
        self.rejected_logins.setdefault(self._key, []).append(t)

    # -- end ----------------------------------------------------------------

    def finish(self) -> Recorder:
        """Flush buffers; the recorder is then plain data (picklable, cheap to return from a worker)."""
        self._flush()
        return self

    @staticmethod
    def _count(times: list[float] | np.ndarray, width: float, bins: int) -> np.ndarray:
        """How many of `times` fall in each `width`-second bin of the run (out-of-range times clipped)."""
        index = np.clip((np.asarray(times, dtype=float) // width).astype(np.int64), 0, bins - 1)
        return np.bincount(index, minlength=bins)

    def _flush(self) -> None:
        if self._rotations:
            counts = self._count(self._rotations, 60.0, self._minutes).astype(np.int32)
            if self._key in self.minute_rotations:
                self.minute_rotations[self._key] += counts
            else:
                self.minute_rotations[self._key] = counts
            self._rotations.clear()
        if not any(self._pending):
            return
        per_minute = self.minute_requests.get(self._key)
        if per_minute is None:
            per_minute = self.minute_requests[self._key] = np.zeros(self._minutes, dtype=np.int32)
            self.hourly_counts[self._key] = np.zeros((len(HOURLY_KINDS), self._hours), dtype=np.int64)
        hourly = self.hourly_counts[self._key]
        times = [np.asarray(pending, dtype=float) for pending in self._pending]
        for pending in self._pending:
            pending.clear()
        requests = np.concatenate([times[AUTHORIZATION], times[REFRESH_OK], times[REFRESH_FAILED]])
        per_minute += self._count(requests, 60.0, self._minutes).astype(np.int32)
        hours = [self._count(t, 3600.0, self._hours) for t in times]
        hourly[0] += hours[AUTHORIZATION]
        hourly[1] += hours[REFRESH_OK] + hours[REFRESH_FAILED]  # every refresh request, failed ones too
        hourly[2] += hours[REFRESH_FAILED]
        hourly[3] += hours[SESSION]
