"""A hand-built user for deterministic theft timelines: scripted session starts and theft times."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.model.behaviour import UserSimulation
from sim.model.recording import Recorder
from sim.model.threats import Theft
from sim.policy.model import Policy
from sim.scenario import Persona

HOUR = 3600.0


def scripted_user(
    policy: dict[str, Any],
    sessions: list[float],
    thefts: list[float],
    *,
    horizon: float,
    duration: str = "0s",
    strategy: str = "immediate",
    lifecycle: dict[str, Any] | None = None,
    run_ahead: bool = True,
) -> tuple[UserSimulation, Recorder]:
    """One user with one device whose sessions start exactly at `sessions` and whose tokens are stolen
    at `thefts` (seconds); every session lasts `duration`. Returns the simulation after its run."""
    persona = Persona.model_validate(
        {
            "name": "p",
            "users": 1,
            "activity": {"session_duration": duration},
            "lifecycle": lifecycle or {},
            "threats": {"strategy": strategy},
        }
    )
    recorder = Recorder(horizon=horizon)
    sim = UserSimulation(Policy.from_dict(policy), persona, horizon, 0, 0, 0, recorder, run_ahead)
    starts = iter(sessions)

    def next_start(rng: np.random.Generator, after: float) -> float:
        start = next(starts, math.inf)
        assert start >= after, "scripted sessions must not overlap"
        return start

    sim._next_session_start = next_start  # type: ignore[method-assign]
    sim.thefts = [Theft(0, at) for at in thefts]
    sim.run()
    recorder.finish()
    return sim, recorder


def rows(columns: dict[str, list]) -> list[dict[str, Any]]:
    """A recorder's column lists as a list of row dicts."""
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]
