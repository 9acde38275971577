"""The threshold search of every timed finding (sim/probe/search.py), against thresholds known in advance."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.probe.search import Bracket


def search(threshold: float, limit: float, resolution: float = 1.0) -> tuple[Bracket, int]:
    """Run the search against "works at delays <= threshold"; the bracket and the number of trials."""
    bracket = Bracket(limit=limit, resolution=resolution)
    trials = 0
    while not bracket.done:
        delay = bracket.next_delay()
        trials += 1
        (bracket.worked if delay <= threshold else bracket.failed)(delay)
        assert trials < 200
    return bracket, trials


@settings(max_examples=300, deadline=None)
@given(threshold=st.floats(0.01, 1e6), limit=st.floats(2.0, 1e6))
def test_the_bracket_holds_the_threshold_and_ends_within_the_resolution(
    threshold: float, limit: float
) -> None:
    bracket, trials = search(threshold, limit)
    if threshold >= limit:
        assert bracket.beyond_limit and bracket.low >= limit
    else:
        assert bracket.high is not None
        assert bracket.low <= threshold < bracket.high
        assert bracket.high - bracket.low <= 1.0
        # a second of resolution, and a second more when a round number is preferred (whole-second servers)
        assert abs(bracket.estimate() - threshold) <= 2.0
    # doubling to the limit, then halving to the resolution
    assert trials <= 2 * math.ceil(math.log2(max(limit, 2))) + 2


@given(whole=st.integers(1, 100000))
def test_a_whole_second_threshold_is_estimated_to_the_second(whole: int) -> None:
    bracket, _ = search(float(whole), 2e5)
    estimate = bracket.estimate()
    assert abs(estimate - whole) <= 1
    if whole % 10 == 0 or min(whole % 10, 10 - whole % 10) > 1:  # round, or not next to a round number
        assert estimate == whole


@given(whole=st.integers(1, 10000).map(lambda k: 10 * k), fraction=st.floats(0, 0.999), strict=st.booleans())
def test_a_round_lifetime_on_a_whole_second_server_is_estimated_exactly(whole: int, fraction: float,
                                                                        strict: bool) -> None:
    # a server that keeps whole seconds: a token issued at fraction f of a second, valid D s, is refused from
    # D + 1 - f after its issue (`now > expiry`) or from D - f (`now >= expiry`)
    threshold = whole + 1 - fraction if strict else whole - fraction
    bracket, _ = search(threshold - 1e-9, 2e6)
    assert bracket.estimate() == whole


def test_an_inconsistent_answer_keeps_the_bracket_valid() -> None:
    bracket = Bracket(limit=100, resolution=1)
    bracket.failed(10)
    bracket.worked(12)  # worked later than a failure (a server with jitter): the failure is forgotten
    assert bracket.low == 12 and bracket.high is None
