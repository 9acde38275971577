"""`refresh_token_usage`, `on_reuse` and `max_reuse`: what a refresh returns and what an old token does.

Usage (one chain, no waiting): refresh the login's token T0.
- No refresh token in the answer, or T0 again: `reuse`, confirmed by T0 working once more.
- A new token T1: refresh with T1 (-> T2), then present T0, now two rotations old. It works and returns a
  token never seen: `rotate_keep_old` (earlier tokens stay valid). It is refused: `one_time`; then the
  newest token T2 tells `on_reuse`: refused too -> `revoke_family`, still working -> `reject`. (T0 is two
  rotations old on purpose: tokensim's grace period and `max_reuse` cover only the token just before the
  newest, so this replay is reuse under every one_time policy.)

Replays at once (one_time only, a new chain): refresh T0 (-> T1), then present T0 again, at once, up to
`MAX_COUNTED + 1` times. Each success with a new token is a count-based reuse (`max_reuse`, Keycloak's
"refresh token max reuse"); a success that returns a token already issued (the chain's current one) is a
grace period (`reuse_interval` > 0, measured later by waiting); a refusal ends it: with no success before,
`reuse_interval` is 0 (to within the time the replay took).
"""

from __future__ import annotations

from sim.probe.facts import Facts, new_chain
from sim.probe.session import Answer, Chain, Session, Stop

NAME = "refresh_token_usage"
REPLAYS = "reuse"
#: Immediate replays that may each return a new token before `max_reuse` is reported as "at least".
MAX_COUNTED = 5


def measure_usage(session: Session, facts: Facts) -> None:
    """Find refresh_token_usage (and, for one_time, on_reuse)."""
    session.experiment = NAME
    chain = new_chain(session, facts, "a chain to refresh", fresh=False)
    t0 = chain.token
    first = session.refresh(chain, purpose="refresh the login's token")
    if not first.ok:
        raise Stop(f"a refresh of a valid refresh token was refused (HTTP {first.status})")
    if first.token is None or first.token == t0:
        _reuse(session, facts, chain, t0, first)
        return
    second = session.refresh(chain, purpose="refresh with the new token")
    if not second.ok or not second.new:
        facts.usage = "one_time"
        facts.conclude(
            "refresh_token_usage",
            "one_time",
            "bounded",
            "a refresh returned a new token, but refreshing with it "
            + ("was refused" if not second.ok else "did not return another new token"),
            [first.exchange, second.exchange],
        )
        session.warn("the server's rotation is irregular: see the refresh_token_usage evidence")
        return
    replay = session.refresh(chain, t0, purpose="present the token from two rotations ago")
    evidence = [first.exchange, second.exchange, replay.exchange]
    if replay.ok and replay.new:
        facts.usage = "rotate_keep_old"
        facts.conclude(
            "refresh_token_usage",
            "rotate_keep_old",
            "exact",
            "every refresh returned a new token, and the first token still worked after two "
            "rotations (giving another new token)",
            evidence,
        )
        return
    facts.usage = "one_time"
    if replay.ok:
        facts.conclude(
            "refresh_token_usage",
            "one_time",
            "bounded",
            "every refresh returned a new token; the first token still worked after two rotations "
            "but returned a token already issued: a grace period that covers older tokens than "
            "tokensim's (which covers only the token just before the newest)",
            evidence,
        )
        session.warn(
            "replays of older tokens are accepted within a grace period: tokensim's reuse_interval "
            "covers only the token just before the newest"
        )
        return
    facts.conclude(
        "refresh_token_usage",
        "one_time",
        "exact",
        "every refresh returned a new token; the first token was refused after two rotations",
        evidence,
    )
    _on_reuse_after(session, facts, chain, replay, "the token from two rotations ago")


def _reuse(session: Session, facts: Facts, chain: Chain, t0: str, first: Answer) -> None:
    again = session.refresh(chain, t0, purpose="the same token once more")
    evidence = [first.exchange, again.exchange]
    facts.usage = "reuse"
    what = "no refresh token" if first.token is None else "the same refresh token"
    if again.ok:
        facts.conclude(
            "refresh_token_usage",
            "reuse",
            "exact",
            f"a refresh answered with {what}, and the token worked again",
            evidence,
        )
    else:
        facts.conclude(
            "refresh_token_usage",
            "reuse",
            "bounded",
            f"a refresh answered with {what}, but the token was refused on its second use "
            f"(HTTP {again.status})",
            evidence,
        )
        session.warn("the refresh token was refused on its second use although no new token was issued")


def _on_reuse_after(session: Session, facts: Facts, chain: Chain, replay: Answer, what: str) -> None:
    """After a refused replay, is the chain's newest token still valid? (on_reuse)"""
    newest = session.refresh(chain, purpose=f"the newest token after the refused replay of {what}")
    evidence = [replay.exchange, newest.exchange]
    if newest.ok:
        facts.conclude(
            "on_reuse",
            "reject",
            "exact",
            f"after {what} was refused, the chain's newest token still worked",
            evidence,
        )
    else:
        facts.conclude(
            "on_reuse",
            "revoke_family",
            "exact",
            f"after {what} was refused, the chain's newest token was refused too",
            evidence,
        )


def measure_replays(session: Session, facts: Facts) -> None:
    """one_time only: immediate replays of the consumed token (max_reuse, whether a grace period exists)."""
    if facts.usage != "one_time":
        return
    session.experiment = REPLAYS
    chain = new_chain(session, facts, "a chain for replays", fresh=False)
    t0 = chain.token
    rotation = session.refresh(chain, purpose="rotate: consume the login's token")
    if not rotation.ok or not rotation.new:
        raise Stop("a rotation failed on a new chain")
    counted = 0
    evidence = [rotation.exchange]
    for number in range(1, MAX_COUNTED + 2):
        replay = session.refresh(chain, t0, purpose=f"replay {number} of the consumed token, at once")
        evidence.append(replay.exchange)
        delay = replay.at - rotation.at
        if not replay.ok:
            _no_more(session, facts, chain, counted, replay, delay, evidence)
            return
        if replay.new:
            counted += 1
            continue
        facts.grace = True
        facts.count_reuses = counted
        facts.grace_start = delay
        facts.grace_evidence = [rotation.exchange, replay.exchange]
        _conclude_count(
            facts,
            counted,
            evidence,
            then="the next one worked and returned the chain's current token (a grace period)",
        )
        return
    facts.grace = True
    facts.count_reuses = counted
    facts.grace_start = replay.at - rotation.at
    facts.grace_evidence = [rotation.exchange, replay.exchange]
    facts.conclude(
        "max_reuse",
        counted,
        "bounded",
        f"the consumed token worked {counted} more times at once, each time with a new token: "
        f"max_reuse is at least {counted}, or the grace period issues new tokens",
        evidence,
        low=counted,
    )


def _no_more(
    session: Session,
    facts: Facts,
    chain: Chain,
    counted: int,
    replay: Answer,
    delay: float,
    evidence: list[int],
) -> None:
    _conclude_count(facts, counted, evidence, then="the next one was refused")
    facts.conclude(
        "reuse_interval",
        "0s",
        "exact",
        f"a replay {delay:.2f} s after the rotation"
        + (f" (after {counted} counted ones)" if counted else "")
        + " was refused: no grace period",
        [evidence[0], replay.exchange],
        low=0.0,
        high=max(delay, 0.0),
    )
    if not facts.known("on_reuse"):
        _on_reuse_after(session, facts, chain, replay, "the consumed token")


def _conclude_count(facts: Facts, counted: int, evidence: list[int], then: str) -> None:
    if counted:
        times = "once more" if counted == 1 else f"{counted} more times"
        summary = f"replayed at once, the consumed token worked {times}, each time with a new token; {then}"
    else:
        summary = (
            f"replayed at once, the consumed token gave no new token: {then.replace('the next one', 'it')}"
        )
    facts.conclude("max_reuse", counted, "exact", summary, evidence, low=counted, high=counted + 1)
