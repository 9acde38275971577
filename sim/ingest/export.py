"""Simulated token events written as a vendor's log (`tokensim run ... --events FORMAT`).

Input: the event log of a run (sim/model/recording.py EVENT_COLUMNS, in (replication, persona, user,
time) order), as Arrow record batches. Times are simulated seconds; a log's timestamps are
`epoch + t`, with `epoch` a Monday 00:00 UTC (DEFAULT_EPOCH) like the simulator's t = 0, so ingesting
the log again with `--timezone UTC` gives back the simulated times. Identifiers are derived from
(replication, persona, user, device, chain) by hashing, so the same run writes the same log: a user's
id looks like the vendor's (a UUID for Keycloak and IdentityServer, `auth0|...`, Okta's `00u...`),
each device keeps one IP address and user agent, each chain (a login and its refreshes) is one session.
Session starts are not written (identity providers do not see them); an attacker's refreshes are
written like the device's own but from another IP address.

What each vendor logs for a failed refresh, by the engine's reason (docs/ingest.md has the table):
- keycloak: `REFRESH_TOKEN_ERROR`, `error` `invalid_token`, `details.reason` as Keycloak's token
  manager words it; Keycloak names no user on refresh errors, and an expired token names no session
  either (KEYCLOAK_REASONS);
- auth0: `ferrt` for a detected reuse (`consumed`), else `fertft` "Unknown or invalid refresh token.";
- okta: a FAILURE `app.oauth2.as.token.grant` with reason `invalid_refresh_token` (a reuse also logs
  `app.oauth2.as.token.detect_reuse`);
- identityserver: nothing (the grant table has no failures); csv: `refresh_failed` with the reason.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from sim.core.output import write_atomic
from sim.core.reasons import (
    ABSOLUTE_EXPIRY,
    CONSUMED,
    EVICTED,
    FAMILY_REVOKED,
    LOGOUT,
    REVOKED,
    SLIDING_EXPIRY,
    UNKNOWN_TOKEN,
)
from sim.ingest import FORMATS
from sim.ingest.times import to_iso

if TYPE_CHECKING:
    from sim.policy.model import Policy

#: t = 0 of the simulator as a log timestamp: Monday 2024-01-01 00:00 UTC.
DEFAULT_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
#: The file each format is written to inside the run's output directory.
FILE_NAMES = {
    "keycloak": "events.keycloak.jsonl",
    "auth0": "events.auth0.jsonl",
    "okta": "events.okta.jsonl",
    "identityserver": "PersistedGrants.csv",
    "csv": "events.csv",
}
#: Keycloak's `details.reason` of a failed refresh, by the engine's reason.
KEYCLOAK_REASONS = {
    ABSOLUTE_EXPIRY: "Token is not active",
    SLIDING_EXPIRY: "Token is not active",
    CONSUMED: "Maximum allowed refresh token reuse exceeded",
    FAMILY_REVOKED: "Session doesn't have required client",
    REVOKED: "Session not active",
    LOGOUT: "Session not active",
    EVICTED: "Session not active",
    UNKNOWN_TOKEN: "Invalid refresh token",
}
#: Keycloak reasons of refresh errors that carry no session id (the token was rejected before it).
KEYCLOAK_NO_SESSION = frozenset({"Token is not active", "Invalid refresh token"})
AUTH0_INVALID = "Unknown or invalid refresh token."
AUTH0_REUSE = "Unsuccessful Refresh Token exchange, reused refresh token detected"
OKTA_INVALID = "invalid_refresh_token"


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("/".join(map(str, parts)).encode()).digest()


def user_id(fmt: str, replication: int, persona: str, user: int) -> str:
    """The id a format's log gives a simulated user (deterministic)."""
    digest = _digest("user", replication, persona, user)
    if fmt == "auth0":
        return "auth0|" + digest[:12].hex()
    if fmt == "okta":
        return "00u" + base64.b32encode(digest).decode().lower()[:17]
    if fmt == "csv":
        return f"r{replication}-{persona}-{user}"
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _session_id(fmt: str, replication: int, persona: str, user: int, chain: int) -> str:
    digest = _digest("session", replication, persona, user, chain)
    if fmt == "okta":
        return "102" + base64.b32encode(digest).decode()[:22]
    if fmt == "auth0":
        return base64.urlsafe_b64encode(digest).decode()[:32]
    if fmt == "identityserver":
        return digest[:16].hex().upper()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _ip(replication: int, persona: str, user: int, device: int, attacker: bool = False) -> str:
    d = _digest("ip", replication, persona, user, device, attacker)
    if attacker:
        return f"198.51.100.{1 + d[0] % 254}"
    return f"10.{d[0]}.{d[1]}.{1 + d[2] % 254}"


_AGENTS = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
        "Safari/537.36",
        "Windows 10",
        "CHROME",
        "Chrome 120.0.0 / Windows 10.0.0",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.1 "
        "Safari/605.1.15",
        "Mac OS X",
        "SAFARI",
        "Safari 17.1.0 / Mac OS X 10.15.7",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Mobile/15E148",
        "iOS",
        "MOBILE_SAFARI",
        "Mobile Safari 17.1.0 / iOS 17.1.0",
    ),
)


@dataclass(frozen=True)
class Event:
    """One row of the event log, with its log timestamp."""

    replication: int
    persona: str
    user: int
    device: int
    chain: int
    at_s: float
    kind: str
    outcome: str
    reason: str | None
    epoch_s: float

    @property
    def time(self) -> float:
        """Seconds since the Unix epoch."""
        return self.epoch_s + self.at_s

    @property
    def attacker(self) -> bool:
        return self.kind == "attacker_refresh"

    def ip(self) -> str:
        return _ip(self.replication, self.persona, self.user, self.device, self.attacker)

    def agent(self) -> tuple[str, str, str, str]:
        d = _digest("agent", self.replication, self.persona, self.user, self.device, self.attacker)
        return _AGENTS[d[0] % len(_AGENTS)]


def _events(batches: Iterable[pa.RecordBatch], epoch: datetime) -> Iterator[Event]:
    epoch_s = epoch.timestamp()
    for batch in batches:
        columns = batch.to_pydict()
        for values in zip(
            columns["replication"], columns["persona"], columns["user"], columns["device"], columns["chain"],
            columns["at_s"], columns["kind"], columns["outcome"], columns["reason"], strict=True,
        ):  # fmt: skip
            replication, persona, user, device, chain, at_s, kind, outcome, reason = values
            if kind != "session":
                yield Event(replication, persona, user, device, chain, at_s, kind, outcome, reason, epoch_s)


class _Ids:
    """A counter-based id for each log line (log_id, uuid), deterministic."""

    def __init__(self, fmt: str):
        self.fmt = fmt
        self.count = 0

    def next(self) -> str:
        self.count += 1
        return str(uuid.UUID(bytes=_digest("event", self.fmt, self.count)[:16], version=4))


# ------------------------------------------------------------------------------------------- keycloak


def _keycloak(events: Iterator[Event], policy: Policy, write: Callable[[dict], None]) -> None:
    ids = _Ids("keycloak")
    realm = "tokensim"
    client = "tokensim-web"
    access = int(policy.fixed_access_token_lifetime or 300)
    for e in events:
        uid = user_id("keycloak", e.replication, e.persona, e.user)
        session = _session_id("keycloak", e.replication, e.persona, e.user, e.chain)
        base = {
            "id": ids.next(),
            "time": round(e.time * 1000),
            "realmId": realm,
            "clientId": client,
            "userId": uid,
            "sessionId": session,
            "ipAddress": e.ip(),
        }
        if e.kind == "login":
            if e.outcome == "rejected":
                write(
                    {
                        **base,
                        "type": "LOGIN_ERROR",
                        "sessionId": None,
                        "error": "not_allowed",
                        "details": {"auth_method": "openid-connect", "reason": e.reason or "rejected"},
                    }
                )
                continue
            code_id = str(uuid.UUID(bytes=_digest("code", e.replication, e.persona, e.user, e.chain)[:16]))
            write(
                {
                    **base,
                    "type": "LOGIN",
                    "details": {
                        "auth_method": "openid-connect",
                        "auth_type": "code",
                        "redirect_uri": "https://app.example.com/cb",
                        "consent": "no_consent_required",
                        "code_id": code_id,
                        "username": f"{e.persona}.{e.user}@example.com",
                    },
                }
            )
            write(
                {
                    **base,
                    "id": ids.next(),
                    "type": "CODE_TO_TOKEN",
                    "details": {
                        "token_id": ids.next(),
                        "grant_type": "authorization_code",
                        "refresh_token_type": "Refresh",
                        "scope": "openid profile email",
                        "refresh_token_id": ids.next(),
                        "code_id": code_id,
                        "client_auth_method": "client-secret",
                    },
                }
            )
        elif e.kind in ("refresh", "attacker_refresh"):
            if e.outcome == "failed":
                reason = KEYCLOAK_REASONS.get(e.reason or "", "Invalid refresh token")
                write(
                    {
                        **base,
                        "type": "REFRESH_TOKEN_ERROR",
                        "userId": None,
                        "sessionId": None if reason in KEYCLOAK_NO_SESSION else session,
                        "error": "invalid_token",
                        "details": {"grant_type": "refresh_token", "reason": reason},
                    }
                )
            else:
                write(
                    {
                        **base,
                        "type": "REFRESH_TOKEN",
                        "details": {
                            "token_id": ids.next(),
                            "grant_type": "refresh_token",
                            "refresh_token_type": "Refresh",
                            "scope": "openid profile email",
                            "refresh_token_id": ids.next(),
                            "updated_refresh_token_id": ids.next(),
                            "access_token_expiration_time": str(access),
                            "client_auth_method": "client-secret",
                        },
                    }
                )
        elif e.kind == "logout":
            write({**base, "type": "LOGOUT", "details": {"redirect_uri": "https://app.example.com/"}})


# ---------------------------------------------------------------------------------------------- auth0


def _auth0(events: Iterator[Event], policy: Policy, write: Callable[[dict], None]) -> None:
    ids = _Ids("auth0")
    client_id = base64.b32encode(_digest("client")).decode()[:32]
    common = {
        "client_id": client_id,
        "client_name": "tokensim web",
        "tenant_name": "tokensim",
        "environment_name": "prod-eu-1",
        "hostname": "tokensim.eu.auth0.com",
        "audience": "https://api.example.com",
        "connection": "Username-Password-Authentication",
        "connection_id": "con_" + _digest("connection").hex()[:16],
    }
    counters: dict[tuple[int, str, int, int], int] = {}  # refresh-token counter of each chain
    owner: tuple | None = None
    for e in events:
        uid = user_id("auth0", e.replication, e.persona, e.user)
        session = _session_id("auth0", e.replication, e.persona, e.user, e.chain)
        family = "rtf_" + _digest("family", e.replication, e.persona, e.user, e.chain).hex()[:20]
        _raw, _os, _browser, short = e.agent()
        base = {
            **common,
            "date": to_iso(e.time),
            "ip": e.ip(),
            "user_agent": short,
            "user_id": uid,
            "user_name": f"{e.persona}.{e.user}@example.com",
            "log_id": _log_id(ids),
            "$event_schema": {"version": "1.0.0"},
        }
        key = (e.replication, e.persona, e.user, e.chain)
        if key[:3] != owner:  # a user's events are contiguous: keep one user's counters at a time
            counters.clear()
            owner = key[:3]
        if e.kind == "login":
            if e.outcome == "rejected":
                write(
                    {
                        **base,
                        "type": "f",
                        "description": "Too many refresh tokens for this user",
                        "strategy": "auth0",
                        "strategy_type": "database",
                        "details": {"error": {"message": e.reason or "rejected"}},
                    }
                )
                continue
            counters[key] = 0
            write(
                {
                    **base,
                    "type": "s",
                    "description": "",
                    "strategy": "auth0",
                    "strategy_type": "database",
                    "details": {"session_id": session, "prompts": []},
                }
            )
            write(
                {
                    **base,
                    "log_id": _log_id(ids),
                    "type": "seacft",
                    "description": "Authorization Code for Access Token",
                    "details": {
                        "code": "*" * 32 + session[-6:],
                        "refresh_token": {"access": "offline", "session_id": session},
                    },
                }
            )
        elif e.kind in ("refresh", "attacker_refresh"):
            counter = counters.get(key, 0)
            if e.outcome == "failed":
                if e.reason == CONSUMED:
                    write(
                        {
                            **base,
                            "type": "ferrt",
                            "description": AUTH0_REUSE,
                            "details": {
                                "familyId": family,
                                "latestCounter": counter,
                                "tokenCounter": max(counter - 1, 0),
                            },
                        }
                    )
                else:
                    details = (
                        {}
                        if e.reason == UNKNOWN_TOKEN
                        else {"refresh_token": {"access": "offline", "session_id": session}}
                    )
                    write({**base, "type": "fertft", "description": AUTH0_INVALID, "details": details})
            else:
                if e.outcome == "ok":
                    counter = counters[key] = counter + 1
                write(
                    {
                        **base,
                        "type": "sertft",
                        "description": "",
                        "details": {
                            "familyId": family,
                            "tokenCounter": counter,
                            "refresh_token": {"access": "offline", "session_id": session},
                        },
                    }
                )
        elif e.kind == "logout":
            write(
                {
                    **base,
                    "type": "slo",
                    "description": "",
                    "details": {
                        "session_id": session,
                        "return_to": "https://app.example.com/",
                        "allowed_logout_url": [],
                    },
                }
            )


def _log_id(ids: _Ids) -> str:
    ids.count += 1
    return f"9002024{ids.count:049d}"


# ----------------------------------------------------------------------------------------------- okta


def _okta(events: Iterator[Event], policy: Policy, write: Callable[[dict], None]) -> None:
    ids = _Ids("okta")
    client = "0oa" + base64.b32encode(_digest("client")).decode().lower()[:17]
    server = "aus" + base64.b32encode(_digest("server")).decode().lower()[:17]
    rotates = policy.refresh_token_usage != "reuse"

    def event(
        e: Event, event_type: str, result: str, message: str, grant: str | None, reason: str | None = None
    ) -> dict:
        uid = user_id("okta", e.replication, e.persona, e.user)
        raw, os_name, browser, _ = e.agent()
        record = {
            "uuid": ids.next(),
            "published": to_iso(e.time),
            "eventType": event_type,
            "version": "0",
            "severity": "INFO" if result == "SUCCESS" else "WARN",
            "displayMessage": message,
            "actor": {
                "id": uid,
                "type": "User",
                "alternateId": f"{e.persona}.{e.user}@example.com",
                "displayName": f"{e.persona} {e.user}",
            },
            "client": {
                "id": client,
                "ipAddress": e.ip(),
                "zone": "null",
                "device": "Computer",
                "userAgent": {"rawUserAgent": raw, "os": os_name, "browser": browser},
            },
            "outcome": {"result": result, "reason": reason},
            "target": [
                {
                    "id": server,
                    "type": "AuthorizationServer",
                    "alternateId": "default",
                    "displayName": "default",
                }
            ],
            "transaction": {"type": "WEB", "id": ids.next()[:27]},
            "authenticationContext": {
                "authenticationStep": 0,
                "externalSessionId": _session_id("okta", e.replication, e.persona, e.user, e.chain),
            },
            "debugContext": {"debugData": {"grantType": grant} if grant else {}},
        }
        return record

    for e in events:
        if e.kind == "login":
            if e.outcome == "rejected":
                write(
                    event(
                        e,
                        "app.oauth2.as.token.grant",
                        "FAILURE",
                        "OAuth2 token request failed",
                        "authorization_code",
                        e.reason,
                    )
                )
                continue
            write(
                event(
                    e,
                    "app.oauth2.as.token.grant.access_token",
                    "SUCCESS",
                    "OAuth2 access token is granted",
                    "authorization_code",
                )
            )
            write(
                event(
                    e,
                    "app.oauth2.as.token.grant.refresh_token",
                    "SUCCESS",
                    "OAuth2 refresh token is granted",
                    "authorization_code",
                )
            )
        elif e.kind in ("refresh", "attacker_refresh"):
            if e.outcome == "failed":
                if e.reason == CONSUMED:
                    write(
                        event(
                            e,
                            "app.oauth2.as.token.detect_reuse",
                            "FAILURE",
                            "Refresh token reuse detected",
                            "refresh_token",
                            "refresh_token_reuse",
                        )
                    )
                write(
                    event(
                        e,
                        "app.oauth2.as.token.grant",
                        "FAILURE",
                        "OAuth2 token request failed",
                        "refresh_token",
                        OKTA_INVALID,
                    )
                )
                continue
            write(
                event(
                    e,
                    "app.oauth2.as.token.grant.access_token",
                    "SUCCESS",
                    "OAuth2 access token is granted",
                    "refresh_token",
                )
            )
            if rotates and e.outcome == "ok":
                write(
                    event(
                        e,
                        "app.oauth2.as.token.grant.refresh_token",
                        "SUCCESS",
                        "OAuth2 refresh token is granted",
                        "refresh_token",
                    )
                )
        elif e.kind == "logout":
            write(event(e, "user.session.end", "SUCCESS", "User logout from Okta", None))


# ------------------------------------------------------------------------------------- identityserver

IDENTITYSERVER_COLUMNS = (
    "Id",
    "Key",
    "Type",
    "SubjectId",
    "SessionId",
    "ClientId",
    "Description",
    "CreationTime",
    "Expiration",
    "ConsumedTime",
    "Data",
)


def _sql_time(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    stamp = datetime.fromtimestamp(seconds, tz=UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S.") + f"{stamp.microsecond:06d}0"


def _identityserver(events: Iterator[Event], policy: Policy, write: Callable[[dict], None]) -> None:
    """One row per refresh token issued; a user's rows are written when the next user starts."""
    rotates = policy.refresh_token_usage != "reuse"
    one_time = policy.refresh_token_usage == "one_time"
    lifetime = policy.absolute_lifetime or policy.sliding_lifetime or 30 * 86400.0
    rows: list[dict] = []
    current: dict[tuple, dict] = {}
    owner: tuple | None = None
    count = 0

    def flush() -> None:
        for row in rows:
            write(row)
        rows.clear()
        current.clear()

    for e in events:
        if e.attacker or e.outcome in ("failed", "rejected") or e.kind == "logout":
            continue
        who = (e.replication, e.persona, e.user)
        if who != owner:
            flush()
            owner = who
        key = (*who, e.chain)
        if e.kind == "login" or (e.kind == "refresh" and rotates and e.outcome == "ok" and key in current):
            if e.kind == "refresh" and one_time:
                current[key]["ConsumedTime"] = _sql_time(e.time)
            count += 1
            session = _session_id("identityserver", e.replication, e.persona, e.user, e.chain)
            subject = user_id("identityserver", e.replication, e.persona, e.user)
            created = _sql_time(e.time)
            row = {
                "Id": count,
                "Key": base64.b64encode(_digest("key", *key, count)).decode(),
                "Type": "refresh_token",
                "SubjectId": subject,
                "SessionId": session,
                "ClientId": "tokensim.web",
                "Description": None,
                "CreationTime": created,
                "Expiration": _sql_time(e.time + lifetime),
                "ConsumedTime": None,
                "Data": json.dumps(
                    {
                        "CreationTime": created,
                        "Lifetime": int(lifetime),
                        "ClientId": "tokensim.web",
                        "SubjectId": subject,
                        "SessionId": session,
                        "Version": 5,
                    },
                    separators=(",", ":"),
                ),
            }
            rows.append(row)
            current[key] = row
        elif e.kind == "refresh" and key in current and not rotates and policy.sliding_lifetime:
            current[key]["Expiration"] = _sql_time(e.time + policy.sliding_lifetime)  # updated in place
    flush()


# ------------------------------------------------------------------------------------------------ csv


def _generic_csv(events: Iterator[Event], policy: Policy, write: Callable[[dict], None]) -> None:
    names = {"login": "login", "refresh": "refresh", "attacker_refresh": "refresh", "logout": "logout"}
    for e in events:
        event = names[e.kind]
        if e.outcome == "failed":
            event = "refresh_failed"
        elif e.outcome == "rejected":
            event = "login_failed"
        device = f"attacker-{e.device}" if e.attacker else f"device-{e.device}"
        write(
            {
                "user": user_id("csv", e.replication, e.persona, e.user),
                "device": device,
                "time": to_iso(e.time),
                "event": event,
                "reason": e.reason,
            }
        )


_WRITERS = {
    "keycloak": _keycloak,
    "auth0": _auth0,
    "okta": _okta,
    "identityserver": _identityserver,
    "csv": _generic_csv,
}


def export_events(
    batches: Iterable[pa.RecordBatch], fmt: str, path: Path, policy: Policy, epoch: datetime = DEFAULT_EPOCH
) -> Path:
    """Write the event rows as `fmt`'s log at `path` (atomically), streaming; return the path."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown event format {fmt!r} (one of {', '.join(FORMATS)})")
    if epoch.tzinfo is None:
        raise ValueError("the epoch needs a time zone (e.g. datetime(2024, 1, 1, tzinfo=UTC))")

    def write_file(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            if fmt in ("identityserver", "csv"):
                columns = (
                    IDENTITYSERVER_COLUMNS
                    if fmt == "identityserver"
                    else ("user", "device", "time", "event", "reason")
                )
                writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
                writer.writeheader()
                _WRITERS[fmt](_events(batches, epoch), policy, writer.writerow)
            else:
                buffer = io.StringIO()

                def line(record: dict) -> None:
                    buffer.write(json.dumps(record, separators=(",", ":")))
                    buffer.write("\n")
                    if buffer.tell() > 1 << 20:
                        handle.write(buffer.getvalue())
                        buffer.seek(0)
                        buffer.truncate()

                _WRITERS[fmt](_events(batches, epoch), policy, line)
                handle.write(buffer.getvalue())

    write_atomic(path, write_file)
    return path


class _RunWithEvents(Protocol):
    """What `export_run_events` needs of a run's result (sim.run.runner.RunResult)."""

    @property
    def scenario(self) -> Any: ...

    def event_batches(self) -> Iterator[pa.RecordBatch]: ...


def export_run_events(result: _RunWithEvents, out: Path, fmt: str, epoch: datetime = DEFAULT_EPOCH) -> Path:
    """Write a run's event log (recorded with `run_scenario(..., events=True)`) into `out` as `fmt`."""
    return export_events(
        result.event_batches(), fmt, Path(out) / FILE_NAMES[fmt], result.scenario.policy, epoch
    )
