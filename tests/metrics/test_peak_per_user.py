"""The vectorised per-user peak of valid chains equals the plain per-user computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analysis.levels import peak_active as _peak_active
from sim.analysis.window import Window

# few distinct times, so that starts and ends often coincide (the tie rule matters)
TIMES = st.sampled_from([0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0])


@st.composite
def chain_tables(draw: st.DrawFn) -> tuple[pd.DataFrame, Window]:
    rows = []
    for _ in range(draw(st.integers(0, 30))):
        authorized = draw(TIMES)
        length = draw(st.one_of(st.none(), st.sampled_from([0.0, 1.0, 2.0, 4.0, 9.0])))
        rows.append(
            {
                "replication": draw(st.integers(0, 1)),
                "persona": draw(st.sampled_from(["office", "field"])),
                "user": draw(st.integers(0, 3)),
                "authorized_at_s": authorized,
                "ended_at_s": math.nan if length is None else authorized + length,
            }
        )
    columns = ["replication", "persona", "user", "authorized_at_s", "ended_at_s"]
    warmup = draw(TIMES)
    horizon = warmup + draw(st.sampled_from([0.0, 1.0, 4.0, 20.0]))
    return pd.DataFrame(rows, columns=columns), Window(warmup=warmup, horizon=horizon)


def _peak_active_per_user(chains: pd.DataFrame, window: Window) -> int:
    """The vectorised per-user peak: every user's events in one sort (`owners`), as a shard computes it."""
    if chains.empty:
        return 0
    persona = pd.factorize(chains["persona"])[0].astype(np.int64)
    user = chains["user"].to_numpy(dtype=np.int64)
    replication = chains["replication"].to_numpy(dtype=np.int64)
    owners = (replication * (int(persona.max()) + 1) + persona) * (int(user.max()) + 1) + user
    authorized = chains["authorized_at_s"].to_numpy(dtype=float)
    return _peak_active(authorized, chains["ended_at_s"].to_numpy(dtype=float), window, owners)


def reference(chains: pd.DataFrame, window: Window) -> int:
    """One user at a time, with the population-level `_peak_active`."""
    best = 0
    for _, group in chains.groupby(["replication", "persona", "user"]):
        authorized = group["authorized_at_s"].to_numpy(dtype=float)
        ended = group["ended_at_s"].to_numpy(dtype=float)
        best = max(best, _peak_active(authorized, ended, window))
    return best


@settings(max_examples=300, deadline=None)
@given(chain_tables())
def test_vectorised_peak_equals_one_user_at_a_time(case: tuple[pd.DataFrame, Window]) -> None:
    chains, window = case
    assert _peak_active_per_user(chains, window) == reference(chains, window)


def test_a_user_holding_three_at_once_is_the_peak_even_if_another_holds_more_in_total() -> None:
    chains = pd.DataFrame(
        {
            "replication": 0,
            "persona": "office",
            "user": [0, 0, 0, 1, 1, 1, 1],
            "authorized_at_s": [0.0, 1.0, 2.0, 0.0, 2.0, 4.0, 6.0],
            "ended_at_s": [np.nan, 5.0, 9.0, 2.0, 4.0, 6.0, np.nan],
        }
    )
    assert _peak_active_per_user(chains, Window(warmup=0.0, horizon=10.0)) == 3
    # after 9 the first user holds one; the second never holds more than one (ends come first)
    assert _peak_active_per_user(chains, Window(warmup=9.5, horizon=10.0)) == 1


def brute_force_peak(authorized: np.ndarray, ended: np.ndarray, window: Window) -> int:
    """The level entering the window, and after all the events of each instant within it."""

    def level(t: float, strictly_before: bool) -> int:
        if strictly_before:
            return int(np.sum(authorized < t) - np.sum(ended < t))
        return int(np.sum(authorized <= t) - np.sum(ended <= t))  # NaN ends never count

    instants = {float(t) for t in np.concatenate([authorized, ended]) if window.warmup <= t <= window.horizon}
    return max([level(window.warmup, True), *(level(t, False) for t in instants)])


@settings(max_examples=300, deadline=None)
@given(chain_tables())
def test_population_peak_equals_the_brute_force_level(case: tuple[pd.DataFrame, Window]) -> None:
    chains, window = case
    authorized = chains["authorized_at_s"].to_numpy(dtype=float)
    ended = chains["ended_at_s"].to_numpy(dtype=float)
    expected = brute_force_peak(authorized, ended, window) if len(chains) else 0
    assert _peak_active(authorized, ended, window) == expected
