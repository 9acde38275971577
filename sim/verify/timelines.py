"""Timelines: what one user and the people around them do, as plain data, and the classes they belong to.

A `Timeline` is the input of one check: every device's sessions (start, length, the tabs that race at each
access-token expiry, a fresh login at the start, a logout at the end), the refresh responses that get
lost, password changes and thefts. It holds *choices*, not outcomes: when a device refreshes follows from
the policy's access-token lifetime as the timeline is executed (`sim.verify.execute`), exactly as the
simulated clients of `sim.model.behaviour` do.

`admits(who, timeline)` says whether a timeline belongs to a behaviour class (`sim.scenario.invariants
.Behaviour`); `timeline_strategy(who)` is the hypothesis strategy of the class's timelines (every timeline
it draws is admitted, and it shrinks towards fewer, shorter, earlier and simpler events).

Times are seconds from the start of the timeline (day 0, 00:00). Gaps, session lengths and event times are
drawn in whole seconds, tab offsets and retry delays in milliseconds (finer when a bound needs it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from sim.scenario.invariants import Behaviour, Occurrences

#: A lost response names the device's n-th refresh request, n below this.
MAX_REQUEST_INDEX = 64
#: Events drawn "close to a session start" are at most this far from it (seconds).
NEAR = 120.0
#: The largest seed of the generator that draws random access-token lifetimes.
MAX_ACCESS_SEED = 2**32 - 1


@dataclass(frozen=True)
class Session:
    """One use of a device: from `start` for `duration` seconds."""

    start: float
    duration: float
    #: When each racing tab sends its refresh after an access-token expiry during the session (sorted);
    #: `(0.0,)` for one request, which is sent at the expiry itself.
    tab_offsets: tuple[float, ...] = (0.0,)
    #: The session starts with a new login instead of the stored token (the old chain is abandoned).
    fresh_login: bool = False
    #: The session ends with an explicit logout.
    logout: bool = False

    @property
    def end(self) -> float:
        """When the session ends."""
        return self.start + self.duration


@dataclass(frozen=True)
class Device:
    """A device of the user, with its sessions in time order."""

    name: str
    sessions: tuple[Session, ...]


@dataclass(frozen=True)
class LostResponse:
    """The response to a device's `request`-th refresh request (0-based) never arrives."""

    device: int
    request: int
    #: The client retries, with the token it still holds, this long after the request.
    retry_after: float


@dataclass(frozen=True)
class Theft:
    """At `at`, an attacker copies the refresh and access tokens that device `device` holds."""

    at: float
    device: int


@dataclass(frozen=True)
class Timeline:
    """Everything one check needs: the user's devices and what happens around them, until `end`."""

    devices: tuple[Device, ...]
    end: float
    password_changes: tuple[float, ...] = ()
    thefts: tuple[Theft, ...] = ()
    attacker: str = "immediate"
    lost_responses: tuple[LostResponse, ...] = ()
    #: Seeds the draws of access-token lifetimes when the policy's lifetime is a distribution.
    access_seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The timeline as plain data (JSON-serialisable); `from_dict` reads it back."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Timeline:
        """The timeline written by `to_dict`."""
        devices = tuple(
            Device(
                name=d["name"],
                sessions=tuple(
                    Session(
                        start=s["start"],
                        duration=s["duration"],
                        tab_offsets=tuple(s["tab_offsets"]),
                        fresh_login=s["fresh_login"],
                        logout=s["logout"],
                    )
                    for s in d["sessions"]
                ),
            )
            for d in data["devices"]
        )
        return cls(
            devices=devices,
            end=data["end"],
            password_changes=tuple(data.get("password_changes", ())),
            thefts=tuple(Theft(**t) for t in data.get("thefts", ())),
            attacker=data.get("attacker", "immediate"),
            lost_responses=tuple(LostResponse(**x) for x in data.get("lost_responses", ())),
            access_seed=data.get("access_seed", 0),
        )


# --- membership ---------------------------------------------------------------------------------------


@dataclass
class _Problems:
    items: list[str] = field(default_factory=list)

    def check(self, ok: bool, message: str) -> None:
        if not ok:
            self.items.append(message)


def admits(who: Behaviour, timeline: Timeline) -> list[str]:
    """Why `timeline` is not in the behaviour class `who` (an empty list: it is)."""
    p = _Problems()
    n = len(timeline.devices)
    p.check(who.devices.low <= n <= who.devices.high, f"{n} devices, the class has {who.devices.to_config()}")
    p.check(timeline.end <= who.over, "the timeline ends after `over`")
    p.check(timeline.attacker == who.attacker, f"attacker {timeline.attacker}, the class has {who.attacker}")
    length, tabs = who.session_length, who.tabs
    for index, device in enumerate(timeline.devices):
        name = device.name
        p.check(name == who.devices.name(index), f"device {index} is named {name!r}")
        p.check(1 <= len(device.sessions) <= who.sessions, f"{name}: {len(device.sessions)} sessions")
        previous_end = 0.0
        for k, session in enumerate(device.sessions):
            gap = session.start - previous_end
            low_gap = 0.0 if k == 0 else who.smallest_gap
            p.check(low_gap <= gap <= who.largest_gap, f"{name}: a gap of {gap}s before session {k}")
            lasts = session.duration
            p.check(length.low <= lasts <= length.high, f"{name}: session {k} lasts {lasts}s")
            p.check(session.end <= timeline.end, f"{name}: session {k} ends after the timeline")
            offsets = session.tab_offsets
            count_ok = len(offsets) == 1 if who.refresh_lock else tabs.low <= len(offsets) <= tabs.high
            p.check(count_ok, f"{name}: session {k} has {len(offsets)} racing tabs")
            p.check(list(offsets) == sorted(offsets), f"{name}: session {k}'s tab offsets are not sorted")
            window = 0.0 if who.refresh_lock or len(offsets) == 1 else who.race_window
            p.check(all(0 <= o <= window for o in offsets), f"{name}: a tab offset outside the race window")
            previous_end = session.end
    sessions = [s for d in timeline.devices for s in d.sessions]
    p.check(_allowed(who.fresh_logins, [s.start for s in sessions if s.fresh_login]), "too many fresh logins")
    p.check(_allowed(who.logouts, [s.end for s in sessions if s.logout]), "too many logouts")
    changes = list(timeline.password_changes)
    p.check(_allowed(who.password_changes, changes), "too many password changes")
    p.check(all(0 <= t <= timeline.end for t in changes), "a password change outside the timeline")
    thefts = timeline.thefts
    p.check(_allowed(who.thefts, [t.at for t in thefts]), "too many thefts")
    inside = all(0 <= t.at <= timeline.end and 0 <= t.device < n for t in thefts)
    p.check(inside, "a theft outside the timeline")
    lost = timeline.lost_responses
    p.check(len(lost) <= who.lost_responses, f"{len(lost)} lost responses, at most {who.lost_responses}")
    retry = who.retry_after
    for item in lost:
        known = 0 <= item.device < n and 0 <= item.request < MAX_REQUEST_INDEX
        p.check(known, "a lost response of no request")
        p.check(retry.low <= item.retry_after <= retry.high, f"a retry after {item.retry_after}s")
    p.check(0 <= timeline.access_seed <= MAX_ACCESS_SEED, "the access seed is out of range")
    return p.items


def _allowed(bound: Occurrences, times: list[float]) -> bool:
    return bound.allows(sorted(times))


# --- generation ---------------------------------------------------------------------------------------


def _multiple(value: float, step: float) -> bool:
    return abs(value / step - round(value / step)) < 1e-6


def _grid(low: float, high: float, unit: float) -> tuple[SearchStrategy[Any], float]:
    """Numbers whose multiples of the returned step are the durations in `[low, high]`: whole `unit`s,
    milliseconds when a bound is finer, else floats (step 1). Drawn unscaled: a `map` per draw costs."""
    from hypothesis import strategies as st

    for step in (unit, 0.001):
        if _multiple(low, step) and _multiple(high, step):
            return st.integers(round(low / step), round(high / step)), step
    return st.floats(low, high, allow_nan=False, allow_infinity=False), 1.0


def _scaled(value: float, step: float) -> float:
    return float(value) if step == 1.0 else round(value * step, 6)


def _durations(low: float, high: float, unit: float) -> SearchStrategy[float]:
    """Durations in `[low, high]` (see `_grid`)."""
    numbers, step = _grid(low, high, unit)
    return numbers.map(lambda k: _scaled(k, step))


def _keep_within(bound: Occurrences, flagged: list[tuple[float, int, int]]) -> set[tuple[int, int]]:
    """The flagged (time, device, session) events kept, in time order, while the bound allows them."""
    kept: list[float] = []
    chosen: set[tuple[int, int]] = set()
    for at, device, index in sorted(flagged):
        if bound.allows([*kept, at]):
            kept.append(at)
            chosen.add((device, index))
    return chosen


def timeline_strategy(who: Behaviour, random_access: bool = False) -> SearchStrategy[Timeline]:
    """The hypothesis strategy of the timelines of a behaviour class.

    `random_access`: the policy draws access-token lifetimes from a distribution, so each timeline also
    gets a seed for those draws.
    """
    from hypothesis import strategies as st

    over = who.over
    first_gap = _durations(0.0, min(who.largest_gap, over), 1.0)
    gap, gap_step = _grid(who.smallest_gap, who.largest_gap, 1.0)
    length, length_step = _grid(who.session_length.low, who.session_length.high, 1.0)
    window = 0.0 if who.refresh_lock else who.race_window
    offset = _durations(0.0, window, 0.001)
    tabs_low, tabs_high = (1, 1) if who.refresh_lock else (int(who.tabs.low), int(who.tabs.high))
    single = st.just((0.0,))  # one request is sent at the expiry itself, as in sim.model.behaviour
    racing = st.lists(offset, min_size=max(2, tabs_low), max_size=tabs_high).map(lambda xs: tuple(sorted(xs)))
    offsets: st.SearchStrategy[tuple[float, ...]]
    if tabs_high == 1:
        offsets = single
    elif tabs_low >= 2:
        offsets = racing
    else:
        offsets = st.one_of(single, racing)
    fresh = st.booleans() if who.fresh_logins.possible else st.just(False)
    logout = st.booleans() if who.logouts.possible else st.just(False)
    plan = st.tuples(gap, length, offsets, fresh, logout)

    @st.composite
    def device_sessions(draw: Any) -> tuple[Session, ...]:
        start = draw(first_gap)
        plans = draw(st.lists(plan, min_size=1, max_size=who.sessions))
        sessions: list[Session] = []
        for k, (gap_k, length_k, tab_offsets, fresh_k, logout_k) in enumerate(plans):
            duration = _scaled(length_k, length_step)
            if k > 0:
                start = sessions[-1].end + _scaled(gap_k, gap_step)
            if start + duration > over:
                duration = max(who.session_length.low, over - start)
                if start + duration > over:
                    break
            sessions.append(Session(start, duration, tab_offsets, fresh_k, logout_k))
        if not sessions:  # the first session always fits: its offset and length are within `over`
            sessions.append(Session(0.0, who.session_length.low, plans[0][2]))
        return tuple(sessions)

    event_time = _durations(0.0, over, 1.0)
    # a device's first requests are the likeliest to exist: most lost responses pick one of them
    request = st.one_of(st.integers(0, 1), st.integers(0, 3), st.integers(0, MAX_REQUEST_INDEX - 1))
    # the shortest and the longest retry decide most properties: they are drawn as often as the others
    retry = st.one_of(
        st.sampled_from(sorted({who.retry_after.low, who.retry_after.high})),
        _durations(who.retry_after.low, who.retry_after.high, 0.001),
    )

    @st.composite
    def build(draw: Any) -> Timeline:
        n = draw(st.integers(who.devices.low, who.devices.high))
        per_device = [list(draw(device_sessions())) for _ in range(n)]
        fresh_kept = _keep_within(
            who.fresh_logins,
            [(s.start, d, k) for d, ss in enumerate(per_device) for k, s in enumerate(ss) if s.fresh_login],
        )
        logout_kept = _keep_within(
            who.logouts,
            [(s.end, d, k) for d, ss in enumerate(per_device) for k, s in enumerate(ss) if s.logout],
        )
        devices = tuple(
            Device(
                who.devices.name(d),
                tuple(
                    Session(s.start, s.duration, s.tab_offsets, (d, k) in fresh_kept, (d, k) in logout_kept)
                    for k, s in enumerate(ss)
                ),
            )
            for d, ss in enumerate(per_device)
        )
        # Events matter most next to a device's activity (a refresh at a session start): half of them
        # are drawn close to a session start, the others anywhere.
        starts = sorted({s.start for d in devices for s in d.sessions})
        near = st.tuples(st.sampled_from(starts), _durations(-NEAR, NEAR, 1.0)).map(
            lambda pair: min(over, max(0.0, pair[0] + pair[1]))
        )
        when = st.one_of(event_time, near, st.sampled_from(starts))
        changes = _events(draw, when, who.password_changes)
        theft_times = _events(draw, when, who.thefts)
        thefts = tuple(Theft(at, draw(st.integers(0, n - 1))) for at in theft_times)
        lost = tuple(
            LostResponse(device, request, delay)
            for device, request, delay in draw(
                st.lists(
                    st.tuples(st.integers(0, n - 1), request, retry),
                    max_size=who.lost_responses,
                )
            )
        )
        seed = draw(st.integers(0, MAX_ACCESS_SEED)) if random_access else 0
        return Timeline(
            devices=devices,
            end=over,
            password_changes=changes,
            thefts=thefts,
            attacker=who.attacker,
            lost_responses=lost,
            access_seed=seed,
        )

    return build()


def _events(draw: Any, time: SearchStrategy[float], bound: Occurrences) -> tuple[float, ...]:
    """Event times within the bound (drawn, sorted, then kept in order while the bound allows them)."""
    from hypothesis import strategies as st

    if not bound.possible:
        return ()
    drawn = sorted(draw(st.lists(time, max_size=bound.at_most)))
    kept: list[float] = []
    for at in drawn:
        if bound.allows([*kept, at]):
            kept.append(at)
    return tuple(kept)
