"""`tokensim explore` / `sim.api.explore`: where does a policy break? Scenario discovery over `uncertain:`.

The scenario (with the given values, e.g. those `optimize` recommends) runs at every point of a Latin
hypercube over the `uncertain:` ranges (`points`, default DEFAULT_POINTS), each with the scenario's
replications on its seed. Each requirement (the scenario's `requirements:`, `optimize.subject_to` and any
given) is decided at each point by its one-sided 95% bound, as `optimize` does; a point where it does not
hold is a failure. PRIM (the Patient Rule Induction Method of J. H. Friedman and N. I. Fisher, "Bump
hunting in high-dimensional data", Statistics and Computing 9:123-143, 1999, as implemented by the EMA
Workbench, `ema_workbench.analysis.prim`) then peels the box of uncertain values where failures
concentrate: its ranges are the readable rule ("fails when sessions_per_day < 0.8 and devices >= 3"),
with its coverage (the share of all failures inside it) and density (the share of points inside it that
fail). Evaluations are saved as they finish, so a killed exploration resumes.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.optimization import ExploreBox, ExploreRequirement, ExploreSummary
from sim.analysis.summary import header
from sim.core.metric_names import ALL
from sim.core.output import write_table, write_text_atomic
from sim.core.resultset import OutputError, ResultSet
from sim.core.validation import ConfigError, Problem
from sim.experiments.design import latin_hypercube
from sim.experiments.evaluations import FOLDER, check_work, evaluator, remove_evaluations
from sim.experiments.progress import Progress
from sim.experiments.selection import feasibility
from sim.report.numbers import formatter
from sim.run.executors import WORKER_TIMEOUT
from sim.run.shards import default_workers
from sim.scenario.model import Scenario
from sim.scenario.optimize import Variable
from sim.scenario.overrides import with_path_overrides
from sim.scenario.paths import short_names, value_text
from sim.scenario.requirements import parse_requirements

#: Points of the exploration design when none is given.
DEFAULT_POINTS = 32
#: The density a PRIM box must reach (share of its points that fail).
PRIM_THRESHOLD = 0.8
#: Failing at this share of the points or more is failing almost everywhere (a box says little then).
ALMOST_EVERYWHERE = 0.75


@dataclass
class ExploreResult:
    """A finished exploration: its summary and the per-point table."""

    out: Path
    summary: ExploreSummary
    points: pd.DataFrame
    seconds: float = 0.0


def _numeric(variable: Variable, value: Any) -> Any:
    """A design value for PRIM: a number (days for durations) or the choice's text."""
    if variable.choices is not None:
        return value_text(value)
    number = variable.number(value)
    return number / 86400.0 if variable.kind == "duration" else number


def explore(
    scenario: Scenario,
    out: Path,
    *,
    values: Mapping[str, Any] | None = None,
    require: Sequence[str] = (),
    points: int | None = None,
    resume: bool = False,
    force: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    worker_timeout: float = WORKER_TIMEOUT,
    progress: Progress | None = None,
    source: str | None = None,
    allow_large: bool = False,
) -> ExploreResult:
    """Run the scenario (with `values` set at their dotted paths) over a Latin hypercube of its
    `uncertain:` ranges and find where each requirement fails (see the module docstring).

    Raises ConfigError without an `uncertain:` section or without any requirement, or for bad values;
    TooLargeError when the points' runs are beyond the limits of sim.experiments.estimate and `allow_large`
    is not set.
    """
    name = source or scenario.name
    if scenario.uncertain is None:
        problem = Problem(("uncertain",), "the scenario has no uncertain: section: explore needs the "
                                          "ranges to explore (see docs/optimize.md)")
        raise ConfigError([problem], source=name)
    texts = [*scenario.requirements, *(scenario.optimize.subject_to if scenario.optimize else ()), *require]
    if not texts:
        raise ConfigError([Problem(("requirements",), "nothing to explore: give requirements (requirements:, "
                                                      "optimize.subject_to or --require)")], source=name)
    requirements = parse_requirements(list(dict.fromkeys(texts)), source=name)
    values = dict(values or {})
    base = with_path_overrides(scenario, values, source="--set") if values else scenario
    count = points or DEFAULT_POINTS
    if count < 4:
        raise ConfigError([Problem(("points",), f"must be at least 4, got {count}")], source="--points")
    ranges = scenario.uncertain.over
    design = latin_hypercube(ranges, count, scenario.seed)
    variants = [with_path_overrides(base, point, source="uncertain") for point in design]
    progress = progress or Progress()
    check_work(variants, len(variants) * base.replications, base.replications, workers or default_workers(),
               progress, allow_large, name)
    started = time.perf_counter()
    out = Path(out)
    if (out / FOLDER).is_dir() and not (resume or force):
        raise OutputError(f"--out {out} holds the evaluations of an exploration; use --resume to finish it, "
                          "or --force to start over (files tokensim did not write are kept)")
    reps = base.replications
    allow = (FOLDER,) if resume else ()
    with ResultSet.open(out, "explore", force=force, keep=resume, allow=allow) as results:
        if not resume:
            remove_evaluations(out)
        rows = []
        try:
            with evaluator(out, results, workers, scheduler, progress, worker_timeout) as run:
                progress.started("explore", count, "points")
                for index, (point, variant) in enumerate(zip(design, variants, strict=True)):
                    frame = run.evaluate(variant, range(reps), {"design_point": point, "values": values},
                                         f"point {index + 1}/{count}")
                    row: dict[str, Any] = {"point": index, **point}
                    for req in requirements:
                        rows_of = frame[frame["persona"] == (req.persona or ALL)].sort_values("replication")
                        series = rows_of[req.metric].astype(float).tolist() if req.metric in rows_of else []
                        decision = feasibility(series, req.threshold, req.op)
                        row[f"{req.text} :: mean"] = decision.mean
                        row[f"{req.text} :: bound"] = decision.bound
                        row[f"{req.text} :: status"] = decision.status
                    rows.append(row)
                    progress.advanced("explore", index + 1, count)
        finally:
            progress.end()
        table = pd.DataFrame(rows)
        x = pd.DataFrame({p: [_numeric(ranges[p], point[p]) for point in design] for p in ranges})
        found = [_discover(req.text, x, table[f"{req.text} :: status"], ranges) for req in requirements]
        fields = header(base)
        summary = ExploreSummary(
            **fields, policy=base.policy.minimal_config(), overrides=values,
            parameters={p: v.model_dump(mode="json", exclude_none=True) for p, v in ranges.items()},
            points=design, requirements=found,
            method=f"PRIM (ema_workbench), density threshold {PRIM_THRESHOLD}",
            answer=_answer(found, ranges), resolved_scenario=scenario.to_config(),
        )
        write_table(table, results.path("points.parquet"), "parquet")
        write_text_atomic(results.path("summary.json"), summary.to_json())
        run.remove_unused()
        results.commit(in_place=run.files())
    return ExploreResult(out, summary, table, time.perf_counter() - started)


def _discover(
    text: str, x: pd.DataFrame, statuses: pd.Series, ranges: Mapping[str, Variable]
) -> ExploreRequirement:
    """PRIM's box of the points where the requirement is not shown to hold (None when that is nowhere or
    everywhere)."""
    y = (statuses != "holds").to_numpy(dtype=bool)
    result = ExploreRequirement(requirement=text, failures=int(y.sum()), points=len(y),
                                undecided=int((statuses == "undecided").sum()))
    if y.sum() == 0 or y.all():
        return result
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

        frame = x.copy()
        for column in frame:
            if frame[column].dtype == object:
                frame[column] = frame[column].astype("category")
        search = prim.Prim(frame, y, threshold=PRIM_THRESHOLD, peel_alpha=0.1)
        box = search.find_box()
    limits = box.box_lims[box._cur_box]
    initial = box.box_lims[0]
    restricted: dict[str, tuple[Any, Any]] = {}
    for column in x.columns:
        low, high = limits[column].iloc[0], limits[column].iloc[1]
        if isinstance(low, set):
            if low != initial[column].iloc[0]:
                restricted[column] = (sorted(low), sorted(low))
            continue
        if not (math.isclose(low, initial[column].iloc[0]) and math.isclose(high, initial[column].iloc[1])):
            restricted[column] = (float(low), float(high))
    stats = box.peeling_trajectory.iloc[box._cur_box]
    inside = np.ones(len(x), dtype=bool)
    for column, (low, high) in restricted.items():
        if isinstance(low, list):
            inside &= x[column].isin(low).to_numpy()
        else:
            inside &= ((x[column] >= low) & (x[column] <= high)).to_numpy()
    found = ExploreBox(limits=restricted, coverage=float(stats["coverage"]), density=float(stats["density"]),
                       mass=float(stats["mass"]), points=int(inside.sum()))
    return result.model_copy(update={"box": found, "rules": _rules(restricted, x, ranges)})


def _rules(restricted: Mapping[str, tuple[Any, Any]], x: pd.DataFrame,
           ranges: Mapping[str, Variable]) -> list[str]:
    """Each restricted parameter as words: `sessions_per_day < 0.81`, `devices in [2, 3]`."""
    names = short_names(list(ranges))
    rules = []
    for path, (low, high) in restricted.items():
        variable = ranges[path]
        if isinstance(low, list):
            rules.append(f"{names[path]} is one of {', '.join(map(str, low))}")
            continue
        unit = "d" if variable.kind == "duration" else ""
        lowest, highest = float(x[path].min()), float(x[path].max())
        parts = []
        if low > lowest + 1e-12:
            parts.append(f"{names[path]} >= {low:.3g}{unit}")
        if high < highest - 1e-12:
            parts.append(f"{names[path]} <= {high:.3g}{unit}")
        rules.append(" and ".join(parts) if parts else f"{names[path]} in [{low:.3g}, {high:.3g}]{unit}")
    return rules


def _answer(found: Sequence[ExploreRequirement], ranges: Mapping[str, Variable]) -> list[str]:
    lines = []
    for req in found:
        if req.failures == 0:
            lines.append(f"`{req.requirement}` holds with 95% confidence at all {req.points} points "
                         "explored.")
        elif req.failures == req.points:
            lines.append(f"`{req.requirement}` does not hold at any of the {req.points} points explored.")
        elif req.box is None or not req.rules:
            lines.append(f"`{req.requirement}` fails at {req.failures} of {req.points} points{_split(req)}, "
                         "with no box of the uncertain values that concentrates the failures.")
        elif req.failures >= ALMOST_EVERYWHERE * req.points:
            lines.append(
                f"`{req.requirement}` fails at {req.failures} of {req.points} points{_split(req)}: almost "
                f"everywhere, so it is the policy rather than the uncertain values; PRIM's box "
                f"(**{' and '.join(req.rules)}**) only trims the {req.points - req.failures} points where it "
                "holds.")
        else:
            box = req.box
            lines.append(
                f"`{req.requirement}` fails at {req.failures} of {req.points} points{_split(req)}; it fails "
                f"mainly when **{' and '.join(req.rules)}** ({formatter(share=True)(box.density)} of the "
                f"points there fail; the box holds {formatter(share=True)(box.coverage)} of all failures).")
    return lines


def _split(req: ExploreRequirement) -> str:
    """` (5 shown to fail, 3 undecided)` when some failures are only undecided ones."""
    if not req.undecided:
        return ""
    return (f" ({req.failures - req.undecided} shown to fail, {req.undecided} undecided: too close to the "
            "limit for the replications)")
