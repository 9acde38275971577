"""One run on a real Dask cluster (2 single-threaded worker processes on 127.0.0.1) equals the local run.

`tokensim run --scheduler` writes the same summary.json, byte for byte, as a local run (whose files are
the same for any number of workers and shards: tests/test_spool.py); its row tables are partitioned
Parquet datasets that the workers wrote themselves, readable as one table by pandas, pyarrow, DuckDB
and dask.dataframe and equal to the single files of a local run; the report reads them;
`sim.api.run(..., scheduler=...)` gives the same figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dask.dataframe as dd
import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from distributed import LocalCluster
from pandas.testing import assert_frame_equal

import sim.run.shards
from sim import api
from sim.cli.main import main
from sim.run import executors
from sim.run.spool import TABLES
from tests.test_spool import scenario_text


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """A real two-process Dask cluster on loopback, one thread per worker."""
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as local:
        yield local


@pytest.fixture(scope="module")
def runs(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same scenario run locally on one worker and on the cluster with tiny shards (and a report)."""
    root = tmp_path_factory.mktemp("runs")
    path = root / "scenario.yaml"
    path.write_text(scenario_text())
    out = {}
    with pytest.MonkeyPatch.context() as patch:
        out["one"] = root / "one"
        assert main(["run", str(path), "--out", str(out["one"]), "--quiet", "--workers", "1"]) == 0
        patch.setattr(sim.run.shards, "MAX_SHARD_USERS", 4)  # many shards on the cluster
        out["dask"] = root / "dask"
        args = ["run", str(path), "--out", str(out["dask"]), "--quiet", "--report"]
        assert main([*args, "--scheduler", cluster.scheduler_address]) == 0
    return out


def test_the_cluster_run_writes_the_same_summary_byte_for_byte(runs: dict[str, Path]) -> None:
    assert (runs["dask"] / "summary.json").read_bytes() == (runs["one"] / "summary.json").read_bytes()
    for name in ("replications", "timeseries"):
        local, dask = (pd.read_parquet(runs[label] / f"{name}.parquet") for label in ("one", "dask"))
        assert_frame_equal(dask, local, check_exact=True)


def test_the_cluster_run_writes_partitioned_datasets(runs: dict[str, Path]) -> None:
    out = runs["dask"]
    names = sorted(p.name for p in out.iterdir() if p.name not in ("figures", ".tokensim-manifest.json"))
    assert names == sorted(["summary.json", *TABLES, "timeseries.parquet", "replications.parquet",
                            "report.md", "report.html"])  # fmt: skip
    parts = sorted(p.relative_to(out / "chains").as_posix() for p in (out / "chains").rglob("*.parquet"))
    assert parts[0] == "replication=0/part-p00000-u000000000000.parquet"
    assert {p.split("/")[0] for p in parts} == {"replication=0", "replication=1"}
    assert len(parts) > 4  # one per shard (4 users a shard)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
@pytest.mark.parametrize("name", TABLES)
def test_every_reader_sees_the_local_table(runs: dict[str, Path], name: str) -> None:
    """pandas, pyarrow, DuckDB and dask.dataframe read the dataset as one table equal to the local file."""
    local = pd.read_parquet(runs["one"] / f"{name}.parquet")
    dataset = runs["dask"] / name
    columns = list(local.columns)
    keys = [c for c in columns if c in ("replication", "persona", "user", "device", "chain", "at_s",
                                        "stolen_at_s")]  # fmt: skip

    def normal(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame[columns].astype({"replication": "int64"})
        frame = frame.astype({c: "str" for c in columns if local[c].dtype == "str"})
        return frame.sort_values(keys, kind="stable").reset_index(drop=True)

    expected = normal(local)
    readers = {
        "pandas": lambda: pd.read_parquet(dataset),
        "pyarrow": lambda: pq.read_table(dataset).to_pandas(),
        "duckdb": lambda: duckdb.sql(
            f"SELECT * FROM read_parquet('{dataset}/*/*.parquet', hive_partitioning = true)"
        ).df(),
        "dask": lambda: dd.read_parquet(str(dataset)).compute(),
    }
    for reader, read in readers.items():
        got = read()
        assert len(got) == len(local), reader
        assert_frame_equal(normal(got), expected, check_dtype=False, obj=f"{name} via {reader}")


def test_the_api_runs_on_the_cluster_with_the_same_figures(cluster: LocalCluster) -> None:
    scenario = api.scenario_from_dict(yaml.safe_load(scenario_text()))
    address = cluster.scheduler_address
    with api.run(scenario, workers=1) as local, api.run(scenario, scheduler=address) as dask:
        assert_frame_equal(dask.replication_metrics, local.replication_metrics, check_exact=True)
        assert_frame_equal(dask.chains, local.chains, check_exact=True)
        assert api.summary(dask) == api.summary(local)


def test_an_unreachable_scheduler_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(scenario_text())
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", 0.5)
    code = main(["run", str(path), "--out", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:9"])
    assert code == 2
    assert "cannot connect to the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
