"""The exported logs follow each vendor's schema, and the event log changes nothing when it is off."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from sim.cli.main import main
from sim.ingest.export import FILE_NAMES, export_events
from sim.run.runner import run_scenario
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "stolen-tokens.yaml"

#: Required properties of each Auth0 log type, from auth0/auth0-log-schemas
#: (schemas/log-types/<type>.schema.json, "required").
_AUTH0_COMMON = {
    "client_name",
    "description",
    "details",
    "environment_name",
    "ip",
    "log_id",
    "tenant_name",
    "type",
}
AUTH0_REQUIRED = {
    "s": _AUTH0_COMMON | {"hostname", "strategy", "strategy_type"},
    "seacft": _AUTH0_COMMON | {"audience", "hostname"},
    "sertft": _AUTH0_COMMON | {"audience"},
    "fertft": _AUTH0_COMMON | {"audience", "hostname"},
    "ferrt": _AUTH0_COMMON | {"audience", "hostname"},
    "slo": _AUTH0_COMMON | {"hostname"},
}
#: Okta's LogEvent: the properties the System Log API marks required.
OKTA_REQUIRED = {"uuid", "published", "eventType", "version", "severity", "actor"}
KEYCLOAK_FIELDS = {"time", "type", "realmId", "clientId", "userId", "sessionId", "ipAddress", "details"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A small run of a scenario with thefts (attackers' refreshes too), with and without the event log."""
    scenario = load_scenario(SCENARIO).with_overrides(replications=1, users_scale=0.05)
    scenario = scenario.model_copy(update={"horizon": 30 * 86400.0, "warmup": 0.0})
    with run_scenario(scenario, workers=1, events=True) as on, run_scenario(scenario, workers=1) as off:
        batches = list(on.event_batches())
        tables = {n: (getattr(on, n).copy(), getattr(off, n).copy()) for n in ("chains", "reauths", "thefts")}
        series = (
            on.timeseries.copy(),
            off.timeseries.copy(),
            on.replication_metrics,
            off.replication_metrics,
        )
        assert list(off.event_batches()) == []
    return scenario, batches, tables, series, tmp_path_factory.mktemp("export")


def test_recorded_tables_are_unchanged_by_the_event_log(run) -> None:
    _, batches, tables, series, _ = run
    for name, (on, off) in tables.items():
        pd.testing.assert_frame_equal(on, off, check_exact=True, obj=name)
    pd.testing.assert_frame_equal(series[0], series[1], check_exact=True)
    pd.testing.assert_frame_equal(series[2], series[3], check_exact=True)
    events = pa.Table.from_batches(batches).to_pandas()
    assert set(events.kind) == {"login", "refresh", "logout", "session", "attacker_refresh"}
    # the event log counts what the recorder's hourly counts count
    requests = events[events.kind.isin(["login", "refresh", "attacker_refresh"])]
    assert len(requests[requests.kind != "login"]) == int(series[0].refreshes.sum())
    assert len(requests[requests.kind == "login"]) == int(series[0].authorizations.sum())
    assert (events.kind == "session").sum() == int(series[0].sessions.sum())


def test_auth0_events_have_the_schemas_required_properties(run) -> None:
    scenario, batches, _, _, directory = run
    path = export_events(batches, "auth0", directory / FILE_NAMES["auth0"], scenario.policy)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    seen = set()
    for record in records:
        seen.add(record["type"])
        assert AUTH0_REQUIRED[record["type"]] <= set(record), record["type"]
        assert record["date"].endswith("Z") and len(record["date"]) == 24
    assert {"s", "seacft", "sertft"} <= seen
    if "ferrt" in seen:
        ferrt = next(r for r in records if r["type"] == "ferrt")
        assert {"familyId", "latestCounter", "tokenCounter"} <= set(ferrt["details"])


def test_okta_and_keycloak_events_have_their_fields(run) -> None:
    scenario, batches, _, _, directory = run
    okta = export_events(batches, "okta", directory / FILE_NAMES["okta"], scenario.policy)
    for line in okta.read_text().splitlines():
        record = json.loads(line)
        assert set(record) >= OKTA_REQUIRED
        assert record["outcome"]["result"] in ("SUCCESS", "FAILURE")
    keycloak = export_events(batches, "keycloak", directory / FILE_NAMES["keycloak"], scenario.policy)
    types = set()
    for line in keycloak.read_text().splitlines():
        record = json.loads(line)
        assert set(record) >= KEYCLOAK_FIELDS and isinstance(record["time"], int)
        types.add(record["type"])
        if record["type"] == "REFRESH_TOKEN_ERROR":
            assert record["userId"] is None and record["error"] == "invalid_token"
    assert {"LOGIN", "CODE_TO_TOKEN", "REFRESH_TOKEN"} <= types


def test_identityserver_rows_are_a_grant_table(run) -> None:
    scenario, batches, _, _, directory = run
    path = export_events(batches, "identityserver", directory / FILE_NAMES["identityserver"], scenario.policy)
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and set(rows[0]) >= {"Key", "Type", "SubjectId", "SessionId", "ClientId", "CreationTime",
                                     "Expiration", "ConsumedTime"}  # fmt: skip
    assert len({r["Key"] for r in rows}) == len(rows)
    assert all(r["Type"] == "refresh_token" and r["CreationTime"] < r["Expiration"] for r in rows)


def test_the_same_run_writes_the_same_log(run) -> None:
    scenario, batches, _, _, directory = run
    first = export_events(batches, "csv", directory / "a.csv", scenario.policy).read_bytes()
    assert export_events(batches, "csv", directory / "b.csv", scenario.policy).read_bytes() == first


def test_run_events_option_writes_the_log_and_ingest_reads_it(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    scenario = str(ROOT / "scenarios" / "office-workers.yaml")
    assert main(["run", scenario, "--out", str(out), "--replications", "1", "--users-scale", "0.005",
                 "--workers", "1", "--quiet", "--events", "okta"]) == 0  # fmt: skip
    log = out / "events.okta.jsonl"
    assert log.is_file() and (out / "chains.parquet").is_file()
    trace = tmp_path / "trace.parquet"
    assert main(["ingest", str(log), "--format", "okta", "--out", str(trace)]) == 0
    assert "sessions per user-day" in capsys.readouterr().out
    assert main(["ingest", str(log), "--format", "okta", "--out", str(trace)]) == 2
    assert "use --force" in capsys.readouterr().err
    assert (
        main(["ingest", str(log), "--format", "okta", "--out", str(trace), "--force", "--session-gap", "1x"])
        == 2
    )
    assert "--session-gap" in capsys.readouterr().err
