"""LemonLDAP::NG (Debian package `lemonldap-ng`, 2.16.1 on Debian 12) run for real on 127.0.0.1.

Each `launch` builds a fresh instance in a temporary directory under /tmp:

- `lemonldap-ng.ini` (read through `LLNG_DEFAULTCONFFILE`) pointing at a `File` configuration backend in
  the directory, whose `lmConf-1.json` is written here: the "Demo" authentication and user backend, session
  files (`Apache::Session::File`) in the directory, the OpenID Connect issuer on, an RSA signing key made for
  this instance, and one relying party `tokensim` (confidential, consent bypassed, password grant,
  refresh tokens and offline access allowed);
- the package's FastCGI server `llng-fastcgi-server` (the portal as a PSGI app, 2 worker processes) on a
  UNIX socket in the directory, and nginx in front of it on a free port, configured as the package's
  `portal-nginx.conf` does, with its pid, logs and temporary files in the directory. Nothing system-wide is
  read or written (no /etc/lemonldap-ng, /var/lib/lemonldap-ng or /etc/nginx changes).

As root, llng-fastcgi-server (which refuses to run as root) and nginx's workers run as `nobody`.

`settings` are LemonLDAP::NG's own configuration keys: a key starting with `oidcRPMetaDataOptions` sets that
option of the relying party (e.g. `oidcRPMetaDataOptionsOfflineSessionExpiration: 60`), any other key is a
global one (e.g. `timeout: 30` for the SSO session, `timeoutActivity`, `singleSession`,
`oidcServiceOfflineSessionExpiration`). LemonLDAP::NG 2.16 has no refresh-token rotation and no revocation
endpoint (see docs/servers-debian.md).

Logins: the resource-owner password grant (an *online* refresh token, tied to the SSO session the grant
opens), or with `offline=True` the authorization-code flow through the portal's login form with the
`offline_access` scope (an *offline* refresh token, which outlives the SSO session). `logout` finds the
user's SSO sessions with the package's session tool (`lemonldap-ng-sessions search`) and logs each out
through the portal (`/?logout=1`), as the user would in each browser. (Deleting them with
`lemonldap-ng-sessions delete` instead is not seen by the portal for up to 10 minutes: the tool bypasses the
portal's local session cache, `localSessionStorage`, whose entries live 600 s.)

Test users `user1`..`userN` are added to the Demo backend (whose password check is "password equals login")
through the FastCGI server's custom-functions file; the Demo backend's own `dwho`, `rtyler` and `msmith` stay.
"""

from __future__ import annotations

import contextlib
import grp
import html.parser
import json
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from tests.servers.base import RunningServer, TokenResponse
from tests.servers.faketime import FakeTimeClock
from tests.servers.oauth import HTTP_TIMEOUT, token_response
from tests.servers.processes import Daemon, ServerStartError, failure_report, free_port, wait_until_ready

NAME = "lemonldap-ng"
DEBIAN_PACKAGE = "liblemonldap-ng-portal-perl"
FASTCGI_SERVER = Path("/usr/sbin/llng-fastcgi-server")
SESSIONS_TOOL = Path("/usr/share/lemonldap-ng/bin/lemonldap-ng-sessions")
PORTAL_ROOT = Path("/usr/share/lemonldap-ng/portal")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"  # /usr/sbin may be off a user's PATH
RP = "tokensim"
CLIENT_ID = "tokensim"
REDIRECT_URI = "http://127.0.0.1/tokensim-callback"  # never opened: the flow stops at the redirect
COOKIE = "lemonldap"
#: Bound on start-up: the FastCGI server compiles the portal on its first request (a few seconds).
START_TIMEOUT = 60.0
#: Bound on the redirects of one portal login.
MAX_REDIRECTS = 8
#: The unprivileged account the daemons run as when the tests run as root.
UNPRIVILEGED = ("nobody", "nogroup")

#: What the relying party needs to be usable by the tests; `settings` override any of it. The signing
#: algorithms are the defaults the Manager writes for a new relying party (Manager/Build/Attributes.pm): the
#: portal itself has no default for them and cannot sign an ID token without one.
_RP_DEFAULTS: dict[str, Any] = {
    "oidcRPMetaDataOptionsClientID": CLIENT_ID,
    "oidcRPMetaDataOptionsIDTokenSignAlg": "HS512",
    "oidcRPMetaDataOptionsAccessTokenSignAlg": "RS256",
    "oidcRPMetaDataOptionsRedirectUris": REDIRECT_URI,
    "oidcRPMetaDataOptionsBypassConsent": 1,
    "oidcRPMetaDataOptionsAllowPasswordGrant": 1,
    "oidcRPMetaDataOptionsRefreshToken": 1,
    "oidcRPMetaDataOptionsAllowOffline": 1,
}
_RP_PREFIX = "oidcRPMetaDataOptions"
#: The portal's default login-form lifetime (Common/Conf/DefaultValues.pm `formTimeout`).
_DEFAULT_FORM_TIMEOUT = 120


def installed() -> bool:
    """True when the Debian packages are installed (portal, FastCGI server, nginx)."""
    return (
        FASTCGI_SERVER.is_file()
        and (PORTAL_ROOT / "htdocs" / "index.psgi").is_file()
        and Path(NGINX).is_file()
    )


def version() -> str:
    """`LemonLDAP::NG 2.16.1 (Debian 2.16.1+ds-deb12u10)`."""
    upstream = subprocess.run(
        ["perl", "-MLemonldap::NG::Portal", "-e", "print $Lemonldap::NG::Portal::VERSION"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    ).stdout.strip()
    package = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", DEBIAN_PACKAGE],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout.strip()
    return f"LemonLDAP::NG {upstream or '?'}" + (f" (Debian {package})" if package else "")


@dataclass
class LemonLDAPServer(RunningServer):
    """A running LemonLDAP::NG portal with its OpenID Connect relying party and Demo users."""

    base_url: str = ""
    #: True: `login` uses the authorization-code flow with `offline_access` (offline refresh tokens).
    offline: bool = False
    #: Where `login` sends the authorization request.
    authorization_endpoint: str = ""
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=HTTP_TIMEOUT), repr=False)
    daemons: list[Daemon] = field(default_factory=list, repr=False)
    _sessions_command: tuple[str, ...] = ()
    _sessions_env: Mapping[str, str] = field(default_factory=dict, repr=False)

    def logs(self, lines: int = 40) -> str:
        """The end of each daemon's log: what to print when a test against this server fails."""
        return "\n".join(f"--- {daemon.name}\n{daemon.log_tail(lines)}" for daemon in self.daemons)

    def login(self, user: str) -> TokenResponse:
        """A fresh login of `user`: offline (code flow) when the server was launched with `offline=True`."""
        if self.offline:
            return self.login_with_code(user, offline=True)
        return self.login_with_password(user)

    def login_with_password(self, user: str, scope: str = "openid") -> TokenResponse:
        """The password grant: a refresh token tied to the new SSO session (online)."""
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

    def login_with_code(self, user: str, *, offline: bool) -> TokenResponse:
        """The authorization-code flow through the portal's login form (`offline_access` when `offline`)."""
        scope = "openid offline_access" if offline else "openid"
        code = self._authorize(user, scope)
        response = self.http.post(
            self.token_endpoint,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "client_id": self.client_id,
                "client_secret": self.client_secret or "",
            },
        )
        return token_response(response)

    def logout(self, user: str) -> None:
        """Log `user` out of every SSO session, through the portal (`GET /?logout=1` with each session's
        cookie), as the user would from each browser. Online refresh tokens die with their SSO session;
        offline ones are not SSO sessions and stay."""
        for session_id in self.sso_sessions(user):
            cookie = {"Cookie": f"{COOKIE}={session_id}"}
            response = self.http.get(f"{self.base_url}/", params={"logout": "1"}, headers=cookie)
            if response.status_code != 200:
                raise RuntimeError(f"logout of session {session_id} answered {response.status_code}")

    def sso_sessions(self, user: str) -> list[str]:
        """The ids of `user`'s SSO sessions (the package's tool: `lemonldap-ng-sessions search`)."""
        result = subprocess.run(
            [
                *self._sessions_command,
                "search",
                "--where", f"uid={user}",
                "--select", "_session_id",
                "--select", "_session_kind",
                "--select", "_type",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **self._sessions_env},
            check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"lemonldap-ng-sessions search failed: {result.stderr.strip()[-500:]}")
        found = json.loads(result.stdout or "[]")
        # the user's OpenID Connect sessions (offline refresh tokens) carry the user's attributes too
        return [s["_session_id"] for s in found if s.get("_session_kind") == "SSO" and not s.get("_type")]

    def _authorize(self, user: str, scope: str) -> str:
        """Drive the portal's login form; the authorization code from the final redirect."""
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": scope,
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
        }
        with httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False) as browser:
            page = browser.get(self.authorization_endpoint, params=params)
            form = _LoginForm.parse(page.text)
            if page.status_code != 200 or form.action is None:
                raise RuntimeError(f"no login form at the authorization endpoint ({page.status_code})")
            fields = {**form.hidden, "user": user, "password": self.passwords[user]}
            response = browser.post(urljoin(str(page.url), form.action), data=fields)
            cookie = _session_cookie(response)
            for _ in range(MAX_REDIRECTS):
                location = response.headers.get("location")
                if response.status_code not in (301, 302, 303, 307) or not location:
                    break
                target = urljoin(str(response.url), location)
                if target.startswith(REDIRECT_URI):
                    query = parse_qs(urlsplit(target).query)
                    if "code" not in query:
                        raise RuntimeError(f"authorization refused: {query}")
                    return query["code"][0]
                response = browser.get(target, headers={"Cookie": f"{COOKIE}={cookie}"} if cookie else None)
                cookie = _session_cookie(response) or cookie
            raise RuntimeError(
                f"the portal login of {user} did not end at the redirect URI "
                f"(last answer {response.status_code}: {response.text[:300]})"
            )


@contextlib.contextmanager
def launch(
    settings: Mapping[str, Any] | None = None,
    clock: bool | None = None,
    *,
    offline: bool = False,
    users: int = 3,
) -> Iterator[LemonLDAPServer]:
    """Start a fresh LemonLDAP::NG portal on 127.0.0.1 configured with `settings`; stop and clean up after.

    `clock=True` runs the FastCGI server (where tokens are issued and checked) under libfaketime.
    `offline=True` makes `login` an offline (`offline_access`) login. `users` test users `user1`.. are added.
    """
    if not installed():
        raise ServerStartError(
            "lemonldap-ng is not installed: run `make servers` (scripts/servers/install-debian.sh)"
        )
    settings = dict(settings or {})
    rp_options = {**_RP_DEFAULTS, **{k: v for k, v in settings.items() if k.startswith(_RP_PREFIX)}}
    global_options = {k: v for k, v in settings.items() if not k.startswith(_RP_PREFIX)}
    global_options.update(_form_timeout(global_options))

    workdir = Path(tempfile.mkdtemp(prefix="tokensim-llng-"))
    daemons: list[Daemon] = []
    server: LemonLDAPServer | None = None
    try:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        client_secret = secrets.token_urlsafe(24)
        names = [f"user{number}" for number in range(1, users + 1)]
        paths = _Paths(workdir)
        paths.create()
        ini = paths.write_ini()
        rp_options["oidcRPMetaDataOptionsClientSecret"] = client_secret
        config = _configuration(base_url, paths, rp_options)
        config.update(global_options)
        (paths.conf / "lmConf-1.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
        users_file = paths.write_demo_users(names)
        server_clock = FakeTimeClock(workdir / "faketime") if clock else None
        as_root = os.geteuid() == 0
        if as_root:
            paths.hand_over(*UNPRIVILEGED)
        llng_env = {
            "LLNG_DEFAULTCONFFILE": str(ini),
            "LLNG_DEFAULTLOGGER": "Lemonldap::NG::Common::Logger::Std",
        }
        fastcgi = Daemon(
            "llng-fastcgi-server",
            [
                str(FASTCGI_SERVER),
                "--foreground",
                "--socket", str(paths.socket),
                "--pid", str(workdir / "llng-fastcgi.pid"),
                "--proc", "2",
                "--customFunctionsFile", str(users_file),
                *(["--user", UNPRIVILEGED[0], "--group", UNPRIVILEGED[1]] if as_root else []),
            ],
            log_path=workdir / "llng-fastcgi.log",
            env={**llng_env, **(server_clock.env() if server_clock else {})},
            cwd=workdir,
        )  # fmt: skip
        daemons.append(fastcgi)
        fastcgi.start()
        nginx_conf = paths.write_nginx_conf(port, user=UNPRIVILEGED if as_root else None)
        front = Daemon(
            "nginx",
            [NGINX, "-e", str(workdir / "nginx-error.log"), "-p", str(workdir), "-c", str(nginx_conf)],
            log_path=workdir / "nginx.log",
            cwd=workdir,
        )
        daemons.append(front)
        front.start()
        discovery = f"{base_url}/.well-known/openid-configuration"
        with httpx.Client(timeout=HTTP_TIMEOUT) as probe:
            wait_until_ready(
                lambda: _portal_answers(probe, discovery, daemons),
                what=f"LemonLDAP::NG portal on {base_url}",
                daemons=daemons,
                timeout=START_TIMEOUT,
            )
            metadata = probe.get(discovery).json()
        server = LemonLDAPServer(
            name=NAME,
            version=version(),
            token_endpoint=metadata["token_endpoint"],
            client_id=CLIENT_ID,
            client_secret=client_secret,
            settings=settings,
            clock=server_clock,
            passwords={name: name for name in names},
            base_url=base_url,
            offline=offline,
            authorization_endpoint=metadata["authorization_endpoint"],
            _sessions_command=(
                str(SESSIONS_TOOL),
                *(("--user", UNPRIVILEGED[0], "--group", UNPRIVILEGED[1]) if as_root else ()),
            ),
            _sessions_env={**llng_env, **(server_clock.env() if server_clock else {})},
            daemons=list(daemons),
        )
        yield server
    finally:
        if server is not None:
            server.http.close()
        for daemon in reversed(daemons):
            daemon.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _form_timeout(global_options: Mapping[str, Any]) -> dict[str, int]:
    """`formTimeout` no longer than the SSO `timeout`, unless the settings name it.

    LemonLDAP::NG 2.16 names a login-form token `<time + formTimeout - timeout>_<random>` and refuses the
    form when that prefix is in the future (Lib/OneTimeToken.pm, getToken: `if ( $t[0] > time )`), so with
    an SSO timeout shorter than the form timeout (default 120 s) no one can log in through the portal.
    """
    timeout = global_options.get("timeout")
    if timeout is None or "formTimeout" in global_options or int(timeout) >= _DEFAULT_FORM_TIMEOUT:
        return {}
    return {"formTimeout": int(timeout)}


def _portal_answers(client: httpx.Client, url: str, daemons: list[Daemon]) -> bool:
    response = client.get(url)
    if response.status_code == 200:
        return True
    if response.status_code == 502:  # nginx is up, the FastCGI socket not yet
        return False
    # 500 "Initialization failed": a configuration the portal rejects, or a Perl module missing (the
    # install script adds the Recommends the OpenID Connect portal needs); the FastCGI log says which
    headline = f"LemonLDAP::NG answered {response.status_code} at {url} (is `make servers-debian` complete?)"
    raise ServerStartError(failure_report(headline, daemons))


def _configuration(base_url: str, paths: _Paths, rp_options: Mapping[str, Any]) -> dict[str, Any]:
    """The `lmConf-1.json` of a test instance (before `settings`' global keys are applied)."""
    private_key, public_key = _rsa_key_pair()

    def storage(directory: Path) -> dict[str, str]:
        return {"Directory": str(directory), "LockDirectory": str(directory / "lock")}

    return {
        "cfgNum": 1,
        "cfgAuthor": "tokensim tests",
        "cfgDate": str(int(time.time())),
        "portal": f"{base_url}/",
        "domain": "127.0.0.1",
        "cookieName": COOKIE,
        "securedCookie": 0,
        "authentication": "Demo",
        "userDB": "Same",
        "passwordDB": "Demo",
        "registerDB": "Null",
        "demoExportedVars": {"cn": "cn", "mail": "mail", "uid": "uid"},
        "globalStorage": "Apache::Session::File",
        "globalStorageOptions": storage(paths.sessions),
        "persistentStorage": "Apache::Session::File",
        "persistentStorageOptions": storage(paths.persistent),
        "localSessionStorage": "Cache::FileCache",
        "localSessionStorageOptions": {
            "namespace": "lemonldap-ng-sessions",
            "default_expires_in": 600,
            "directory_umask": "007",
            "cache_root": str(paths.cache),
            "cache_depth": 3,
        },
        "locationRules": {"127.0.0.1": {"default": "accept"}},
        "issuerDBOpenIDConnectActivation": 1,
        "oidcServiceMetaDataIssuer": base_url,
        "oidcServicePrivateKeySig": private_key,
        "oidcServicePublicKeySig": public_key,
        "oidcServiceKeyIdSig": secrets.token_hex(8),
        "oidcRPMetaDataOptions": {RP: dict(rp_options)},
        "oidcRPMetaDataExportedVars": {RP: {"email": "mail", "name": "cn", "preferred_username": "uid"}},
    }


def _rsa_key_pair() -> tuple[str, str]:
    """A 2048-bit RSA key pair (PEM) made with the Perl module LemonLDAP::NG itself depends on."""
    script = (
        "use Crypt::OpenSSL::RSA; my $k = Crypt::OpenSSL::RSA->generate_key(2048); "
        "print $k->get_private_key_string, $k->get_public_key_x509_string;"
    )
    made = subprocess.run(["perl", "-e", script], capture_output=True, text=True, timeout=60, check=True)
    out = made.stdout
    marker = "-----BEGIN PUBLIC KEY-----"
    private, public = out.split(marker)
    return private.strip(), (marker + public).strip()


def _session_cookie(response: httpx.Response) -> str | None:
    """The portal's SSO cookie from `Set-Cookie` (read by hand: a cookie for domain 127.0.0.1 is one
    Python's cookie jar refuses, as it does any domain cookie for an IP address)."""
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() == COOKIE:
            value = rest.split(";", 1)[0].strip()
            return value if value and value != "0" else None
    return None


class _LoginForm(html.parser.HTMLParser):
    """The portal's login form: its action and hidden fields (the return URL, the anti-CSRF token)."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.hidden: dict[str, str] = {}
        self._in_form = False

    @classmethod
    def parse(cls, text: str) -> _LoginForm:
        parser = cls()
        parser.feed(text)
        return parser

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form" and self.action is None and values.get("method", "").lower() == "post":
            self.action = values.get("action") or ""
            self._in_form = True
        elif tag == "input" and self._in_form and values.get("type") == "hidden" and values.get("name"):
            self.hidden[values["name"]] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


class _Paths:
    """The instance's files and directories in its temporary directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "conf"
        self.sessions = root / "sessions"
        self.persistent = root / "persistent-sessions"
        self.cache = root / "cache"
        self.nginx_tmp = root / "nginx-tmp"
        self.socket = root / "llng-fastcgi.sock"

    def create(self) -> None:
        self.root.chmod(0o755)  # nginx's workers and the FastCGI server may run as another user
        for directory in (self.conf, self.sessions, self.persistent, self.cache, self.nginx_tmp):
            directory.mkdir(parents=True, exist_ok=True)
        for directory in (self.sessions, self.persistent):
            (directory / "lock").mkdir(exist_ok=True)

    def write_ini(self) -> Path:
        ini = self.root / "lemonldap-ng.ini"
        ini.write_text(
            "[all]\n"
            "logLevel = info\n"
            "logger = Lemonldap::NG::Common::Logger::Std\n"
            "userLogger = Lemonldap::NG::Common::Logger::Std\n"
            "checkTime = 1\n"
            "[configuration]\n"
            "type = File\n"
            f"dirName = {self.conf}\n"
            "[portal]\n"
            "staticPrefix = /static\n"
            f"templateDir = {PORTAL_ROOT}/templates\n"
            "languages = en\n"
            "[handler]\n"
            "status = 0\n",
            encoding="utf-8",
        )
        return ini

    def write_demo_users(self, names: list[str]) -> Path:
        """A custom-functions file that adds `names` to the Demo backend's accounts (Perl)."""
        lines = ["use Lemonldap::NG::Portal::UserDB::Demo;"]
        for name in names:
            lines.append(
                f"$Lemonldap::NG::Portal::UserDB::Demo::demoAccounts{{'{name}'}} = "
                f"{{ uid => '{name}', cn => 'Test user {name}', mail => '{name}@tokensim.test' }};"
            )
        lines.append("1;")
        path = self.root / "demo-users.pl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def write_nginx_conf(self, port: int, user: tuple[str, str] | None) -> Path:
        """nginx in front of the FastCGI socket, as the package's /etc/lemonldap-ng/portal-nginx.conf."""
        conf = self.root / "nginx.conf"
        temp = self.nginx_tmp
        conf.write_text(
            f"""\
{f"user {user[0]} {user[1]};" if user else ""}
worker_processes 1;
daemon off;
pid {self.root}/nginx.pid;
error_log {self.root}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log {self.root}/nginx-access.log;
  client_body_temp_path {temp}/body;
  fastcgi_temp_path {temp}/fastcgi;
  proxy_temp_path {temp}/proxy;
  uwsgi_temp_path {temp}/uwsgi;
  scgi_temp_path {temp}/scgi;
  include /etc/nginx/mime.types;
  server {{
    listen 127.0.0.1:{port};
    server_name 127.0.0.1;
    root {PORTAL_ROOT}/htdocs/;
    if ($uri !~ ^/((static|javascript|favicon).*|.*\\.psgi)) {{
      rewrite ^/(.*)$ /index.psgi/$1 break;
    }}
    location ~ ^(?<sc>/.*\\.psgi)(?:$|/) {{
      include /etc/nginx/fastcgi_params;
      fastcgi_pass unix:{self.socket};
      fastcgi_param HTTP_HOST $host;
      fastcgi_param LLTYPE psgi;
      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
      fastcgi_split_path_info ^(.*\\.psgi)(/.*)$;
      fastcgi_param PATH_INFO $fastcgi_path_info;
    }}
    location /static/ {{ alias {PORTAL_ROOT}/htdocs/static/; }}
  }}
}}
""",
            encoding="utf-8",
        )
        return conf

    def hand_over(self, user: str, group: str) -> None:
        """Give the instance's files to the unprivileged account the daemons run as."""
        try:
            uid, gid = pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid
        except KeyError as missing:
            raise ServerStartError(f"no account {missing} to run LemonLDAP::NG as") from None
        for path in [self.root, *self.root.rglob("*")]:
            os.chown(path, uid, gid, follow_symlinks=False)
