"""Checking requirements (`tokensim check`, `sim.api.check`): do the results meet them with 95% confidence?

The requirements are the scenario's `requirements:` plus any given here. The results come from `out`
when it already holds a complete result set of this very scenario (its summary records the resolved
scenario), otherwise the scenario is run (and written to `out` when given). For a scenario with a sweep,
every requirement must hold in every cell. A requirement naming an unknown metric or persona is bad
input (`ConfigError` or `UnknownMetricError`), raised before anything runs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.analysis.summary import ResultFileError, RunSummary, SweepSummary
from sim.analysis.verdicts import Verdict, check_names, evaluate
from sim.core.resultset import OutputError, verify
from sim.experiments.progress import Progress
from sim.experiments.run import run, run_into
from sim.experiments.sweep import run_sweep
from sim.run.executors import WORKER_TIMEOUT
from sim.scenario.model import Scenario
from sim.scenario.requirements import Requirement, parse_requirements


@dataclass
class CellVerdicts:
    """The verdicts of every requirement on one result (a run, or one cell of a sweep)."""

    #: The cell id, or None for a single run.
    cell: str | None
    label: str | None
    verdicts: list[Verdict]

    @property
    def holds(self) -> bool:
        """True when every requirement holds here."""
        return all(v.holds for v in self.verdicts)


@dataclass
class CheckResult:
    """Every requirement's verdict on every result; `passed` when all hold."""

    scenario: str
    requirements: list[Requirement]
    results: list[CellVerdicts]
    #: Sweep cells that could not run (not checked), as (cell, error).
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: Where the results came from: `read` from an earlier run, or `ran` now.
    source: str = "ran"
    summary: RunSummary | SweepSummary | None = None

    @property
    def passed(self) -> bool:
        """True when every requirement holds in every result."""
        return all(cell.holds for cell in self.results)

    @property
    def failures(self) -> list[tuple[CellVerdicts, Verdict]]:
        """Every failed verdict with the result it failed on."""
        return [(cell, v) for cell in self.results for v in cell.verdicts if not v.holds]


def requirements_of(
    scenario: Scenario, extra: Sequence[str] = (), source: str | None = None
) -> list[Requirement]:
    """The scenario's requirements and the extra ones, parsed and checked against its personas.

    Raises ConfigError for a malformed requirement or unknown metric, UnknownMetricError for an unknown
    persona (both with "did you mean"), and ConfigError when there is nothing to check.
    """
    from sim.core.validation import ConfigError, Problem

    requirements = parse_requirements(scenario.requirements, source=source or scenario.name)
    requirements += parse_requirements(list(extra), source="--require")
    if not requirements:
        raise ConfigError(
            [Problem(("requirements",), "nothing to check: the scenario has no requirements: section and no "
                                        "requirement was given (--require)")],
            source=source or scenario.name,
        )
    check_names(requirements, [p.name for p in scenario.population])
    return requirements


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """A resolved scenario without its requirements (they do not change the results)."""
    return {key: value for key, value in config.items() if key != "requirements"}


def stored_summary(out: Path | None, scenario: Scenario) -> RunSummary | SweepSummary | None:
    """The summary in `out` when it is a complete result set written for this scenario, else None."""
    if out is None or not (Path(out) / "summary.json").is_file():
        return None
    try:
        verify(Path(out))
        path = Path(out) / "summary.json"
        summary = SweepSummary.read(path) if scenario.sweep is not None else RunSummary.read(path)
    except (OutputError, ResultFileError):
        return None
    if _comparable(summary.resolved_scenario) != _comparable(scenario.to_config()):
        return None
    return summary


def check(
    scenario: Scenario,
    require: Sequence[str] = (),
    *,
    out: Path | None = None,
    force: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    worker_timeout: float = WORKER_TIMEOUT,
    progress: Progress | None = None,
    source: str | None = None,
    allow_large: bool = False,
) -> CheckResult:
    """Check the scenario's requirements and `require` on its results (see the module docstring)."""
    requirements = requirements_of(scenario, require, source)
    summary = stored_summary(out, scenario)
    origin = "read"
    if summary is None:
        origin = "ran"
        summary = _results(scenario, out, force, workers, scheduler, progress, source, allow_large,
                           worker_timeout)
    return verdicts(summary, requirements, origin)


def _results(
    scenario: Scenario, out: Path | None, force: bool, workers: int | None, scheduler: str | None,
    progress: Progress | None, source: str | None, allow_large: bool, worker_timeout: float,
) -> RunSummary | SweepSummary:
    if scenario.sweep is not None:
        if out is not None:
            resume = not force and (Path(out) / "cells").is_dir()
            return run_sweep(scenario, out, resume=resume, force=force, workers=workers, scheduler=scheduler,
                             worker_timeout=worker_timeout, progress=progress, source=source,
                             allow_large=allow_large).summary
        with tempfile.TemporaryDirectory(prefix="tokensim-check-") as scratch:
            return run_sweep(scenario, Path(scratch) / "sweep", workers=workers, scheduler=scheduler,
                             worker_timeout=worker_timeout, progress=progress, source=source,
                             allow_large=allow_large).summary
    if out is not None:
        return run_into(scenario, out, force=force, workers=workers, scheduler=scheduler,
                        worker_timeout=worker_timeout, progress=progress, allow_large=allow_large).summary
    with run(scenario, workers=workers, scheduler=scheduler, worker_timeout=worker_timeout, progress=progress,
             allow_large=allow_large) as result:
        return result.summary


def verdicts(
    summary: RunSummary | SweepSummary, requirements: list[Requirement], origin: str = "read"
) -> CheckResult:
    """Every requirement evaluated on a run's or a sweep's summary."""
    if isinstance(summary, SweepSummary):
        results = [
            CellVerdicts(
                cell.cell, cell.label, [evaluate(r, cell, summary.replications) for r in requirements]
            )
            for cell in summary.cells
        ]
        skipped = [(s.cell, s.error or "") for s in summary.skipped]
    else:
        found = [evaluate(r, summary, summary.replications) for r in requirements]
        results = [CellVerdicts(None, None, found)]
        skipped = []
    return CheckResult(summary.scenario, requirements, results, skipped, origin, summary)

