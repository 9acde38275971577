"""The real-time fallback: a server without libfaketime, lifetimes of seconds, every wait bounded."""

from __future__ import annotations

import os

import pytest

from tests.conformance.harness import MAX_REAL_WAIT, Run, UserPool
from tests.conformance.timeline import Step, Timeline
from tests.servers import oidc_provider
from tests.servers.base import RunningServer

SETTINGS = {"rotateRefreshToken": True, "ttl": {"RefreshToken": 4, "Grant": 60, "AccessToken": 2}}


def test_idle_expiry_in_real_time() -> None:
    """oidc-provider in real time with a 4-second refresh-token TTL: refreshes 1 s apart succeed, one 6 s
    after the last fails, and the engine says the same (margins of 2 s against the 1-second clock)."""
    reason = oidc_provider.installed()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)
    timeline = Timeline("real-time idle", "idle (sliding) expiry", (
        Step(0, "login"),
        Step(1, "refresh"),
        Step(2, "refresh"),
        Step(8, "refresh", note="6 s after the last refresh: past the 4 s TTL"),
    ))
    with oidc_provider.launch(SETTINGS, clock="real") as server:
        assert server.clock is None
        run = Run(server, oidc_provider.policy_for(SETTINGS), UserPool(list(server.passwords)[:5]))
        (result,) = run.run([timeline])
    assert result.agrees, result.log()
    assert [entry.server.ok for entry in result.entries] == [True, True, True, False]


def test_real_time_waits_are_bounded() -> None:
    """A wait longer than MAX_REAL_WAIT on a real-time server is refused instead of slept."""
    server = RunningServer(name="x", version="x", token_endpoint="http://127.0.0.1:9/", client_id="c",
                           client_secret=None)
    run = Run(server, oidc_provider.policy_for(SETTINGS), UserPool(["u"]))
    with pytest.raises(RuntimeError, match="libfaketime"):
        run.wait_until(MAX_REAL_WAIT + 1)
