"""django-oauth-toolkit 3.x as a real server: a minimal Django project (tests/servers/dot_project), SQLite,
the password grant for logins, started on 127.0.0.1 with `python -m django runserver`.

`launch(settings, clock=...)` takes the OAUTH2_PROVIDER options by their own names (ROTATE_REFRESH_TOKEN,
REFRESH_TOKEN_EXPIRE_SECONDS, REFRESH_TOKEN_GRACE_PERIOD_SECONDS, REFRESH_TOKEN_REUSE_PROTECTION,
ACCESS_TOKEN_EXPIRE_SECONDS, ...); `policy_for(settings)` is the tokensim policy that should behave the same
(the `django_oauth_toolkit` preset, see sim/policy/presets/django_oauth_toolkit.py for the sources).

The template database (migrations, `USERS` test users, the client) is built once per test process and
copied for each server, so a server starts in about a second.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from sim.policy.model import Policy
from tests.servers.base import RunningServer, TokenResponse
from tests.servers.clock import FakeTimeClock
from tests.servers.process import ROOT, free_port, running, wait_until_answers

NAME = "django-oauth-toolkit"
USERS = 2000
PASSWORD = "tokensim-pw"
CLIENT_ID = "tokensim-client"
CLIENT_SECRET = "tokensim-secret"
SETTINGS_MODULE = "tests.servers.dot_project.settings"

#: DOT's defaults (oauth2_provider/settings.py, 3.4.1).
DEFAULTS: dict[str, Any] = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": 36000,
    "REFRESH_TOKEN_EXPIRE_SECONDS": None,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "REFRESH_TOKEN_REUSE_PROTECTION": False,
    "ROTATE_REFRESH_TOKEN": True,
}

_template_lock = threading.Lock()
_template: Path | None = None


def installed() -> str | None:
    """Why the server cannot run here (None when it can)."""
    try:
        import oauth2_provider  # noqa: F401
    except ImportError:
        return "django-oauth-toolkit is not installed: run `make servers`"
    return None


def version() -> str:
    """The installed django-oauth-toolkit version."""
    import oauth2_provider

    return str(oauth2_provider.__version__)


def policy_for(settings: Mapping[str, Any]) -> Policy:
    """The tokensim policy that matches these OAUTH2_PROVIDER options.

    ROTATE_REFRESH_TOKEN -> `one_time` or `reuse`; REFRESH_TOKEN_GRACE_PERIOD_SECONDS -> `reuse_interval`
    (rotation only); REFRESH_TOKEN_REUSE_PROTECTION -> `on_reuse: revoke_family` (rotation only: without it
    no token is ever revoked by use); REFRESH_TOKEN_EXPIRE_SECONDS counts from the expiry of the refresh
    token's access token, which every refresh renews, so it is a sliding lifetime of
    ACCESS_TOKEN_EXPIRE_SECONDS + REFRESH_TOKEN_EXPIRE_SECONDS; DOT has no absolute lifetime and no cap.
    """
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"policy_for knows no DOT setting {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    merged = {**DEFAULTS, **settings}
    rotate = bool(merged["ROTATE_REFRESH_TOKEN"])
    access = float(merged["ACCESS_TOKEN_EXPIRE_SECONDS"])
    expire = merged["REFRESH_TOKEN_EXPIRE_SECONDS"]
    config: dict[str, Any] = {
        "preset": "django_oauth_toolkit",
        "refresh_token_usage": "one_time" if rotate else "reuse",
        "access_token_lifetime": access,
        "sliding_lifetime": access + float(expire) if expire else "none",
        "reuse_interval": float(merged["REFRESH_TOKEN_GRACE_PERIOD_SECONDS"]) if rotate else 0.0,
        "on_reuse": "revoke_family" if rotate and merged["REFRESH_TOKEN_REUSE_PROTECTION"] else "reject",
    }
    return Policy.from_dict(config)


class DotServer(RunningServer):
    """A running django-oauth-toolkit: logins by the password grant, revocation by RFC 7009."""

    revocation_endpoint: str = ""

    def login(self, user: str) -> TokenResponse:
        """The password grant for `user` (a new refresh-token family)."""
        return self.token_request(
            {"grant_type": "password", "username": user, "password": self.passwords[user]}
        )

    def revoke(self, token: str) -> int:
        """RFC 7009 revocation of a refresh token at /o/revoke_token/."""
        response = self.token_request(
            {"token": token, "token_type_hint": "refresh_token"}, url=self.revocation_endpoint
        )
        return response.status


def _template_db() -> Path:
    """The migrated database with the users and the client, built once per process."""
    global _template
    with _template_lock:
        if _template is None or not _template.exists():
            directory = Path(tempfile.mkdtemp(prefix="tokensim-dot-template-"))
            atexit.register(shutil.rmtree, directory, True)  # the directory this process made, only
            target = directory / "template.sqlite3"
            subprocess.run(
                [sys.executable, "-m", "tests.servers.dot_project.setup_db", str(target), str(USERS),
                 PASSWORD, CLIENT_ID, CLIENT_SECRET],
                cwd=ROOT,
                env={**_base_env(), "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE},
                check=True,
                timeout=120,
                capture_output=True,
            )
            _template = target
        return _template


def _base_env() -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if not key.startswith("FAKETIME")}


@contextlib.contextmanager
def launch(settings: Mapping[str, Any], clock: Literal["fake", "real"] = "fake") -> Iterator[DotServer]:
    """Start django-oauth-toolkit with these OAUTH2_PROVIDER options; stop it when the block ends.

    `clock="fake"` runs it under libfaketime (the test moves its clock with `server.clock.advance`);
    `clock="real"` in real time (use lifetimes of seconds).
    """
    reason = installed()
    if reason:
        raise RuntimeError(reason)
    policy_for(settings)  # refuse settings the harness cannot map before starting anything
    with tempfile.TemporaryDirectory(prefix="tokensim-dot-") as tmp:
        workdir = Path(tmp)
        db = workdir / "dot.sqlite3"
        shutil.copyfile(_template_db(), db)
        port = free_port()
        fake = FakeTimeClock(workdir) if clock == "fake" else None
        env = {
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            "TOKENSIM_DOT_SETTINGS": json.dumps(dict(settings)),
            "TOKENSIM_DOT_DB": str(db),
            "PYTHONUNBUFFERED": "1",
            **(fake.env() if fake else {}),
        }
        command = [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{port}", "--noreload"]
        log = workdir / "server.log"
        base = f"http://127.0.0.1:{port}/o/"
        with running(command, env, log) as process:
            if fake:
                fake.mark_started()
            wait_until_answers(base + "token/", process, log)
            server = DotServer(
                name=NAME,
                version=f"{NAME} {version()}",
                token_endpoint=base + "token/",
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                settings=dict(settings),
                clock=fake,
                passwords={f"user{i:04d}": PASSWORD for i in range(USERS)},
            )
            server.revocation_endpoint = base + "revoke_token/"
            yield server
