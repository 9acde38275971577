"""Intervals of metrics are cut to the values a metric can take; those of differences are not."""

from __future__ import annotations

import math

import pytest

from sim.analysis.stats import mean_ci
from sim.analysis.summary import Estimate
from sim.core.metric_names import METRIC_UNITS, metric_range

# a rare event: most replications see none, so the t interval reaches below 0
RARE = [0.0, 0.0, 0.0, 0.004]
# almost everyone: the t interval reaches above 1
ALMOST_ALL = [1.0, 1.0, 0.94, 1.0]


def test_the_plain_t_interval_leaves_the_range_on_these_values() -> None:
    assert mean_ci(RARE)[1] < 0
    assert mean_ci(ALMOST_ALL)[2] > 1


def test_a_rate_interval_stops_at_zero_and_keeps_its_upper_bound() -> None:
    mean, _, high = mean_ci(RARE)
    block = Estimate.of(RARE, "evictions_per_user_month")
    assert block.ci95 == (0.0, pytest.approx(high))
    assert block.mean == pytest.approx(mean)


def test_a_share_interval_stops_at_one_and_keeps_its_lower_bound() -> None:
    _, low, _ = mean_ci(ALMOST_ALL)
    block = Estimate.of(ALMOST_ALL, "users_with_forced_reauth_share_monthly")
    assert block.ci95 == (pytest.approx(low), 1.0)


def test_every_metric_has_a_range_from_zero_and_only_shares_end_at_one() -> None:
    for name, unit in METRIC_UNITS.items():
        low, high = metric_range(name)
        assert low == 0.0
        assert high == (1.0 if unit.startswith("share") else math.inf)


def test_a_difference_is_not_cut() -> None:
    assert mean_ci([-0.2, -0.1, 0.05])[1] < -0.2
