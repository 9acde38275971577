"""Requirements: parsing, "did you mean", and holding with 95% confidence."""

from __future__ import annotations

import pytest

from sim.analysis.summary import CellSummary, UnknownMetricError
from sim.analysis.verdicts import evaluate
from sim.core.validation import ConfigError
from sim.scenario import scenario_from_yaml
from sim.scenario.requirements import parse_requirement, parse_requirements
from tests.sweep.scenarios import scenario_text


def _summary(mean: float | None, low: float | None, high: float | None) -> CellSummary:
    block = {"mean": mean, "ci95": [low, high], "unit": "x"}
    return CellSummary.model_validate({
        "cell": "c01", "label": "c01", "overrides": {}, "users": 10,
        "metrics": {"forced_reauth_per_user_month": block},
        "by_persona": {"office": {"forced_reauth_per_user_month": {**block, "ci95": [0.0, 0.1]}}},
    })


def test_parse_forms() -> None:
    r = parse_requirement("  forced_reauth_per_user_month<=0.5 ")
    assert (r.metric, r.op, r.threshold, r.persona, r.text) == (
        "forced_reauth_per_user_month",
        "<=",
        0.5,
        None,
        "forced_reauth_per_user_month<=0.5",
    )
    r = parse_requirement("forced_reauth_per_user_month.sliding_expiry[office] > 1e-3")
    expected = ("forced_reauth_per_user_month.sliding_expiry", "office", ">", 0.001)
    assert (r.metric, r.persona, r.op, r.threshold) == expected
    assert parse_requirement("logins_per_user_month[*] >= 2").persona is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("forced_reauths_per_user_month < 0.5", "did you mean 'forced_reauth_per_user_month'?"),
        ("forced_reauth_per_user_month = 0.5", "OP one of <, <=, >, >="),
        ("forced_reauth_per_user_month < half", "must be a number, got 'half'"),
        ("forced_reauth_per_user_month < nan", "finite"),
        ("< 0.5", "cannot read requirement"),
    ],
)
def test_bad_requirements(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_requirement(text)
    assert fragment in str(caught.value)
    with pytest.raises(ConfigError) as error:
        parse_requirements(["logins_per_user_month > 0", text])
    assert error.value.render().startswith("--require: ")


@pytest.mark.parametrize(
    ("text", "holds"),
    [
        ("forced_reauth_per_user_month < 0.5", True),  # upper bound 0.4
        ("forced_reauth_per_user_month < 0.4", False),
        ("forced_reauth_per_user_month <= 0.4", True),
        ("forced_reauth_per_user_month < 0.35", False),  # the mean is below, the interval is not
        ("forced_reauth_per_user_month > 0.2", False),  # the lower bound is 0.2: not above it
        ("forced_reauth_per_user_month >= 0.2", True),
        ("forced_reauth_per_user_month > 0.25", False),
        ("forced_reauth_per_user_month[office] < 0.15", True),
    ],
)
def test_holds_only_with_the_whole_interval_on_the_right_side(text: str, holds: bool) -> None:
    summary = _summary(0.3, 0.2, 0.4)
    verdict = evaluate(parse_requirement(text), summary, 3)
    assert verdict.holds is holds, verdict.reason()
    assert "95% bound" in verdict.reason()


def test_one_replication_has_no_interval_and_fails_with_the_reason() -> None:
    verdict = evaluate(parse_requirement("forced_reauth_per_user_month < 9"), _summary(0.3, None, None), 1)
    assert not verdict.holds and verdict.mean == 0.3
    assert verdict.reason() == "no 95% interval: it needs at least 2 replications"


def test_no_estimate_fails() -> None:
    verdict = evaluate(parse_requirement("forced_reauth_per_user_month < 9"), _summary(None, None, None), 3)
    assert not verdict.holds and "no estimate" in verdict.reason()


def test_an_unknown_metric_or_persona_is_bad_input_not_a_failure() -> None:
    with pytest.raises(UnknownMetricError, match="did you mean 'office'"):
        evaluate(parse_requirement("forced_reauth_per_user_month[ofice] < 9"), _summary(0.3, 0.2, 0.4), 3)
    with pytest.raises(UnknownMetricError, match="no metric 'logins_per_user_month'"):
        evaluate(parse_requirement("logins_per_user_month < 9"), _summary(0.3, 0.2, 0.4), 3)


def test_requirements_in_a_scenario_file_are_checked_with_lines() -> None:
    extra = "requirements:\n  - logins_per_user_month > 0\n  - forced_reauth_per_user_mont < 1\n"
    text = scenario_text("", extra=extra)
    with pytest.raises(ConfigError) as caught:
        scenario_from_yaml(text, "s.yaml")
    line = len(scenario_text("").splitlines()) + 3
    assert caught.value.render().startswith(f"s.yaml:{line}: requirements[1]: unknown metric")
    assert "did you mean 'forced_reauth_per_user_month'?" in caught.value.render()
    text = scenario_text("", extra="requirements:\n  - logins_per_user_month[offce] > 0\n")
    with pytest.raises(ConfigError, match=r"no persona named 'offce'.*did you mean 'office'"):
        scenario_from_yaml(text, "s.yaml")
