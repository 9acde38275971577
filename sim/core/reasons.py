"""Why a refresh failed and why a chain or a theft ended: the words used in tables, metrics and reports.

These strings are a public contract (they are values of the `cause` and `end_reason` columns and suffixes of
metric names such as `forced_reauth_per_user_month.sliding_expiry`).
"""

from __future__ import annotations

ABSOLUTE_EXPIRY = "absolute_expiry"
SLIDING_EXPIRY = "sliding_expiry"
EVICTED = "evicted"
CONSUMED = "consumed"
FAMILY_REVOKED = "family_revoked"
REVOKED = "revoked"
LOGOUT = "logout"
UNKNOWN_TOKEN = "unknown_token"
REJECTED_CAP = "rejected_cap"

#: Every reason a refresh can fail with.
FAILURE_REASONS: tuple[str, ...] = (
    ABSOLUTE_EXPIRY,
    SLIDING_EXPIRY,
    EVICTED,
    CONSUMED,
    FAMILY_REVOKED,
    REVOKED,
    LOGOUT,
    UNKNOWN_TOKEN,
    REJECTED_CAP,
)
#: Every reason a chain can end with.
END_REASONS: tuple[str, ...] = (ABSOLUTE_EXPIRY, SLIDING_EXPIRY, EVICTED, FAMILY_REVOKED, REVOKED, LOGOUT)

#: Failure reasons that mean the server detected a replayed token.
DETECTING: tuple[str, ...] = (CONSUMED, FAMILY_REVOKED)

#: End reason of a theft that gave the attacker nothing (no working token was stolen).
NO_TOKEN = "no_token"
