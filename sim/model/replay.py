"""Replaying a trace: a persona whose users, devices and sessions come from a recorded trace.

`activity: {trace: FILE}` (sim/scenario/activity.py) replaces the drawn sessions: each recorded device of
each user replays its recorded sessions (start and end), while everything else a user does (tabs, lost
responses, persist failures, logouts, fresh logins, device replacements, password changes, thefts) is
still drawn from the same per-user streams (sim/model/streams.py), so two policies replayed on the same
seed meet the same users with the same faults (common random numbers).

Which trace users a replication simulates:
- `sampling: recorded`: simulated user i is the trace's i-th user (users sorted by id), in every
  replication; the intervals then carry only the randomness of faults and lifecycle;
- `sampling: bootstrap`: `users` users drawn with replacement from the trace's, from a stream of the
  seed, the replication and the persona (purpose REPLAY), afresh in every replication, so the intervals
  carry the sampling uncertainty of the population too.

Time: t = 0 is the trace's origin (a Monday 00:00, as the simulator's). Sessions that start after the
horizon are not replayed. A horizon longer than the trace is refused when the scenario is loaded, unless
`repeat: true`: the trace's first W whole weeks (W = its length in whole weeks) then repeat, a session
starting at s also starting at s + W weeks, s + 2W weeks, ... A device's sessions are sorted and those
that overlap or touch are merged (a device is in one session at a time).
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.core.durations import WEEK
from sim.model import streams
from sim.scenario.trace_file import trace_shape

if TYPE_CHECKING:
    from sim.scenario.model import Persona

_EMPTY = np.empty((0, 2), dtype=float)


@dataclass(frozen=True, eq=False)
class RecordedUser:
    """One user of a trace: per device an array of (start, end) rows, sorted, none overlapping."""

    name: str
    devices: tuple[np.ndarray, ...]
    #: The trace's whole weeks, in seconds: the period of a repeated trace.
    period: float

    @property
    def sessions(self) -> int:
        """How many sessions the user has, all devices together."""
        return sum(len(device) for device in self.devices)

    def within(self, horizon: float, repeat: bool) -> RecordedUser:
        """The sessions a run up to `horizon` replays: those starting by then (the trace repeated by its
        whole weeks when `repeat`)."""
        devices = []
        for sessions in self.devices:
            if repeat:
                base = sessions[sessions[:, 0] < self.period]
                copies = int(np.ceil(horizon / self.period)) if len(base) else 0
                sessions = np.concatenate([base + k * self.period for k in range(copies)] or [_EMPTY])
                sessions = merge_overlapping(sessions)
            devices.append(sessions[sessions[:, 0] <= horizon])
        return RecordedUser(self.name, tuple(devices), self.period)


def merge_overlapping(sessions: np.ndarray) -> np.ndarray:
    """Sorted (start, end) rows with overlapping or touching rows merged into one."""
    if len(sessions) < 2:
        return sessions
    sessions = sessions[np.lexsort((sessions[:, 1], sessions[:, 0]))]
    ends = np.maximum.accumulate(sessions[:, 1])
    new = np.ones(len(sessions), dtype=bool)
    new[1:] = sessions[1:, 0] > ends[:-1]
    if new.all():
        return sessions
    firsts = np.flatnonzero(new)
    return np.column_stack([sessions[firsts, 0], np.maximum.reduceat(sessions[:, 1], firsts)])


class RecordedTrace:
    """A trace's users, each with its devices' sessions (users sorted by id, devices by key)."""

    def __init__(self, users: Sequence[RecordedUser], span: float):
        self.users = list(users)
        self.span = span
        self.period = float(np.floor(span / WEEK) * WEEK)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RecordedTrace:
        """Read a trace (cached by path, size and modification time): ConfigError naming a bad file."""
        stat = os.stat(path)
        return _load(os.path.abspath(path), stat.st_size, stat.st_mtime_ns)

    def indices(self, persona: Persona, seed: int, replication: int) -> np.ndarray:
        """Which trace users (positions in `users`) the persona's simulated users are in a replication."""
        trace = persona.activity.trace
        assert trace is not None
        if trace.sampling == "recorded":
            return np.arange(len(self.users))
        rng = streams.stream(seed, replication, persona.name, 0, -1, streams.REPLAY)
        return rng.integers(0, len(self.users), size=persona.users)


@functools.lru_cache(maxsize=4)
def _load(path: str, size: int, mtime_ns: int) -> RecordedTrace:
    import pandas as pd

    from sim.ingest.trace import read_trace

    trace = read_trace(path)
    names = sorted(trace.users["user"].unique().tolist())
    frame = trace.sessions.sort_values(["user", "device", "start_s", "end_s"], kind="stable")
    user = frame["user"].to_numpy()
    device = frame["device"].to_numpy()
    times = frame[["start_s", "end_s"]].to_numpy(dtype=float)
    n = len(frame)
    span = trace_shape(path).span
    period = float(np.floor(span / WEEK) * WEEK)
    by_user: dict[str, list[np.ndarray]] = {name: [] for name in names}
    if n:
        first_of_device = np.ones(n, dtype=bool)
        first_of_device[1:] = (user[1:] != user[:-1]) | (device[1:] != device[:-1])
        group = np.cumsum(first_of_device) - 1
        # a session overlapping or touching the device's earlier ones merges with them
        ends_so_far = pd.Series(times[:, 1]).groupby(group).cummax().to_numpy()
        new = first_of_device.copy()
        new[1:] |= times[1:, 0] > ends_so_far[:-1]
        firsts = np.flatnonzero(new)
        merged = np.column_stack([times[firsts, 0], np.maximum.reduceat(times[:, 1], firsts)])
        merged_group = group[firsts]
        bounds = np.flatnonzero(np.r_[True, merged_group[1:] != merged_group[:-1], True])
        for lo, hi in itertools.pairwise(bounds):
            by_user[str(user[firsts[lo]])].append(merged[lo:hi].copy())
    users = [RecordedUser(name, tuple(by_user[name]), period) for name in names]
    return RecordedTrace(users, span)


def recorded_users(
    persona: Persona, seed: int, replication: int, start: int, stop: int
) -> tuple[RecordedUser, ...] | None:
    """The recorded users of simulated users `start..stop-1` of a persona in a replication (None when
    the persona does not replay a trace)."""
    trace = persona.activity.trace
    if trace is None:
        return None
    recorded = RecordedTrace.load(trace.path)
    picked = recorded.indices(persona, seed, replication)[start:stop]
    return tuple(recorded.users[i] for i in picked)
