"""The report of one run: what was simulated, the headline figures in plain words, and five figures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from matplotlib.figure import Figure

from sim import __version__
from sim.analysis.summary import RunSummary
from sim.analysis.verdicts import Verdict
from sim.core.metric_names import ALL, METRIC_UNITS
from sim.report import plots, tables
from sim.report.data import RunFiles
from sim.report.numbers import SAME_EVERYWHERE, formatter, metric_text, zero_width
from sim.report.render import md_code, md_escape, md_prose
from sim.report.text import (
    dist_text,
    persona_sentences,
    run_headline,
    storage_sentences,
    theft_sentences,
)

PERSONA_SECTIONS = ("activity", "absences", "clients", "faults", "lifecycle")
DWELL_NOTE = (
    "The dwell is the time from a theft to the moment the attacker last holds a working access token. "
    "Its mean and 95th percentile are Kaplan-Meier estimates: thefts still active at the end of the "
    "simulation count as censored, not as ended, and the mean is restricted to the longest observed "
    "dwell (a lower bound when the longest thefts are still active)."
)
#: Figures shown in their own section rather than under "Figures": figure name -> section heading.
SECTION_FIGURES = {"dwell": "Stolen tokens", "storage": "Access after a revocation and token storage"}
#: The figures of a report: name -> (heading, builder, caption).
Figures = dict[str, tuple[str, Callable[[], Figure], str]]


def run_figures(files: RunFiles) -> Figures:
    """Each figure of a run report: name -> (heading, builder, caption). Builders read the run's tables."""
    summary = files.summary
    name = summary.scenario
    warmup, horizon = summary.warmup_seconds, summary.horizon_seconds
    users = summary.users_by_persona
    personas = list(users)
    metrics = tables.metric_frame(summary)
    policy = summary.policy
    cap = summary.cap

    def survival() -> Figure:
        km = tables.survival_table(files.chains, warmup, horizon)
        return plots.survival_curves(km, title=f"How long refresh-token chains last ({name})")

    def causes() -> Figure:
        frame = tables.cause_frame(metrics, [ALL, *personas])
        return plots.reauth_causes(frame, title=f"Why users are forced to log in again ({name})")

    def active() -> Figure:
        frame = tables.active_over_time(files.timeseries, users)
        return plots.active_chains_over_time(frame, summary.warmup_days,
                                             title=f"Valid refresh-token chains per user ({name})")

    def per_user() -> Figure:
        counts = tables.active_per_user_counts(files.chains, users, summary.replications, warmup, horizon)
        return plots.chains_per_user(counts, cap, policy.get("on_cap"),
                                     title=f"Valid chains per user against the cap ({name})")

    def load() -> Figure:
        frame = tables.weekly_load(files.timeseries, warmup)
        return plots.weekly_load(frame, title=f"Token endpoint load over a typical week ({name})")

    def dwell() -> Figure:
        assert files.thefts is not None
        km = tables.dwell_table(files.thefts, warmup, personas)
        title = f"How long an attacker keeps access after a theft ({name})"
        return plots.dwell_curves(km, personas, title=title)

    def storage() -> Figure:
        frame = tables.storage_over_time(files.timeseries, personas)
        row_bytes = (summary.resolved_scenario.get("storage") or {}).get("row_bytes")
        return plots.stored_rows_over_time(frame, summary.warmup_days, row_bytes,
                                           title=f"Rows in the token store over time ({name})")

    window = f"days {summary.warmup_days:g} to {summary.horizon_days:g}"
    figures = {
        "survival": (
            "How long refresh-token chains last", survival,
            "Kaplan-Meier estimate of the share of chains (a login and all its rotations) still valid "
            f"by age, for chains started in the measured window ({window}), all replications pooled. "
            "Chains still valid at the end of the simulation are right-censored, not counted as ended. "
            "Shaded: pointwise 95% confidence band.",
        ),
        "reauth_causes": (
            "Why users are forced to log in again", causes,
            "Forced re-authentications (a refresh failed and the user had to log in again) per user per "
            "month, by the reason the refresh failed. Whiskers: 95% confidence interval over "
            "replications; the percentage is the cause's share of that persona's forced logins.",
        ),
        "active_chains": (
            "Valid chains over time", active,
            "Valid refresh-token chains per user, sampled daily at 12:00: mean over replications "
            "(band: lowest to highest replication). The grey area is the warm-up, excluded from every "
            "metric.",
        ),
        "chains_per_user": (
            "Chains per user against the cap", per_user,
            "How many valid chains each user holds, sampled every day at 12:00 in the measured window "
            "for every user and replication (users holding none count as 0). The dashed line is the "
            "policy's per-user cap: a login beyond it evicts a chain (or is refused).",
        ),
        "weekly_load": (
            "Token endpoint load over a typical week", load,
            "Requests per second at the token endpoint for each hour of the week (time zero is a "
            "Monday 00:00), averaged over every week of the measured window and every replication, at "
            "the scenario's population. Refresh requests include failed ones and retries. The "
            "busiest single minute is in the headline figures.",
        ),
    }
    if has_thefts(files):
        figures["dwell"] = (
            "How long an attacker keeps access after a theft", dwell,
            "Kaplan-Meier estimate of the share of attackers still holding a working access or refresh "
            f"token by time since the theft, for thefts in the measured window ({window}) of a device "
            "that held a token, all replications pooled. A theft still active at the end of the "
            "simulation is right-censored (its curve stays up), not counted as ended. Dots: medians; "
            "shaded: pointwise 95% confidence band; the time axis is logarithmic.",
        )
    if "stored_rows" in files.timeseries.columns:
        figures["storage"] = (
            "Rows in the token store over time", storage,
            "Rows in the token store (valid chains, consumed one-time tokens still retained for replay "
            "detection, rows awaiting the cleanup job) at the scenario's population, counted at the start "
            "of every hour and averaged over replications: the line is each day's mean, the band its "
            "lowest to highest hour. The right axis gives the table's size at the scenario's bytes per "
            "row. The grey area is the warm-up, excluded from every metric.",
        )
    return figures


def figure_lines(heading: str, path: str, caption: str) -> list[str]:
    """A figure in report.md: its heading, the image and the caption in italics."""
    return [f"### {heading}", "", f"![{heading}]({path})", "", f"*{caption}*", ""]


def has_thefts(files: RunFiles) -> bool:
    """True when the run has thefts that count (stolen in the measured window from a device with a token)."""
    from sim.analysis.theft_metrics import measured_thefts

    if files.thefts is None or files.thefts.empty:
        return False
    return not measured_thefts(files.thefts, files.summary.warmup_seconds).empty


def run_markdown(
    files: RunFiles,
    figure_files: dict[str, str],
    figures: Figures | None = None,
    requirements: list[Verdict] | None = None,
) -> str:
    """report.md of a run; `figure_files` maps figure names to their paths relative to the report.

    `figures` is `run_figures(files)` when the caller already has it (built again otherwise);
    `requirements`: the verdicts of the scenario's requirements, shown first.
    """
    summary = files.summary
    figures = figures if figures is not None else run_figures(files)
    lines = [f"# tokensim report: {md_escape(summary.scenario)}", ""]
    if summary.description:
        lines += [md_prose(summary.description), ""]
    lines += requirements_section(summary, requirements)
    lines += ["## Headline figures", ""]
    lines += [f"- {sentence}" for sentence in run_headline(summary)]
    lines += [""]
    per_persona = persona_sentences(summary)
    if per_persona:
        lines += ["By persona:", ""] + [f"- {s}" for s in per_persona] + [""]
    lines += [
        "Every figure covers the measured window (after the warm-up) and is the mean over "
        f"{summary.replications} independent replications, with its 95% confidence interval in "
        f"brackets (Student's t); `{SAME_EVERYWHERE}` marks a figure that every replication gave the same "
        "value, whose interval has no width: more replications or users may still vary. A month is 30 days.",
        "",
    ]
    lines += _simulated(summary)
    lines += ["## Figures", ""]
    for name, (heading, _, caption) in figures.items():
        if name in figure_files and name not in SECTION_FIGURES:
            lines += figure_lines(heading, figure_files[name], caption)
    thefts = theft_sentences(summary) if "dwell" in figures else []  # the figure exists iff has_thefts
    for name, sentences in (("dwell", thefts), ("storage", storage_sentences(summary))):
        if not sentences and name not in figure_files:
            continue
        lines += [f"## {SECTION_FIGURES[name]}", ""] + [f"- {s}" for s in sentences] + [""]
        if name == "dwell":
            lines += [DWELL_NOTE, ""]
        if name in figure_files:
            heading, _, caption = figures[name]
            lines += figure_lines(heading, figure_files[name], caption)
    lines += _metrics_table(summary)
    lines += [
        "---",
        "",
        f"*Generated by tokensim {__version__} (simulation by tokensim {summary.tool_version}) "
        "from summary.json and the run's tables. The figures are also in `figures/` as PNG and SVG.*",
        "",
    ]
    return "\n".join(lines)


def _simulated(summary: RunSummary) -> list[str]:
    scenario = summary.resolved_scenario
    lines = ["## What was simulated", ""]
    lines += ["| setting | value |", "| --- | --- |"]
    rows = [
        ("scenario", summary.scenario),
        ("users", f"{summary.users:,}"),
        ("horizon", f"{summary.horizon_days:g} days (the first {summary.warmup_days:g} are a warm-up "
                    "excluded from the figures)"),
        ("replications", f"{summary.replications} (independent runs; intervals are over these)"),
        ("seed", summary.seed),
        ("libraries", ", ".join(f"{k} {v}" for k, v in summary.library_versions.items())),
    ]
    lines += [f"| {key} | {md_escape(str(value))} |" for key, value in rows]
    return [*lines, "", *scenario_tables(scenario)]


def scenario_tables(scenario: dict[str, Any]) -> list[str]:
    """Markdown tables of a resolved scenario's policy and population (one column per persona)."""
    lines = ["### Policy", "", "| setting | value |", "| --- | --- |"]
    for key, value in scenario["policy"].items():
        if value is not None:
            lines.append(f"| `{key}` | {md_escape(dist_text(value))} |")
    lines += ["", "### Population", ""]
    personas = scenario["population"]
    lines.append("| setting | " + " | ".join(md_escape(p["name"]) for p in personas) + " |")
    lines.append("| --- " * (len(personas) + 1) + "|")
    keys: list[tuple[str, str | None]] = [("users", None), ("devices", None)]
    for section in PERSONA_SECTIONS:
        fields = dict.fromkeys(f for p in personas for f in p.get(section, {}))
        keys += [(section, f) for f in fields]
    for section, field in keys:
        name = section if field is None else f"{section}.{field}"
        values = []
        for persona in personas:
            value = persona.get(section) if field is None else persona.get(section, {}).get(field)
            values.append(md_escape(dist_text(value)) if value is not None else "")
        lines.append(f"| `{name}` | " + " | ".join(values) + " |")
    lines += ["", "Durations are written `90s`, `15m`, `1h`, `15d`, `1w`; rates are per day or per year "
              "as the field says (see docs/scenario.md).", ""]
    return lines


def _metrics_table(summary: RunSummary) -> list[str]:
    personas = list(summary.by_persona)
    several = len(personas) > 1
    header = "| metric | unit | everyone |" + "".join(f" {md_escape(p)} |" for p in personas if several)
    lines = ["## Every metric", "", "Mean and 95% confidence interval over replications.", "", header,
             "| --- " * (3 + (len(personas) if several else 0)) + "|"]
    for name, block in summary.metrics.items():
        if name.startswith("forced_reauth_per_user_month.") and not block.mean:
            continue  # causes that never occur
        blocks = [block, *(summary.by_persona[p].get(name) for p in personas)]
        if all(b is None or b.mean is None for b in blocks):
            continue  # no value anywhere, e.g. theft metrics of a scenario without threats
        cells = [metric_text(name, block)]
        if several:
            cells += [metric_text(name, summary.by_persona[p][name]) for p in personas]
        unit = block.unit or METRIC_UNITS.get(name, "")
        lines.append(f"| `{name}` | {unit} | " + " | ".join(cells) + " |")
    lines += ["", "Causes of forced re-authentication that never occurred, and metrics without a value "
              "(such as the theft metrics of a scenario that models no theft), are left out.", ""]
    return lines



def requirements_section(summary: RunSummary, verdicts: list[Verdict] | None) -> list[str]:
    """A pass/fail section for the scenario's requirements (nothing when it has none)."""
    if not verdicts:
        return []
    failed = [v for v in verdicts if not v.holds]
    verdict = (f"**{len(failed)} of {len(verdicts)} requirements fail**" if failed
               else f"**All {len(verdicts)} requirements hold** with 95% confidence")
    lines = ["## Requirements", "", verdict + " (a requirement holds when the metric's whole 95% interval "
             "is on the required side).", "", "| requirement | estimate (95% CI) | result |",
             "| --- | --- | --- |"]
    for v in verdicts:
        estimate = verdict_estimate(v)
        result = "holds" if v.holds else f"**fails**: {v.reason(formatter(v.requirement.metric))}"
        lines.append(f"| {md_code(v.requirement.text)} | {estimate} | {md_escape(result)} |")
    if any(zero_width({"mean": v.mean, "ci95": (v.low, v.high)}) for v in verdicts):
        lines += ["", f"`{SAME_EVERYWHERE}`: every replication gave the same value; the interval has no "
                  "width, which is not certainty."]
    return [*lines, ""]


def verdict_estimate(verdict: Verdict) -> str:
    """The estimate a verdict was made on, in its metric's number format."""
    if verdict.mean is None:
        return "n/a"
    estimate = {"mean": verdict.mean, "ci95": (verdict.low, verdict.high)}
    return metric_text(verdict.requirement.metric, estimate)
