"""What the experiments of a plan learn and hand to each other, and the findings they conclude.

Experiments run one after the other (cap, rotation, lifetimes, grace period); each reads what the earlier
ones found (`Facts`) and adds its `Finding`s. `new_chain` is how every experiment gets a chain to work on:
a fresh login, or, when the account is at a cap that refuses new logins (`on_cap: reject_new`), a chain the
probe already holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sim.probe.result import Confidence, Finding
from sim.probe.search import Bracket
from sim.probe.session import Chain, LoginRefused, Session


@dataclass
class Facts:
    """Shared knowledge of the plan."""

    resolution: float
    max_wait: float
    max_logins: int
    findings: dict[str, Finding] = field(default_factory=dict)
    #: `reuse`, `one_time` or `rotate_keep_old` once known.
    usage: str | None = None
    #: The lifetime of a chain that is never used after its login: `low <= lifetime < high`.
    unused_lifetime: Bracket | None = None
    #: The account's cap, when seen, and whether it refuses new logins.
    cap: int | None = None
    rejects_new: bool = False
    #: Seconds from the cap experiment's first login to its last check (chains that expire sooner confuse it).
    cap_span: float = 0.0
    #: one_time: how many immediate replays of the consumed token worked with a new token each.
    count_reuses: int = 0
    #: one_time: an immediate replay of the consumed token worked and returned the chain's current token.
    grace: bool = False
    #: Seconds after the rotation at which that first grace replay worked, and its evidence.
    grace_start: float = 0.0
    grace_evidence: list[int] = field(default_factory=list)
    #: Why an experiment stopped early, by experiment.
    stopped: dict[str, str] = field(default_factory=dict)

    def conclude(
        self,
        field_name: str,
        value: Any,
        confidence: Confidence,
        summary: str,
        evidence: list[int] | None = None,
        low: float | None = None,
        high: float | None = None,
    ) -> None:
        """Record the finding for one policy field (a later conclusion replaces an earlier one)."""
        self.findings[field_name] = Finding(
            field=field_name,
            value=value,
            confidence=confidence,
            summary=summary,
            evidence=sorted(set(evidence or [])),
            low=low,
            high=high,
        )

    def known(self, field_name: str) -> bool:
        """True when some experiment concluded on this field."""
        return field_name in self.findings


def new_chain(session: Session, facts: Facts, purpose: str, *, fresh: bool = True) -> Chain:
    """A chain to experiment on: a new login, else (logins refused at a `reject_new` cap) a valid chain the
    probe already holds, the most recently used first.

    `fresh=True`: the experiment needs a chain never used since its login, which only a login gives, so
    LoginRefused is raised then.
    """
    try:
        return session.login(purpose)
    except LoginRefused:
        if fresh or not facts.rejects_new:
            raise
        held = sorted((chain for chain in session.chains if chain.alive), key=lambda c: -c.last_used_at)
        if not held:
            raise
        chain = held[0]
        session.progress.note(
            f"{session.experiment}: new logins are refused (cap); using chain {chain.label}"
        )
        return chain
