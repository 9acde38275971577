"""Keycloak user events, as JSON lines or as the JSON array of the admin REST API.

Schema: Keycloak's `EventRepresentation` (`time` in milliseconds since the epoch, `type`, `realmId`,
`clientId`, `userId`, `sessionId`, `ipAddress`, `error`, `details`), documented at
https://www.keycloak.org/docs-api/latest/javadocs/org/keycloak/representations/idm/EventRepresentation.html
and returned by `GET /admin/realms/{realm}/events`
(https://www.keycloak.org/docs-api/latest/rest-api/index.html#_attack_detection); event types from
`org.keycloak.events.EventType` (https://www.keycloak.org/docs-api/latest/javadocs/org/keycloak/events/EventType.html).

Token events:
- `CODE_TO_TOKEN` (a client exchanged an authorization code: a new refresh token, i.e. a login in the
  simulator's sense); `LOGIN` with a `grant_type` detail (a direct grant, no code) is one too. An
  interactive `LOGIN` without it is the browser login whose tokens come with the `CODE_TO_TOKEN` that
  follows, so it is ignored (counted under its type) rather than counted twice.
- `REFRESH_TOKEN` (a refresh) and `REFRESH_TOKEN_ERROR` (a failed refresh: `error` is `invalid_token`
  and `details.reason` the token manager's message: `Token is not active`, `Session not active`,
  `Stale token`, `Maximum allowed refresh token reuse exceeded`, `Session doesn't have required client`,
  `Invalid refresh token`; the reason recorded is that message, else `error`).
- `LOGOUT`; `LOGIN_ERROR` and `CODE_TO_TOKEN_ERROR` are failed logins.

Keycloak sets the user on a refresh event only once the session is validated (TokenManager
`refreshAccessToken`), so a `REFRESH_TOKEN_ERROR` has no `userId`: it is attributed to the user of its
`sessionId`; one without a session either (an expired token, `Token is not active`) cannot be.
A device is the `sessionId` (one SSO session: a login and its refreshes), or per `--device-by` the
`clientId`, or `clientId` and `ipAddress`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.ingest.events import LOGIN, LOGIN_FAILED, LOGOUT, REFRESH, REFRESH_FAILED
from sim.ingest.formats import (
    ConvertContext,
    Converted,
    LogFormat,
    device_key,
    is_null,
    kinds_of,
    nullify_empty,
    reasons,
)
from sim.ingest.reading import Field, column

TYPES = {
    "CODE_TO_TOKEN": LOGIN,
    "LOGIN": LOGIN,
    "REFRESH_TOKEN": REFRESH,
    "REFRESH_TOKEN_ERROR": REFRESH_FAILED,
    "LOGOUT": LOGOUT,
    "LOGIN_ERROR": LOGIN_FAILED,
    "CODE_TO_TOKEN_ERROR": LOGIN_FAILED,
}

FIELDS = (
    Field("time", pa.int64()),
    Field("type", pa.string()),
    Field("clientId", pa.string()),
    Field("userId", pa.string()),
    Field("sessionId", pa.string()),
    Field("ipAddress", pa.string()),
    Field("error", pa.string()),
    Field("details.reason", pa.string()),
    Field("details.grant_type", pa.string()),
)


def convert(table: pa.Table, context: ConvertContext) -> Converted:
    """Keycloak events of one batch as canonical events."""
    types = column(table, "type")
    kind, ignored = kinds_of(types, TYPES)
    interactive = np.asarray(
        pc.equal(types, "LOGIN").fill_null(False).to_numpy(zero_copy_only=False), dtype=bool
    ) & is_null(column(table, "details.grant_type"))
    if interactive.any():
        kind[interactive] = -1
        ignored["LOGIN (interactive; its tokens are the CODE_TO_TOKEN)"] = int(interactive.sum())
    time_ms = column(table, "time", pa.int64())
    no_time = is_null(time_ms)
    time = np.asarray(time_ms.fill_null(0).to_numpy(zero_copy_only=False), dtype=float) / 1000.0
    device = device_key(
        context.device_by, column(table, "sessionId"), column(table, "clientId"), column(table, "ipAddress")
    )
    session = column(table, "sessionId")
    user = column(table, "userId")
    orphan_without_session = is_null(user) & is_null(session)
    failed = kind == REFRESH_FAILED
    bad = [
        (no_time, "time", "missing"),
        (
            orphan_without_session & failed & ~no_time,
            "userId",
            "missing, and no sessionId to find the user by (an expired refresh token names neither)",
        ),
        (
            orphan_without_session & ~failed & ~no_time,
            "userId",
            "missing, and no sessionId to find the user by",
        ),
    ]
    reason = reasons(column(table, "details.reason"), column(table, "error"))
    reason = pc.if_else(
        pa.array(np.isin(kind, (REFRESH_FAILED, LOGIN_FAILED))), reason, pa.scalar(None, pa.string())
    )
    return Converted(
        kind,
        pa.array(user.combine_chunks() if isinstance(user, pa.ChunkedArray) else user),
        device,
        time,
        reason,
        bad,
        ignored,
        session=nullify_empty(session),
    )


FORMAT = LogFormat(
    name="keycloak",
    schema_url="https://www.keycloak.org/docs-api/latest/javadocs/org/keycloak/representations/idm/EventRepresentation.html",
    container="json",
    fields=FIELDS,
    convert=convert,
    access_token_lifetime=300.0,
    session_field="sessionId",
)
