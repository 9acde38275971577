"""What a probe must recover of a policy: the part of it a client can observe, and the check.

Written independently of the probe's code (from the engine's rules in sim/policy/engine.py):
- a chain used at times u1 < u2 < ... is refused once idle longer than S = sliding + idle_tolerance or
  older than A = absolute (from the login); with rotation and `absolute_anchor: token` every use re-anchors
  A, so the chain behaves as S' = min(S, A) with no absolute limit; a sliding lifetime at least as long as
  the absolute one never binds (it is `none`);
- a grace period exists only for one_time, and a replay works only while the chain lives (a grace period
  longer than the chain's life is the same as one of that life);
- a cap of 1 makes evict_oldest and evict_least_recently_used the same;
- a sliding lifetime within the probe's resolution of the absolute one cannot be told from it (the probe
  then reports the absolute lifetime alone, equal to the sliding one to within that resolution).

`problems(result, truth, ...)` lists every way the result contradicts the truth, or claims less than it
must have measured; an empty list is a pass.
"""

from __future__ import annotations

import math

from sim.core.durations import parse_duration
from sim.policy.model import Policy
from sim.probe.lifetimes import CLASSIFY_MARGIN
from sim.probe.result import Finding, ProbeResult

INF = math.inf


def observable_lifetimes(policy: Policy) -> tuple[float, float]:
    """(sliding, absolute) as a client sees them (inf = none / unlimited)."""
    rotating = policy.refresh_token_usage != "reuse"
    sliding = INF if policy.sliding_lifetime is None else policy.sliding_lifetime + policy.idle_tolerance
    absolute = INF if policy.absolute_lifetime is None else policy.absolute_lifetime
    if rotating and policy.absolute_anchor == "token":
        sliding, absolute = min(sliding, absolute), INF
    if sliding >= absolute:
        sliding = INF
    return sliding, absolute


def seconds(value: object) -> float:
    """A written duration in seconds (`unlimited` / `none` = inf)."""
    if isinstance(value, str) and value in ("unlimited", "none"):
        return INF
    return parse_duration(value)


def _duration_problem(finding: Finding, truth: float, tolerance: float) -> str | None:
    written = seconds(finding.value)
    name = finding.field
    if finding.confidence == "exact":
        if truth == written == INF or abs(written - truth) <= tolerance:
            return None
        return f"{name}: measured {finding.value}, truth {truth:g} s"
    if finding.confidence == "bounded":
        low = finding.low if finding.low is not None else 0.0
        high = finding.high if finding.high is not None else INF
        if low - tolerance <= truth <= high + tolerance:
            return None
        return f"{name}: bounded in [{low:g}, {high:g}), truth {truth:g} s"
    if finding.low is not None and truth < finding.low - tolerance:
        return f"{name}: not measured 'at least {finding.low:g} s', but the truth is {truth:g} s"
    return None


def problems(
    result: ProbeResult,
    truth: Policy,
    *,
    max_logins: int,
    max_wait: float,
    tolerance: float = 1.01,
    logins_refused_possible: bool | None = None,
) -> list[str]:
    """Every contradiction between what the probe wrote and the truth (empty: the probe recovered it)."""
    found: list[str] = []
    get = result.finding
    usage = get("refresh_token_usage")
    if usage.value != truth.refresh_token_usage:
        found.append(f"refresh_token_usage: {usage.value}, truth {truth.refresh_token_usage}")
    if usage.confidence != "exact":
        found.append(f"refresh_token_usage not measured exactly: {usage.summary}")

    cap = truth.max_tokens_per_user
    rejects = truth.on_cap == "reject_new" and cap is not None and cap < max_logins
    if logins_refused_possible is None:
        logins_refused_possible = rejects
    written_cap = get("max_tokens_per_user")
    if cap is None or cap >= max_logins:
        if written_cap.value != "unlimited" or written_cap.low != max_logins:
            found.append(
                f"max_tokens_per_user: {written_cap.value} ({written_cap.confidence}), truth {cap} "
                f">= {max_logins} logins"
            )
    else:
        if (written_cap.value, written_cap.confidence) != (cap, "exact"):
            found.append(f"max_tokens_per_user: {written_cap.value} ({written_cap.confidence}), truth {cap}")
        expected = truth.on_cap if cap > 1 or truth.on_cap == "reject_new" else "evict_oldest"
        on_cap = get("on_cap")
        if (on_cap.value, on_cap.confidence) != (expected, "exact"):
            found.append(f"on_cap: {on_cap.value} ({on_cap.confidence}), truth {truth.on_cap} (cap {cap})")

    sliding, absolute = observable_lifetimes(truth)
    close = sliding < absolute <= sliding + tolerance + CLASSIFY_MARGIN
    if close and get("sliding_lifetime").value == "none":
        sliding, absolute = INF, sliding  # too close to tell apart: the absolute lifetime alone is right too
    for name, value in (("sliding_lifetime", sliding), ("absolute_lifetime", absolute)):
        problem = _duration_problem(get(name), value, tolerance)
        if problem:
            found.append(problem)
    unused = min(sliding, absolute)
    if unused < max_wait - tolerance and not logins_refused_possible:
        name = "sliding_lifetime" if sliding < absolute else "absolute_lifetime"
        if get(name).confidence != "exact":
            found.append(f"{name} ({unused:g} s, within --max-wait) was not measured: {get(name).summary}")

    fixed = truth.fixed_access_token_lifetime
    access = get("access_token_lifetime")
    if access.confidence != "not_measured":
        if fixed is not None:
            if access.confidence != "exact" or abs(seconds(access.value) - fixed) > 0.51:
                found.append(f"access_token_lifetime: {access.value}, truth {fixed:g} s")
        elif not isinstance(access.value, dict) and access.confidence == "exact":
            found.append(f"access_token_lifetime: {access.value} exact, truth a distribution")

    if truth.refresh_token_usage == "one_time":
        on_reuse = get("on_reuse")
        if (on_reuse.value, on_reuse.confidence) != (truth.on_reuse, "exact"):
            found.append(f"on_reuse: {on_reuse.value} ({on_reuse.confidence}), truth {truth.on_reuse}")
        max_reuse = get("max_reuse")
        if (max_reuse.value, max_reuse.confidence) != (truth.max_reuse, "exact"):
            found.append(f"max_reuse: {max_reuse.value} ({max_reuse.confidence}), truth {truth.max_reuse}")
        interval = get("reuse_interval")
        # a replay works only while the chain lives: a longer grace period is the same as the chain's lifetime
        effective = min(truth.reuse_interval, unused)
        problem = _duration_problem(interval, effective, tolerance)
        if problem:
            found.append(problem)
        if effective < min(max_wait, unused) - 3 and interval.confidence != "exact":
            found.append(f"reuse_interval ({truth.reuse_interval:g} s) was not measured: {interval.summary}")
    else:
        for name, value in (("reuse_interval", "0s"), ("max_reuse", 0), ("on_reuse", "reject")):
            if get(name).value != value:
                found.append(f"{name}: {get(name).value} although nothing is consumed")
    return found


def evidence_text(result: ProbeResult) -> str:
    """Every exchange, one line each (for assertion messages)."""
    return "\n".join(exchange.line() for exchange in result.exchanges)
