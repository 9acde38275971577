"""The public Python API (`sim.api`): overrides, metrics, paired differences, and its documentation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from sim import api
from sim.core.validation import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_every_public_name_is_documented() -> None:
    text = (ROOT / "docs" / "api.md").read_text()
    functions = [name for name in api.__all__ if name[0].islower()]
    types = [name for name in api.__all__ if name[0].isupper()]
    assert [name for name in functions if not re.search(rf"`{name}\(", text)] == []
    assert [name for name in types if f"`{name}`" not in text and f"`{name} " not in text] == []
    assert "docs/api.md" in (ROOT / "README.md").read_text()


def test_overrides_by_dotted_path_and_by_keyword(tiny_scenario: Path) -> None:
    overrides = {"policy.sliding_lifetime": "5d", "population.mobile.users": 3}
    by_path = api.with_overrides(tiny_scenario, overrides)
    assert by_path.policy.sliding_lifetime == 5 * 86400
    assert [p.users for p in by_path.population] == [16, 3]
    result = api.run(tiny_scenario, workers=1, replications=2, users_scale=0.5, policy__max_tokens_per_user=1)
    assert result.scenario.policy.max_tokens_per_user == 1
    assert result.scenario.replications == 2 and [p.users for p in result.scenario.population] == [8, 5]
    with pytest.raises(ConfigError, match="did you mean 'sliding_lifetime'"):
        api.with_overrides(tiny_scenario, {"policy.sliding_lifetim": "5d"})
    with pytest.raises(ConfigError, match="sliding_lifetime"):
        api.with_overrides(tiny_scenario, {"policy.sliding_lifetime": "soon"})


def test_metric_compare_and_paired_difference(tiny_scenario: Path, run_dir: Path) -> None:
    short = api.run(tiny_scenario, workers=1, policy__sliding_lifetime="1d")
    long = api.run(tiny_scenario, workers=1)  # the scenario's 3d, the same seed: common random numbers
    recorded = json.loads((run_dir / "summary.json").read_text())
    name = "forced_reauth_per_user_month"
    assert api.metric(long, name).model_dump(mode="json") == recorded["metrics"][name]
    assert api.metric(long, name, "mobile").model_dump(mode="json") == recorded["by_persona"]["mobile"][name]
    with pytest.raises(KeyError, match="did you mean 'forced_reauth_per_user_month'"):
        api.metric(long, "forced_reauth_per_user_mnth")
    with pytest.raises(KeyError, match="did you mean 'mobile'"):
        api.metric(long, name, "mobil")

    mean, low, high = api.paired_difference(short, long, name)
    per_rep = [
        frame[frame["persona"] == "*"].sort_values("replication")[name].to_numpy()
        for frame in (short.replication_metrics, long.replication_metrics)
    ]
    diff = per_rep[0] - per_rep[1]
    assert mean == pytest.approx(diff.mean())
    assert low < mean < high and high - low == pytest.approx(
        2 * 4.302652729911275 * diff.std(ddof=1) / np.sqrt(len(diff)))  # t(0.975, 2 df)

    table = api.compare_runs({"1d": short, "3d": long}, [name, "active_chains_per_user"])
    assert table["label"].tolist() == ["1d", "1d", "3d", "3d"]
    row = table[(table["label"] == "3d") & (table["metric"] == name)].iloc[0]
    assert row["mean"] == pytest.approx(recorded["metrics"][name]["mean"])
    assert row["exposure_days"] == 3.0  # the idle window: the sliding lifetime, no absolute limit


def test_plots_write_and_report(tiny_scenario: Path, tmp_path: Path) -> None:
    result = api.run(tiny_scenario, workers=1, users_scale=0.3)
    for plot in (api.plot_survival, api.plot_causes, api.plot_active_chains, api.plot_chains_per_user,
                 api.plot_weekly_load):
        assert isinstance(plot(result), Figure)
    out = api.write(result, tmp_path / "run")
    paths = api.report(out)
    assert paths.html.is_file() and set(paths.figures) == {
        "survival", "reauth_causes", "active_chains", "chains_per_user", "weekly_load", "storage"}
    saved = api.save_figure(api.plot_survival(result), tmp_path / "figs", "km")
    assert saved["png"].stat().st_size > 0 and saved["svg"].stat().st_size > 0
