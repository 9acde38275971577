"""What the probe's HTTP client returns and raises, without loading the client (httpx) itself.

`sim.probe.http` is imported only when a plan runs, so that importing the workflow (or `sim.api`) stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


class EndpointError(Exception):
    """The token endpoint could not be reached or did not answer in time (no HTTP answer at all)."""


@dataclass(frozen=True)
class RawAnswer:
    """What the token endpoint answered: HTTP status and JSON body (`{}` when not a JSON object)."""

    status: int
    body: Mapping[str, Any] = field(default_factory=dict)
    #: Seconds between sending the request and reading the answer.
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        """A 200 with an access token (RFC 6749 s. 5.1)."""
        return self.status == 200 and "access_token" in self.body

    @property
    def error(self) -> str | None:
        """The OAuth `error` code, if the body has one."""
        value = self.body.get("error")
        return None if value is None else str(value)


def endpoint_problem(url: str) -> str | None:
    """Why `url` cannot be a token endpoint (None when it can): only absolute http(s) URLs with a host."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"not a URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return f"the token endpoint must be an http:// or https:// URL, got {url!r}"
    if not parts.hostname:
        return f"the token endpoint URL has no host: {url!r}"
    return None
