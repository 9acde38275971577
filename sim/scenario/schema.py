"""The JSON Schema (draft 2020-12) of scenario files, as a user writes them, for editors and checkers.

Derived from the pydantic models: their fields carry titles, descriptions, defaults and enums, and the
custom field types (durations, distributions, the policy) declare their written form through
`WithJsonSchema` / `__get_pydantic_json_schema__`, using `{"x-ref": NAME}` placeholders that are
turned into `$ref`s to the shared definitions built here. The policy section is described from
`sim.policy.model.Policy`'s fields (its pydantic schema shows the parsed form: seconds and nulls).

`docs/scenario.schema.json` is this function's output; regenerate it with
`python -m sim schema --out docs/scenario.schema.json`.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from sim.policy.model import GENERIC_DEFAULTS, Policy
from sim.policy.presets import PRESETS

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

#: A duration string: a number, optionally followed by s, m, h, d or w.
DURATION_PATTERN = r"^\s*(\d+(\.\d+)?|\.\d+)\s*[smhdw]?\s*$"

DURATION_SCHEMA: dict[str, Any] = {
    "title": "Duration",
    "description": "A duration: 90s, 15m, 1h, 15d, 2w (s, m, h, d, w units) or plain seconds.",
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": DURATION_PATTERN},
    ],
    "examples": ["90s", "15m", "1h", "15d", "2w"],
}

_DURATION_OR_UNLIMITED: dict[str, Any] = {
    "anyOf": [{"$ref": "#/$defs/Duration"}, {"enum": ["unlimited", "none"]}]
}

#: The written form of each non-enum policy field (enums come from the model's Literal types).
_POLICY_FORMS: dict[str, dict[str, Any]] = {
    "preset": {"enum": [*PRESETS, None]},  # null: no preset, as `Policy.to_config()` writes it
    "absolute_lifetime": _DURATION_OR_UNLIMITED,
    "sliding_lifetime": _DURATION_OR_UNLIMITED,
    "max_tokens_per_user": {"anyOf": [{"type": "integer", "minimum": 1}, {"enum": ["unlimited"]}]},
    "access_token_lifetime": {
        "anyOf": [{"$ref": "#/$defs/Duration"}, {"$ref": "#/$defs/DurationDistributionForm"}]
    },
    "reuse_interval": {"$ref": "#/$defs/Duration"},
    "idle_tolerance": {"$ref": "#/$defs/Duration"},
    "max_reuse": {"type": "integer", "minimum": 0},
}

POLICY_DESCRIPTIONS: dict[str, str] = {
    "preset": "A vendor preset that fills the defaults and enforces that vendor's limits: "
    + "; ".join(f"{name}: {preset.description}" for name, preset in PRESETS.items()),
    "refresh_token_usage": "reuse: the same refresh token on every refresh; one_time: rotation, each "
    "refresh returns a new token and consumes the old one; rotate_keep_old: a new token on every refresh, "
    "the old ones stay valid while their chain is.",
    "absolute_lifetime": "Deadline counted from the authorization and kept across rotations, or unlimited.",
    "sliding_lifetime": "Each successful use moves the deadline to min(now + sliding, authorized_at + "
    "absolute); or none.",
    "max_tokens_per_user": "Valid token chains a user may hold at once, or unlimited.",
    "on_cap": "What happens when a new login would exceed max_tokens_per_user.",
    "access_token_lifetime": "The lifetime (JWT exp) of each access token, a duration or a distribution; "
    "access tokens are never revoked.",
    "absolute_anchor": "chain: the absolute deadline counts from the authorization; token: from each "
    "token's issue (every rotation gets a full absolute lifetime).",
    "idle_tolerance": "Extra time the server still accepts a token after its sliding deadline "
    "(Keycloak: 120s).",
    "max_reuse": "one_time only: extra times the most recently used token may be presented again, each "
    "use issuing a new token (Keycloak's refresh token max reuse).",
    "reuse_interval": "How long after its consumption a rotated token's predecessor still succeeds "
    "(one_time only).",
    "on_reuse": "What presenting a consumed token outside the reuse interval does: reject it, or also "
    "revoke the whole token family.",
}


def policy_json_schema() -> dict[str, Any]:
    """The schema of the `policy` section, from `Policy`'s fields (defaults are those without a preset)."""
    properties: dict[str, Any] = {}
    for name, field in Policy.model_fields.items():
        if typing.get_origin(field.annotation) is typing.Literal:
            form: dict[str, Any] = {"enum": list(typing.get_args(field.annotation))}
        else:
            form = _POLICY_FORMS[name]
        entry: dict[str, Any] = {"title": name.replace("_", " ").capitalize()}
        entry["description"] = POLICY_DESCRIPTIONS[name]
        entry.update(form)
        if name in GENERIC_DEFAULTS:
            entry["default"] = GENERIC_DEFAULTS[name]
        properties[name] = entry
    return {
        "title": "Policy",
        "description": "The refresh-token policy. Every field is optional: a preset fills its vendor's "
        "defaults, otherwise the generic defaults shown apply. See the policy reference in the README.",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }


class _WrittenForm(GenerateJsonSchema):
    """Optional keys of a scenario are omitted, never written as null: show them without `null`."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        """The inner schema alone."""
        return self.generate_inner(schema["schema"])


def _resolve(value: Any, used: set[str]) -> Any:
    """Resolve `{"x-ref": NAME}` placeholders to `$ref`s, drop `default: null`, give every field a title."""
    if isinstance(value, list):
        return [_resolve(item, used) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    if isinstance(value.get("properties"), dict):  # every field gets a title (pydantic omits some)
        for name, prop in value["properties"].items():
            if isinstance(prop, dict):
                prop.setdefault("title", name.replace("_", " ").title())
    if "x-ref" in value:
        used.add(value["x-ref"])
        out["$ref"] = f"#/$defs/{value['x-ref']}"
    for key, item in value.items():
        if key == "x-ref" or (key == "default" and item is None):
            continue
        out[key] = _resolve(item, used)
    return out


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file as a user writes it."""
    from sim.scenario.model import Scenario

    generated = Scenario.model_json_schema(mode="validation", schema_generator=_WrittenForm)
    used: set[str] = set()
    resolved = _resolve(generated, used)
    defs = dict(resolved.pop("$defs", {}))
    shared = {"Duration": DURATION_SCHEMA, "Policy": policy_json_schema()}
    unknown = used - set(shared)
    if unknown:
        raise AssertionError(f"no shared schema definition for {sorted(unknown)}")
    defs.update(shared)  # the policy refers to Duration, so both are always included
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "tokensim scenario",
        **{key: value for key, value in resolved.items() if key != "title"},
        "$defs": dict(sorted(defs.items())),
    }
