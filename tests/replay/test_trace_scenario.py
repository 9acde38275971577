"""A persona that replays a trace: what the scenario file accepts, resolves and refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.core.durations import DAY, WEEK
from sim.core.validation import ConfigError
from sim.scenario import load_scenario, scenario_from_dict
from sim.scenario.overrides import with_path_overrides
from tests.replay.traces import SAMPLE, make_trace

HEAD = "name: r\nhorizon: 14d\npolicy: {}\npopulation:\n"


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    """Three users over two weeks (one without sessions), in a subfolder of tmp_path."""
    sessions = [("a", "phone", 3600.0, 7200.0), ("a", "laptop", 86400.0, 90000.0), ("b", "x", 100.0, 200.0)]
    return make_trace(tmp_path / "traces" / "t.parquet", sessions, users=["c"], until=2 * WEEK)


def write(tmp_path: Path, body: str, head: str = HEAD) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(head + body, encoding="utf-8")
    return path


def test_a_relative_trace_path_starts_from_the_scenario_file(tmp_path: Path, trace: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")
    scenario = load_scenario(write(tmp_path, "  - name: p\n    activity: {trace: traces/t.parquet}\n"))
    replay = scenario.population[0].activity.trace
    assert replay is not None and replay.path == str(trace)


def test_without_users_the_trace_users_are_replayed_as_recorded(tmp_path: Path, trace: Path) -> None:
    scenario = load_scenario(write(tmp_path, "  - name: p\n    activity: {trace: traces/t.parquet}\n"))
    persona = scenario.population[0]
    assert persona.users == 3  # the users table's three users, c without a session included
    assert persona.activity.trace is not None and persona.activity.trace.sampling == "recorded"


def test_with_users_the_trace_users_are_bootstrapped(tmp_path: Path, trace: Path) -> None:
    body = "  - name: p\n    users: 50\n    activity: {trace: traces/t.parquet}\n"
    scenario = load_scenario(write(tmp_path, body))
    persona = scenario.population[0]
    assert persona.users == 50 and persona.activity.trace is not None
    assert persona.activity.trace.sampling == "bootstrap"


def test_the_resolved_form_round_trips_and_omits_what_the_trace_replaces(tmp_path: Path, trace: Path) -> None:
    scenario = load_scenario(write(tmp_path, "  - name: p\n    activity: {trace: traces/t.parquet}\n"))
    config = scenario.to_config()
    persona = config["population"][0]
    assert "devices" not in persona and "absences" not in persona
    assert set(persona["activity"]) == {"fresh_login", "trace"}
    assert persona["activity"]["trace"] == {"path": str(trace), "sampling": "recorded", "repeat": False}
    assert scenario_from_dict(config) == scenario


def test_a_scenario_without_a_trace_has_the_same_resolved_form_as_before() -> None:
    config = load_scenario(Path(__file__).parents[2] / "scenarios" / "office-workers.yaml").to_config()
    for persona in config["population"]:
        assert "trace" not in persona["activity"]
        assert {"schedule", "sessions_per_day", "session_duration", "fresh_login"} == set(persona["activity"])


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("    activity: {trace: traces/t.parquet, schedule: weekdays}\n",
         "population[0].activity.schedule: not used with a trace"),
        ("    activity: {trace: traces/t.parquet, sessions_per_day: 2}\n",
         "population[0].activity.sessions_per_day: not used with a trace"),
        ("    activity: {trace: traces/t.parquet, session_duration: 1h}\n",
         "population[0].activity.session_duration: not used with a trace"),
        ("    devices: 2\n    activity: {trace: traces/t.parquet}\n",
         "population[0].devices: not used with a trace"),
        ("    absences: {per_year: 1}\n    activity: {trace: traces/t.parquet}\n",
         "population[0].absences: not used with a trace"),
        ("    users: 5\n    activity: {trace: {path: traces/t.parquet, sampling: recorded}}\n",
         "population[0].users: the trace has 3 users and sampling is recorded"),
        ("    activity: {trace: traces/missing.parquet}\n", "no trace file"),
        ("    activity: {trace: {path: traces/t.parquet, sampling: all}}\n",
         "population[0].activity.trace.sampling"),
        ("    activity: {trace: {path: traces/t.parquet, repeet: true}}\n", "did you mean 'repeat'?"),
        ("    activity: {trace: ''}\n", "must name the trace file"),
    ],
)
def test_what_a_trace_persona_refuses(tmp_path: Path, trace: Path, body: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_scenario(write(tmp_path, "  - name: p\n" + body))
    assert fragment in caught.value.render()
    assert "scenario.yaml:" in caught.value.render()  # the file and line


def test_a_horizon_longer_than_the_trace_is_refused_unless_it_repeats(tmp_path: Path, trace: Path) -> None:
    long = "name: r\nhorizon: 30d\npolicy: {}\npopulation:\n"
    with pytest.raises(ConfigError) as caught:
        load_scenario(write(tmp_path, "  - name: p\n    activity: {trace: traces/t.parquet}\n", long))
    text = caught.value.render()
    assert "the trace lasts 2w" in text and "at most 2w" in text and "repeat: true" in text
    scenario = load_scenario(write(tmp_path, "  - name: p\n    activity: {trace: {path: traces/t.parquet, "
                                             "repeat: true}}\n", long))
    assert scenario.horizon == 30 * DAY


def test_repeat_needs_a_whole_week(tmp_path: Path) -> None:
    make_trace(tmp_path / "short.parquet", [("a", "d", 0.0, 10.0)], until=3 * DAY)
    with pytest.raises(ConfigError, match="at least one whole week"):
        body = "  - name: p\n    activity: {trace: {path: short.parquet, repeat: true}}\n"
        load_scenario(write(tmp_path, body, "name: r\nhorizon: 2d\npolicy: {}\npopulation:\n"))


def test_without_observed_until_a_trace_lasts_to_the_end_of_its_last_day(tmp_path: Path) -> None:
    make_trace(tmp_path / "t.parquet", [("a", "d", 0.0, 2.5 * DAY)])
    ok = "name: r\nhorizon: 3d\npolicy: {}\npopulation:\n"
    load_scenario(write(tmp_path, "  - name: p\n    activity: {trace: t.parquet}\n", ok))
    with pytest.raises(ConfigError, match="the trace lasts 3d"):
        load_scenario(write(tmp_path, "  - name: p\n    activity: {trace: t.parquet}\n",
                            "name: r\nhorizon: 4d\npolicy: {}\npopulation:\n"))


def test_a_file_that_is_not_a_trace_is_refused(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"user": ["a"], "device": ["d"], "start_s": [0.0], "end_s": [1.0]})
    frame.to_parquet(tmp_path / "x.parquet")
    with pytest.raises(ConfigError, match="is not a tokensim trace"):
        load_scenario(write(tmp_path, "  - name: p\n    activity: {trace: x.parquet}\n"))
    (tmp_path / "y.parquet").write_text("not parquet")
    with pytest.raises(ConfigError, match="is not a Parquet file"):
        load_scenario(write(tmp_path, "  - name: p\n    activity: {trace: y.parquet}\n"))


def test_users_scale_turns_a_recorded_replay_into_a_bootstrap(tmp_path: Path, trace: Path) -> None:
    scenario = load_scenario(write(tmp_path, "  - name: p\n    activity: {trace: traces/t.parquet}\n"))
    scaled = scenario.with_overrides(users_scale=10)
    persona = scaled.population[0]
    assert persona.users == 30 and persona.activity.trace is not None
    assert persona.activity.trace.sampling == "bootstrap"
    assert scenario.with_overrides(users_scale=1).population[0].activity.trace.sampling == "recorded"
    assert scenario_from_dict(scaled.to_config()) == scaled  # the resolved form says bootstrap


def test_sweep_values_name_traces_relative_to_the_scenario_file(
    tmp_path: Path, trace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = make_trace(tmp_path / "traces" / "other.parquet", [("z", "d", 0.0, 60.0)], until=2 * WEEK)
    monkeypatch.chdir("/")
    body = ("  - name: p\n    activity: {trace: traces/t.parquet}\nsweep:\n  grid:\n"
            "    population.p.activity.trace.path: [traces/t.parquet, traces/other.parquet]\n")
    scenario = load_scenario(write(tmp_path, body))
    assert scenario.sweep is not None and scenario.sweep.grid is not None
    assert list(scenario.sweep.grid["population.p.activity.trace.path"]) == [str(trace), str(other)]
    overrides = {"population.p.users": 7, "population.p.activity.trace.sampling": "bootstrap"}
    changed = with_path_overrides(scenario.model_copy(update={"sweep": None}), overrides)
    assert changed.population[0].users == 7


def test_the_shipped_sample_trace_loads() -> None:
    persona = {"name": "p", "activity": {"trace": str(SAMPLE)}}
    scenario = scenario_from_dict({"name": "s", "horizon": "91d", "policy": {}, "population": [persona]})
    assert scenario.population[0].users == 200
