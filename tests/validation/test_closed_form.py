"""Simulation results against closed-form answers from probability theory.

Every scenario here is simple enough to solve on paper: one device per user, `schedule: always` (or
`weekdays` for the schedule check), no absences, no faults, instant sessions (`session_duration: 0s`) and a
1-second access token, so that every session after the first sends exactly one refresh request at its start.
With `session_duration: 0s` the next session is drawn after the previous start (behaviour.py:
`ready_at = end = start`), so session starts are a Poisson process of rate lambda per active day from time 0.

How each check is judged (never a tuned constant):

- the estimate and its standard error (SE) come from independent units. Users are i.i.d. in these
  scenarios (each user has its own random streams and its own engine), so a per-user statistic is an
  i.i.d. sample; quantities pooled over a user's chains are ratio estimators with a per-user (cluster)
  delta-method SE, which stays valid when a user's chains are dependent;
- the test asserts |estimate - theory| <= Z * SE with Z = 4 (a 4-sigma band: a false alarm about 6e-5 per
  check for a correct simulator), and SE <= 5% of the theory value, so that the check means something;
- each scenario has its own seed: with one seed, common random numbers (streams keyed by persona name and
  user index) would give every check the same session times, and their errors would share one sign.

Each docstring gives the derivation, checked against sim/behaviour.py and sim/engine.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.core.durations import DAY, HOUR, MONTH, WEEK
from sim.run.runner import RunResult, run_scenario
from sim.scenario import scenario_from_dict

#: Half-width of the acceptance band in standard errors.
Z = 4.0
#: The SE must be at most this share of the theory value, or the check would be too weak to mean anything.
MAX_RELATIVE_SE = 0.05
YEAR = 365 * DAY


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Estimate:
    """A point estimate, its standard error and the number of independent units behind it."""

    value: float
    se: float
    units: int


def mean_estimate(values: np.ndarray) -> Estimate:
    """Mean of i.i.d. values and its standard error s / sqrt(n)."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    return Estimate(float(values.mean()), float(values.std(ddof=1) / math.sqrt(n)), n)


def ratio_estimate(numerators: np.ndarray, denominators: np.ndarray) -> Estimate:
    """sum(y) / sum(x) over i.i.d. units (users), with the delta-method (cluster) standard error.

    r = sum y_u / sum x_u; SE^2 = sum (y_u - r x_u)^2 / (n (n - 1) mean(x)^2).
    """
    y = np.asarray(numerators, dtype=float)
    x = np.asarray(denominators, dtype=float)
    n = len(y)
    r = y.sum() / x.sum()
    residuals = y - r * x
    se = math.sqrt((residuals**2).sum() / (n * (n - 1))) / x.mean()
    return Estimate(float(r), float(se), n)


def assert_agrees(what: str, estimate: Estimate, theory: float) -> None:
    """|estimate - theory| <= Z * SE, and the SE small enough (<= 5% of theory) for that to mean something."""
    detail = (
        f"{what}: estimate {estimate.value:.6g}, theory {theory:.6g}, SE {estimate.se:.3g} "
        f"({estimate.units} units), deviation {(estimate.value - theory) / estimate.se:+.2f} SE"
    )
    print(detail)  # shown with `pytest -s`: the numbers behind each check
    assert estimate.se <= MAX_RELATIVE_SE * abs(theory), f"SE too large for a meaningful check: {detail}"
    assert abs(estimate.value - theory) <= Z * estimate.se, detail


def per_user(frame: pd.DataFrame, users: int, column: str | None = None) -> np.ndarray:
    """Row count (or the sum of `column`) per user index 0..users-1, zeros for users without rows."""
    grouped = frame.groupby("user")
    totals = grouped.size() if column is None else grouped[column].sum()
    return totals.reindex(range(users), fill_value=0).to_numpy(dtype=float)


def simulate(
    *,
    policy: dict[str, Any],
    activity: dict[str, Any],
    users: int,
    horizon_days: float,
    warmup_days: float = 0.0,
    seed: int,
    lifecycle: dict[str, Any] | None = None,
) -> RunResult:
    """One replication of one persona: one device, no absences, no faults."""
    persona: dict[str, Any] = {"name": "p", "users": users, "devices": 1, "activity": activity}
    if lifecycle:
        persona["lifecycle"] = lifecycle
    scenario = scenario_from_dict(
        {
            "name": "closed-form",
            "seed": seed,
            "horizon": horizon_days * DAY,
            "warmup": warmup_days * DAY,
            "replications": 1,
            "policy": policy,
            "population": [persona],
        }
    )
    return run_scenario(scenario, workers=1)


def metric(result: RunResult, name: str) -> float:
    """A metric of the single replication, for the whole population."""
    rows = result.replication_metrics
    (value,) = rows.loc[rows["persona"] == "*", name]
    return float(value)


def window_months(result: RunResult) -> float:
    return (result.scenario.horizon - result.scenario.warmup) / MONTH


# --------------------------------------------------------------------------- 1. sliding expiry

SLIDING_RATE = 0.5  # sessions per day (lambda)
SLIDING_S = 2.0  # sliding lifetime in days (S); lambda * S = 1
SLIDING_USERS = 200
SLIDING_HORIZON = 400.0  # days
SLIDING_WARMUP = 30.0  # days
SLIDING_MARGIN = 100.0  # days: only chains authorized at most this long before the horizon are used


@pytest.fixture(scope="module", params=[("one_time", 11), ("reuse", 12)], ids=["one_time", "reuse"])
def sliding_run(request: pytest.FixtureRequest) -> RunResult:
    usage, seed = request.param  # a seed each: the two usages are independent samples
    return simulate(
        policy={
            "refresh_token_usage": usage,
            "absolute_lifetime": "unlimited",
            "sliding_lifetime": SLIDING_S * DAY,
            "access_token_lifetime": "1s",
        },
        activity={"schedule": "always", "sessions_per_day": SLIDING_RATE, "session_duration": "0s"},
        users=SLIDING_USERS,
        horizon_days=SLIDING_HORIZON,
        warmup_days=SLIDING_WARMUP,
        seed=seed,
    )


def _sliding_chains(result: RunResult) -> pd.DataFrame:
    """Chains authorized at least SLIDING_MARGIN days before the horizon (all of them ended)."""
    chains = result.chains
    chosen = chains[chains["authorized_at_s"] <= (SLIDING_HORIZON - SLIDING_MARGIN) * DAY]
    assert chosen["ended_at_s"].notna().all(), "a chain chosen as uncensored outlived the horizon"
    assert (chosen["end_reason"] == "sliding_expiry").all()
    return chosen


def test_sliding_expiry_chain_lifetime_and_refreshes_per_chain(sliding_run: RunResult) -> None:
    """Sliding expiry S with Poisson sessions: mean chain lifetime (e^{lambda S} - 1) / lambda.

    Derivation. Sessions start as a Poisson process of rate lambda, so the gaps G_1, G_2, ... between
    successive sessions are i.i.d. Exp(lambda). A chain starts at a login (a session); each later session
    refreshes it (the 1 s access token has always expired) and the refresh succeeds iff the gap since the
    chain's last use is <= S (deadlines are inclusive; equality has probability 0). On success the deadline
    slides to now + S. So the number K of successful refreshes of a chain is geometric,
    P(K = k) = (1 - p)^k p with p = P(G > S) = e^{-lambda S}, E[K] = (1 - p) / p = e^{lambda S} - 1, and the
    chain ends at its last use + S (the engine records the deadline, not the failed request), so
        L = G_1 + ... + G_K + S   with each G_i ~ Exp(lambda) conditioned on G_i <= S,
        E[G | G <= S] = 1/lambda - S p / (1 - p),
        E[L] = E[K] E[G | G <= S] + S = (1 - p) / (p lambda) - S + S = (e^{lambda S} - 1) / lambda.
    E[K] = (1 - p) / p also says that a refresh request fails with probability p = 1 / (1 + E[K]).

    Censoring. Only chains authorized at least M = 100 days before the horizon are used. A chain's lifetime
    depends only on the gaps after its start, which are independent of when it started (the start is
    determined by earlier gaps), so this choice does not bias the lifetime. Such a chain is censored only
    if L > M; as L <= (K + 1) S, that needs K >= M / S = 50 successful gaps: P = (1 - p)^50 = 1.1e-10
    with lambda S = 1, so every chosen chain has ended (asserted). The first chain of a user starts at the
    user's first session and has the same law, so no warm-up is needed.
    SE: pooled over a user's chains, so a ratio estimator with users as the independent units.
    """
    lam, s = SLIDING_RATE, SLIDING_S
    p = math.exp(-lam * s)
    chains = _sliding_chains(sliding_run)
    lifetime_days = (chains["ended_at_s"] - chains["authorized_at_s"]) / DAY
    per_user_chains = per_user(chains, SLIDING_USERS)
    per_user_days = per_user(chains.assign(days=lifetime_days), SLIDING_USERS, "days")
    per_user_refreshes = per_user(chains, SLIDING_USERS, "refreshes")

    assert_agrees(
        "mean chain lifetime (days)",
        ratio_estimate(per_user_days, per_user_chains),
        (math.exp(lam * s) - 1) / lam,
    )
    assert_agrees(
        "successful refreshes per chain",
        ratio_estimate(per_user_refreshes, per_user_chains),
        (1 - p) / p,
    )


def test_sliding_expiry_forced_reauth_rate(sliding_run: RunResult) -> None:
    """Forced re-authentications by sliding expiry: 30 * lambda * e^{-lambda S} per user-month.

    Derivation. Every session except a user's first refreshes (the 1 s access token has expired); it fails,
    with cause `sliding_expiry` and never mid-session (sessions are instant), iff no session happened in
    the S before it. For a Poisson process a session at time t >= S has no other session in (t - S, t)
    with probability p = e^{-lambda S}, independently of the session at t (Mecke/Campbell). Sessions in the
    window [warmup, horizon] come at rate lambda and, with warmup >= S and a first session before the warmup
    (missed with probability e^{-lambda * warmup} = e^{-15}), each is such a refresh, so the expected
    number per user-month is 30 * lambda * p.
    SE: the count per user in the window (users are i.i.d.); the reported metric must equal its mean.
    """
    lam, s = SLIDING_RATE, SLIDING_S
    result = sliding_run
    reauths = result.reauths
    assert set(reauths["cause"]) == {"sliding_expiry"}
    assert not reauths["mid_session"].any()
    in_window = reauths[reauths["at_s"] >= result.scenario.warmup]
    per_user_month = per_user(in_window, SLIDING_USERS) / window_months(result)
    estimate = mean_estimate(per_user_month)

    assert metric(result, "forced_reauth_per_user_month.sliding_expiry") == pytest.approx(estimate.value)
    assert metric(result, "forced_reauth_per_user_month") == pytest.approx(estimate.value)
    assert_agrees("forced re-auths (sliding expiry) per user-month", estimate, 30 * lam * math.exp(-lam * s))


# --------------------------------------------------------------------------- 2, 3. cap and fresh logins

CAP_RATE = 4.0  # sessions per day (lambda), every one a fresh login
CAP_S = 1.0  # sliding lifetime in days
CAP_N = 5  # max_tokens_per_user
CAP_USERS = 100
CAP_HORIZON = 60.0  # days
CAP_WARMUP = 5.0  # days, >= S


@pytest.fixture(scope="module")
def cap_run() -> RunResult:
    return simulate(
        policy={
            "refresh_token_usage": "one_time",
            "absolute_lifetime": "unlimited",
            "sliding_lifetime": CAP_S * DAY,
            "max_tokens_per_user": CAP_N,
            "on_cap": "evict_oldest",
            "access_token_lifetime": "1s",
        },
        activity={
            "schedule": "always",
            "sessions_per_day": CAP_RATE,
            "session_duration": "0s",
            "fresh_login": 1.0,
        },
        users=CAP_USERS,
        horizon_days=CAP_HORIZON,
        warmup_days=CAP_WARMUP,
        seed=13,
    )


def test_cap_eviction_share(cap_run: RunResult) -> None:
    """Cap N with evict_oldest, every session a fresh login: P(evicted) = P(Poisson(lambda S) >= N).

    Derivation. With fresh_login = 1 every session abandons the device's chain and logs in; no chain is
    ever refreshed, so a chain authorized at a ends at a + S (sliding expiry) unless evicted. Claim: at any
    time t the valid chains are the min(N, k) most recent of the k logins in [t - S, t]. True when nothing
    happened yet; a login first drops the chains past their deadline, then, if N remain (the most recent
    N), evicts the oldest, and adds itself: again the N most recent. So the chain of a is evicted iff N more
    logins happen in (a, a + S]. Session starts after a form a Poisson process of rate lambda (memoryless),
    independent of the past, so P(evicted) = P(Poisson(lambda S) >= N) for every chain, the first ones
    included (no warm-up needed). Only chains authorized at or before horizon - S are used: their fate is
    settled before the horizon (the chosen chains all ended, asserted).
    SE: a user's chains overlap in time (dependent), so a ratio estimator with users as the units.
    """
    chains = cap_run.chains
    chosen = chains[chains["authorized_at_s"] <= (CAP_HORIZON - CAP_S) * DAY]
    assert chosen["ended_at_s"].notna().all()
    assert set(chosen["end_reason"]) <= {"evicted", "sliding_expiry"}
    evicted = per_user(chosen[chosen["end_reason"] == "evicted"], CAP_USERS)
    theory = float(stats.poisson.sf(CAP_N - 1, CAP_RATE * CAP_S))
    assert_agrees("share of chains evicted", ratio_estimate(evicted, per_user(chosen, CAP_USERS)), theory)


def test_cap_evictions_per_user_month(cap_run: RunResult) -> None:
    """Evictions per user-month: 30 * lambda * P(Poisson(lambda S) >= N).

    Derivation. A login at time t evicts exactly one chain iff N chains are valid just before it, i.e.
    (claim of the previous test) iff at least N logins happened in [t - S, t). For t >= S that count is
    Poisson(lambda S), independent of the login at t (Mecke), so evictions happen at rate
    lambda * P(Poisson(lambda S) >= N) throughout the window (warmup >= S).
    SE: evictions per user in the window (users are i.i.d.); the metric must equal their mean.
    """
    chains = cap_run.chains
    warmup = cap_run.scenario.warmup
    evicted = chains[(chains["end_reason"] == "evicted") & (chains["ended_at_s"] >= warmup)]
    estimate = mean_estimate(per_user(evicted, CAP_USERS) / window_months(cap_run))
    assert metric(cap_run, "evictions_per_user_month") == pytest.approx(estimate.value)
    theory = 30 * CAP_RATE * float(stats.poisson.sf(CAP_N - 1, CAP_RATE * CAP_S))
    assert_agrees("evictions per user-month", estimate, theory)


def test_fresh_logins_are_poisson(cap_run: RunResult) -> None:
    """fresh_login = 1: logins per user-month = 30 lambda, and the per-user count is Poisson.

    Derivation. Every session is a login (the first one, then fresh logins; the cap evicts, it never
    refuses), and session starts are a Poisson process of rate lambda from time 0, so a user's logins in the
    window [warmup, horizon] are Poisson(lambda * (horizon - warmup)), independently across users: mean
    30 lambda per month, and variance equal to the mean.
    Dispersion test: for n i.i.d. Poisson counts, D = sum (x_i - mean)^2 / mean ~ chi2(n - 1); D must lie
    between the chi2(n - 1) quantiles whose tails have the normal 4-sigma probability (norm.sf(4) each).
    """
    result = cap_run
    chains = result.chains
    assert set(chains["started_by"]) == {"first_login", "fresh_login"}
    counts = per_user(chains[chains["authorized_at_s"] >= result.scenario.warmup], CAP_USERS)
    months = window_months(result)
    estimate = mean_estimate(counts / months)
    assert metric(result, "logins_per_user_month") == pytest.approx(estimate.value)
    assert metric(result, "rejected_logins_per_user_month") == 0.0
    assert_agrees("logins per user-month", estimate, 30 * CAP_RATE)

    dispersion = float(((counts - counts.mean()) ** 2).sum() / counts.mean())
    tail = float(stats.norm.sf(Z))
    low, high = stats.chi2.ppf(tail, CAP_USERS - 1), stats.chi2.isf(tail, CAP_USERS - 1)
    print(f"dispersion statistic {dispersion:.1f}, accepted [{low:.1f}, {high:.1f}], chi2({CAP_USERS - 1})")
    assert low <= dispersion <= high


# --------------------------------------------------------------------------- 4. mid-session refreshes

MID_RATE = 0.25  # sessions per day (lambda)
MID_A = 1 * HOUR  # access-token lifetime
MID_USERS = 500
MID_HORIZON = 360.0  # days


def expected_starts_before(t: float, lam_per_s: float, duration: float) -> float:
    """Renewal function m(t) = E[#starts <= t]: first start Exp(lambda), later gaps D + Exp(lambda).

    S_k = (k - 1) D + Gamma(k, lambda), and P(Gamma(k, lambda) <= x) = P(Poisson(lambda x) >= k).
    """
    k = np.arange(1, int(t / duration) + 2)  # every k with (k - 1) D < t (D > 0)
    x = t - (k - 1) * duration
    k, x = k[x > 0], x[x > 0]
    return float(stats.poisson.sf(k - 1, lam_per_s * x).sum())


@pytest.mark.parametrize("duration_h", [2.5, 2.0])
def test_mid_session_refreshes(duration_h: float) -> None:
    """Fixed session duration D, access token A: ceil(D / A) refreshes per session (not after a login).

    Derivation from behaviour.py. A session starting at s whose access token has expired refreshes at s;
    the loop `while access_expires_at < end` then refreshes at each expiry s + A, s + 2A, ... strictly
    before the end s + D. So the refreshes are at s + jA for j = 0 .. K - 1 with K = ceil(D / A) refreshes
    per session (= 1 + floor(D / A) when D / A is not a whole number; when it is, the expiry at exactly the
    end does not refresh: D = 2h, A = 1h gives 2, not 3). A user's first session logs in instead of
    refreshing at s (the login's access token expires at s + A): K - 1 refreshes.
    Session starts: the next start is drawn after the previous session's end (`ready_at = end`), so the
    k-th start is S_k = (k - 1) D + Gamma(k, lambda), a renewal process of rate 1 / (D + 1/lambda), not
    lambda. With warmup 0 and no failures (unlimited lifetimes), the refresh requests in [0, H] are
        E[R] = sum_{j=0}^{K-1} m(H - jA) - P(S_1 <= H),    m(t) = sum_k P(S_k <= t),
    and the metric is R / (H / 30 d) per user. Sessions "far apart": with lambda = 0.25/day the access
    token is still valid at the next start only if the gap is < K A - D (0 or 30 min); for D = 2.5h a single
    such gap shifts the refreshes but keeps 3 in the session, and only two consecutive gaps summing under
    30 min change a count (probability ~1e-5 per session), which is negligible.
    SE: total successful refreshes per user (one chain per user), users i.i.d.
    """
    duration = duration_h * HOUR
    result = simulate(
        policy={
            "refresh_token_usage": "one_time",
            "absolute_lifetime": "unlimited",
            "sliding_lifetime": "none",
            "access_token_lifetime": MID_A,
        },
        activity={"schedule": "always", "sessions_per_day": MID_RATE, "session_duration": duration},
        users=MID_USERS,
        horizon_days=MID_HORIZON,
        seed=14,
    )
    chains = result.chains
    assert len(chains) == MID_USERS and chains["ended_at_s"].isna().all()  # one chain per user, never ends
    assert result.reauths.empty
    refreshes_per_session = math.ceil(duration / MID_A)
    assert refreshes_per_session == (2 if duration_h == 2.0 else 3)

    months = MID_HORIZON * DAY / MONTH
    estimate = mean_estimate(per_user(chains, MID_USERS, "refreshes") / months)
    assert metric(result, "refresh_requests_per_user_month") == pytest.approx(estimate.value)

    lam, horizon = MID_RATE / DAY, MID_HORIZON * DAY
    first_start_by_horizon = 1 - math.exp(-lam * horizon)
    expected = (
        sum(expected_starts_before(horizon - j * MID_A, lam, duration) for j in range(refreshes_per_session))
        - first_start_by_horizon
    )
    steady = refreshes_per_session * MONTH / (duration + 1 / lam)
    print(f"D = {duration_h} h: steady-state refreshes per user-month {steady:.4f}")
    assert_agrees(f"refresh requests per user-month (D = {duration_h} h)", estimate, expected / months)


# --------------------------------------------------------------------------- 5. password changes

PW_RATE = 0.2  # sessions per day (lambda)
PW_PER_YEAR = 24.0  # password changes per user and year (r)
PW_USERS = 300
PW_HORIZON = 400.0  # days
PW_WARMUP = 60.0  # days


def test_password_change_reauth_rate() -> None:
    """Password changes at rate r, sessions at rate lambda: lambda r / (lambda + r) re-auths (`revoked`).

    Derivation. A password change revokes every chain of the user (a no-op before the first login). The
    next session's refresh then fails with `revoked` and the device logs in again; further password
    changes before that session find no valid chain, so a gap between sessions causes one re-auth iff it
    holds at least one password change. Password changes are a Poisson process of rate r independent of
    the sessions; the gap before a session is Exp(lambda), so a session is a forced re-auth with
    probability 1 - E[e^{-r G}] = r / (lambda + r), and re-auths happen at rate lambda r / (lambda + r)
    (the warm-up of 60 days makes a first session in the window, e^{-12}, negligible).
    The simpler "each password change causes one re-auth" (rate r) holds only when lambda >> r: here
    (lambda = 0.2/day, r = 24/year) the exact rate is 18.1 per user-year, not 24.
    SE: re-auths per user in the window (users i.i.d.); the metric must equal their mean.
    """
    result = simulate(
        policy={
            "refresh_token_usage": "reuse",
            "absolute_lifetime": "unlimited",
            "sliding_lifetime": "none",
            "access_token_lifetime": "1s",
        },
        activity={"schedule": "always", "sessions_per_day": PW_RATE, "session_duration": "0s"},
        users=PW_USERS,
        horizon_days=PW_HORIZON,
        warmup_days=PW_WARMUP,
        seed=15,
        lifecycle={"password_changes_per_year": PW_PER_YEAR},
    )
    reauths = result.reauths
    assert set(reauths["cause"]) == {"revoked"}
    assert not reauths["mid_session"].any()
    in_window = reauths[reauths["at_s"] >= result.scenario.warmup]
    years = (result.scenario.horizon - result.scenario.warmup) / YEAR
    estimate = mean_estimate(per_user(in_window, PW_USERS) / years)
    assert metric(result, "forced_reauth_per_user_month.revoked") * YEAR / MONTH == pytest.approx(
        estimate.value
    )
    lam, r = PW_RATE * 365, PW_PER_YEAR  # both per year
    assert_agrees("forced re-auths (revoked) per user-year", estimate, lam * r / (lam + r))


# --------------------------------------------------------------------------- 6. weekdays schedule

WD_RATE = 2.0  # sessions per active day (lambda)
WD_USERS = 100
WD_HORIZON = 28 * 7.0  # days: whole weeks
WD_WARMUP = 14.0  # days: whole weeks


def test_weekday_sessions() -> None:
    """`weekdays` schedule: sessions only Monday to Friday, 5 lambda per week.

    Derivation. Session starts are a Poisson process of rate lambda per day in active time, mapped onto
    Monday 00:00 - Saturday 00:00 of every week (time zero is a Monday 00:00). With fresh_login = 1 each
    session is a login, so a user's logins in a window of whole weeks [warmup, horizon] are
    Poisson(5 lambda * weeks): 5 lambda per week, 30 * 5 lambda / 7 per 30-day month; and no login falls
    on a Saturday or Sunday.
    SE: logins per user in the window (users i.i.d.); the metric must equal their mean.
    """
    result = simulate(
        policy={"absolute_lifetime": "1d", "access_token_lifetime": "1s"},
        activity={
            "schedule": "weekdays",
            "sessions_per_day": WD_RATE,
            "session_duration": "0s",
            "fresh_login": 1.0,
        },
        users=WD_USERS,
        horizon_days=WD_HORIZON,
        warmup_days=WD_WARMUP,
        seed=16,
    )
    chains = result.chains
    assert (chains["authorized_at_s"] % WEEK < 5 * DAY).all(), "a session started on a weekend"
    in_window = chains[chains["authorized_at_s"] >= result.scenario.warmup]
    weeks = (WD_HORIZON - WD_WARMUP) / 7
    estimate = mean_estimate(per_user(in_window, WD_USERS) / weeks)
    assert metric(result, "logins_per_user_month") * 7 / 30 == pytest.approx(estimate.value)
    assert_agrees("logins per user-week (weekdays)", estimate, 5 * WD_RATE)
