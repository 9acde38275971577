"""The trace format (a contract: the replay and fit workflows read it) and its reader.

`trace.parquet`, the sessions: one row per reconstructed session, columns `user` (string), `device`
(string), `start_s`, `end_s` (float64, seconds from the trace's origin). The origin is the Monday 00:00,
in the trace's time zone, on or before the first event, so that t = 0 is a Monday 00:00 as on the
simulator's clock (sim/model/schedule.py). `start_s` is local wall-clock time since the origin (so
`start_s mod 604800` is the local weekday and time of day, across daylight-saving changes);
`end_s - start_s` is the session's real duration. Rows of one user are contiguous, in (device,
start_s) order.

`trace.users.parquet`: one row per user: `user`, `devices`, `sessions`, `first_s`, `last_s` (the user's
first and last event, as `start_s`), `logins`, `refreshes`, `refresh_failures`, `forced_logins`, and
one `failures.<reason>` column per failure reason the log gives (counts of failed refreshes).

`trace.summary.json`: the ingest summary (sim/ingest/pipeline.py `_summary`).

Both Parquet files carry key-value metadata: `tokensim_trace_format` (`1`), `origin` (ISO 8601 with
its offset), `timezone` (IANA name), `source_format`, `source_files` (a JSON list) and `parameters`
(JSON: session gap, access-token lifetime, device key, forced-login window, strict).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from sim.core.validation import ConfigError, Problem
from sim.ingest.options import IngestOptions

if TYPE_CHECKING:
    import pandas as pd

FORMAT_VERSION = 1

SESSION_SCHEMA = pa.schema(
    [
        pa.field("user", pa.string(), nullable=False),
        pa.field("device", pa.string(), nullable=False),
        pa.field("start_s", pa.float64(), nullable=False),
        pa.field("end_s", pa.float64(), nullable=False),
    ]
)
#: The users table's fixed columns (then one `failures.<reason>` column per reason).
USER_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("user", pa.string()),
    ("devices", pa.int64()),
    ("sessions", pa.int64()),
    ("first_s", pa.float64()),
    ("last_s", pa.float64()),
    ("logins", pa.int64()),
    ("refreshes", pa.int64()),
    ("refresh_failures", pa.int64()),
    ("forced_logins", pa.int64()),
)


def user_schema(reasons: Sequence[str]) -> pa.Schema:
    """The users table's schema for the given failure reasons."""
    return pa.schema([*USER_COLUMNS, *((f"failures.{reason}", pa.int64()) for reason in reasons)])


def companion_paths(out: Path) -> tuple[Path, Path]:
    """`trace.parquet` -> (`trace.users.parquet`, `trace.summary.json`)."""
    stem = out.name[: -len(".parquet")] if out.name.endswith(".parquet") else out.name
    return out.with_name(f"{stem}.users.parquet"), out.with_name(f"{stem}.summary.json")


def trace_metadata(
    origin: datetime, options: IngestOptions, source_format: str, files: Sequence[Path]
) -> dict:
    """The Parquet key-value metadata of a trace (bytes values, as Arrow wants them)."""
    values = {
        "tokensim_trace_format": str(FORMAT_VERSION),
        "origin": origin.isoformat(),
        "timezone": options.timezone,
        "source_format": source_format,
        "source_files": json.dumps([str(f) for f in files]),
        "parameters": json.dumps(parameters_of(options), sort_keys=True),
    }
    return {key.encode(): value.encode() for key, value in values.items()}


def parameters_of(options: IngestOptions) -> dict:
    """The reconstruction parameters as a trace records them (seconds)."""
    return {
        "session_gap_s": options.session_gap,
        "access_token_lifetime_s": options.access_token_lifetime,
        "device_by": options.device_by,
        "forced_login_window_s": options.forced_login_window,
        "strict": options.strict,
    }


@dataclass(frozen=True)
class TraceMetadata:
    """What a trace records about itself."""

    format_version: int
    origin: datetime
    timezone: str
    source_format: str
    source_files: tuple[str, ...]
    parameters: dict


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


def read_metadata(path: Path) -> TraceMetadata:
    """The metadata of a trace file (ConfigError naming the file when it is not a trace)."""
    import pyarrow.parquet as pq

    try:
        raw = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid) as exc:
        raise ConfigError([Problem((), f"not a Parquet file ({exc})")], source=str(path)) from None
    meta = {k.decode(): v.decode() for k, v in raw.items()}
    version = meta.get("tokensim_trace_format")
    if version is None:
        raise ConfigError(
            [
                Problem(
                    (),
                    "not a tokensim trace (no tokensim_trace_format in its metadata); "
                    "make one with `tokensim ingest`",
                )
            ],
            source=str(path),
        )
    if version != str(FORMAT_VERSION):
        raise ConfigError(
            [
                Problem(
                    ("tokensim_trace_format",),
                    f"version {version} is not supported (this tokensim reads {FORMAT_VERSION})",
                )
            ],
            source=str(path),
        )
    return TraceMetadata(
        format_version=int(version),
        origin=datetime.fromisoformat(meta["origin"]),
        timezone=meta["timezone"],
        source_format=meta["source_format"],
        source_files=tuple(json.loads(meta["source_files"])),
        parameters=json.loads(meta["parameters"]),
    )


def read_trace(path: Path | str) -> Trace:
    """Read a trace written by `tokensim ingest` (`path` is the sessions file, `trace.parquet`)."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise ConfigError([Problem((), "no such trace file")], source=str(path))
    metadata = read_metadata(path)
    users_path, summary_path = companion_paths(path)
    if not users_path.is_file():
        raise ConfigError(
            [Problem((), f"the users table {users_path.name} is missing beside the trace")], source=str(path)
        )
    sessions = pq.read_table(path).to_pandas()
    users = pq.read_table(users_path).to_pandas()
    for frame in (sessions, users):
        if "user" not in frame.columns:
            raise ConfigError([Problem(("user",), "the table has no user column")], source=str(path))
    sessions["user"] = sessions["user"].astype(str)
    sessions["device"] = sessions["device"].astype(str)
    users["user"] = users["user"].astype(str)
    unknown = set(sessions["user"].unique()) - set(users["user"])
    if unknown:
        example = sorted(unknown)[0]
        message = f"{len(unknown)} user(s) with sessions are not in the users table, e.g. {example!r}"
        raise ConfigError([Problem(("user",), message)], source=str(path))
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else None
    return Trace(sessions=sessions, users=users, metadata=metadata, summary=summary)
