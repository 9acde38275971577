"""What every real authorization server used by the tests offers (conformance and `tokensim probe` tests).

Each server has a module in this package (`tests/servers/<name>.py`) with a `launch(settings, clock=...)`
context manager that installs nothing (the project's scripts install it: `make servers`), configures the
server with `settings` (the server's own option names, e.g. django-oauth-toolkit's
`{"ROTATE_REFRESH_TOKEN": True, "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 5}`), starts it on 127.0.0.1 on a
free port, waits (bounded) until it answers, yields a `RunningServer`, and stops it afterwards, whatever
happens. Every request goes to 127.0.0.1 and has a timeout.

Refreshes are sent by the test to `token_endpoint` over HTTP (`grant_type=refresh_token`), exactly as a
client would; only the login, which differs from server to server (password grant, an interaction flow,
a server-side helper), is behind `login`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

#: Seconds any single HTTP request to a test server may take.
REQUEST_TIMEOUT = 15.0


@dataclass(frozen=True)
class TokenResponse:
    """The JSON a token endpoint answered, with its HTTP status (an OAuth error is a response too)."""

    status: int
    body: Mapping[str, Any]

    @property
    def ok(self) -> bool:
        """True for a 200 with an access token."""
        return self.status == 200 and "access_token" in self.body

    @property
    def error(self) -> str | None:
        """The OAuth `error` code (`invalid_grant`, ...), or None."""
        value = self.body.get("error")
        return None if value is None else str(value)

    @property
    def refresh_token(self) -> str | None:
        """The refresh token in the answer, if any."""
        value = self.body.get("refresh_token")
        return None if value is None else str(value)


class ServerClock(Protocol):
    """The server's clock, when the test controls it (libfaketime); None on a server in real time."""

    def advance(self, seconds: float) -> None:
        """Move the server's clock forward by `seconds` (the test's own waits are not needed)."""

    def now(self) -> float:
        """Seconds since the server started, as the server sees them."""


@dataclass
class RunningServer:
    """A started server: where to send token requests and how to log a user in."""

    name: str
    #: The server's own version string (e.g. "django-oauth-toolkit 3.4.1").
    version: str
    token_endpoint: str
    client_id: str
    client_secret: str | None
    #: The server-native settings it was started with.
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: None when the server runs in real time.
    clock: ServerClock | None = None
    #: Test users that can log in (each with its password in `passwords`).
    passwords: Mapping[str, str] = field(default_factory=dict)
    #: How the client authenticates at the token endpoint: `client_secret_post` (id and secret in the
    #: form body) or `client_secret_basic` (HTTP Basic).
    client_auth: Literal["client_secret_post", "client_secret_basic"] = "client_secret_post"

    def refresh(self, refresh_token: str) -> TokenResponse:
        """`grant_type=refresh_token` at `token_endpoint`, exactly as a client sends it (RFC 6749 s. 6)."""
        return self.token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def token_request(self, form: Mapping[str, str], url: str | None = None) -> TokenResponse:
        """POST a form to the token endpoint (or `url`) with the client's credentials; the JSON answer."""
        import httpx  # the test dependency is imported only where a server is used

        data = dict(form)
        auth = None
        if self.client_auth == "client_secret_basic" and self.client_secret is not None:
            auth = (self.client_id, self.client_secret)
        else:
            data["client_id"] = self.client_id
            if self.client_secret is not None:
                data["client_secret"] = self.client_secret
        response = httpx.post(url or self.token_endpoint, data=data, auth=auth, timeout=REQUEST_TIMEOUT)
        try:
            body = response.json()
        except ValueError:
            body = {"error": "non_json_response", "error_description": response.text[:200]}
        if not isinstance(body, dict):
            body = {"error": "non_json_response", "error_description": str(body)[:200]}
        return TokenResponse(status=response.status_code, body=body)

    def login(self, user: str) -> TokenResponse:  # pragma: no cover - each server module overrides it
        """A fresh login of `user`: the token response of a new authorization (a new refresh-token chain)."""
        raise NotImplementedError

    def revoke(self, token: str) -> int:  # pragma: no cover - optional per server
        """Revoke a refresh token (RFC 7009) when the server supports it; the HTTP status."""
        raise NotImplementedError

    def logout(self, user: str) -> None:  # pragma: no cover - optional per server
        """End the user's sessions on the server (what a logout or a password change does), if supported."""
        raise NotImplementedError
