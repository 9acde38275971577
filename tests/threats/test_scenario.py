"""The `threats` and `storage` sections: validation, documentation, outputs of `tokensim run`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis.storage import STORAGE_METRICS
from sim.analysis.theft_metrics import THEFT_METRICS, dwell_survival
from sim.cli.main import main
from sim.core.metric_names import METRIC_UNITS
from sim.core.validation import ConfigError
from sim.model.recording import THEFT_COLUMNS
from sim.report.tables import pareto_mask
from sim.scenario import load_scenario, scenario_from_dict
from sim.scenario.threats import Storage, Threats

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "scenarios" / "stolen-tokens.yaml"
BASE = {"name": "x", "horizon": "20d", "policy": {}, "population": [{"name": "p", "users": 2}]}


def _with_persona(**fields: object) -> dict[str, object]:
    return {**BASE, "population": [{"name": "p", "users": 2, **fields}]}


@pytest.mark.parametrize("model", [Threats, Storage], ids=lambda m: m.__name__)
def test_every_field_is_documented(model: type) -> None:
    scenario_doc = (ROOT / "docs" / "scenario.md").read_text(encoding="utf-8")
    for field in model.model_fields:
        assert f"| `{field}` |" in scenario_doc, f"{model.__name__}.{field} is missing from docs/scenario.md"


def test_every_new_metric_and_output_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lags = ("revocation_lag_minutes_mean", "revocation_lag_minutes_p95")
    for name in (*THEFT_METRICS, *lags, *STORAGE_METRICS):
        assert name in METRIC_UNITS
        assert f"| `{name}` |" in readme
    assert "| `thefts.parquet` |" in readme and "`stored_rows`" in readme
    for column in THEFT_COLUMNS[4:]:
        assert column in readme


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (_with_persona(threats={"strategy": "dayly"}), "did you mean 'daily'"),
        (_with_persona(threats={"theft_per_year": 1}), "did you mean 'thefts_per_year'"),
        (_with_persona(threats={"thefts_per_year": -1}), "must be a rate of at least 0"),
        (_with_persona(threats={"stolen_device_share": 1.5}), "must be a probability from 0 to 1"),
        ({**BASE, "storage": {"cleanup_interval": "0s"}}, "or 'none'"),
        ({**BASE, "storage": {"row_bytes": 0}}, "at least 1"),
        ({**BASE, "storage": {"consumed_retention": "-1d"}}, "storage.consumed_retention"),
    ],
)
def test_bad_values_are_reported(data: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        scenario_from_dict(data)
    assert fragment in str(info.value)


def test_defaults_and_the_resolved_form() -> None:
    plain = scenario_from_dict(BASE)
    assert plain.population[0].threats is None
    assert plain.storage == Storage()
    assert (plain.storage.consumed_retention, plain.storage.cleanup_interval, plain.storage.row_bytes) == (
        86400.0, 86400.0, 512,
    )
    config = plain.to_config()
    assert "threats" not in config["population"][0]  # only personas with the section have it
    assert config["storage"] == {"consumed_retention": "1d", "cleanup_interval": "1d", "row_bytes": 512}
    threatened = scenario_from_dict(
        {**_with_persona(threats={"thefts_per_year": 2}), "storage": {"cleanup_interval": "none"}}
    )
    config = threatened.to_config()
    assert config["population"][0]["threats"] == {
        "thefts_per_year": 2.0, "stolen_device_share": 0.0, "strategy": "immediate",
    }
    assert config["storage"]["cleanup_interval"] == "none"
    assert scenario_from_dict(config) == threatened


def test_run_writes_thefts_and_the_new_metrics(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", str(SHIPPED), "--out", str(out), "--users-scale", "0.2", "--replications", "2",
            "--workers", "1", "--quiet"]
    assert main(args) == 0
    thefts = pd.read_parquet(out / "thefts.parquet")
    assert list(thefts.columns) == list(THEFT_COLUMNS)
    assert len(thefts) > 0 and set(thefts["persona"]) <= {"office", "phone"}
    ended = thefts["ended_at_s"].notna()
    assert (thefts.loc[ended, "end_reason"].notna()).all() and thefts.loc[~ended, "end_reason"].isna().all()
    assert (thefts["dwell_s"] >= 0).all()
    summary = json.loads((out / "summary.json").read_text())
    for name in (*THEFT_METRICS, "revocation_lag_minutes_mean", *STORAGE_METRICS):
        assert name in summary["metrics"], name
    assert summary["metrics"]["theft_detected_share"]["mean"] > 0.5  # rotation with family revocation
    timeseries = pd.read_parquet(out / "timeseries.parquet")
    assert "stored_rows" in timeseries.columns
    # the hourly samples are some of the minutes behind the peak
    window = timeseries[timeseries["t_s"] >= 30 * 86400]
    per_hour = window.groupby(["replication", "hour"])["stored_rows"].sum().groupby("replication").max()
    peaks = summary["per_replication"]["stored_rows_peak"]
    assert all(per_hour.to_numpy() <= np.asarray(peaks))


def test_a_scenario_without_threats_has_null_theft_figures(tmp_path: Path) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text(
        "name: plain\nhorizon: 10d\nreplications: 2\npolicy: {}\npopulation:\n  - {name: p, users: 3}\n"
    )
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    text = (out / "summary.json").read_text()
    summary = json.loads(text)  # valid JSON: NaN is written as null
    for name in THEFT_METRICS:
        assert summary["metrics"][name]["mean"] is None
    assert summary["metrics"]["revocation_lag_minutes_mean"]["mean"] is None  # nothing was revoked
    assert summary["metrics"]["stored_rows_mean"]["mean"] > 0
    assert pd.read_parquet(out / "thefts.parquet").empty


def test_the_shipped_scenario_has_threats_and_storage() -> None:
    scenario = load_scenario(SHIPPED)
    assert all(p.threats is not None and p.threats.active for p in scenario.population)
    assert scenario.storage.cleanup_interval == 3600.0
    assert sum(p.users for p in scenario.population) <= 300


def test_dwell_survival_and_pareto_front() -> None:
    thefts = pd.DataFrame(
        {
            "persona": ["a", "a", "b", "b"],
            "stolen_at_s": [0.0, 0.0, 0.0, 0.0],
            "end_reason": ["revoked", None, "consumed", "no_token"],
            "ended_at_s": [86400.0, math.nan, 2 * 86400.0, 0.0],
            "dwell_s": [86400.0, 3 * 86400.0, 2 * 86400.0, 0.0],
        }
    )
    curve = dwell_survival(thefts, warmup=0.0)
    everyone = curve[curve["persona"] == "*"]
    assert everyone["dwell_days"].tolist() == [1.0, 2.0, 3.0]
    assert everyone["survival"].tolist() == pytest.approx([2 / 3, 1 / 3, 1 / 3])
    friction = np.array([1.0, 2.0, 3.0, 0.5, math.nan])
    front = np.nonzero(pareto_mask(np.array([5.0, 1.0, 2.0, 9.0, 0.0]), friction))[0]
    front = front[np.argsort(friction[front])]
    assert front.tolist() == [3, 0, 1]  # (0.5, 9), (1, 5), (2, 1); (3, 2) is beaten by (2, 1)
