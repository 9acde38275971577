"""`max_tokens_per_user` and `on_cap`: how many chains one account may hold, and which one a new login ends.

The plan's first experiment, so that no chain of the probe's own is older than the ones it counts:

1. Log in `max_logins` times (the first login is also refreshed at once: a server that refuses that cannot
   be probed), stopping at the first refused login.
2. Refresh every chain, oldest first. With a cap K and eviction, the oldest `n - K` are refused and the
   newest K work: `max_tokens_per_user: K`. When a login was refused while every earlier chain still works,
   the server refuses logins at its cap: `on_cap: reject_new`. When every chain works, the cap is at least
   `max_logins` (not measured; `unlimited` is written).
3. To tell `evict_oldest` from `evict_least_recently_used` (needs K >= 2): refresh the oldest valid chain
   (now the most recently used), log in once more, and see which chain is refused: the oldest one
   (evict_oldest) or the second oldest, now the least recently used (evict_least_recently_used).

Chains logged in before the probe ran count against the cap too and are older: a cap is then seen smaller
by their number. Probe with an account that has no other sessions.
"""

from __future__ import annotations

from sim.probe.facts import Facts
from sim.probe.session import Chain, LoginRefused, ProbeError, Session, Stop

NAME = "max_tokens_per_user"


def measure_cap(session: Session, facts: Facts) -> None:
    """Run the cap experiment (the plan's first); ProbeError when the first login or refresh fails."""
    session.experiment = NAME
    n = facts.max_logins
    held: list[Chain] = []
    refused: LoginRefused | None = None
    for number in range(1, n + 1):
        try:
            held.append(session.login(f"login {number} of up to {n}"))
        except LoginRefused as exc:
            if not held:
                raise ProbeError(f"the first login was refused: {exc}") from None
            refused = exc
            break
        if number == 1:
            first = session.refresh(held[0], purpose="a refresh right after the first login")
            if not first.ok:
                raise ProbeError(
                    f"a refresh of a fresh refresh token was refused (HTTP {first.status}"
                    + (f" {first.error}" if first.error else "")
                    + "): is the refresh_token grant allowed for this client?"
                )
    checks = [session.refresh(chain, purpose="is this chain still valid?") for chain in held]
    facts.cap_span = checks[-1].at - held[0].login_at
    valid = [answer.ok for answer in checks]
    evidence = [chain.login_exchange for chain in held] + [answer.exchange for answer in checks]
    if refused is not None:
        status = session.exchanges[refused.exchange - 1].status
        if status is not None and (status == 429 or status >= 500):
            raise Stop(
                f"login {len(held) + 1} was refused with HTTP {status} ({refused}): the server limits "
                "or failed, not necessarily a cap; lower --rate or try again later"
            )
        _refused(facts, held, valid, refused, evidence)
        return
    dead = valid.count(False)
    if dead == 0:
        facts.conclude(
            "max_tokens_per_user",
            "unlimited",
            "not_measured",
            f"all {n} chains of {n} logins still worked (--max-logins): any cap is at least {n}",
            evidence,
            low=n,
        )
        facts.conclude("on_cap", "evict_oldest", "not_measured", "no cap was reached (tokensim's default)")
        return
    if not valid[-1]:
        facts.conclude(
            "max_tokens_per_user",
            "unlimited",
            "not_measured",
            f"after {n} logins even the newest chain was refused: chains end (expire?) faster than "
            "the logins and checks took, which no cap explains",
            evidence,
        )
        facts.conclude("on_cap", "evict_oldest", "not_measured", "no cap could be measured")
        session.warn(
            f"the newest of {n} chains was refused {checks[-1].at - held[-1].login_at:.1f} s after its "
            "login: the cap cannot be measured (are chains this short-lived?)"
        )
        return
    if valid[:dead] != [False] * dead:
        facts.cap = valid.count(True)
        facts.conclude(
            "max_tokens_per_user",
            facts.cap,
            "bounded",
            f"after {n} logins {dead} chains were refused, but not the oldest ones first: "
            "something else than a cap may end chains",
            evidence,
            low=facts.cap,
        )
        session.warn(
            f"chains refused out of login order after {n} logins: {''.join('x.'[ok] for ok in valid)} "
            "(x = refused, oldest first)"
        )
        return
    cap = n - dead
    facts.cap = cap
    facts.conclude(
        "max_tokens_per_user",
        cap,
        "exact",
        f"after {n} logins the oldest {'chain was' if dead == 1 else f'{dead} chains were'} refused and the "
        f"newest {cap} worked",
        evidence,
        low=cap,
        high=cap + 1,
    )
    if cap == 1:
        facts.conclude(
            "on_cap",
            "evict_oldest",
            "exact",
            "a new login ends the earlier chain (with a cap of 1 the oldest chain is also the least "
            "recently used)",
            evidence,
        )
        return
    _eviction_order(session, facts, [chain for chain, ok in zip(held, valid, strict=True) if ok])


def _refused(
    facts: Facts, held: list[Chain], valid: list[bool], refused: LoginRefused, evidence: list[int]
) -> None:
    number = len(held) + 1
    facts.rejects_new = True
    facts.cap = valid.count(True)
    evidence = [*evidence, refused.exchange]
    if all(valid):
        facts.conclude(
            "max_tokens_per_user",
            facts.cap,
            "exact",
            f"login {number} was refused ({refused}) while the {len(held)} earlier chains all worked",
            evidence,
            low=facts.cap,
            high=facts.cap + 1,
        )
        facts.conclude(
            "on_cap",
            "reject_new",
            "exact",
            f"at the cap a new login is refused ({refused}); the earlier chains keep working",
            evidence,
        )
    else:
        facts.conclude(
            "max_tokens_per_user",
            facts.cap,
            "bounded",
            f"login {number} was refused ({refused}) and some earlier chains were refused too",
            evidence,
            low=facts.cap,
        )
        facts.conclude(
            "on_cap",
            "reject_new",
            "bounded",
            f"a new login was refused ({refused}); the reason may not be a cap",
            evidence,
        )


def _eviction_order(session: Session, facts: Facts, survivors: list[Chain]) -> None:
    oldest, second = survivors[0], survivors[1]
    touched = session.refresh(oldest, purpose="use the oldest valid chain (now the most recently used)")
    try:
        extra = session.login("one more login, over the cap")
    except LoginRefused as exc:
        facts.conclude(
            "on_cap",
            "evict_oldest",
            "not_measured",
            f"the login over the cap was refused ({exc}) although earlier logins evicted chains",
        )
        return
    first = session.refresh(oldest, purpose="is the oldest chain still valid?")
    then = session.refresh(second, purpose="is the least recently used chain still valid?")
    evidence = [touched.exchange, extra.login_exchange, first.exchange, then.exchange]
    if touched.ok and not first.ok and then.ok:
        facts.conclude(
            "on_cap",
            "evict_oldest",
            "exact",
            f"after using the oldest chain {oldest.label}, a new login ended it, not the least "
            f"recently used {second.label}",
            evidence,
        )
    elif touched.ok and first.ok and not then.ok:
        facts.conclude(
            "on_cap",
            "evict_least_recently_used",
            "exact",
            f"after using the oldest chain {oldest.label}, a new login ended {second.label}, the "
            "least recently used one",
            evidence,
        )
    else:
        facts.conclude(
            "on_cap",
            "evict_oldest",
            "not_measured",
            "the login over the cap gave an unclear answer (oldest chain "
            f"{'valid' if first.ok else 'refused'}, second oldest {'valid' if then.ok else 'refused'})",
            evidence,
        )
