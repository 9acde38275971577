"""Metric names, units and ranges: the public vocabulary of results (summary.json, tables, requirements).

A leaf module (no pandas, no numpy), so the scenario layer can check a requirement's metric name and the
command line can list metrics without loading the analysis. The meaning of each metric is in the README's
metrics table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.core.reasons import FAILURE_REASONS

#: The persona value that stands for the whole population.
ALL = "*"


@dataclass(frozen=True)
class MetricSpec:
    """A metric's public name, unit and one-line meaning (the README's metrics table)."""

    name: str
    unit: str
    description: str


CAUSES = FAILURE_REASONS

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("forced_reauth_per_user_month", "per user per month",
               "forced re-authentications (a refresh failed, the user had to log in again)"),
    *(
        MetricSpec(f"forced_reauth_per_user_month.{cause}", "per user per month",
                   f"forced re-authentications caused by {cause}")
        for cause in CAUSES
    ),
    MetricSpec("mid_session_reauth_per_user_month", "per user per month",
               "forced re-authentications that interrupted a session (an expiry during the session)"),
    MetricSpec("users_with_forced_reauth_share_monthly", "share of users",
               "share of users with at least one forced re-authentication in a 30-day month"),
    MetricSpec("logins_per_user_month", "per user per month",
               "authorizations of every kind (first, fresh, after logout, new device, forced)"),
    MetricSpec("rejected_logins_per_user_month", "per user per month",
               "logins refused at the cap (on_cap: reject_new)"),
    MetricSpec("sessions_per_user_month", "per user per month", "sessions started (all devices)"),
    MetricSpec("refresh_requests_per_user_month", "per user per month",
               "refresh-token requests sent to the token endpoint, failed ones included"),
    MetricSpec("failed_refresh_share", "share of refresh requests", "refresh requests that failed"),
    MetricSpec("evictions_per_user_month", "per user per month", "chains evicted by the per-user cap"),
    MetricSpec("active_chains_per_user", "chains per user",
               "valid chains a user holds, time-averaged over the window"),
    MetricSpec("active_chains_peak", "chains",
               "most valid chains held on the server at once (whole population or persona)"),
    MetricSpec("active_chains_per_user_max", "chains", "most valid chains any one user held at once"),
    MetricSpec("chain_lifetime_days_mean", "days",
               "mean lifetime of chains authorized in the window that ended (censored excluded)"),
    MetricSpec("chain_lifetime_days_median", "days",
               "Kaplan-Meier median lifetime of chains authorized in the window (censored at the horizon)"),
    MetricSpec("chains_censored_share", "share of chains",
               "chains authorized in the window still valid at the horizon"),
    MetricSpec("token_requests_per_second_peak", "requests per second",
               "token-endpoint requests (logins and refreshes) in the busiest minute, divided by 60"),
    MetricSpec("attacker_dwell_days_mean", "days",
               "how long an attacker holds a working token after a theft (Kaplan-Meier mean, restricted "
               "to the longest observed dwell)"),
    MetricSpec("attacker_dwell_days_p95", "days",
               "95th percentile of the attacker's dwell (Kaplan-Meier; null when not reached)"),
    MetricSpec("theft_detected_share", "share of thefts", "thefts ended by reuse detection"),
    MetricSpec("thefts_active_at_horizon_share", "share of thefts",
               "thefts whose attacker still holds a working refresh token at the horizon (censored)"),
    MetricSpec("victim_reauths_per_theft", "per theft",
               "the victim's forced re-authentications caused by the attacker's use of the chain"),
    MetricSpec("revocation_lag_minutes_mean", "minutes",
               "remaining lifetime of access tokens still valid when their chain is revoked (logout, "
               "password change, eviction, family revocation)"),
    MetricSpec("revocation_lag_minutes_p95", "minutes", "95th percentile of that remaining lifetime"),
    MetricSpec("stored_rows_mean", "rows",
               "rows in the token store (valid chains, retained consumed tokens, rows awaiting cleanup), "
               "time-averaged over the window"),
    MetricSpec("stored_rows_peak", "rows", "most rows in the token store at any minute of the window"),
    MetricSpec("stored_bytes_peak", "bytes", "stored_rows_peak times storage.row_bytes"),
    MetricSpec("stored_rows_per_1000_users_mean", "rows per 1,000 users", "stored_rows_mean per 1,000 users"),
)
METRIC_UNITS = {m.name: m.unit for m in METRICS}


def metric_range(name: str) -> tuple[float, float]:
    """The values a metric can take: every metric is a count, rate, duration or size (>= 0); a share
    is also at most 1. Confidence intervals are cut to this range (sim.analysis.stats.mean_ci)."""
    return (0.0, 1.0) if METRIC_UNITS[name].startswith("share") else (0.0, math.inf)


#: The headline metrics of a run, with their labels in tables: what `tokensim run` prints, `compare`
#: compares and a report puts first.
HEADLINE: tuple[tuple[str, str], ...] = (
    ("forced_reauth_per_user_month", "forced re-auths / user / month"),
    ("mid_session_reauth_per_user_month", "  of which mid-session"),
    ("users_with_forced_reauth_share_monthly", "users forced in a month (share)"),
    ("logins_per_user_month", "logins / user / month"),
    ("refresh_requests_per_user_month", "refresh requests / user / month"),
    ("evictions_per_user_month", "evictions / user / month"),
    ("active_chains_per_user", "active chains / user"),
    ("active_chains_peak", "active chains, peak"),
    ("chain_lifetime_days_median", "chain lifetime, median (days)"),
    ("token_requests_per_second_peak", "token requests / s, busiest minute"),
)


def is_share(name: str) -> bool:
    """True for a metric that is a share (shown as a percentage)."""
    return METRIC_UNITS.get(name, "").startswith("share")
