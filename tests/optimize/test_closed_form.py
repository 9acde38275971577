"""The optimiser finds a closed-form optimum.

Poisson use at rate lambda per day (one device, sessions of no length, always active), refresh tokens
reused with sliding lifetime S, no absolute limit, access tokens of lifetime A. After a login or a refresh
the next refresh is at the first session after the access token expired: A plus an exponential gap (memory-
less), a renewal. The refresh token has expired by then when the gap exceeds S - A, so forced logins per
user-month are

    F(S) = 30 lambda exp(-lambda (S - A)) / (1 + lambda A)       (S >= A; 30 lambda e^(-lambda S) as A -> 0)

decreasing in S, while the valid chains a user holds grow with S. The least chains subject to F <= X is
at F(S*) = X:  S* = A + ln(30 lambda / (X (1 + lambda A))) / lambda.
"""

from __future__ import annotations

import math

import pytest

from sim.experiments.optimize import optimize
from sim.scenario.loader import scenario_from_dict

LAM, A_DAYS, X = 0.5, 1 / 24, 1.5
STEP = 0.25


def forced(s_days: float) -> float:
    return 30 * LAM * math.exp(-LAM * (s_days - A_DAYS)) / (1 + LAM * A_DAYS)


S_STAR = A_DAYS + math.log(30 * LAM / (X * (1 + LAM * A_DAYS))) / LAM


@pytest.mark.slow
def test_optimiser_finds_the_closed_form_sliding_lifetime(tmp_path):
    scenario = scenario_from_dict({
        "name": "closed-form-optimum", "seed": 21, "horizon": "120d", "warmup": "10d", "replications": 3,
        "policy": {"refresh_token_usage": "reuse", "absolute_lifetime": "unlimited",
                   "sliding_lifetime": "10d", "access_token_lifetime": "1h"},
        "population": [{"name": "p", "users": 150,
                        "activity": {"schedule": "always", "sessions_per_day": LAM}}],
        "optimize": {
            "minimize": "active_chains_per_user",
            "subject_to": [f"forced_reauth_per_user_month <= {X}"],
            "over": {"policy.sliding_lifetime": {"low": "1d", "high": "20d", "step": "6h"}},
            "budget": {"runs": 90}, "indifference": 0.005, "candidates": 4, "max_replications": 30,
        },
    })
    result = optimize(scenario, tmp_path / "out", workers=2)
    chosen = result.summary.candidate(result.summary.recommended)
    s_days = float(chosen.values["policy.sliding_lifetime"].rstrip("d").rstrip("h")) * (
        1 if chosen.values["policy.sliding_lifetime"].endswith("d") else 1 / 24)
    check = chosen.constraints[0]
    # The stated tolerance: one step of the grid, plus the constraint's one-sided interval width carried
    # over to S through the slope of F (dF/dS = -lambda F), twice for the neighbouring candidate.
    slack = 2 * (check.bound - check.mean) / (LAM * X)
    assert S_STAR - slack <= s_days <= S_STAR + STEP + slack, (s_days, S_STAR, slack)
    assert check.mean == pytest.approx(forced(s_days), rel=0.15)
