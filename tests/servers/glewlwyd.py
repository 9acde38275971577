"""Glewlwyd (Debian package `glewlwyd`, 2.7.5 on Debian 12) run for real on 127.0.0.1.

Each `launch` builds a fresh instance in a temporary directory: a SQLite database loaded with the schema the
package ships (which holds the administrator `admin`/`password`), a configuration file with a free port, and
the daemon started directly (`glewlwyd -c FILE`, nothing system-wide is read or written). Then, over the
server's own administration API, as an administrator would in its web console:

1. an OpenID Connect plugin instance named `oidc` is created with the plugin parameters in `settings`
   (Glewlwyd's own names, e.g. `{"refresh-token-duration": 30, "refresh-token-rolling": True,
   "refresh-token-one-use": "always", "access-token-duration": 10}`; anything left out keeps the plugin's
   default: 14 days, no rolling, one-use `never`, access tokens 1 hour);
2. a confidential client `tokensim` allowed the password and refresh-token grants (`settings["client"]`,
   if given, adds client properties, e.g. `{"refresh-token-one-use": "1"}` with the plugin's
   `client-driven` one-use mode);
3. test users `user1`..`userN` with random passwords.

Logins use the resource-owner password grant on the plugin's token endpoint; `revoke` is RFC 7009
revocation on the plugin's `/revoke` (client authentication, `introspection-revocation-allow-target-client`);
`logout` signs the user in to Glewlwyd and disables all of the user's refresh tokens through the plugin's
`DELETE /token/` (what the user's profile page does); `sign_out` is a plain Glewlwyd sign-out, which leaves
refresh tokens alone.

With `clock=True` the daemon runs under libfaketime and `RunningServer.clock` moves its clock.
"""

from __future__ import annotations

import contextlib
import gzip
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.servers.base import RunningServer, TokenResponse
from tests.servers.faketime import FakeTimeClock
from tests.servers.oauth import HTTP_TIMEOUT, token_response
from tests.servers.processes import Daemon, ServerStartError, free_port, wait_until_ready

NAME = "glewlwyd"
DEBIAN_PACKAGE = "glewlwyd"
#: The SQLite schema and initial data the Debian package ships (dbconfig-common copy, then the doc copy).
SCHEMA_FILES = (
    Path("/usr/share/dbconfig-common/data/glewlwyd/install/sqlite3"),
    Path("/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz"),
)
#: The modules the package installs (user, client, scheme and plugin back-ends).
MODULE_ROOT = Path("/usr/lib/glewlwyd")
#: The administrator the shipped schema creates.
ADMIN = ("admin", "password")
PLUGIN = "oidc"
CLIENT_ID = "tokensim"
SCOPE = "openid"
#: Bound on the daemon's start-up (it answers in well under a second here).
START_TIMEOUT = 30.0

#: Plugin parameters every instance needs and that have nothing to do with refresh-token policy.
_BASE_PLUGIN_PARAMETERS: dict[str, Any] = {
    "jwt-type": "sha",
    "jwt-key-size": "256",
    "code-duration": 600,
    "allow-non-oidc": True,
    "auth-type-code-enabled": True,
    "auth-type-password-enabled": True,
    "auth-type-refresh-enabled": True,
    "auth-type-client-enabled": False,
    "introspection-revocation-allowed": True,
    "introspection-revocation-allow-target-client": True,
}


def glewlwyd_binary() -> str | None:
    """The path of the `glewlwyd` daemon, or None when the package is not installed."""
    return shutil.which("glewlwyd")


def schema_file() -> Path | None:
    """The shipped SQLite schema, or None when the package is not installed."""
    return next((path for path in SCHEMA_FILES if path.is_file()), None)


def installed() -> bool:
    """True when the Debian package is installed (daemon, schema and modules)."""
    return glewlwyd_binary() is not None and schema_file() is not None and MODULE_ROOT.is_dir()


def version() -> str:
    """`Glewlwyd 2.7.5 (Debian 2.7.5-3+deb12u1)`: the daemon's own version and the package's."""
    binary = glewlwyd_binary()
    if binary is None:
        raise ServerStartError("glewlwyd is not installed: run `make servers`")
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, check=False)
    upstream = (out.stdout.strip() or out.stderr.strip()).splitlines()[-1]
    package = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", DEBIAN_PACKAGE],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout.strip()
    return f"Glewlwyd {upstream}" + (f" (Debian {package})" if package else "")


@dataclass
class GlewlwydServer(RunningServer):
    """A running Glewlwyd with its OIDC plugin, client and users.

    Glewlwyd shares one SQLite connection between its threads: with several requests at once, about one
    timeline in a hundred (8 parallel users, logins and one-use refreshes) saw a login answer 500
    (`serialize_access_token - Error executing j_query`). Send one request at a time to a server whose
    answers are being compared, or give parallel timelines a server each.
    """

    base_url: str = ""
    revocation_endpoint: str = ""
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=HTTP_TIMEOUT), repr=False)
    daemons: list[Daemon] = field(default_factory=list, repr=False)

    def logs(self, lines: int = 40) -> str:
        """The end of each daemon's log: what to print when a test against this server fails."""
        return "\n".join(f"--- {daemon.name}\n{daemon.log_tail(lines)}" for daemon in self.daemons)

    def login(self, user: str, scope: str = SCOPE) -> TokenResponse:
        """A password-grant login of `user`: a new refresh-token chain."""
        response = self.http.post(
            self.token_endpoint,
            data={
                "grant_type": "password",
                "username": user,
                "password": self.passwords[user],
                "scope": scope,
                "client_id": self.client_id,
                "client_secret": self.client_secret or "",
            },
        )
        return token_response(response)

    def revoke(self, token: str) -> int:
        """RFC 7009 revocation of a refresh token (client authenticated with HTTP Basic); the status."""
        response = self.http.post(
            self.revocation_endpoint,
            data={"token": token, "token_type_hint": "refresh_token"},
            auth=(self.client_id, self.client_secret or ""),
        )
        return response.status_code

    def logout(self, user: str) -> None:
        """Disable every refresh token of `user`, as the user does from Glewlwyd's profile page.

        This is Glewlwyd's nearest to "log out everywhere": a plain sign-out (`sign_out`) leaves refresh
        tokens working, and the OIDC end-session endpoint disables only tokens from authorization codes of
        that browser session (`disable_tokens_from_session`), never password-grant tokens.
        """
        with httpx.Client(base_url=self.base_url, timeout=HTTP_TIMEOUT) as session:
            signed_in = session.post("/api/auth/", json={"username": user, "password": self.passwords[user]})
            _expect(signed_in, f"sign-in of {user}")
            disabled = session.delete(f"/api/{PLUGIN}/token/")
            if disabled.status_code not in (200, 404):  # 404: the user had no refresh token
                _expect(disabled, f"disabling the refresh tokens of {user}")

    def sign_out(self, user: str) -> None:
        """Sign `user` in to Glewlwyd and out again (`DELETE /api/auth/`): the user's own logout."""
        with httpx.Client(base_url=self.base_url, timeout=HTTP_TIMEOUT) as session:
            signed_in = session.post("/api/auth/", json={"username": user, "password": self.passwords[user]})
            _expect(signed_in, f"sign-in of {user}")
            _expect(session.delete("/api/auth/"), f"sign-out of {user}")


@contextlib.contextmanager
def launch(
    settings: Mapping[str, Any] | None = None,
    clock: bool | None = None,
    *,
    users: int = 3,
) -> Iterator[GlewlwydServer]:
    """Start a fresh Glewlwyd on 127.0.0.1 configured with `settings`; stop it and clean up afterwards.

    `settings` are the OIDC plugin's parameters (Glewlwyd's names), plus an optional `"client"` mapping
    of client properties. `clock=True` runs the daemon under libfaketime (`RunningServer.clock`).
    `users` test users `user1`.. are created.
    """
    binary = glewlwyd_binary()
    schema = schema_file()
    if binary is None or schema is None or not MODULE_ROOT.is_dir():
        raise ServerStartError(
            "glewlwyd is not installed: run `make servers` (scripts/servers/install-debian.sh)"
        )
    plugin_settings = dict(settings or {})
    client_properties = dict(plugin_settings.pop("client", None) or {})

    workdir = Path(tempfile.mkdtemp(prefix="tokensim-glewlwyd-"))
    daemon: Daemon | None = None
    server: GlewlwydServer | None = None
    try:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        database = workdir / "glewlwyd.db"
        _load_schema(database, schema)
        config = workdir / "glewlwyd.conf"
        config.write_text(_config_text(port, base_url, database), encoding="utf-8")
        server_clock = FakeTimeClock(workdir / "faketime") if clock else None
        daemon = Daemon(
            NAME,
            [binary, "-c", str(config)],
            log_path=workdir / "glewlwyd.log",
            env=server_clock.env() if server_clock else None,
            cwd=workdir,
        )
        daemon.start()
        admin = httpx.Client(base_url=base_url, timeout=HTTP_TIMEOUT)
        try:
            wait_until_ready(
                lambda: admin.get("/api/auth/scheme/", params={"scope": "openid"}).status_code < 500,
                what=f"glewlwyd on {base_url}",
                daemons=[daemon],
                timeout=START_TIMEOUT,
            )
            client_secret, passwords = _configure(admin, base_url, plugin_settings, client_properties, users)
        finally:
            admin.close()
        server = GlewlwydServer(
            name=NAME,
            version=version(),
            token_endpoint=f"{base_url}/api/{PLUGIN}/token",
            client_id=CLIENT_ID,
            client_secret=client_secret,
            settings={**plugin_settings, **({"client": client_properties} if client_properties else {})},
            clock=server_clock,
            passwords=passwords,
            base_url=base_url,
            revocation_endpoint=f"{base_url}/api/{PLUGIN}/revoke",
            daemons=[daemon],
        )
        yield server
    finally:
        if server is not None:
            server.http.close()
        if daemon is not None:
            daemon.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _load_schema(database: Path, schema: Path) -> None:
    script = (
        gzip.decompress(schema.read_bytes()).decode("utf-8")
        if schema.suffix == ".gz"
        else schema.read_text(encoding="utf-8")
    )
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.executescript(f"BEGIN;\n{script}\nCOMMIT;")  # one transaction: one sync, not hundreds
        # readers no longer block the writer (a persistent setting of the file): fewer lock conflicts between
        # the daemon's threads when tests run timelines in parallel
        connection.execute("PRAGMA journal_mode=WAL")


def _config_text(port: int, base_url: str, database: Path) -> str:
    """Glewlwyd's configuration file (libconfig syntax): 127.0.0.1 only, logs to the console."""
    return f"""\
port={port}
bind_address="127.0.0.1"
external_url="{base_url}/"
login_url="login.html"
api_prefix="api"
allow_origin="*"
log_mode="console"
log_level="INFO"
cookie_secure=0
session_expiration=2419200
session_key="GLEWLWYD2_SESSION_ID"
admin_session_authentication="cookie"
profile_session_authentication="cookie"
allow_multiple_user_per_session=true
login_api_enabled=true
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path="{MODULE_ROOT}/user"
client_module_path="{MODULE_ROOT}/client"
user_auth_scheme_module_path="{MODULE_ROOT}/scheme"
plugin_module_path="{MODULE_ROOT}/plugin"
hash_algorithm="SHA512"
database = {{
  type = "sqlite3"
  path = "{database}"
}}
"""


def _configure(
    admin: httpx.Client,
    base_url: str,
    plugin_settings: Mapping[str, Any],
    client_properties: Mapping[str, Any],
    users: int,
) -> tuple[str, dict[str, str]]:
    """Create the plugin instance, the client and the users: the client's secret and the users' passwords."""
    signed_in = admin.post("/api/auth/", json={"username": ADMIN[0], "password": ADMIN[1]})
    _expect(signed_in, "administrator sign-in")
    parameters = {**_BASE_PLUGIN_PARAMETERS, "iss": base_url, "key": secrets.token_hex(32), **plugin_settings}
    plugin = {
        "module": "oidc",
        "name": PLUGIN,
        "display_name": "tokensim",
        "enabled": True,
        "parameters": parameters,
    }
    _expect(admin.post("/api/mod/plugin/", json=plugin), "creating the OIDC plugin instance")
    _declare_client_properties(admin, client_properties)
    secret = secrets.token_urlsafe(24)
    client = {
        "client_id": CLIENT_ID,
        "client_name": CLIENT_ID,
        "client_secret": secret,
        "confidential": True,
        "enabled": True,
        "authorization_type": ["password", "refresh_token"],
        "token_endpoint_auth_method": ["client_secret_post", "client_secret_basic"],
        **client_properties,
    }
    _expect(admin.post("/api/client/", json=client), "creating the client")
    passwords: dict[str, str] = {}
    for number in range(1, users + 1):
        name, password = f"user{number}", secrets.token_urlsafe(12)
        user = {
            "username": name,
            "password": password,
            "name": name,
            "scope": [SCOPE, "g_profile"],  # g_profile: the user's own sign-in (logout)
            "enabled": True,
        }
        _expect(admin.post("/api/user/", json=user), f"creating user {name}")
        passwords[name] = password
    return secret, passwords


def _declare_client_properties(admin: httpx.Client, properties: Mapping[str, Any]) -> None:
    """Add client properties the database back-end does not store yet to its `data-format`.

    The client back-end keeps only the properties its data format lists (the shipped one lists none of the
    plugin's `client-*-parameter` flags), so a client-driven option such as `refresh-token-one-use` needs
    its property declared first, as an administrator does in the back-end's settings (and the back-end
    reset, or it goes on dropping the property).
    """
    if not properties:
        return
    current = admin.get("/api/mod/client/database")
    _expect(current, "reading the client back-end")
    instance = current.json()
    parameters = dict(instance["parameters"])
    data_format = dict(parameters.get("data-format", {}))
    for name in properties:
        data_format.setdefault(name, {"multiple": False, "read": True, "write": True})
    parameters["data-format"] = data_format
    update = {
        "display_name": instance.get("display_name", "database"),
        "parameters": parameters,
        "order_rank": instance.get("order_rank", 0),
        "readonly": instance.get("readonly", False),
    }
    _expect(admin.put("/api/mod/client/database", json=update), "updating the client back-end")
    # the running instance keeps its old data format until it is reset
    _expect(admin.put("/api/mod/client/database/reset"), "resetting the client back-end")


def _expect(response: httpx.Response, what: str) -> None:
    if response.status_code != 200:
        raise ServerStartError(f"glewlwyd: {what} answered {response.status_code}: {response.text[:500]}")
