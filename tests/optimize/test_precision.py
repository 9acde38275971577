"""Precision mode: its intervals cover the true mean at the nominal rate, and adding replications continues
the same random streams (a run with precision equals a plain run with the replications it took)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.core.validation import ConfigError
from sim.experiments.precision import PrecisionTarget, half_width, until_precise
from sim.experiments.run import run_precise
from sim.run.runner import run_scenario
from sim.scenario.loader import scenario_from_dict

MACRO = 1000


def test_sequential_intervals_cover_at_the_nominal_rate():
    hits, counts = 0, []
    for seed in range(MACRO):
        rng = np.random.default_rng(seed)
        values: list[float] = []

        def sample(numbers: range, rng=rng, values=values) -> dict[str, list[float]]:
            drawn = (10.0 + rng.standard_normal(len(numbers))).tolist()
            values.extend(drawn)
            return {"x": drawn}

        outcome = until_precise(sample, PrecisionTarget(0.02, 0.0, 400, ("x",)), start=5)
        mean, half, _ = half_width(values)
        hits += abs(mean - 10.0) <= half
        counts.append(outcome.replications)
        assert outcome.met and half <= 0.02 * abs(mean)
    coverage = hits / MACRO
    error = math.sqrt(0.95 * 0.05 / MACRO)
    assert abs(coverage - 0.95) <= 3 * error, f"coverage {coverage:.3f}"
    # (1.96 * 1 / 0.2)^2 = 96 replications are needed on average
    assert 80 <= np.mean(counts) <= 115


def test_parse_target():
    assert PrecisionTarget.parse("2%").relative == pytest.approx(0.02)
    with pytest.raises(ConfigError, match="percentage"):
        PrecisionTarget.parse("2")
    with pytest.raises(ConfigError, match="percentage"):
        PrecisionTarget.parse("150%")


SCENARIO = {
    "name": "closed-form-sessions",
    "seed": 5,
    "horizon": "40d",
    "warmup": "5d",
    "replications": 3,
    "policy": {"preset": "visma_connect"},
    "population": [{"name": "p", "users": 30, "activity": {"schedule": "always", "sessions_per_day": 1.5}}],
}


def test_precise_run_equals_a_plain_run_and_covers_the_closed_form():
    scenario = scenario_from_dict(SCENARIO)
    target = PrecisionTarget(0.01, 0.05, 40)
    with run_precise(scenario, target, workers=1)[0] as precise:
        n = precise.scenario.replications
        assert 5 <= n <= 40
        plain = run_scenario(scenario.model_copy(update={"replications": n}), workers=1)
        with plain:
            pd.testing.assert_frame_equal(precise.replication_metrics.reset_index(drop=True),
                                          plain.replication_metrics.reset_index(drop=True))
        estimate = precise.summary.metrics["sessions_per_user_month"]
        # sessions start as a Poisson process at 1.5 a day, all the time: 45 per user-month exactly
        assert estimate.low <= 45.0 <= estimate.high
        assert (estimate.high - estimate.low) / 2 <= 0.01 * estimate.mean or n == 40
