"""Public hypothesis strategies, for teams that write their own property tests of a policy.

    from hypothesis import given, settings
    from sim.verify import execute
    from sim.verify.strategies import policies, timelines

    @settings(max_examples=200, deadline=None)
    @given(policies("okta"), timelines({"devices": "1..2", "tabs": 2, "race_window": "1s"}))
    def test_racing_tabs_never_force_a_login(policy, timeline):
        assert not execute(policy, timeline).forced_logins

- `timelines(who)`: timelines of a behaviour class (the `who:` of an invariant, as a dict or a
  `Behaviour`); each is admitted by the class and shrinks towards fewer, shorter, earlier events.
- `policies(preset, **fields)`: policies within a vendor preset's limits. Each field not given is the
  preset's default or one of a grid of typical values (`FIELD_VALUES`) that the preset accepts; a field
  given is fixed to that value, or drawn from it when it is a strategy. Combinations the preset refuses
  are never drawn.
- `behaviours(...)`: `Behaviour` classes (for tests of the verify machinery itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from hypothesis import strategies as st
from pydantic import ValidationError

from sim.core.validation import ConfigError, describe_errors
from sim.policy.model import Policy
from sim.scenario.invariants import Behaviour
from sim.verify.timelines import Timeline, timeline_strategy

__all__ = ["FIELD_VALUES", "behaviour", "behaviours", "policies", "timelines"]

#: The values `policies` tries for each policy field a test does not fix (filtered by the preset's limits).
FIELD_VALUES: dict[str, tuple[Any, ...]] = {
    "refresh_token_usage": ("reuse", "one_time", "rotate_keep_old"),
    "absolute_lifetime": ("1h", "10h", "1d", "7d", "30d", "90d", "180d", "365d", "unlimited"),
    "sliding_lifetime": ("none", "30m", "12h", "1d", "7d", "15d", "30d", "90d"),
    "max_tokens_per_user": (1, 2, 3, 5, 10, 20, 200, "unlimited"),
    "on_cap": ("evict_oldest", "evict_least_recently_used", "reject_new"),
    "access_token_lifetime": ("5m", "15m", "1h", "1d"),
    "reuse_interval": ("0s", "5s", "30s", "60s"),
    "on_reuse": ("reject", "revoke_family"),
    "absolute_anchor": ("chain", "token"),
    "idle_tolerance": ("0s", "120s"),
    "max_reuse": (0, 1, 2),
}


def behaviour(who: Behaviour | Mapping[str, Any] | None = None) -> Behaviour:
    """A behaviour class from its `who:` form (a dict as in YAML); ConfigError naming the bad field."""
    if isinstance(who, Behaviour):
        return who
    try:
        return Behaviour.model_validate(dict(who or {}))
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, Behaviour, prefix=("who",)), source="timelines()") from None


def timelines(
    who: Behaviour | Mapping[str, Any] | None = None, *, policy: Policy | None = None
) -> st.SearchStrategy[Timeline]:
    """Timelines of the behaviour class `who` (default: one device, the class defaults).

    Pass the `policy` when its access-token lifetime is a distribution: each timeline then also carries
    the seed of those draws.
    """
    random_access = policy is not None and policy.fixed_access_token_lifetime is None
    return timeline_strategy(behaviour(who), random_access=random_access)


@cache
def _accepted(preset: str | None, name: str) -> tuple[Any, ...]:
    """The values of FIELD_VALUES[name] that the preset accepts with its other defaults."""
    base = {"preset": preset} if preset else {}
    accepted = []
    for value in FIELD_VALUES[name]:
        try:
            Policy.model_validate({**base, name: value})
        except ValidationError:
            continue
        accepted.append(value)
    return tuple(accepted)


def _build(base: dict[str, Any], fields: dict[str, Any]) -> Policy | None:
    try:
        return Policy.model_validate({**base, **{k: v for k, v in fields.items() if v is not _DEFAULT}})
    except ValidationError:
        return None


_DEFAULT = object()


def policies(preset: str | None = None, **fixed: Any) -> st.SearchStrategy[Policy]:
    """Policies within the preset's limits (no preset: the generic defaults and every rule of the model).

    `fixed` sets fields: a value, or a strategy to draw the value from. Unknown field names raise
    ConfigError with a "did you mean".
    """
    try:
        Policy.model_validate(
            {"preset": preset, **{k: v for k, v in fixed.items() if not isinstance(v, st.SearchStrategy)}}
        )
    except ValidationError as exc:
        problems = [
            p
            for p in describe_errors(exc, Policy, prefix=("policy",))
            if "unknown" in p.message or "preset" in p.path
        ]
        if problems:
            raise ConfigError(problems, source="policies()") from None
    base = {"preset": preset} if preset else {}
    choices: dict[str, st.SearchStrategy[Any]] = {}
    for name in FIELD_VALUES:
        if name in fixed:
            value = fixed[name]
            choices[name] = value if isinstance(value, st.SearchStrategy) else st.just(value)
        else:
            choices[name] = st.sampled_from((_DEFAULT, *_accepted(preset, name)))
    built = st.fixed_dictionaries(choices).map(lambda fields: _build(base, fields))
    return built.filter(lambda p: p is not None).map(_present)


def _present(policy: Policy | None) -> Policy:
    assert policy is not None  # filtered above
    return policy


def behaviours(
    devices: int = 3,
    sessions: int = 4,
    over: str = "10d",
) -> st.SearchStrategy[Behaviour]:
    """Small behaviour classes: up to `devices` devices and `sessions` sessions each, over `over` at most,
    with gaps, tabs, lost responses, fresh logins, logouts, password changes and thefts each maybe."""
    durations = st.sampled_from(["0s", "30m", "1h", "2h", "12h", "1d", "2d", "3d"])
    counts = st.integers(0, 2)

    @st.composite
    def build(draw: Any) -> Behaviour:
        low = draw(st.integers(1, devices))
        gaps = sorted([draw(durations), draw(durations)], key=_seconds)
        lengths = sorted([draw(durations), draw(durations)], key=_seconds)
        data = {
            "devices": f"{low}..{draw(st.integers(low, devices))}",
            "sessions": draw(st.integers(1, sessions)),
            "over": over,
            "smallest_gap": gaps[0],
            "largest_gap": gaps[1],
            "session_length": f"{lengths[0]}..{lengths[1]}",
            "tabs": draw(st.sampled_from([1, 2, "1..3"])),
            "race_window": draw(st.sampled_from(["0s", "1s", "10s"])),
            "refresh_lock": draw(st.booleans()),
            "lost_responses": draw(counts),
            "retry_after": draw(st.sampled_from(["1s", "1s..30s", "2m"])),
            "fresh_logins": draw(counts),
            "logouts": draw(counts),
            "password_changes": draw(counts),
            "thefts": draw(counts),
            "attacker": draw(st.sampled_from(["immediate", "when_idle", "daily"])),
        }
        return behaviour(data)

    return build()


def _seconds(text: str) -> float:
    from sim.core.durations import parse_duration

    return parse_duration(text)
