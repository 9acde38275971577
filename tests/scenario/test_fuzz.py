"""Fuzzing the loader: whatever the text, `load_scenario` returns a Scenario or raises ConfigError."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.core.validation import ConfigError
from sim.scenario import Scenario, load_scenario
from tests.scenario.broken_cases import VALID

BASE: dict[str, Any] = yaml.safe_load(VALID)

#: Places in the valid scenario where junk is put (the last key is replaced or added).
TARGETS: list[tuple[str | int, ...]] = [
    ("name",),
    ("horizon",),
    ("warmup",),
    ("seed",),
    ("replications",),
    ("policy",),
    ("policy", "preset"),
    ("policy", "absolute_lifetime"),
    ("policy", "max_tokens_per_user"),
    ("policy", "reuse_interval"),
    ("population",),
    ("population", 0),
    ("population", 0, "users"),
    ("population", 0, "devices"),
    ("population", 0, "activity"),
    ("population", 0, "activity", "schedule"),
    ("population", 0, "activity", "session_duration"),
    ("population", 0, "activity", "session_duration", "lognormal"),
    ("population", 0, "activity", "session_duration", "lognormal", "sigma"),
    ("population", 0, "clients", "tabs"),
    ("population", 0, "clients", "race_window"),
    ("population", 0, "faults"),
    ("population", 0, "faults", "lost_refresh_response"),
    ("population", 0, "lifecycle", "password_changes_per_year"),
    ("population", 0, "unknown"),
]

#: Pieces of YAML syntax: anchors, aliases, merge keys, tags, flow and block collections.
YAML_TOKENS = [
    *":-[]{}#&*!|>'\"?,%@`\t\n",
    "  ",
    "\n  ",
    "- ",
    "a",
    "1",
    "name: ",
    "population: ",
    "users: ",
    "&x ",
    "*x",
    "<<: ",
    "!!int ",
    "!!str ",
    "!!binary ",
    "!!set ",
    "? ",
    "---\n",
    "1h",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.integers(min_value=-5, max_value=30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["1h", "0s", "15d", "-1s", "unlimited", "none", "weekdays", "poisson", "min", "1e400"]),
)
keys = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["exponential", "lognormal", "uniform", "empirical", "poisson", "min", "max", "mean"]),
    st.sampled_from(["median", "sigma", "low", "high", "values", "weights", "name", "users"]),
)
junk = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(keys, children, max_size=4),
    ),
    max_leaves=12,
)


def _put(data: dict[str, Any], target: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    current: Any = data
    for part in target[:-1]:
        current = current.setdefault(part, {}) if isinstance(current, dict) else current[part]
    current[target[-1]] = value
    return data


def _load(directory: Path, text: str) -> None:
    path = directory / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        result = load_scenario(path)
    except ConfigError as exc:
        rendered = exc.render()
        assert str(path) in rendered
        assert "internal error" not in rendered, rendered
    else:
        assert isinstance(result, Scenario)


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text())
def test_arbitrary_text(directory: Path, text: str) -> None:
    _load(directory, text)


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.lists(st.sampled_from(YAML_TOKENS), max_size=40).map("".join))
def test_arbitrary_yaml_punctuation(directory: Path, text: str) -> None:
    _load(directory, text)


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from(TARGETS), value=junk)
def test_junk_mixed_into_a_valid_scenario(directory: Path, target: tuple[str | int, ...], value: Any) -> None:
    text = yaml.safe_dump(_put(BASE, target, value), sort_keys=False, allow_unicode=True)
    _load(directory, text)


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_valid_scenario_lines_cut_or_shuffled(directory: Path, data: st.DataObject) -> None:
    lines = VALID.splitlines()
    kept = data.draw(st.lists(st.sampled_from(lines), max_size=len(lines) + 2))
    _load(directory, "\n".join(kept) + "\n")
