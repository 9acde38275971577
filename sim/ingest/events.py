"""Canonical token events: what every log format is turned into before sessions are reconstructed.

One event is one row: `user`, `device` (strings), `time` (seconds since the Unix epoch, UTC), `kind`
(KIND_NAMES), `reason` (why a refresh or login failed, in the log's own words made lower-case with
underscores; null otherwise), `family` (the refresh-token family of an ISSUE event) and `seq` (the
event's position in the input: file index, then line), so that ties in time keep the log's order.
"""

from __future__ import annotations

import re

import pyarrow as pa

LOGIN, REFRESH, REFRESH_FAILED, LOGOUT, LOGIN_FAILED = 0, 1, 2, 3, 4
#: A refresh token issued (a grant table's row): the first of its family is a login, the others
#: refreshes; resolved once the events are sorted (sim/ingest/sessions.py).
ISSUE = 5
#: Names of the kinds, indexed by code (the `kind` column holds the code).
KIND_NAMES: tuple[str, ...] = ("login", "refresh", "refresh_failed", "logout", "login_failed", "issue")

#: The canonical event table.
EVENT_SCHEMA = pa.schema(
    [
        pa.field("user", pa.string(), nullable=False),
        pa.field("device", pa.string(), nullable=False),
        pa.field("time", pa.float64(), nullable=False),
        pa.field("kind", pa.int8(), nullable=False),
        pa.field("reason", pa.string()),
        pa.field("family", pa.string()),
        pa.field("seq", pa.int64(), nullable=False),
    ]
)

_NOT_WORD = re.compile(r"[^a-z0-9]+")


def reason_slug(text: str) -> str:
    """A failure reason as a column-name-safe word: `Token is not active` -> `token_is_not_active`."""
    slug = _NOT_WORD.sub("_", text.strip().lower()).strip("_")
    return slug or "unspecified"
