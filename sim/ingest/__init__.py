"""Identity-provider logs in, simulated token events out (issue 15: ingest and export).

`tokensim ingest LOG... --format F --out trace.parquet` reads a vendor's event log (one module per
format: keycloak, auth0, okta, identityserver, csv), turns it into canonical token events (user, device,
time, kind, reason), sorts them per user out of core (sim/ingest/pipeline.py), reconstructs sessions
(sim/ingest/sessions.py) and writes the trace (sim/ingest/trace.py, the contract the replay and fit
workflows read). sim/ingest/export.py goes the other way: simulated token events in each vendor format.
The rules are in docs/ingest.md.
"""

#: The log formats, in the order the documentation lists them.
FORMATS: tuple[str, ...] = ("keycloak", "auth0", "okta", "identityserver", "csv")
