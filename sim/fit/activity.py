"""A group of users' sessions as arrays, and the hour-of-week arithmetic the fits are built on.

The simulator's session model (sim/model/behaviour.py) is, per device, a Poisson process of session
starts that runs only while the device is idle (between the end of one session and the start of the
next) and outside absences, at a rate that depends on the hour of the week (the schedule). Its
likelihood is that of a Poisson process with a piecewise-constant intensity on the idle time: for each
hour of the week h, `C[h]` session starts were observed over `E[h]` seconds of idle exposure, and the
maximum-likelihood intensity is `C[h] / E[h]` (or, for a fixed schedule, one rate over its windows).

Exposure of a device starts at its first session (a device is seen from then on; its first start is not
counted as an event) and ends at the trace's end; absences are removed from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.core.durations import HOUR, WEEK
from sim.model.replay import RecordedUser

HOURS = 168


@dataclass
class Sessions:
    """Every session of a group of users as flat arrays (users numbered 0..n-1 within the group)."""

    names: list[str]
    #: per session: its user (0..n-1), its device (numbered within the whole group), start, end
    user: np.ndarray
    device: np.ndarray
    start: np.ndarray
    end: np.ndarray
    #: per user: devices with at least one session
    devices: np.ndarray
    #: the trace's end (seconds from its origin)
    span: float

    @classmethod
    def of(cls, users: Sequence[RecordedUser], span: float) -> Sessions:
        """The sessions of these users (each device's sessions sorted and merged, as replay sees them)."""
        user, device, start, end = [], [], [], []
        devices = np.zeros(len(users), dtype=np.int64)
        next_device = 0
        for index, recorded in enumerate(users):
            for sessions in recorded.devices:
                if not len(sessions):
                    continue
                devices[index] += 1
                user.append(np.full(len(sessions), index))
                device.append(np.full(len(sessions), next_device))
                start.append(sessions[:, 0])
                end.append(sessions[:, 1])
                next_device += 1

        def flat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.empty(0, dtype=dtype)

        return cls(
            names=[u.name for u in users],
            user=flat(user, np.int64),
            device=flat(device, np.int64),
            start=flat(start, float),
            end=flat(end, float),
            devices=devices,
            span=span,
        )

    @property
    def n_users(self) -> int:
        """How many users the group has."""
        return len(self.names)

    @property
    def durations(self) -> np.ndarray:
        """Each session's duration in seconds."""
        return self.end - self.start

    def subset(self, users: np.ndarray) -> Sessions:
        """The sessions of some of the users (positions in `names`), renumbered 0..len(users)-1."""
        users = np.asarray(users, dtype=np.int64)
        renumber = np.full(self.n_users, -1, dtype=np.int64)
        renumber[users] = np.arange(len(users))
        keep = renumber[self.user] >= 0
        return Sessions(
            names=[self.names[i] for i in users],
            user=renumber[self.user[keep]],
            device=self.device[keep],
            start=self.start[keep],
            end=self.end[keep],
            devices=self.devices[users],
            span=self.span,
        )

    def idle(self, absences: Absences | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each device's idle intervals (user, a, b): between its sessions and after its last one, to the
        trace's end, with the users' absences cut out."""
        order = np.lexsort((self.start, self.device))
        device, start, end, user = self.device[order], self.start[order], self.end[order], self.user[order]
        last = np.r_[device[1:] != device[:-1], True] if len(device) else np.empty(0, dtype=bool)
        a = end
        b = np.where(last, self.span, np.r_[start[1:], 0.0])
        keep = b > a
        user, a, b = user[keep], a[keep], b[keep]
        if absences is not None and len(absences.user):
            user, a, b = absences.cut(user, a, b)
        return user, a, b

    def events(self) -> tuple[np.ndarray, np.ndarray]:
        """The session starts that are events of the process (every start but each device's first):
        (user, start)."""
        order = np.lexsort((self.start, self.device))
        device = self.device[order]
        first = np.r_[True, device[1:] != device[:-1]] if len(device) else np.empty(0, dtype=bool)
        return self.user[order][~first], self.start[order][~first]


@dataclass
class Absences:
    """Absence intervals (user, start, end) of a group of users."""

    user: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @classmethod
    def none(cls) -> Absences:
        """No absence."""
        return cls(np.empty(0, dtype=np.int64), np.empty(0), np.empty(0))

    def cut(
        self, user: np.ndarray, a: np.ndarray, b: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Intervals (user, a, b) with the absences of their user removed (split where needed)."""
        by_user: dict[int, list[tuple[float, float]]] = {}
        for u, s, e in zip(self.user.tolist(), self.start.tolist(), self.end.tolist(), strict=True):
            by_user.setdefault(u, []).append((s, e))
        affected = np.isin(user, self.user)
        out_user, out_a, out_b = [user[~affected]], [a[~affected]], [b[~affected]]
        extra_user, extra_a, extra_b = [], [], []
        chosen = zip(user[affected].tolist(), a[affected].tolist(), b[affected].tolist(), strict=True)
        for u, lo, hi in chosen:
            pieces = [(lo, hi)]
            for s, e in by_user[u]:
                pieces = [piece for p in pieces for piece in _minus(p, s, e)]
            for p_lo, p_hi in pieces:
                extra_user.append(u)
                extra_a.append(p_lo)
                extra_b.append(p_hi)
        out_user.append(np.asarray(extra_user, dtype=np.int64))
        out_a.append(np.asarray(extra_a, dtype=float))
        out_b.append(np.asarray(extra_b, dtype=float))
        return np.concatenate(out_user), np.concatenate(out_a), np.concatenate(out_b)


def _minus(piece: tuple[float, float], start: float, end: float) -> list[tuple[float, float]]:
    lo, hi = piece
    if end <= lo or start >= hi:
        return [piece]
    return [p for p in ((lo, start), (end, hi)) if p[1] > p[0]]


def hour_of_week(t: np.ndarray) -> np.ndarray:
    """The hour of the week (0 = Monday 00:00-01:00) of each time."""
    return np.minimum((np.mod(t, WEEK) // HOUR).astype(np.int64), HOURS - 1)


def hour_exposure(user: np.ndarray, a: np.ndarray, b: np.ndarray, n_users: int) -> np.ndarray:
    """Seconds of the intervals [a, b] that fall in each hour of the week, per user: (n_users, 168).

    Writes `G_h(t)`, the seconds of hour h between 0 and t, as `floor(t / week) * 3600` plus the part of
    the last week, so each interval is `G(b) - G(a)` and everything is a few bincounts.
    """
    return _partial(user, b, n_users) - _partial(user, a, n_users)


def _partial(user: np.ndarray, t: np.ndarray, n_users: int) -> np.ndarray:
    """`G_h(t)` summed per user: (n_users, 168)."""
    weeks = np.floor(t / WEEK)
    rest = t - weeks * WEEK
    hour = np.minimum((rest // HOUR).astype(np.int64), HOURS - 1)
    full = np.bincount(user, weights=weeks * HOUR, minlength=n_users)[:, None] * np.ones(HOURS)
    # in the last week: whole hours before `hour`, the part of `hour` itself
    index = user * HOURS + hour
    count = np.bincount(index, minlength=n_users * HOURS).reshape(n_users, HOURS)
    part = np.bincount(index, weights=rest - hour * HOUR, minlength=n_users * HOURS).reshape(n_users, HOURS)
    later = np.cumsum(count[:, ::-1], axis=1)[:, ::-1]  # how many t are in this hour or later
    after = np.concatenate([later[:, 1:], np.zeros((n_users, 1))], axis=1)  # strictly later hours
    return full + after * HOUR + part


def hour_counts(user: np.ndarray, t: np.ndarray, n_users: int) -> np.ndarray:
    """How many of the times fall in each hour of the week, per user: (n_users, 168)."""
    index = user * HOURS + hour_of_week(t)
    return np.bincount(index, minlength=n_users * HOURS).reshape(n_users, HOURS).astype(float)


class Intensity:
    """A piecewise-constant intensity per hour of the week (events per second), with its integral."""

    def __init__(self, rates: np.ndarray):
        self.rates = np.asarray(rates, dtype=float)
        self.cumulative = np.r_[0.0, np.cumsum(self.rates * HOUR)]  # at each hour's start, and the end
        self.per_week = float(self.cumulative[-1])

    def integral(self, t: np.ndarray) -> np.ndarray:
        """The integral of the intensity from 0 to each t."""
        weeks = np.floor(t / WEEK)
        rest = t - weeks * WEEK
        hour = np.minimum((rest // HOUR).astype(np.int64), HOURS - 1)
        return weeks * self.per_week + self.cumulative[hour] + self.rates[hour] * (rest - hour * HOUR)

    def inverse(self, value: np.ndarray) -> np.ndarray:
        """The earliest time at which the integral reaches each value (> 0)."""
        value = np.asarray(value, dtype=float)
        weeks = np.floor(value / self.per_week)
        within = value - weeks * self.per_week
        at_boundary = within <= 0
        weeks = np.where(at_boundary, weeks - 1, weeks)
        within = np.where(at_boundary, self.per_week, within)
        hour = np.searchsorted(self.cumulative, within, side="left") - 1
        hour = np.clip(hour, 0, HOURS - 1)
        rate = np.where(self.rates[hour] > 0, self.rates[hour], np.inf)
        return weeks * WEEK + hour * HOUR + (within - self.cumulative[hour]) / rate
