"""Sentences of the report, generated from a typed summary's figures.

Every number in a headline sentence is the summary's value in the one number format of
`sim.report.numbers` (percentages for shares, three significant digits otherwise, intervals as
`(low–high)`). The tests parse the sentences back and compare them with summary.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from sim.analysis.summary import Estimate, RunSummary
from sim.analysis.tradeoff import FRICTION
from sim.report.numbers import interval, num, pct, with_ci
from sim.report.tables import CAUSE_WORDS

Metrics = Mapping[str, Estimate]

def cause_shares(metrics: Metrics) -> list[tuple[str, float]]:
    """(cause, share of forced re-authentications) for every cause that occurs, largest first."""
    total = metrics[FRICTION].mean or 0.0
    if not total:
        return []
    shares = []
    for name, block in metrics.items():
        if name.startswith(f"{FRICTION}.") and block.mean:
            shares.append((name.split(".", 1)[1], block.mean / total))
    return sorted(shares, key=lambda item: -item[1])


def cause_text(cause: str) -> str:
    """Plain words for a cause (`sliding_expiry` -> `sliding expiry`)."""
    return CAUSE_WORDS.get(cause, cause.replace("_", " "))


def _top_causes(metrics: Metrics) -> str:
    shares = cause_shares(metrics)
    if not shares:
        return ""
    parts = [f"{pct(share)} because of {cause_text(cause)}" for cause, share in shares[:2]]
    return f"; {parts[0].replace('because', 'of these forced logins are because', 1)}" + "".join(
        f" and {part}" for part in parts[1:]
    )


def forced_sentence(metrics: Metrics, who: str = "users") -> str:
    """`27.0% of users (25.5–28.5%) are forced to log in again in a month; 36.0% of these ...`."""
    share = metrics["users_with_forced_reauth_share_monthly"]
    if not metrics[FRICTION].mean:
        return "Nobody is forced to log in again in the measured window."
    ci = interval(share, pct)
    return (
        f"{pct(share.mean)} of {who}{' ' + ci if ci else ''} are forced to log in again in a month"
        f"{_top_causes(metrics)}."
    )


def run_headline(summary: RunSummary) -> list[str]:
    """The headline sentences of a run report, in plain words, every figure with its 95% interval."""
    m = summary.metrics
    sentences = [forced_sentence(m)]
    if m[FRICTION].mean:
        sentences.append(
            f"On average a user is forced to log in again {with_ci(m[FRICTION])} times a month, "
            f"{with_ci(m['mid_session_reauth_per_user_month'])} of them in the middle of a session."
        )
    cap = summary.cap
    cap_text = f"the cap is {cap} per user" if cap is not None else "there is no per-user cap"
    sentences.append(
        f"A user holds {with_ci(m['active_chains_per_user'])} valid refresh-token chains on average; "
        f"{cap_text}, and the busiest user held {num(m['active_chains_per_user_max'].mean)} at once "
        "(mean over replications)."
    )
    if m["evictions_per_user_month"].mean:
        sentences.append(
            f"The cap evicts {with_ci(m['evictions_per_user_month'])} chains per user per month."
        )
    median = m["chain_lifetime_days_median"]
    censored = m["chains_censored_share"].mean
    if median.mean is not None:
        sentences.append(
            f"Half of the refresh-token chains end within {with_ci(median)} days{_clock(median.mean)} of "
            f"the login that started them (Kaplan-Meier); {pct(censored)} are still valid at the end of "
            "the simulation."
        )
    elif censored is not None:
        sentences.append(
            f"More than half of the chains outlive the simulation ({pct(censored)} are still valid at its "
            "end), so their median lifetime is longer than the measured window."
        )
    sentences.append(
        f"The token endpoint's busiest minute carries {with_ci(m['token_requests_per_second_peak'])} "
        f"requests per second for {summary.users:,} users, and a user sends "
        f"{with_ci(m['refresh_requests_per_user_month'])} refresh requests a month."
    )
    return sentences


def _clock(days: float) -> str:
    """` (about 15 minutes)` for durations under two days, else the empty string."""
    if days >= 2:
        return ""
    minutes = days * 24 * 60
    if minutes < 90:
        return f" (about {max(1, round(minutes))} minutes)"
    return f" (about {round(minutes / 60)} hours)"


def persona_sentences(summary: RunSummary) -> list[str]:
    """One sentence per persona (only when there are several): the share forced and the main causes."""
    personas = summary.by_persona
    if len(personas) < 2:
        return []
    return [f"**{name}**: {forced_sentence(blocks, f'{name} users')}" for name, blocks in personas.items()]


def dist_text(value: Any) -> str:
    """A value or distribution of the resolved scenario, compactly: `lognormal(median 1h, sigma 0.8)`."""
    if isinstance(value, Mapping) and "profile" in value:
        return "weekly profile (7 x 24 hourly rates)"
    if isinstance(value, Mapping) and {"path", "sampling"} <= set(value):  # a replayed trace
        repeated = ", repeated by weeks" if value.get("repeat") else ""
        name = PurePath(str(value["path"])).name
        return f"trace {name}, {value['sampling']}{repeated}"
    if isinstance(value, Mapping):
        extras = {k: v for k, v in value.items() if k in ("min", "max")}
        kinds = [k for k in value if k not in extras]
        if len(kinds) == 1 and isinstance(value[kinds[0]], Mapping):
            kind = kinds[0]
            params = value[kind]
            inner = ", ".join(f"{k} {dist_text(v)}" for k, v in params.items())
            text = f"{kind}({inner})"
        else:
            text = ", ".join(f"{k} {dist_text(v)}" for k, v in value.items() if k not in extras)
        for key, bound in extras.items():
            text += f", {key} {bound}"
        return text
    if isinstance(value, list | tuple):
        return "[" + ", ".join(dist_text(v) for v in value) + "]"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _block(metrics: Metrics, name: str) -> Estimate | None:
    """The metric's estimate when it has a value, else None (also for summaries written before it existed)."""
    block = metrics.get(name)
    return block if block is not None and block.mean is not None else None


def size_text(size: float) -> str:
    """A size in bytes for reading, to three significant digits: `959 kB`, `1.23 MB`, `512 bytes`."""
    for scale, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if abs(size) >= scale:
            return f"{num(size / scale)} {unit}"
    return f"{num(size)} bytes"


def theft_sentences(summary: RunSummary) -> list[str]:
    """Sentences on stolen tokens: dwell, detection, thefts still active, the victims' friction.

    Empty when the run measured no theft (`thefts_active_at_horizon_share` is null).
    """
    m = summary.metrics
    if _block(m, "thefts_active_at_horizon_share") is None:
        return []
    dwell, p95 = _block(m, "attacker_dwell_days_mean"), _block(m, "attacker_dwell_days_p95")
    if dwell is None:
        first = "No theft ended within the simulation: every attacker still held a working token at its end."
    else:
        first = (
            f"After a theft the attacker keeps working access for {with_ci(dwell)} days"
            f"{_clock(dwell.mean or 0.0)} on average"
        )
        if p95 is not None:
            first += f"; 95% of attackers lose it within {with_ci(p95)} days{_clock(p95.mean or 0.0)}."
        else:
            first += ("; fewer than 95% of the thefts ended within the simulation, so the 95th percentile "
                      "of the dwell is longer than the measured window.")
    sentences = [first]
    detected, active = m["theft_detected_share"], m["thefts_active_at_horizon_share"]
    sentences.append(
        f"Reuse detection catches {with_ci(detected, pct)} of the thefts, and {with_ci(active, pct)} of "
        "the attackers still hold a working refresh token at the end of the simulation."
    )
    victim = _block(m, "victim_reauths_per_theft")
    if victim is not None:
        sentences.append(
            f"A theft forces its victim to log in again {with_ci(victim)} times on average (a refresh "
            "refused because the attacker had already rotated the token, or because reuse detection "
            "revoked the token family)."
        )
    return sentences


def storage_sentences(summary: RunSummary) -> list[str]:
    """Sentences on access after a revocation and on the token store's size (each when the run has it)."""
    m = summary.metrics
    sentences = []
    lag = _block(m, "revocation_lag_minutes_mean")
    if lag is not None:
        p95 = _block(m, "revocation_lag_minutes_p95")
        tail = f", and one in twenty for more than {with_ci(p95)} minutes" if p95 is not None else ""
        sentences.append(
            "When a chain is revoked (a logout, a password change, an eviction or a family revocation), "
            f"an access token already issued for it stays usable for {with_ci(lag)} minutes on average"
            f"{tail}: access tokens are never revoked."
        )
    rows, peak = _block(m, "stored_rows_mean"), _block(m, "stored_rows_peak")
    if rows is not None and peak is not None:
        per_users = _block(m, "stored_rows_per_1000_users_mean")
        size = _block(m, "stored_bytes_peak")
        row_bytes = (summary.resolved_scenario.get("storage") or {}).get("row_bytes")
        at = f" at {row_bytes:,} bytes a row" if isinstance(row_bytes, int) else ""
        sized = f", about {size_text(size.mean or 0.0)}{at}" if size is not None else ""
        scaled = (f"; that is {with_ci(per_users)} rows per 1,000 users on average"
                  if per_users is not None else "")
        sentences.append(
            f"The token store holds {with_ci(rows)} rows on average and {with_ci(peak)} rows at its "
            f"fullest minute{sized}{scaled}."
        )
    return sentences
