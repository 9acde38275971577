"""Distributions: sample means against the analytic means, clamps, types, and the YAML round trip."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError
from scipy import stats

from sim.core.durations import DAY, HOUR, parse_duration
from sim.scenario import (
    CountDist,
    CountDistribution,
    Distribution,
    DurationDist,
    Empirical,
    EmpiricalCount,
    Exponential,
    Fixed,
    FixedCount,
    LogNormal,
    Poisson,
    Uniform,
    UniformCount,
)

N = 20_000
TOLERANCE_SE = 4.5

DURATIONS: list[Distribution] = [
    Fixed(3600.0),
    Exponential(5.0),
    LogNormal(HOUR, 0.8),
    LogNormal(600.0, 0.0),
    Uniform(7 * DAY, 21 * DAY),
    Uniform(2.0, 2.0),
    Empirical((60.0, 3600.0, 14400.0), (0.5, 0.4, 0.1)),
    Empirical((1.0, 2.0), (0.0, 3.0)),
]
COUNTS: list[Distribution] = [
    FixedCount(2),
    Poisson(1.5),
    Poisson(1.5, 1, None),
    Poisson(3.0, 1, 4),
    Poisson(0.2, None, 0),
    Poisson(0.0, 2, None),
    Poisson(400.0, 390, 420),
    UniformCount(1, 3),
    UniformCount(0, 10, 2, 5),
    EmpiricalCount((1, 2, 3), (0.6, 0.3, 0.1)),
    EmpiricalCount((0, 1, 5, 9), (1.0, 1.0, 1.0, 1.0), 1, 6),
]
ALL = DURATIONS + COUNTS


@pytest.mark.parametrize("dist", ALL, ids=repr)
def test_sample_mean_matches_the_analytic_mean(dist: Distribution) -> None:
    draws = dist.sample_many(np.random.default_rng(20240607), N)
    assert draws.shape == (N,)
    standard_error = draws.std(ddof=1) / math.sqrt(N)
    assert abs(draws.mean() - dist.mean) <= TOLERANCE_SE * standard_error + 1e-12 * max(1.0, dist.mean)


@pytest.mark.parametrize("dist", ALL, ids=repr)
def test_single_draws_match_the_analytic_mean_too(dist: Distribution) -> None:
    rng = np.random.default_rng(7)
    draws = np.array([dist.sample(rng) for _ in range(N)])
    standard_error = draws.std(ddof=1) / math.sqrt(N)
    assert abs(draws.mean() - dist.mean) <= TOLERANCE_SE * standard_error + 1e-12 * max(1.0, dist.mean)


@pytest.mark.parametrize("dist", DURATIONS, ids=repr)
def test_durations_are_non_negative_floats(dist: Distribution) -> None:
    rng = np.random.default_rng(1)
    value = dist.sample(rng)
    assert isinstance(value, float) and value >= 0
    many = dist.sample_many(rng, 1000)
    assert many.dtype == np.float64 and (many >= 0).all()


@pytest.mark.parametrize("dist", COUNTS, ids=repr)
def test_counts_are_ints_within_their_clamps(dist: CountDistribution) -> None:
    rng = np.random.default_rng(2)
    singles = [dist.sample(rng) for _ in range(2000)]
    assert all(type(v) is int for v in singles)
    many = dist.sample_many(rng, 2000)
    assert many.dtype == np.int64
    low = getattr(dist, "min", None)
    high = getattr(dist, "max", None)
    for values in (np.array(singles), many):
        assert values.min() >= max(dist.lowest, 0)
        if low is not None:
            assert values.min() >= low
        if high is not None:
            assert values.max() <= high


def test_fixed_values_do_not_consume_random_numbers() -> None:
    rng = np.random.default_rng(3)
    before = rng.bit_generator.state
    assert Fixed(5.0).sample(rng) == 5.0
    assert FixedCount(4).sample(rng) == 4
    assert rng.bit_generator.state == before


@pytest.mark.parametrize(
    ("mu", "low", "high"),
    [(1.5, 1, None), (3.0, 1, 4), (0.7, None, 1), (12.0, 10, 14), (50.0, 0, 200), (2.0, 3, 3)],
)
def test_clamped_poisson_mean_is_exact(mu: float, low: int | None, high: int | None) -> None:
    k = np.arange(0, 2000)
    clamped = np.clip(k, low, high)
    brute_force = float(np.sum(clamped * stats.poisson.pmf(k, mu)))
    assert Poisson(mu, low, high).mean == pytest.approx(brute_force, rel=1e-12, abs=1e-12)


def test_analytic_means() -> None:
    assert LogNormal(HOUR, 0.8).mean == pytest.approx(HOUR * math.exp(0.32))
    assert Uniform(7 * DAY, 21 * DAY).mean == 14 * DAY
    assert UniformCount(0, 10, 2, 5).mean == pytest.approx((2 + 2 + 2 + 3 + 4 + 5 * 6) / 11)
    assert EmpiricalCount((0, 1, 5, 9), (1, 1, 1, 1), 1, 6).mean == pytest.approx((1 + 1 + 5 + 6) / 4)
    assert Poisson(1.5, 1, None).mean == pytest.approx(1.5 + math.exp(-1.5))


@pytest.mark.parametrize("dist", DURATIONS, ids=repr)
def test_duration_to_config_round_trips(dist: Distribution) -> None:
    assert TypeAdapter(DurationDist).validate_python(dist.to_config()) == dist


@pytest.mark.parametrize("dist", COUNTS, ids=repr)
def test_count_to_config_round_trips(dist: Distribution) -> None:
    assert TypeAdapter(CountDist).validate_python(dist.to_config()) == dist


def test_to_config_formats_durations() -> None:
    assert Fixed(3600.0).to_config() == "1h"
    assert LogNormal(HOUR, 0.8).to_config() == {"lognormal": {"median": "1h", "sigma": 0.8}}
    assert Uniform(0.0, 2.0).to_config() == {"uniform": {"low": "0s", "high": "2s"}}
    assert Exponential(1.2345678).to_config() == {"exponential": {"mean": "1.2345678s"}}  # no rounding
    assert Poisson(1.5, 1).to_config() == {"poisson": {"mean": 1.5}, "min": 1}
    assert EmpiricalCount((1, 2), (1.0, 1.0)).to_config() == {
        "empirical": {"values": [1, 2], "weights": [1.0, 1.0]}
    }


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("90s", Fixed(90.0)),
        (0, Fixed(0.0)),
        ("1.5h", Fixed(5400.0)),
        ({"exponential": {"mean": "5s"}}, Exponential(5.0)),
        ({"lognormal": {"median": "1h", "sigma": 0.8}}, LogNormal(3600.0, 0.8)),
        ({"uniform": {"low": "7d", "high": "21d"}}, Uniform(7 * DAY, 21 * DAY)),
        ({"empirical": {"values": ["1m", "1h"], "weights": [3, 1]}}, Empirical((60.0, 3600.0), (3.0, 1.0))),
    ],
)
def test_duration_forms(written: object, expected: Distribution) -> None:
    assert TypeAdapter(DurationDist).validate_python(written) == expected


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (3, FixedCount(3)),
        (2.0, FixedCount(2)),
        ({"poisson": {"mean": 1.5}, "min": 1}, Poisson(1.5, 1, None)),
        ({"uniform": {"low": 1, "high": 3}}, UniformCount(1, 3)),
        (
            {"empirical": {"values": [1, 2, 3], "weights": [0.6, 0.3, 0.1]}},
            EmpiricalCount((1, 2, 3), (0.6, 0.3, 0.1)),
        ),
        ({"empirical": {"values": [4]}, "max": 2}, EmpiricalCount((4,), (1.0,), None, 2)),
    ],
)
def test_count_forms(written: object, expected: Distribution) -> None:
    assert TypeAdapter(CountDist).validate_python(written) == expected


@pytest.mark.parametrize(
    ("kind", "written", "fragment"),
    [
        (DurationDist, {}, "name exactly one distribution"),
        (
            DurationDist,
            {"exponential": {"mean": "5s"}, "uniform": {"low": 0, "high": 1}},
            "got exponential, uniform",
        ),
        (DurationDist, {"poisson": {"mean": 1}}, "poisson is a count distribution"),
        (DurationDist, {"exponential": {"mean": "5s"}, "min": 1}, "min/max clamps apply to counts"),
        (DurationDist, [1, 2], "expected a duration"),
        (DurationDist, True, "expected a duration"),
        (DurationDist, {"lognormal": 3}, "lognormal needs a mapping such as {median: 1h, sigma: 0.8}"),
        (DurationDist, {"empirical": {"values": []}}, "at least 1 item"),
        (DurationDist, {"empirical": {"values": [1], "weights": [0]}}, "must not all be 0"),
        (DurationDist, {"lognormal": {"median": "1h", "sigma": 50}}, "from 0 to 10"),
        (CountDist, -1, "whole number of at least 0"),
        (CountDist, 1.5, "whole number"),
        (CountDist, {"poisson": {"mean": 1}, "min": 3, "max": 2}, "max must be at least min"),
        (CountDist, {"poisson": {"mean": 1e9}}, "from 0 to 10000"),
        (CountDist, {"uniform": {"low": 1, "high": 2.5}}, "whole number"),
        (CountDist, {"poison": {"mean": 1}}, "did you mean 'poisson'?"),
    ],
)
def test_bad_forms_are_refused_with_a_message(kind: object, written: object, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        TypeAdapter(kind).validate_python(written)
    assert fragment in str(info.value)


@pytest.mark.parametrize("dist", ALL, ids=repr)
def test_distributions_are_plain_slotted_objects(dist: Distribution) -> None:
    """Sampling does no pydantic or dict work: the objects are frozen, slotted dataclasses."""
    assert not hasattr(dist, "__dict__")
    hash(dist)  # frozen: usable as a key


@pytest.mark.parametrize("dist", ALL, ids=repr)
def test_distributions_pickle(dist: Distribution) -> None:
    """Worker processes receive scenarios by pickling."""
    copy = pickle.loads(pickle.dumps(dist))
    assert copy == dist
    assert copy.sample(np.random.default_rng(5)) == dist.sample(np.random.default_rng(5))


@pytest.mark.parametrize(("text", "seconds"), [("1h30m", 5400.0), ("2d12h", 216000.0), ("1w 2d", 777600.0),
                                               ("1d0.5h", 88200.0), ("90m", 5400.0)])
def test_compound_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["-14d", "-1h30m", "-5"])
def test_a_negative_duration_is_refused_as_negative(text: str) -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["1m1h", "h", "1h 1h", "1.2.3s"])
def test_malformed_durations_say_what_is_allowed(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected a duration such as 90s, 15m, 1h, 1h30m"):
        parse_duration(text)
