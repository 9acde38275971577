"""Running the probe against the reference server (tests/probe/engine_server.py) in the tests."""

from __future__ import annotations

from typing import Any

from sim import api
from sim.policy.model import Policy
from sim.probe.clock import RateLimiter
from sim.probe.result import ProbeResult
from tests.probe.engine_server import CLIENT_ID, CLIENT_SECRET, PASSWORD, USER, Answers, VirtualClock, serve

#: The probe's bounds in the reference-server tests: virtual time, so waiting costs nothing.
MAX_WAIT = 300.0
MAX_LOGINS = 6
MAX_REQUESTS = 3000
#: No real-time spacing against the in-process server (the limiter has its own test).
UNLIMITED_RATE = 1e9


def probe_reference(
    policy: Policy | dict[str, Any],
    answers: Answers | None = None,
    latency: float = 0.001,
    **options: Any,
) -> tuple[ProbeResult, Policy, int]:
    """Probe the reference server running `policy` (each request taking `latency` seconds of its virtual
    clock); (result, the policy, requests the server answered)."""
    clock = VirtualClock(latency=latency)
    with serve(policy, clock, answers) as server:
        settings: dict[str, Any] = {
            "client_secret": CLIENT_SECRET,
            "login": f"password:{USER}:{PASSWORD}",
            "max_wait": MAX_WAIT,
            "max_logins": MAX_LOGINS,
            "max_requests": MAX_REQUESTS,
            "clock": clock,
            "limiter": RateLimiter(UNLIMITED_RATE),
            **options,
        }
        result = api.probe(server.url, CLIENT_ID, **settings)
        return result, server.policy, server.requests
