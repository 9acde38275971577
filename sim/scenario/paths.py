"""Dotted override paths into a scenario's YAML form: `policy.sliding_lifetime`, `horizon`,
`population[0].clients.tabs` or, by persona name, `population.office.clients.tabs`.

Sweeps, cases, `sim.api.run(..., overrides=...)` and `optimize` name the values they change with these
paths. A path is checked against the scenario's YAML form (`Scenario.to_config()`, every default applied)
and a bad one raises `PathError` with a "did you mean". This module is pure: no I/O, no scenario model.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sim.core.validation import suggest

PathPart = str | int

#: Top-level fields a sweep may not change, and why.
FIXED_FIELDS: dict[str, str] = {
    "seed": "every cell runs with the scenario's seed (common random numbers)",
    "replications": "every cell runs the scenario's replications (differences are paired by replication)",
    "sweep": "a sweep cannot change the sweep",
    "requirements": "requirements apply to every cell; they are not swept",
    "optimize": "the optimize section is not a simulation parameter",
    "uncertain": "the uncertain section is not a simulation parameter",
    "name": "the name is not a simulation parameter",
    "description": "the description is not a simulation parameter",
}

_SEGMENT = re.compile(r"^(?P<key>[^.\[\]]*)(?P<indexes>(\[\d+\])*)$")


class PathError(ValueError):
    """An override path that is malformed or does not lead to a field of the scenario."""


def parse_path(path: str) -> tuple[PathPart, ...]:
    """`population[0].clients.tabs` -> `("population", 0, "clients", "tabs")`; PathError when malformed."""
    if not isinstance(path, str) or not path.strip():
        raise PathError(
            f"an override path must be a dotted path such as 'policy.sliding_lifetime', got {path!r}"
        )
    parts: list[PathPart] = []
    for segment in path.split("."):
        match = _SEGMENT.match(segment)
        if match is None or not match["key"]:
            raise PathError(
                f"malformed path {path!r}: write keys separated by dots and list positions in brackets, "
                "e.g. 'population[0].clients.tabs' or 'population.office.clients.tabs'"
            )
        parts.append(match["key"])
        parts.extend(int(index) for index in re.findall(r"\[(\d+)\]", match["indexes"]))
    return tuple(parts)


def _where(parts: Sequence[PathPart]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the scenario"


def _step(container: Any, part: PathPart, done: Sequence[PathPart], path: str) -> PathPart:
    """The key or index that `part` denotes in `container`; PathError naming what is there instead."""
    where = _where(done)
    if isinstance(container, Mapping):
        if isinstance(part, int):
            raise PathError(f"{where} is a mapping, not a list: no position [{part}] (in {path!r})")
        if part in container:
            return part
        keys = [str(k) for k in container]
        hint = suggest(part, keys)
        message = f"unknown key {part!r} in {where} (in {path!r})"
        message += f"; did you mean {hint!r}?" if hint else f"; valid keys: {', '.join(keys)}"
        raise PathError(message)
    if isinstance(container, list):
        if isinstance(part, int):
            if part < len(container):
                return part
            raise PathError(f"{where} has {len(container)} entries, no position [{part}] (in {path!r})")
        names = [item.get("name") for item in container if isinstance(item, Mapping)]
        if part in names:
            return names.index(part)
        hint = suggest(part, [str(n) for n in names if n is not None])
        message = f"no entry named {part!r} in {where} (in {path!r})"
        message += f"; did you mean {hint!r}?" if hint else f"; names: {', '.join(map(str, names))}"
        raise PathError(message)
    raise PathError(f"{where} is a single value ({container!r}); it has no {part!r} (in {path!r})")


def locate(config: Mapping[str, Any], path: str) -> tuple[PathPart, ...]:
    """The concrete location (keys and list positions) of `path` in a scenario's YAML form.

    Raises PathError (with "did you mean" for a misspelt key or persona name) when the path is
    malformed, does not exist, or names a field a sweep may not change.
    """
    parts = parse_path(path)
    if isinstance(parts[0], str) and parts[0] in FIXED_FIELDS:
        raise PathError(f"{parts[0]!r} cannot be swept: {FIXED_FIELDS[parts[0]]}")
    container: Any = config
    resolved: list[PathPart] = []
    for part in parts:
        key = _step(container, part, resolved, path)
        resolved.append(key)
        container = container[key]
    return tuple(resolved)


def check_path(config: Mapping[str, Any], path: str) -> str | None:
    """The problem with an override path in this scenario, or None when it is valid."""
    try:
        locate(config, path)
    except PathError as exc:
        return str(exc)
    return None


def value_at(config: Mapping[str, Any], path: str) -> Any:
    """The value at an override path in a scenario's YAML form."""
    value: Any = config
    for key in locate(config, path):
        value = value[key]
    return value


def apply_overrides(config: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of a scenario's YAML form with every override set, in order; PathError for a bad path."""
    result = copy.deepcopy(dict(config))
    for path, value in overrides.items():
        *parents, last = locate(result, path)
        target: Any = result
        for key in parents:
            target = target[key]
        target[last] = copy.deepcopy(value)
    return result


def value_text(value: Any) -> str:
    """A value as text for labels and table columns: strings as written, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def short_names(paths: Sequence[str]) -> dict[str, str]:
    """The shortest distinct dotted suffix of each path (`policy.sliding_lifetime` -> `sliding_lifetime`)."""
    split = {path: path.split(".") for path in paths}
    depth = dict.fromkeys(paths, 1)
    while True:
        names = {path: ".".join(split[path][-depth[path] :]) for path in paths}
        clashes = [p for p in paths if list(names.values()).count(names[p]) > 1 and depth[p] < len(split[p])]
        if not clashes:
            return names
        for path in clashes:
            depth[path] += 1

