"""Helpers for the preset timelines: an engine with a preset's defaults, and one-line assertions.

Times are seconds from the first login; deadlines are probed exactly at them (still valid) and just after
them (`+ EPS`), as in tests/engine/test_rules.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sim.core.durations import DAY, HOUR, MINUTE, parse_duration
from sim.core.validation import ConfigError
from sim.policy.engine import TokenEngine
from sim.policy.model import Policy

__all__ = [
    "DAY",
    "EPS",
    "HOUR",
    "MINUTE",
    "assert_fails",
    "assert_kept",
    "engine",
    "limit_error",
    "login",
    "policy",
    "use",
]

EPS = 1e-6


def policy(preset: str, **overrides: Any) -> Policy:
    """The preset's policy with some fields overridden."""
    return Policy.from_dict({"preset": preset, **overrides})


def engine(preset: str, **overrides: Any) -> TokenEngine:
    """An engine under the preset (with a seeded generator when access-token lifetimes are drawn)."""
    return TokenEngine(policy(preset, **overrides), rng=np.random.default_rng(7))


def login(eng: TokenEngine, now: float = 0.0, user: str = "alice") -> int:
    """A successful authorization; its refresh token."""
    grant = eng.authorize(user, now)
    assert grant.refresh_token is not None and grant.reason is None, grant
    return grant.refresh_token


def use(eng: TokenEngine, token: int, now: float) -> int:
    """A successful refresh; the refresh token to use next."""
    result = eng.refresh(token, now)
    assert result.ok, result
    assert result.refresh_token is not None
    return result.refresh_token


def assert_fails(eng: TokenEngine, token: int, now: float, reason: str) -> None:
    """A refresh that fails with `reason`."""
    result = eng.refresh(token, now)
    assert not result.ok, result
    assert result.reason == reason, result


def limit_error(preset: str, field: str, *words: str, **overrides: Any) -> str:
    """Building the policy fails on `field` with a message containing every word; the message."""
    with pytest.raises(ConfigError) as excinfo:
        policy(preset, **overrides)
    message = str(excinfo.value)
    assert [p.path for p in excinfo.value.problems] == [field], message
    assert message.startswith(f"{field}: "), message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    return message


_DURATIONS = {"absolute_lifetime", "sliding_lifetime", "reuse_interval", "idle_tolerance"}


def assert_kept(preset: str, **overrides: Any) -> Policy:
    """Building the policy succeeds and keeps every overridden value (and it reads back the same)."""
    pol = policy(preset, **overrides)
    for key, value in overrides.items():
        held = getattr(pol, key)
        if value in ("unlimited", "none"):
            assert held is None, key
        elif key in _DURATIONS:
            assert held == parse_duration(value), key
        elif key == "access_token_lifetime" and not isinstance(value, dict):
            assert pol.fixed_access_token_lifetime == parse_duration(value), key
        elif key != "access_token_lifetime":
            assert held == value, key
    assert Policy.from_dict(pol.to_config()) == pol
    return pol
