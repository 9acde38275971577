"""The typed summary of `tokensim optimize` (`summary.json` of an optimize folder) and of `tokensim explore`.

Written by `sim.experiments.optimize` / `sim.experiments.explore`, read by the report (`sim.report.optimize`)
and the API. Like every results file it holds no timestamps.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import Field

from sim.analysis.summary import _Frozen, _Results

OPTIMIZE_FORMAT: Final = 1


class ConstraintCheck(_Frozen):
    """One requirement decided on one candidate: at its worst design point, by a one-sided 95% bound."""

    requirement: str
    #: holds, fails or undecided (undecided counts as not holding).
    status: str
    mean: float | None
    #: The one-sided 95% bound on the required side (upper for < and <=).
    bound: float | None
    #: The design point where the requirement is closest to failing (0 without `uncertain:`).
    design_point: int = 0
    #: Replications there in which the metric had no value (it then fails: not shown to hold).
    missing: int = 0
    #: Replications there.
    replications: int = 0


class CandidateSummary(_Frozen):
    """One candidate: its values, how it was evaluated, its objective and requirements."""

    id: str
    label: str
    values: dict[str, Any]
    #: The first search trial that proposed it (later trials may propose it again).
    trial: int
    valid: bool
    error: str | None = None
    #: Replications of every design point it got (the selection stage adds some).
    replications: int = 0
    #: In the selection stage (one of the best of the search).
    selected_for_selection: bool = False
    #: The objective (robust over the design with `uncertain:`): mean and 95% interval over replications.
    objective: float | None = None
    objective_ci95: tuple[float | None, float | None] = (None, None)
    #: The second objective of a Pareto front.
    objective2: float | None = None
    #: The objective's mean at each design point.
    by_point: list[float | None] = Field(default_factory=list)
    constraints: list[ConstraintCheck] = Field(default_factory=list)
    #: True: every requirement holds with 95% confidence at every design point; None: not decided.
    feasible: bool | None = None
    #: Eliminated by KN at this many replications (selection stage only).
    eliminated_at: int | None = None
    pareto: bool = False


class SelectionSummary(_Frozen):
    """The selection stage: Kim and Nelson's KN among the candidates that are feasible."""

    procedure: str = "KN (Kim and Nelson 2001), common random numbers"
    alpha: float
    indifference: float
    n0: int = 0
    eta: float = 0.0
    h2: float = 0.0
    systems: list[str] = Field(default_factory=list)
    feasible: list[str] = Field(default_factory=list)
    infeasible: list[str] = Field(default_factory=list)
    winner: str | None = None
    truncated: bool = False
    survivors: list[str] = Field(default_factory=list)


class RegretRow(_Frozen):
    """At one design point: the robust choice's objective against the best candidate's there."""

    design_point: int
    values: dict[str, Any]
    best: str | None
    best_objective: float | None
    chosen_objective: float | None
    regret: float | None


class OptimizeSummary(_Results):
    """The content of an optimize folder's summary.json."""

    format: Literal[1] = OPTIMIZE_FORMAT
    kind: Literal["optimize"] = "optimize"
    users: int
    horizon_days: float
    warmup_days: float
    sense: str
    objectives: list[str]
    subject_to: list[str]
    variables: dict[str, dict[str, Any]]
    uncertain: dict[str, Any] | None = None
    design: list[dict[str, Any]] = Field(default_factory=list)
    robust: str | float | None = None
    sampler: str
    budget: dict[str, Any]
    spent: dict[str, float]
    trials: int
    candidates: list[CandidateSummary]
    selection: SelectionSummary
    recommended: str | None
    answer: list[str]
    regret: list[RegretRow] = Field(default_factory=list)
    precision: dict[str, Any] | None = None
    resolved_scenario: dict[str, Any]

    def candidate(self, candidate_id: str) -> CandidateSummary:
        """The candidate with this id."""
        for candidate in self.candidates:
            if candidate.id == candidate_id:
                return candidate
        raise KeyError(candidate_id)


class ExploreBox(_Frozen):
    """A PRIM box: ranges of the uncertain parameters where a requirement tends to fail."""

    limits: dict[str, tuple[Any, Any]]
    coverage: float
    density: float
    mass: float
    points: int


class ExploreRequirement(_Frozen):
    """One requirement over the explored points: how often it fails, and the box where it does."""

    requirement: str
    #: Points where it is not shown to hold (failing or undecided).
    failures: int
    points: int
    #: Of the failures, the points where it is undecided (neither shown to hold nor to fail).
    undecided: int = 0
    box: ExploreBox | None = None
    rules: list[str] = Field(default_factory=list)


class ExploreSummary(_Results):
    """The content of an explore folder's summary.json."""

    format: Literal[1] = OPTIMIZE_FORMAT
    kind: Literal["explore"] = "explore"
    users: int
    horizon_days: float
    warmup_days: float
    policy: dict[str, Any]
    overrides: dict[str, Any]
    parameters: dict[str, dict[str, Any]]
    points: list[dict[str, Any]]
    requirements: list[ExploreRequirement]
    method: str
    answer: list[str]
    resolved_scenario: dict[str, Any]
