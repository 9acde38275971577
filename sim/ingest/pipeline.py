"""`ingest`: log files in, a trace out, in bounded memory whatever the size of the log.

1. Parse: each file is read in blocks (sim/ingest/reading.py) and each block converted to canonical
   events (the format's module). Bad rows are counted by what was wrong (or, with `strict`, the first
   is an error naming its file and line); rows of other event types are counted by type. Events are
   appended to spill files on disk, one per hash partition of the user, so that every event of a user
   lands in one partition. Events without a user but with a session id are spilled apart, with the
   (session, user) pairs seen elsewhere, partitioned by the session.
2. Attribute: per session partition, events without a user get the user of their session (seen in
   other events); those whose session never names a user are skipped and counted.
3. Sessions: one partition at a time is loaded, sorted (by user, device, time, log order) and
   reconstructed (sim/ingest/sessions.py); sessions and per-user rows are streamed to Parquet, and the
   summary's counts added up. Memory is bounded by the largest partition (PARTITION_BYTES of input
   each), not by the log.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sim.core.durations import DAY, MONTH
from sim.core.validation import ConfigError, Problem
from sim.ingest.events import KIND_NAMES, LOGIN, LOGIN_FAILED, LOGOUT, REFRESH, REFRESH_FAILED
from sim.ingest.formats import ConvertContext, LogFormat, nullify_empty
from sim.ingest.options import IngestOptions, log_format
from sim.ingest.reading import RawBatch, input_error, read_csv_records, read_json_records
from sim.ingest.sessions import EventArrays, forced_logins, resolve_issues, sessionize
from sim.ingest.trace import (
    FORMAT_VERSION,
    SESSION_SCHEMA,
    companion_paths,
    parameters_of,
    trace_metadata,
    user_schema,
)

#: Input bytes per partition: a partition is what is held in memory at once in step 3.
PARTITION_BYTES = 32 * 1024 * 1024
MAX_PARTITIONS = 512
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_SPILL = pa.schema(
    [
        ("user", pa.string()),
        ("device", pa.string()),
        ("time", pa.float64()),
        ("kind", pa.int8()),
        ("reason", pa.string()),
        ("family", pa.string()),
        ("seq", pa.int64()),
    ]
)
_ORPHAN = _SPILL.append(pa.field("session", pa.string()))
_PAIRS = pa.schema([("session", pa.string()), ("user", pa.string())])


@dataclass
class IngestResult:
    """What `ingest` wrote and its summary (also in `summary_path`)."""

    sessions_path: Path
    users_path: Path
    summary_path: Path
    summary: dict


@dataclass
class _Counts:
    rows: int = 0
    skipped: Counter = field(default_factory=Counter)
    ignored: Counter = field(default_factory=Counter)
    failure_reasons: set = field(default_factory=set)
    first: float = math.inf
    last: float = -math.inf
    attributed: int = 0


def ingest(paths: Sequence[Path], out: Path, options: IngestOptions) -> IngestResult:
    """Read the log files and write the trace at `out` with its users table and summary beside it."""
    options = options.resolved()
    fmt = log_format(options.format)
    paths = [Path(p) for p in paths]
    for path in paths:
        if not path.is_file():
            raise ConfigError(
                [Problem((), "no such file" if not path.exists() else "not a file")], source=str(path)
            )
    out = Path(out)
    out.absolute().parent.mkdir(parents=True, exist_ok=True)
    users_path, summary_path = companion_paths(out)
    total = sum(p.stat().st_size for p in paths)
    partitions = max(1, min(MAX_PARTITIONS, math.ceil(total / PARTITION_BYTES)))
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.ingest-", dir=out.absolute().parent) as work:
        spill = _Spill(Path(work), partitions)
        counts = _Counts()
        with spill:
            for index, path in enumerate(paths):
                _parse_file(path, index, fmt, options, spill, counts)
        _attribute(spill, counts, options)
        if counts.first == math.inf:
            raise ConfigError(
                [Problem((), "no token events in the log (" + _what_was_seen(counts) + ")")],
                source=", ".join(map(str, paths)),
            )
        zone = ZoneInfo(options.timezone)
        origin = _monday_before(counts.first, zone)
        reasons = sorted(counts.failure_reasons)
        metadata = trace_metadata(origin, options, fmt.name, paths)
        tmp_sessions, tmp_users = Path(work) / "sessions.parquet", Path(work) / "users.parquet"
        stats = _Stats(reasons)
        with (
            pq.ParquetWriter(tmp_sessions, SESSION_SCHEMA.with_metadata(metadata)) as sessions_writer,
            pq.ParquetWriter(tmp_users, user_schema(reasons).with_metadata(metadata)) as users_writer,
        ):
            for table in spill.partitions():
                _sessions_of(table, options, origin, zone, reasons, sessions_writer, users_writer, stats)
        summary = _summary(counts, stats, options, fmt, paths, origin, zone)
        tmp_summary = Path(work) / "summary.json"
        tmp_summary.write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        os.replace(tmp_sessions, out)
        os.replace(tmp_users, users_path)
        os.replace(tmp_summary, summary_path)
    return IngestResult(out, users_path, summary_path, summary)


def _what_was_seen(counts: _Counts) -> str:
    parts = [f"{counts.rows} rows read"]
    if counts.skipped:
        parts.append("skipped: " + ", ".join(f"{k} ({v})" for k, v in counts.skipped.most_common(3)))
    if counts.ignored:
        parts.append(
            "other event types: " + ", ".join(f"{k} ({v})" for k, v in counts.ignored.most_common(5))
        )
    return "; ".join(parts)


# ------------------------------------------------------------------------------------------------ spill


class _Spill:
    """Arrow IPC files on disk: events per user partition, orphans and (session, user) pairs per
    session partition."""

    def __init__(self, directory: Path, partitions: int):
        self.directory = directory
        self.count = partitions
        self._writers: dict[tuple[str, int], pa.ipc.RecordBatchStreamWriter] = {}
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> _Spill:
        self._stack = contextlib.ExitStack()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
        self._writers.clear()

    def path(self, kind: str, part: int) -> Path:
        return self.directory / f"{kind}-{part:04d}.arrows"

    def write(self, kind: str, keys: pa.Array, table: pa.Table) -> None:
        """Append the rows of `table` to the partitions of `kind` that their `keys` hash to."""
        if table.num_rows == 0:
            return
        part = _partition_of(keys, self.count)
        order = np.argsort(part, kind="stable")
        sorted_part = part[order]
        table = table.take(pa.array(order))
        bounds = np.flatnonzero(np.diff(sorted_part)) + 1
        for lo, hi in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [len(order)]]), strict=True):
            writer = self._writer(kind, int(sorted_part[lo]), table.schema)
            writer.write_table(table.slice(lo, hi - lo))

    def _writer(self, kind: str, part: int, schema: pa.Schema) -> pa.ipc.RecordBatchStreamWriter:
        key = (kind, part)
        if key not in self._writers:
            sink = self._stack.enter_context(pa.OSFile(str(self.path(kind, part)), "wb"))
            self._writers[key] = self._stack.enter_context(pa.ipc.new_stream(sink, schema))
        return self._writers[key]

    def read(self, kind: str, part: int, schema: pa.Schema) -> pa.Table:
        path = self.path(kind, part)
        if not path.exists():
            return schema.empty_table()
        with pa.memory_map(str(path)) as source:
            return pa.ipc.open_stream(source).read_all()

    def partitions(self) -> Iterator[pa.Table]:
        for part in range(self.count):
            table = pa.concat_tables(
                [self.read("events", part, _SPILL), self.read("attributed", part, _SPILL)]
            )
            if table.num_rows:
                yield table


def _partition_of(keys: pa.Array | pa.ChunkedArray, count: int) -> np.ndarray:
    """A deterministic partition per key (CRC-32 of its UTF-8 bytes), computed once per distinct key."""
    if count == 1:
        return np.zeros(len(keys), dtype=np.int64)
    encoded = (keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys).dictionary_encode()
    parts = np.asarray(
        [zlib.crc32(k.encode("utf-8")) % count for k in encoded.dictionary.to_pylist()], dtype=np.int64
    )
    return parts[np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]


# ------------------------------------------------------------------------------------------------ parse


def _read(path: Path, fmt: LogFormat) -> Iterator[RawBatch]:
    if fmt.container == "json":
        return read_json_records(path, fmt.fields)
    return read_csv_records(path, [f.path for f in fmt.fields], fmt.csv_required)


def _generic(message: str) -> str:
    """A message without the offending value or detail, so rows with the same fault are counted together."""
    return message.split(", got ")[0].split(" (")[0]


def _parse_file(
    path: Path, index: int, fmt: LogFormat, options: IngestOptions, spill: _Spill, counts: _Counts
) -> None:
    context = ConvertContext(device_by=options.device_by, naive_zone=options.timezone)
    for raw in _read(path, fmt):
        for _line, where, message in raw.bad_lines:
            counts.skipped[(f"{where}: " if where else "") + _generic(message)] += 1
        first_bad = min(raw.bad_lines) if raw.bad_lines else None
        n = raw.table.num_rows
        counts.rows += n + len(raw.bad_lines)
        if n == 0:
            if first_bad is not None and options.strict:
                raise input_error(path, *first_bad)
            continue
        converted = fmt.convert(raw.table, context)
        relevant = converted.kind >= 0
        for name, count in converted.ignored.items():
            counts.ignored[name] += count
        bad = np.zeros(n, dtype=bool)
        reasons: list[tuple[np.ndarray, str, str]] = []
        for row, where, message in raw.problems:
            mask = np.zeros(n, dtype=bool)
            mask[row] = True
            reasons.append((mask, where, message))
        reasons.extend(converted.bad)
        for mask, where, message in reasons:
            hit = np.asarray(mask, dtype=bool) & relevant & ~bad
            if not hit.any():
                continue
            bad |= hit
            line = int(raw.lines[np.flatnonzero(hit)[0]])
            if first_bad is None or line < first_bad[0]:
                first_bad = (line, where, message)
            counts.skipped[f"{where}: {_generic(message)}"] += int(hit.sum())
        if first_bad is not None and options.strict:
            raise input_error(path, *first_bad)
        good = relevant & ~bad
        if not good.any():
            continue
        keep = pa.array(good)
        rows = np.flatnonzero(good)
        kind = converted.kind[good]
        family = converted.family if converted.family is not None else pa.nulls(n, pa.string())
        seq = (np.int64(index) << np.int64(40)) + raw.lines[good].astype(np.int64)
        table = pa.table(
            {
                "user": nullify_empty(converted.user).filter(keep),
                "device": pc.fill_null(nullify_empty(converted.device), "-").filter(keep),
                "time": pa.array(converted.time[good]),
                "kind": pa.array(kind, pa.int8()),
                "reason": converted.reason.filter(keep),
                "family": family.filter(keep),
                "seq": pa.array(seq, pa.int64()),
            },
            schema=_SPILL,
        )
        counts.first = min(counts.first, float(converted.time[rows].min()))
        counts.last = max(counts.last, float(converted.time[rows].max()))
        failed = table.filter(pc.equal(table.column("kind"), REFRESH_FAILED)).column("reason")
        counts.failure_reasons.update(r for r in pc.unique(pc.fill_null(failed, "unspecified")).to_pylist())
        session = converted.session.filter(keep) if converted.session is not None else None
        if session is not None:
            orphan = pc.is_null(table.column("user"))
            known = pc.invert(orphan)
            if pc.any(orphan).as_py():
                orphans = table.filter(orphan).append_column("session", session.filter(orphan))
                spill.write("orphans", orphans.column("session"), orphans)
            pairs = pa.table({"session": session.filter(known), "user": table.column("user").filter(known)})
            pairs = pairs.filter(pc.is_valid(pairs.column("session")))
            if pairs.num_rows:
                pairs = pairs.group_by(["session", "user"]).aggregate([]).select(["session", "user"])
                spill.write("pairs", pairs.column("session"), pairs)
            table = table.filter(known)
        spill.write("events", table.column("user"), table)


def _attribute(spill: _Spill, counts: _Counts, options: IngestOptions) -> None:
    """Give events without a user the user of their session; count those that cannot be."""
    with spill:
        for part in range(spill.count):
            orphans = spill.read("orphans", part, _ORPHAN)
            if orphans.num_rows == 0:
                continue
            pairs = spill.read("pairs", part, _PAIRS)
            first = (
                pairs.group_by("session").aggregate([("user", "min")]).rename_columns(["session", "owner"])
            )
            joined = orphans.join(first, "session", join_type="left outer")
            found = pc.is_valid(joined.column("owner"))
            lost = int(joined.num_rows - pc.sum(found.cast(pa.int64())).as_py())
            if lost:
                if options.strict:
                    raise ConfigError(
                        [
                            Problem(
                                (),
                                f"{lost} event(s) have a session id that no event with a "
                                "user has (their user cannot be found)",
                            )
                        ]
                    )
                counts.skipped["user: missing, and the session names no user elsewhere in the log"] += lost
            attributed = joined.filter(found)
            counts.attributed += attributed.num_rows
            events = attributed.set_column(
                attributed.schema.get_field_index("user"), "user", attributed.column("owner")
            ).select(_SPILL.names)
            spill.write("attributed", events.column("user"), events.cast(_SPILL))


# --------------------------------------------------------------------------------------------- sessions


def _monday_before(first: float, zone: ZoneInfo) -> datetime:
    """Monday 00:00 (local time in `zone`) on or before the instant `first`."""
    local = datetime.fromtimestamp(first, tz=UTC).astimezone(zone)
    monday = (local - timedelta(days=local.weekday())).date()
    return datetime(monday.year, monday.month, monday.day, tzinfo=zone)


def _wall_clock(seconds: np.ndarray, zone: ZoneInfo) -> np.ndarray:
    """Local wall-clock times (naive, as datetime64[us]) of UTC instants."""
    import pandas as pd

    stamps = pd.to_datetime(np.round(seconds * 1e6).astype(np.int64), unit="us", utc=True)
    return stamps.tz_convert(zone).tz_localize(None).to_numpy(dtype="datetime64[us]")


class _Stats:
    """The summary's figures, added up over the partitions."""

    def __init__(self, reasons: list[str]):
        self.reasons = reasons
        self.users = 0
        self.devices = 0
        self.sessions = 0
        self.active_user_days = 0
        self.heatmap = np.zeros((7, 24), dtype=np.int64)
        self.durations: list[np.ndarray] = []
        self.forced: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.kinds: Counter[int] = Counter()


def _codes(values: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Integer codes of strings (nulls -1), codes in the sorted order of the distinct values."""
    encoded = values.combine_chunks().dictionary_encode()
    dictionary = encoded.dictionary
    rank = (
        np.asarray(pc.rank(dictionary, sort_keys="ascending", tiebreaker="first").to_numpy(), dtype=np.int64)
        - 1
    )
    words: list[str] = [""] * len(dictionary)
    for word, r in zip(dictionary.to_pylist(), rank, strict=True):
        words[r] = word
    indices = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    if len(rank) == 0:
        return np.full(len(indices), -1, dtype=np.int64), words
    return np.where(indices >= 0, rank[np.maximum(indices, 0)], -1), words


def _sessions_of(
    table: pa.Table,
    options: IngestOptions,
    origin: datetime,
    zone: ZoneInfo,
    reasons: list[str],
    sessions_writer: pq.ParquetWriter,
    users_writer: pq.ParquetWriter,
    stats: _Stats,
) -> None:
    user, users = _codes(table.column("user"))
    device, devices = _codes(table.column("device"))
    reason, reason_words = _codes(table.column("reason"))
    family, _ = _codes(table.column("family"))
    events = EventArrays(
        user=user, users=users, device=device, devices=devices,
        time=table.column("time").to_numpy(), kind=table.column("kind").to_numpy().astype(np.int8),
        reason=reason, reasons=reason_words, family=family, seq=table.column("seq").to_numpy(),
    )  # fmt: skip
    kind = resolve_issues(events)
    events.kind = kind
    access, gap = float(options.access_token_lifetime or 0.0), options.session_gap
    sessions = sessionize(events, access, gap)
    origin_wall = np.datetime64(origin.replace(tzinfo=None), "us")
    # in integer microseconds, so that times written in milliseconds come out exact
    start_us = np.round(sessions.start * 1e6).astype(np.int64)
    end_us = np.round(sessions.end * 1e6).astype(np.int64)
    start_wall = _wall_clock(sessions.start, zone)
    offset_us = start_wall.astype(np.int64) - start_us  # the zone's UTC offset at each start
    origin_us = origin_wall.astype(np.int64)
    start_s = (start_us + offset_us - origin_us) / 1e6
    end_s = (end_us + offset_us - origin_us) / 1e6
    names = np.asarray(users, dtype=object)
    sessions_writer.write_table(
        pa.table(
            {
                "user": pa.array(names[sessions.user], pa.string()),
                "device": pa.array(np.asarray(devices, dtype=object)[sessions.device], pa.string()),
                "start_s": pa.array(start_s, pa.float64()),
                "end_s": pa.array(end_s, pa.float64()),
            },
            schema=SESSION_SCHEMA,
        )
    )
    forced, cause = forced_logins(events, kind, options.forced_login_window)
    n_users = len(users)
    per_user = {
        "logins": np.bincount(user[kind == LOGIN], minlength=n_users),
        "refreshes": np.bincount(user[kind == REFRESH], minlength=n_users),
        "refresh_failures": np.bincount(user[kind == REFRESH_FAILED], minlength=n_users),
        "forced_logins": np.bincount(user[forced], minlength=n_users),
    }
    sessions_per_user = np.bincount(sessions.user, minlength=n_users)
    pairs = np.unique(user * np.int64(len(devices) + 1) + device)  # distinct (user, device)
    devices_per_user = np.bincount(pairs // np.int64(len(devices) + 1), minlength=n_users)
    first = np.full(n_users, np.inf)
    last = np.full(n_users, -np.inf)
    np.minimum.at(first, user, events.time)
    np.maximum.at(last, user, events.time)
    first_s = (_wall_clock(first, zone) - origin_wall).astype("timedelta64[us]").astype(np.int64) / 1e6
    last_s = (_wall_clock(last, zone) - origin_wall).astype("timedelta64[us]").astype(np.int64) / 1e6
    columns = {
        "user": pa.array(names, pa.string()),
        "devices": pa.array(devices_per_user, pa.int64()),
        "sessions": pa.array(sessions_per_user, pa.int64()),
        "first_s": pa.array(first_s),
        "last_s": pa.array(last_s),
        **{name: pa.array(values, pa.int64()) for name, values in per_user.items()},
    }
    failed = kind == REFRESH_FAILED
    words = np.asarray([*reason_words, "unspecified"], dtype=object)
    failure_words = words[np.where(reason[failed] >= 0, reason[failed], len(reason_words))]
    for word in reasons:
        columns[f"failures.{word}"] = pa.array(
            np.bincount(user[failed][failure_words == word], minlength=n_users), pa.int64()
        )
    users_writer.write_table(pa.table(columns, schema=users_writer.schema))
    # the summary's figures
    for code, count in zip(*np.unique(kind, return_counts=True), strict=True):
        stats.kinds[int(code)] += int(count)
    stats.users += n_users
    stats.devices += int(devices_per_user.sum())
    stats.sessions += len(start_s)
    stats.durations.append((sessions.end - sessions.start).astype(np.float32))
    weekday = ((start_wall.astype("datetime64[D]").astype(np.int64) + 3) % 7).astype(
        np.int64
    )  # 1970-01-01: Thu
    hour = (start_wall - start_wall.astype("datetime64[D]")).astype("timedelta64[h]").astype(np.int64)
    np.add.at(stats.heatmap, (weekday, hour), 1)
    if len(start_wall):
        day = start_wall.astype("datetime64[D]").astype(np.int64)
        day -= day.min()
        stats.active_user_days += len(np.unique(sessions.user * np.int64(day.max() + 1) + day))
    for word, count in Counter(failure_words.tolist()).items():
        stats.failures[word] += count
    forced_words = words[np.where(cause[forced] >= 0, cause[forced], len(reason_words))]
    for word, count in Counter(forced_words.tolist()).items():
        stats.forced[word] += count


def _summary(
    counts: _Counts,
    stats: _Stats,
    options: IngestOptions,
    fmt: LogFormat,
    paths: list[Path],
    origin: datetime,
    zone: ZoneInfo,
) -> dict:
    span_days = max(counts.last - counts.first, 0.0) / DAY
    months = span_days * DAY / MONTH
    users = stats.users
    durations = np.concatenate(stats.durations) if stats.durations else np.zeros(0)

    def per_user_month(count: int) -> float | None:
        return None if users == 0 or months <= 0 else count / (users * months)

    def iso(seconds: float) -> str:
        return datetime.fromtimestamp(seconds, tz=UTC).astimezone(zone).isoformat()

    forced_total = sum(stats.forced.values())
    failures_total = sum(stats.failures.values())
    return {
        "tokensim_trace_format": FORMAT_VERSION,
        "source": {"format": fmt.name, "files": [str(p) for p in paths], "schema": fmt.schema_url},
        "parameters": parameters_of(options),
        "origin": origin.isoformat(),
        "timezone": options.timezone,
        "first_event": iso(counts.first),
        "last_event": iso(counts.last),
        "span_days": span_days,
        "users": users,
        "devices": stats.devices,
        "devices_per_user": stats.devices / users if users else None,
        "sessions": stats.sessions,
        "sessions_per_user_day": stats.sessions / (users * span_days) if users and span_days > 0 else None,
        "sessions_per_active_user_day": stats.sessions / stats.active_user_days
        if stats.active_user_days
        else None,
        "session_duration_s": {
            "median": float(np.median(durations)) if len(durations) else None,
            "mean": float(durations.mean()) if len(durations) else None,
            "p90": float(np.quantile(durations, 0.9)) if len(durations) else None,
        },
        "events": {
            KIND_NAMES[k]: int(stats.kinds.get(k, 0))
            for k in (LOGIN, REFRESH, REFRESH_FAILED, LOGOUT, LOGIN_FAILED)
        },
        "rows": {
            "read": counts.rows,
            "skipped": dict(counts.skipped.most_common()),
            "ignored_event_types": dict(counts.ignored.most_common()),
            "attributed_by_session": counts.attributed,
        },
        "forced_logins": {
            "count": forced_total,
            "per_user_month": per_user_month(forced_total),
            "by_reason": dict(stats.forced.most_common()),
            "window_s": options.forced_login_window,
        },
        "refresh_failures": {
            "count": failures_total,
            "per_user_month": per_user_month(failures_total),
            "by_reason": dict(stats.failures.most_common()),
        },
        "heatmap": {
            "what": "session starts by local weekday (rows) and hour (columns)",
            "weekdays": list(WEEKDAYS),
            "counts": stats.heatmap.tolist(),
        },
    }
