"""The issue's round trip: simulate a known scenario, take its sessions as a trace, then
(a) replaying the trace under the same policy reproduces forced re-authentications per user-month and
    their causes, and
(b) fitting personas to the trace recovers sessions per day, the session-duration median and devices
    per user,
each within intervals from the sampling error (never tuned).

The trace is built from the simulation's own session log (sim/fit/synthetic.py), and, for the replay,
also the way a team builds it: the simulated token events exported as each vendor's log and read back by
`tokensim ingest`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.core.metric_names import ALL
from sim.experiments.run import run
from sim.fit.fit import fit_trace
from sim.fit.scenario import write_scenario
from sim.fit.synthetic import simulate_trace
from sim.ingest import FORMATS
from sim.ingest.export import FILE_NAMES, export_events
from sim.ingest.pipeline import IngestOptions, ingest
from sim.run.runner import run_scenario
from sim.scenario import scenario_from_dict

#: The checks hold at the 99.9% level (two-sided), so together they fail by chance rarely.
Z = stats.norm.ppf(0.9995)
#: 95% intervals are half-widths of 1.96 standard errors.
Z95 = stats.norm.ppf(0.975)

OFFICE = {
    "name": "office",
    "users": 300,
    "devices": {"empirical": {"values": [1, 2, 3], "weights": [0.5, 0.3, 0.2]}},
    "activity": {"schedule": "weekdays", "sessions_per_day": 2,
                 "session_duration": {"lognormal": {"median": "1h", "sigma": 0.8}}},
    "absences": {"per_year": 3, "duration": {"uniform": {"low": "7d", "high": "21d"}}},
}
WEEKLY = {
    "name": "weekly",
    "users": 150,
    "activity": {"schedule": "always", "sessions_per_day": 0.15,
                 "session_duration": {"exponential": {"mean": "10m"}}},
}


def _within(estimate: float, truth: float, low: float, high: float) -> bool:
    """`truth` is within Z standard errors of `estimate`, the error read off its 95% interval."""
    error = (high - low) / (2 * Z95)
    return abs(estimate - truth) <= Z * error


@pytest.mark.slow
def test_fit_recovers_the_known_personas(tmp_path: Path) -> None:
    truth = scenario_from_dict({"name": "truth", "seed": 11, "horizon": "150d", "policy": {},
                                "population": [OFFICE, WEEKLY]})
    trace = simulate_trace(truth, tmp_path / "truth.parquet")
    fit = fit_trace(trace, personas=2, seed=3)
    # the clusters are the two personas
    members = pd.crosstab(fit.features["user"].str.split("-").str[0], fit.features["persona"])
    assert (members.to_numpy() > 0).sum(axis=1).tolist() == [1, 1], members
    office, weekly = fit.personas  # the most active first
    assert len(office.users) == 300 and len(weekly.users) == 150

    assert office.schedule.chosen.name == "weekdays"
    assert _within(office.schedule.sessions_per_day, 2.0, *office.schedule.sessions_per_day_ci)
    assert office.duration.kind == "lognormal"
    assert _within(office.duration.median, 3600.0, *office.duration.median_ci)
    assert _within(office.devices.mean, 1.7, *office.devices.mean_ci)
    observed = np.array(office.devices.weights)
    assert office.devices.values == [1, 2, 3]
    expected = observed.sum() * np.array([0.5, 0.3, 0.2])
    assert stats.chisquare(observed, expected).pvalue > 2 * (1 - stats.norm.cdf(Z))
    assert office.absences.count > 0

    assert weekly.schedule.chosen.name == "always"
    assert _within(weekly.schedule.sessions_per_day, 0.15, *weekly.schedule.sessions_per_day_ci)
    assert weekly.duration.kind == "exponential"
    assert _within(weekly.duration.median, 600.0 * math.log(2), *weekly.duration.median_ci)
    assert weekly.devices.values == [1]

    # the fitted scenario loads, and says what was fitted
    scenario = write_scenario(fit.scenario_config({"preset": "okta"}), tmp_path / "fitted.yaml")
    fitted = {p.name: p for p in scenario.population}
    assert fitted["daily"].activity.schedule == "weekdays"
    daily = fitted["daily"]
    assert daily.activity.sessions_per_day == pytest.approx(office.schedule.sessions_per_day, rel=1e-3)
    assert daily.devices.mean == pytest.approx(office.devices.mean)
    mean = weekly.duration.median / math.log(2)
    assert fitted["weekly"].activity.session_duration.mean == pytest.approx(mean, rel=1e-2)


POLICY = {"preset": "visma_connect", "sliding_lifetime": "7d"}
CLIENT = {
    "faults": {"lost_refresh_response": 0.01},
    "lifecycle": {"logout_at_session_end": 0.05, "password_changes_per_year": 4},
}
CAUSES = ("sliding_expiry", "consumed", "revoked")


METRICS = ("forced_reauth_per_user_month", *(f"forced_reauth_per_user_month.{c}" for c in CAUSES),
           "users_with_forced_reauth_share_monthly")


#: The figures the policy decides (the other causes follow fault and password-change draws, which one
#: replication of the source has too few of to pin down).
TEETH = ("forced_reauth_per_user_month", "forced_reauth_per_user_month.sliding_expiry")
#: Replications of a replay: enough for its variance estimate (the tolerances use Student's t on R - 1
#: degrees of freedom, since that variance is estimated from the R replications themselves).
REPLAYS = 8


def _tolerance(replayed: np.ndarray, others: np.ndarray | None = None) -> float:
    """Z standard errors of (replay mean - a reference), at the 99.9% level with t on R - 1 degrees of
    freedom: the replay's mean error s_r^2 / R, one population's spread s_r^2 (the reference is one
    population, or the mean of `others` replications of the scenario, adding s_o^2 / R)."""
    r = len(replayed)
    variance = replayed.var(ddof=1) / r + replayed.var(ddof=1)
    if others is not None:
        variance += others.var(ddof=1) / len(others)
    return float(stats.t.ppf(0.9995, r - 1) * math.sqrt(variance))


def _everyone(scenario: object) -> pd.DataFrame:
    with run(scenario, workers=2) as result:  # type: ignore[arg-type]
        frame = result.replication_metrics
        return frame[frame["persona"] == ALL].reset_index(drop=True)


@pytest.mark.slow
def test_replaying_the_trace_reproduces_forced_reauthentications(tmp_path: Path) -> None:
    """Two checks, each against the sampling error of what it compares.

    1. The trace's own population replayed as recorded (other seed: other faults) against the replication
       that made the trace: the same users and sessions, so they differ only by the faults, whose
       variance the replay's replications estimate: the difference has variance s_r^2 / R + s_r^2.
    2. The scenario (R replications, new users each) against the trace replayed with `users: N`
       (bootstrap, R replications): the replay's expectation is the trace population's, which differs
       from the scenario's by that population's sampling error, estimated by the spread of the
       bootstrap replications (each is one population of N drawn from the trace), so the difference has
       variance s_o^2 / R + s_r^2 / R + s_r^2.
    """
    users, replications = 300, REPLAYS
    office = {**OFFICE, "users": users, **CLIENT}
    base = {"name": "known", "horizon": "120d", "warmup": "30d", "policy": POLICY}
    source = scenario_from_dict({**base, "seed": 99, "replications": 1, "population": [office]})
    trace = simulate_trace(source, tmp_path / "trace.parquet")  # replication 0 of `source`
    made_it = _everyone(source)

    def replay(users_key: dict[str, object]) -> pd.DataFrame:
        persona = {"name": "office", **users_key, "activity": {"trace": str(trace)}, **CLIENT}
        return _everyone(scenario_from_dict({**base, "seed": 22, "replications": replications,
                                             "population": [persona]}))

    recorded = replay({})
    for metric in METRICS:
        m0, r = made_it[metric].iloc[0], recorded[metric].to_numpy()
        assert m0 > 0, metric
        tolerance = _tolerance(r)
        assert abs(r.mean() - m0) <= tolerance, (metric, m0, r.mean(), tolerance)
        if metric in TEETH:  # a check with teeth: faults alone make them differ
            assert tolerance < 0.25 * m0, (metric, m0, tolerance)

    original = _everyone(scenario_from_dict({**base, "seed": 21, "replications": replications,
                                             "population": [office]}))
    bootstrapped = replay({"users": users})
    for metric in METRICS:
        o, r = original[metric].to_numpy(), bootstrapped[metric].to_numpy()
        tolerance = _tolerance(r, o)
        assert abs(r.mean() - o.mean()) <= tolerance, (metric, o.mean(), r.mean(), tolerance)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object], pd.DataFrame]:
    """The known scenario with its token events on (one replication), its metrics, and its event batches
    written as every vendor's log."""
    folder = tmp_path_factory.mktemp("exported")
    office = {**OFFICE, "users": 300, **CLIENT}
    base = {"name": "known", "horizon": "120d", "warmup": "30d", "policy": POLICY}
    source = scenario_from_dict({**base, "seed": 99, "replications": 1, "population": [office]})
    with run_scenario(source, workers=2, events=True) as result:
        batches = list(result.event_batches())
        frame = result.replication_metrics
        made_it = frame[frame["persona"] == ALL].reset_index(drop=True)
    for fmt in FORMATS:
        export_events(batches, fmt, folder / FILE_NAMES[fmt], source.policy)
    return folder, base, made_it


@pytest.mark.slow
@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "identityserver"])
def test_replaying_an_ingested_log_reproduces_forced_reauthentications(
    exported: tuple[Path, dict[str, object], pd.DataFrame], fmt: str
) -> None:
    """The whole path a team takes: the simulated users' token events exported as a vendor's log,
    `ingest`, then the trace replayed under the same policy (other seed: other faults) against the
    replication that made the log, with the tolerance of check 1 above. Not IdentityServer's table: it
    has no device, only a `SessionId` per login, so every forced login starts a new device and the
    replay cannot see it as forced (docs/ingest.md, "What comes back on a round trip")."""
    folder, base, made_it = exported
    trace = folder / f"{fmt}.parquet"
    device_by = "client_ip" if fmt in ("keycloak", "auth0", "okta") else "session"
    ingest([folder / FILE_NAMES[fmt]], trace, IngestOptions(
        format=fmt, access_token_lifetime=3600.0, device_by=device_by))  # Visma: 1 h
    persona = {"name": "office", "activity": {"trace": str(trace)}, **CLIENT}
    replayed = _everyone(scenario_from_dict({**base, "seed": 22, "replications": REPLAYS,
                                             "population": [persona]}))
    for metric in METRICS:
        m0, r = made_it[metric].iloc[0], replayed[metric].to_numpy()
        tolerance = _tolerance(r)
        assert abs(r.mean() - m0) <= tolerance, (fmt, metric, m0, r.mean(), tolerance)
        if metric in TEETH:
            assert tolerance < 0.25 * m0, (fmt, metric, m0, tolerance)
