"""A simulated scenario's sessions as a trace: the format `tokensim ingest` writes (docs/replay-fit.md).

Used to validate replay and fit on a known truth (tests/validation/test_replay_fit_round_trip.py) and to
make the shipped sample trace. One replication of every persona is simulated with the recorder's session
log on; each session becomes a row (`user` = `<persona>-<index>`, `device` = the device's index). The
users table counts each user's token events from the simulation's own tables: `logins` (chains started),
`refreshes` (successful refreshes of those chains), `refresh_failures` and `forced_logins` (forced
re-authentications: one failed refresh each, several racing tabs failing together count once) and one
`failures.<cause>` column per cause.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.core.durations import DAY, MONTH
from sim.core.output import write_atomic, write_text_atomic
from sim.core.reasons import FAILURE_REASONS
from sim.model.behaviour import simulate_users
from sim.model.recording import Recorder
from sim.model.replay import recorded_users
from sim.scenario.model import Scenario
from sim.scenario.trace_file import FORMAT_KEY, FORMAT_VERSION, UNTIL_KEY, users_path

#: The origin written into a simulated trace's metadata (a Monday 00:00, as t = 0 of the simulation).
ORIGIN = datetime(2024, 1, 1, tzinfo=UTC)

SESSION_SCHEMA = pa.schema(
    [("user", pa.string()), ("device", pa.string()), ("start_s", pa.float64()), ("end_s", pa.float64())]
)


def simulate_sessions(scenario: Scenario, replication: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sessions (`user, device, start_s, end_s`) and users table of one replication of a scenario."""
    sessions, users = [], []
    for persona in scenario.population:
        recorder = Recorder(horizon=scenario.horizon, session_log=True)
        simulate_users(
            scenario.policy,
            persona,
            scenario.horizon,
            scenario.seed,
            replication,
            range(persona.users),
            recorder,
            recorded=recorded_users(persona, scenario.seed, replication, 0, persona.users),
        )
        recorder.finish()
        assert recorder.sessions is not None
        rows = pd.DataFrame(recorder.sessions)
        names = np.array([f"{persona.name}-{i:06d}" for i in range(persona.users)], dtype=object)
        rows = pd.DataFrame(
            {
                "user": names[rows["user"].to_numpy(dtype=int)] if len(rows) else [],
                "device": rows["device"].astype(str) if len(rows) else [],
                "start_s": rows["start_s"].astype(float) if len(rows) else [],
                "end_s": rows["end_s"].astype(float) if len(rows) else [],
            }
        )
        sessions.append(rows)
        users.append(_users_table(names, rows, pd.DataFrame(recorder.chains), pd.DataFrame(recorder.reauths)))
    frame = pd.concat(sessions, ignore_index=True).sort_values(["user", "device", "start_s"], kind="stable")
    return frame.reset_index(drop=True), pd.concat(users, ignore_index=True)


def _users_table(names: np.ndarray, sessions: pd.DataFrame, chains: pd.DataFrame,
                 reauths: pd.DataFrame) -> pd.DataFrame:
    index = pd.Index(names, name="user")
    by_user = sessions.groupby("user")
    table = pd.DataFrame(index=index)
    table["devices"] = by_user["device"].nunique().reindex(index, fill_value=0)
    table["sessions"] = by_user.size().reindex(index, fill_value=0)
    table["first_s"] = by_user["start_s"].min().reindex(index)
    table["last_s"] = by_user["end_s"].max().reindex(index)
    chains = chains.assign(user=names[chains["user"].to_numpy(dtype=int)]) if len(chains) else chains
    reauths = reauths.assign(user=names[reauths["user"].to_numpy(dtype=int)]) if len(reauths) else reauths
    table["logins"] = chains.groupby("user").size().reindex(index, fill_value=0) if len(chains) else 0
    refreshes = chains.groupby("user")["refreshes"].sum() if len(chains) else pd.Series(dtype=int)
    table["refreshes"] = refreshes.reindex(index, fill_value=0)
    forced = reauths.groupby("user").size().reindex(index, fill_value=0) if len(reauths) else 0
    table["refresh_failures"] = forced
    table["forced_logins"] = forced
    for reason in FAILURE_REASONS:
        if len(reauths) and (reauths["cause"] == reason).any():
            counts = reauths[reauths["cause"] == reason].groupby("user").size()
            table[f"failures.{reason}"] = counts.reindex(index, fill_value=0)
    return table.reset_index().astype({c: "int64" for c in ("devices", "sessions", "logins", "refreshes",
                                                             "refresh_failures", "forced_logins")})


def write_trace(
    sessions: pd.DataFrame,
    users: pd.DataFrame,
    out: Path,
    *,
    source_format: str,
    source_files: list[str],
    parameters: dict,
    origin: datetime = ORIGIN,
    observed_until: float | None = None,
) -> Path:
    """Write `out` (the sessions), `<stem>.users.parquet` and `<stem>.summary.json` in the trace format."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        FORMAT_KEY: FORMAT_VERSION,
        "origin": origin.isoformat(),
        "timezone": "UTC",
        "source_format": source_format,
        "source_files": json.dumps(source_files),
        "parameters": json.dumps(parameters, sort_keys=True),
    }
    if observed_until is not None:
        metadata[UNTIL_KEY] = repr(float(observed_until))
    encoded = {k.encode(): v.encode() for k, v in metadata.items()}
    table = pa.Table.from_pandas(sessions[["user", "device", "start_s", "end_s"]], schema=SESSION_SCHEMA,
                                 preserve_index=False).replace_schema_metadata(encoded)
    users_table = pa.Table.from_pandas(users, preserve_index=False)
    users_table = users_table.replace_schema_metadata(encoded)
    write_atomic(out, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    write_atomic(users_path(out), lambda tmp: pq.write_table(users_table, tmp, compression="zstd"))
    summary = trace_summary(sessions, users, metadata)
    summary_file = out.with_name(users_path(out).name.replace(".users.parquet", ".summary.json"))
    write_text_atomic(summary_file, json.dumps(summary, indent=2) + "\n")
    return out


def trace_summary(sessions: pd.DataFrame, users: pd.DataFrame, metadata: dict) -> dict:
    """A few figures of a trace, as the ingest summary gives them."""
    until = metadata.get(UNTIL_KEY)
    latest = float(sessions["end_s"].max()) if len(sessions) else 0.0
    span_days = float(until) / DAY if until else float(np.ceil(latest / DAY))
    n_users = len(users)
    months = span_days * DAY / MONTH
    return {
        FORMAT_KEY: int(FORMAT_VERSION),
        "source": {"format": metadata["source_format"], "files": json.loads(metadata["source_files"])},
        "origin": metadata["origin"],
        "span_days": span_days,
        "users": n_users,
        "devices": int(users["devices"].sum()),
        "sessions": len(sessions),
        "sessions_per_user_day": len(sessions) / n_users / span_days if span_days else None,
        "forced_logins": {
            "count": int(users["forced_logins"].sum()),
            "per_user_month": float(users["forced_logins"].sum() / n_users / months) if months else None,
        },
    }


def simulate_trace(scenario: Scenario, out: Path, replication: int = 0, source: str | None = None) -> Path:
    """Simulate one replication of a scenario and write its sessions as a trace at `out` (trace.parquet)."""
    sessions, users = simulate_sessions(scenario, replication)
    policy = scenario.policy
    parameters = {
        "simulated": True,
        "scenario": scenario.name,
        "seed": scenario.seed,
        "replication": replication,
        "horizon_s": scenario.horizon,
    }
    if policy.fixed_access_token_lifetime is not None:
        parameters["access_token_lifetime_s"] = policy.fixed_access_token_lifetime
    return write_trace(sessions, users, out, source_format="tokensim-simulation",
                       source_files=[source] if source else [], parameters=parameters,
                       observed_until=scenario.horizon)
