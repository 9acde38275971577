"""The report section and figures of a comparison of vendor presets (`tokensim compare`), drawn from its
typed summary (`comparison.json`)."""

from __future__ import annotations

import json
import math
import textwrap
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from sim.analysis.summary import ComparisonSummary
from sim.analysis.tradeoff import FRICTION, exposure_label, exposure_words
from sim.report.numbers import difference_with_ci, metric_text, num, with_ci
from sim.report.plots import STYLE, pareto_front
from sim.report.render import md_escape, md_prose

USERS_FORCED = "users_with_forced_reauth_share_monthly"
#: Columns of the comparison table: (metric, heading).
COLUMNS = (
    (FRICTION, "forced re-auths / user / month"),
    (USERS_FORCED, "users forced / month"),
    ("refresh_requests_per_user_month", "refreshes / user / month"),
    ("active_chains_per_user", "valid chains / user"),
    ("token_requests_per_second_peak", "peak token req / s"),
)


def title(summary: ComparisonSummary) -> str:
    """`compare-vendors: 180 users, 120 days (warm-up 30), 3 replication(s)`."""
    return (
        f"{summary.scenario}: {summary.users:,} users, {summary.horizon_days:g} days "
        f"(warm-up {summary.warmup_days:g}), {summary.replications} replication(s)"
    )


def _bars(ax: Any, summary: ComparisonSummary, metric: str, color: str, scale: float = 1.0,
          suffix: str = "") -> None:
    """Horizontal bars of one metric per preset (everyone), whiskers at the 95% interval, both ends."""
    rows = [summary.row(p, metric) for p in summary.presets]
    mean = np.array([math.nan if r is None or r.mean is None else r.mean for r in rows]) * scale
    low = np.array([math.nan if r is None or r.ci_low is None else r.ci_low for r in rows]) * scale
    high = np.array([math.nan if r is None or r.ci_high is None else r.ci_high for r in rows]) * scale
    y = np.arange(len(rows))
    has_ci = ~(np.isnan(low) | np.isnan(high))
    err = np.vstack([np.where(has_ci, mean - low, 0.0), np.where(has_ci, high - mean, 0.0)]).clip(min=0)
    ax.barh(y, np.nan_to_num(mean), height=0.6, color=color, alpha=0.85, label="mean")
    # whiskers drawn over the bars in a dark colour, so the lower end shows inside the bar too
    ax.errorbar(np.nan_to_num(mean), y, xerr=err if has_ci.any() else None, fmt="none", ecolor="0.1",
                capsize=4, lw=1.2, zorder=3)
    ends = np.fmax(np.nan_to_num(mean), np.nan_to_num(high))
    right = float(ends.max(initial=0.0))
    for yi, end, value in zip(y, ends, mean, strict=True):
        text = "n/a" if math.isnan(value) else f"{num(value)}{suffix}"
        ax.text(end + right * 0.02, yi, text, va="center", ha="left", fontsize=9, color="0.15")
    ax.set_xlim(0, right * 1.25 if right > 0 else 1)
    ax.grid(axis="y", visible=False)


def comparison_figure(summary: ComparisonSummary) -> Figure:
    """Two panels, one bar per preset: forced re-authentications per user-month, and the share of users
    with a forced re-authentication in a month; whiskers are 95% confidence intervals."""
    presets = summary.presets
    with mpl.rc_context(STYLE):
        height = 1.9 + 0.42 * len(presets)
        figure = Figure(figsize=(11.0, height), layout="constrained")
        FigureCanvasAgg(figure)
        left, right = figure.subplots(1, 2, sharey=True)
        labels = [p + " (baseline)" if i == 0 else p for i, p in enumerate(presets)]
        _bars(left, summary, FRICTION, "#1f77b4")
        _bars(right, summary, USERS_FORCED, "#ff7f0e", scale=100.0, suffix="%")
        left.set_yticks(np.arange(len(presets)), labels)
        left.invert_yaxis()
        left.set_xlabel("forced re-authentications per user per month")
        left.set_title("Forced re-authentications")
        right.set_xlabel("users with a forced re-authentication in a 30-day month (%)")
        right.xaxis.set_major_formatter(PercentFormatter(100.0, decimals=0))
        right.set_title("Users affected")
        right.tick_params(axis="y", left=False)
        subtitle = "each preset's defaults on the same simulated users; bars: mean, whiskers: 95% CI"
        lines = [*textwrap.wrap(title(summary), 120), subtitle]
        figure.suptitle("\n".join(lines), fontsize=10, x=0.01, ha="left")
    return figure


def tradeoff_figure(summary: ComparisonSummary) -> Figure:
    """Friction against exposure, one labelled point per preset with 95% whiskers, the Pareto front drawn."""
    import pandas as pd

    frame = pd.DataFrame([row.model_dump() for row in summary.tradeoff]).astype(
        {"friction": float, "friction_low": float, "friction_high": float, "exposure_days": float,
         "exposure_low": float, "exposure_high": float}
    )
    return pareto_front(
        frame,
        title=f"Friction against token exposure per preset ({summary.scenario})",
        xlabel=exposure_label(list(frame["exposure_source"])),
        ylabel="forced re-authentications per user per month",
        label="preset",
        point_name="preset",
    )


def comparison_markdown(summary: ComparisonSummary, heading: str = "##") -> str:
    """A report section: what was compared, a table with 95% intervals, the paired differences, the charts."""
    baseline = summary.baseline
    lines = [
        f"{heading} Comparing vendor presets",
        "",
        f"Scenario `{summary.scenario}`: {summary.users:,} users over {summary.horizon_days:g} days "
        f"(the first {summary.warmup_days:g} excluded), {summary.replications} replication(s), seed "
        f"{summary.seed}. Each preset runs with its vendor's defaults on the same simulated users "
        "(common random numbers); the scenario's own policy is not used. Figures are means with 95% "
        f"confidence intervals; differences are paired by replication against `{baseline}`.",
        "",
    ]
    if summary.description:
        lines += [md_prose(summary.description), ""]
    lines += [
        "![Forced re-authentications and users affected per preset](comparison.svg)",
        "",
        "| preset | " + " | ".join(text for _, text in COLUMNS) + " |",
        "| --- |" + " ---: |" * len(COLUMNS),
    ]
    for preset in summary.presets:
        cells = []
        for metric, _ in COLUMNS:
            row = summary.row(preset, metric)
            cells.append("n/a" if row is None else metric_text(metric, _estimate(row)))
        lines.append(f"| `{preset}` | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Paired differences against `{baseline}` (paired 95% interval; the unpaired Welch interval, what "
        "the same replications would give without common random numbers, for contrast):",
        "",
        "| preset | Δ forced re-auths / user / month | unpaired | Δ users forced / month | unpaired |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for preset in summary.presets[1:]:
        forced = summary.difference(preset, FRICTION)
        users = summary.difference(preset, USERS_FORCED)
        lines.append(
            f"| `{preset}` | {_paired(forced)} | {_unpaired(forced)} | {_paired(users, True)} | "
            f"{_unpaired(users, True)} |"
        )
    lines += _tradeoff_markdown(summary, heading + "#")
    lines += ["", "Policies as resolved:", ""]
    for preset, policy in summary.policies.items():
        fields = ", ".join(f"{k} {_plain(v)}" for k, v in policy.items() if k != "preset")
        lines.append(f"- `{preset}`: {md_escape(fields)}")
    return "\n".join(lines) + "\n"


def _estimate(row: Any) -> dict[str, Any]:
    return {"mean": row.mean, "ci95": (row.ci_low, row.ci_high)}


def _paired(row: Any, share: bool = False) -> str:
    if row is None:
        return "n/a"
    return difference_with_ci(row.mean_diff, row.ci_low, row.ci_high, share)


def _unpaired(row: Any, share: bool = False) -> str:
    if row is None or row.unpaired_ci_low is None or row.unpaired_ci_high is None:
        return "n/a"
    text = difference_with_ci(row.mean_diff, row.unpaired_ci_low, row.unpaired_ci_high, share)
    return text[text.find("(") + 1:-1] if "(" in text else text


def _tradeoff_markdown(summary: ComparisonSummary, heading: str) -> list[str]:
    """The friction-versus-exposure chart, what its exposure axis measures, a table and the Pareto front."""
    rows = summary.tradeoff
    if not rows:
        return []
    sources = [row.exposure_source for row in rows]
    lines = [
        "",
        f"{heading} Friction against exposure",
        "",
        "![Forced re-authentications against token exposure per preset](tradeoff.svg)",
        "",
        f"Exposure is {exposure_words(sources)}. Pareto-optimal presets (no other preset has both less "
        f"friction and less exposure): {', '.join(f'`{name}`' for name in summary.pareto_front)}.",
        "",
        "| preset | exposure (days) | forced re-auths / user / month | Pareto |",
        "| --- | ---: | ---: | --- |",
    ]
    for row in rows:
        exposure = with_ci({"mean": row.exposure_days, "ci95": (row.exposure_low, row.exposure_high)})
        friction = with_ci({"mean": row.friction, "ci95": (row.friction_low, row.friction_high)})
        lines.append(f"| `{row.preset}` | {exposure} | {friction} | {'yes' if row.pareto else ''} |")
    return lines


def _plain(value: Any) -> str:
    """A policy value in words: `1h`, or a random one as `uniform(low 1h, high 90m)`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (kind, params), = value.items()
        if isinstance(params, dict):
            return f"{kind}({', '.join(f'{k} {_plain(v)}' for k, v in params.items())})"
    return json.dumps(value, separators=(",", ":"))

