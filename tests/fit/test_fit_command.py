"""`tokensim fit` end to end: the files it writes, what the report says, and bad input (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sim import api
from sim.cli.main import main
from sim.core.durations import WEEK
from sim.fit.activity import Sessions
from sim.fit.clusters import cluster_users, user_features
from sim.model.replay import RecordedTrace
from sim.scenario import load_scenario
from tests.replay.traces import SAMPLE, make_trace


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample trace fitted with `--personas auto`, without the simulations."""
    folder = tmp_path_factory.mktemp("fit")
    status = main(["fit", str(SAMPLE), "--personas", "auto", "--out", str(folder / "fitted.yaml"),
                   "--policy", "okta", "--no-compare", "--quiet"])
    assert status == 0
    return folder


def test_fit_writes_a_scenario_that_loads_and_replays_the_sample_truth(fitted: Path) -> None:
    scenario = load_scenario(fitted / "fitted.yaml")
    assert [p.users for p in scenario.population] == [80, 60, 60]  # the three personas of sample-truth.yaml
    assert scenario.policy.preset == "okta"
    office, mobile, occasional = scenario.population
    assert office.activity.weekly_profile is not None and mobile.activity.weekly_profile is not None
    assert occasional.activity.schedule == "always"
    assert office.devices.to_config()["empirical"]["values"] == [1, 2, 3]
    assert scenario.horizon == 13 * WEEK
    text = (fitted / "fitted.yaml").read_text()
    assert text.startswith("# Fitted by tokensim fit to sample.parquet")


def test_the_report_shows_each_fit_against_the_data(fitted: Path) -> None:
    folder = fitted / "fitted-fit"
    report = (folder / "report.md").read_text()
    headings = ("#### Devices per user", "#### When sessions start", "#### Session duration", "#### Absences",
                "## The fitted scenario")
    for heading in headings:
        assert report.count(heading) >= 1, heading
    assert "Kolmogorov-Smirnov" in report and "parametric bootstrap" in report and "chi-square" in report
    html = (folder / "report.html").read_text()
    assert "data:image/svg+xml;base64," in html and "http://" not in html and "https://" not in html
    assert len(list((folder / "figures").glob("*.svg"))) >= 9
    data = json.loads((folder / "fit.json").read_text())
    assert data["clustering"]["k"] == 3 and len(data["personas"]) == 3
    assert data["personas"][0]["schedule"]["chosen"] == "profile"
    users = pd.read_parquet(folder / "users.parquet")
    assert len(users) == 200 and set(users["persona"]) == {p["name"] for p in data["personas"]}


def test_fit_simulates_the_fitted_scenario_and_the_replay_under_the_policy(tmp_path: Path) -> None:
    sessions = [(f"u{u}", "d", day * 86400.0 + 9 * 3600 + u * 60, day * 86400.0 + 10 * 3600 + u * 60)
                for u in range(6) for day in range(0, 28, 2)]
    trace = make_trace(tmp_path / "t.parquet", sessions, until=4 * WEEK)
    outcome = api.fit(trace, tmp_path / "s.yaml", replications=2, policy={"preset": "okta"}, workers=1)
    table = outcome.comparison.table if outcome.comparison is not None else None
    assert table is not None
    row = table.set_index("statistic").loc["sessions_per_user_month"]
    assert row["trace"] == pytest.approx(14 / 28 * 30)  # 14 sessions in 28 days
    assert row["replayed"] == pytest.approx(row["trace"])  # the replay has exactly the trace's sessions
    report = (tmp_path / "s-fit" / "report.md").read_text()
    assert "## Token events: the trace against simulations" in report
    assert (tmp_path / "s-fit" / "figures" / "token-events.svg").is_file()


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["fit", "missing.parquet", "--out", "s.yaml"], "no trace file"),
        (["fit", "not-a-trace.parquet", "--out", "s.yaml"], "is not a tokensim trace"),
        (["fit", str(SAMPLE), "--out", "s.yaml", "--policy", "oktaa"], "did you mean 'okta'?"),
        (["fit", str(SAMPLE), "--out", "s.yaml", "--policy", "bad-policy.yaml"],
         "did you mean 'sliding_lifetime'?"),
        (["fit", str(SAMPLE), "--out", "exists.yaml"], "exists; use --force"),
        (["fit", str(SAMPLE), "--out", "s.yaml", "--replications", "1"], "--replications must be at least 2"),
    ],
)
def test_bad_input_exits_2_with_a_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str], argv: list[str],
                                          fragment: str) -> None:
    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"user": ["a"], "device": ["d"], "start_s": [0.0], "end_s": [1.0]}).to_parquet(
        "not-a-trace.parquet")
    (tmp_path / "exists.yaml").write_text("mine\n")
    (tmp_path / "bad-policy.yaml").write_text("policy:\n  sliding_lifetme: 7d\n")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert (tmp_path / "exists.yaml").read_text() == "mine\n"  # never overwritten without --force


def test_personas_must_be_a_count_or_auto(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", str(SAMPLE), "--out", "s.yaml", "--personas", "0"]) == 2
    assert "whole number >= 1 or auto" in capsys.readouterr().err


def test_auto_keeps_one_persona_for_alike_users() -> None:
    recorded = RecordedTrace.load(SAMPLE)
    sessions = Sessions.of(recorded.users, 13 * WEEK)
    office = sessions.subset([i for i, u in enumerate(recorded.users) if u.name.startswith("office")])
    assert cluster_users(user_features(office), "auto", seed=0).k == 1


def test_users_with_one_session_each_still_give_a_valid_scenario(tmp_path: Path) -> None:
    """No device starts a second session: the rate's maximum-likelihood value, 0, is not a scenario's;
    the fit gives half an event over the exposure and an interval from 0."""
    sessions = [(f"u{i}", "d", i * 3600.0, i * 3600.0 + 60) for i in range(5)]
    trace = make_trace(tmp_path / "t.parquet", sessions, until=2 * WEEK)
    outcome = api.fit(trace, tmp_path / "s.yaml", compare=False)
    persona = outcome.fit.personas[0]
    assert persona.schedule.sessions_per_day > 0 and persona.schedule.sessions_per_day_ci[0] == 0
    assert outcome.scenario.population[0].activity.sessions_per_day == pytest.approx(
        persona.schedule.sessions_per_day, rel=1e-3)
