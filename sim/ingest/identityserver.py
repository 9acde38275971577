"""Duende IdentityServer (and IdentityServer4) `PersistedGrants` table, exported as CSV.

Schema: the EF Core operational store's `PersistedGrants` table (Duende.IdentityServer.EntityFramework,
https://docs.duendesoftware.com/identityserver/data/operational/ and the persisted grant store
https://docs.duendesoftware.com/identityserver/reference/stores/persisted-grant-store/): `Key`, `Type`
(`refresh_token`, `authorization_code`, `reference_token`, `user_consent`, ...), `SubjectId`,
`SessionId`, `ClientId`, `Description`, `CreationTime`, `Expiration`, `ConsumedTime` (UTC date-times),
`Data`. A header line names the columns (as `SELECT * ... ` to CSV from SQL Server, PostgreSQL or
SQLite writes them); empty and `NULL` values are null.

The table holds grants, not requests, so fewer token events can be seen than in an event log:
- each `refresh_token` row is a refresh token issued at `CreationTime`: the first of its family (the
  rows of one `SessionId` and `ClientId` of a subject) is the login, each later one a refresh that
  rotated it (`OneTimeOnly` usage; `ConsumedTime` of the earlier row is the same request);
- with `ReUse` refresh tokens a row is updated in place, so refreshes leave no row;
- failed refreshes and logouts are not recorded at all; rows the token cleanup removed are gone.
Other grant types are ignored (counted by type). A device is the `SessionId` (with the `ClientId`), or
per `--device-by` the `ClientId` (`client_ip` is the same here: the table has no IP address).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.ingest.events import ISSUE
from sim.ingest.formats import ConvertContext, Converted, LogFormat, is_null, kinds_of, nullify_empty
from sim.ingest.reading import Field, column
from sim.ingest.times import parse_iso

COLUMNS = ("Key", "Type", "SubjectId", "SessionId", "ClientId", "CreationTime", "Expiration", "ConsumedTime")
REQUIRED = ("Key", "Type", "SubjectId", "SessionId", "ClientId", "CreationTime")


def convert(table: pa.Table, context: ConvertContext) -> Converted:
    """Grant rows of one batch as ISSUE events (resolved to logins and refreshes per family later)."""
    kind, ignored = kinds_of(column(table, "Type"), {"refresh_token": ISSUE})
    created = column(table, "CreationTime")
    no_time = is_null(created)
    time, bad_time = parse_iso(created, "UTC")
    client = pc.fill_null(nullify_empty(column(table, "ClientId")), "-")
    session = nullify_empty(column(table, "SessionId"))
    key = column(table, "Key").combine_chunks()
    # a row without a session is a family of its own (the token cannot be linked to others)
    family = pc.binary_join_element_wise(
        pc.coalesce(session, pc.binary_join_element_wise("key", key, ":")), client, "|"
    )
    device = (
        client
        if context.device_by != "session"
        else pc.binary_join_element_wise(pc.coalesce(session, client), client, "|")
    )
    user = column(table, "SubjectId").combine_chunks()
    bad = [
        (no_time, "CreationTime", "missing"),
        (bad_time & ~no_time, "CreationTime", "not a date-time"),
        (is_null(user), "SubjectId", "missing (a client-credentials grant has no user)"),
    ]
    reason = pa.nulls(table.num_rows, pa.string())
    return Converted(np.asarray(kind), user, device, time, reason, bad, ignored, family=family)


FORMAT = LogFormat(
    name="identityserver",
    schema_url="https://docs.duendesoftware.com/identityserver/data/operational/",
    container="csv",
    fields=tuple(Field(name, pa.string()) for name in COLUMNS),
    convert=convert,
    access_token_lifetime=3600.0,
    session_field="SessionId",
    csv_required=REQUIRED,
)
