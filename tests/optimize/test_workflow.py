"""The optimize and explore workflows end to end on a small scenario: resume, exit statuses, PRIM boxes."""

from __future__ import annotations

import pytest
import yaml

from sim.cli.main import main
from sim.experiments.estimate import TooLargeError
from sim.experiments.explore import explore
from sim.experiments.optimize import answer, optimize
from sim.report.optimize import optimize_markdown
from sim.scenario.loader import scenario_from_dict

BASE = {
    "name": "small-optimize", "seed": 4, "horizon": "50d", "warmup": "5d", "replications": 2,
    "policy": {"preset": "visma_connect"},
    "population": [{"name": "p", "users": 30, "activity": {"sessions_per_day": 0.5}}],
    "optimize": {
        "minimize": "active_chains_per_user",
        "subject_to": ["forced_reauth_per_user_month <= 1.5"],
        "over": {"policy.sliding_lifetime": {"low": "1d", "high": "20d", "step": "1d"}},
        "budget": {"runs": 16}, "indifference": 0.05, "candidates": 2, "max_replications": 8,
    },
}


def test_resume_reuses_every_evaluation_and_gives_the_same_answer(tmp_path):
    scenario = scenario_from_dict(BASE)
    first = optimize(scenario, tmp_path / "out", workers=1)
    again = optimize(scenario, tmp_path / "out", workers=1, resume=True)
    assert again.ran == 0 and again.reused == first.ran
    assert again.summary.model_dump() == first.summary.model_dump()
    recommended = yaml.safe_load((tmp_path / "out" / "recommended.yaml").read_text())
    assert recommended["values"] == first.recommended


def test_cli_exits_1_when_no_candidate_meets_the_requirements(tmp_path):
    data = {**BASE, "optimize": {**BASE["optimize"], "subject_to": ["forced_reauth_per_user_month < 0"]}}
    path = tmp_path / "impossible.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["optimize", str(path), "--out", str(tmp_path / "out"), "--quiet", "--workers", "1"]) == 1
    assert not (tmp_path / "out" / "recommended.yaml").exists()
    assert main(["optimize", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2  # not empty


def test_explore_finds_the_box_where_a_requirement_fails(tmp_path):
    over = {"population.p.activity.sessions_per_day": {"low": 0.2, "high": 3}}
    data = {**BASE, "uncertain": {"over": over}}
    result = explore(scenario_from_dict(data), tmp_path / "explore",
                     values={"policy.sliding_lifetime": "3d"},
                     points=12, workers=1)
    (found,) = result.summary.requirements
    # forced logins fall with the session rate: they fail at the low end of sessions_per_day
    assert 0 < found.failures < found.points
    assert found.box is not None
    low, high = found.box.limits["population.p.activity.sessions_per_day"]
    assert low < high < 3  # the box leaves out the high session rates, where it holds


def test_a_single_feasible_candidate_is_not_said_to_be_selected_among_one(tmp_path):
    result = optimize(scenario_from_dict(BASE), tmp_path / "out", workers=1)
    summary = result.summary
    assert summary.recommended is not None
    alone = summary.model_copy(update={"selection": summary.selection.model_copy(update={
        "feasible": [summary.recommended],
        "infeasible": [i for i in summary.selection.systems if i != summary.recommended]})})
    lines = answer(alone)
    assert "the only one of the" in lines[0] and "nothing left to select" in lines[1]
    assert not any("among the 1 " in line or "among 1 " in line for line in lines)
    report = optimize_markdown(alone, {}, {})
    assert "only one candidate was shown feasible, so there was nothing to select between" in report
    assert "eta =" not in report
    # one column per decision variable in the evidence and in the table of every candidate
    assert report.count("| `sliding_lifetime` |") == 2


def test_work_beyond_the_limits_is_refused_before_anything_runs(tmp_path):
    huge = {**BASE, "population": [{**BASE["population"][0], "users": 200_000_000}]}
    with pytest.raises(TooLargeError):
        optimize(scenario_from_dict(huge), tmp_path / "out", workers=1)
    assert not (tmp_path / "out").exists()
    path = tmp_path / "huge.yaml"
    path.write_text(yaml.safe_dump(huge))
    assert main(["optimize", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
