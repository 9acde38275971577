"""What a log format module provides, and the helpers the formats share.

A format reads raw records (sim/ingest/reading.py) and converts each batch to canonical events
(sim/ingest/events.py): a kind per row (or none: a row of another event type is *ignored* and counted
by its type), the user, the device (per `--device-by`), the time and the failure reason. A row that
should be an event but cannot be (no time, an unparseable time, no user and no session to find the
user by) is *skipped* and counted by what was wrong, or with `--strict` is an error naming its line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.ingest.reading import Field

#: `--device-by` values: what identifies a device (see docs/ingest.md for each format's fields).
DEVICE_KEYS: tuple[str, ...] = ("session", "client", "client_ip")


@dataclass(frozen=True)
class ConvertContext:
    """Options a conversion needs."""

    device_by: str
    #: The zone of timestamps written without one (the generic CSV's; vendor logs are UTC).
    naive_zone: str = "UTC"


@dataclass
class Converted:
    """One batch converted: per row a kind code (-1: not an event) and the event's fields.

    `user` may be null where `device` is not: such an event is attributed to the user seen with that
    device elsewhere in the log (Keycloak names no user on refresh errors, only the session).
    """

    kind: np.ndarray
    user: pa.Array
    device: pa.Array
    time: np.ndarray
    reason: pa.Array
    #: (mask of rows, field, message): rows that should be events but cannot be.
    bad: list[tuple[np.ndarray, str, str]] = field(default_factory=list)
    #: event type -> rows of types that are not token events (counted, not used).
    ignored: dict[str, int] = field(default_factory=dict)
    #: The refresh-token family of ISSUE rows (null elsewhere); None when the format has none.
    family: pa.Array | None = None
    #: The vendor's session id of each row (null where absent), to find the user of a row without one;
    #: None when the format needs no such lookup.
    session: pa.Array | None = None


@dataclass(frozen=True)
class LogFormat:
    """A vendor's log format."""

    name: str
    #: Where the vendor documents the schema (cited in docs/ingest.md).
    schema_url: str
    #: "json" (JSON lines or one JSON array) or "csv" (a header line, then rows).
    container: str
    fields: tuple[Field, ...]
    convert: Callable[[pa.Table, ConvertContext], Converted]
    #: The default access-token lifetime (seconds): the vendor's default configuration.
    access_token_lifetime: float
    #: What `--device-by session` means for this format (for messages and docs).
    session_field: str
    csv_required: tuple[str, ...] = ()


def kinds_of(types: pa.Array | pa.ChunkedArray, mapping: dict[str, int]) -> tuple[np.ndarray, dict[str, int]]:
    """Kind codes of event-type strings (-1 for other types) and the counts of the other types."""
    names = list(mapping)
    codes = np.asarray([mapping[n] for n in names] + [-1], dtype=np.int8)
    index = pc.index_in(types, value_set=pa.array(names, pa.string())).fill_null(len(names))
    kind = codes[np.asarray(index.to_numpy(zero_copy_only=False), dtype=np.int64)]
    ignored: dict[str, int] = {}
    if (kind < 0).any():
        others = pc.value_counts(pc.fill_null(types.filter(pa.array(kind < 0)), "(no type)"))
        for item in others.to_pylist():
            ignored[str(item["values"])] = int(item["counts"])
    return kind, ignored


def is_null(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """True where a value is null or an empty string."""
    missing = pc.is_null(values)
    if pa.types.is_string(values.type):
        missing = pc.or_(missing, pc.fill_null(pc.equal(pc.utf8_trim_whitespace(values), ""), True))
    return np.asarray(missing.to_numpy(zero_copy_only=False), dtype=bool)


def nullify_empty(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Strings with empty ones made null (the same for the Arrow array)."""
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return pc.if_else(pa.array(is_null(array)), pa.scalar(None, pa.string()), array)


def device_key(
    device_by: str,
    session: pa.Array | pa.ChunkedArray,
    client: pa.Array | pa.ChunkedArray,
    ip: pa.Array | pa.ChunkedArray,
) -> pa.Array:
    """The device of each row: the session id, the client id, or client id and IP address.

    With `session`, a row without a session id falls back to `client|ip`, so it still has a device.
    """
    client = pc.fill_null(nullify_empty(client), "-")
    client_ip = pc.binary_join_element_wise(client, pc.fill_null(nullify_empty(ip), "-"), "|")
    if device_by == "client":
        return client
    if device_by == "client_ip":
        return client_ip
    session = nullify_empty(session)
    return pc.if_else(pc.is_null(session), client_ip, session)


def reasons(*candidates: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The first non-empty candidate of each row, as a slug (sim.ingest.events.reason_slug), or null."""
    from sim.ingest.events import reason_slug

    chosen = nullify_empty(candidates[0])
    for other in candidates[1:]:
        chosen = pc.coalesce(chosen, nullify_empty(other))
    encoded = chosen.dictionary_encode()
    slugs = pa.array([reason_slug(v) for v in encoded.dictionary.to_pylist()], pa.string())
    return slugs.take(encoded.indices)
