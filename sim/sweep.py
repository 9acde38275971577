"""Sweeps: expand a scenario's `sweep:` section into cells, each the scenario with some values overridden.

An override is a dotted path into the scenario's YAML form (`Scenario.to_config()`, every default
applied) and a value: `policy.sliding_lifetime`, `horizon`, `population[0].clients.tabs` or, by persona
name, `population.office.clients.tabs`. A cell's scenario is the base scenario's YAML form with its
overrides applied, validated again by the scenario loader, so a cell gets exactly the checks and
messages of a scenario file; a cell that fails them is *skipped* (see `plan_cells`).

Cells are listed in a stable order: for a grid, every combination in the order the values are listed,
the last path varying fastest; for cases, the listed order. The first cell is the baseline that the
others are compared with. Cell ids (`c03-sliding_lifetime=15d-max_tokens_per_user=10`, `c02-short`)
are derived from the overrides only, so they are the same on every run and safe as directory names.

Every cell runs with the base scenario's seed and replications: users keep the same random streams in
every cell (common random numbers), so differences between cells are paired by replication.

This module is pure: no I/O and no simulation.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.validation import suggest

if TYPE_CHECKING:
    from sim.scenario.model import Scenario, Sweep

PathPart = str | int

#: Top-level fields a sweep may not change, and why.
FIXED_FIELDS: dict[str, str] = {
    "seed": "every cell runs with the scenario's seed (common random numbers)",
    "replications": "every cell runs the scenario's replications (differences are paired by replication)",
    "sweep": "a sweep cannot change the sweep",
    "requirements": "requirements apply to every cell; they are not swept",
    "name": "the name is not a simulation parameter",
    "description": "the description is not a simulation parameter",
}

_SEGMENT = re.compile(r"^(?P<key>[^.\[\]]*)(?P<indexes>(\[\d+\])*)$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]+")
#: Longest cell id (directory names stay well below file-system limits).
MAX_ID_LENGTH = 120


class PathError(ValueError):
    """An override path that is malformed or does not lead to a field of the scenario."""


@dataclass(frozen=True)
class Cell:
    """One variant of the scenario: its position, id, human label and overrides (path -> value)."""

    index: int
    id: str
    label: str
    overrides: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class PlannedCell:
    """A cell with its validated scenario, or the reason it is skipped (`scenario` is then None)."""

    cell: Cell
    scenario: Scenario | None
    error: str | None = None


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


def _slug(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_.") or "_"


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


def swept_paths(sweep: Sweep) -> list[str]:
    """Every path the sweep overrides, in the order they first appear."""
    if sweep.grid is not None:
        return list(sweep.grid)
    paths: list[str] = []
    for case in sweep.cases or ():
        paths.extend(p for p in case.overrides if p not in paths)
    return paths


def _cell_id(index: int, total: int, body: str) -> str:
    prefix = f"c{index + 1:0{max(2, len(str(total)))}d}"
    return f"{prefix}-{body}"[:MAX_ID_LENGTH].rstrip("-_.")


def expand(sweep: Sweep) -> list[Cell]:
    """The sweep's cells in order (the first is the baseline)."""
    if sweep.grid is not None:
        paths = list(sweep.grid)
        names = short_names(paths)
        combos = list(itertools.product(*(sweep.grid[p] for p in paths)))
        cells = []
        for index, combo in enumerate(combos):
            overrides = dict(zip(paths, combo, strict=True))
            body = "-".join(f"{_slug(names[p])}={_slug(value_text(v))}" for p, v in overrides.items())
            label = ", ".join(f"{names[p]}={value_text(v)}" for p, v in overrides.items())
            cells.append(Cell(index, _cell_id(index, len(combos), body), label, overrides))
        return cells
    cases = sweep.cases or ()
    return [
        Cell(index, _cell_id(index, len(cases), _slug(case.name)), case.name, dict(case.overrides))
        for index, case in enumerate(cases)
    ]


def base_config(scenario: Scenario) -> dict[str, Any]:
    """The scenario's YAML form without its sweep and requirements: what every cell starts from."""
    config = scenario.to_config()
    config.pop("sweep", None)
    config.pop("requirements", None)
    return config


def cell_config(base: Mapping[str, Any], scenario: Scenario, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A cell's YAML form: the base with the overrides set (PathError for a bad path).

    The policy starts from its minimal form (the preset and the fields that differ from its defaults), so
    that overriding one field lets the preset's other defaults follow, as in a file written by hand (Okta's
    grace period, for one, is a default only for rotating tokens).
    """
    config = apply_overrides(base, overrides)
    policy = scenario.policy.minimal_config()
    for path, value in overrides.items():
        if path.startswith("policy."):
            policy[path.split(".", 1)[1]] = copy.deepcopy(value)
    config["policy"] = policy
    return config


def plan_cells(scenario: Scenario) -> list[PlannedCell]:
    """Every cell of the scenario's sweep with its validated scenario, or the error that skips it.

    A cell's scenario is validated by the scenario loader from the base scenario's YAML form with the
    cell's overrides applied; its errors are recorded (rendered, without a file name) rather than raised.
    """
    from sim.scenario.loader import scenario_from_dict
    from sim.validation import ConfigError

    if scenario.sweep is None:
        raise ValueError(f"scenario {scenario.name!r} has no sweep")
    base = base_config(scenario)
    planned = []
    for cell in expand(scenario.sweep):
        try:
            planned.append(PlannedCell(cell, scenario_from_dict(cell_config(base, scenario, cell.overrides))))
        except (ConfigError, PathError) as exc:
            message = exc.render() if isinstance(exc, ConfigError) else str(exc)
            planned.append(PlannedCell(cell, None, message))
    return planned
