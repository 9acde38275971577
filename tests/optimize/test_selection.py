"""Kim and Nelson's KN and the feasibility decisions, on a cheap stand-in model with known means.

The stand-in: k systems with normal outputs, unequal variances and a common random number structure
(replication r of every system shares a common normal draw, correlation 0.7), in the slippage
configuration (the best exactly `delta` better than all others), the least favourable case for KN's
guarantee. Probability of correct selection is measured over many independent macro-replications.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.experiments.selection import feasibility, kim_nelson, kn_constants, one_sided_bound

MACRO = 1500


def _stand_in(seed: int, k: int = 5, delta: float = 1.0, n0: int = 10, minimize: bool = True):
    rng = np.random.default_rng(seed)
    best = 0.0 if minimize else delta
    mu = np.array([best] + [delta if minimize else 0.0] * (k - 1))
    sd = np.linspace(1.0, 3.0, k)
    common = rng.standard_normal(100_000)

    def sample(systems, r):
        return np.array([mu[i] + sd[i] * (0.7 * common[r] + np.sqrt(0.51) * rng.standard_normal())
                         for i in systems])

    first = np.column_stack([sample(range(k), r) for r in range(n0)])
    return kim_nelson(first, sample, delta, 0.05, 100_000, minimize=minimize)


@pytest.mark.parametrize("minimize", [True, False])
def test_probability_of_correct_selection_is_at_least_95_percent(minimize):
    correct = sum(_stand_in(seed, minimize=minimize).best == 0 for seed in range(MACRO))
    # H0: PCS >= 0.95. The one-sided 99% Clopper-Pearson upper bound of the measured PCS must reach 0.95;
    # it would not if the true PCS were about 0.93 or less (binomial sampling error of 1,500 macro-runs).
    upper = stats.beta.ppf(0.99, correct + 1, MACRO - correct) if correct < MACRO else 1.0
    assert upper >= 0.95, f"measured PCS {correct / MACRO:.3f}, upper 99% bound {upper:.3f}"


def test_kn_constants_match_the_paper():
    # eta solves (1/2)[(2 alpha/(k-1))^(-2/(n0-1)) - 1]; k = 2, n0 = 10, alpha = 0.05: (0.1^(-2/9) - 1)/2
    eta, h2 = kn_constants(2, 10, 0.05)
    assert eta == pytest.approx((0.1 ** (-2 / 9) - 1) / 2)
    assert h2 == pytest.approx(2 * eta * 9)


def test_far_apart_systems_are_told_apart_in_the_first_stage():
    first = np.array([[1.0, 1.1, 0.9, 1.0], [5.0, 5.2, 4.9, 5.1], [9.0, 9.1, 8.8, 9.2]])
    result = kim_nelson(first, lambda systems, r: pytest.fail("no more observations needed"), delta=0.5)
    assert result.best == 0 and result.survivors == [0] and max(result.replications) == 4


def test_truncation_is_reported_when_the_cap_stops_it():
    rng = np.random.default_rng(3)
    first = rng.normal(0.0, 1.0, size=(3, 5))
    result = kim_nelson(first, lambda s, r: rng.normal(0.0, 1.0, size=len(s)), delta=0.01, max_replications=8)
    assert result.truncated and len(result.survivors) > 1 and max(result.replications) == 8


def test_one_sided_bound_is_the_student_t_bound():
    values = [1.0, 2.0, 3.0, 4.0]
    expected = 2.5 + stats.t.ppf(0.95, 3) * np.std(values, ddof=1) / 2
    assert one_sided_bound(values, upper=True) == pytest.approx(expected)


def test_feasibility_decides_with_known_means():
    rng = np.random.default_rng(8)
    clear = rng.normal(1.0, 0.1, 20).tolist()
    assert feasibility(clear, 1.5, "<=").status == "holds"
    assert feasibility(clear, 0.5, "<").status == "fails"
    assert feasibility(clear, 1.0, "<=").status in ("undecided", "fails")
    assert feasibility(clear, 0.5, ">=").status == "holds"
    assert feasibility([1.0, float("nan"), 1.0], 2.0, "<").status == "fails"
