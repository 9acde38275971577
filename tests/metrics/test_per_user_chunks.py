"""Per-user figures computed on chunks of whole users and combined equal those of all rows at once."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analysis.metrics import PerUserFigures, Window
from sim.core.durations import DAY
from tests.metrics.test_peak_per_user import chain_tables

WINDOW = Window(warmup=10 * DAY, horizon=100 * DAY)


@st.composite
def reauth_tables(draw: st.DrawFn) -> pd.DataFrame:
    rows = [
        {
            "persona": draw(st.sampled_from(["office", "field"])),
            "user": draw(st.integers(0, 3)),
            "at_s": draw(st.floats(0, 100 * DAY)),
        }
        for _ in range(draw(st.integers(0, 30)))
    ]
    return pd.DataFrame(rows, columns=["persona", "user", "at_s"])


@settings(max_examples=200, deadline=None)
@given(chain_tables(), reauth_tables(), st.sets(st.integers(0, 3)))
def test_chunks_of_whole_users_combine_to_the_whole(
    case: tuple[pd.DataFrame, Window], reauths: pd.DataFrame, first_users: set[int]
) -> None:
    chains = case[0][case[0]["replication"] == 0].copy()
    for column in ("authorized_at_s", "ended_at_s"):  # spread the few distinct times over the window
        chains[column] *= 7 * DAY
    whole = PerUserFigures.of(chains, reauths, WINDOW)
    in_first = chains["user"].isin(first_users), reauths["user"].isin(first_users)
    parts = [
        PerUserFigures.of(chains[in_first[0]], reauths[in_first[1]], WINDOW),
        PerUserFigures.of(chains[~in_first[0]], reauths[~in_first[1]], WINDOW),
    ]
    combined = PerUserFigures.combine(parts, WINDOW)
    assert combined.peak_chains == whole.peak_chains
    assert combined.users_forced_by_month.tolist() == whole.users_forced_by_month.tolist()
    assert len(whole.users_forced_by_month) == 3  # 90 days: three whole months
