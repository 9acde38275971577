"""The trace a persona replays (`activity: {trace: FILE}`), checked when the scenario is loaded.

A trace is what `tokensim ingest` writes (the contract is in docs/replay-fit.md): `trace.parquet`, one row
per session (`user`, `device` text; `start_s`, `end_s` seconds from a Monday 00:00), with the Parquet
key-value metadata `tokensim_trace_format` = `1` (and optionally `observed_until_s`, the end of the
observation window), and `trace.users.parquet` beside it, one row per user.

This module only checks that contract and measures what validating a scenario needs (how many users,
how long the trace lasts); the sessions themselves are read by `sim.model.replay` when a run starts.
Measurements are cached by the file's path, size and modification time, so the many validations of a
sweep read a trace once.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path

from sim.core.durations import DAY

#: The metadata key that marks a trace, and the version this tokensim reads.
FORMAT_KEY = "tokensim_trace_format"
FORMAT_VERSION = "1"
#: Optional metadata key: where the observation window ends (seconds from the origin). Without it a
#: trace lasts to the end of the day of its latest session end.
UNTIL_KEY = "observed_until_s"
#: The session table's columns and their Arrow type names (`large_string` is accepted for `string`).
SESSION_COLUMNS = {"user": "string", "device": "string", "start_s": "double", "end_s": "double"}


class TraceFileError(ValueError):
    """A trace file that is missing, unreadable or does not follow the trace format."""


@dataclass(frozen=True)
class TraceShape:
    """What validation needs to know about a trace."""

    path: str
    #: Rows of the users table: the users the trace replays as recorded.
    users: int
    sessions: int
    #: How long the trace lasts, in seconds from its origin: the metadata's `observed_until_s` when it
    #: has one, else the end of the day of its latest session end.
    span: float


def users_path(path: str | os.PathLike[str]) -> Path:
    """`trace.parquet` -> `trace.users.parquet` (the users table beside the sessions)."""
    path = Path(path)
    stem = path.name[: -len(".parquet")] if path.name.endswith(".parquet") else path.name
    return path.with_name(f"{stem}.users.parquet")


def resolve(value: str, base_dir: str | os.PathLike[str] | None) -> str:
    """A trace path as written (relative to `base_dir`, the scenario file's folder) made absolute."""
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = Path(base_dir or Path.cwd()) / path
    return os.path.normpath(path.absolute())


def trace_shape(path: str) -> TraceShape:
    """Check the trace at `path` (absolute) against the format; TraceFileError says what is wrong."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise TraceFileError(f"no trace file {path!r} (make one with `tokensim ingest`)") from None
    except OSError as exc:
        raise TraceFileError(f"cannot read the trace {path!r}: {exc.strerror or exc}") from None
    if not os.path.isfile(path):
        raise TraceFileError(f"{path!r} is not a file; give the trace's sessions file (trace.parquet)")
    return _shape(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _shape(path: str, size: int, mtime_ns: int) -> TraceShape:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise TraceFileError(f"{path!r} is not a Parquet file ({exc})") from None
    raw = schema.metadata or {}
    metadata = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in raw.items()}
    version = metadata.get(FORMAT_KEY)
    if version is None:
        raise TraceFileError(
            f"{path!r} is not a tokensim trace (its metadata has no {FORMAT_KEY}); "
            "make one with `tokensim ingest`"
        )
    if version != FORMAT_VERSION:
        raise TraceFileError(
            f"{path!r} is a trace of format version {version}; this tokensim reads version {FORMAT_VERSION}"
        )
    for name, kind in SESSION_COLUMNS.items():
        if name not in schema.names:
            needed = ", ".join(SESSION_COLUMNS)
            raise TraceFileError(f"the trace {path!r} has no column {name!r} (it needs {needed})")
        found = str(schema.field(name).type)
        if found != kind and not (kind == "string" and found == "large_string"):
            raise TraceFileError(f"the trace {path!r}: column {name!r} is {found}, the format says {kind}")
    users_file = users_path(path)
    try:
        users = pq.read_metadata(users_file).num_rows
    except FileNotFoundError:
        raise TraceFileError(
            f"the users table {users_file.name!r} is missing beside the trace {path!r}"
        ) from None
    except (OSError, pa.ArrowException) as exc:
        raise TraceFileError(f"cannot read the users table {str(users_file)!r}: {exc}") from None
    if users < 1:
        raise TraceFileError(f"the trace {path!r} has no users")
    table = pq.read_table(path, columns=["start_s", "end_s"])
    start, end = table["start_s"], table["end_s"]
    if start.null_count or end.null_count:
        raise TraceFileError(f"the trace {path!r} has sessions without a start or an end")
    sessions = table.num_rows
    if sessions:
        lowest = pc.min(start).as_py()
        highest = pc.max(end).as_py()
        if not (math.isfinite(lowest) and math.isfinite(highest)) or lowest < 0:
            raise TraceFileError(
                f"the trace {path!r} has session times that are negative or not finite "
                "(times are seconds from the trace's origin, a Monday 00:00)"
            )
        backwards = pc.sum(pc.less(end, start)).as_py()
        if backwards:
            raise TraceFileError(f"the trace {path!r} has {backwards} session(s) that end before they start")
    else:
        highest = 0.0
    span = max(1, math.ceil(highest / DAY)) * DAY
    if UNTIL_KEY in metadata:
        try:
            until = float(metadata[UNTIL_KEY])
        except ValueError:
            until = math.nan
        if not (math.isfinite(until) and until > 0):
            value = metadata[UNTIL_KEY]
            message = f"the trace {path!r}: {UNTIL_KEY} = {value!r} must be a number of seconds > 0"
            raise TraceFileError(message)
        span = until
    return TraceShape(path=path, users=users, sessions=sessions, span=span)
