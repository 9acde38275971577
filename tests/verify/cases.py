"""Small policies, behaviour classes and properties shared by the verify tests."""

from __future__ import annotations

from typing import Any

from sim.policy.model import Policy
from sim.scenario.invariants import Invariant

POLICIES: dict[str, dict[str, Any]] = {
    "one_time": {
        "refresh_token_usage": "one_time",
        "absolute_lifetime": "unlimited",
        "sliding_lifetime": "1d",
        "max_tokens_per_user": 3,
    },
    "grace_family": {
        "refresh_token_usage": "one_time",
        "absolute_lifetime": "unlimited",
        "sliding_lifetime": "1d",
        "reuse_interval": "30s",
        "on_reuse": "revoke_family",
        "max_tokens_per_user": 2,
    },
    "reuse_absolute": {"refresh_token_usage": "reuse", "absolute_lifetime": "2d"},
    "keep_old": {
        "refresh_token_usage": "rotate_keep_old",
        "absolute_lifetime": "3d",
        "sliding_lifetime": "1d",
    },
    "family_reject_new": {
        "refresh_token_usage": "one_time",
        "absolute_lifetime": "2d",
        "sliding_lifetime": "12h",
        "on_reuse": "revoke_family",
        "max_tokens_per_user": 2,
        "on_cap": "reject_new",
    },
    "token_anchor": {
        "refresh_token_usage": "one_time",
        "absolute_lifetime": "20h",
        "absolute_anchor": "token",
    },
}

CLASSES: dict[str, dict[str, Any]] = {
    "below": {"sessions": 4, "largest_gap": "23h", "session_length": "0s..2h", "over": "5d"},
    "at": {"sessions": 4, "largest_gap": "1d", "session_length": "0s..2h", "over": "5d"},
    "fresh": {
        "devices": "1..3",
        "sessions": 3,
        "largest_gap": "12h",
        "fresh_logins": {"at_most": 1, "per": "1d"},
        "over": "4d",
    },
    "tabs": {"sessions": 3, "tabs": 2, "race_window": "10s", "largest_gap": "12h", "over": "3d"},
    "lost": {
        "sessions": 3,
        "lost_responses": 1,
        "retry_after": "1s..40s",
        "largest_gap": "12h",
        "over": "3d",
    },
    "theft": {"sessions": 3, "thefts": 1, "largest_gap": "12h", "over": "4d"},
    "password": {"sessions": 3, "password_changes": 1, "largest_gap": "12h", "over": "3d"},
    "devices": {"devices": "1..4", "sessions": 2, "largest_gap": "12h", "over": "2d"},
}

PROPERTIES: dict[str, dict[str, Any]] = {
    "never_forced": {"never": "forced_login"},
    "never_evicted": {"never": "eviction"},
    "never_rejected": {"never": "rejected_login"},
    "login_2d": {"no_token_works": {"later_than": "2d", "after": "login"}},
    "idle_1d": {"no_token_works": {"later_than": "1d", "after": "last_use"}},
    "replay_refused": {"replay": "refused"},
    "replay_kills": {"replay": "kills_family"},
    "stolen_1d": {"stolen_token_stops": {"within": "1d"}},
    "stolen_victim": {"stolen_token_stops": {"after_victim_refreshes": 1}},
    "chains_2": {"at_most": {"valid_chains": 2}},
}


def policy(name: str) -> Policy:
    """One of POLICIES."""
    return Policy.from_dict(POLICIES[name])


def invariant(who: str | dict[str, Any], prop: str | dict[str, Any], name: str = "x") -> Invariant:
    """An invariant of one of CLASSES (or a `who` dict) and one of PROPERTIES (or a property dict)."""
    behaviour = CLASSES[who] if isinstance(who, str) else who
    body = PROPERTIES[prop] if isinstance(prop, str) else prop
    return Invariant.model_validate({"name": name, "who": behaviour, **body})
