"""The same sweep gives identical tables on 1 or 2 local workers and on a real Dask cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from distributed import LocalCluster
from pandas.testing import assert_frame_equal

from sim.cli.main import main
from sim.experiments.sweep import run_sweep
from sim.run import executors
from sim.scenario import scenario_from_yaml
from tests.sweep.scenarios import CASES, scenario_text

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "scenarios" / "sweep-sliding-cap.yaml"
TABLES = ("cells", "summary", "differences")


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """A real two-process Dask cluster on loopback."""
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as local:
        yield local


def assert_same_results(a: Path, b: Path) -> None:
    """Every final table and summary.json of two sweep directories are identical."""
    for name in TABLES:
        assert_frame_equal(pd.read_parquet(a / f"{name}.parquet"), pd.read_parquet(b / f"{name}.parquet"))
    assert (a / "summary.json").read_text() == (b / "summary.json").read_text()


def test_identical_across_worker_counts_and_on_dask(tmp_path: Path, cluster: LocalCluster) -> None:
    scenario = scenario_from_yaml(scenario_text(CASES, replications=2, users=12, mobile_users=4))
    for workers in (1, 2):
        run_sweep(scenario, tmp_path / f"local-{workers}", workers=workers)
    run_sweep(scenario, tmp_path / "dask", scheduler=cluster.scheduler_address, workers=2)
    assert_same_results(tmp_path / "local-1", tmp_path / "local-2")
    assert_same_results(tmp_path / "local-1", tmp_path / "dask")
    cells = pd.read_parquet(tmp_path / "dask" / "cells.parquet")
    assert cells["cell"].unique().tolist() == ["c01-as_written", "c02-long_sliding", "c03-bigger_office"]


def test_the_shipped_sweep_on_local_processes_and_on_dask(
    tmp_path: Path, cluster: LocalCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["sweep", str(SHIPPED), "--users-scale", "0.05", "--replications", "2"]
    assert main([*common, "--out", str(tmp_path / "local"), "--workers", "2"]) == 0
    assert "sweep-sliding-cap: 6 cells x 2 replication(s)" in capsys.readouterr().out
    assert main([*common, "--out", str(tmp_path / "dask"), "--scheduler", cluster.scheduler_address]) == 0
    assert_same_results(tmp_path / "local", tmp_path / "dask")
    summary = pd.read_parquet(tmp_path / "dask" / "summary.parquet")
    assert summary["cell"].nunique() == 6
    assert list(summary.columns[:4]) == [
        "cell",
        "label",
        "policy.sliding_lifetime",
        "policy.max_tokens_per_user",
    ]


def test_an_unreachable_scheduler_is_bad_input(
    tmp_path: Path, tiny_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", 0.5)
    code = main(["sweep", str(tiny_path), "--out", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:9"])
    assert code == 2
    assert "cannot connect to the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err


@pytest.fixture
def tiny_path(tmp_path: Path) -> Path:
    """A small sweep scenario file."""
    path = tmp_path / "tiny.yaml"
    path.write_text(scenario_text(CASES, replications=2), encoding="utf-8")
    return path
