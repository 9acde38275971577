"""`tokensim compare`: a tiny population under several presets, the files it writes, the paired
differences, and bad input (exit status 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sim.cli.main import main
from sim.core.durations import parse_duration
from sim.experiments.compare import METRICS
from sim.policy.model import Policy
from sim.policy.presets import PRESETS, Preset

TINY = """\
name: tiny-compare
description: two small personas for the compare tests
seed: 5
horizon: 40d
warmup: 5d
replications: 4
policy:                       # ignored by compare
  preset: visma_connect
  max_tokens_per_user: 1
population:
  - name: office
    users: 24
    devices: 2
    activity:
      schedule: weekdays
      sessions_per_day: 2
      session_duration: {exponential: {mean: 2h}}
  - name: occasional
    users: 16
    activity: {sessions_per_day: 0.2}
"""
PRESET_LIST = ["duende_identityserver", "okta", "entra_id"]
FILES = (
    "comparison.parquet",
    "differences.parquet",
    "replications.parquet",
    "comparison.json",
    "comparison.png",
    "comparison.svg",
    "comparison.md",
    "tradeoff.png",
    "tradeoff.svg",
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="module")
def compared(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("compare") / "out"
    status = main(["compare", str(tiny), "--presets", ",".join(PRESET_LIST), "--out", str(out),
                   "--workers", "1", "--quiet"])
    assert status == 0
    return out


def _widths(diffs: pd.DataFrame) -> pd.DataFrame:
    return diffs.assign(
        paired=diffs["ci_high"] - diffs["ci_low"],
        unpaired=diffs["unpaired_ci_high"] - diffs["unpaired_ci_low"],
    )


def test_compare_writes_every_file(compared: Path) -> None:
    for name in FILES:
        assert (compared / name).is_file() and (compared / name).stat().st_size > 0, name
    assert not list(compared.glob(".*.tmp")), "a temporary file was left behind"
    assert (compared / "comparison.png").read_bytes().startswith(b"\x89PNG")
    assert "<svg" in (compared / "comparison.svg").read_text()
    assert "comparison.svg" in (compared / "comparison.md").read_text()
    assert (compared / "tradeoff.png").read_bytes().startswith(b"\x89PNG")
    assert (compared / "tradeoff.png").stat().st_size > 5_000
    assert "<svg" in (compared / "tradeoff.svg").read_text()
    assert "](tradeoff.svg)" in (compared / "comparison.md").read_text()


def test_policies_are_listed_in_words(compared: Path) -> None:
    text = (compared / "comparison.md").read_text()
    entra = next(line for line in text.splitlines() if line.startswith("- `entra_id`"))
    # Entra ID's access tokens live a random 60-90 minutes: shown in words, not as JSON
    assert "access_token_lifetime uniform(low 1h, high 90m)" in entra, entra
    assert "{" not in entra


def test_comparison_table_has_one_row_per_preset_persona_and_metric(compared: Path) -> None:
    table = pd.read_parquet(compared / "comparison.parquet")
    assert list(table.columns) == ["preset", "persona", "metric", "mean", "ci_low", "ci_high", "unit"]
    assert list(dict.fromkeys(table["preset"])) == PRESET_LIST
    assert set(table["persona"]) == {"*", "office", "occasional"}
    assert set(table["metric"]) == {name for name, _ in METRICS}
    assert len(table) == len(PRESET_LIST) * 3 * len(METRICS)
    assert not table.duplicated(["preset", "persona", "metric"]).any()
    forced = table[(table["metric"] == "forced_reauth_per_user_month") & (table["persona"] == "*")]
    assert (forced["ci_low"] <= forced["mean"]).all() and (forced["mean"] <= forced["ci_high"]).all()


def test_the_first_presets_differences_are_zero(compared: Path) -> None:
    diffs = pd.read_parquet(compared / "differences.parquet")
    reps = [f"diff_rep{r}" for r in range(4)]
    assert set(reps) <= set(diffs.columns)
    first = diffs[diffs["preset"] == PRESET_LIST[0]]
    assert len(first) == 3 * len(METRICS)
    values = first[["mean_diff", "ci_low", "ci_high", *reps]].to_numpy(dtype=float)
    assert ((values == 0) | pd.isna(values)).all()
    assert (diffs["baseline"] == PRESET_LIST[0]).all()


def test_per_replication_differences_match_the_replications_table(compared: Path) -> None:
    diffs = pd.read_parquet(compared / "differences.parquet").set_index(["preset", "persona", "metric"])
    reps = pd.read_parquet(compared / "replications.parquet")
    metric = "refresh_requests_per_user_month"
    values = reps[reps["persona"] == "*"].set_index(["preset", "replication"])[metric]
    for r in range(4):
        expected = values[("entra_id", r)] - values[(PRESET_LIST[0], r)]
        assert diffs.loc[("entra_id", "*", metric), f"diff_rep{r}"] == pytest.approx(expected)
    row = diffs.loc[("entra_id", "*", metric)]
    assert row["mean_diff"] == pytest.approx(sum(row[f"diff_rep{r}"] for r in range(4)) / 4)


def test_paired_differences_are_narrower_than_unpaired(compared: Path) -> None:
    """Common random numbers: the same users in every preset, so paired intervals are narrower."""
    diffs = _widths(pd.read_parquet(compared / "differences.parquet"))
    others = diffs[(diffs["preset"] != PRESET_LIST[0]) & (diffs["persona"] == "*")].dropna(
        subset=["paired", "unpaired"]
    )
    assert others["paired"].sum() < others["unpaired"].sum()
    by_key = others.set_index(["preset", "metric"])
    assert by_key.loc[("okta", "forced_reauth_per_user_month"), "paired"] < by_key.loc[
        ("okta", "forced_reauth_per_user_month"), "unpaired"
    ]
    assert by_key.loc[("entra_id", "refresh_requests_per_user_month"), "paired"] < by_key.loc[
        ("entra_id", "refresh_requests_per_user_month"), "unpaired"
    ]


def test_json_holds_the_tables_and_each_presets_default_policy(compared: Path) -> None:
    content = json.loads((compared / "comparison.json").read_text())
    assert content["kind"] == "compare" and content["presets"] == PRESET_LIST
    assert content["baseline"] == PRESET_LIST[0]
    assert content["replications"] == 4 and content["users"] == 40
    for name in PRESET_LIST:  # the scenario's own policy (visma_connect, cap 1) is not used
        assert content["policies"][name] == Policy.from_dict({"preset": name}).to_config()
    assert "policy" not in content["scenario_without_policy"]
    assert len(content["comparison"]) == len(pd.read_parquet(compared / "comparison.parquet"))
    assert len(content["differences"]) == len(pd.read_parquet(compared / "differences.parquet"))


def test_csv_format_and_refusing_a_non_empty_directory(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "csv"
    args = ["compare", str(tiny), "--presets", "okta", "--out", str(out), "--format", "csv",
            "--replications", "2", "--users-scale", "0.25", "--workers", "1", "--quiet"]
    assert main(args) == 0
    table = pd.read_csv(out / "comparison.csv")
    assert set(table["preset"]) == {"okta"}
    assert (out / "differences.csv").is_file() and (out / "replications.csv").is_file()
    assert main(args) == 2  # not empty
    assert main([*args, "--force"]) == 0


def test_the_terminal_table_names_every_preset(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "terminal"
    status = main(["compare", str(tiny), "--presets", "okta,auth0", "--out", str(out), "--replications", "2",
                   "--users-scale", "0.25", "--workers", "1"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "okta" in printed and "auth0" in printed and "Δ vs okta (paired)" in printed


@pytest.mark.parametrize(
    ("presets", "words"),
    [
        ("auth0,okat", ["unknown preset 'okat'", "did you mean 'okta'?"]),
        ("nobody", ["unknown preset 'nobody'", "available:", "visma_connect"]),
        (" , ", ["at least one preset"]),
        ("okta,okta", ["okta more than once"]),
    ],
)
def test_bad_presets_exit_2(
    presets: str, words: list[str], tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["compare", str(tiny), "--presets", presets, "--out", str(tmp_path / "x")])
    assert status == 2
    err = capsys.readouterr().err
    for word in words:
        assert word in err, err
    assert not (tmp_path / "x").exists()


def test_a_preset_that_cannot_be_built_exits_2(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = Preset(name="broken", description="bad defaults", defaults={"max_tokens_per_user": 0})
    monkeypatch.setitem(PRESETS, "broken", broken)
    status = main(["compare", str(tiny), "--presets", "okta,broken", "--out", str(tmp_path / "x")])
    assert status == 2
    err = capsys.readouterr().err
    assert "preset 'broken' cannot be built" in err and "max_tokens_per_user" in err


def test_help_says_the_scenarios_policy_is_ignored(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--help"]) == 0
    assert "policy is ignored" in " ".join(capsys.readouterr().out.split())


def non_dominated(points: dict[str, tuple[float, float]]) -> set[str]:
    """Names no other point beats: at least as good on both axes and better on one (lower is better)."""
    return {
        name for name, (x, y) in points.items()
        if not any(ox <= x and oy <= y and (ox < x or oy < y) for other, (ox, oy) in points.items()
                   if other != name)
    }


def test_tradeoff_pareto_front_is_the_non_dominated_presets(compared: Path) -> None:
    content = json.loads((compared / "comparison.json").read_text())
    horizon = content["horizon_days"]
    points = {}
    for preset in PRESET_LIST:
        friction = next(row["mean"] for row in content["comparison"] if row["preset"] == preset
                        and row["persona"] == "*" and row["metric"] == "forced_reauth_per_user_month")
        policy = content["policies"][preset]  # no threats: the idle window, written out from its definition
        limits = [horizon]
        if policy["sliding_lifetime"] != "none":
            idle = parse_duration(policy["sliding_lifetime"]) + parse_duration(policy["idle_tolerance"])
            limits.append(idle / 86400)
        if policy["absolute_lifetime"] != "unlimited":
            limits.append(parse_duration(policy["absolute_lifetime"]) / 86400)
        points[preset] = (min(limits), friction)
    # Duende: 30d absolute, no sliding; Okta: a 7-day idle window and no absolute limit
    assert points["duende_identityserver"][0] == 30.0 and points["okta"][0] == 7.0
    assert len({exposure for exposure, _ in points.values()}) > 2  # the presets no longer share one value
    rows = {row["preset"]: row for row in content["tradeoff"]}
    assert list(rows) == PRESET_LIST
    for preset, (exposure, friction) in points.items():
        assert rows[preset]["exposure_days"] == pytest.approx(exposure)
        assert rows[preset]["friction"] == pytest.approx(friction)
        assert rows[preset]["exposure_source"] == "policy"
    expected = non_dominated(points)
    assert set(content["pareto_front"]) == expected
    assert content["pareto_front"] == sorted(expected, key=lambda name: points[name])
    assert {name for name, row in rows.items() if row["pareto"]} == expected
    markdown = (compared / "comparison.md").read_text()
    front = next(line for line in markdown.splitlines() if "Pareto-optimal presets" in line)
    assert front.endswith(", ".join(f"`{name}`" for name in content["pareto_front"]) + ".")


def test_with_thefts_the_exposure_is_the_attacker_dwell(tiny: Path, tmp_path: Path) -> None:
    threatened = tmp_path / "threats.yaml"
    threatened.write_text(tiny.read_text().replace(
        "      session_duration: {exponential: {mean: 2h}}\n",
        "      session_duration: {exponential: {mean: 2h}}\n    threats: {thefts_per_year: 12}\n"))
    out = tmp_path / "out"
    assert main(["compare", str(threatened), "--presets", "auth0,duende_identityserver", "--out", str(out),
                 "--replications", "3", "--workers", "1", "--quiet"]) == 0
    content = json.loads((out / "comparison.json").read_text())
    reps = pd.read_parquet(out / "replications.parquet")
    for row in content["tradeoff"]:
        dwell = reps[(reps["preset"] == row["preset"]) & (reps["persona"] == "*")]["attacker_dwell_days_mean"]
        assert row["exposure_source"] == "metric"
        assert row["exposure_days"] == pytest.approx(dwell.mean())
        assert row["exposure_low"] <= row["exposure_days"] <= row["exposure_high"]
    points = {row["preset"]: (row["exposure_days"], row["friction"]) for row in content["tradeoff"]}
    assert set(content["pareto_front"]) == non_dominated(points)
    assert "mean attacker dwell time" in (out / "comparison.md").read_text()
