"""A reference token endpoint: tokensim's own `TokenEngine` behind a small HTTP server on 127.0.0.1.

This is the model, not a real authorization server: it answers exactly as the engine decides, so a probe run
against it must recover the engine's policy. It lets the probe's logic (searches, cap detection, replays) be
tested over real HTTP on every policy the engine can express, including random ones; the probe's claims
about real servers are tested against the real servers (tests/probe/test_real_servers.py).

The server's clock is a `VirtualClock` the probe shares (the probe's waits move it, so days take no real
time), or the real monotonic clock (`RealTimeClock`) for a probe run as a separate process. Tokens are
random strings mapped to the engine's handles. Options say how the answers look: whether `expires_in` and
`refresh_expires_in` are given, whether a refresh of a `reuse` policy echoes the refresh token, whether
access tokens are JWTs (with `exp` and `iat`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import numpy as np

from sim.policy.engine import TokenEngine
from sim.policy.model import Policy

CLIENT_ID = "tokensim-probe-test"
CLIENT_SECRET = "probe-secret"
USER, PASSWORD = "alice", "correct horse"


class VirtualClock:
    """A clock that moves when someone waits on it (shared by the server and the probe), and by `latency`
    at each request the server answers (requests take time: without it every request of a plan would
    happen at one instant, and "least recently used" could not be told from "oldest")."""

    def __init__(self, start: float = 1000.0, latency: float = 0.001):
        self._now = start
        self.latency = latency
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def tick(self) -> None:
        """One request's worth of time."""
        with self._lock:
            self._now += self.latency

    def sleep_until(self, when: float) -> None:
        with self._lock:
            self._now = max(self._now, when)


class RealTimeClock:
    """The server's time is the machine's monotonic clock."""

    def tick(self) -> None:
        """Real requests take real time."""

    def now(self) -> float:
        return time.monotonic()

    def sleep_until(self, when: float) -> None:
        while (left := when - time.monotonic()) > 0:
            time.sleep(left)


@dataclass
class Answers:
    """How the reference server shapes its answers."""

    expires_in: bool = True
    refresh_expires_in: bool = False
    echo_refresh_token: bool = False
    jwt_access_tokens: bool = False
    #: False: the refresh_token grant is refused to the client (400 unauthorized_client).
    refresh_grant: bool = True
    #: After this many requests the server drops every connection without answering (None: never).
    drop_after: int | None = None
    #: After this many logins the server answers 429 Too Many Requests to logins (None: never).
    throttle_logins_after: int | None = None


@dataclass
class EngineServer:
    """The engine with a policy, its clock, and the token strings it has issued."""

    policy: Policy
    clock: VirtualClock | RealTimeClock
    answers: Answers = field(default_factory=Answers)
    url: str = ""
    requests: int = 0
    logins: int = 0
    #: `time.monotonic()` when each request arrived (real time, whatever the server's clock).
    arrivals: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(np.random.SeedSequence(14))
        self.engine = TokenEngine(self.policy, rng=rng)
        self._strings: dict[int, str] = {}
        self._handles: dict[str, int] = {}
        self._lock = threading.Lock()

    def token_request(
        self, form: dict[str, str], basic: tuple[str, str] | None
    ) -> tuple[int, dict[str, Any]]:
        """Answer one POST to the token endpoint (the clock moves half a latency before, half after)."""
        with self._lock:
            self.requests += 1
            self.arrivals.append(time.monotonic())
            self.clock.tick()
            try:
                return self._answer(form, basic)
            finally:
                self.clock.tick()

    def _answer(self, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, dict[str, Any]]:
        client = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        if client != (CLIENT_ID, CLIENT_SECRET):
            return 401, {"error": "invalid_client"}
        now = self.clock.now()
        grant = form.get("grant_type")
        if grant == "password":
            self.logins += 1
            throttle = self.answers.throttle_logins_after
            if throttle is not None and self.logins > throttle:
                return 429, {"error": "slow_down"}
            if (form.get("username"), form.get("password")) != (USER, PASSWORD):
                return 400, {"error": "invalid_grant", "error_description": "bad user name or password"}
            issued = self.engine.authorize(USER, now)
            if issued.refresh_token is None:
                return 400, {"error": "invalid_grant", "error_description": "too many sessions"}
            assert issued.chain is not None and issued.access_expires_at is not None
            return 200, self._body(issued.refresh_token, issued.chain, issued.access_expires_at, now, True)
        if grant == "refresh_token" and not self.answers.refresh_grant:
            return 400, {"error": "unauthorized_client"}
        if grant == "refresh_token":
            handle = self._handles.get(form.get("refresh_token", ""))
            if handle is None:
                return 400, {"error": "invalid_grant", "error_description": "unknown refresh token"}
            result = self.engine.refresh(handle, now)
            if not result.ok:
                return 400, {"error": "invalid_grant", "error_description": result.reason}
            assert result.refresh_token is not None and result.chain is not None
            assert result.access_expires_at is not None
            rotated = result.refresh_token != handle
            send = rotated or result.grace or self.answers.echo_refresh_token
            return 200, self._body(result.refresh_token, result.chain, result.access_expires_at, now, send)
        return 400, {"error": "unsupported_grant_type"}

    def _body(
        self, handle: int, chain: int, access_expires_at: float, now: float, send: bool
    ) -> dict[str, Any]:
        lifetime = access_expires_at - now
        body: dict[str, Any] = {"token_type": "Bearer", "access_token": self._access_token(now, lifetime)}
        if self.answers.expires_in:
            body["expires_in"] = round(lifetime)
        if send:
            body["refresh_token"] = self._string(handle)
        if self.answers.refresh_expires_in:
            expires = self.engine.chain_info(chain).expires_at
            if math.isfinite(expires):
                body["refresh_expires_in"] = round(expires - now)
        return body

    def _access_token(self, now: float, lifetime: float) -> str:
        if not self.answers.jwt_access_tokens:
            return secrets.token_urlsafe(16)

        def part(data: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

        iat = int(now)
        return f"{part({'alg': 'none'})}.{part({'iat': iat, 'exp': iat + round(lifetime)})}.sig"

    def _string(self, handle: int) -> str:
        if handle not in self._strings:
            text = secrets.token_urlsafe(24)
            self._strings[handle] = text
            self._handles[text] = handle
        return self._strings[handle]


def _handler(server: EngineServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8")
            form = {key: values[0] for key, values in parse_qs(raw).items()}
            basic = None
            header = self.headers.get("Authorization", "")
            if header.startswith("Basic "):
                user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
                basic = (user, secret)
            drop = server.answers.drop_after
            if drop is not None and server.requests >= drop:
                self.close_connection = True  # no answer at all: the client sees the connection end
                return
            if self.path != "/token":
                status, body = 404, {"error": "not_found"}
            else:
                status, body = server.token_request(form, basic)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextlib.contextmanager
def serve(
    policy: Policy | dict[str, Any],
    clock: VirtualClock | RealTimeClock | None = None,
    answers: Answers | None = None,
) -> Iterator[EngineServer]:
    """Run the reference server on a free port of 127.0.0.1 in a thread; stop it afterwards."""
    if isinstance(policy, dict):
        policy = Policy.from_dict(policy)
    server = EngineServer(policy, clock or VirtualClock(), answers or Answers())
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}/token"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
