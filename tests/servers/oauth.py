"""Token-endpoint requests as a client sends them, shared by the server launchers and their tests."""

from __future__ import annotations

import httpx

from tests.servers.base import RunningServer, TokenResponse

#: Every HTTP request a launcher or a test sends to a local server has this timeout (seconds).
HTTP_TIMEOUT = 10.0


def token_response(response: httpx.Response) -> TokenResponse:
    """A token endpoint's answer as a `TokenResponse`; a body that is not a JSON object reads as `{}`.

    Some servers answer a refused grant with a bare status and no body (Glewlwyd: 400, empty body), so the
    status, not the body, is what tells success from failure.
    """
    try:
        body = response.json()
    except ValueError:
        body = {}
    return TokenResponse(status=response.status_code, body=body if isinstance(body, dict) else {})


def refresh(server: RunningServer, token: str, client: httpx.Client | None = None) -> TokenResponse:
    """A `grant_type=refresh_token` request to the server's token endpoint (client_secret_post)."""
    data = {"grant_type": "refresh_token", "refresh_token": token, "client_id": server.client_id}
    if server.client_secret is not None:
        data["client_secret"] = server.client_secret
    if client is not None:
        return token_response(client.post(server.token_endpoint, data=data))
    with httpx.Client(timeout=HTTP_TIMEOUT) as fresh:
        return token_response(fresh.post(server.token_endpoint, data=data))
