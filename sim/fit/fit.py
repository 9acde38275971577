"""`tokensim fit`: personas fitted to a trace, as a scenario the simulator runs (docs/replay-fit.md).

`fit_trace(path, personas)` reads the trace (the replay's view of it: each device's sessions sorted and
merged, sim/model/replay.py), groups the users (sim/fit/clusters.py), fits every persona
(sim/fit/personas.py) and returns a `FitResult`; `FitResult.scenario_config(policy)` is the scenario.
Every random choice (k-means starts, bootstraps, test subsamples) comes from `seed`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.core.durations import DAY, format_duration
from sim.fit.activity import Sessions
from sim.fit.clusters import Clustering, cluster_users, user_features
from sim.fit.personas import PersonaFit, fit_persona
from sim.model.replay import RecordedTrace
from sim.scenario.trace_file import trace_shape


@dataclass
class FitResult:
    """The personas fitted to a trace."""

    trace: str
    span: float
    users: int
    sessions: int
    clustering: Clustering
    #: one row per user: its features and `persona` (the persona's name)
    features: pd.DataFrame
    personas: list[PersonaFit]
    seed: int

    @property
    def span_days(self) -> float:
        """How long the trace lasts, in days."""
        return self.span / DAY

    def scenario_config(
        self,
        policy: dict[str, Any],
        name: str | None = None,
        replications: int = 5,
        warmup: float | None = None,
    ) -> dict[str, Any]:
        """The fitted scenario's YAML form: the personas, the trace's length as horizon, `policy`."""
        stem = Path(self.trace).name.removesuffix(".parquet")
        warmup = warmup if warmup is not None else default_warmup(self.span)
        return {
            "name": name or f"fitted-{stem}",
            "description": f"Personas fitted by tokensim fit to {Path(self.trace).name}: {self.users} users, "
            f"{self.sessions} sessions over {self.span_days:g} days.",
            "seed": self.seed,
            "horizon": format_duration(self.span),
            "warmup": format_duration(warmup),
            "replications": replications,
            "policy": policy,
            "population": [persona.config for persona in self.personas],
        }


def default_warmup(span: float) -> float:
    """A quarter of the trace, in whole days, at most 30 days (first logins are not forced)."""
    return float(min(30, math.floor(span / DAY / 4)) * DAY)


def persona_names(fits: list[tuple[int, float]]) -> list[str]:
    """Names from how often users come: `daily`, `weekly`, `occasional`, numbered when they repeat.

    `fits`: (persona index, median sessions per day seen of its users), most active first.
    """
    names = []
    for _, rate in fits:
        names.append("daily" if rate >= 0.7 else "weekly" if rate >= 1 / 10 else "occasional")
    counted: dict[str, int] = {}
    result = []
    for base in names:
        counted[base] = counted.get(base, 0) + 1
        total = names.count(base)
        result.append(f"{base}-{counted[base]}" if total > 1 else base)
    return result


def fit_trace(
    path: str | Path,
    personas: int | str = 1,
    seed: int = 0,
    bootstrap: int = 400,
    max_k: int = 6,
) -> FitResult:
    """Fit `personas` personas (a number, or "auto") to the trace at `path` (trace.parquet).

    Raises ConfigError naming the file for a trace that cannot be read.
    """
    path = Path(path).absolute()
    shape = trace_shape(str(path))
    recorded = RecordedTrace.load(path)
    everyone = Sessions.of(recorded.users, shape.span)
    if len(everyone.start) == 0:
        raise ValueError(f"{path}: the trace has no sessions to fit")
    features = user_features(everyone)
    clustering = cluster_users(features, personas, seed, max_k=max_k)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    groups = [np.flatnonzero(clustering.labels == label) for label in range(clustering.k)]
    per_day = features["sessions_per_day"].to_numpy()
    rates = [(label, float(np.median(per_day[members]))) for label, members in enumerate(groups)]
    names = persona_names(rates)
    fits = []
    for name, members in zip(names, groups, strict=True):
        group = everyone.subset(members)
        if len(group.start) == 0:
            continue  # users without sessions alone: nothing to fit (they are left out)
        fits.append(fit_persona(name, group, rng, bootstrap))
    labels = np.array(names, dtype=object)[clustering.labels]
    return FitResult(
        trace=str(path),
        span=shape.span,
        users=everyone.n_users,
        sessions=len(everyone.start),
        clustering=clustering,
        features=features.assign(persona=labels),
        personas=fits,
        seed=seed,
    )
