"""Sweep cells: a scenario's `sweep:` section expanded into variants, each the scenario with some values
overridden at dotted paths (`sim.scenario.paths`).

A cell's scenario is the base scenario's YAML form with its overrides applied, validated again by the
scenario loader (`sim.scenario.overrides`), so a cell gets exactly the checks and messages of a scenario
file; a cell that fails them is *skipped* (see `plan_cells`).

Cells are listed in a stable order: for a grid, every combination in the order the values are listed,
the last path varying fastest; for cases, the listed order. The first cell is the baseline that the
others are compared with. Cell ids (`c03-sliding_lifetime=15d-max_tokens_per_user=10`, `c02-short`)
are derived from the overrides only, so they are the same on every run and safe as directory names.

Every cell runs with the base scenario's seed and replications: users keep the same random streams in
every cell (common random numbers), so differences between cells are paired by replication.

This module is pure: no I/O and no simulation.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from typing import Any

from sim.core.validation import ConfigError
from sim.scenario.loader import scenario_from_dict
from sim.scenario.model import Scenario, Sweep
from sim.scenario.overrides import base_config, cell_config
from sim.scenario.paths import PathError, short_names, value_text

_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]+")
#: Longest cell id (directory names stay well below file-system limits).
MAX_ID_LENGTH = 120


class TooManyCells(ValueError):
    """A sweep with more cells than allowed (the grid's value lists multiply)."""

    def __init__(self, count: int, limit: int):
        super().__init__(f"the sweep has {count:,} cells (the product of its grid's value lists), above the "
                         f"limit of {limit:,}")
        self.count = count
        self.limit = limit


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


def _slug(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_.") or "_"


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


def count_cells(sweep: Sweep) -> int:
    """How many cells the sweep has, without making them (a grid is the product of its value lists)."""
    if sweep.grid is not None:
        return math.prod(len(values) for values in sweep.grid.values())
    return len(sweep.cases or ())


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


def plan_cells(scenario: Scenario, max_cells: int | None = None) -> list[PlannedCell]:
    """Every cell of the scenario's sweep with its validated scenario, or the error that skips it.

    A cell's scenario is validated by the scenario loader from the base scenario's YAML form with the
    cell's overrides applied; its errors are recorded (rendered, without a file name) rather than raised.
    With `max_cells`, a sweep of more cells raises TooManyCells before any is made.
    """
    if scenario.sweep is None:
        raise ValueError(f"scenario {scenario.name!r} has no sweep")
    count = count_cells(scenario.sweep)
    if max_cells is not None and count > max_cells:
        raise TooManyCells(count, max_cells)
    base = base_config(scenario)
    planned = []
    for cell in expand(scenario.sweep):
        try:
            planned.append(PlannedCell(cell, scenario_from_dict(cell_config(base, scenario, cell.overrides))))
        except (ConfigError, PathError) as exc:
            message = exc.render() if isinstance(exc, ConfigError) else str(exc)
            planned.append(PlannedCell(cell, None, message))
    return planned
