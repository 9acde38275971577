"""node oidc-provider 9.x as a real server: tests/servers/oidc_provider/server.mjs on 127.0.0.1.

`launch(settings, clock=...)` takes the provider's own configuration names as JSON:
`{"rotateRefreshToken": true | false | "default", "ttl": {"RefreshToken": s, "Grant": s, "AccessToken": s}}`
(missing entries keep the library's defaults). Logins run the real authorization-code flow over HTTP: the
authorization endpoint, the script's interaction endpoint (which finishes the login and the consent through
the provider's API) and the code exchange at the token endpoint, each login in a fresh cookie jar (a new
browser: a new session and a new grant). `policy_for(settings)` is the matching tokensim policy (the
`node_oidc_provider` preset; sources in sim/policy/presets/node_oidc_provider.py).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

from sim.policy.model import Policy
from tests.servers.base import REQUEST_TIMEOUT, RunningServer, TokenResponse
from tests.servers.clock import FakeTimeClock
from tests.servers.process import ROOT, free_port, running, wait_until_answers

NAME = "oidc-provider"
DIRECTORY = ROOT / "tests" / "servers" / "oidc_provider"
CLIENT_ID = "tokensim-client"
CLIENT_SECRET = "tokensim-secret"
REDIRECT_URI = "http://127.0.0.1/callback"
USERS = 10000
#: oidc-provider's TTL defaults in seconds (lib/helpers/defaults.js, 9.13.3).
TTL_DEFAULTS = {"AccessToken": 3600, "RefreshToken": 14 * 86400, "Grant": 14 * 86400}
_KNOWN = {"rotateRefreshToken", "ttl"}


def installed() -> str | None:
    """Why the server cannot run here (None when it can)."""
    if shutil.which("node") is None:
        return "node is not installed (oidc-provider needs Node.js >= 20.19)"
    if not (DIRECTORY / "node_modules" / "oidc-provider" / "package.json").exists():
        return "oidc-provider is not installed: run `make servers`"
    return None


def version() -> str:
    """The installed oidc-provider version."""
    package = DIRECTORY / "node_modules" / "oidc-provider" / "package.json"
    return str(json.loads(package.read_text(encoding="utf-8"))["version"])


def policy_for(settings: Mapping[str, Any]) -> Policy:
    """The tokensim policy that matches this oidc-provider configuration.

    `rotateRefreshToken: true` -> `one_time` with `sliding_lifetime` = ttl.RefreshToken (each rotated token
    gets a full TTL from its issue) and `absolute_lifetime` = ttl.Grant (the grant expires that long after
    the authorization and is never renewed); `false` -> `reuse` with `absolute_lifetime` = the smaller of
    the two TTLs. The library's default rotation function (`"default"`, or no setting), for the confidential
    client of these tests, rotates a token only once 70 % of its TTL has passed: it is approximated by
    `reuse` with the smaller TTL as the absolute lifetime (exact until that 70 % point; the grant's TTL,
    14 days by default as the token's, ends the chain anyway). A replay of a consumed token revokes the
    grant (`on_reuse: revoke_family`); there is no grace period and no cap.
    """
    unknown = set(settings) - _KNOWN
    if unknown:
        raise ValueError(
            f"policy_for knows no oidc-provider setting {sorted(unknown)}; known: {sorted(_KNOWN)}"
        )
    ttl = {**TTL_DEFAULTS, **dict(settings.get("ttl", {}))}
    rotate = settings.get("rotateRefreshToken", "default")
    refresh, grant = float(ttl["RefreshToken"]), float(ttl["Grant"])
    config: dict[str, Any] = {
        "preset": "node_oidc_provider",
        "access_token_lifetime": float(ttl["AccessToken"]),
    }
    if rotate is not True:
        config.update(
            refresh_token_usage="reuse", absolute_lifetime=min(refresh, grant), sliding_lifetime="none"
        )
    else:
        config.update(refresh_token_usage="one_time", absolute_lifetime=grant, sliding_lifetime=refresh)
    return Policy.from_dict(config)


class OidcProviderServer(RunningServer):
    """A running oidc-provider: logins through the authorization-code flow, RFC 7009 revocation."""

    issuer: str = ""

    def login(self, user: str) -> TokenResponse:
        """A fresh authorization of `user` (new browser, new session, new grant) and its code exchange."""
        import httpx

        query = {
            "client_id": self.client_id,
            "response_type": "code",
            "scope": "openid offline_access",
            "prompt": "consent",
            "redirect_uri": REDIRECT_URI,
            "login_hint": user,
            "state": "tokensim",
        }
        url = f"{self.issuer}/auth?{urlencode(query)}"
        with httpx.Client(follow_redirects=False, timeout=REQUEST_TIMEOUT) as browser:
            for _ in range(12):  # auth -> login -> auth -> consent -> auth -> callback: bounded
                response = browser.get(url)
                location = response.headers.get("location")
                if response.status_code not in (302, 303) or location is None:
                    return TokenResponse(
                        status=response.status_code,
                        body={"error": "login_failed",
                              "error_description": f"GET {urlparse(url).path}: {response.text[:300]}"},
                    )
                if location.startswith(REDIRECT_URI):
                    params = parse_qs(urlparse(location).query)
                    if "code" not in params:
                        return TokenResponse(status=400, body={k: v[0] for k, v in params.items()})
                    return self.token_request(
                        {"grant_type": "authorization_code", "code": params["code"][0],
                         "redirect_uri": REDIRECT_URI}
                    )
                url = urljoin(url, location)
        return TokenResponse(
            status=400, body={"error": "login_failed", "error_description": "too many redirects"}
        )

    def revoke(self, token: str) -> int:
        """RFC 7009 revocation at /token/revocation (oidc-provider revokes the token's whole grant)."""
        response = self.token_request(
            {"token": token, "token_type_hint": "refresh_token"}, url=f"{self.issuer}/token/revocation"
        )
        return response.status


@contextlib.contextmanager
def launch(
    settings: Mapping[str, Any], clock: Literal["fake", "real"] = "fake"
) -> Iterator[OidcProviderServer]:
    """Start oidc-provider with this configuration; stop it when the block ends.

    `clock="fake"` runs node under libfaketime (the test moves its clock with `server.clock.advance`);
    `clock="real"` in real time (use TTLs of seconds).
    """
    reason = installed()
    if reason:
        raise RuntimeError(reason)
    policy_for(settings)
    with tempfile.TemporaryDirectory(prefix="tokensim-oidc-provider-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        fake = FakeTimeClock(workdir) if clock == "fake" else None
        env = {"NODE_ENV": "production", **(fake.env() if fake else {})}
        log = workdir / "server.log"
        command = ["node", str(DIRECTORY / "server.mjs"), str(port), json.dumps(dict(settings))]
        issuer = f"http://127.0.0.1:{port}"
        with running(command, env, log, cwd=DIRECTORY) as process:
            if fake:
                fake.mark_started()
            wait_until_answers(f"{issuer}/.well-known/openid-configuration", process, log)
            server = OidcProviderServer(
                name=NAME,
                version=f"{NAME} {version()}",
                token_endpoint=f"{issuer}/token",
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                settings=dict(settings),
                clock=fake,
                passwords={f"user{i:04d}": "" for i in range(USERS)},
            )
            server.issuer = issuer
            yield server
