"""The probe's HTTP client of one OAuth 2.0 token endpoint (RFC 6749 s. 4.3 password grant, s. 6 refresh).

One `httpx.Client` for the whole plan, a new connection for each request, a timeout on every request, no
redirects followed (a token endpoint answers directly), TLS certificates verified. The client authenticates
as RFC 6749 s. 2.3.1 allows: the id and secret in the form (`client_secret_post`, the default) or with HTTP
Basic (`client_secret_basic`).

A body that is not a JSON object reads as `{}`: some servers refuse a grant with a bare status (Glewlwyd
answers 400 with an empty body), so the status, not the body, tells success from failure.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Literal

import httpx

from sim.probe.wire import EndpointError, RawAnswer, endpoint_problem

#: Seconds any single request may take before the probe gives up on it.
REQUEST_TIMEOUT = 15.0

ClientAuth = Literal["post", "basic"]


class TokenEndpoint:
    """Token requests to one endpoint as one client; close it (or use it as a context manager) when done."""

    def __init__(
        self,
        url: str,
        client_id: str,
        client_secret: str | None = None,
        *,
        client_auth: ClientAuth = "post",
        scope: str | None = None,
        timeout: float = REQUEST_TIMEOUT,
    ):
        problem = endpoint_problem(url)
        if problem:
            raise ValueError(problem)
        self.url = url
        self.client_id = client_id
        self.client_secret = client_secret
        self.client_auth = client_auth
        self.scope = scope
        # A new connection for every request: the probe waits between requests for longer than servers keep
        # idle connections open, and a POST sent on a connection the server is closing fails mid-way (it
        # cannot be retried: a refresh that reached the server may have consumed the token).
        self._http = httpx.Client(
            timeout=timeout, follow_redirects=False, limits=httpx.Limits(max_keepalive_connections=0)
        )

    def __enter__(self) -> TokenEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def password_grant(self, username: str, password: str) -> RawAnswer:
        """`grant_type=password` (a new login of the test account)."""
        form = {"grant_type": "password", "username": username, "password": password}
        if self.scope:
            form["scope"] = self.scope
        return self.post(form)

    def refresh(self, refresh_token: str) -> RawAnswer:
        """`grant_type=refresh_token` with this token."""
        return self.post({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def post(self, form: Mapping[str, str]) -> RawAnswer:
        """POST a form with the client's credentials; raise EndpointError when no HTTP answer comes."""
        data = dict(form)
        auth: httpx.BasicAuth | None = None
        if self.client_auth == "basic":
            auth = httpx.BasicAuth(self.client_id, self.client_secret or "")
        else:
            data["client_id"] = self.client_id
            if self.client_secret is not None:
                data["client_secret"] = self.client_secret
        started = time.monotonic()
        try:
            response = self._http.post(
                self.url,
                data=data,
                auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
                headers={"Accept": "application/json"},
            )
        except httpx.TimeoutException as exc:
            raise EndpointError(
                f"{self.url} did not answer within {self._http.timeout.read} s ({exc})"
            ) from None
        except httpx.HTTPError as exc:
            raise EndpointError(f"cannot reach {self.url}: {exc}") from None
        elapsed = time.monotonic() - started
        try:
            body = response.json()
        except ValueError:
            body = {}
        return RawAnswer(response.status_code, body if isinstance(body, dict) else {}, elapsed)
