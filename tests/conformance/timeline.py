"""Timelines: what a client does, as data (steps with times), so that the same timelines run against every
server and against the engine.

A step names a *chain* by the order of its login within the timeline (0 = the first login) and a *token* of
that chain by the order in which the client received it (0 = the login's token, 1 = the first different
token a refresh returned, ...), or `NEWEST` (the last one received). The server and the engine each keep
that numbering for their own tokens, so the same step means the same thing to both.

Each rule has a builder that turns a policy into the timeline that exercises it (the times depend on the
lifetimes: "just before the sliding deadline" is a different time for each configuration), or None when the
policy has nothing to test for that rule. A timeline holds no expected answers: the engine gives them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from sim.policy.model import Policy

NEWEST = -1
Action = Literal["login", "refresh", "revoke"]
#: The smallest distance between a request and any deadline in the fixed timelines (seconds): far larger
#: than a request's latency and the servers' one-second clock resolution.
MARGIN = 60.0


@dataclass(frozen=True)
class Step:
    """One request at `at` seconds from the timeline's start."""

    at: float
    action: Action
    user: str = "a"
    chain: int = 0
    token: int = NEWEST
    note: str = ""

    def describe(self) -> str:
        """The step as a line of a request log."""
        if self.action == "login":
            return f"login {self.user}"
        which = "newest" if self.token == NEWEST else f"t{self.token}"
        return f"{self.action} {self.user}/chain {self.chain} token {which}"


@dataclass(frozen=True)
class Timeline:
    """A named sequence of steps (sorted by time) that checks one rule."""

    name: str
    rule: str
    steps: tuple[Step, ...]
    description: str = ""
    users: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        times = [step.at for step in self.steps]
        if times != sorted(times):
            raise ValueError(f"timeline {self.name}: steps must be in time order")
        object.__setattr__(self, "users", tuple(dict.fromkeys(step.user for step in self.steps)))


Builder = Callable[[Policy], "Timeline | None"]


def _grace(policy: Policy) -> float:
    return policy.reuse_interval if policy.one_time else 0.0


def _lifetime(policy: Policy) -> float | None:
    """The shortest deadline a chain has when it is not used: min(sliding, absolute)."""
    values = [v for v in (policy.sliding_lifetime, policy.absolute_lifetime) if v is not None]
    return min(values) if values else None


def _gap(policy: Policy) -> float:
    """A pause between two refreshes that no lifetime ends: a tenth of the shortest lifetime, at most 1 h."""
    lifetime = _lifetime(policy)
    return 3600.0 if lifetime is None else min(3600.0, lifetime / 10)


def rotation(policy: Policy) -> Timeline:
    """Does a refresh return a new refresh token, and does the new one work?"""
    gap = _gap(policy)
    return Timeline("rotation", "rotation", (
        Step(0, "login"),
        Step(gap, "refresh", note="first refresh: same or new token?"),
        Step(2 * gap, "refresh", note="the token it returned"),
        Step(3 * gap, "refresh"),
    ), "Two refreshes in a row: whether the refresh token changes, and whether the new one works.")


def replay_outside_grace(policy: Policy) -> Timeline:
    """A replay of the first token long after the first refresh, then the newest token."""
    gap = _gap(policy)
    replay = gap + _grace(policy) + max(MARGIN, gap / 2)
    return Timeline("replay_outside_grace", "replay outside the grace period", (
        Step(0, "login"),
        Step(gap, "refresh"),
        Step(replay, "refresh", token=0, note="replay of the consumed token"),
        Step(replay + MARGIN, "refresh", note="does the newest token survive the replay?"),
    ), "The token a refresh replaced is presented again after any grace period, then the newest one.")


def replay_inside_grace(policy: Policy) -> Timeline | None:
    """A retry of the first token inside the grace period: which token comes back, and is it still good?"""
    grace = _grace(policy)
    if grace < 2 * MARGIN / 3:
        return None
    gap = _gap(policy)
    return Timeline("replay_inside_grace", "replay inside the grace period", (
        Step(0, "login"),
        Step(gap, "refresh"),
        Step(gap + grace / 2, "refresh", token=0, note="retry inside the grace period"),
        Step(gap + grace / 2, "refresh", token=0, note="and once more"),
        Step(gap + grace + MARGIN, "refresh", note="the newest token afterwards"),
    ), "The replaced token is retried inside the grace period (twice), then the newest token is used.")


def replay_older_generation(policy: Policy) -> Timeline:
    """A token two rotations old, replayed while the grace period of its own consumption still runs."""
    grace = _grace(policy)
    step = grace / 4 if grace else MARGIN
    return Timeline("replay_older_generation", "replay of an older generation", (
        Step(0, "login"),
        Step(MARGIN, "refresh"),
        Step(MARGIN + step, "refresh"),
        Step(MARGIN + 2 * step, "refresh", token=0, note="the first token, two rotations old"),
        Step(MARGIN + 2 * step + 1, "refresh", note="the newest token afterwards"),
    ), "The login's token is replayed after two rotations (inside its own grace period if there is one).")


def idle_expiry(policy: Policy) -> Timeline | None:
    """Refreshes just inside and just outside the sliding (idle) lifetime."""
    sliding = policy.sliding_lifetime
    if sliding is None:
        return None
    inside = sliding - MARGIN
    return Timeline("idle_expiry", "idle (sliding) expiry", (
        Step(0, "login"),
        Step(inside, "refresh", note="just inside the idle lifetime"),
        Step(2 * inside, "refresh", note="again just inside, counted from the last refresh"),
        Step(3 * inside + 2 * MARGIN, "refresh", note="just outside the idle lifetime"),
    ), "Refreshes at the edge of the idle lifetime: just inside twice, then just outside.")


def absolute_expiry(policy: Policy) -> Timeline | None:
    """Regular refreshes until past the absolute lifetime."""
    absolute = policy.absolute_lifetime
    if absolute is None:
        return None
    every = min(absolute / 4, (policy.sliding_lifetime or absolute) / 2)
    steps = [Step(0, "login")]
    t = every
    while t < absolute - MARGIN:
        steps.append(Step(t, "refresh"))
        t += every
    steps.append(Step(absolute - MARGIN, "refresh", note="just before the absolute deadline"))
    steps.append(Step(absolute + MARGIN, "refresh", note="just after the absolute deadline"))
    return Timeline("absolute_expiry", "absolute expiry", tuple(steps),
                    "A client that refreshes regularly, until just after the absolute lifetime.")


def no_expiry(policy: Policy) -> Timeline | None:
    """With neither lifetime: a refresh after a long silence (a year) still works."""
    if _lifetime(policy) is not None:
        return None
    year = 365 * 86400.0
    return Timeline("no_expiry", "no expiry", (
        Step(0, "login"),
        Step(year, "refresh", note="a year later"),
        Step(2 * year, "refresh", note="two years later"),
    ), "Neither an idle nor an absolute lifetime: refreshes after a year of silence.")


def revocation(policy: Policy) -> Timeline:
    """RFC 7009 revocation of the newest token (what a client's logout does)."""
    gap = _gap(policy)
    return Timeline("revocation", "logout / revocation", (
        Step(0, "login"),
        Step(gap, "refresh"),
        Step(2 * gap, "revoke", note="the client logs out: revoke its newest token"),
        Step(2 * gap + 1, "refresh", note="the revoked token"),
        Step(2 * gap + 2, "refresh", token=0, note="the token before it"),
    ), "Logout revokes the newest refresh token; both it and its predecessor are then presented.")


def revocation_inside_grace(policy: Policy) -> Timeline | None:
    """The newest token is revoked while its predecessor's grace period runs; the predecessor is retried."""
    grace = _grace(policy)
    if grace < 2 * MARGIN / 3:
        return None
    gap = _gap(policy)
    return Timeline("revocation_inside_grace", "revocation inside the grace period", (
        Step(0, "login"),
        Step(gap, "refresh"),
        Step(gap + grace / 4, "revoke", note="logout: revoke the newest token"),
        Step(gap + grace / 2, "refresh", token=0, note="retry of its predecessor inside the grace period"),
        Step(gap + grace / 2 + 1, "refresh", note="the revoked token"),
    ), "Logout while the previous token's grace period runs: can that token still be exchanged?")


def revoke_consumed(policy: Policy) -> Timeline:
    """RFC 7009 revocation of a token that a rotation already replaced: does it end the chain?"""
    gap = _gap(policy)
    return Timeline("revoke_consumed", "revocation of a replaced token", (
        Step(0, "login"),
        Step(gap, "refresh"),
        Step(2 * gap, "revoke", token=0, note="revoke the login's token (already replaced by a rotation)"),
        Step(2 * gap + 1, "refresh", note="the newest token afterwards"),
    ), "The client revokes an old token of its chain, then uses the newest one.")


def many_logins(policy: Policy) -> Timeline:
    """Six logins by one user, then a refresh of every chain, oldest first: a cap? which chain goes?"""
    logins = 6
    steps = [Step(i * MARGIN, "login", note=f"login {i + 1}") for i in range(logins)]
    steps += [Step(logins * MARGIN + i, "refresh", chain=i, note=f"chain {i}") for i in range(logins)]
    return Timeline("many_logins", "many logins by one user", tuple(steps),
                    "One user logs in six times (six devices), then every chain is refreshed.")


def replay_isolated(policy: Policy) -> Timeline:
    """A replay on one chain: does it touch the user's other chain?"""
    gap = _gap(policy)
    replay = gap + _grace(policy) + MARGIN
    return Timeline("replay_isolated", "replay isolated to its chain", (
        Step(0, "login", note="device 1"),
        Step(1, "login", note="device 2"),
        Step(gap, "refresh", chain=0),
        Step(replay, "refresh", chain=0, token=0, note="replay on device 1"),
        Step(replay + 1, "refresh", chain=1, note="device 2 afterwards"),
        Step(replay + 2, "refresh", chain=0, note="device 1's newest token afterwards"),
    ), "Two devices of one user; a replay on the first, then both devices refresh.")


def replay_after_token_expiry(policy: Policy) -> Timeline | None:
    """A consumed token replayed after its own lifetime would have ended, while its chain is still valid."""
    sliding = policy.sliding_lifetime
    if sliding is None or not policy.one_time:
        return None
    first = sliding * 0.6
    second = sliding * 1.2
    if policy.absolute_lifetime is not None and second + 2 * MARGIN >= policy.absolute_lifetime:
        return None
    return Timeline("replay_after_token_expiry", "replay of an expired consumed token", (
        Step(0, "login"),
        Step(first, "refresh"),
        Step(second, "refresh"),
        Step(second + MARGIN, "refresh", token=0, note="the login's token, past its own lifetime"),
        Step(second + 2 * MARGIN, "refresh", note="the newest token afterwards"),
    ), "The login's token is replayed after the time it would have expired had it not been rotated.")


#: Every rule's builder, in the order of the conformance matrix.
RULES: tuple[Builder, ...] = (
    rotation,
    replay_inside_grace,
    replay_outside_grace,
    replay_older_generation,
    replay_after_token_expiry,
    replay_isolated,
    idle_expiry,
    absolute_expiry,
    no_expiry,
    revocation,
    revocation_inside_grace,
    revoke_consumed,
    many_logins,
)


def timelines_for(policy: Policy) -> list[Timeline]:
    """The timelines of every rule that applies to `policy`."""
    return [timeline for timeline in (build(policy) for build in RULES) if timeline is not None]


def rule_names() -> list[str]:
    """The rules' timeline names, in matrix order."""
    return [build.__name__ for build in RULES]
