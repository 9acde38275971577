"""The probe's plan: options, bounds, and the experiments run one after the other against one endpoint.

Order (each reads what the earlier ones found): the cap (first, so the probe's own chains are the newest the
account holds), refresh-token usage and on_reuse, immediate replays (max_reuse, whether a grace period
exists), lifetimes (waiting), the grace period (waiting, below the lifetime). The access-token lifetime is
read from every answer's `expires_in`.

Bounds: every request has a timeout; at most `max_requests` requests, at most `rate` per second; every wait
is checked against `max_time` (on the probe's clock) before it starts, and any one duration is measured up
to `max_wait` (a chain may be kept alive up to about twice that while a lifetime is classified). When a bound
is hit, the experiment stops and its fields are reported from what was seen ("bounded" / "not measured").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sim.core.durations import format_duration
from sim.core.validation import ConfigError, Problem
from sim.experiments.progress import Progress
from sim.probe.cap import measure_cap
from sim.probe.clock import ProbeClock, RateLimiter, RealClock
from sim.probe.facts import Facts
from sim.probe.grace import measure_grace
from sim.probe.lifetimes import measure_lifetimes
from sim.probe.login import LoginSource
from sim.probe.result import FIELDS, Finding, ProbeResult, ProbeSettings
from sim.probe.rotation import measure_replays, measure_usage
from sim.probe.session import ConnectionLost, ProbeError, Session, Stop
from sim.probe.wire import EndpointError, endpoint_problem

DEFAULT_MAX_WAIT = 60.0
DEFAULT_MAX_LOGINS = 10
DEFAULT_RATE = 5.0
DEFAULT_MAX_REQUESTS = 500
#: Durations are measured to this many seconds (servers keep whole seconds).
RESOLUTION = 1.0
#: The label of the progress display's experiment bar.
PROGRESS_LABEL = "probe"
WARNING = (
    "the probe logs the account in up to {logins} times and replays used refresh tokens, which may "
    "revoke the account's sessions (and its other refresh tokens): use a test account"
)

Experiment = Callable[[Session, Facts], None]
#: (name shown in the progress display, function), in the order they run.
EXPERIMENTS: tuple[tuple[str, Experiment], ...] = (
    ("cap on chains per user", measure_cap),
    ("refresh-token usage", measure_usage),
    ("immediate replays", measure_replays),
    ("lifetimes", measure_lifetimes),
    ("grace period", measure_grace),
)


@dataclass(frozen=True)
class ProbeOptions:
    """What to probe and within which bounds (validated by `check_options`)."""

    token_endpoint: str
    client_id: str
    client_secret: str | None = None
    #: `scope` sent with the password grant (none by default).
    scope: str | None = None
    #: `post` (client_secret_post) or `basic` (client_secret_basic).
    client_auth: str = "post"
    max_wait: float = DEFAULT_MAX_WAIT
    max_logins: int = DEFAULT_MAX_LOGINS
    rate: float = DEFAULT_RATE
    max_requests: int = DEFAULT_MAX_REQUESTS
    #: Seconds the whole plan may take (None: the plan's worst case, `worst_case_seconds`).
    max_time: float | None = None
    #: Seconds any one request may take.
    timeout: float = 15.0


def check_options(options: ProbeOptions) -> None:
    """ConfigError naming every option that cannot be used."""
    problems: list[Problem] = []

    def bad(name: str, message: str) -> None:
        problems.append(Problem(loc=(name,), message=message))

    problem = endpoint_problem(options.token_endpoint)
    if problem:
        bad("token_endpoint", problem)
    if not options.client_id:
        bad("client_id", "the client id must not be empty")
    if options.client_auth not in ("post", "basic"):
        bad("client_auth", f"expected post or basic, got {options.client_auth!r}")
    if not 1 <= options.max_wait <= 400 * 86400:
        bad("max_wait", f"must be between 1s and 400d, got {format_duration(options.max_wait)}")
    if not 2 <= options.max_logins <= 100:
        bad(
            "max_logins",
            f"must be between 2 and 100 (a cap is seen only with at least 2 logins), got "
            f"{options.max_logins}",
        )
    if not (math.isfinite(options.rate) and options.rate > 0):
        bad("rate", f"must be a positive number of requests per second, got {options.rate}")
    if options.max_requests < 10:
        bad("max_requests", f"must be at least 10, got {options.max_requests}")
    if options.max_time is not None and not options.max_time > 0:
        bad("max_time", f"must be a positive duration, got {options.max_time}")
    if not options.timeout > 0:
        bad("timeout", f"must be positive, got {options.timeout}")
    if problems:
        raise ConfigError(problems, source="probe options")


def worst_case_seconds(max_wait: float, resolution: float = RESOLUTION) -> float:
    """An upper bound on the plan's waiting when every duration lies just under `max_wait`.

    Lifetimes: doubling (2 W) and bisection (L W) of the unused lifetime, its classification (2 W), the
    absolute lifetime's keep-alive (2 W) and bisection (2 L W); the grace period: doubling (W) and
    bisection (L W); L = log2(W / resolution) rounds.
    """
    rounds = max(1.0, math.ceil(math.log2(max(max_wait / resolution, 2.0))))
    return max_wait * (7 + 4 * rounds)


def run_probe(
    options: ProbeOptions,
    login: LoginSource,
    *,
    clock: ProbeClock | None = None,
    progress: Progress | None = None,
    limiter: RateLimiter | None = None,
) -> ProbeResult:
    """Run the whole plan; ProbeError when the endpoint cannot be probed at all (nothing measured).

    `clock` is where durations are read and waits happen (default: real time); `limiter` spaces the
    requests (default: `options.rate` per second in real time).
    """
    from sim.probe.http import TokenEndpoint

    check_options(options)
    clock = clock or RealClock()
    progress = progress or Progress()
    max_time = options.max_time if options.max_time is not None else worst_case_seconds(options.max_wait)
    started = datetime.now(UTC).replace(microsecond=0).isoformat()
    facts = Facts(resolution=RESOLUTION, max_wait=options.max_wait, max_logins=options.max_logins)
    stopped: str | None = None
    progress.warn(WARNING.format(logins=options.max_logins))
    progress.note(
        f"probing {options.token_endpoint} ({login.describe()}): at most {options.max_requests} "
        f"requests, {options.rate:g} per second, and {_clock(max_time)} (if every duration is just under "
        "--max-wait)"
    )
    endpoint = TokenEndpoint(
        options.token_endpoint,
        options.client_id,
        options.client_secret,
        client_auth="basic" if options.client_auth == "basic" else "post",
        scope=options.scope,
        timeout=options.timeout,
    )
    limiter = limiter or RateLimiter(options.rate)
    session = Session(
        endpoint,
        login,
        clock,
        limiter,
        max_requests=options.max_requests,
        deadline=clock.now() + max_time,
        progress=progress,
    )
    progress.started(PROGRESS_LABEL, len(EXPERIMENTS), "experiments")
    begun = clock.now()
    try:
        for done, (title, experiment) in enumerate(EXPERIMENTS, start=1):
            progress.note(f"{title} ...")
            try:
                experiment(session, facts)
            except Stop as exc:
                facts.stopped[title] = str(exc)
                session.warn(f"{title}: stopped early: {exc}")
            progress.advanced(PROGRESS_LABEL, done, len(EXPERIMENTS))
    except (ConnectionLost, EndpointError) as exc:
        if not any(e.ok for e in session.exchanges):
            raise ProbeError(str(exc)) from None
        stopped = f"the endpoint stopped answering: {exc}"
        progress.warn(stopped)
    finally:
        endpoint.close()
        progress.finished(PROGRESS_LABEL, clock.now() - begun)
        progress.end()
    _access_lifetime(session, facts)
    warning = cap_expiry_warning(facts)
    if warning:
        session.warn(warning)
    findings = _complete(facts, stopped or "; ".join(facts.stopped.values()))
    result = ProbeResult(
        token_endpoint=options.token_endpoint,
        client_id=options.client_id,
        login=login.describe(),
        started=started,
        duration=clock.now() - session.start,
        settings=ProbeSettings(
            max_wait=options.max_wait,
            max_logins=options.max_logins,
            rate=limiter.rate,
            max_requests=options.max_requests,
            max_time=max_time,
            resolution=RESOLUTION,
        ),
        findings=findings,
        exchanges=session.exchanges,
        warnings=session.warnings,
        stopped=stopped,
    )
    result.policy()  # a probe always writes a valid policy (a bug otherwise)
    return result


def cap_expiry_warning(facts: Facts) -> str | None:
    """Chains that expire during the cap experiment look evicted: a warning when that may have happened."""
    lifetime = facts.unused_lifetime
    cap = facts.findings.get("max_tokens_per_user")
    if lifetime is None or lifetime.high is None or cap is None or cap.value == "unlimited":
        return None
    if lifetime.low > facts.cap_span:
        return None
    return (
        f"chains live about {lifetime.estimate():g} s and the cap experiment took {facts.cap_span:.0f} s: "
        "chains refused there may have expired rather than been evicted (probe with a higher --rate or fewer "
        "--max-logins)"
    )


def _access_lifetime(session: Session, facts: Facts) -> None:
    seen = session.expires_in or session.jwt_lifetimes
    source = "expires_in" if session.expires_in else "the access tokens' exp - iat (JWT)"
    if not seen:
        facts.conclude(
            "access_token_lifetime",
            "1h",
            "not_measured",
            "no answer had expires_in and the access tokens are not JWTs with exp and iat; tokensim's "
            "default written",
        )
        return
    values = sorted({round(value) for value, _ in seen})
    evidence = [exchange for _, exchange in seen][:12]
    if values[0] <= 0:
        facts.conclude(
            "access_token_lifetime",
            "1h",
            "not_measured",
            f"{source} was not positive ({values[0]}); tokensim's default written",
            evidence,
        )
        return
    if len(values) == 1:
        facts.conclude(
            "access_token_lifetime",
            format_duration(values[0]),
            "exact",
            f"{source} was {values[0]} s in all {len(seen)} answers",
            evidence,
            low=values[0],
            high=values[0],
        )
        return
    low, high = values[0], values[-1]
    facts.conclude(
        "access_token_lifetime",
        {"uniform": {"low": format_duration(low), "high": format_duration(high)}},
        "bounded",
        f"{source} varied between {low} and {high} s over {len(seen)} answers; a uniform "
        "distribution over that range written",
        evidence,
        low=low,
        high=high,
    )


def _complete(facts: Facts, stopped: str) -> list[Finding]:
    """Every policy field, in order: the experiments' findings, and what can be said of the others."""
    usage = facts.usage
    why = f"not measured ({stopped})" if stopped else "not measured"
    if not facts.known("refresh_token_usage"):
        facts.conclude("refresh_token_usage", "reuse", "not_measured", f"{why}; tokensim's default written")
    if usage in ("reuse", "rotate_keep_old"):
        reason = (
            "refresh tokens are never consumed"
            if usage == "reuse"
            else "earlier tokens stay valid, so none is ever consumed"
        )
        for name, value in (("reuse_interval", "0s"), ("max_reuse", 0), ("on_reuse", "reject")):
            facts.conclude(name, value, "exact", f"does not apply: {reason}")
    defaults: dict[str, Any] = {
        "absolute_lifetime": "unlimited",
        "sliding_lifetime": "none",
        "absolute_anchor": "chain",
        "idle_tolerance": "0s",
        "reuse_interval": "0s",
        "max_reuse": 0,
        "on_reuse": "reject",
        "max_tokens_per_user": "unlimited",
        "on_cap": "evict_oldest",
    }
    for name, value in defaults.items():
        if not facts.known(name):
            facts.conclude(name, value, "not_measured", f"{why}; {value} written")
    return [facts.findings[name] for name in FIELDS]


def _clock(seconds: float) -> str:
    """`3 h 05 min`, `4 min 10 s`, `40 s`."""
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"
