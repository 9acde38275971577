"""The `tokensim probe` workflow as one call: check the inputs, run the plan, write the result.

Inputs are checked before any request is sent (ConfigError naming the option); an output file that is not
the probe's own is refused before the plan runs (OutputError), so a long probe never ends unable to write.
"""

from __future__ import annotations

import os
from pathlib import Path

from sim.core.durations import parse_duration
from sim.core.validation import ConfigError, Problem
from sim.experiments.progress import Progress
from sim.probe.clock import ProbeClock, RateLimiter
from sim.probe.login import CommandLogin, LoginSource, parse_login
from sim.probe.output import check_writable, write_result
from sim.probe.plan import (
    DEFAULT_MAX_LOGINS,
    DEFAULT_MAX_REQUESTS,
    DEFAULT_MAX_WAIT,
    DEFAULT_RATE,
    ProbeOptions,
    check_options,
    run_probe,
)
from sim.probe.result import ProbeResult


def probe(
    token_endpoint: str,
    client_id: str,
    *,
    login: str | LoginSource | None = None,
    login_command: str | None = None,
    client_secret: str | None = None,
    scope: str | None = None,
    client_auth: str = "post",
    max_wait: float | str = DEFAULT_MAX_WAIT,
    max_logins: int = DEFAULT_MAX_LOGINS,
    rate: float = DEFAULT_RATE,
    max_requests: int = DEFAULT_MAX_REQUESTS,
    max_time: float | str | None = None,
    timeout: float = 15.0,
    out: str | os.PathLike[str] | None = None,
    force: bool = False,
    progress: Progress | None = None,
    clock: ProbeClock | None = None,
    limiter: RateLimiter | None = None,
) -> ProbeResult:
    """`tokensim probe`: run a budgeted plan of experiments against a live token endpoint with a test account
    and return what its refresh-token policy is, each field with its evidence (docs/probe.md).

    `login` is `"password:USER:PASSWORD"` (the password grant at `token_endpoint`) or a `LoginSource`
    (`sim.probe.CallableLogin(function)`); `login_command` a command that prints a token response. Bounds:
    `max_wait` (longest duration measured by waiting), `max_logins`, `rate` (requests per second, real
    time), `max_requests`, `max_time` (default: the plan's worst case), `timeout` per request. `out` writes
    the `policy:` YAML there and the evidence beside it (`<stem>.evidence.json`); a file the probe did not
    write is replaced only with `force`. `clock` moves the probe's time (default real time; tests pass the
    server's own clock). Raises ConfigError for bad input, OutputError for an unusable `out`, and
    `sim.probe.session.ProbeError` when the endpoint cannot be probed at all (unreachable, first login or
    refresh refused). Replays may revoke the test account's sessions.
    """
    source = login_source(login, login_command)
    options = ProbeOptions(
        token_endpoint=token_endpoint,
        client_id=client_id,
        client_secret=client_secret,
        scope=scope,
        client_auth=client_auth,
        max_wait=_duration("max_wait", max_wait),
        max_logins=max_logins,
        rate=rate,
        max_requests=max_requests,
        max_time=None if max_time is None else _duration("max_time", max_time),
        timeout=timeout,
    )
    check_options(options)
    target = None if out is None else Path(out)
    if target is not None:
        check_writable(target, force)
    result = run_probe(options, source, clock=clock, progress=progress, limiter=limiter)
    if target is not None:
        write_result(result, target, force=True)  # checked above; replaces only what the probe wrote
    return result


def login_source(login: str | LoginSource | None, login_command: str | None) -> LoginSource:
    """The login source from `--login password:USER:PASSWORD` or `--login-command CMD` (exactly one)."""
    if (login is None) == (login_command is None):
        raise ConfigError(
            [
                Problem(
                    loc=("login",),
                    message="give exactly one of --login password:USER:PASSWORD and --login-command CMD",
                )
            ],
            source="probe options",
        )
    if login_command is not None:
        if not login_command.strip():
            raise ConfigError(
                [Problem(loc=("login_command",), message="the login command is empty")],
                source="probe options",
            )
        return CommandLogin(login_command)
    if isinstance(login, str):
        try:
            return parse_login(login)
        except ValueError as exc:
            raise ConfigError([Problem(loc=("login",), message=str(exc))], source="probe options") from None
    assert login is not None
    return login


def _duration(name: str, value: float | str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ConfigError([Problem(loc=(name,), message=str(exc))], source="probe options") from None
