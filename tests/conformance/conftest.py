"""Fixtures of the conformance suite: servers started once per pytest session and configuration, and the
fixed timelines' results computed once per configuration.

A server that is not installed skips its tests with the reason (`make servers` installs them), except on CI
(`CI=true`), where a missing server is an error: CI must run the suite, not skip it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from sim.policy.model import Policy
from tests.conformance.harness import Run, TimelineResult, UserPool
from tests.conformance.servers import SERVERS
from tests.conformance.timeline import timelines_for
from tests.servers.base import RunningServer


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--conformance-long",
        action="store_true",
        default=False,
        help="run many more randomised timelines against each server (make conformance)",
    )


@dataclass
class Started:
    """A running server of one configuration, with its policy, its user pool and its fixed results."""

    server: RunningServer
    policy: Policy
    pool: UserPool
    results: dict[str, TimelineResult] | None = None

    def fixed_results(self) -> dict[str, TimelineResult]:
        """Every applicable rule's timeline run once (all together, in one pass over time)."""
        if self.results is None:
            run = Run(self.server, self.policy, self.pool)
            self.results = {r.timeline.name: r for r in run.run(timelines_for(self.policy))}
        return self.results


class Servers:
    """Starts each (server, configuration) on first use and stops them all at the end of the session."""

    def __init__(self, stack: contextlib.ExitStack):
        self._stack = stack
        self._started: dict[tuple[str, str], Started] = {}

    def get(self, server: str, configuration: str) -> Started:
        """The running server of that configuration (skips, or fails on CI, when it is not installed)."""
        key = (server, configuration)
        if key not in self._started:
            spec = SERVERS[server]
            reason = spec.module.installed()
            if reason:
                if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                    pytest.fail(f"{server} must run on CI: {reason}")
                pytest.skip(f"{server}: {reason}")
            settings = spec.configurations[configuration]
            running = self._stack.enter_context(spec.module.launch(settings))
            self._started[key] = Started(running, spec.module.policy_for(settings),
                                         UserPool(list(running.passwords)))
        return self._started[key]


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    with contextlib.ExitStack() as stack:
        yield Servers(stack)
