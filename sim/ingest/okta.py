"""Okta System Log events (LogEvent objects), as JSON lines or the JSON array of `GET /api/v1/logs`.

Schema: the System Log API's LogEvent object (https://developer.okta.com/docs/reference/api/system-log/):
`uuid`, `published` (ISO 8601), `eventType`, `actor` (`id`, `type`, ...), `client` (`id`, `ipAddress`,
`userAgent`, ...), `outcome` (`result`: SUCCESS, FAILURE, ...; `reason`), `target` (a list of
`id`, `type`, ...), `authenticationContext` (`externalSessionId`, ...), `debugContext.debugData`
(`grantType`, ...) and `transaction`.

Token events (one token request logs one `...token.grant.access_token` event, plus
`...token.grant.refresh_token` and `...token.grant.id_token` events for the other tokens it issued;
only the access-token one is counted, the others are ignored under their types):
- `app.oauth2.as.token.grant.access_token` (custom authorization server) or
  `app.oauth2.token.grant.access_token` (org server) with `outcome.result` SUCCESS: a refresh when
  `debugContext.debugData.grantType` is `refresh_token`, a login for any other user grant
  (`authorization_code`, `password`, `interaction_code`, device code); `client_credentials` has no user
  and is ignored;
- `app.oauth2.as.token.grant` / `app.oauth2.token.grant` with FAILURE: a failed refresh (grant type
  `refresh_token`, reason `outcome.reason`, e.g. `invalid_refresh_token`) or a failed login;
- `user.session.end`: a logout. `app.oauth2.as.token.detect_reuse` is ignored (counted): its request
  also logs the failed grant.
The user is the `actor` when its type is `User`, else the first `target` of type `User`. A device is the
Okta session (`authenticationContext.externalSessionId`), or per `--device-by` the OAuth client
(`client.id`), or `client.id` and `client.ipAddress`.
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
    nullify_empty,
    reasons,
)
from sim.ingest.reading import Field, column
from sim.ingest.times import parse_iso

GRANTS_OK = ("app.oauth2.as.token.grant.access_token", "app.oauth2.token.grant.access_token")
GRANTS_FAILED = ("app.oauth2.as.token.grant", "app.oauth2.token.grant", *GRANTS_OK)
LOGOUTS = ("user.session.end",)

FIELDS = (
    Field("published", pa.string()),
    Field("eventType", pa.string()),
    Field("actor.id", pa.string()),
    Field("actor.type", pa.string()),
    Field("target", pa.list_(pa.struct([pa.field("id", pa.string()), pa.field("type", pa.string())]))),
    Field("client.id", pa.string()),
    Field("client.ipAddress", pa.string()),
    Field("outcome.result", pa.string()),
    Field("outcome.reason", pa.string()),
    Field("authenticationContext.externalSessionId", pa.string()),
    Field("debugContext.debugData.grantType", pa.string()),
)


def _mask(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(values.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _target_users(targets: pa.ChunkedArray, n: int) -> pa.Array:
    """The id of the first target of type `User` in each row (null if none)."""
    array = targets.combine_chunks()
    found: list[str | None] = [None] * n
    if n == 0 or array.null_count == n:
        return pa.array(found, pa.string())
    flat = pc.list_flatten(array)
    parents = np.asarray(pc.list_parent_indices(array).to_numpy(zero_copy_only=False))
    is_user = _mask(pc.equal(flat.field("type"), "User"))
    ids = np.asarray(flat.field("id").to_pylist(), dtype=object)
    for parent, target_id in zip(parents[is_user], ids[is_user], strict=True):
        if found[parent] is None:
            found[parent] = target_id
    return pa.array(found, pa.string())


def convert(table: pa.Table, context: ConvertContext) -> Converted:
    """Okta System Log events of one batch as canonical events."""
    n = table.num_rows
    types = column(table, "eventType")
    result = column(table, "outcome.result")
    grant = column(table, "debugContext.debugData.grantType")
    success = _mask(pc.equal(result, "SUCCESS"))
    failure = _mask(pc.equal(result, "FAILURE"))
    refresh_grant = _mask(pc.equal(grant, "refresh_token"))
    machine = _mask(pc.equal(grant, "client_credentials"))
    ok_grant = _mask(pc.is_in(types, value_set=pa.array(GRANTS_OK)))
    failed_grant = _mask(pc.is_in(types, value_set=pa.array(GRANTS_FAILED)))
    logout = _mask(pc.is_in(types, value_set=pa.array(LOGOUTS))) & ~failure
    kind = np.full(n, -1, dtype=np.int8)
    kind[ok_grant & success & refresh_grant] = REFRESH
    kind[ok_grant & success & ~refresh_grant & ~machine] = LOGIN
    kind[failed_grant & failure & refresh_grant] = REFRESH_FAILED
    kind[failed_grant & failure & ~refresh_grant & ~machine] = LOGIN_FAILED
    kind[logout] = LOGOUT
    ignored: dict[str, int] = {}
    if (kind < 0).any():
        labels = pc.fill_null(types, "(no eventType)").filter(pa.array(kind < 0))
        for item in pc.value_counts(labels).to_pylist():
            ignored[str(item["values"])] = int(item["counts"])
    published = column(table, "published")
    no_time = is_null(published)
    time, bad_time = parse_iso(published)
    actor_is_user = pa.array(_mask(pc.equal(column(table, "actor.type"), "User")))
    user = pc.if_else(
        actor_is_user,
        nullify_empty(column(table, "actor.id")),
        _target_users(column(table, "target", FIELDS[4].type), n),
    )
    session = column(table, "authenticationContext.externalSessionId")
    session = pc.if_else(pc.equal(session, "unknown").fill_null(False), pa.scalar(None, pa.string()), session)
    device = device_key(
        context.device_by, session, column(table, "client.id"), column(table, "client.ipAddress")
    )
    reason = reasons(
        column(table, "outcome.reason"), _failure_words(failure)
    )
    reason = pc.if_else(
        pa.array(np.isin(kind, (REFRESH_FAILED, LOGIN_FAILED))), reason, pa.scalar(None, pa.string())
    )
    bad = [
        (no_time, "published", "missing"),
        (bad_time & ~no_time, "published", "not an ISO 8601 timestamp"),
        (
            is_null(user) & is_null(session),
            "actor",
            "no user (neither the actor nor a target is of type User), and no session to find one by",
        ),
    ]
    return Converted(kind, user, device, time, reason, bad, ignored, session=nullify_empty(session))


FORMAT = LogFormat(
    name="okta",
    schema_url="https://developer.okta.com/docs/reference/api/system-log/",
    container="json",
    fields=FIELDS,
    convert=convert,
    access_token_lifetime=3600.0,
    session_field="authenticationContext.externalSessionId",
)


def _failure_words(failure: np.ndarray) -> pa.Array:
    """"failure" where the flag is set, null elsewhere."""
    return pc.if_else(pa.array(failure), pa.scalar("failure"), pa.scalar(None, pa.string()))
