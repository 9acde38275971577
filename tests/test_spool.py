"""The row tables go to disk shard by shard (sim/run/spool.py) and come back identical whatever the shards.

The reference for every table is built here the way `run_scenario` used to build it: every user of a
persona and replication simulated in one shard, rows concatenated in memory and sorted by
(replication, persona in population order, user, ...). Tables streamed from the spool, read back by
`RunResult`, and written by `tokensim run` (Parquet and CSV) must equal it, and the metrics, merged from
shard partials, must equal the whole-population computation on those tables
(tests/metrics/whole_population.py).
"""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

import sim.run.runner
import sim.run.shards
import sim.run.spool
from sim.analysis.counts import SparseArray
from sim.analysis.metrics import Window
from sim.analysis.storage import StorageModel
from sim.cli.main import main
from sim.core.metric_names import ALL
from sim.model.recording import CHAIN_COLUMNS, REAUTH_COLUMNS, THEFT_COLUMNS, Recorder
from sim.run.runner import RunResult, run_scenario
from sim.run.shards import ShardTask, plan_shards, run_shard, simulate_shard
from sim.run.spool import MARKER, ORDER, SCHEMAS, SPOOL_TABLES, TABLES, SpoolTarget, TableSpool
from sim.scenario import Scenario, scenario_from_yaml
from tests.metrics.whole_population import whole_metrics, whole_timeseries

THREATS = {
    "office": "    threats: {thefts_per_year: 6, strategy: immediate}\n",
    "phone": "    threats: {stolen_device_share: 0.5, strategy: when_idle}\n",
}


def scenario_text(threats: bool = True) -> str:
    return f"""\
name: spool
seed: 11
horizon: 40d
warmup: 5d
replications: 2
policy:
  refresh_token_usage: one_time
  absolute_lifetime: 30d
  sliding_lifetime: 5d
  reuse_interval: 10s
  on_reuse: revoke_family
  max_tokens_per_user: 2
  access_token_lifetime: 1h
population:
  - name: phone
    users: 9
    activity: {{sessions_per_day: 3, session_duration: 5m}}
    lifecycle: {{password_changes_per_year: 4}}
{THREATS["phone"] if threats else ""}\
  - name: office
    users: 13
    devices: 2
    activity:
      schedule: weekdays
      sessions_per_day: 2
      session_duration: {{lognormal: {{median: 1h, sigma: 0.8}}}}
      fresh_login: 0.1
    lifecycle: {{logout_at_session_end: 0.05, password_changes_per_year: 4}}
{THREATS["office"] if threats else ""}"""


COLUMNS = {"chains": CHAIN_COLUMNS, "reauths": REAUTH_COLUMNS, "thefts": THEFT_COLUMNS}
DTYPES = {"int64": "int64", "double": "float64", "string": "str", "bool": "bool"}


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    # persona order "phone" before "office": the tables follow the population, not the alphabet
    return scenario_from_yaml(scenario_text())


@pytest.fixture
def tiny_shards(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sim.run.shards, "MAX_SHARD_USERS", 4)
    return 4


def whole_recorders(scenario: Scenario) -> list[tuple[ShardTask, Recorder]]:
    """Every persona and replication in one shard: the planned first shards widened to all users."""
    firsts = [task for task in plan_shards(scenario, workers=1) if task.start == 0]
    tasks = [dataclasses.replace(task, stop=task.persona.users) for task in firsts]
    assert len(tasks) == len(scenario.population) * scenario.replications
    return [(task, simulate_shard(task)) for task in tasks]


def reference_table(recorders: list[Recorder], name: str, personas: list[str]) -> pd.DataFrame:
    """A table built whole in memory and sorted as run_scenario did before the spool."""
    columns = row_columns(recorders, name)
    frame = pd.DataFrame(columns)
    frame = frame.astype({f.name: DTYPES[str(f.type)] for f in SCHEMAS[name]})
    frame["persona"] = pd.Categorical(frame["persona"], categories=personas, ordered=True)
    frame = frame.sort_values(list(ORDER[name]), kind="stable").reset_index(drop=True)
    frame["persona"] = frame["persona"].astype("str")
    return frame


def row_columns(recorders: list[Recorder], name: str) -> dict[str, list]:
    return {c: [v for rec in recorders for v in getattr(rec, name)[c]] for c in COLUMNS[name]}


@pytest.fixture(scope="module")
def reference(scenario: Scenario) -> dict[str, pd.DataFrame]:
    """The reference tables and metrics (computed on whole tables, as before the spool)."""
    pairs = whole_recorders(scenario)
    personas = [p.name for p in scenario.population]
    recorders = [rec for _, rec in pairs]
    tables = {name: reference_table(recorders, name, personas) for name in TABLES}
    storage = StorageModel.of(scenario)
    window = Window(scenario.warmup, scenario.horizon)
    by_key = {key: rec for rec in recorders for key in rec.users}
    rows, series = [], []
    for replication in range(scenario.replications):
        for persona in [ALL, *personas]:
            members = personas if persona == ALL else [persona]
            keys = [(replication, p) for p in members]
            rows.append({"replication": replication, "persona": persona, **group_reference(
                tables, [by_key[k] for k in keys], keys, window, storage
            )})  # fmt: skip
        for persona in sorted(personas):
            rec, frame = by_key[(replication, persona)], _of(tables["chains"], [(replication, persona)])
            counts = rec.hourly_counts[(replication, persona)]
            rotations = rec.minute_rotations.get((replication, persona))
            ts = whole_timeseries(frame, counts, rotations, scenario.horizon, storage)
            series.append(pd.concat([pd.DataFrame({"replication": [replication] * len(ts),
                                                   "persona": persona}), ts], axis=1))  # fmt: skip
    tables["replication_metrics"] = pd.DataFrame(rows)
    tables["timeseries"] = pd.concat(series, ignore_index=True)
    # the scenario must exercise every table, both personas and both replications
    for name in TABLES:
        assert set(tables[name]["persona"]) == set(personas), name
        assert set(tables[name]["replication"]) == {0, 1}, name
    assert tables["chains"]["ended_at_s"].isna().any() and tables["thefts"]["detected_at_s"].isna().any()
    return tables


def _of(frame: pd.DataFrame, keys: list[tuple[int, str]]) -> pd.DataFrame:
    rows = frame[[(r, p) in keys for r, p in zip(frame["replication"], frame["persona"], strict=True)]]
    return rows.reset_index(drop=True)


def group_reference(
    tables: dict[str, pd.DataFrame], recs: list[Recorder], keys: list[tuple[int, str]], window: Window,
    storage: StorageModel,
) -> dict[str, float]:
    """The whole-population metrics of the groups `keys` (a persona, or all of a replication)."""
    frames = {}
    for name in TABLES:
        frame = _of(tables[name], keys)
        # a user is a persona and an index: one owner number per user across personas
        owner = frame["persona"].map({p: i for i, (_, p) in enumerate(keys)}) * 1_000_000 + frame["user"]
        frames[name] = frame.assign(user=owner.astype(np.int64))

    def total(attribute: str) -> np.ndarray | None:
        arrays = [getattr(rec, attribute)[k] for rec, k in zip(recs, keys, strict=True)
                  if k in getattr(rec, attribute)]  # fmt: skip
        return np.sum(arrays, axis=0, dtype=np.int64) if arrays else None

    return whole_metrics(
        frames["chains"], frames["reauths"], frames["thefts"],
        [lag for rec, k in zip(recs, keys, strict=True) for lag in rec.revocation_lags.get(k, [])],
        [t for rec, k in zip(recs, keys, strict=True) for t in rec.rejected_logins.get(k, [])],
        total("minute_requests"), total("hourly_counts"), total("minute_rotations"),
        sum(rec.users[k] for rec, k in zip(recs, keys, strict=True)), window, storage,
    )  # fmt: skip


# -- the tables and metrics of a run --------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_streamed_tables_and_metrics_equal_the_in_memory_reference(
    scenario: Scenario, reference: dict[str, pd.DataFrame], tiny_shards: int, workers: int
) -> None:
    with run_scenario(scenario, workers=workers) as result:
        for name in TABLES:
            assert_frame_equal(getattr(result, name), reference[name], check_exact=True, obj=name)
        # bitwise: merged partials give the whole-population figures (float sums correctly rounded)
        assert_frame_equal(result.replication_metrics, reference["replication_metrics"], check_exact=True)
        assert_frame_equal(result.timeseries, reference["timeseries"], check_exact=True)


def test_the_tables_are_read_on_first_access_only(scenario: Scenario, tmp_path: Path) -> None:
    result = run_scenario(scenario, workers=1, spool_dir=tmp_path / "spool")
    assert not {"chains", "reauths", "thefts"} & set(vars(result))
    chains = result.chains
    assert "chains" in vars(result) and result.chains is chains
    assert not {"reauths", "thefts"} & set(vars(result))


def test_workers_write_their_parts_and_return_counts_not_rows(
    scenario: Scenario, tiny_shards: int, tmp_path: Path
) -> None:
    spool = TableSpool(tmp_path / "spool", [p.name for p in scenario.population])
    task = plan_shards(scenario, workers=1, spool=spool.target)[0]
    result = run_shard(task)
    assert result.tables is None  # written by the worker itself
    assert [p.relative_to(spool.directory).as_posix() for p in spool.parts("chains")] == [
        f"chains/replication={task.replication}/part-p00000-u{task.start:012d}.parquet"
    ]
    chains = len(spool.read("chains"))
    assert chains > 0
    # counts, sums and per-minute histograms (sent sparse when mostly empty): the sizes are the
    # horizon's, the same for a shard of one user
    one_user = run_shard(dataclasses.replace(task, stop=task.start + 1, spool=None)).partial
    for name, value in vars(result.partial).items():
        assert not isinstance(value, (list, pd.DataFrame)), name
        if isinstance(value, SparseArray):
            assert len(value.index) <= value.size and value.size == _size(getattr(one_user, name)), name
        elif isinstance(value, np.ndarray):
            assert value.shape == getattr(one_user, name).shape, name

    elsewhere = dataclasses.replace(task, spool=SpoolTarget(str(spool.directory), "another run's token"))
    returned = run_shard(elsewhere)
    assert returned.tables is not None and returned.tables["chains"].num_rows == chains
    assert returned.partial.users == result.partial.users

    tasks = plan_shards(scenario, workers=2)
    assert len(tasks) > 2 * len(scenario.population) * scenario.replications  # really several shards
    with run_scenario(scenario, workers=2, spool_dir=tmp_path / "run") as run:
        for name in TABLES:
            parts = run.spool.parts(name)
            assert len(parts) == len(tasks), name
            expected = [(t.replication, t.persona.name, t.start) for t in tasks]
            assert [_part_key(run.spool, p) for p in parts] == expected, name


def _size(counts: np.ndarray | SparseArray) -> int:
    return counts.size if isinstance(counts, SparseArray) else len(counts)


def test_a_run_whose_workers_cannot_reach_the_spool_is_the_same(
    scenario: Scenario, reference: dict[str, pd.DataFrame], tiny_shards: int
) -> None:
    """Workers on other machines return their rows; the main process writes them: same tables, figures."""
    from sim.run.executors import local_executor

    with local_executor(2) as pool:

        def remote(tasks: list[ShardTask], workers: int):
            hidden = [dataclasses.replace(t, spool=SpoolTarget("/nonexistent/spool", "x")) for t in tasks]
            originals = {id(h): t for h, t in zip(hidden, tasks, strict=True)}
            for task, result in pool(hidden, workers):
                assert result.tables is not None
                yield originals.get(id(task), task), result

        with run_scenario(scenario, workers=2, executor=remote) as result:
            for name in TABLES:
                assert_frame_equal(getattr(result, name), reference[name], check_exact=True, obj=name)
            assert_frame_equal(result.replication_metrics, reference["replication_metrics"], check_exact=True)


def _part_key(spool: TableSpool, path: Path) -> tuple[int, str, int]:
    replication = int(path.parent.name.split("=")[1])
    _, persona, start = path.stem.split("-")
    return replication, spool.personas[int(persona[1:])], int(start[1:])


def test_read_selects_columns_and_one_replication(
    scenario: Scenario, reference: dict[str, pd.DataFrame], tiny_shards: int
) -> None:
    with run_scenario(scenario, workers=2) as result:
        columns = ["persona", "user", "ended_at_s"]
        got = result.spool.read("chains", columns, replication=1)
        whole = reference["chains"]
        expected = whole[whole["replication"] == 1][columns].reset_index(drop=True)
        assert_frame_equal(got, expected, check_exact=True)
        assert list(result.spool.read("thefts", ["dwell_s"], replication=7).columns) == ["dwell_s"]
        with pytest.raises(KeyError, match="unknown table"):
            result.spool.read("timeseries")


# -- tokensim run -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_run_writes_the_same_files_whatever_the_workers_and_shards(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference: dict[str, pd.DataFrame]
) -> None:
    path = tmp_path / "spool.yaml"
    path.write_text(scenario_text())
    # small row groups, so that they straddle the parts of different shards
    monkeypatch.setattr(sim.run.spool, "ROW_GROUP_ROWS", 37)
    runs = {"one": ("1", 2000), "two": ("2", 2000), "tiny": ("2", 3)}
    for label, (workers, shard_users) in runs.items():
        monkeypatch.setattr(sim.run.shards, "MAX_SHARD_USERS", shard_users)
        out = tmp_path / label
        args = ["run", str(path), "--out", str(out), "--quiet", "--workers", workers, "--format", fmt]
        assert main(args) == 0
    names = sorted(p.name for p in (tmp_path / "one").iterdir() if p.name != ".tokensim-manifest.json")
    assert names == sorted(["summary.json", *(f"{t}.{fmt}" for t in [*TABLES, "timeseries", "replications"])])
    for label in ("two", "tiny"):
        listed = sorted(p.name for p in (tmp_path / label).iterdir() if p.name != ".tokensim-manifest.json")
        assert listed == names
        for name in names:
            same = (tmp_path / label / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
            assert same, (label, name)
    # and the files hold the reference tables
    for name in TABLES:
        written = tmp_path / "one" / f"{name}.{fmt}"
        if fmt == "csv":
            assert written.read_text(encoding="utf-8") == reference[name].to_csv(index=False), name
        else:
            assert pq.ParquetFile(written).metadata.num_row_groups == -(-len(reference[name]) // 37)
            assert pq.read_schema(written).equals(SCHEMAS[name]), name
            assert_frame_equal(pd.read_parquet(written), reference[name], check_exact=True, obj=name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "spool.yaml", "tiny", "two"]


def test_empty_tables_are_valid_files_with_their_columns(tmp_path: Path) -> None:
    path = tmp_path / "quiet.yaml"
    path.write_text(scenario_text(threats=False))
    for fmt in ("parquet", "csv"):
        out = tmp_path / fmt
        assert main(["run", str(path), "--out", str(out), "--quiet", "--workers", "2", "--format", fmt]) == 0
    header = ",".join(THEFT_COLUMNS) + "\n"
    assert (tmp_path / "csv" / "thefts.csv").read_text(encoding="utf-8") == header
    assert pq.read_schema(tmp_path / "parquet" / "thefts.parquet").equals(SCHEMAS["thefts"])
    thefts = pd.read_parquet(tmp_path / "parquet" / "thefts.parquet")
    assert thefts.empty and list(thefts.columns) == list(THEFT_COLUMNS)
    assert thefts["first_use_at_s"].dtype == np.float64 and thefts["end_reason"].dtype == "str"
    with run_scenario(scenario_from_yaml(scenario_text(threats=False)), workers=1) as result:
        assert result.thefts.empty and list(result.thefts.columns) == list(THEFT_COLUMNS)
        assert_frame_equal(result.thefts, thefts)
        assert len(result.chains) > 0


# -- nothing left behind ----------------------------------------------------------------------------


def test_a_result_removes_its_temporary_spool(scenario: Scenario) -> None:
    result = run_scenario(scenario, workers=1)
    directory = result.spool.directory
    assert len(result.spool.parts("chains")) == len(plan_shards(scenario, workers=1))
    chains = result.chains
    result.close()
    assert not directory.exists()
    assert len(chains) > 0 and result.chains is chains  # loaded before the close: still there

    with run_scenario(scenario, workers=1) as result:
        directory = result.spool.directory
        assert directory.exists()
    assert not directory.exists()

    directory = run_scenario(scenario, workers=1).spool.directory  # dropped at once
    gc.collect()
    assert not directory.exists()


def test_a_spool_dir_belongs_to_the_caller(scenario: Scenario, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    with run_scenario(scenario, workers=1, spool_dir=spool):
        pass
    assert sorted(p.name for p in spool.iterdir()) == sorted([*SPOOL_TABLES, MARKER])  # the caller's
    with pytest.raises(FileExistsError):
        run_scenario(scenario, workers=1, spool_dir=spool)  # never mixed with an earlier run's parts


def test_run_leaves_nothing_behind_when_it_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "spool.yaml"
    path.write_text(scenario_text())
    out = tmp_path / "out"

    def broken(*args: object) -> None:
        raise RuntimeError("metrics failed")

    monkeypatch.setattr(sim.run.runner, "replication_metrics", broken)
    with pytest.raises(RuntimeError, match="metrics failed"):
        main(["run", str(path), "--out", str(out), "--quiet", "--workers", "1"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spool.yaml"]  # no out, no hidden spool

    monkeypatch.undo()
    assert main(["run", str(path), "--out", str(out), "--quiet", "--workers", "1"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken_write(
        self: RunResult, out: Path, fmt: str = "parquet", layout: str | None = None
    ) -> list[Path]:
        self.spool.write("chains", out / "chains.parquet", "parquet")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(RunResult, "write_tables", broken_write)
    assert main(["run", str(path), "--out", str(out), "--quiet", "--workers", "1", "--force"]) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "spool.yaml"]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the earlier results, untouched
