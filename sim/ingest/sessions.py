"""Sessions from token events: the reconstruction rules, on the events of some users held as arrays.

The rules (docs/ingest.md, "Sessions"):
- Events are taken per device in time order (ties in the log's order).
- An event at `t` means the device could work until `t + A` (A = the access-token lifetime) without
  another request; a logout ends the device's session at once.
- A session starts at a device's first event, and at any event more than `A + G` after the previous one
  (G = the session gap: `--session-gap`), or after a logout. It ends at its last event plus `A` (at the
  logout itself when its last event is a logout).
- So every event falls in exactly one session, the sessions of a device never overlap, and two
  sessions of a device are more than G apart.

Forced logins (the log's own friction): a login is forced when the same user had a failed refresh at
most `W` before it (`--forced-login-window`) and after their previous login; its cause is the latest
such failure's reason. Several failures before one login (racing tabs) make one forced login.

A grant table's ISSUE events are resolved first: the first of each (user, family) is a login, later
ones refreshes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.ingest.events import ISSUE, LOGIN, LOGOUT, REFRESH, REFRESH_FAILED


@dataclass
class EventArrays:
    """The events of some users, columns as arrays; strings as integer codes into sorted lists.

    Codes of `user` follow the users' sorted order, so sorting by code sorts by user. `reason` and
    `family` are -1 where null.
    """

    user: np.ndarray
    users: list[str]
    device: np.ndarray
    devices: list[str]
    time: np.ndarray
    kind: np.ndarray
    reason: np.ndarray
    reasons: list[str]
    family: np.ndarray
    seq: np.ndarray

    def __len__(self) -> int:
        return len(self.time)

    def take(self, order: np.ndarray) -> EventArrays:
        """The events in the given order (or a subset)."""
        return EventArrays(
            self.user[order], self.users, self.device[order], self.devices, self.time[order],
            self.kind[order], self.reason[order], self.reasons, self.family[order], self.seq[order],
        )  # fmt: skip


def resolve_issues(events: EventArrays) -> np.ndarray:
    """Kinds with every ISSUE made a LOGIN (first of its user and family) or a REFRESH."""
    kind = events.kind.copy()
    issue = np.flatnonzero(kind == ISSUE)
    if len(issue) == 0:
        return kind
    order = issue[
        np.lexsort((events.seq[issue], events.time[issue], events.family[issue], events.user[issue]))
    ]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (events.user[order][1:] != events.user[order][:-1]) | (
        events.family[order][1:] != events.family[order][:-1]
    )
    kind[order] = np.where(first, LOGIN, REFRESH)
    return kind


@dataclass
class Sessions:
    """Reconstructed sessions: one entry per session, in (user, device, start) order."""

    user: np.ndarray
    device: np.ndarray
    start: np.ndarray
    end: np.ndarray
    #: For every event of the (sorted) input, the index of its session.
    of_event: np.ndarray
    #: The order that sorts the input events by (user, device, time, seq).
    order: np.ndarray


def sessionize(events: EventArrays, access: float, gap: float) -> Sessions:
    """Sessions of every device (the rules in the module docstring); `access` = A, `gap` = G, seconds."""
    n = len(events)
    order = np.lexsort((events.seq, events.time, events.device, events.user))
    user, device = events.user[order], events.device[order]
    time, kind = events.time[order], events.kind[order]
    new = np.ones(n, dtype=bool)
    if n > 1:
        same_device = (user[1:] == user[:-1]) & (device[1:] == device[:-1])
        new[1:] = ~same_device | (time[1:] - time[:-1] > access + gap) | (kind[:-1] == LOGOUT)
    starts = np.flatnonzero(new)
    of_event_sorted = np.cumsum(new) - 1
    lasts = np.append(starts[1:] - 1, n - 1) if n else starts
    end = time[lasts] + np.where(kind[lasts] == LOGOUT, 0.0, access)
    of_event = np.empty(n, dtype=np.int64)
    of_event[order] = of_event_sorted
    return Sessions(user[starts], device[starts], time[starts], end, of_event, order)


def forced_logins(events: EventArrays, kind: np.ndarray, window: float) -> tuple[np.ndarray, np.ndarray]:
    """Which events are forced logins, and the reason code of the failure that forced each (-1 if none)."""
    n = len(events)
    forced = np.zeros(n, dtype=bool)
    cause = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return forced, cause
    order = np.lexsort((events.seq, events.time, events.user))
    user, time, k = events.user[order], events.time[order], kind[order]
    position = np.arange(n)
    group_start = np.ones(n, dtype=bool)
    group_start[1:] = user[1:] != user[:-1]
    first_of_user = np.maximum.accumulate(np.where(group_start, position, 0))
    # latest failure at or before each position (within the user), and latest login strictly before
    last_failure = np.maximum.accumulate(np.where(k == REFRESH_FAILED, position, -1))
    last_failure = np.where(last_failure >= first_of_user, last_failure, -1)
    login_here = np.where(k == LOGIN, position, -1)
    previous_login = np.empty(n, dtype=np.int64)
    previous_login[0] = -1
    previous_login[1:] = np.maximum.accumulate(login_here)[:-1]
    previous_login = np.where(previous_login >= first_of_user, previous_login, -1)
    failure_time = np.where(last_failure >= 0, time[np.maximum(last_failure, 0)], -np.inf)
    is_forced = (k == LOGIN) & (last_failure > previous_login) & (time - failure_time <= window)
    forced[order] = is_forced
    cause_sorted = np.where(is_forced, events.reason[order][np.maximum(last_failure, 0)], -1)
    cause[order] = cause_sorted
    return forced, cause
