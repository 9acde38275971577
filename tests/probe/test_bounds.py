"""The probe's bounds hold: request rate (real time), request count, time budget, and lifetimes beyond
--max-wait reported as "at least"."""

from __future__ import annotations

import itertools
import time

from sim import api
from sim.probe.clock import RateLimiter
from sim.probe.plan import worst_case_seconds
from tests.probe.engine_server import CLIENT_ID, CLIENT_SECRET, PASSWORD, USER, Answers, VirtualClock, serve
from tests.probe.helpers import probe_reference


def test_the_rate_limiter_spaces_requests_in_real_time() -> None:
    limiter = RateLimiter(20.0)
    starts = []
    for _ in range(6):
        limiter.wait()
        starts.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 1 / 20 - 0.002


def test_a_probe_never_exceeds_its_rate_at_the_server() -> None:
    rate = 20.0
    clock = VirtualClock()
    with serve({"refresh_token_usage": "one_time", "absolute_lifetime": "8s"}, clock) as server:
        result = api.probe(
            server.url,
            CLIENT_ID,
            client_secret=CLIENT_SECRET,
            login=f"password:{USER}:{PASSWORD}",
            max_wait=20,
            max_logins=3,
            clock=clock,
            limiter=RateLimiter(rate),
        )
        arrivals = list(server.arrivals)
    assert len(arrivals) == result.requests > 30
    # the server stamps arrivals when its thread reads them: on a busy machine a few milliseconds late, which
    # can bring two arrivals closer than the client sent them; hence the small allowances
    assert (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) <= rate * 1.05
    busiest = max(sum(1 for t in arrivals if start <= t < start + 1) for start in arrivals)
    assert busiest <= rate + 2  # without the limiter: all 30-odd requests within a fraction of a second


def test_the_request_budget_is_never_exceeded() -> None:
    policy = {"refresh_token_usage": "reuse", "absolute_lifetime": "100s", "sliding_lifetime": "20s"}
    result, _, answered = probe_reference(policy, max_requests=25)
    assert result.requests == answered == 25
    assert any("request budget" in warning for warning in result.warnings)
    assert result.finding("refresh_token_usage").confidence == "exact"  # measured before the budget ran out
    assert result.finding("absolute_lifetime").confidence != "exact"
    result.policy()  # still a valid policy


def test_the_time_budget_is_never_exceeded() -> None:
    policy = {"refresh_token_usage": "reuse", "absolute_lifetime": "250s", "sliding_lifetime": "100s"}
    result, _, _ = probe_reference(policy, max_time="3m")
    assert result.duration <= 180
    assert any("time budget" in warning for warning in result.warnings)
    sliding = result.finding("sliding_lifetime")
    assert sliding.confidence != "exact" or sliding.value == "100s"


def test_a_plan_that_measures_everything_stays_within_its_worst_case() -> None:
    # every duration just under --max-wait: the longest searches the plan can make
    policy = {
        "refresh_token_usage": "one_time",
        "absolute_lifetime": "299s",
        "sliding_lifetime": "290s",
        "reuse_interval": "250s",
    }
    result, _, _ = probe_reference(policy)
    assert not any("time budget" in warning for warning in result.warnings), result.warnings
    assert result.duration <= worst_case_seconds(300)
    assert result.finding("sliding_lifetime").value == "290s"
    assert result.finding("reuse_interval").value == "250s"


def test_lifetimes_beyond_max_wait_are_reported_as_at_least() -> None:
    policy = {"refresh_token_usage": "reuse", "absolute_lifetime": "2h", "sliding_lifetime": "none"}
    result, _, _ = probe_reference(policy, max_wait="90s")
    absolute = result.finding("absolute_lifetime")
    assert (absolute.value, absolute.confidence) == ("unlimited", "not_measured")
    assert absolute.low is not None and absolute.low >= 90
    assert absolute.shown_value().startswith("≥ ")
    assert "still worked" in absolute.summary
    assert "not measured: a chain used once" in result.policy_yaml()


def test_refresh_expires_in_saves_the_waiting_but_not_the_horizon() -> None:
    policy = {"refresh_token_usage": "reuse", "absolute_lifetime": "unlimited", "sliding_lifetime": "45s"}
    result, _, _ = probe_reference(policy, Answers(refresh_expires_in=True), max_wait="2m")
    assert result.finding("sliding_lifetime").value == "45s"
    absolute = result.finding("absolute_lifetime")
    assert absolute.confidence == "not_measured" and absolute.low is not None and absolute.low >= 120
