"""`tokensim demo`: a short, readable walk through the policy engine's rules (no scenario needed)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.core.durations import DAY, HOUR
from sim.policy.engine import Grant, RefreshResult, TokenEngine
from sim.policy.model import Policy


@dataclass
class DemoTimeline:
    """One user's tokens under a policy: (time, what happens, what the server answers) rows and totals."""

    title: str
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    totals: str = ""

    def add_row(self, *cells: str) -> None:
        """Add one step of the timeline."""
        time, event, answer = cells
        self.rows.append((time, event, answer))


def held(answer: Grant | RefreshResult) -> int:
    """The refresh token an answer issued (the demo's steps all issue one)."""
    assert answer.refresh_token is not None
    return answer.refresh_token


def demo_timeline() -> DemoTimeline:
    """A timeline of one user's tokens under Visma Connect-like settings."""
    policy = Policy.from_dict(
        {
            "preset": "visma_connect",
            "refresh_token_usage": "one_time",
            "sliding_lifetime": "15d",
            "max_tokens_per_user": 2,
            "reuse_interval": "10s",
            "on_reuse": "revoke_family",
        }
    )
    engine = TokenEngine(policy)
    table = DemoTimeline("One user under " + ", ".join(f"{k}={v}" for k, v in policy.to_config().items()))

    def at(t: float) -> str:
        days, rest = divmod(int(t), int(DAY))
        hours, rest = divmod(rest, 3600)
        return f"day {days} {hours:02d}:{rest // 60:02d}:{rest % 60:02d}"

    laptop = engine.authorize("alice", 0.0, device="laptop")
    table.add_row(at(0), "alice logs in on her laptop", f"chain {laptop.chain}")
    first = engine.refresh(held(laptop), HOUR)
    table.add_row(at(HOUR), "laptop refreshes (access token expired)", f"ok, new refresh token ({first.ok})")
    retry = engine.refresh(held(laptop), HOUR + 5)
    table.add_row(
        at(HOUR + 5), "the response was lost: retry with the old token", f"ok within 10s grace: {retry.ok}"
    )
    late = engine.refresh(held(laptop), HOUR + 30)
    table.add_row(at(HOUR + 30), "the old token again, outside the grace", f"fails: {late.reason}")
    after = engine.refresh(held(first), HOUR + 31)
    table.add_row(
        at(HOUR + 31), "laptop's current token", f"fails: {after.reason} (reuse revoked the family)"
    )
    phone = engine.authorize("alice", 2 * HOUR, device="phone")
    tablet = engine.authorize("alice", 3 * HOUR, device="tablet")
    table.add_row(at(2 * HOUR), "alice logs in on her phone", f"chain {phone.chain}")
    table.add_row(
        at(3 * HOUR),
        "and on her tablet",
        f"chain {tablet.chain}, active: {engine.active_chains('alice', 3 * HOUR)}",
    )
    desk = engine.authorize("alice", 4 * HOUR, device="desktop")
    table.add_row(
        at(4 * HOUR), "and on a desktop: the cap of 2 is reached", f"evicts chain(s) {list(desk.evicted)}"
    )
    gone = engine.refresh(held(phone), 5 * HOUR)
    table.add_row(at(5 * HOUR), "the phone refreshes", f"fails: {gone.reason} (silently logged out)")
    idle = 3 * HOUR + 15 * DAY
    ok = engine.refresh(held(tablet), idle)
    table.add_row(
        at(idle), "tablet returns exactly 15 days after its login", f"ok: {ok.ok} (deadline is inclusive)"
    )
    expired = engine.refresh(held(desk), idle + HOUR + 1)
    table.add_row(
        at(idle + HOUR + 1),
        "desktop returns 15 days and 1 second after its login",
        f"fails: {expired.reason}",
    )
    c = engine.counters
    failed = {k: v for k, v in c.refreshes_failed.items() if v}
    ended = {k: v for k, v in c.ended.items() if v}
    table.totals = (
        f"authorizations {c.authorizations}, refreshes ok {c.refreshes_ok} "
        f"(of which {c.grace_retries} within the grace), failed {failed}, chains ended {ended}"
    )
    return table
