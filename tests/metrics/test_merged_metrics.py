"""Metrics merged from shard partials equal the whole-population computation, bit for bit.

Random populations (rows drawn directly, with many ties: times on a 30-second lattice so that events
meet at minute starts and at the same instant), split into random shards of whole users; each shard's
`GroupPartial` is computed, the partials merged in a random order, and the metrics finished with the rows
read back in small batches and, with a tiny ROWS_AT_ONCE, in many chunks. Every metric and the hourly
series must equal tests/metrics/whole_population.py on all rows at once.
"""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analysis import rescan
from sim.analysis.metrics import Window, group_metrics, group_timeseries, replication_metrics
from sim.analysis.partials import GroupPartial, ShardCounts, shard_partial
from sim.analysis.storage import StorageModel
from sim.core.durations import DAY, HOUR
from sim.core.metric_names import ALL, CAUSES
from sim.core.reasons import END_REASONS, NO_TOKEN
from sim.model.recording import CHAIN_COLUMNS, REAUTH_COLUMNS, THEFT_COLUMNS
from tests.metrics.whole_population import whole_metrics, whole_timeseries

LATTICE = 30.0


@st.composite
def times(draw: st.DrawFn, low: float, high: float) -> float:
    """A time in [low, high]: mostly on the 30-second lattice (ties), sometimes anywhere."""
    if draw(st.booleans()):
        steps = int((high - low) // LATTICE)
        return low + LATTICE * draw(st.integers(0, max(0, steps)))
    return draw(st.floats(low, high, allow_nan=False))


@st.composite
def populations(draw: st.DrawFn, like: dict | None = None) -> dict:
    """A random group; `like`: another group whose window and storage model it shares."""
    if like is None:
        horizon = draw(st.sampled_from([2 * DAY, 61 * DAY]))
        warmup = draw(st.sampled_from([0.0, 60.0 * 7, 0.3 * DAY + 17.5]))
    else:
        horizon, warmup = like["window"].horizon, like["window"].warmup
    users = draw(st.integers(1, 8))
    chains, reauths, thefts, lags, rejected, shard_of = [], [], [], [], [], []
    for user in range(users):
        shard_of.append(draw(st.integers(0, 3)))
        for chain in range(draw(st.integers(0, 5))):
            start = draw(times(0.0, horizon))
            length = draw(st.one_of(st.none(), st.sampled_from([0.0, 60.0, 90.0, 3600.0]), st.floats(0, DAY)))
            end = None if length is None or start + length > horizon else start + length
            chains.append(
                {
                    "user": user,
                    "device": 0,
                    "chain": chain,
                    "authorized_at_s": start,
                    "ended_at_s": end,
                    "end_reason": None if end is None else draw(st.sampled_from(END_REASONS)),
                    "refreshes": draw(st.integers(0, 4)),
                    "last_used_at_s": start,
                    "started_by": "first",
                }
            )
        for _ in range(draw(st.integers(0, 4))):
            reauths.append(
                {
                    "user": user,
                    "device": 0,
                    "at_s": draw(times(0.0, horizon)),
                    "cause": draw(st.sampled_from(CAUSES)),
                    "mid_session": draw(st.booleans()),
                }
            )
        for _ in range(draw(st.integers(0, 3))):
            stolen = draw(times(0.0, horizon))
            held = draw(st.one_of(st.none(), st.sampled_from([0.0, 3600.0, DAY]), st.floats(0, 5 * DAY)))
            ended = None if held is None or stolen + held > horizon else stolen + held
            reason = draw(st.sampled_from([NO_TOKEN, "family_revoked", "absolute_expiry"]))
            thefts.append(
                {
                    "user": user,
                    "device": 0,
                    "stolen_at_s": stolen,
                    "first_use_at_s": None,
                    "ended_at_s": ended,
                    "end_reason": None if ended is None else reason,
                    "detected": draw(st.booleans()),
                    "detected_at_s": None,
                    "dwell_s": (horizon if ended is None else ended) - stolen,
                    "attacker_refreshes": 0,
                    "victim_reauths": draw(st.integers(0, 3)),
                }
            )
        for _ in range(draw(st.integers(0, 3))):
            left = draw(st.one_of(st.sampled_from([0.0, 30.0, 1800.0, 3599.5]), st.floats(0, 3600)))
            lags.append((user, draw(times(0.0, horizon)), left))
        for _ in range(draw(st.integers(0, 2))):
            rejected.append((user, draw(times(0.0, horizon))))
    storage = (
        like["storage"]
        if like is not None
        else StorageModel(
            usage=draw(st.sampled_from(["one_time", "rotate_keep_old", "reuse"])),
            consumed_retention=draw(st.sampled_from([0.0, 3600.0, 1.5 * DAY])),
            cleanup_interval=draw(st.sampled_from([None, 3600.0, 7 * DAY])),
            row_bytes=300,
        )
    )
    return {
        "window": Window(warmup=warmup, horizon=horizon),
        "users": users,
        "shard_of": shard_of,
        "chains": _frame(chains, CHAIN_COLUMNS),
        "reauths": _frame(reauths, REAUTH_COLUMNS),
        "thefts": _frame(thefts, THEFT_COLUMNS),
        "lags": lags,
        "rejected": rejected,
        "storage": storage,
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def _frame(rows: list[dict], columns: tuple[str, ...]) -> pd.DataFrame:
    wanted = [c for c in columns if c not in ("replication", "persona")]
    frame = pd.DataFrame(rows, columns=wanted)
    for column in ("ended_at_s", "first_use_at_s", "detected_at_s"):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column]).astype(float)
    return frame


def _counts(rng: np.random.Generator, horizon: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    minutes, hours = math.ceil(horizon / 60.0) + 1, math.ceil(horizon / HOUR) + 1
    return (
        rng.poisson(0.3, minutes).astype(np.int32),
        rng.poisson(2.0, (4, hours)).astype(np.int64),
        rng.poisson(0.2, minutes).astype(np.int32),
    )


def _shards(population: dict) -> tuple[list[GroupPartial], dict]:
    """Each shard's partial, in a random order, and the group's summed counts."""
    rng = np.random.default_rng(population["seed"])
    window, horizon = population["window"], population["window"].horizon
    shard_of = np.asarray(population["shard_of"])
    partials, total = [], {"minute": None, "hourly": None, "rotations": None}
    for shard in rng.permutation(np.unique(shard_of)):
        members = set(np.flatnonzero(shard_of == shard).tolist())
        rows = {
            name: population[name][population[name]["user"].isin(members)]
            for name in ("chains", "reauths", "thefts")
        }
        minute, hourly, rotations = _counts(rng, horizon)
        for key, value in (("minute", minute), ("hourly", hourly), ("rotations", rotations)):
            total[key] = value.astype(np.int64) if total[key] is None else total[key] + value
        counts = ShardCounts(
            users=len(members),
            devices=len(members),
            minute_requests=minute,
            hourly=hourly,
            minute_rotations=rotations,
            rejected_logins=[t for user, t in population["rejected"] if user in members],
            revocation_lags=[(at, left) for user, at, left in population["lags"] if user in members],
        )
        columns = {name: {c: frame[c].tolist() for c in frame.columns} for name, frame in rows.items()}
        partials.append(
            shard_partial(
                columns["chains"],
                columns["reauths"],
                columns["thefts"],
                counts,
                window,
                population["storage"],
            )
        )
    return partials, total


def _row_source(population: dict, batch: int) -> rescan.RowSource:
    """The group's rows again, in batches of `batch` rows (the lags as the spool stores them)."""
    lags = pd.DataFrame(
        [(at, left) for _, at, left in population["lags"]], columns=["at_s", "remaining_s"], dtype=float
    )
    tables = {"chains": population["chains"], "thefts": population["thefts"], "lags": lags}

    def rows(name: str, columns):
        frame = tables[name]
        for start in range(0, max(len(frame), 1), batch):
            part = frame.iloc[start : start + batch]
            yield {c: part[c].to_numpy() for c in columns}

    return rows


def _reference(population: dict, total: dict) -> dict[str, float]:
    return whole_metrics(
        population["chains"],
        population["reauths"],
        population["thefts"],
        [(at, left) for _, at, left in population["lags"]],
        [t for _, t in population["rejected"]],
        total["minute"],
        total["hourly"],
        total["rotations"],
        population["users"],
        population["window"],
        population["storage"],
    )


def assert_same(got: dict[str, float], expected: dict[str, float]) -> None:
    assert set(got) == set(expected)
    for name, value in expected.items():
        same = (math.isnan(value) and math.isnan(got[name])) or got[name] == value
        assert same, f"{name}: merged {got[name]!r}, whole {value!r}"


@settings(max_examples=80, deadline=None)
@given(populations(), st.sampled_from([1, 2, 5, 1 << 20]), st.sampled_from([1, 3, 1000]))
def test_merged_metrics_equal_the_whole_population(population: dict, at_once: int, batch: int) -> None:
    partials, total = _shards(population)
    merged = GroupPartial.total(partials)
    with mock.patch.object(rescan, "ROWS_AT_ONCE", at_once):
        got = group_metrics(
            merged, population["window"], population["storage"], _row_source(population, batch)
        )
    assert_same(got, _reference(population, total))

    series = group_timeseries(0, "p", merged, population["window"].horizon, population["storage"])
    expected = whole_timeseries(
        population["chains"],
        total["hourly"],
        total["rotations"],
        population["window"].horizon,
        population["storage"],
    )
    pd.testing.assert_frame_equal(series.drop(columns=["replication", "persona"]), expected, check_exact=True)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_the_whole_population_row_merges_the_personas(data: st.DataObject) -> None:
    """Persona "*" of a replication is computed from the personas' merged partials (and their rows)."""
    first = data.draw(populations())
    second = data.draw(populations(like=first))
    parts = {}
    totals = {}
    for name, population in (("a", first), ("b", second)):
        partials, totals[name] = _shards(population)
        parts[name] = GroupPartial.total(partials)
    rows = replication_metrics(
        0, parts, ["a", "b"], first["window"], first["storage"],
        lambda personas: _union_source([{"a": first, "b": second}[p] for p in personas]),
    )  # fmt: skip
    assert [row["persona"] for row in rows] == [ALL, "a", "b"]
    union = _union(first, second)
    total = {key: totals["a"][key] + totals["b"][key] for key in ("minute", "hourly", "rotations")}
    expected = _reference(union, total)
    assert_same({k: v for k, v in rows[0].items() if k not in ("replication", "persona")}, expected)


def _union(first: dict, second: dict) -> dict:
    """Both populations as one, the second's users numbered after the first's."""
    offset = first["users"]
    union = {
        "users": first["users"] + second["users"],
        "window": first["window"],
        "storage": first["storage"],
    }
    for name in ("chains", "reauths", "thefts"):
        other = second[name].assign(user=second[name]["user"] + offset)
        union[name] = pd.concat([first[name], other], ignore_index=True)
    union["lags"] = first["lags"] + [(u + offset, at, left) for u, at, left in second["lags"]]
    union["rejected"] = first["rejected"] + [(u + offset, t) for u, t in second["rejected"]]
    return union


def _union_source(populations_: list[dict]) -> rescan.RowSource:
    sources = [_row_source(p, 2) for p in populations_]

    def rows(name: str, columns):
        for source in sources:
            yield from source(name, columns)

    return rows
