"""Bad input and unusable endpoints: a clear error naming what is wrong, before anything is sent where
possible; never a secret in a message; never an overwritten file the probe did not write."""

from __future__ import annotations

import json
import shlex
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from sim import api
from sim.core.resultset import OutputError
from sim.core.validation import ConfigError
from sim.probe.clock import RateLimiter
from sim.probe.facts import Facts
from sim.probe.plan import cap_expiry_warning
from sim.probe.search import Bracket
from sim.probe.session import ProbeError
from tests.probe.engine_server import CLIENT_ID, CLIENT_SECRET, PASSWORD, USER, Answers, VirtualClock, serve
from tests.probe.helpers import UNLIMITED_RATE, probe_reference

LOGIN = f"password:{USER}:{PASSWORD}"
POLICY = {"refresh_token_usage": "reuse", "absolute_lifetime": "30s"}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"token_endpoint": "ftp://127.0.0.1/token"}, "token_endpoint"),
        ({"token_endpoint": "http:///token"}, "token_endpoint"),
        ({"token_endpoint": "127.0.0.1:8080/token"}, "token_endpoint"),
        ({"client_id": ""}, "client_id"),
        ({"max_logins": 1}, "max_logins"),
        ({"rate": 0}, "rate"),
        ({"max_wait": "soon"}, "max_wait"),
        ({"max_requests": 3}, "max_requests"),
        ({"client_auth": "mtls"}, "client_auth"),
        ({"login": "pasword:bob:hunter2"}, "login"),
        ({"login": "password:bob"}, "login"),
        ({"login": None}, "login"),
        ({"login_command": "  "}, "login"),
    ],
)
def test_bad_options_are_refused_before_any_request(changes: dict[str, Any], field: str) -> None:
    with serve(POLICY) as server:
        options: dict[str, Any] = {
            "token_endpoint": server.url,
            "client_id": CLIENT_ID,
            "login": LOGIN,
            "client_secret": CLIENT_SECRET,
        }
        options.update(changes)
        if "login_command" in changes:
            options.pop("login")
        with pytest.raises(ConfigError) as caught:
            api.probe(options.pop("token_endpoint"), options.pop("client_id"), **options)
        assert server.requests == 0
    message = caught.value.render()
    assert field in message
    assert "hunter2" not in message  # a password is never echoed


def test_an_unreachable_endpoint_is_a_probe_error() -> None:
    url = f"http://127.0.0.1:{closed_port()}/token"
    with pytest.raises(ProbeError, match="cannot reach"):
        api.probe(url, CLIENT_ID, login=LOGIN, limiter=RateLimiter(UNLIMITED_RATE))


@pytest.mark.parametrize(
    ("options", "answers", "expected"),
    [
        ({"login": f"password:{USER}:wrong"}, None, "first login was refused: HTTP 400 invalid_grant"),
        ({"client_secret": "not-the-secret"}, None, "first login was refused: HTTP 401 invalid_client"),
        ({}, Answers(refresh_grant=False), "refresh_token grant"),
    ],
)
def test_a_server_that_refuses_the_first_login_or_refresh_cannot_be_probed(
    options: dict[str, Any], answers: Answers | None, expected: str
) -> None:
    with pytest.raises(ProbeError, match=expected) as caught:
        probe_reference(POLICY, answers, **options)
    assert "wrong" not in str(caught.value) and "not-the-secret" not in str(caught.value)


def login_script(tmp_path: Path, url: str, body: str | None = None, status: int = 0) -> str:
    """A login command: a password grant at `url` printed as JSON (or `body` and `status` as given)."""
    script = tmp_path / "login.py"
    if body is None:
        code = f"""
import json, httpx
answer = httpx.post({url!r}, data={{"grant_type": "password", "username": {USER!r}, "password": {PASSWORD!r},
                    "client_id": {CLIENT_ID!r}, "client_secret": {CLIENT_SECRET!r}}}, timeout=10)
print(json.dumps(answer.json()))
"""
    else:
        code = (
            f"import sys\nprint({body!r})\nprint('login failed: locked', file=sys.stderr)\n"
            f"sys.exit({status})\n"
        )
    script.write_text(code)
    return shlex.join([sys.executable, str(script)])


def test_a_login_command_is_a_login(tmp_path: Path) -> None:
    clock = VirtualClock()
    with serve(
        {"refresh_token_usage": "one_time", "absolute_lifetime": "40s", "max_tokens_per_user": 2}, clock
    ) as server:
        result = api.probe(
            server.url,
            CLIENT_ID,
            client_secret=CLIENT_SECRET,
            login_command=login_script(tmp_path, server.url),
            max_logins=3,
            max_wait=60,
            clock=clock,
            limiter=RateLimiter(UNLIMITED_RATE),
        )
    assert result.login == "login command " + sys.executable
    assert result.finding("max_tokens_per_user").value == 2
    assert result.finding("absolute_lifetime").value == "40s"


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        ('{"access_token": "x"}', 0, "has no refresh_token"),
        ("Welcome!", 0, "did not print a JSON object"),
        ("", 3, "exited with status 3: login failed: locked"),
    ],
)
def test_a_failing_login_command_is_reported(tmp_path: Path, body: str, status: int, expected: str) -> None:
    with serve(POLICY) as server, pytest.raises(ProbeError, match=expected):
        api.probe(
            server.url,
            CLIENT_ID,
            login_command=login_script(tmp_path, server.url, body, status),
            limiter=RateLimiter(UNLIMITED_RATE),
        )


def test_an_endpoint_that_stops_answering_keeps_what_was_measured() -> None:
    result, _, _ = probe_reference(POLICY, Answers(drop_after=16))
    assert result.stopped is not None and "stopped answering" in result.stopped
    assert result.finding("refresh_token_usage").value == "reuse"
    assert result.finding("absolute_lifetime").confidence == "not_measured"
    result.policy()


def test_an_output_file_the_probe_did_not_write_is_kept(tmp_path: Path) -> None:
    mine = tmp_path / "policy.yaml"
    mine.write_text("policy: {preset: auth0}\n")
    with pytest.raises(OutputError, match="not written by tokensim probe"):
        probe_reference(POLICY, out=mine)
    assert mine.read_text() == "policy: {preset: auth0}\n"
    result, _, _ = probe_reference(POLICY, out=mine, force=True)
    assert mine.read_text().startswith("# tokensim probe of ")
    evidence = json.loads((tmp_path / "policy.evidence.json").read_text())
    assert evidence["token_endpoint"] == result.token_endpoint
    probe_reference(POLICY, out=mine)  # its own output is replaced without --force


def test_output_is_checked_before_any_request(tmp_path: Path) -> None:
    (tmp_path / "policy.evidence.json").write_text("{}")
    with serve(POLICY) as server:
        with pytest.raises(OutputError):
            api.probe(
                server.url, CLIENT_ID, client_secret=CLIENT_SECRET, login=LOGIN, out=tmp_path / "policy.yaml"
            )
        assert server.requests == 0


def test_a_login_throttled_by_the_server_is_not_taken_for_a_cap() -> None:
    result, _, _ = probe_reference(POLICY, Answers(throttle_logins_after=3))
    cap = result.finding("max_tokens_per_user")
    assert cap.confidence == "not_measured" and cap.value == "unlimited"
    assert any("HTTP 429" in warning for warning in result.warnings)


def test_chains_expiring_during_the_cap_experiment_are_not_taken_for_a_cap() -> None:
    # each request takes 0.5 s: the 6 logins and their checks outlast the 4 s lifetime of every chain
    result, _, _ = probe_reference({"refresh_token_usage": "reuse", "absolute_lifetime": "4s"}, latency=0.5)
    assert result.finding("absolute_lifetime").value == "4s"
    cap = result.finding("max_tokens_per_user")
    assert (cap.value, cap.confidence) == ("unlimited", "not_measured")
    assert any("the cap cannot be measured" in warning for warning in result.warnings)


def test_a_cap_seen_with_chains_shorter_than_the_experiment_is_flagged() -> None:
    facts = Facts(resolution=1.0, max_wait=60, max_logins=6, cap_span=12.0)
    facts.conclude("max_tokens_per_user", 2, "exact", "after 6 logins ...")
    facts.unused_lifetime = Bracket(limit=60, resolution=1, low=9.5, high=10.2)
    assert "may have expired rather than been evicted" in (cap_expiry_warning(facts) or "")
    facts.unused_lifetime = Bracket(limit=60, resolution=1, low=30, high=31)
    assert cap_expiry_warning(facts) is None
