"""Timestamps in logs as seconds since the Unix epoch (UTC), vectorised, with the rows that do not parse.

ISO 8601 strings with a zone (`2024-01-15T10:30:00.000Z`, `...+02:00`) are exact instants; strings
without one are read in the zone the format says (UTC for vendor logs that store UTC, `--timezone` for
the generic CSV). Numbers are epoch seconds (or milliseconds where the format says so).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_FRACTION = re.compile(r"(\.\d{6})\d+")
_NUMBER = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


def _as_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def parse_iso(values: pa.Array | pa.ChunkedArray, naive_zone: str = "UTC") -> tuple[np.ndarray, np.ndarray]:
    """Seconds since the epoch of ISO 8601 strings, and a mask of the values that are not timestamps.

    Null values count as bad (the caller usually reports them as missing first).
    """
    array = _as_array(values)
    n = len(array)
    if n == 0:
        return np.zeros(0), np.zeros(0, dtype=bool)
    for attempt in (_with_zone, _naive):
        try:
            seconds = attempt(array, naive_zone)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            continue
        bad = np.asarray(seconds.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        return np.nan_to_num(np.asarray(seconds.to_numpy(zero_copy_only=False), dtype=float)), bad
    return _one_by_one(array.to_pylist(), naive_zone)


def _with_zone(array: pa.Array, naive_zone: str) -> pa.Array:
    stamps = pc.cast(array, pa.timestamp("ns", tz="UTC"))
    return pc.divide(pc.cast(pc.cast(stamps, pa.int64()), pa.float64()), 1e9)


def _naive(array: pa.Array, naive_zone: str) -> pa.Array:
    stamps = pc.cast(pc.replace_substring(array, "T", " "), pa.timestamp("ns"))
    if naive_zone != "UTC":
        stamps = pc.assume_timezone(stamps, naive_zone, ambiguous="earliest", nonexistent="latest")
    return pc.divide(pc.cast(pc.cast(stamps, pa.int64()), pa.float64()), 1e9)


def _one_by_one(values: list, naive_zone: str) -> tuple[np.ndarray, np.ndarray]:
    zone = ZoneInfo(naive_zone)
    seconds = np.zeros(len(values))
    bad = np.zeros(len(values), dtype=bool)
    for i, value in enumerate(values):
        parsed = parse_one(value, zone)
        if parsed is None:
            bad[i] = True
        else:
            seconds[i] = parsed
    return seconds, bad


def parse_one(value: object, zone: ZoneInfo) -> float | None:
    """One ISO 8601 timestamp (or None when it is not one); a naive one is in `zone`."""
    if not isinstance(value, str):
        return None
    text = _FRACTION.sub(r"\1", value.strip())  # datetime keeps microseconds
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=zone)
    return stamp.timestamp()


def parse_epoch_or_iso(values: pa.Array | pa.ChunkedArray, naive_zone: str) -> tuple[np.ndarray, np.ndarray]:
    """Epoch seconds written as numbers, or ISO 8601 strings (the generic CSV's `time`)."""
    array = _as_array(values)
    numeric = pc.match_substring_regex(array, r"^\s*-?\d+(\.\d+)?\s*$")
    numeric = np.asarray(numeric.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
    if not numeric.any():
        return parse_iso(array, naive_zone)
    seconds = np.zeros(len(array))
    bad = np.zeros(len(array), dtype=bool)
    numbers = pc.cast(pc.utf8_trim_whitespace(array.filter(pa.array(numeric))), pa.float64())
    seconds[numeric] = numbers.to_numpy(zero_copy_only=False)
    if (~numeric).any():
        rest, rest_bad = parse_iso(array.filter(pa.array(~numeric)), naive_zone)
        seconds[~numeric] = rest
        bad[~numeric] = rest_bad
    return seconds, bad


def to_iso(seconds: float) -> str:
    """An instant as ISO 8601 in UTC with milliseconds and `Z` (the form vendor logs write)."""
    millis = round(seconds * 1000)  # to the nearest millisecond, as Keycloak's `time` is
    stamp = datetime.fromtimestamp(millis // 1000, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"
