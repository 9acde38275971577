"""How the probe logs the test account in: each login starts a new refresh-token chain.

- `password:USER:PASSWORD`: the resource-owner password grant (RFC 6749 s. 4.3) at the probed token
  endpoint (`PasswordLogin`). The password may contain colons: everything after the second colon is it.
- `--login-command CMD`: any login flow, scripted by the user (`CommandLogin`): the command is run without a
  shell (split like a POSIX shell would, `shlex`), and must print on its standard output a token response,
  a JSON object with at least `refresh_token` (and, when it has them, `access_token`, `expires_in`,
  `refresh_expires_in`, as the token endpoint answered). A non-zero exit status or no `refresh_token` is a
  refused login.
- `CallableLogin`: a Python function that returns such a token response (for notebooks and tests).

No source ever writes the password or a token into the evidence: `describe()` names the source only.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sim.probe.http import TokenEndpoint

#: Seconds a login command may run.
COMMAND_TIMEOUT = 120.0


@dataclass(frozen=True)
class LoginAnswer:
    """The answer to one login: the token response when it worked, why not otherwise."""

    ok: bool
    body: Mapping[str, Any] = field(default_factory=dict)
    #: The HTTP status (password grant) or the command's exit status.
    status: int | None = None
    #: Why the login failed (the OAuth error, or the command's complaint).
    reason: str | None = None


class LoginSource(Protocol):
    """Something that can log the test account in again and again."""

    def describe(self) -> str:
        """What it is, without any secret (for the evidence and the report)."""
        ...

    def login(self, endpoint: TokenEndpoint) -> LoginAnswer:
        """A fresh login: a new refresh-token chain, or the reason it was refused."""
        ...


@dataclass(frozen=True)
class PasswordLogin:
    """The password grant at the probed endpoint."""

    username: str
    password: str = field(repr=False)
    #: One request: the token is issued in its middle (a login flow issues it at its end).
    single_request = True

    def describe(self) -> str:
        """`password grant as USER`."""
        return f"password grant as {self.username}"

    def login(self, endpoint: TokenEndpoint) -> LoginAnswer:
        """POST `grant_type=password`."""
        answer = endpoint.password_grant(self.username, self.password)
        if answer.ok and answer.body.get("refresh_token"):
            return LoginAnswer(True, answer.body, answer.status)
        if answer.ok:
            return LoginAnswer(
                False,
                answer.body,
                answer.status,
                "the password grant answered without a refresh_token (is the client allowed "
                "refresh tokens, or does the server need a scope such as offline_access?)",
            )
        description = answer.body.get("error_description")
        reason = f"HTTP {answer.status}" + (f" {answer.error}" if answer.error else "")
        return LoginAnswer(
            False, answer.body, answer.status, reason + (f": {description}" if description else "")
        )


@dataclass(frozen=True)
class CommandLogin:
    """A command that prints a token response for a fresh login."""

    command: str
    timeout: float = COMMAND_TIMEOUT

    def describe(self) -> str:
        """`login command: PROGRAM` (only the program: its arguments may hold a password)."""
        words = shlex.split(self.command)
        return f"login command {words[0] if words else '?'}"

    def login(self, endpoint: TokenEndpoint) -> LoginAnswer:
        """Run the command and read the JSON it prints."""
        try:
            done = subprocess.run(
                shlex.split(self.command), capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return LoginAnswer(False, reason=f"the login command ran longer than {self.timeout:g} s")
        except OSError as exc:
            return LoginAnswer(False, reason=f"cannot run the login command: {exc}")
        complaint = done.stderr.strip()[-300:]
        if done.returncode != 0:
            return LoginAnswer(
                False,
                status=done.returncode,
                reason=f"the login command exited with status "
                f"{done.returncode}" + (f": {complaint}" if complaint else ""),
            )
        try:
            body = json.loads(done.stdout)
        except ValueError:
            return LoginAnswer(
                False,
                status=0,
                reason="the login command did not print a JSON object "
                f"(it printed {done.stdout.strip()[:80]!r})",
            )
        return _from_body(body, "the login command's JSON")


@dataclass(frozen=True)
class CallableLogin:
    """A Python function returning a token response (a mapping with `refresh_token`)."""

    function: Callable[[], Mapping[str, Any]]
    name: str = "login function"

    def describe(self) -> str:
        """The name given."""
        return self.name

    def login(self, endpoint: TokenEndpoint) -> LoginAnswer:
        """Call the function."""
        return _from_body(self.function(), f"the {self.name}'s answer")


def _from_body(body: object, what: str) -> LoginAnswer:
    if not isinstance(body, Mapping):
        return LoginAnswer(False, reason=f"{what} is not a JSON object")
    if not body.get("refresh_token"):
        error = body.get("error")
        return LoginAnswer(
            False, dict(body), reason=f"{what} has no refresh_token" + (f" (error: {error})" if error else "")
        )
    return LoginAnswer(True, dict(body))


def parse_login(spec: str) -> PasswordLogin:
    """`password:USER:PASSWORD` -> PasswordLogin; ValueError with what is expected otherwise."""
    kind, sep, rest = spec.partition(":")
    if kind != "password" or not sep:
        raise ValueError(
            f"expected password:USER:PASSWORD, got {spec.split(':')[0]!r}... "
            "(for any other login flow use --login-command)"
        )
    user, sep, password = rest.partition(":")
    if not user or not sep:
        raise ValueError("expected password:USER:PASSWORD (a user name, then the password after a colon)")
    return PasswordLogin(user, password)
