"""Randomised timelines: hypothesis draws bounded request sequences that run against each server and the
engine; the first disagreement fails the test and hypothesis shrinks it to a minimal timeline.

Requests fall on a grid of RANDOM_UNIT seconds and the "random:" configurations put every lifetime at an odd
number of half-units, so no request is ever within a minute of a deadline (where a request's latency and
the servers' one-second clocks would decide). A first difference that a server's `explain` recognises as
a documented one ends the example without failing it (counted as a hypothesis event). Each example uses
fresh users on the server started once per configuration, and a fresh engine.

`make conformance` (`--conformance-long`) runs 200 examples per configuration; `make test` runs 12.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conformance.harness import Run
from tests.conformance.servers import RANDOM_UNIT, SERVERS
from tests.conformance.timeline import NEWEST, Step, Timeline

MAX_STEPS = 10
MAX_GAP_UNITS = 8
USERS = ("a", "b")
KINDS = ("login", "refresh", "refresh", "replay", "revoke", "revoke_old")


@st.composite
def random_timelines(draw: st.DrawFn, excludes: frozenset[str] = frozenset()) -> Timeline:
    """A login, then up to MAX_STEPS requests by two users on the RANDOM_UNIT grid."""
    kinds = [kind for kind in KINDS if kind not in excludes]
    steps = [Step(0.0, "login", user="a")]
    t = 0.0
    for _ in range(draw(st.integers(1, MAX_STEPS))):
        t += RANDOM_UNIT * draw(st.integers(0, MAX_GAP_UNITS))
        kind = draw(st.sampled_from(kinds))
        user = draw(st.sampled_from(USERS))
        chain = draw(st.integers(0, 1))
        if kind == "login":
            steps.append(Step(t, "login", user=user))
        elif kind == "refresh":
            steps.append(Step(t, "refresh", user=user, chain=chain))
        elif kind == "replay":
            steps.append(Step(t, "refresh", user=user, chain=chain, token=draw(st.integers(0, 3))))
        elif kind == "revoke":
            steps.append(Step(t, "revoke", user=user, chain=chain))
        else:
            steps.append(Step(t, "revoke", user=user, chain=chain, token=draw(st.integers(0, 3))))
    return Timeline("random", "random", tuple(steps))


CASES = [
    pytest.param(server, configuration, id=f"{server}-{configuration}")
    for server, spec in SERVERS.items()
    for configuration in spec.randomised
]


@pytest.mark.parametrize(("server", "configuration"), CASES)
def test_random_timelines_agree(
    servers, request: pytest.FixtureRequest, server: str, configuration: str
) -> None:
    spec = SERVERS[server]
    started = servers.get(server, configuration)
    examples = 200 if request.config.getoption("--conformance-long") else 12
    config_settings = spec.configurations[configuration]

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(timeline=random_timelines(spec.random_excludes))
    def check(timeline: Timeline) -> None:
        run = Run(started.server, started.policy, started.pool)
        (result,) = run.run([timeline])
        first = result.first_difference
        if first is None:
            event("agrees")
            return
        upto = result.entries[: result.entries.index(first) + 1]
        explained = spec.explain(upto, config_settings) if spec.explain else None
        if explained is not None:
            event(f"documented difference: {explained}")
            return
        pytest.fail(
            f"{started.server.version}, {configuration}: the server and the engine differ\n{result.log()}",
            pytrace=False,
        )

    check()


def test_the_generator_respects_its_bounds() -> None:
    """Every drawn timeline starts with a login, has at most MAX_STEPS + 1 steps on the grid, in order."""

    @settings(max_examples=200, deadline=None)
    @given(timeline=random_timelines(frozenset({"revoke_old"})))
    def check(timeline: Timeline) -> None:
        assert timeline.steps[0].action == "login"
        assert 2 <= len(timeline.steps) <= MAX_STEPS + 1
        for step in timeline.steps:
            assert step.at % RANDOM_UNIT == 0
            assert not (step.action == "revoke" and step.token != NEWEST)

    check()
