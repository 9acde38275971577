"""`absolute_lifetime`, `sliding_lifetime`, `absolute_anchor` (and `idle_tolerance`): how long chains live.

What can be seen from outside is, for a chain used at times u1 < u2 < ...: it is refused once it has been
idle longer than S (sliding lifetime plus any idle tolerance) or older than A (absolute lifetime, from the
login). A server whose rotated tokens each get a full lifetime L from their issue (`absolute_anchor:
token`) behaves as S = L with no absolute limit, and tokensim's engine treats the two the same; such
findings are written as a sliding lifetime. An idle tolerance cannot be told apart from a longer sliding
lifetime, so it is included in `sliding_lifetime` and `idle_tolerance: 0s` is written.

When the server announces the refresh token's remaining life (`refresh_expires_in`, as Keycloak does), the
probe reads it: at the login it is min(S, A); a few seconds later, after a use, it is S again if the use
slid the deadline, and A minus the age otherwise. Else the probe waits:

1. The lifetime U = min(S, A) of a chain never used after its login: a fresh chain is used once, d after
   its login, for d = 1 s, 2 s, 4 s, ... up to `--max-wait`, then bisection to the resolution (a fresh
   chain for each trial).
2. Sliding or absolute: a new chain is used every h < U (h = U - 2 s, or U/2 for short lifetimes) until
   it is older than any age at which an unused chain was refused (plus `CLASSIFY_MARGIN`). Refused at
   about U: the limit counts from the login (A = U, no shorter idle limit). Still working: U is the sliding
   lifetime, and the chain is kept alive (every h) until it is refused (A, then bisected with fresh chains
   kept alive the same way) or reaches the horizon (`--max-wait`, or longer when step 2 needed it, and at
   most `KEEPALIVE_REQUESTS` uses of one chain).

A lifetime beyond the horizon is reported as "not measured, at least X", and `unlimited` / `none` is
written (the value consistent with what was seen).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.core.durations import format_duration
from sim.probe.facts import Facts, new_chain
from sim.probe.result import Confidence
from sim.probe.search import Bracket
from sim.probe.session import Chain, Session, Stop

NAME = "lifetimes"
#: Uses of one chain kept alive: the horizon of the absolute lifetime is shortened to stay within it.
KEEPALIVE_REQUESTS = 120
#: A chain kept alive is last used this long after the age at which an unused chain was refused: still
#: working then, its limit is not one from the login. A second more than the resolution: servers keep whole
#: seconds, so two chains logged in at different fractions of a second expire up to a second apart. (A
#: sliding lifetime less than about 2 s shorter than the absolute one is reported as the absolute alone.)
CLASSIFY_MARGIN = 1.1


@dataclass
class _Kept:
    """A chain kept alive by regular uses, and what that showed."""

    chain: Chain
    gap: float
    evidence: list[int] = field(default_factory=list)
    #: Age of the last use that worked, and of the first refused one (None while it works).
    worked_at: float = 0.0
    refused_at: float | None = None


def measure_lifetimes(session: Session, facts: Facts) -> None:
    """Find the chain lifetimes (by refresh_expires_in when the server gives it, else by waiting)."""
    session.experiment = NAME
    if _announces_lifetime(session) and _from_announcements(session, facts):
        return
    unused = Bracket(limit=facts.max_wait, resolution=facts.resolution)
    facts.unused_lifetime = unused
    try:
        _measure_unused(session, facts, unused)
    except Stop:
        _unfinished(facts, unused, "the search for a chain's lifetime stopped early")
        raise
    if unused.beyond_limit:
        evidence = unused.low_evidence
        text = (
            f"a chain used once {format_duration(round(unused.low))} after its login still worked "
            "(--max-wait)"
        )
        facts.conclude(
            "absolute_lifetime",
            "unlimited",
            "not_measured",
            f"{text}: any absolute lifetime is longer; unlimited written",
            evidence,
            low=unused.low,
        )
        facts.conclude(
            "sliding_lifetime",
            "none",
            "not_measured",
            f"{text}: any sliding lifetime is longer; none written",
            evidence,
            low=unused.low,
        )
        facts.conclude("absolute_anchor", "chain", "not_measured", "no lifetime was reached")
        _idle_tolerance(facts)
        return
    if unused.low < facts.resolution:
        confidence: Confidence = "bounded"
        facts.conclude(
            "absolute_lifetime",
            format_duration(unused.estimate()),
            confidence,
            f"a chain was refused {_s(unused.high)} after its login: too short to tell a sliding from "
            "an absolute lifetime at this resolution",
            unused.high_evidence,
            low=unused.low,
            high=unused.high,
        )
        facts.conclude("sliding_lifetime", "none", "not_measured", "the lifetime is too short to classify")
        facts.conclude("absolute_anchor", "chain", "not_measured", "the lifetime is too short to classify")
        _idle_tolerance(facts)
        return
    kept = _keep_alive(session, facts, unused)
    if kept.refused_at is not None:
        _absolute_only(session, facts, unused, kept)
        return
    _sliding(session, facts, unused, kept)


def _measure_unused(session: Session, facts: Facts, bracket: Bracket) -> None:
    while not bracket.done:
        delay = bracket.next_delay()
        chain = new_chain(session, facts, f"a fresh chain, to be used once {_s(delay)} after its login")
        session.wait_until(
            chain.login_at + delay, f"chain {chain.label}: first use {_s(delay)} after its login"
        )
        answer = session.refresh(chain, purpose=f"first use {_s(delay)} after the login")
        age = answer.at - chain.login_at
        trial = [chain.login_exchange, answer.exchange]
        bracket.worked(age, trial) if answer.ok else bracket.failed(age, trial)


def _gap(lifetime: float, resolution: float) -> float:
    """A gap between uses safely shorter than a sliding lifetime known to be at least `lifetime`."""
    return max(lifetime / 2, lifetime - 2 * resolution)


def _keep_alive(session: Session, facts: Facts, unused: Bracket) -> _Kept:
    """Use a new chain every h until it is older than U's bracket, or refused."""
    assert unused.high is not None
    chain = new_chain(session, facts, "a chain kept alive by regular uses")
    kept = _Kept(chain, _gap(unused.low, facts.resolution), [chain.login_exchange])
    _use_until(session, kept, unused.high + CLASSIFY_MARGIN)
    return kept


def _use_until(session: Session, kept: _Kept, age: float) -> None:
    """Use the kept chain every `gap` until it is `age` old (a use exactly then) or refused."""
    chain = kept.chain
    while kept.refused_at is None and kept.worked_at < age:
        when = min(chain.last_used_at + kept.gap, chain.login_at + age)
        session.wait_until(when, f"chain {chain.label}: a use every {_s(kept.gap)}")
        answer = session.refresh(chain, purpose=f"keep-alive use (one every {_s(kept.gap)})")
        kept.evidence.append(answer.exchange)
        if answer.ok:
            kept.worked_at = answer.at - chain.login_at
        else:
            kept.refused_at = answer.at - chain.login_at


def _absolute_only(session: Session, facts: Facts, unused: Bracket, kept: _Kept) -> None:
    """A chain used every h ended when an unused one did: the limit counts from the login."""
    assert kept.refused_at is not None
    if kept.refused_at < unused.low:
        session.warn(
            f"chain {kept.chain.label}, used every {_s(kept.gap)}, was refused {_s(kept.refused_at)} "
            f"after its login, earlier than an unused chain ({_s(unused.low)}): uses seem to shorten "
            "its life"
        )
    evidence = unused.low_evidence + unused.high_evidence + kept.evidence
    facts.conclude(
        "absolute_lifetime",
        format_duration(unused.estimate()),
        _sure(unused, facts),
        f"chains were refused {_range(unused)} after their login, whether unused or used every "
        f"{_s(kept.gap)}",
        evidence,
        low=unused.low,
        high=unused.high,
    )
    facts.conclude(
        "sliding_lifetime",
        "none",
        "exact",
        f"a chain used every {_s(kept.gap)} ended like one never used: no idle limit shorter than "
        "the absolute lifetime",
        kept.evidence,
    )
    facts.conclude(
        "absolute_anchor",
        "chain",
        "exact",
        "the lifetime counts from the login: uses"
        + (" and rotations" if facts.usage != "reuse" else "")
        + " did not extend it",
        kept.evidence,
    )
    _idle_tolerance(facts)


def _sliding(session: Session, facts: Facts, unused: Bracket, kept: _Kept) -> None:
    """U is the sliding lifetime; keep the chain alive to find the absolute one."""
    evidence = unused.low_evidence + unused.high_evidence + kept.evidence
    facts.conclude(
        "sliding_lifetime",
        format_duration(unused.estimate()),
        _sure(unused, facts),
        f"an unused chain was refused {_range(unused)} after its login; one used every "
        f"{_s(kept.gap)} still worked {_s(kept.worked_at)} after its login",
        evidence,
        low=unused.low,
        high=unused.high,
    )
    _idle_tolerance(facts)
    horizon = min(max(facts.max_wait, kept.worked_at), kept.worked_at + kept.gap * KEEPALIVE_REQUESTS)
    try:
        _use_until(session, kept, horizon)
    except Stop:
        _absolute_beyond(facts, kept, rotating=facts.usage != "reuse", stopped=True)
        raise
    if kept.refused_at is None:
        _absolute_beyond(facts, kept, rotating=facts.usage != "reuse", stopped=False)
        return
    absolute = Bracket(
        limit=kept.refused_at,
        resolution=facts.resolution,
        low=kept.worked_at,
        high=kept.refused_at,
        low_evidence=list(kept.evidence),
        high_evidence=list(kept.evidence),
    )
    try:
        _bisect_absolute(session, facts, absolute, kept.gap)
    finally:
        facts.conclude(
            "absolute_lifetime",
            format_duration(absolute.estimate()),
            _sure(absolute, facts),
            f"chains used every {_s(kept.gap)} were refused {_range(absolute)} after their login",
            absolute.low_evidence + absolute.high_evidence,
            low=absolute.low,
            high=absolute.high,
        )
        facts.conclude(
            "absolute_anchor",
            "chain",
            "exact",
            "the absolute lifetime counts from the login: uses"
            + (" and rotations" if facts.usage != "reuse" else "")
            + " did not extend it",
            kept.evidence,
        )


def _bisect_absolute(session: Session, facts: Facts, bracket: Bracket, gap: float) -> None:
    kept: _Kept | None = None
    while not bracket.done:
        target = bracket.next_delay()
        if kept is None or kept.refused_at is not None or kept.worked_at > target:
            chain = new_chain(session, facts, f"a chain kept alive until {_s(target)} after its login")
            kept = _Kept(chain, gap, [chain.login_exchange])
        _use_until(session, kept, target)
        if kept.refused_at is not None:
            bracket.failed(kept.refused_at, kept.evidence)
        else:
            bracket.worked(kept.worked_at, kept.evidence)


def _absolute_beyond(facts: Facts, kept: _Kept, *, rotating: bool, stopped: bool) -> None:
    age = kept.worked_at
    why = "when the plan stopped" if stopped else "at the horizon"
    facts.conclude(
        "absolute_lifetime",
        "unlimited",
        "not_measured",
        f"a chain used every {_s(kept.gap)} still worked {_s(age)} after its login ({why}): any "
        "absolute lifetime is longer; unlimited written",
        kept.evidence,
        low=age,
    )
    text = "not observable: no limit from the login was reached"
    if rotating:
        text += (
            "; each rotated token living the sliding lifetime from its own issue (absolute_anchor: token) "
            "behaves the same"
        )
    facts.conclude("absolute_anchor", "chain", "not_measured", text)


def _from_announcements(session: Session, facts: Facts) -> bool:
    """Read the lifetimes from refresh_expires_in; False when the answers do not allow it (then wait)."""
    chain = new_chain(session, facts, "a fresh chain, to read refresh_expires_in")
    at_login = session.login_answer(chain).refresh_expires_in
    resolution = facts.resolution
    if at_login is None or at_login < 8 * resolution:
        return False
    pause = min(max(4.0, 4 * resolution), at_login / 2)
    session.wait_until(chain.login_at + pause, "refresh_expires_in a few seconds after the login")
    answer = session.refresh(chain, purpose="read refresh_expires_in after a pause")
    after = answer.refresh_expires_in
    age = answer.at - chain.login_at
    tolerance = 1.5 * resolution
    evidence = [chain.login_exchange, answer.exchange]
    if not answer.ok or after is None:
        return False
    if abs(after - at_login) <= tolerance:
        facts.conclude(
            "sliding_lifetime",
            format_duration(round(at_login)),
            "exact",
            f"refresh_expires_in was {at_login:g} s at the login and again {after:g} s after a use "
            f"{_s(age)} later: each use restarts it",
            evidence,
            low=at_login,
            high=at_login,
        )
        _idle_tolerance(facts)
        _absolute_from_announcements(session, facts, chain, at_login, evidence)
        return True
    if abs(after - (at_login - age)) <= tolerance:
        facts.conclude(
            "absolute_lifetime",
            format_duration(round(at_login)),
            "exact",
            f"refresh_expires_in was {at_login:g} s at the login and {after:g} s after a use {_s(age)} "
            "later: it counts down from the login",
            evidence,
            low=at_login,
            high=at_login,
        )
        facts.conclude(
            "sliding_lifetime",
            "none",
            "exact",
            "a use did not restart refresh_expires_in: no idle limit shorter than the absolute lifetime",
            evidence,
        )
        facts.conclude(
            "absolute_anchor", "chain", "exact", "refresh_expires_in counts down from the login", evidence
        )
        _idle_tolerance(facts)
        return True
    session.warn(
        f"refresh_expires_in went from {at_login:g} s to {after:g} s over {_s(age)}: neither a sliding "
        "nor an absolute lifetime; measuring by waiting instead"
    )
    return False


def _absolute_from_announcements(
    session: Session, facts: Facts, chain: Chain, sliding: float, evidence: list[int]
) -> None:
    """Keep the chain alive; refresh_expires_in drops below the sliding lifetime once A is near."""
    kept = _Kept(
        chain, _gap(sliding, facts.resolution), list(evidence), worked_at=chain.last_used_at - chain.login_at
    )
    horizon = min(max(facts.max_wait, kept.worked_at), kept.worked_at + kept.gap * KEEPALIVE_REQUESTS)
    tolerance = 1.5 * facts.resolution
    while kept.worked_at < horizon:
        when = min(chain.last_used_at + kept.gap, chain.login_at + horizon)
        session.wait_until(when, f"chain {chain.label}: a use every {_s(kept.gap)}")
        answer = session.refresh(chain, purpose="keep-alive use, reading refresh_expires_in")
        kept.evidence.append(answer.exchange)
        age = answer.at - chain.login_at
        left = answer.refresh_expires_in
        if not answer.ok:
            kept.refused_at = age
            break
        kept.worked_at = age
        if left is not None and left < sliding - tolerance:
            total = age + left
            facts.conclude(
                "absolute_lifetime",
                format_duration(round(total)),
                "exact",
                f"refresh_expires_in fell to {left:g} s {_s(age)} after the login although the chain "
                "was in use: the chain ends at that age plus what is left",
                [answer.exchange],
                low=total,
                high=total,
            )
            facts.conclude(
                "absolute_anchor",
                "chain",
                "exact",
                "the absolute lifetime counts from the login",
                [answer.exchange],
            )
            return
    if kept.refused_at is not None:
        facts.conclude(
            "absolute_lifetime",
            format_duration(round(kept.refused_at)),
            "bounded",
            f"the chain was refused {_s(kept.refused_at)} after its login while refresh_expires_in "
            "still announced the full sliding lifetime",
            kept.evidence,
            low=kept.worked_at,
            high=kept.refused_at,
        )
        facts.conclude("absolute_anchor", "chain", "bounded", "the chain ended while in use", kept.evidence)
        session.warn("a chain ended earlier than its refresh_expires_in announced")
        return
    _absolute_beyond(facts, kept, rotating=facts.usage != "reuse", stopped=False)


def _announces_lifetime(session: Session) -> bool:
    """True when an earlier login's answer had a positive refresh_expires_in."""
    return any(e.kind == "login" and e.ok and (e.refresh_expires_in or 0) > 0 for e in session.exchanges)


def _unfinished(facts: Facts, unused: Bracket, why: str) -> None:
    seen = f"; an unused chain worked {_s(unused.low)} after its login" if unused.low_evidence else ""
    facts.conclude(
        "absolute_lifetime",
        "unlimited",
        "not_measured",
        f"{why}{seen}",
        unused.low_evidence,
        low=unused.low,
    )
    facts.conclude("sliding_lifetime", "none", "not_measured", f"{why}", low=unused.low)
    facts.conclude("absolute_anchor", "chain", "not_measured", why)
    _idle_tolerance(facts)


def _idle_tolerance(facts: Facts) -> None:
    facts.conclude(
        "idle_tolerance",
        "0s",
        "not_measured",
        "cannot be told apart from a longer sliding lifetime from outside: any tolerance is included "
        "in sliding_lifetime",
    )


def _sure(bracket: Bracket, facts: Facts) -> Confidence:
    return (
        "exact" if bracket.high is not None and bracket.high - bracket.low <= facts.resolution else "bounded"
    )


def _range(bracket: Bracket) -> str:
    if bracket.high is None:
        return f"after more than {_s(bracket.low)}"
    return f"between {_s(bracket.low)} and {_s(bracket.high)}"


def _s(seconds: float | None) -> str:
    """Seconds as a short text: `0.8 s`, `12 s`, `3,599 s`, `26.50 h`, `3.25 d`."""
    if seconds is None:
        return "?"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 10000:
        return f"{seconds:,.0f} s"
    if seconds < 172800:
        return f"{seconds / 3600:.2f} h"
    return f"{seconds / 86400:.2f} d"
