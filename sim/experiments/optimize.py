"""`tokensim optimize` / `sim.api.optimize`: choose the values of a scenario's `optimize.over`, with a
guarantee.

1. **Search** (optuna, ask-and-tell): TPE for one objective, NSGA-II for two, seeded by the scenario's
   seed. Every candidate runs the scenario's replications (at least 2) with the scenario's seed, so every
   candidate meets the same simulated users (common random numbers); with `uncertain:` it runs at every
   point of a Latin hypercube design common to all candidates, and its objective is the worst (or a stated
   quantile) over the points. Requirements go to the optimiser as constraints (optuna's
   `constraints_func`: the scaled violation of each requirement's mean, at the worst point). The search
   stops when the next candidate would exceed the budget.
2. **Selection**: the best `optimize.candidates` of the search, feasible ones first. Each requirement is
   decided at every design point by its one-sided 95% bound (sim.experiments.selection.feasibility);
   undecided ones get more replications (doubling, up to `max_replications`) and count as failing if still
   undecided. Among the feasible candidates, Kim and Nelson's KN adds one replication at a time to every
   survivor until one is left: the best with probability >= 95% when it is at least `indifference` better
   than the others. Added replications continue the same random streams (replication r of every candidate
   uses the same random numbers).
3. **Outputs**: `recommended.yaml`, `candidates.parquet` (every evaluation, one row per candidate, design
   point, replication and persona), `summary.json` (sim.analysis.optimization.OptimizeSummary) and, when
   asked, the report. Evaluations are saved as they finish (sim.experiments.evaluations): after a kill,
   `resume=True` replays the search (the optimiser is seeded, so it proposes the same candidates) and runs
   only what is missing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import optuna
import pandas as pd
import yaml
from optuna.trial import TrialState

from sim.analysis.optimization import (
    CandidateSummary,
    ConstraintCheck,
    OptimizeSummary,
    RegretRow,
    SelectionSummary,
)
from sim.analysis.stats import json_number, mean_ci
from sim.analysis.summary import header
from sim.core.durations import DAY
from sim.core.metric_names import ALL
from sim.core.output import write_table, write_text_atomic
from sim.core.resultset import OutputError, ResultSet
from sim.core.validation import ConfigError, Problem
from sim.experiments.design import Space, latin_hypercube
from sim.experiments.evaluations import FOLDER, Evaluator, check_work, evaluator, remove_evaluations
from sim.experiments.precision import PrecisionTarget, until_precise
from sim.experiments.progress import Progress
from sim.experiments.selection import Feasibility, feasibility, kim_nelson
from sim.report.numbers import formatter, num
from sim.report.optimize_words import check_words, moot_sliding_words
from sim.run.executors import WORKER_TIMEOUT
from sim.run.shards import default_workers
from sim.scenario.model import Scenario
from sim.scenario.optimize import Optimize, parse_objective
from sim.scenario.overrides import with_path_overrides
from sim.scenario.paths import value_text
from sim.scenario.requirements import Requirement, parse_requirement

FloatArray = npt.NDArray[np.float64]
#: The error of the selection (1 - probability of correct selection) and of each feasibility decision.
ALPHA = 0.05
#: Consecutive proposals of candidates already evaluated (or invalid) after which the search stops.
STALE_LIMIT = 60


@dataclass
class Candidate:
    """One candidate: its values, its variant scenario at each design point and what it gave."""

    id: str
    values: dict[str, Any]
    label: str
    trial: int
    variants: list[Scenario] = field(default_factory=list)
    error: str | None = None
    #: Per design point, the per-replication metrics frames in the order they were run.
    frames: list[list[pd.DataFrame]] = field(default_factory=list)
    replications: int = 0
    checks: list[ConstraintCheck] = field(default_factory=list)
    feasible: bool | None = None
    in_selection: bool = False
    eliminated_at: int | None = None

    @property
    def valid(self) -> bool:
        """True when its scenario could be built at every design point."""
        return self.error is None

    def series(self, metric: str, persona: str, point: int) -> FloatArray:
        """The metric's per-replication values at one design point (replication order)."""
        frame = pd.concat(self.frames[point], ignore_index=True)
        rows = frame[frame["persona"] == persona].sort_values("replication")
        if metric not in rows:
            return np.full(len(rows), np.nan)
        return np.asarray(rows[metric].to_numpy(dtype=float), dtype=float)


@dataclass
class OptimizeResult:
    """A finished optimisation: its summary, the winner and where everything was written."""

    out: Path
    summary: OptimizeSummary
    candidates: pd.DataFrame
    seconds: float = 0.0
    ran: int = 0
    reused: int = 0

    @property
    def recommended(self) -> dict[str, Any] | None:
        """The recommended values (path -> value), None when no candidate meets every requirement."""
        if self.summary.recommended is None:
            return None
        return dict(self.summary.candidate(self.summary.recommended).values)


class _Problem:
    """The optimisation problem: objectives, requirements, space, design, and how candidates compare."""

    def __init__(self, scenario: Scenario, source: str | None):
        assert scenario.optimize is not None
        self.scenario = scenario
        self.spec: Optimize = scenario.optimize
        self.source = source or scenario.name
        self.objectives = [parse_objective(text) for text in self.spec.objectives]
        self.minimize = self.spec.sense == "minimize"
        self.requirements: list[Requirement] = [parse_requirement(t) for t in self.spec.subject_to]
        self.space = Space(self.spec.over)
        uncertain = scenario.uncertain
        self.design: list[dict[str, Any]] = (
            latin_hypercube(uncertain.over, uncertain.points, scenario.seed) if uncertain is not None
            else [{}]
        )
        self.robust: str | float | None = uncertain.robust if uncertain is not None else None
        self.n0 = max(2, scenario.replications)

    def variants(self, values: Mapping[str, Any]) -> list[Scenario]:
        """The candidate's scenario at every design point (ConfigError when a value is invalid)."""
        return [with_path_overrides(self.scenario, {**values, **point}, source="candidate")
                for point in self.design]

    def observations(self, candidate: Candidate, objective: int = 0) -> FloatArray:
        """Per replication, the objective aggregated over the design points (worst or a quantile): the
        observations the search and KN compare (NaN when the metric has no value)."""
        metric, persona = self.objectives[objective]
        table = np.vstack([candidate.series(metric, persona, d) for d in range(len(self.design))])
        if table.shape[0] == 1:
            return np.asarray(table[0], dtype=float)
        if self.robust == "worst":
            return np.asarray(table.max(axis=0) if self.minimize else table.min(axis=0), dtype=float)
        q = float(self.robust) if self.robust is not None else 1.0
        return np.asarray(np.quantile(table, q if self.minimize else 1 - q, axis=0), dtype=float)

    def violation(self, candidate: Candidate) -> list[float]:
        """Each requirement's scaled violation of its mean at its worst design point (<= 0: met)."""
        found = []
        for req in self.requirements:
            worst = -math.inf
            for d in range(len(self.design)):
                values = candidate.series(req.metric, req.persona or ALL, d)
                mean = float(np.mean(values)) if len(values) and not np.isnan(values).any() else math.nan
                if math.isnan(mean):
                    worst = 1.0
                    break
                gap = (mean - req.threshold) if req.upper else (req.threshold - mean)
                worst = max(worst, gap / max(abs(req.threshold), 1e-9))
            found.append(worst)
        return found

    def decide(self, candidate: Candidate) -> None:
        """Decide every requirement at every design point by one-sided 95% bounds (the worst point kept)."""
        checks = []
        for req in self.requirements:
            chosen: tuple[int, Feasibility] | None = None
            rank = {"fails": 0, "undecided": 1, "holds": 2}
            for d in range(len(self.design)):
                decision = feasibility(candidate.series(req.metric, req.persona or ALL, d), req.threshold,
                                       req.op, 1 - ALPHA)
                if chosen is None or rank[decision.status] < rank[chosen[1].status] or (
                        decision.status == chosen[1].status and _closer(decision, chosen[1], req)):
                    chosen = (d, decision)
            assert chosen is not None
            point, decision = chosen
            checks.append(ConstraintCheck(requirement=req.text, status=decision.status,
                                          mean=json_number(decision.mean), bound=json_number(decision.bound),
                                          design_point=point, missing=decision.missing,
                                          replications=decision.replications))
        candidate.checks = checks
        candidate.feasible = all(c.status == "holds" for c in checks)

    def cost(self, variants: Sequence[Scenario]) -> tuple[float, int]:
        """(user-years, runs) of evaluating these variants for n0 replications."""
        years = sum(sum(p.users for p in v.population) * v.horizon / (365 * DAY) for v in variants) * self.n0
        return years, self.n0 * len(variants)


def _closer(a: Feasibility, b: Feasibility, req: Requirement) -> bool:
    """True when decision `a` is nearer to failing than `b` (its bound further toward the threshold)."""
    if math.isnan(a.bound) or math.isnan(b.bound):
        return math.isnan(a.bound) and not math.isnan(b.bound)
    return a.bound > b.bound if req.upper else a.bound < b.bound


def optimize(
    scenario: Scenario,
    out: Path,
    *,
    resume: bool = False,
    force: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    worker_timeout: float = WORKER_TIMEOUT,
    progress: Progress | None = None,
    precision: PrecisionTarget | None = None,
    source: str | None = None,
    allow_large: bool = False,
) -> OptimizeResult:
    """Search, select and write the recommendation of the scenario's `optimize:` section into `out`.

    Raises ConfigError when the scenario has no `optimize:` section or no candidate can be built;
    OutputError when `out` cannot be used (or holds evaluations without `resume`/`force`); ShardFailure
    when a worker or the cluster fails (finished evaluations are kept: resume); TooLargeError when the most
    the budget and the selection stage may simulate is beyond the limits of sim.experiments.estimate and
    `allow_large` is not set.
    """
    if scenario.optimize is None:
        raise ConfigError([Problem(("optimize",), "the scenario has no optimize: section (see "
                                                  "docs/optimize.md)")], source=source or scenario.name)
    problem = _Problem(scenario, source)
    _check_variables(problem)
    progress = progress or Progress()
    _check_work(problem, workers, progress, allow_large)
    started = time.perf_counter()
    out = Path(out)
    if (out / FOLDER).is_dir() and not (resume or force):
        raise OutputError(f"--out {out} holds the evaluations of an optimisation; use --resume to finish it, "
                          "or --force to start over (files tokensim did not write are kept)")
    allow = (FOLDER,) if resume else ()
    with ResultSet.open(out, "optimize", force=force, keep=resume, allow=allow) as results:
        if not resume:
            remove_evaluations(out)
        try:
            with evaluator(out, results, workers, scheduler, progress, worker_timeout) as run:
                if run.reused == 0 and resume and (out / FOLDER).is_dir():
                    progress.note(f"resuming: evaluations saved in {out / FOLDER} are reused")
                candidates, trials = _search(problem, run, progress)
                search_spent = {"user_years": run.user_years, "runs": float(run.runs)}
                selection, winner, precision_info = _select(problem, candidates, run, progress, precision)
        finally:
            progress.end()
        summary = _summary(problem, candidates, trials, selection, winner, search_spent, run, precision_info)
        table = _candidates_table(problem, candidates)
        write_table(table, results.path("candidates.parquet"), "parquet")
        write_text_atomic(results.path("summary.json"), summary.to_json())
        if winner is not None:
            write_text_atomic(results.path("recommended.yaml"), _recommended_yaml(problem, winner, summary))
        run.remove_unused()
        results.commit(in_place=run.files())
    return OptimizeResult(out, summary, table, time.perf_counter() - started, run.ran, run.reused)


def _check_variables(problem: _Problem) -> None:
    """Every decision variable must have at least one value the scenario accepts (else bad input)."""
    problems = []
    for path, variable in problem.space.variables.items():
        probes = list(variable.choices) if variable.choices is not None else [
            variable.value(n) for n in variable.bounds()]
        errors = []
        for value in probes:
            try:
                with_path_overrides(problem.scenario, {path: value}, source="candidate")
            except ConfigError as exc:
                errors.append(exc.render())
        if len(errors) == len(probes):
            problems.append(Problem(("optimize", "over", path), f"no value of this variable makes a valid "
                                    f"scenario; for {value_text(probes[0])}: {errors[0]}"))
    if problems:
        raise ConfigError(problems, source=problem.source)


def _check_work(problem: _Problem, workers: int | None, progress: Progress, allow_large: bool) -> None:
    """The most the optimisation may simulate (the search's budget, then every candidate of the selection
    stage at the replication cap at every design point) against the limits of sim.experiments.estimate."""
    scenario, spec = problem.scenario, problem.spec
    variants = [with_path_overrides(scenario, point, source="uncertain") for point in problem.design]
    unit, limit = _budget(problem)
    years_per_run = sum(p.users for p in scenario.population) * scenario.horizon / (365 * DAY)
    search = limit if unit == "runs" else limit / max(years_per_run, 1e-12)
    runs = search + spec.candidates * max(spec.max_replications, problem.n0) * len(problem.design)
    check_work(variants, runs, max(problem.n0, spec.max_replications), workers or default_workers(), progress,
               allow_large, problem.source)


# --- the search ----------------------------------------------------------------------------------------


def _sampler(problem: _Problem) -> optuna.samplers.BaseSampler:
    """The optimiser, seeded by the scenario's seed (so a resumed search proposes the same candidates);
    requirements reach it as constraints (`Trial.set_constraint`)."""
    seed = problem.scenario.seed
    name = problem.spec.sampler
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=16)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=8)


def _budget(problem: _Problem) -> tuple[str, float]:
    budget = problem.spec.budget
    return ("runs", float(budget.runs)) if budget.runs is not None else ("user_years", float(budget.user_years
                                                                                             or 0.0))


def _search(problem: _Problem, run: Evaluator, progress: Progress) -> tuple[list[Candidate], int]:
    """The optimiser's loop; every new candidate is evaluated for n0 replications at every design point."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    directions = [problem.spec.sense] * len(problem.objectives)
    study = optuna.create_study(directions=directions, sampler=_sampler(problem))
    distributions = problem.space.distributions()
    unit, limit = _budget(problem)
    spent = 0.0
    candidates: dict[str, Candidate] = {}
    stale = 0
    trials = 0
    label = "search"
    started = time.perf_counter()
    progress.started(label, max(1, int(limit)), unit.replace("_", "-"))
    size = problem.space.size()
    while stale < STALE_LIMIT and len(candidates) < size:
        trial = study.ask(distributions)
        trials += 1
        values = problem.space.decode(trial.params)
        key = value_text(values)
        candidate = candidates.get(key)
        if candidate is None:
            candidate = Candidate(id=f"k{len(candidates) + 1:03d}", values=values,
                                  label=problem.space.label(values), trial=trial.number)
            try:
                candidate.variants = problem.variants(values)
            except ConfigError as exc:
                candidate.error = exc.render().replace("candidate: ", "")
            if candidate.valid:
                years, runs = problem.cost(candidate.variants)
                need = runs if unit == "runs" else years
                if spent + need > limit + 1e-9:
                    study.tell(trial, state=TrialState.FAIL)
                    break
                spent += need
                _extend(problem, candidate, problem.n0, run, "search")
            candidates[key] = candidate
            stale = 0 if candidate.valid else stale + 1
            progress.advanced(label, min(int(spent), int(limit)), max(1, int(limit)))
        else:
            stale += 1
        if not candidate.valid:
            study.tell(trial, state=TrialState.FAIL)
            continue
        values_out = [_finite(float(np.nanmean(problem.observations(candidate, i))), problem)
                      for i in range(len(problem.objectives))]
        for req, violation in zip(problem.requirements, problem.violation(candidate), strict=True):
            trial.set_constraint(req.text, violation)
        study.tell(trial, values_out if len(values_out) > 1 else values_out[0])
    progress.finished(label, time.perf_counter() - started)
    return list(candidates.values()), trials


def _finite(value: float, problem: _Problem) -> float:
    """An objective for the optimiser: an undefined one (NaN) is the worst possible."""
    if math.isnan(value):
        return 1e300 if problem.minimize else -1e300
    return value


def _extend(problem: _Problem, candidate: Candidate, upto: int, run: Evaluator, stage: str) -> None:
    """Run the candidate's replications candidate.replications..upto-1 at every design point."""
    if upto <= candidate.replications:
        return
    numbers = range(candidate.replications, upto)
    if not candidate.frames:
        candidate.frames = [[] for _ in problem.design]
    for d, variant in enumerate(candidate.variants):
        meta = {"candidate": candidate.values, "design_point": problem.design[d], "stage": stage}
        where = f" point {d + 1}/{len(problem.design)}" if len(problem.design) > 1 else ""
        label = f"{candidate.id} ({candidate.label}){where} replications {numbers.start + 1}-{numbers.stop}"
        frame = run.evaluate(variant, numbers, meta, label)
        candidate.frames[d].append(frame.assign(stage=stage))
    candidate.replications = upto


# --- the selection stage ---------------------------------------------------------------------------------


def _rank(problem: _Problem, candidates: Sequence[Candidate]) -> list[Candidate]:
    """Valid candidates, those whose means meet every requirement first, then by objective."""
    sign = 1.0 if problem.minimize else -1.0

    def key(c: Candidate) -> tuple[int, float, float]:
        violation = max(problem.violation(c), default=-1.0)
        objective = float(np.nanmean(problem.observations(c))) if c.replications else math.inf
        objective = math.inf if math.isnan(objective) else sign * objective
        return (0 if violation <= 0 else 1, objective if violation <= 0 else violation, objective)

    return sorted((c for c in candidates if c.valid and c.replications), key=key)


def _select(
    problem: _Problem, candidates: list[Candidate], run: Evaluator, progress: Progress,
    precision: PrecisionTarget | None,
) -> tuple[SelectionSummary, Candidate | None, dict[str, Any] | None]:
    spec = problem.spec
    chosen = _rank(problem, candidates)[: spec.candidates]
    if not chosen:
        errors = [c.error for c in candidates if c.error]
        raise ConfigError([Problem(("optimize", "over"), "no candidate could run: "
                                   + (errors[0] if errors else "the budget is smaller than one candidate"))],
                          source=problem.source)
    label = "selection"
    started = time.perf_counter()
    progress.started(label, len(chosen), "candidates")
    for c in chosen:
        c.in_selection = True
    cap = spec.max_replications
    pending = list(chosen)
    while pending:  # feasibility: undecided candidates get more replications (doubling, up to the cap)
        for c in pending:
            problem.decide(c)
        pending = [c for c in pending
                   if any(k.status == "undecided" for k in c.checks) and c.replications < cap]
        for c in pending:
            _extend(problem, c, min(cap, 2 * c.replications), run, "selection")
    feasible = [c for c in chosen if c.feasible]
    summary = SelectionSummary(alpha=ALPHA, indifference=spec.indifference,
                               systems=[c.id for c in chosen], feasible=[c.id for c in feasible],
                               infeasible=[c.id for c in chosen if not c.feasible])
    if not feasible:
        progress.finished(label, time.perf_counter() - started)
        return summary, None, None
    n0 = max(c.replications for c in feasible)
    for c in feasible:
        _extend(problem, c, n0, run, "selection")
    first = np.vstack([problem.observations(c)[:n0] for c in feasible])
    first = np.where(np.isnan(first), 1e300 if problem.minimize else -1e300, first)

    def sample(systems: Sequence[int], r: int) -> np.ndarray:
        values = []
        for index in systems:
            c = feasible[index]
            _extend(problem, c, r + 1, run, "selection")
            values.append(problem.observations(c)[r])
        progress.advanced(label, len(chosen) - len(systems) + 1, len(chosen))
        return np.asarray(values, dtype=float)

    outcome = kim_nelson(first, sample, spec.indifference, ALPHA, cap, minimize=problem.minimize)
    for index, at in outcome.eliminated.items():
        feasible[index].eliminated_at = at
    winner = feasible[outcome.best]
    precision_info = None
    if precision is not None:
        precision_info = _refine(problem, winner, run, precision)
    for c in chosen:  # the final decisions rest on every replication each candidate got
        problem.decide(c)
    summary = summary.model_copy(update={
        "n0": outcome.n0, "eta": outcome.eta, "h2": outcome.h2, "winner": winner.id,
        "truncated": outcome.truncated, "survivors": [feasible[i].id for i in outcome.survivors],
    })
    progress.finished(label, time.perf_counter() - started)
    return summary, winner, precision_info


def _refine(problem: _Problem, winner: Candidate, run: Evaluator, target: PrecisionTarget) -> dict[str, Any]:
    """Precision mode on the winner: more replications until its objective and requirement metrics meet
    the target (the same streams continue)."""
    names = ["objective", *[r.text for r in problem.requirements]]
    target = PrecisionTarget(target.relative, target.absolute, target.max_replications, tuple(names))

    def sample(numbers: range) -> dict[str, list[float]]:
        _extend(problem, winner, numbers.stop, run, "precision")
        values = {"objective": problem.observations(winner)[numbers.start:numbers.stop].tolist()}
        for req in problem.requirements:
            worst = np.vstack([winner.series(req.metric, req.persona or ALL, d)
                               for d in range(len(problem.design))])
            aggregate = worst.max(axis=0) if req.upper else worst.min(axis=0)
            values[req.text] = aggregate[numbers.start:numbers.stop].tolist()
        return values

    outcome = until_precise(sample, target, winner.replications)
    return {"target": target.text(), "replications": outcome.replications, "met": outcome.met,
            "half_widths": {w.metric: w.half_width for w in outcome.widths}}


# --- the outputs -----------------------------------------------------------------------------------------


def _pareto(problem: _Problem, candidates: Sequence[Candidate]) -> set[str]:
    """Ids of the candidates on the Pareto front of two objectives (those whose means meet every
    requirement)."""
    if len(problem.objectives) < 2:
        return set()
    sign = 1.0 if problem.minimize else -1.0
    points = {}
    for c in candidates:
        if c.valid and c.replications and max(problem.violation(c), default=-1.0) <= 0:
            a = float(np.nanmean(problem.observations(c, 0))) * sign
            b = float(np.nanmean(problem.observations(c, 1))) * sign
            if not (math.isnan(a) or math.isnan(b)):
                points[c.id] = (a, b)
    return {i for i, (a, b) in points.items()
            if not any((x <= a and y <= b) and (x < a or y < b) for j, (x, y) in points.items() if j != i)}


def _summary(
    problem: _Problem, candidates: list[Candidate], trials: int, selection: SelectionSummary,
    winner: Candidate | None, search_spent: dict[str, float], run: Evaluator,
    precision_info: dict[str, Any] | None,
) -> OptimizeSummary:
    scenario = problem.scenario
    front = _pareto(problem, candidates)
    rows = []
    for c in candidates:
        objective = low = high = None
        objective2 = None
        by_point: list[float | None] = []
        if c.valid and c.replications:
            obs = problem.observations(c)
            mean, lo, hi = mean_ci(obs.tolist())
            objective, low, high = json_number(mean), json_number(lo), json_number(hi)
            if len(problem.objectives) > 1:
                objective2 = json_number(float(np.nanmean(problem.observations(c, 1))))
            metric, persona = problem.objectives[0]
            by_point = [json_number(float(np.nanmean(c.series(metric, persona, d))))
                        for d in range(len(problem.design))]
            if not c.in_selection:
                problem.decide(c)
        rows.append(CandidateSummary(
            id=c.id, label=c.label, values=c.values, trial=c.trial, valid=c.valid, error=c.error,
            replications=c.replications, selected_for_selection=c.in_selection, objective=objective,
            objective_ci95=(low, high), objective2=objective2, by_point=by_point, constraints=c.checks,
            feasible=c.feasible if c.in_selection else None, eliminated_at=c.eliminated_at,
            pareto=c.id in front,
        ))
    unit, limit = _budget(problem)
    fields = {key: value for key, value in header(scenario).items()}
    summary = OptimizeSummary(
        **fields,
        sense=problem.spec.sense,
        objectives=list(problem.spec.objectives),
        subject_to=list(problem.spec.subject_to),
        variables={p: v.model_dump(mode="json", exclude_none=True)
                   for p, v in problem.space.variables.items()},
        uncertain=(scenario.to_config().get("uncertain")),
        design=problem.design if scenario.uncertain is not None else [],
        robust=problem.robust,
        sampler=problem.spec.sampler,
        budget={unit: limit},
        spent={"search_user_years": search_spent["user_years"], "search_runs": search_spent["runs"],
               "user_years": run.user_years, "runs": float(run.runs)},
        trials=trials,
        candidates=rows,
        selection=selection,
        recommended=winner.id if winner is not None else None,
        answer=[],
        regret=_regret(problem, candidates, winner),
        precision=precision_info,
        resolved_scenario=scenario.to_config(),
    )
    return summary.model_copy(update={"answer": answer(summary)})


def _regret(problem: _Problem, candidates: Sequence[Candidate], winner: Candidate | None) -> list[RegretRow]:
    """Per design point: the robust choice against the best candidate of the selection stage there."""
    if winner is None or problem.scenario.uncertain is None:
        return []
    metric, persona = problem.objectives[0]
    sign = 1.0 if problem.minimize else -1.0
    rows = []
    pool = [c for c in candidates if c.in_selection and c.valid]
    for d, point in enumerate(problem.design):
        best: tuple[float, Candidate] | None = None
        for c in pool:
            ok = all(feasibility(c.series(r.metric, r.persona or ALL, d), r.threshold, r.op, 1 - ALPHA).status
                     == "holds" for r in problem.requirements)
            mean = float(np.nanmean(c.series(metric, persona, d)))
            if ok and not math.isnan(mean) and (best is None or sign * mean < sign * best[0]):
                best = (mean, c)
        chosen = float(np.nanmean(winner.series(metric, persona, d)))
        rows.append(RegretRow(
            design_point=d, values=point, best=best[1].id if best else None,
            best_objective=json_number(best[0]) if best else None, chosen_objective=json_number(chosen),
            regret=json_number(sign * (chosen - best[0])) if best else None,
        ))
    return rows


def answer(summary: OptimizeSummary) -> list[str]:
    """The plain-words answer at the top of the report: what to ship, why, and what else would do."""
    metric = summary.objectives[0]
    fmt = formatter(parse_objective(metric)[0])
    sense = "lowest" if summary.sense == "minimize" else "highest"
    selection = summary.selection
    if summary.recommended is None:
        tried = len(selection.systems)
        lines = [f"No candidate is shown to meet every requirement with 95% confidence: the {tried} best of "
                 f"the search all fail or stay undecided within "
                 f"{summary.resolved_scenario['optimize']['max_replications']} replications. Relax a "
                 "requirement, widen the ranges, or raise the budget."]
        return lines + _failing_lines(summary, selection.infeasible)
    win = summary.candidate(summary.recommended)
    checks = "; ".join(f"{c.requirement} ({check_words(c)})" for c in win.constraints)
    robust = ""
    if summary.uncertain is not None:
        robust = (f" at every one of the {len(summary.design)} points of the uncertainty design (the "
                  "objective is " + ("its worst point" if summary.robust == "worst" else
                           f"the {summary.robust:g} quantile over the points") + ")")
    only = len(selection.feasible) == 1
    lines = [
        f"**Ship {win.label}**: {metric} {fmt(win.objective)} "
        f"({fmt(win.objective_ci95[0])}–{fmt(win.objective_ci95[1])}), "
        + (f"the only one of the {len(selection.systems)} best candidates of the search shown to meet every "
           f"requirement with 95% confidence{robust}." if only else
           f"the {sense} of the candidates shown to meet every requirement with 95% confidence{robust}.")
        + (f" Requirements: {checks}." if checks else ""),
    ]
    if only:
        lines.append("With a single feasible candidate there was nothing left to select: the 95% guarantee "
                     "here is that it meets every requirement; a better candidate the search never tried may "
                     "exist (a larger budget searches further).")
    elif selection.truncated:
        others = ", ".join(summary.candidate(i).label for i in selection.survivors if i != win.id)
        lines.append(f"The selection stopped at the replication cap with {len(selection.survivors)} "
                     f"candidates left ({others} too): they are within the indifference zone of each other "
                     "at this effort, so the 95% guarantee does not separate them; any of them will do.")
    else:
        lines.append(f"Kim and Nelson's procedure picked it among the {len(selection.feasible)} feasible "
                     f"candidates: it is the best with probability at least 95% unless another is within "
                     f"{num(selection.indifference)} of it.")
    moot = moot_sliding_words(win.values, summary.resolved_scenario.get("policy", {}))
    if moot:
        lines.append(moot)
    also = [summary.candidate(i) for i in selection.feasible if i != win.id]
    if also:
        names = "; ".join(f"{c.label} ({metric} {fmt(c.objective)})" for c in also[:3])
        lines.append(f"Also meeting every requirement: {names}.")
    return lines + _failing_lines(summary, selection.infeasible)


def _failing_lines(summary: OptimizeSummary, ids: Sequence[str]) -> list[str]:
    """One line on the candidates of the selection stage not shown to meet the requirements."""
    failing = [summary.candidate(i) for i in ids]
    if not failing:
        return []
    metric = summary.objectives[0]
    fmt = formatter(parse_objective(metric)[0])
    first = failing[0]
    bad = next((c for c in first.constraints if c.status != "holds"), None)
    if bad is None:
        return []
    count = f" ({len(failing)} of the {len(summary.selection.systems)} in the selection stage)"
    return [f"Not shown to meet the requirements{count}: e.g. {first.label} ({metric} "
            f"{fmt(first.objective)}): {bad.requirement} is {bad.status} after {first.replications} "
            f"replications ({check_words(bad)})."]


def _candidates_table(problem: _Problem, candidates: Sequence[Candidate]) -> pd.DataFrame:
    """Every evaluation: candidate, label, the variables (as text), design point, the uncertain values,
    stage, replication, persona and every metric."""
    frames = []
    for c in candidates:
        for d, parts in enumerate(c.frames):
            for frame in parts:
                columns = {"candidate": c.id, "label": c.label,
                           **{p: value_text(c.values[p]) for p in problem.space.variables},
                           "design_point": d,
                           **{f"uncertain.{p}": value_text(v) for p, v in problem.design[d].items()}}
                frames.append(frame.assign(**columns))
    if not frames:
        return pd.DataFrame(columns=["candidate", "label", "design_point", "stage", "replication", "persona"])
    table = pd.concat(frames, ignore_index=True)
    first = ["candidate", "label", *problem.space.variables, "design_point",
             *[c for c in table.columns if c.startswith("uncertain.")], "stage", "replication", "persona"]
    rest = [c for c in table.columns if c not in first]
    return table[first + rest].sort_values(["candidate", "design_point", "replication", "persona"],
                                           kind="stable").reset_index(drop=True)


def _recommended_yaml(problem: _Problem, winner: Candidate, summary: OptimizeSummary) -> str:
    win = summary.candidate(winner.id)
    policy = winner.variants[0].policy.minimal_config()
    content = {
        "scenario": problem.scenario.name,
        "values": winner.values,
        "policy": policy,
        "evidence": {
            "objective": {"metric": problem.spec.objectives[0], "sense": problem.spec.sense,
                          "mean": win.objective, "ci95": list(win.objective_ci95)},
            "requirements": [{"requirement": c.requirement, "status": c.status, "mean": c.mean,
                              "one_sided_95_bound": c.bound} for c in win.constraints],
            "replications": win.replications,
            "selection": "KN (Kim and Nelson 2001), probability of correct selection >= 0.95 within the "
                         f"indifference zone {problem.spec.indifference:g}",
        },
    }
    head = (f"# The values tokensim optimize recommends for scenario {problem.scenario.name!r}: copy "
            "`policy:` into your configuration.\n"
            "# The evidence is in report.md and summary.json beside this file.\n")
    return head + str(yaml.safe_dump(content, sort_keys=False, allow_unicode=True))
