"""A generic CSV of token events, for identity providers without a format of their own.

Columns (a header line names them, in any order; other columns are ignored): `user`, `device`, `time`
(ISO 8601, with or without a zone: without one it is in `--timezone`; or epoch seconds), `event`
(`login`, `refresh`, `refresh_failed`, `logout`, `login_failed`; `refresh_error` and
`refresh_failure` mean `refresh_failed`, `login_error` means `login_failed`) and, optionally,
`reason` (why a refresh or login failed). The device is the `device` column whatever `--device-by`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.core.validation import suggest
from sim.ingest.events import KIND_NAMES, LOGIN, LOGIN_FAILED, LOGOUT, REFRESH, REFRESH_FAILED
from sim.ingest.formats import ConvertContext, Converted, LogFormat, is_null, reasons
from sim.ingest.reading import Field, column
from sim.ingest.times import parse_epoch_or_iso

EVENTS = {
    "login": LOGIN,
    "refresh": REFRESH,
    "refresh_failed": REFRESH_FAILED,
    "refresh_error": REFRESH_FAILED,
    "refresh_failure": REFRESH_FAILED,
    "logout": LOGOUT,
    "login_failed": LOGIN_FAILED,
    "login_error": LOGIN_FAILED,
}
COLUMNS = ("user", "device", "time", "event", "reason")


def convert(table: pa.Table, context: ConvertContext) -> Converted:
    """Rows of one batch as canonical events; an unknown `event` value is a bad row (a typo, likely)."""
    events = pc.utf8_lower(pc.utf8_trim_whitespace(column(table, "event")))
    index = pc.index_in(events, value_set=pa.array(list(EVENTS))).to_numpy(zero_copy_only=False)
    codes = np.asarray(list(EVENTS.values()), dtype=np.int8)
    known = ~np.isnan(np.asarray(index, dtype=float))
    kind = np.zeros(table.num_rows, dtype=np.int8)
    kind[known] = codes[np.asarray(index[known], dtype=np.int64)]
    times = column(table, "time")
    no_time = is_null(times)
    time, bad_time = parse_epoch_or_iso(pc.fill_null(times, ""), context.naive_zone)
    bad = [
        (is_null(column(table, "event")), "event", "missing"),
        (no_time, "time", "missing"),
        (bad_time & ~no_time, "time", "not a timestamp (ISO 8601 or epoch seconds)"),
        (is_null(column(table, "user")), "user", "missing"),
        (is_null(column(table, "device")), "device", "missing"),
    ]
    unknown = ~known & ~is_null(column(table, "event"))
    if unknown.any():
        names = list(KIND_NAMES[:5])
        for value in sorted(set(np.asarray(events.to_pylist(), dtype=object)[unknown])):
            hint = suggest(value, names)
            message = f"unknown event {value!r}; " + (
                f"did you mean {hint!r}?" if hint else f"one of {', '.join(names)}"
            )
            bad.append((unknown & np.asarray(pc.equal(events, value).fill_null(False)), "event", message))
    reason = pc.if_else(
        pa.array(np.isin(kind, (REFRESH_FAILED, LOGIN_FAILED)) & known),
        reasons(column(table, "reason")),
        pa.scalar(None, pa.string()),
    )
    return Converted(
        kind,
        column(table, "user").combine_chunks(),
        column(table, "device").combine_chunks(),
        time,
        reason,
        bad,
        {},
    )


FORMAT = LogFormat(
    name="csv",
    schema_url="docs/ingest.md#csv",
    container="csv",
    fields=tuple(Field(name, pa.string()) for name in COLUMNS),
    convert=convert,
    access_token_lifetime=3600.0,
    session_field="device",
    csv_required=("user", "device", "time", "event"),
)
