"""Auth0 tenant log events, as JSON lines (log streams, exports) or a JSON array (the Management API).

Schema: Auth0's log event schemas, one per type code (https://github.com/auth0/auth0-log-schemas,
`schemas/log-types/*.schema.json`) and the code list (https://auth0.com/docs/deploy-monitor/logs/log-event-type-codes):
`date` (ISO 8601), `type`, `user_id`, `client_id`, `ip`, `description`, `details`.

Token events:
- logins (a new refresh token): `seacft` (authorization code exchanged), `sepft` (password exchanged),
  `sede` (device code), `sens` (native social); the interactive `s` (Successful Login) is followed by
  the exchange that issues the tokens, so it is ignored (counted under its type);
- refreshes: `sertft` (Successful Exchange of Refresh Token for Access Token);
- failed refreshes: `fertft` (Failed Exchange of Refresh Token for Access Token: revoked or expired;
  its reason is `details.failure_reason`, else the `description`, e.g. `Unknown or invalid refresh
  token.`) and `ferrt` (Failed Exchange of Rotating Refresh Token: reuse detected; reason
  `reuse_detected` unless the description says more);
- `slo` (Successful Logout); failed logins `f`, `fp`, `fu`, `feacft`, `fepft`.
A device is the session the refresh token is bound to (`details.refresh_token.session_id`, or
`details.session_id` on logins and logouts), or per `--device-by` the `client_id`, or `client_id` and `ip`.
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
from sim.ingest.times import parse_iso

TYPES = {
    "seacft": LOGIN,
    "sepft": LOGIN,
    "sede": LOGIN,
    "sens": LOGIN,
    "sertft": REFRESH,
    "fertft": REFRESH_FAILED,
    "ferrt": REFRESH_FAILED,
    "slo": LOGOUT,
    "f": LOGIN_FAILED,
    "fp": LOGIN_FAILED,
    "fu": LOGIN_FAILED,
    "feacft": LOGIN_FAILED,
    "fepft": LOGIN_FAILED,
}

FIELDS = (
    Field("date", pa.string()),
    Field("type", pa.string()),
    Field("user_id", pa.string()),
    Field("client_id", pa.string()),
    Field("ip", pa.string()),
    Field("description", pa.string()),
    Field("details.failure_reason", pa.string()),
    Field("details.session_id", pa.string()),
    Field("details.refresh_token.session_id", pa.string()),
)


def convert(table: pa.Table, context: ConvertContext) -> Converted:
    """Auth0 log events of one batch as canonical events."""
    types = column(table, "type")
    kind, ignored = kinds_of(types, TYPES)
    dates = column(table, "date")
    no_time = is_null(dates)
    time, bad_time = parse_iso(dates)
    session = pc.coalesce(
        column(table, "details.refresh_token.session_id"), column(table, "details.session_id")
    )
    device = device_key(context.device_by, session, column(table, "client_id"), column(table, "ip"))
    user = column(table, "user_id")
    detected = pc.equal(types, "ferrt").fill_null(False)
    reuse = pc.if_else(detected, pa.scalar("reuse_detected"), pa.scalar(None, pa.string()))
    reason = reasons(column(table, "details.failure_reason"), reuse, column(table, "description"))
    reason = pc.if_else(
        pa.array(np.isin(kind, (REFRESH_FAILED, LOGIN_FAILED))), reason, pa.scalar(None, pa.string())
    )
    bad = [
        (no_time, "date", "missing"),
        (bad_time & ~no_time, "date", "not an ISO 8601 timestamp"),
        (is_null(user) & is_null(session), "user_id", "missing, and no session id to find the user by"),
    ]
    return Converted(
        kind, user.combine_chunks(), device, time, reason, bad, ignored, session=nullify_empty(session)
    )


FORMAT = LogFormat(
    name="auth0",
    schema_url="https://github.com/auth0/auth0-log-schemas",
    container="json",
    fields=FIELDS,
    convert=convert,
    access_token_lifetime=86400.0,
    session_field="details.refresh_token.session_id / details.session_id",
)


def _failure_words(failure: np.ndarray) -> pa.Array:
    """"failure" where the flag is set, null elsewhere."""
    return pc.if_else(pa.array(failure), pa.scalar("failure"), pa.scalar(None, pa.string()))
