"""Exact decisions: properties that follow from the policy's rules and the class's bounds, proved or not.

`decide(policy, invariant)` returns a `Decision`:

- `proved` when an argument over *every* timeline of the class shows the property holds. Each argument
  is a short theorem about the engine's rules (sim/policy/engine.py) and the client behaviour
  (sim/verify/execute.py), stated in `reason` and in docs/verify.md; the suite checks every one against
  hypothesis search on small cases (tests/verify/test_decide_vs_search.py);
- otherwise `reason` says which rule allows a violation, and `witnesses` are candidate counterexamples
  built from that rule (a gap just over the sliding lifetime, two tabs racing, more devices than the
  cap, ...). They are only candidates: the runner keeps one only if it is in the class and replays to a
  violation through the engine; when none does, it searches with hypothesis.

The arguments use these bounds, all exact (deadlines are inclusive, as in the engine):

- a client refreshes at the first moment of a session at or after its access token's expiry, so between two
  uses of a device's refresh token at most `access + largest_gap` passes (the access token's longest
  lifetime plus the longest gap between sessions), plus the reuse interval when a retry inside it
  renewed the access token without sliding the chain;
- an unused chain lives at most `min(sliding + idle_tolerance, absolute)` after its last use;
- the valid chains of a user right after a login are at most the devices plus the chains abandoned by
  fresh logins still alive: `devices + at_most * (floor(min(unused_life, over) / per) + 1)`, when nothing
  else leaves a chain valid behind a device (a replay refused without family revocation does, a theft
  can keep an abandoned chain alive).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from sim.policy.model import Policy
from sim.policy.presets.base import support
from sim.scenario.invariants import (
    EVICTION,
    FORCED_CAUSES,
    FORCED_LOGIN,
    REJECTED_LOGIN,
    Behaviour,
    Invariant,
)
from sim.verify.properties import span_text
from sim.verify.timelines import Device, LostResponse, Session, Theft, Timeline


@dataclass(frozen=True)
class Decision:
    """The outcome of the decision procedure for one invariant."""

    proved: bool
    #: Why the property holds (proved), or which rule lets it fail.
    reason: str
    #: Candidate counterexamples (to be replayed; never trusted without it).
    witnesses: tuple[Timeline, ...] = field(default=())


def _d(seconds: float) -> str:
    return "unlimited" if math.isinf(seconds) else span_text(seconds)


@dataclass(frozen=True)
class _Facts:
    """What the arguments read of a policy and a class."""

    policy: Policy
    who: Behaviour

    @property
    def one_time(self) -> bool:
        return self.policy.refresh_token_usage == "one_time"

    @property
    def keep_old(self) -> bool:
        return self.policy.refresh_token_usage == "rotate_keep_old"

    @property
    def reuse(self) -> bool:
        return self.policy.refresh_token_usage == "reuse"

    @property
    def sliding(self) -> float:
        """The sliding window as the server enforces it (lifetime + idle tolerance), inf when none."""
        s = self.policy.sliding_lifetime
        return math.inf if s is None else s + self.policy.idle_tolerance

    @property
    def absolute(self) -> float:
        a = self.policy.absolute_lifetime
        return math.inf if a is None else a

    @property
    def token_anchored(self) -> bool:
        """The absolute deadline moves with every rotation (anchor `token` with rotating tokens)."""
        return self.policy.absolute_anchor == "token" and not self.reuse

    @property
    def login_bound(self) -> float:
        """No token of a chain works later than this after the chain's login."""
        return math.inf if self.token_anchored else self.absolute

    @property
    def unused_life(self) -> float:
        """How long a chain stays valid after its last use, at most."""
        return min(self.sliding, self.absolute)

    @property
    def access(self) -> tuple[float, float]:
        return support(self.policy.access_token_lifetime)

    @property
    def access_fixed(self) -> float | None:
        """The access token's lifetime when it is fixed, else None (witnesses need it)."""
        low, high = self.access
        return high if low == high else None

    @property
    def longest_idle(self) -> float:
        """The longest a device's refresh token goes unused between two uses: the longest access token,
        the largest gap, and the reuse interval when a retry inside it renewed the access token."""
        renewed = self.grace if self.who.replays_possible else 0.0
        return self.access[1] + self.who.largest_gap + renewed

    @property
    def grace(self) -> float:
        """The reuse interval when it applies (one-time tokens), else 0."""
        return self.policy.reuse_interval if self.one_time else 0.0

    @property
    def latest_request(self) -> float:
        """No device request is later than this in a timeline of the class."""
        who = self.who
        reach = min(who.over, who.sessions * (who.largest_gap + who.session_length.high))
        window = who.race_window if who.racing else 0.0
        return reach + window + who.lost_responses * who.retry_after.high

    @property
    def second_presentations(self) -> tuple[int, float]:
        """How many more times one token can be presented in one refresh episode, and over how long."""
        who = self.who
        extra = (int(who.tabs.high) - 1 if who.racing else 0) + who.lost_responses
        spread = (who.race_window if who.racing else 0.0) + who.lost_responses * who.retry_after.high
        return extra, spread

    def retries_covered(self) -> bool:
        """Every second presentation of a token by its own device succeeds (counted reuse or interval)."""
        extra, spread = self.second_presentations
        if extra == 0:
            return True
        p = self.policy
        return p.max_reuse >= extra or (p.reuse_interval > 0 and spread <= p.reuse_interval)

    def device_consumed_possible(self) -> bool:
        """A device can present a token that was rotated away and be refused (`consumed`)."""
        return self.one_time and (self.who.thefts.possible or not self.retries_covered())

    def zombie_possible(self) -> bool:
        """A device can be forced to log in while its old chain stays valid (a refused replay)."""
        return self.device_consumed_possible() and self.policy.on_reuse == "reject"

    def chains_bound(self) -> tuple[int | None, str]:
        """The most valid chains a user holds right after a login, with the argument, or None."""
        who = self.who
        if self.zombie_possible():
            return None, "a refused replay leaves the old chain valid behind a new login (on_reuse: reject)"
        fresh = who.fresh_logins
        if who.thefts.possible and fresh.possible:
            return None, "an attacker can keep a chain abandoned by a fresh login alive"
        devices = who.devices.high
        if not fresh.possible:
            return devices, f"one chain per device ({devices})"
        window = min(self.unused_life, who.over)
        if fresh.per is None:
            abandoned = fresh.at_most
            how = f"{fresh.at_most} fresh logins in all"
        else:
            abandoned = fresh.at_most * (math.floor(window / fresh.per) + 1)
            how = (
                f"at most {abandoned} chains abandoned by fresh logins ({fresh.at_most} per "
                f"{_d(fresh.per)}) while they stay valid ({_d(window)})"
            )
        return devices + abandoned, f"{devices} devices plus {how}"


# --- witnesses ----------------------------------------------------------------------------------------


def _offsets(who: Behaviour, second: float | None = None) -> tuple[float, ...]:
    """Tab offsets of a session: the fewest tabs, or a race whose other tabs come `second` later."""
    if who.refresh_lock:
        return (0.0,)
    low = int(who.tabs.low)
    if (second is None or who.tabs.high < 2) and low == 1:
        return (0.0,)
    return (0.0, *([second or 0.0] * (max(2, low) - 1)))


def _timeline(
    who: Behaviour,
    first: list[Session],
    *,
    others: list[list[Session]] | None = None,
    password_changes: tuple[float, ...] = (),
    thefts: tuple[Theft, ...] = (),
    lost: tuple[LostResponse, ...] = (),
) -> Timeline:
    sessions = [first, *(others or [])]
    while len(sessions) < who.devices.low:
        sessions.append([Session(0.0, who.session_length.low, _offsets(who))])
    devices = tuple(Device(who.devices.name(i), tuple(ss)) for i, ss in enumerate(sessions))
    return Timeline(
        devices=devices,
        end=who.over,
        password_changes=password_changes,
        thefts=thefts,
        attacker=who.attacker,
        lost_responses=lost,
    )


def _plain(who: Behaviour, start: float, length: float) -> Session:
    return Session(float(start), float(length), _offsets(who))


def _after_gap(who: Behaviour, end: float, wanted: float) -> float | None:
    """The start of the next session: `wanted` seconds after `end`, within the gap bounds, else None."""
    gap = max(wanted, who.smallest_gap)
    return end + gap if gap <= who.largest_gap else None


def _idle_witnesses(facts: _Facts, idle: float) -> list[Timeline]:
    """A device unused for `idle` seconds (then refreshing), and for as long as the class allows."""
    who, access = facts.who, facts.access_fixed
    if access is None or who.sessions < 2:
        return []
    out = []
    shortest = who.session_length.low
    for length in (shortest, min(who.session_length.high, max(shortest, access))):
        last_use = max((k * access for k in range(1, 1000) if k * access < length), default=0.0)
        for wanted in (math.floor(last_use + idle) + 1 - length, who.largest_gap):
            start = _after_gap(who, length, wanted)
            if start is None or start + shortest > who.over:
                continue
            out.append(_timeline(who, [_plain(who, 0, length), _plain(who, start, shortest)]))
    return out


def _keep_alive(facts: _Facts) -> list[Timeline]:
    """One device in the longest sessions with the shortest gaps: its chain lives as long as it can."""
    who = facts.who
    sessions: list[Session] = []
    start = 0.0
    for _ in range(who.sessions):
        length = min(who.session_length.high, who.over - start)
        if length < who.session_length.low:
            break
        sessions.append(_plain(who, start, length))
        start = start + length + who.smallest_gap
    return [_timeline(who, sessions)] if sessions else []


def _expired_start(facts: _Facts, after: float) -> float | None:
    """A second session start (after a first session of the shortest length) when the access token is
    expired and at least `after` seconds have passed; None when the class cannot have it."""
    who, access = facts.who, facts.access_fixed
    if access is None or who.sessions < 2:
        return None
    shortest = who.session_length.low
    start = _after_gap(who, shortest, max(access, after) + 1 - shortest)
    return start if start is not None and start + shortest <= who.over else None


def _race_witnesses(facts: _Facts) -> list[Timeline]:
    """Two tabs racing at the first access-token expiry of a session longer than the access token."""
    who, access = facts.who, facts.access_fixed
    if not who.racing or access is None:
        return []
    length = min(who.session_length.high, max(who.session_length.low, access + 1))
    if length <= access or length > who.over:
        return []
    out = []
    for second in sorted({who.race_window, min(who.race_window, facts.grace), 0.0}, reverse=True):
        session = Session(0.0, float(length), _offsets(who, second))
        out.append(_timeline(who, [session]))
    return out


def _lost_witnesses(facts: _Facts) -> list[Timeline]:
    """A refresh whose response is lost, retried as late and as early as the class allows."""
    who, access = facts.who, facts.access_fixed
    if who.lost_responses == 0 or access is None:
        return []
    start = _expired_start(facts, 0.0)
    out = []
    for retry in (who.retry_after.high, who.retry_after.low):
        lost = (LostResponse(0, 0, retry),)
        if start is not None:
            first = [_plain(who, 0, who.session_length.low), _plain(who, start, who.session_length.low)]
            out.append(_timeline(who, first, lost=lost))
        length = min(who.session_length.high, max(who.session_length.low, access + 1))
        if access < length <= who.over:
            out.append(_timeline(who, [_plain(who, 0, length)], lost=lost))
    return out


def _theft_witnesses(facts: _Facts) -> list[Timeline]:
    """A theft just after the login (the attacker rotates first) and at the device's refresh (the
    device rotates first, the attacker replays), with one device that keeps using its token or not."""
    who = facts.who
    if not who.thefts.possible:
        return []
    shortest = who.session_length.low
    out = []
    start = _expired_start(facts, facts.grace + 1)
    if start is not None:
        sessions = [_plain(who, 0, shortest), _plain(who, start, shortest)]
        for at in (min(1.0, who.over), start):
            out.append(_timeline(who, sessions, thefts=(Theft(at, 0),)))
    out.append(_timeline(who, [_plain(who, 0, shortest)], thefts=(Theft(min(1.0, who.over), 0),)))
    for timeline in _keep_alive(facts):
        out.append(replace(timeline, thefts=(Theft(min(1.0, who.over), 0),)))
    if who.fresh_logins.possible and start is not None:
        sessions = [_plain(who, 0, shortest), replace(_plain(who, start, shortest), fresh_login=True)]
        later = _after_gap(who, start + shortest, 0.0)
        if later is not None and who.sessions >= 3 and later + shortest <= who.over:
            sessions.append(
                _plain(who, later, max(shortest, min(who.session_length.high, 2 * (facts.access_fixed or 0))))
            )
        out.append(_timeline(who, sessions, thefts=(Theft(min(1.0, who.over), 0),)))
    return out


def _password_witnesses(facts: _Facts) -> list[Timeline]:
    who = facts.who
    if not who.password_changes.possible:
        return []
    start = _expired_start(facts, 1.0)
    if start is None:
        return []
    sessions = [_plain(who, 0, who.session_length.low), _plain(who, start, who.session_length.low)]
    return [_timeline(who, sessions, password_changes=(min(1.0, start),))]


def _login_witnesses(facts: _Facts, refresh_after: bool) -> list[Timeline]:
    """Every device logs in at once, then the first device logs in afresh as often as it may."""
    who = facts.who
    shortest = who.session_length.low
    others = [[_plain(who, 0, shortest)] for _ in range(who.devices.high - 1)]
    first = [_plain(who, 0, shortest)]
    fresh_times: list[float] = []
    start = 0.0
    while len(first) < who.sessions and who.fresh_logins.possible:
        nxt = _after_gap(who, start + shortest, 0.0)
        if nxt is None or nxt + shortest > who.over or not who.fresh_logins.allows([*fresh_times, nxt]):
            break
        fresh_times.append(nxt)
        first.append(replace(_plain(who, nxt, shortest), fresh_login=True))
        start = nxt
    out = [_timeline(who, first, others=others)]
    if refresh_after and len(first) < who.sessions:
        later = _expired_start(facts, start)
        if later is not None and later > start:
            out.append(_timeline(who, [*first, _plain(who, later, shortest)], others=others))
    return out


# --- the arguments ------------------------------------------------------------------------------------


#: Arguments that hold for every policy and class (left out of the reasons shown, unless alone).
_EVIDENT = (
    "a device discards its token when it logs out",
    "devices only present tokens they were issued",
    "replays never revoke a family",
    "no password changes",
)


def _cause(facts: _Facts, cause: str) -> tuple[bool, str]:
    """Can a device be forced to log in with this cause? (impossible, the argument or the rule)."""
    who, policy = facts.who, facts.policy
    if cause == "sliding_expiry":
        if math.isinf(facts.sliding):
            return True, "no sliding expiry"
        high = facts.access[1]
        idle = facts.longest_idle
        text = (
            f"a device's token is unused for at most {_d(idle)} (the longest access token {_d(high)} plus "
            f"the largest gap {_d(who.largest_gap)}"
            + (f" plus the reuse interval {_d(facts.grace)}" if idle > high + who.largest_gap else "")
            + f"), {'within' if idle <= facts.sliding else 'beyond'} the sliding window {_d(facts.sliding)}"
        )
        return idle <= facts.sliding, text
    if cause == "absolute_expiry":
        if math.isinf(facts.absolute):
            return True, "no absolute expiry"
        if facts.token_anchored:
            idle = facts.longest_idle
            ok = idle <= facts.absolute
            return ok, (
                f"each rotation renews the absolute lifetime {_d(facts.absolute)}, and a device's token is "
                f"unused for at most {_d(idle)}"
            )
        latest = facts.latest_request
        ok = latest <= facts.absolute
        return ok, (
            f"every device request falls within {_d(latest)} of the start, "
            f"{'within' if ok else 'possibly beyond'} the absolute lifetime {_d(facts.absolute)}"
        )
    if cause == "evicted":
        impossible, text = _cap(facts, eviction=True)
        return impossible, text
    if cause == "consumed":
        if not facts.one_time:
            return True, f"tokens are never consumed ({policy.refresh_token_usage})"
        if who.thefts.possible:
            return (
                False,
                "an attacker can rotate the stolen token first, so the device presents a consumed one",
            )
        if facts.retries_covered():
            extra, spread = facts.second_presentations
            if extra == 0:
                return (
                    True,
                    "no timeline presents a device's token twice (one request per expiry, no lost responses)",
                )
            return True, (
                f"every second presentation of a token ({extra} at most, within {_d(spread)}) is accepted "
                "by the reuse interval or max_reuse"
            )
        return False, "a racing tab or a retried request presents a token that was consumed"
    if cause == "family_revoked":
        if not (facts.one_time and policy.on_reuse == "revoke_family"):
            return True, "replays never revoke a family"
        if not who.thefts.possible:
            return True, "only an attacker's replay can revoke a device's family before it presents a token"
        return False, "an attacker's replay revokes the family of the device's chain"
    if cause == "revoked":
        if not who.password_changes.possible:
            return True, "no password changes"
        return False, "a password change revokes every chain"
    if cause == "logout":
        return True, "a device discards its token when it logs out"
    return True, "devices only present tokens they were issued"  # unknown_token


def _cap(facts: _Facts, eviction: bool) -> tuple[bool, str]:
    """Can the cap evict a chain (eviction) or refuse a login (not eviction)?"""
    policy = facts.policy
    cap = policy.max_tokens_per_user
    if cap is None:
        return True, "no cap on tokens per user"
    if eviction and policy.on_cap == "reject_new":
        return True, "the cap refuses new logins instead of evicting (reject_new)"
    if not eviction and policy.on_cap != "reject_new":
        return True, f"the cap evicts instead of refusing logins ({policy.on_cap})"
    bound, why = facts.chains_bound()
    if bound is None:
        return False, f"no bound on valid chains: {why}"
    return bound <= cap, (
        f"at most {bound} valid chains after a login ({why}), "
        f"{'within' if bound <= cap else 'beyond'} the cap of {cap}"
    )


def _never(facts: _Facts, events: tuple[str, ...]) -> Decision:
    causes = (
        list(FORCED_CAUSES)
        if FORCED_LOGIN in events
        else [e.split(".", 1)[1] for e in events if e.startswith(FORCED_LOGIN + ".")]
    )
    args: list[tuple[bool, str]] = [_cause(facts, cause) for cause in causes]
    if EVICTION in events:
        args.append(_cap(facts, eviction=True))
    if REJECTED_LOGIN in events:
        args.append(_cap(facts, eviction=False))
    every = list(dict.fromkeys(text for _, text in args))
    texts = [text for text in every if text not in _EVIDENT] or every
    if all(ok for ok, _ in args):
        return Decision(True, "; ".join(texts))
    failing = list(dict.fromkeys(text for ok, text in args if not ok))
    witnesses: list[Timeline] = []
    if "sliding_expiry" in causes and math.isfinite(facts.sliding):
        witnesses += _idle_witnesses(facts, facts.sliding)
    if "absolute_expiry" in causes and facts.token_anchored and math.isfinite(facts.absolute):
        witnesses += _idle_witnesses(facts, facts.absolute)
    if "consumed" in causes or "family_revoked" in causes:
        witnesses += _race_witnesses(facts) + _lost_witnesses(facts) + _theft_witnesses(facts)
    if "revoked" in causes:
        witnesses += _password_witnesses(facts)
    if "evicted" in causes or EVICTION in events or REJECTED_LOGIN in events:
        witnesses += _login_witnesses(facts, refresh_after="evicted" in causes)
    if "absolute_expiry" in causes or "sliding_expiry" in causes:
        witnesses += _keep_alive(facts)
    return Decision(False, "; ".join(failing), tuple(witnesses))


def _no_token_works(facts: _Facts, bound: float, after: str) -> Decision:
    if after == "login":
        limit = facts.login_bound
        if limit <= bound:
            return Decision(
                True, f"no token of a chain works after the absolute lifetime {_d(limit)} from its login"
            )
        why = (
            "each rotation renews the absolute lifetime (absolute_anchor: token)"
            if facts.token_anchored and math.isfinite(facts.absolute)
            else f"a chain in use lives up to the absolute lifetime {_d(limit)}"
        )
        return Decision(False, why, tuple(_keep_alive(facts) + _theft_witnesses(facts)))
    newest = facts.unused_life
    parts = [f"the newest token of a chain stops working {_d(newest)} after its last use"]
    limit = newest
    if facts.grace > 0:
        parts.append(f"a consumed token works for the reuse interval {_d(facts.grace)} after its consumption")
        limit = max(limit, facts.grace)
    if facts.keep_old:
        old = facts.login_bound
        parts.append(
            f"older tokens work as long as their chain, up to {_d(old)} after its login (rotate_keep_old)"
        )
        limit = max(limit, old)
    text = "; ".join(parts)
    if limit <= bound:
        return Decision(True, text)
    witnesses = _idle_witnesses(facts, bound) if newest > bound else []
    witnesses += _race_witnesses(facts) + _lost_witnesses(facts) + _theft_witnesses(facts)
    return Decision(False, text, tuple(witnesses))


def _replay(facts: _Facts, kills_family: bool) -> Decision:
    policy = facts.policy
    if facts.reuse:
        return Decision(True, "with reuse no token is ever rotated away, so no request is a replay")
    witnesses = tuple(_race_witnesses(facts) + _lost_witnesses(facts) + _theft_witnesses(facts))
    if facts.keep_old:
        return Decision(False, "rotate_keep_old keeps every earlier token of a chain valid", witnesses)
    if policy.reuse_interval > 0:
        return Decision(
            False, f"a replay within the reuse interval {_d(policy.reuse_interval)} succeeds", witnesses
        )
    if policy.max_reuse > 0:
        return Decision(
            False, f"the latest consumed token may be presented {policy.max_reuse} more times", witnesses
        )
    if kills_family and policy.on_reuse != "revoke_family":
        return Decision(False, "a replay is refused but the family stays valid (on_reuse: reject)", witnesses)
    text = "a consumed one-time token is refused outside a reuse interval (there is none, nor max_reuse)"
    return Decision(True, text + (", and the family is revoked" if kills_family else ""))


def _stolen(facts: _Facts, within: float | None, victim: int | None) -> Decision:
    policy, who = facts.policy, facts.who
    args: list[tuple[bool, str]] = []
    if within is not None:
        limit = facts.login_bound
        args.append((limit <= within, f"no token works later than {_d(limit)} after its chain's login"))
    if victim is not None:
        rule = (
            facts.one_time
            and policy.on_reuse == "revoke_family"
            and policy.reuse_interval == 0
            and policy.max_reuse == 0
        )
        if victim == 0:
            args.append((False, "an attacker can use a stolen token before the device refreshes"))
        elif not rule:
            args.append(
                (
                    False,
                    "the victim's refresh does not revoke the attacker's chain (it takes one-time "
                    "tokens, family revocation, no reuse interval and no max_reuse)",
                )
            )
        elif who.fresh_logins.possible:
            args.append(
                (
                    False,
                    "a fresh login abandons the stolen chain: the victim's later refreshes use another chain",
                )
            )
        else:
            args.append(
                (
                    True,
                    "after a theft the first refresh of the device or the attacker consumes the "
                    "stolen token, and the other's next use is a replay that revokes the family",
                )
            )
    texts = "; ".join(text for _, text in args)
    if all(ok for ok, _ in args):
        return Decision(True, texts)
    failing = "; ".join(text for ok, text in args if not ok)
    return Decision(False, failing, tuple(_theft_witnesses(facts)))


def _rows(facts: _Facts, invariant: Invariant) -> Decision:
    rows = invariant.at_most
    assert rows is not None
    if rows.stored_rows is not None:
        return Decision(False, "stored rows are searched, not decided")
    limit = rows.valid_chains
    assert limit is not None
    cap = facts.policy.max_tokens_per_user
    if cap is not None and cap <= limit:
        return Decision(True, f"the cap keeps at most {cap} valid chains per user")
    bound, why = facts.chains_bound()
    if bound is not None and bound <= limit:
        return Decision(True, f"at most {bound} valid chains: {why}")
    return Decision(
        False,
        why if bound is None else f"up to {bound} valid chains: {why}",
        tuple(_login_witnesses(facts, refresh_after=False)),
    )


def decide(policy: Policy, invariant: Invariant) -> Decision:
    """Decide the invariant for the policy where an argument applies (see the module docstring)."""
    facts = _Facts(policy, invariant.who)
    if invariant.never is not None:
        return _never(facts, invariant.never)
    if invariant.no_token_works is not None:
        bound = invariant.no_token_works
        return _no_token_works(facts, bound.later_than, bound.after)
    if invariant.replay is not None:
        return _replay(facts, invariant.replay == "kills_family")
    if invariant.stolen_token_stops is not None:
        stolen = invariant.stolen_token_stops
        return _stolen(facts, stolen.within, stolen.after_victim_refreshes)
    return _rows(facts, invariant)
