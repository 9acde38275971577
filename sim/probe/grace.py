"""`reuse_interval`: how long after a rotation the consumed token still works (one_time with a grace period).

Runs after the lifetimes (a replay can only work while the chain lives, so the search stops below the
lifetime of a fresh chain) and only when an immediate replay worked without a new token (`rotation.py`).
A trial is: rotate a chain (consuming its token at time c), replay the consumed token `max_reuse` times at
once (those succeed whatever the time), then replay it at c + d. While replays work the same consumed token
is tried again at longer delays (a grace replay changes nothing on the server in tokensim's model: the
interval still counts from c); a refused replay ends the trial, and the next one starts on a new chain.
Delays double from the first replay's until one is refused or `--max-wait` (or the chain's lifetime) is
reached, then the bracket is halved to the resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.core.durations import format_duration
from sim.probe.facts import Facts, new_chain
from sim.probe.result import Confidence
from sim.probe.rotation import _on_reuse_after
from sim.probe.search import Bracket
from sim.probe.session import Chain, Session, Stop

NAME = "reuse_interval"


@dataclass
class _Trial:
    chain: Chain
    consumed: str
    at: float
    rotation: int


def measure_grace(session: Session, facts: Facts) -> None:
    """Bisect the grace period of a one_time server whose immediate replay worked."""
    if facts.usage != "one_time" or not facts.grace:
        return
    session.experiment = NAME
    limit = facts.max_wait
    lifetime = facts.unused_lifetime
    limited_by_life = False
    if lifetime is not None and lifetime.high is not None and lifetime.low - facts.resolution < limit:
        limit = max(lifetime.low - facts.resolution, facts.grace_start)
        limited_by_life = True
    bracket = Bracket(
        limit=limit,
        resolution=facts.resolution,
        low=facts.grace_start,
        low_evidence=list(facts.grace_evidence),
    )
    try:
        _search(session, facts, bracket)
    finally:
        _conclude(facts, bracket, limited_by_life)


def _search(session: Session, facts: Facts, bracket: Bracket) -> None:
    trial: _Trial | None = None
    while not bracket.done:
        delay = bracket.next_delay()
        if trial is None or trial.at + delay < session.now():
            trial = _rotate(session, facts)
        session.wait_until(trial.at + delay, f"a replay {format_duration(round(delay))} after a rotation")
        replay = session.refresh(
            trial.chain,
            trial.consumed,
            purpose=f"replay of the consumed token {delay:.1f} s after the rotation",
        )
        actual = replay.at - trial.at
        evidence = [trial.rotation, replay.exchange]
        if replay.ok:
            bracket.worked(actual, evidence)
            continue
        bracket.failed(actual, evidence)
        if not facts.known("on_reuse"):
            _on_reuse_after(
                session, facts, trial.chain, replay, f"a replay {actual:.1f} s after the rotation"
            )
        trial = None


def _rotate(session: Session, facts: Facts) -> _Trial:
    chain = new_chain(session, facts, "a chain for a timed replay", fresh=False)
    consumed = chain.token
    rotation = session.refresh(chain, purpose="rotate: consume the token to replay")
    if not rotation.ok or not rotation.new:
        raise Stop("a rotation failed on a new chain")
    for number in range(facts.count_reuses):
        counted = session.refresh(
            chain, consumed, purpose=f"counted replay {number + 1} (max_reuse), at once"
        )
        if not counted.ok:
            raise Stop("a counted replay (max_reuse) was refused")
    return _Trial(chain, consumed, rotation.at, rotation.exchange)


def _conclude(facts: Facts, bracket: Bracket, limited_by_life: bool) -> None:
    evidence = bracket.low_evidence + bracket.high_evidence
    if bracket.high is not None:
        sure: Confidence = "exact" if bracket.high - bracket.low <= facts.resolution else "bounded"
        facts.conclude(
            "reuse_interval",
            format_duration(bracket.estimate()),
            sure,
            f"the consumed token worked {bracket.low:.1f} s after the rotation and was refused "
            f"{bracket.high:.1f} s after it",
            evidence,
            low=bracket.low,
            high=bracket.high,
        )
        return
    written = format_duration(round(bracket.low) if bracket.low >= 1 else round(bracket.low, 1))
    if limited_by_life and bracket.beyond_limit:
        facts.conclude(
            "reuse_interval",
            written,
            "bounded",
            f"the consumed token still worked {bracket.low:.1f} s after the rotation; the chain itself "
            "expires soon after, so a longer grace period makes no difference",
            evidence,
            low=bracket.low,
        )
        return
    facts.conclude(
        "reuse_interval",
        written,
        "not_measured",
        f"the consumed token still worked {bracket.low:.1f} s after the rotation"
        + (" (--max-wait)" if bracket.beyond_limit else " when the search stopped")
        + "; the grace period is at least that (written)",
        evidence,
        low=bracket.low,
    )
