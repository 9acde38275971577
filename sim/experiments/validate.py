"""Validating a scenario file without running it (`tokensim validate`): the file, and every sweep cell."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sim.core.validation import ConfigError, Problem
from sim.experiments.cells import PlannedCell
from sim.experiments.estimate import WorkEstimate, estimate
from sim.experiments.sweep import planned_cells
from sim.run.shards import default_workers
from sim.scenario.loader import load_scenario
from sim.scenario.model import Scenario


@dataclass
class Validation:
    """A valid scenario file: the scenario, and its sweep cells (with why each invalid one is skipped)."""

    path: Path
    scenario: Scenario
    cells: list[PlannedCell] = field(default_factory=list)
    #: The estimated work of running it (every replication and runnable cell) on this machine's cores.
    work: WorkEstimate | None = None

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
    The work estimate is computed, not checked: `validate` says what a run would cost, and a run refuses
    it beyond the limits (`sim.experiments.estimate.LIMITS`).
    """
    scenario = load_scenario(path)
    cells = planned_cells(scenario, str(path)) if scenario.sweep is not None else []
    runnable = [cell.scenario for cell in cells if cell.scenario is not None]
    largest = max(runnable, key=lambda s: sum(p.users for p in s.population) * s.horizon, default=scenario)
    work = estimate(largest, cells=max(1, len(runnable)), cores=default_workers())
    result = Validation(Path(path), scenario, cells, work)
    if cells and len(result.skipped) == len(cells):
        problems = [Problem(("sweep",), "every cell of the sweep is invalid:")]
        problems += [Problem(("sweep",), f"cell {c.cell.id} ({c.cell.label}): {c.error}") for c in cells]
        raise ConfigError(problems, source=str(path))
    return result
