"""`tokensim probe` against real authorization servers on 127.0.0.1: it must recover each configured value.

Every server of tests/servers/ runs here: Glewlwyd and LemonLDAP::NG (Debian packages), django-oauth-toolkit
(PyPI) and node oidc-provider (npm), all installed by `make servers`. A server that is not installed (or
whose launcher is not in the tree) is skipped with the reason, except on CI (`CI=true`), where that is an
error, as in the conformance suite. The configurations differ
from those of the servers' own smoke and conformance tests (other lifetimes, rolling, one-use, offline
tokens, single session). The expected policy is written here from each server's documented mapping
(docs/servers-debian.md), or is the launcher's own `policy_for(settings)`; the probe's result must agree
with it on everything a client can observe (tests/probe/expect.py), durations within 2 s (the probe's 1 s
resolution plus the servers' whole-second clocks).

The servers run under libfaketime and the probe's waits move their clock, so a lifetime of a day is
measured in seconds. Logins: the password grant through the probe itself, `--login-command` (an offline
login through LemonLDAP::NG's portal, tests/probe/llng_offline_login.py), or the launcher's own login (the
authorization-code flow of oidc-provider) as a `CallableLogin`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import shlex
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sim import api
from sim.policy.model import Policy
from sim.probe import CallableLogin
from sim.probe.clock import RateLimiter
from sim.probe.result import ProbeResult
from tests.probe.expect import evidence_text, problems

HOUR, DAY = 3600, 86400
#: Requests per second against the real servers (the default 5 would make each test take a minute).
RATE = 40.0
HERE = Path(__file__).resolve().parent


class ServerTime:
    """The probe's clock is the server's (libfaketime): a wait moves the server's clock instead."""

    def __init__(self, clock: Any):
        self.clock = clock

    def now(self) -> float:
        return float(self.clock.now())

    def sleep_until(self, when: float) -> None:
        ahead = when - self.clock.now()
        if ahead > 0:
            self.clock.advance(ahead)


@dataclass(frozen=True)
class Case:
    """One server configuration and what the probe must find."""

    name: str
    module: str
    settings: Mapping[str, Any]
    #: The expected policy (None: the launcher's `policy_for(settings)`).
    expected: Mapping[str, Any] | None
    max_wait: float
    #: `password` (the probe's password grant), `command` (--login-command) or `launcher` (server.login).
    login: str = "password"
    scope: str | None = None
    launch: Mapping[str, Any] = field(default_factory=dict)
    max_logins: int = 4
    #: Longer than a few seconds (marked `slow`).
    slow: bool = False


CASES = (
    Case(
        "glewlwyd: no rotation, 90 s from the login",
        "glewlwyd",
        {"refresh-token-duration": 90, "access-token-duration": 30},
        {
            "refresh_token_usage": "reuse",
            "absolute_lifetime": "90s",
            "sliding_lifetime": "none",
            "access_token_lifetime": "30s",
        },
        max_wait=5 * 60,
        scope="openid",
    ),
    Case(
        "glewlwyd: rolling, 2 h idle",
        "glewlwyd",
        {"refresh-token-duration": 2 * HOUR, "refresh-token-rolling": True, "access-token-duration": 600},
        {
            "refresh_token_usage": "reuse",
            "absolute_lifetime": "unlimited",
            "sliding_lifetime": "2h",
            "access_token_lifetime": "10m",
        },
        max_wait=6 * HOUR,
        scope="openid",
    ),
    Case(
        "glewlwyd: one-use always, 1 day per token",
        "glewlwyd",
        {"refresh-token-one-use": "always", "refresh-token-duration": DAY, "access-token-duration": 300},
        {
            "refresh_token_usage": "one_time",
            "absolute_lifetime": "1d",
            "absolute_anchor": "token",
            "reuse_interval": "0s",
            "on_reuse": "revoke_family",
            "access_token_lifetime": "5m",
        },
        max_wait=2 * DAY,
        scope="openid",
    ),
    Case(
        "lemonldap-ng: online token, 5 min session",
        "lemonldap",
        {"timeout": 300, "oidcRPMetaDataOptionsAccessTokenExpiration": 60},
        {
            "refresh_token_usage": "reuse",
            "absolute_lifetime": "5m",
            "sliding_lifetime": "none",
            "access_token_lifetime": "1m",
        },
        max_wait=20 * 60,
        scope="openid",
    ),
    Case(
        "lemonldap-ng: offline token (login command), 20 min",
        "lemonldap",
        {
            "oidcRPMetaDataOptionsOfflineSessionExpiration": 20 * 60,
            "timeout": 60,
            "oidcRPMetaDataOptionsAccessTokenExpiration": 45,
        },
        {
            "refresh_token_usage": "reuse",
            "absolute_lifetime": "20m",
            "sliding_lifetime": "none",
            "access_token_lifetime": "45s",
        },
        max_wait=HOUR,
        login="command",
        launch={"offline": True},
        max_logins=3,
    ),
    Case(
        "lemonldap-ng: single session, 10 min",
        "lemonldap",
        {"singleSession": 1, "timeout": 600},
        {
            "refresh_token_usage": "reuse",
            "absolute_lifetime": "10m",
            "max_tokens_per_user": 1,
            "on_cap": "evict_oldest",
            "access_token_lifetime": "1h",
        },
        max_wait=30 * 60,
        scope="openid",
    ),
    Case(
        "django-oauth-toolkit: rotation, 30 s grace, reuse protection",
        "dot",
        {
            "ROTATE_REFRESH_TOKEN": True,
            "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 30,
            "REFRESH_TOKEN_REUSE_PROTECTION": True,
            "ACCESS_TOKEN_EXPIRE_SECONDS": 600,
            "REFRESH_TOKEN_EXPIRE_SECONDS": 2 * HOUR,
        },
        None,
        max_wait=6 * HOUR,
    ),
    Case(
        "django-oauth-toolkit: no rotation, 3 h",
        "dot",
        {
            "ROTATE_REFRESH_TOKEN": False,
            "ACCESS_TOKEN_EXPIRE_SECONDS": 900,
            "REFRESH_TOKEN_EXPIRE_SECONDS": 3 * HOUR,
        },
        None,
        max_wait=8 * HOUR,
    ),
    Case(
        "oidc-provider: rotation, 3 h token, 2 d grant",
        "oidc_provider",
        {"rotateRefreshToken": True, "ttl": {"RefreshToken": 3 * HOUR, "Grant": 2 * DAY, "AccessToken": 900}},
        None,
        max_wait=3 * DAY,
        login="launcher",
    ),
    Case(
        "oidc-provider: no rotation, 5 h",
        "oidc_provider",
        {"rotateRefreshToken": False, "ttl": {"RefreshToken": 5 * HOUR, "Grant": DAY, "AccessToken": 600}},
        None,
        max_wait=12 * HOUR,
        login="launcher",
    ),
)


def unavailable(module_name: str) -> str | None:
    """Why the server cannot run here (None when it can)."""
    full = f"tests.servers.{module_name}"
    if importlib.util.find_spec(full) is None:
        return f"tests/servers/{module_name}.py is not in this tree yet"
    state = importlib.import_module(full).installed()
    if state is True or state is None:
        return None
    if state is False:
        return f"{module_name} is not installed (make servers-debian)"
    return str(state)


def skip_unless_available(module_name: str) -> None:
    """Skip the test when the server cannot run here; on CI, fail it (CI must run every server)."""
    reason = unavailable(module_name)
    if reason is None:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{module_name} must run on CI: {reason}")
    pytest.skip(reason)


@contextlib.contextmanager
def started(module: ModuleType, case: Case) -> Iterator[Any]:
    """Launch the server with its faked clock (the two launcher families spell the option differently)."""
    clock: Any = "fake" if hasattr(module, "policy_for") else True
    with module.launch(dict(case.settings), clock=clock, **dict(case.launch)) as server:
        yield server


def login_options(server: Any, case: Case) -> dict[str, Any]:
    """How the probe logs in for this case."""
    user = next(iter(server.passwords), "user1")
    if case.login == "password":
        return {"login": f"password:{user}:{server.passwords[user]}", "scope": case.scope}
    if case.login == "command":
        target = {
            "base_url": server.base_url,
            "authorization_endpoint": server.authorization_endpoint,
            "token_endpoint": server.token_endpoint,
            "client_id": server.client_id,
            "client_secret": server.client_secret,
            "user": user,
        }
        script = HERE / "llng_offline_login.py"
        command = shlex.join([sys.executable, str(script), json.dumps(target)])
        return {"login_command": command}
    return {"login": CallableLogin(lambda: dict(server.login(user).body), name=f"{server.name} login")}


def probe_server(server: Any, case: Case) -> ProbeResult:
    """Run the probe against a started server, on its clock."""
    auth = "basic" if getattr(server, "client_auth", "") == "client_secret_basic" else "post"
    return api.probe(
        server.token_endpoint,
        server.client_id,
        client_secret=server.client_secret,
        client_auth=auth,
        max_wait=case.max_wait,
        max_logins=case.max_logins,
        clock=ServerTime(server.clock),
        limiter=RateLimiter(RATE),
        **login_options(server, case),
    )


@pytest.mark.server
@pytest.mark.parametrize(
    "case",
    [pytest.param(case, id=case.name, marks=[pytest.mark.slow] if case.slow else []) for case in CASES],
)
def test_the_probe_recovers_the_configuration(case: Case) -> None:
    skip_unless_available(case.module)
    module = importlib.import_module(f"tests.servers.{case.module}")
    started_at = time.monotonic()
    with started(module, case) as server:
        result = probe_server(server, case)
        logs = server.logs() if hasattr(server, "logs") else ""
    truth = Policy.from_dict(dict(case.expected)) if case.expected else module.policy_for(case.settings)
    found = problems(result, truth, max_logins=case.max_logins, max_wait=case.max_wait, tolerance=2.0)
    assert not found, (
        "\n".join(found) + "\n" + result.policy_yaml() + "\n" + evidence_text(result) + "\n" + logs[-3000:]
    )
    assert result.requests <= 400 and time.monotonic() - started_at < 120


@pytest.mark.server
@pytest.mark.slow
def test_the_probe_in_real_time_against_glewlwyd() -> None:
    """No faked clock: the probe waits for real (a 4 s lifetime, --max-wait 6s), as it does for a user."""
    skip_unless_available("glewlwyd")
    from tests.servers import glewlwyd

    settings = {"refresh-token-duration": 4, "refresh-token-one-use": "always", "access-token-duration": 20}
    started_at = time.monotonic()
    with glewlwyd.launch(settings) as server:
        result = api.probe(server.token_endpoint, server.client_id, client_secret=server.client_secret,
                           login=f"password:user1:{server.passwords['user1']}", scope="openid", max_wait=6,
                           max_logins=3, limiter=RateLimiter(RATE))
    truth = Policy.from_dict({"refresh_token_usage": "one_time", "absolute_lifetime": "4s",
                              "absolute_anchor": "token", "on_reuse": "revoke_family",
                              "access_token_lifetime": "20s"})
    found = problems(result, truth, max_logins=3, max_wait=6, tolerance=2.0)
    assert not found, "\n".join(found) + "\n" + result.policy_yaml() + "\n" + evidence_text(result)
    assert result.duration >= 4  # it really waited
    assert time.monotonic() - started_at < 90
