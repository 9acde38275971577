"""A counterexample told as a story: one line per thing that happened, up to the step that breaks the promise.

    day 0 00:00:00  laptop opens the app (session of 0s)
    day 0 00:00:00  laptop logs in: chain 1, token 1.0
    day 15 00:00:01 laptop opens the app (session of 0s)
    day 15 00:00:01 laptop refreshes with token 1.0: refused, sliding_expiry -> forced login
    => laptop is forced to log in (sliding_expiry)

Time zero is day 0, 00:00:00. Long runs of successful refreshes by one client are folded into one line.
"""

from __future__ import annotations

from sim.verify.execute import (
    FRESH_LOGIN,
    LOGIN,
    LOGIN_AFTER_LOGOUT,
    LOGOUT,
    PASSWORD_CHANGE,
    REFRESH,
    SESSION,
    THEFT,
    Step,
    Trace,
)
from sim.verify.properties import Violation, span_text

_LOGIN_KINDS = {FRESH_LOGIN: " afresh", LOGIN_AFTER_LOGOUT: " again after its logout"}
#: Runs of more successful refreshes than this by one client are folded into one line.
FOLD = 3


def clock(seconds: float) -> str:
    """`day 15 00:00:01`, with milliseconds when the time has them."""
    total = round(seconds * 1000)
    day, rest = divmod(total, 86_400_000)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    text = f"day {day} {hours:02d}:{minutes:02d}:{secs:02d}"
    return text + (f".{millis:03d}" if millis else "")


def _line(trace: Trace, step: Step) -> str:
    label = trace.label
    if step.kind == SESSION:
        return f"{step.actor} opens the app (session of {span_text(step.duration or 0.0)})"
    if step.kind == LOGIN:
        kind = _LOGIN_KINDS.get(step.login_kind or "", "")
        if not step.ok:
            return f"{step.actor} logs in{kind}: refused at the cap ({step.reason})"
        text = f"{step.actor} logs in{kind}: chain {step.chain}, token {label(step.token)}"
        if step.ended:
            text += f"; chain {', '.join(str(c) for c in step.ended)} evicted at the cap"
        return text
    if step.kind == REFRESH:
        tab = f" (tab {step.tab + 1})" if step.tab else ""
        text = f"{step.actor}{tab} refreshes with token {label(step.token)}: "
        if step.ok:
            text += "ok"
            if step.grace:
                text += f" within the reuse interval, gets {label(step.issued)}"
            elif step.issued != step.token:
                text += f", new token {label(step.issued)}"
        else:
            text += f"refused, {step.reason}"
            if step.forced:
                text += " -> forced login"
        if step.lost:
            text += f"; the response is lost, retry at {clock(step.retry_at or 0.0)}"
        return text
    if step.kind == LOGOUT:
        return f"{step.actor} logs out: chain {step.chain} ends"
    if step.kind == PASSWORD_CHANGE:
        revoked = ", ".join(str(c) for c in step.ended) or "none"
        return f"the password changes: every chain of the user is revoked ({revoked})"
    if step.kind == THEFT:
        victim = trace.timeline.devices[step.device or 0].name
        if not step.ok:
            return f"{step.actor} steals from {victim}, which holds no token"
        until = clock(step.access_until) if step.access_until is not None else "-"
        token = label(step.token)
        return f"{step.actor} steals {victim}'s tokens: token {token}, an access token until {until}"
    return f"{step.actor} {step.kind}"


def _folded(trace: Trace, steps: list[Step]) -> list[tuple[float, str]]:
    """Lines in order, runs of plain successful refreshes by one client folded into one."""
    lines: list[tuple[float, str]] = []
    k = 0
    while k < len(steps):
        step = steps[k]
        run = [step]
        if step.kind == REFRESH and step.ok and not step.lost and not step.grace:
            j = k + 1
            others: list[Step] = []
            while j < len(steps):
                nxt = steps[j]
                same = nxt.actor == step.actor and nxt.kind == REFRESH and nxt.ok and not nxt.lost
                if same and not nxt.grace and nxt.tab == 0:
                    run.append(nxt)
                elif nxt.kind == SESSION and nxt.actor == step.actor:
                    others.append(nxt)
                else:
                    break
                j += 1
            if len(run) > FOLD:
                first, last = run[0], run[-1]
                text = (
                    f"{step.actor} refreshes {len(run)} times until {clock(last.at)}, each ok "
                    f"(token {trace.label(first.token)} to {trace.label(last.issued)})"
                )
                lines.append((first.at, text))
                k = j
                continue
        lines.append((step.at, _line(trace, step)))
        k += 1
    return lines


def render(trace: Trace, violation: Violation) -> list[str]:
    """The story of a trace up to and including the violating step, then the violation."""
    steps = trace.steps[: violation.step + 1]
    lines = _folded(trace, steps)
    width = max(len(clock(at)) for at, _ in lines) if lines else 0
    story = [f"{clock(at):<{width}}  {text}" for at, text in lines]
    story.append(f"=> {violation.message}")
    return story
