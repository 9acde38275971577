"""Validating a scenario file without running it (`tokensim validate`): the file, and every sweep cell."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sim.core.validation import ConfigError, Problem
from sim.experiments.cells import PlannedCell, plan_cells
from sim.scenario.loader import load_scenario
from sim.scenario.model import Scenario


@dataclass
class Validation:
    """A valid scenario file: the scenario, and its sweep cells (with why each invalid one is skipped)."""

    path: Path
    scenario: Scenario
    cells: list[PlannedCell] = field(default_factory=list)

    @property
    def users(self) -> int:
        """Users of the scenario as written."""
        return sum(p.users for p in self.scenario.population)

    @property
    def skipped(self) -> list[PlannedCell]:
        """The sweep cells that cannot run."""
        return [cell for cell in self.cells if cell.scenario is None]


def validate(path: Path) -> Validation:
    """Load and check a scenario file and every cell of its sweep.

    Raises ConfigError (file, line, field) for a bad file, and for a sweep none of whose cells can run.
    """
    scenario = load_scenario(path)
    cells = plan_cells(scenario) if scenario.sweep is not None else []
    result = Validation(Path(path), scenario, cells)
    if cells and len(result.skipped) == len(cells):
        problems = [Problem(("sweep",), "every cell of the sweep is invalid:")]
        problems += [Problem(("sweep",), f"cell {c.cell.id} ({c.cell.label}): {c.error}") for c in cells]
        raise ConfigError(problems, source=str(path))
    return result
