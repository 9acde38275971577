"""Policy validation: a table of invalid policies and the messages they give, valid defaults, durations."""

from __future__ import annotations

import math
from typing import Any

import pytest

from sim.core.durations import format_duration, parse_duration
from sim.core.validation import ConfigError
from sim.policy.model import Policy

DAY = 86400.0
VISMA = {"preset": "visma_connect"}

# (id, input, the field the message must name, words the message must contain)
INVALID: list[tuple[str, Any, str, list[str]]] = [
    (
        "unknown field, near sliding_lifetime",
        {"sliding_lifetim": "1d"},
        "sliding_lifetim",
        ["unknown field 'sliding_lifetim'", "did you mean 'sliding_lifetime'"],
    ),
    (
        "unknown field, near absolute_lifetime",
        {"absolute_lifetme": "1d"},
        "absolute_lifetme",
        ["did you mean 'absolute_lifetime'"],
    ),
    (
        "unknown field, nothing near",
        {"colour": "blue"},
        "colour",
        ["unknown field 'colour'", "valid fields", "refresh_token_usage", "on_reuse"],
    ),
    (
        "bad usage value",
        {"refresh_token_usage": "rotate"},
        "refresh_token_usage",
        ["'reuse'", "'one_time'", "rotate"],
    ),
    ("zero absolute", {"absolute_lifetime": 0}, "absolute_lifetime", ["positive duration", "got 0"]),
    ("negative number", {"absolute_lifetime": -5}, "absolute_lifetime", ["must not be negative", "-5"]),
    ("negative string", {"sliding_lifetime": "-5s"}, "sliding_lifetime", ["must not be negative", "'-5s'"]),
    (
        "garbage duration",
        {"absolute_lifetime": "ten days"},
        "absolute_lifetime",
        ["expected a duration", "plain seconds", "'ten days'"],
    ),
    ("unknown unit", {"sliding_lifetime": "3y"}, "sliding_lifetime", ["expected a duration", "'3y'"]),
    ("boolean duration", {"sliding_lifetime": True}, "sliding_lifetime", ["expected a duration", "True"]),
    ("infinite duration", {"absolute_lifetime": math.inf}, "absolute_lifetime", ["finite", "inf"]),
    ("zero access lifetime", {"access_token_lifetime": "0s"}, "access_token_lifetime", ["positive duration"]),
    (
        "unlimited access lifetime",
        {"access_token_lifetime": "unlimited"},
        "access_token_lifetime",
        ["expected a duration", "'unlimited'"],
    ),
    (
        "negative reuse interval",
        {"refresh_token_usage": "one_time", "reuse_interval": "-1s"},
        "reuse_interval",
        ["must not be negative", "'-1s'"],
    ),
    ("cap 0", {"max_tokens_per_user": 0}, "max_tokens_per_user", ["at least 1", "'unlimited'", "got 0"]),
    ("cap True", {"max_tokens_per_user": True}, "max_tokens_per_user", ["whole number", "True"]),
    ("cap 2.5", {"max_tokens_per_user": 2.5}, "max_tokens_per_user", ["whole number", "2.5"]),
    ("cap garbage", {"max_tokens_per_user": "many"}, "max_tokens_per_user", ["whole number", "'many'"]),
    (
        "visma cap 25",
        {**VISMA, "max_tokens_per_user": 25},
        "max_tokens_per_user",
        ["visma_connect", "1..20", "25"],
    ),
    (
        "visma cap unlimited",
        {**VISMA, "max_tokens_per_user": "unlimited"},
        "max_tokens_per_user",
        ["visma_connect", "1..20", "unlimited"],
    ),
    (
        "visma reuse + unlimited absolute",
        {**VISMA, "refresh_token_usage": "reuse", "absolute_lifetime": "unlimited"},
        "absolute_lifetime",
        ["visma_connect", "unlimited", "one_time", "180d"],
    ),
    (
        "visma reuse + 181d",
        {**VISMA, "refresh_token_usage": "reuse", "absolute_lifetime": "181d"},
        "absolute_lifetime",
        ["visma_connect", "at most 180d", "181d"],
    ),
    (
        "visma unlimited absolute without sliding",
        {**VISMA, "absolute_lifetime": "unlimited", "sliding_lifetime": "none"},
        "sliding_lifetime",
        ["visma_connect", "unlimited absolute lifetime", "sliding lifetime"],
    ),
    ("visma grace 3s", {**VISMA, "reuse_interval": "3s"}, "reuse_interval", ["5s..60s", "got 3s"]),
    ("visma grace 2m", {**VISMA, "reuse_interval": "2m"}, "reuse_interval", ["5s..60s", "got 2m"]),
    (
        "unknown preset, near",
        {"preset": "visma_conect"},
        "preset",
        ["unknown preset", "did you mean 'visma_connect'"],
    ),
    (
        "unknown preset, far",
        {"preset": "zitadel"},
        "preset",
        ["unknown preset 'zitadel'", "available: visma_connect"],
    ),
    ("preset not a string", {"preset": 3}, "preset", ["must be text"]),
    (
        "reuse_interval with reuse",
        {"refresh_token_usage": "reuse", "reuse_interval": "10s"},
        "reuse_interval",
        ["only to refresh_token_usage: one_time", "10s"],
    ),
    (
        "bad on_cap",
        {"on_cap": "evict_newest"},
        "on_cap",
        ["'evict_oldest'", "'evict_least_recently_used'", "'reject_new'", "evict_newest"],
    ),
    ("bad on_reuse", {"on_reuse": "revoke"}, "on_reuse", ["'reject'", "'revoke_family'", "'revoke'"]),
    ("non-dict list", [1, 2], "", ["must be a mapping of names to values"]),
    ("non-dict string", "reuse", "", ["must be a mapping of names to values"]),
    ("non-dict None", None, "", ["must be a mapping of names to values"]),
]


@pytest.mark.parametrize(
    ("data", "field", "words"), [row[1:] for row in INVALID], ids=[row[0] for row in INVALID]
)
def test_invalid_policy(data: Any, field: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as excinfo:
        Policy.from_dict(data)
    error = excinfo.value
    message = str(error)
    assert [p.path for p in error.problems] == [field], message
    assert message.startswith(f"{field}: ") if field else "<top>" not in message, message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_at_least_eighteen_invalid_policies() -> None:
    assert len(INVALID) >= 18
    assert len({row[0] for row in INVALID}) == len(INVALID)


def test_every_problem_is_reported_on_its_own_line() -> None:
    with pytest.raises(ConfigError) as excinfo:
        Policy.from_dict({"on_cap": "x", "on_reuse": "y", "max_tokens_per_user": 0})
    lines = str(excinfo.value).splitlines()
    assert sorted(line.split(":")[0] for line in lines) == ["max_tokens_per_user", "on_cap", "on_reuse"]


def test_source_prefixes_the_message() -> None:
    with pytest.raises(ConfigError) as excinfo:
        Policy.from_dict({"on_cap": "x"}, source="office.yaml")
    assert str(excinfo.value).startswith("office.yaml: on_cap: ")
    assert excinfo.value.source == "office.yaml"


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        Policy.from_dict({"on_cap": "x"})


# --------------------------------------------------------------------------- valid policies


def test_no_preset_defaults() -> None:
    policy = Policy.from_dict({})
    assert policy.preset is None
    assert policy.refresh_token_usage == "reuse"
    assert policy.absolute_lifetime == 30 * DAY
    assert policy.sliding_lifetime is None
    assert policy.max_tokens_per_user is None
    assert policy.on_cap == "evict_oldest"
    assert policy.fixed_access_token_lifetime == 3600
    assert policy.reuse_interval == 0
    assert policy.on_reuse == "reject"
    assert not policy.one_time


def test_visma_connect_defaults() -> None:
    policy = Policy.from_dict({"preset": "visma_connect"})
    assert policy.refresh_token_usage == "one_time"
    assert policy.absolute_lifetime is None
    assert policy.sliding_lifetime == 15 * DAY
    assert policy.max_tokens_per_user == 20
    assert policy.on_cap == "evict_oldest"
    assert policy.reuse_interval == 0
    assert policy.one_time


VALID: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("cap 25 without preset", {"max_tokens_per_user": 25}, {"max_tokens_per_user": 25}),
    (
        "unlimited words",
        {"absolute_lifetime": "unlimited", "sliding_lifetime": "none"},
        {
            "absolute_lifetime": None,
            "sliding_lifetime": None,
        },
    ),
    (
        "None for unlimited",
        {"absolute_lifetime": None, "max_tokens_per_user": None},
        {
            "absolute_lifetime": None,
            "max_tokens_per_user": None,
        },
    ),
    (
        "one_time with grace",
        {"refresh_token_usage": "one_time", "reuse_interval": "3s"},
        {"reuse_interval": 3},
    ),
    (
        "reuse with 0 interval",
        {"refresh_token_usage": "reuse", "reuse_interval": "0s"},
        {"reuse_interval": 0},
    ),
    (
        "visma reuse 180d",
        {**VISMA, "refresh_token_usage": "reuse", "absolute_lifetime": "180d", "sliding_lifetime": "none"},
        {"absolute_lifetime": 180 * DAY, "sliding_lifetime": None},
    ),
    ("visma cap 1", {**VISMA, "max_tokens_per_user": 1}, {"max_tokens_per_user": 1}),
    ("visma grace 5s", {**VISMA, "reuse_interval": "5s"}, {"reuse_interval": 5}),
    ("visma grace 60s", {**VISMA, "reuse_interval": "1m"}, {"reuse_interval": 60}),
    (
        "visma one_time 2y",
        {**VISMA, "absolute_lifetime": "104w", "sliding_lifetime": "none"},
        {
            "absolute_lifetime": 104 * 7 * DAY,
        },
    ),
]


@pytest.mark.parametrize(("data", "expected"), [row[1:] for row in VALID], ids=[row[0] for row in VALID])
def test_valid_policy(data: dict[str, Any], expected: dict[str, Any]) -> None:
    policy = Policy.from_dict(data)
    for key, value in expected.items():
        assert getattr(policy, key) == value, key
    assert Policy.from_dict(policy.to_config()) == policy  # the written form reads back the same


def test_policy_is_frozen() -> None:
    policy = Policy.from_dict({})
    with pytest.raises(ValueError):
        policy.on_cap = "reject_new"  # type: ignore[misc]


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("15m", 900.0),
        ("1h", 3600.0),
        ("15d", 15 * DAY),
        ("2w", 14 * DAY),
        ("90", 90.0),
        (90, 90.0),
        (1.5, 1.5),
        ("1.5h", 5400.0),
        ("0s", 0.0),
        (0, 0.0),
    ],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "bad", ["", "abc", "1y", "-1", "1 h 2", "h", True, None, [1], -1, math.nan, math.inf]
)
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("field", "word", "expected"),
    [
        ("absolute_lifetime", "unlimited", None),
        ("absolute_lifetime", "15d", 15 * DAY),
        ("sliding_lifetime", "none", None),
        ("sliding_lifetime", "90s", 90.0),
        ("max_tokens_per_user", "unlimited", None),
    ],
)
def test_policy_duration_words(field: str, word: str, expected: float | None) -> None:
    assert getattr(Policy.from_dict({field: word}), field) == expected


def test_access_token_lifetime_is_a_duration_or_a_distribution() -> None:
    assert Policy.from_dict({"access_token_lifetime": "15m"}).fixed_access_token_lifetime == 900.0
    spread = Policy.from_dict({"access_token_lifetime": {"uniform": {"low": "60m", "high": "90m"}}})
    assert spread.fixed_access_token_lifetime is None
    assert spread.access_token_lifetime.mean == 75 * 60


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (90.0, "90s"),
        (900.0, "15m"),
        (3600.0, "1h"),
        (15 * DAY, "15d"),
        (14 * DAY, "2w"),
        (1.5, "1.5s"),
        (None, "unlimited"),
    ],
)
def test_format_duration_round_trips(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text
    if seconds is not None:
        assert parse_duration(text) == seconds
