"""Session reconstruction and forced logins: hand-computed cases and properties (Hypothesis).

The properties compare `sessionize` with a plain reference written from the rules in docs/ingest.md,
and check the rules' consequences directly: every event is in exactly the session it is assigned to,
the sessions of a device do not overlap, and sessions more than the gap apart are never merged.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.ingest.events import ISSUE, LOGIN, LOGOUT, REFRESH, REFRESH_FAILED
from sim.ingest.sessions import EventArrays, forced_logins, resolve_issues, sessionize


def arrays(
    rows: list[tuple[int, int, float, int]], reasons: list[int] | None = None, family: list[int] | None = None
) -> EventArrays:
    """Events from (user, device, time, kind) rows, in the order given (their log order)."""
    n = len(rows)
    return EventArrays(
        user=np.array([r[0] for r in rows], dtype=np.int64), users=[f"u{i}" for i in range(10)],
        device=np.array([r[1] for r in rows], dtype=np.int64), devices=[f"d{i}" for i in range(10)],
        time=np.array([r[2] for r in rows], dtype=float), kind=np.array([r[3] for r in rows], dtype=np.int8),
        reason=np.array(reasons if reasons is not None else [-1] * n, dtype=np.int64),
        reasons=["expired", "reuse"],
        family=np.array(family if family is not None else [-1] * n, dtype=np.int64), seq=np.arange(n),
    )  # fmt: skip


def as_list(sessions) -> list[tuple[int, int, float, float]]:
    return list(zip(sessions.user.tolist(), sessions.device.tolist(), sessions.start.tolist(),
                    sessions.end.tolist(), strict=True))  # fmt: skip


def test_a_day_of_one_device_by_hand() -> None:
    # A = 300 s, G = 600 s: events more than 900 s apart start a new session
    events = arrays([
        (0, 0, 1000.0, LOGIN),
        (0, 0, 1300.0, REFRESH),
        (0, 0, 2200.0, REFRESH),   # exactly A + G after the previous one: same session
        (0, 0, 3101.0, REFRESH),   # 901 s later: a new session
        (0, 0, 3200.0, LOGOUT),    # ends it at once
        (0, 0, 3250.0, LOGIN),     # after a logout: a new session, however close
        (0, 1, 1250.0, REFRESH),   # another device: sessions of its own
    ])  # fmt: skip
    assert as_list(sessionize(events, access=300.0, gap=600.0)) == [
        (0, 0, 1000.0, 2500.0),
        (0, 0, 3101.0, 3200.0),
        (0, 0, 3250.0, 3550.0),
        (0, 1, 1250.0, 1550.0),
    ]


def test_forced_logins_by_hand() -> None:
    events = arrays(
        [
            (0, 0, 100.0, LOGIN),            # a first login: not forced
            (0, 0, 5000.0, REFRESH_FAILED),  # reason 0
            (0, 0, 5000.0, REFRESH_FAILED),  # a racing tab fails too (reason 1)...
            (0, 0, 5000.0, LOGIN),           # ...one forced login, caused by the latest failure
            (0, 1, 9000.0, REFRESH_FAILED),  # a failure never followed by a login within the window
            (0, 1, 9000.0 + 3601.0, LOGIN),  # 3601 s later: not forced (window 3600 s)
            (1, 0, 200.0, REFRESH_FAILED),   # another user's failure...
            (0, 2, 230.0, LOGIN),            # ...does not force this user's login
        ],
        reasons=[-1, 0, 1, -1, 0, -1, 1, -1],
    )  # fmt: skip
    forced, cause = forced_logins(events, events.kind, window=3600.0)
    assert forced.tolist() == [False, False, False, True, False, False, False, False]
    assert cause[3] == 1


def test_grant_rows_first_of_a_family_is_the_login() -> None:
    events = arrays(
        [(0, 0, 30.0, ISSUE), (0, 0, 10.0, ISSUE), (0, 0, 20.0, ISSUE), (0, 1, 15.0, ISSUE)],
        family=[0, 0, 0, 1],
    )
    assert resolve_issues(events).tolist() == [REFRESH, LOGIN, REFRESH, LOGIN]


def reference(rows: list[tuple[int, int, float, int]], access: float, gap: float) -> list[tuple]:
    """The rules, written out plainly: per device, in time order (ties in log order)."""
    by_device: dict[tuple[int, int], list[tuple[float, int, int]]] = {}
    for seq, (user, device, t, kind) in enumerate(rows):
        by_device.setdefault((user, device), []).append((t, seq, kind))
    sessions = []
    for (user, device), items in sorted(by_device.items()):
        items.sort()
        start = last = None
        last_kind = None
        for t, _seq, kind in items:
            if start is not None and (t - last > access + gap or last_kind == LOGOUT):
                sessions.append((user, device, start, last + (0.0 if last_kind == LOGOUT else access)))
                start = None
            if start is None:
                start = t
            last, last_kind = t, kind
        sessions.append((user, device, start, last + (0.0 if last_kind == LOGOUT else access)))
    return sessions


event_rows = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.integers(0, 2),
        st.one_of(st.integers(0, 40).map(lambda k: k * 450.0), st.floats(0, 20000, allow_nan=False)),
        st.sampled_from([LOGIN, REFRESH, REFRESH_FAILED, LOGOUT]),
    ),
    min_size=1,
    max_size=60,
)


@settings(deadline=None, max_examples=200)
@given(event_rows, st.sampled_from([60.0, 300.0, 900.0, 3600.0]), st.sampled_from([0.0, 450.0, 1800.0]))
def test_sessions_follow_the_rules(rows, access: float, gap: float) -> None:
    events = arrays(rows)
    sessions = sessionize(events, access, gap)
    assert as_list(sessions) == reference(rows, access, gap)
    # every event lies in the session it is assigned to, and that session is of its user and device
    for i, (user, device, t, _kind) in enumerate(rows):
        k = sessions.of_event[i]
        assert sessions.user[k] == user and sessions.device[k] == device
        assert sessions.start[k] <= t <= sessions.end[k]
    # the sessions of a device do not overlap, and are more than the gap apart unless a logout ended one
    for k in range(1, len(sessions.start)):
        if sessions.user[k] == sessions.user[k - 1] and sessions.device[k] == sessions.device[k - 1]:
            assert sessions.start[k] >= sessions.end[k - 1]
            previous = [i for i in range(len(rows)) if sessions.of_event[i] == k - 1]
            ended_by_logout = any(
                rows[i][3] == LOGOUT and rows[i][2] == sessions.end[k - 1] for i in previous
            )
            if not ended_by_logout:
                assert sessions.start[k] - sessions.end[k - 1] > gap
