"""Round trip: simulate a known scenario with the event log on, export it in every format, ingest it.

What each format carries decides what comes back exactly (docs/ingest.md, "What each format carries"):
- logins and refreshes per user: exact in every format (IdentityServer: refreshes are the rotations
  of its one-time tokens, so exact here because the scenario rotates);
- failed refreshes and forced logins per user: exact in the generic CSV, Auth0 and Okta; Keycloak
  names neither user nor session on an expired (or unknown) refresh token, so those come back as
  skipped rows, exactly as many as the simulation had; IdentityServer's table records no failures;
- sessions: a log only sees token requests, so a session that starts while the device's access token
  is still valid leaves no trace and merges with the one before. The expected count is worked out from
  the simulated session starts and requests, independently of the ingest code.
The scenario has one tab per device (racing tabs make several failures per forced login) and no
threats, so the forced logins are exactly the simulated forced re-authentications.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pyarrow as pa
import pytest

from sim.core.reasons import ABSOLUTE_EXPIRY, SLIDING_EXPIRY, UNKNOWN_TOKEN
from sim.ingest import FORMATS
from sim.ingest.export import FILE_NAMES, export_events, user_id
from sim.ingest.pipeline import IngestOptions, ingest
from sim.ingest.trace import read_trace
from sim.run.runner import run_scenario
from sim.scenario import load_scenario

ACCESS = 3600.0
GAP = 600.0
SCENARIO = """
name: round-trip
seed: 20240101
horizon: 35d
warmup: 0d
replications: 1
policy:
  refresh_token_usage: one_time
  absolute_lifetime: 20d
  sliding_lifetime: 3d
  access_token_lifetime: 1h
  on_reuse: revoke_family
population:
  - name: staff
    users: 16
    devices: {uniform: {low: 1, high: 2}}
    activity:
      schedule: weekdays
      sessions_per_day: 1.5
      session_duration: {lognormal: {median: 90m, sigma: 0.7}}
    faults: {lost_refresh_response: 0.01}
    lifecycle: {password_changes_per_year: 8, logout_at_session_end: 0.1, device_replaced_per_year: 1}
"""
EXPIRED = {ABSOLUTE_EXPIRY, SLIDING_EXPIRY, UNKNOWN_TOKEN}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The simulation, its event rows, and a trace per format."""
    directory = tmp_path_factory.mktemp("round-trip")
    path = directory / "scenario.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    scenario = load_scenario(path)
    with run_scenario(scenario, workers=1, events=True) as result:
        batches = list(result.event_batches())
        events = pa.Table.from_batches(batches).to_pandas()
        reauths = result.reauths.copy()
        sessions_simulated = result.sessions
    traces = {}
    for fmt in FORMATS:
        log = export_events(batches, fmt, directory / FILE_NAMES[fmt], scenario.policy)
        device_by = "client_ip" if fmt in ("keycloak", "auth0", "okta") else "session"
        out = directory / f"{fmt}.parquet"
        ingest(
            [log],
            out,
            IngestOptions(format=fmt, access_token_lifetime=ACCESS, session_gap=GAP, device_by=device_by),
        )
        traces[fmt] = read_trace(out)
    return events, reauths, sessions_simulated, traces


def per_user(frame: pd.DataFrame, fmt: str) -> Counter:
    return Counter(user_id(fmt, 0, "staff", int(u)) for u in frame["user"])


def trace_counts(trace, column: str) -> Counter:
    users = trace.users
    return Counter({u: int(n) for u, n in zip(users["user"], users[column], strict=True) if n})


def test_the_scenario_exercises_every_path(world) -> None:
    events, reauths, _, _ = world
    failed = events[(events.kind == "refresh") & (events.outcome == "failed")]
    assert {"consumed", "revoked", "sliding_expiry"} <= set(failed.reason)
    assert (events.kind == "logout").sum() > 0 and len(reauths) > 10


@pytest.mark.parametrize("fmt", FORMATS)
def test_logins_and_refreshes_per_user_come_back_exactly(world, fmt: str) -> None:
    events, _, _, traces = world
    trace = traces[fmt]
    logins = events[(events.kind == "login") & (events.outcome == "ok")]
    refreshes = events[(events.kind == "refresh") & events.outcome.isin(["ok", "grace"])]
    assert trace_counts(trace, "logins") == per_user(logins, fmt)
    assert trace_counts(trace, "refreshes") == per_user(refreshes, fmt)


@pytest.mark.parametrize("fmt", ["csv", "auth0", "okta"])
def test_failures_and_forced_logins_come_back_exactly(world, fmt: str) -> None:
    events, reauths, _, traces = world
    trace = traces[fmt]
    failed = events[(events.kind == "refresh") & (events.outcome == "failed")]
    assert trace_counts(trace, "refresh_failures") == per_user(failed, fmt)
    assert trace_counts(trace, "forced_logins") == per_user(reauths, fmt)


def test_failure_reasons_in_each_vendors_words(world) -> None:
    events, _, _, traces = world
    failed = events[(events.kind == "refresh") & (events.outcome == "failed")]
    by_reason = Counter(failed.reason)
    assert traces["csv"].summary["refresh_failures"]["by_reason"] == dict(by_reason)
    auth0 = traces["auth0"].summary["refresh_failures"]["by_reason"]
    assert auth0.get("reuse_detected", 0) == by_reason["consumed"]
    assert sum(auth0.values()) == len(failed)
    keycloak = traces["keycloak"].summary["refresh_failures"]["by_reason"]
    assert keycloak.get("maximum_allowed_refresh_token_reuse_exceeded", 0) == by_reason["consumed"]
    assert (
        keycloak.get("session_not_active", 0)
        == by_reason["revoked"] + by_reason["logout"] + by_reason["evicted"]
    )


def test_keycloak_loses_exactly_the_refresh_errors_that_name_no_session(world) -> None:
    events, reauths, _, traces = world
    trace = traces["keycloak"]
    failed = events[(events.kind == "refresh") & (events.outcome == "failed")]
    anonymous = failed.reason.isin(EXPIRED)
    assert trace.summary["rows"]["skipped"] == {
        "userId: missing, and no sessionId to find the user by": int(anonymous.sum())
    }
    assert trace_counts(trace, "refresh_failures") == per_user(failed[~anonymous], "keycloak")
    assert trace_counts(trace, "forced_logins") == per_user(reauths[~reauths.cause.isin(EXPIRED)], "keycloak")


def test_identityserver_has_no_failures(world) -> None:
    _, _, _, traces = world
    assert traces["identityserver"].summary["events"]["refresh_failed"] == 0


def expected_sessions(events: pd.DataFrame) -> int:
    """Reconstructed sessions expected from the simulated session starts and token requests.

    A simulated session starts a reconstructed one when its device made no request before, or its last
    request was a logout, or was more than A + G before it; any other session either made no request
    (its access token was still valid) or its first request came within A + G of the last one.
    """
    count = 0
    for _, rows in events.sort_values(["at_s"], kind="stable").groupby(["user", "device"]):
        last, last_kind = None, None
        for kind, t in zip(rows.kind, rows.at_s, strict=True):
            if kind == "session":
                if last is None or last_kind == "logout" or t - last > ACCESS + GAP:
                    count += 1
            else:
                last, last_kind = t, kind
    return count


def reference_sessions(requests: pd.DataFrame) -> list[tuple[float, float]]:
    """(start, end) of the sessions the rules give for these simulated requests (times to the ms)."""
    found = []
    for _, rows in requests.sort_values(["at_s"], kind="stable").groupby(["user", "device"]):
        start = last = last_kind = None
        for kind, t in zip(rows.kind, rows.at_s.round(3), strict=True):
            if start is not None and (last_kind == "logout" or t - last > ACCESS + GAP):
                found.append((start, round(last + (0 if last_kind == "logout" else ACCESS), 3)))
                start = None
            start = t if start is None else start
            last, last_kind = t, kind
        found.append((start, round(last + (0 if last_kind == "logout" else ACCESS), 3)))
    return sorted(found)


def trace_sessions(trace) -> list[tuple[float, float]]:
    return sorted(zip(trace.sessions.start_s.round(3), trace.sessions.end_s.round(3), strict=True))


def test_sessions_match_the_requests_the_simulation_made(world) -> None:
    events, _, simulated, traces = world
    requests = events[events.kind != "session"]
    assert len(traces["csv"].sessions) == expected_sessions(events)
    assert len(traces["csv"].sessions) < simulated  # sessions without a request are invisible in any log
    for fmt in ("csv", "auth0", "okta"):  # devices by client and IP address for the vendor logs
        assert trace_sessions(traces[fmt]) == reference_sessions(requests), fmt
    # Keycloak's anonymous refresh errors are not in its trace: a session that began with one (a
    # lost response retried, say) begins at the next request
    visible = ~((requests.kind == "refresh") & (requests.outcome == "failed") & requests.reason.isin(EXPIRED))
    assert trace_sessions(traces["keycloak"]) == reference_sessions(requests[visible])


def test_devices_come_back_from_client_and_ip(world) -> None:
    events, _, _, traces = world
    requests = events[events.kind != "session"]
    devices = requests.groupby("user").device.nunique()
    for fmt in ("csv", "keycloak", "auth0", "okta"):
        got = dict(zip(traces[fmt].users.user, traces[fmt].users.devices, strict=True))
        assert got == {user_id(fmt, 0, "staff", int(u)): int(n) for u, n in devices.items()}, fmt


def test_t_zero_is_the_simulators_monday(world) -> None:
    events, _, _, traces = world
    first_login = events[events.kind == "login"].at_s.min()
    assert traces["csv"].metadata.origin.isoformat() == "2024-01-01T00:00:00+00:00"
    assert abs(traces["csv"].sessions.start_s.min() - first_login) < 1e-3
