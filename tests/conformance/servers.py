"""The servers of the conformance suite, their configurations, and the differences each is known to have.

Each entry names a launcher module in tests/servers/ (with `launch`, `policy_for`, `installed`, `version`),
the configurations the suite runs (the server's own setting names), and the documented approximations:
rules on which the server is known to differ from the engine with the matching policy, each with what the
server does instead. A documented difference is still run and asserted: the test checks that the server
*still* behaves as documented (so a new server version that changes is noticed), and the matrix reports it
as "differs (documented)" with its request log. To add a server, add one `ServerSpec` here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from tests.conformance.harness import Entry

DAY = 86400
#: The grid of the randomised timelines' request times (seconds); see the "random:" configurations.
RANDOM_UNIT = 120.0


@dataclass(frozen=True)
class Documented:
    """A known difference: on `rule` (in `configurations`, or all when empty) the server does `observed`."""

    rule: str
    observed: str
    configurations: frozenset[str] = frozenset()

    def applies(self, configuration: str, rule: str) -> bool:
        """True for this rule in this configuration."""
        return rule == self.rule and (not self.configurations or configuration in self.configurations)


@dataclass(frozen=True)
class ServerSpec:
    """A server of the suite: where its launcher is, what to run, what is known to differ."""

    name: str
    module_name: str
    configurations: Mapping[str, Mapping[str, Any]]
    documented: Sequence[Documented] = ()
    #: Configurations the randomised timelines run against (the others only run the fixed timelines).
    randomised: Sequence[str] = ()
    #: Why a randomised timeline's first difference is a documented one (its name), or None: gets the log of
    #: the timeline up to and including its first difference, and the configuration's settings.
    explain: Callable[[Sequence[Entry], Mapping[str, Any]], str | None] | None = None
    #: Step kinds the randomised timelines may not use on this server (see the server's documentation).
    random_excludes: frozenset[str] = field(default_factory=frozenset)

    @property
    def module(self) -> ModuleType:
        """The launcher module (tests/servers/<name>.py)."""
        return importlib.import_module(self.module_name)

    def documented_for(self, configuration: str, rule: str) -> Documented | None:
        """The documented difference for this rule in this configuration, if any."""
        return next((d for d in self.documented if d.applies(configuration, rule)), None)


def _oidc_explain(entries: Sequence[Entry], settings: Mapping[str, Any]) -> str | None:
    """oidc-provider: a consumed token replayed after its own TTL is refused as expired, and the grant lives.

    The engine revokes the family on such a replay; the server checks the token's own expiry first and
    never reaches its reuse detection. Recognised when, on the chain of the first difference, an earlier
    replay of a consumed token happened later than that token's issue + ttl.RefreshToken.
    """
    first = entries[-1]
    ttl = float(dict(settings.get("ttl", {})).get("RefreshToken", 14 * DAY))
    issued: dict[tuple[str, int, int], float] = {}
    counts: dict[tuple[str, int], int] = {}
    logins: dict[str, int] = {}
    for entry in entries[:-1]:
        step = entry.step
        if step.action == "login" and entry.server.ok:
            chain = logins.get(step.user, 0)
            logins[step.user] = chain + 1
            issued[(step.user, chain, 0)] = entry.at
            counts[(step.user, chain)] = 1
            continue
        key = (step.user, step.chain)
        if step.action != "refresh" or key not in counts:
            continue
        if entry.server.ok and entry.server.token == "new":
            issued[(step.user, step.chain, counts[key])] = entry.at
            counts[key] += 1
        elif (
            not entry.server.ok and not entry.engine.ok and entry.engine_detail == "consumed"
            and step.token != -1 and (step.user, step.chain) == (first.step.user, first.step.chain)
            and entry.at >= issued.get((step.user, step.chain, step.token), float("inf")) + ttl
        ):
            return "replay_after_token_expiry"
    return None


SERVERS: dict[str, ServerSpec] = {
    spec.name: spec
    for spec in (
        ServerSpec(
            name="django-oauth-toolkit",
            module_name="tests.servers.dot",
            configurations={
                "defaults": {},
                "grace+reuse-protection+expiry": {
                    "ROTATE_REFRESH_TOKEN": True,
                    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 120,
                    "REFRESH_TOKEN_REUSE_PROTECTION": True,
                    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
                    "REFRESH_TOKEN_EXPIRE_SECONDS": DAY,
                },
                "grace, no reuse protection": {
                    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 600,
                    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
                    "REFRESH_TOKEN_EXPIRE_SECONDS": 7 * DAY,
                },
                "no rotation": {
                    "ROTATE_REFRESH_TOKEN": False,
                    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
                    "REFRESH_TOKEN_EXPIRE_SECONDS": DAY,
                },
                # For the randomised timelines: every lifetime an odd number of RANDOM_UNIT / 2, so that no
                # request (on the RANDOM_UNIT grid) is ever within 60 s of a deadline.
                "random: rotation": {
                    "ROTATE_REFRESH_TOKEN": True,
                    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 180,
                    "REFRESH_TOKEN_REUSE_PROTECTION": True,
                    "ACCESS_TOKEN_EXPIRE_SECONDS": 300,
                    "REFRESH_TOKEN_EXPIRE_SECONDS": 360,
                },
                "random: no rotation": {
                    "ROTATE_REFRESH_TOKEN": False,
                    "ACCESS_TOKEN_EXPIRE_SECONDS": 300,
                    "REFRESH_TOKEN_EXPIRE_SECONDS": 360,
                },
            },
            documented=(
                Documented(
                    "revoke_consumed",
                    "revoking a token that a rotation already replaced does nothing (it is already revoked), "
                    "so the chain lives on; the engine's logout ends the chain of whichever token it is "
                    "given (the simulator only ever logs out with the newest token, where both agree)",
                    frozenset({"defaults", "grace+reuse-protection+expiry", "grace, no reuse protection",
                               "random: rotation"}),
                ),
            ),
            randomised=("random: rotation", "random: no rotation"),
            # A revocation of a token that a rotation already consumed does nothing in DOT (the token is
            # already revoked; its chain lives on), where the engine's logout ends the chain: documented in
            # docs/conformance.md; the randomised timelines revoke only the newest token, as a logout does.
            random_excludes=frozenset({"revoke_old"}),
        ),
        ServerSpec(
            name="oidc-provider",
            module_name="tests.servers.oidc_provider",
            configurations={
                "rotate": {
                    "rotateRefreshToken": True,
                    "ttl": {"RefreshToken": DAY, "Grant": 7 * DAY, "AccessToken": 3600},
                },
                "no rotation": {
                    "rotateRefreshToken": False,
                    "ttl": {"RefreshToken": 3 * DAY, "Grant": 7 * DAY, "AccessToken": 3600},
                },
                "library defaults": {},
                "random: rotation": {
                    "rotateRefreshToken": True,
                    "ttl": {"RefreshToken": 660, "Grant": 1860, "AccessToken": 300},
                },
                "random: no rotation": {
                    "rotateRefreshToken": False,
                    "ttl": {"RefreshToken": 1260, "Grant": 1860, "AccessToken": 300},
                },
            },
            documented=(
                Documented(
                    "replay_after_token_expiry",
                    "a consumed refresh token presented after its own TTL is refused as expired "
                    "(`isExpired` is checked before `consumed`), so the grant is not revoked and the newest "
                    "token keeps working; the engine revokes the family on any replay of a consumed token",
                    frozenset({"rotate", "random: rotation"}),
                ),
                Documented(
                    "absolute_expiry",
                    "the library's default `rotateRefreshToken` rotates a confidential client's token once "
                    "70 % of its TTL has passed (here after 9.8 days): that refresh returns a new token "
                    "where the engine's `reuse` returns the same one; the grant still ends the chain at 14 "
                    "days",
                    frozenset({"library defaults"}),
                ),
            ),
            randomised=("random: rotation", "random: no rotation"),
            explain=_oidc_explain,
        ),
    )
}


def available() -> dict[str, str | None]:
    """Each server's reason for not running here (None when it can run)."""
    reasons: dict[str, str | None] = {}
    for name, spec in SERVERS.items():
        try:
            reasons[name] = spec.module.installed()
        except ImportError as exc:
            reasons[name] = f"cannot import {spec.module_name}: {exc}"
    return reasons
