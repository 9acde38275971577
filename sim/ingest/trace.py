"""Reading a trace (the contract `tokensim ingest` writes; docs/replay-fit.md describes it).

`trace.parquet`: one row per reconstructed session, `user`, `device` (text), `start_s`, `end_s` (seconds
from the trace's origin, a Monday 00:00 in the trace's time zone, so that t = 0 is a Monday 00:00 as on
the simulator's clock). Key-value metadata: `tokensim_trace_format` (`1`), `origin` (ISO 8601),
`timezone`, `source_format`, `source_files` (JSON list), `parameters` (JSON).
`trace.users.parquet` beside it: one row per user, `user, devices, sessions, first_s, last_s, logins,
refreshes, refresh_failures` and `failures.<reason>` columns. `trace.summary.json`: the ingest summary.

A minimal reader for the replay and fit workflows: `read_trace(path) -> Trace`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sim.core.validation import ConfigError, Problem
from sim.scenario.trace_file import TraceFileError, trace_shape, users_path

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class TraceMetadata:
    """What a trace records about itself."""

    format_version: int
    origin: datetime | None
    timezone: str
    source_format: str
    source_files: tuple[str, ...]
    parameters: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Trace:
    """A trace read back: the sessions, the users and the metadata (and the summary, when beside it)."""

    sessions: pd.DataFrame
    users: pd.DataFrame
    metadata: TraceMetadata
    summary: dict | None

    @property
    def failure_reasons(self) -> list[str]:
        """The failure reasons the log gives (the users table's `failures.<reason>` columns)."""
        return [c.split(".", 1)[1] for c in self.users.columns if c.startswith("failures.")]


def summary_path(path: Path) -> Path:
    """`trace.parquet` -> `trace.summary.json`."""
    stem = path.name[: -len(".parquet")] if path.name.endswith(".parquet") else path.name
    return path.with_name(f"{stem}.summary.json")


def _metadata(raw: dict[bytes, bytes]) -> TraceMetadata:
    meta = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in raw.items()}
    origin = meta.get("origin")
    return TraceMetadata(
        format_version=int(meta.get("tokensim_trace_format", "1")),
        origin=datetime.fromisoformat(origin) if origin else None,
        timezone=meta.get("timezone", "UTC"),
        source_format=meta.get("source_format", ""),
        source_files=tuple(json.loads(meta.get("source_files", "[]"))),
        parameters=json.loads(meta.get("parameters", "{}")),
    )


def read_trace(path: Path | str) -> Trace:
    """Read a trace (`path` is the sessions file, `trace.parquet`); ConfigError naming the file otherwise."""
    import pyarrow.parquet as pq

    path = Path(path).absolute()
    try:
        trace_shape(str(path))
    except TraceFileError as exc:
        raise ConfigError([Problem((), str(exc))], source=str(path)) from None
    table = pq.read_table(path)
    sessions = table.select(["user", "device", "start_s", "end_s"]).to_pandas()
    users = pq.read_table(users_path(path)).to_pandas()
    if "user" not in users.columns:
        problem = Problem(("user",), "the users table has no user column")
        raise ConfigError([problem], source=str(users_path(path)))
    sessions["user"] = sessions["user"].astype(str)
    sessions["device"] = sessions["device"].astype(str)
    users["user"] = users["user"].astype(str)
    unknown = set(sessions["user"].unique()) - set(users["user"])
    if unknown:
        example = sorted(unknown)[0]
        message = f"{len(unknown)} user(s) with sessions are not in the users table, e.g. {example!r}"
        raise ConfigError([Problem(("user",), message)], source=str(path))
    summary_file = summary_path(path)
    summary = json.loads(summary_file.read_text(encoding="utf-8")) if summary_file.is_file() else None
    metadata = _metadata(table.schema.metadata or {})
    return Trace(sessions=sessions, users=users, metadata=metadata, summary=summary)
