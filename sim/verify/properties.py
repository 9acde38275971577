"""The properties of invariants, checked on the trace of one timeline: the first step that breaks one.

Each property reads the steps recorded by `sim.verify.execute` (docs/verify.md has the definitions):

- `never`: no failed refresh forces a device to log in (of any cause, or of the causes named as
  `forced_login.<cause>`); no chain is evicted at the cap (`eviction`); no login is refused at the cap
  (`rejected_login`).
- `no_token_works`: no refresh succeeds with a token later than the bound after its chain's login
  (`after: login`), or after the token's own last successful use, or its issue if never used
  (`after: last_use`).
- `replay`: every request that presents a token already rotated away (a newer token of its chain exists)
  fails (`refused`), and its chain has ended by then (`kills_family`).
- `stolen_token_stops`: every attacker refresh later than `within` after the theft, or after
  `after_victim_refreshes` refresh requests of the stolen device since the theft, fails.
- `at_most`: after every login the user holds at most `valid_chains` valid chains; the user's rows in
  the token store never exceed `stored_rows` (the rules of the scenario's `storage:`, exact in time).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from sim.core.durations import format_duration
from sim.scenario.invariants import EVICTION, FORCED_LOGIN, REJECTED_LOGIN, Invariant
from sim.scenario.threats import Storage
from sim.verify.execute import LOGIN, REFRESH, Trace


@dataclass(frozen=True)
class Violation:
    """The step of a trace that breaks the property, and what it did."""

    step: int
    at: float
    message: str


Checker = Callable[[Trace], "Violation | None"]


def span_text(seconds: float) -> str:
    """A duration for people: `15d 1s`, `2h 30m`, `1.5s`, `0s` (exact to the millisecond)."""
    millis = round(seconds * 1000)
    days, millis = divmod(millis, 86_400_000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    parts = [f"{value}{unit}" for value, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if value]
    if millis or not parts:
        parts.append(f"{millis / 1000:g}s")
    return " ".join(parts)


def _never(events: tuple[str, ...]) -> Checker:
    forced_all = FORCED_LOGIN in events
    causes = {e.split(".", 1)[1] for e in events if e.startswith(FORCED_LOGIN + ".")}

    def check(trace: Trace) -> Violation | None:
        for step in trace.steps:
            if step.forced and (forced_all or step.reason in causes):
                return Violation(step.index, step.at, f"{step.actor} is forced to log in ({step.reason})")
            if step.kind != LOGIN:
                continue
            if step.ended and EVICTION in events:
                chains = ", ".join(str(c) for c in step.ended)
                message = f"{step.actor}'s login evicts chain {chains} at the cap"
                return Violation(step.index, step.at, message)
            if not step.ok and REJECTED_LOGIN in events:
                return Violation(step.index, step.at, f"{step.actor}'s login is refused at the cap")
        return None

    return check


def _no_token_works(bound: float, after: str) -> Checker:
    def check(trace: Trace) -> Violation | None:
        for step in trace.steps:
            if step.kind != REFRESH or not step.ok:
                continue
            if after == "login" and step.chain_login_at is not None:
                age = step.at - step.chain_login_at
                if age > bound:
                    message = (
                        f"token {trace.label(step.token)} still works {span_text(age)} after its chain's "
                        f"login (more than {format_duration(bound)})"
                    )
                    return Violation(step.index, step.at, message)
            if after == "last_use" and step.token_idle is not None and step.token_idle > bound:
                message = (
                    f"token {trace.label(step.token)} still works {span_text(step.token_idle)} after its "
                    f"last use (more than {format_duration(bound)})"
                )
                return Violation(step.index, step.at, message)
        return None

    return check


def _replay(kills_family: bool) -> Checker:
    def check(trace: Trace) -> Violation | None:
        for step in trace.steps:
            if step.kind != REFRESH or not step.replay:
                continue
            label = trace.label(step.token)
            if step.ok:
                how = " within the reuse interval" if step.grace else ""
                message = f"{step.actor} replays token {label}, which was rotated away: accepted{how}"
                return Violation(step.index, step.at, message)
            record = trace.chains.get(step.chain) if step.chain is not None else None
            alive = record is not None and (record.ended_at is None or record.ended_at > step.at)
            if kills_family and alive:
                message = (
                    f"{step.actor} replays token {label}: refused ({step.reason}), but chain {step.chain} "
                    "stays valid"
                )
                return Violation(step.index, step.at, message)
        return None

    return check


def _stolen(within: float | None, victim_refreshes: int | None) -> Checker:
    def check(trace: Trace) -> Violation | None:
        for step in trace.steps:
            if step.kind != REFRESH or step.attacker is None or not step.ok:
                continue
            assert step.since_theft is not None and step.victim_refreshes is not None
            if within is not None and step.since_theft > within:
                message = (
                    f"{step.actor}'s stolen token still works {span_text(step.since_theft)} after the theft "
                    f"(more than {format_duration(within)})"
                )
                return Violation(step.index, step.at, message)
            if victim_refreshes is not None and step.victim_refreshes >= victim_refreshes:
                message = (
                    f"{step.actor}'s stolen token still works after {step.victim_refreshes} refresh requests "
                    "of the stolen device"
                )
                return Violation(step.index, step.at, message)
        return None

    return check


def _valid_chains(limit: int) -> Checker:
    def check(trace: Trace) -> Violation | None:
        for step in trace.steps:
            if step.kind == LOGIN and step.valid_chains is not None and step.valid_chains > limit:
                message = f"after {step.actor}'s login the user holds {step.valid_chains} valid chains"
                return Violation(step.index, step.at, message)
        return None

    return check


def removed_at(unneeded: float, cleanup_interval: float | None) -> float:
    """When a row no longer needed from `unneeded` on leaves the store: the next cleanup run (as
    `sim.analysis.storage.StorageModel.removed_at`)."""
    if cleanup_interval is None or math.isinf(unneeded):
        return unneeded
    return math.ceil(unneeded / cleanup_interval) * cleanup_interval


def stored_rows(trace: Trace, storage: Storage) -> list[tuple[float, int, int]]:
    """`(time, rows, step)` at every step that adds a row (a login or a rotation), in time order."""
    usage = trace.policy.refresh_token_usage
    interval = storage.cleanup_interval
    changes: list[tuple[float, int, int]] = []  # (time, order: removals first, delta)
    for record in trace.chains.values():
        gone = removed_at(math.inf if record.ended_at is None else record.ended_at, interval)
        changes.append((record.authorized_at, 1, 1))
        changes.append((gone, 0, -1))
        for at in record.rotations if usage != "reuse" else ():
            changes.append((at, 1, 1))
            if usage == "one_time":
                changes.append((removed_at(at + storage.consumed_retention, interval), 0, -1))
            else:  # rotate_keep_old: the old token's row goes with its chain's
                changes.append((gone, 0, -1))
    changes.sort()
    adding = {
        s.at: s.index for s in reversed(trace.steps) if s.kind in (LOGIN, REFRESH) and s.ok and not s.grace
    }
    rows = 0
    levels: list[tuple[float, int, int]] = []
    for k, (at, order, delta) in enumerate(changes):
        rows += delta
        last_of_instant = k + 1 == len(changes) or changes[k + 1][0] != at
        if order == 1 and last_of_instant and math.isfinite(at):
            levels.append((at, rows, adding.get(at, 0)))
    return levels


def _stored_rows(limit: int, storage: Storage) -> Checker:
    def check(trace: Trace) -> Violation | None:
        for at, rows, step in stored_rows(trace, storage):
            if rows > limit:
                return Violation(step, at, f"the user has {rows} rows in the token store")
        return None

    return check


def checker(invariant: Invariant, storage: Storage | None = None) -> Checker:
    """The check of the invariant's property: a trace -> its first violation, or None."""
    storage = storage or Storage()
    if invariant.never is not None:
        return _never(invariant.never)
    if invariant.no_token_works is not None:
        return _no_token_works(invariant.no_token_works.later_than, invariant.no_token_works.after)
    if invariant.replay is not None:
        return _replay(invariant.replay == "kills_family")
    if invariant.stolen_token_stops is not None:
        bound = invariant.stolen_token_stops
        return _stolen(bound.within, bound.after_victim_refreshes)
    rows = invariant.at_most
    assert rows is not None
    checks = []
    if rows.valid_chains is not None:
        checks.append(_valid_chains(rows.valid_chains))
    if rows.stored_rows is not None:
        checks.append(_stored_rows(rows.stored_rows, storage))

    def check(trace: Trace) -> Violation | None:
        found = [v for v in (c(trace) for c in checks) if v is not None]
        return min(found, key=lambda v: (v.at, v.step)) if found else None

    return check
