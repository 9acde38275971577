"""The report of a sweep: the main metric over the swept values, and the friction/exposure trade-off."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from sim import __version__
from sim.analysis.summary import SweepSummary
from sim.analysis.tradeoff import FRICTION, exposure_label, exposure_words
from sim.analysis.verdicts import Verdict
from sim.core.metric_names import ALL
from sim.report import plots, tables
from sim.report.numbers import difference_with_ci, metric_text, num, pct, with_ci
from sim.report.render import md_code, md_escape, md_prose
from sim.report.run import Figures, figure_lines, scenario_tables, verdict_estimate
from sim.scenario.paths import short_names

FRICTION_LABEL = "forced re-authentications per user per month"


def _layout(summary: SweepSummary, frame: pd.DataFrame) -> tuple[str, str | None, bool]:
    """(x column, group column or None, heatmap?) for the main-metric figure."""
    swept = list(summary.swept)
    sweep = summary.resolved_scenario.get("sweep") or {}
    is_grid = "grid" in sweep or (not sweep and len(swept) <= 2)
    if is_grid and len(swept) == 1:
        return swept[0], None, False
    if is_grid and len(swept) == 2:
        a, b = swept
        x, group = (a, b) if frame[a].nunique() >= frame[b].nunique() else (b, a)
        return x, group, frame[x].nunique() > 1 and frame[group].nunique() > 1
    return "label", None, False


def _metric_by_cell(summary: SweepSummary, cells: pd.DataFrame, persona: str) -> pd.DataFrame:
    values = tables.sweep_metric_frame(summary, FRICTION, persona)
    merged = cells.drop(columns=["label"]).merge(values, on="cell")
    merged["persona"] = "everyone" if persona == ALL else persona
    return merged


def sweep_figures(summary: SweepSummary) -> Figures:
    """Each figure of a sweep report: name -> (heading, builder, caption)."""
    name = summary.scenario
    cells = tables.sweep_frame(summary)
    x, group, heatmap = _layout(summary, cells)
    personas = list(summary.cells[0].by_persona) if summary.cells else []
    overall = _metric_by_cell(summary, cells, ALL)
    sources = list(cells["exposure_source"]) if not cells.empty else []

    def main() -> Figure:
        if group is None and len(personas) > 1:  # one line per persona besides everyone
            frame = pd.concat([overall] + [_metric_by_cell(summary, cells, p) for p in personas])
            return plots.metric_over_values(frame, x, FRICTION_LABEL, f"Forced re-authentications ({name})",
                                            group="persona", xlabel=_axis(x), connect=x != "label")
        return plots.metric_over_values(overall, x, FRICTION_LABEL, f"Forced re-authentications ({name})",
                                        group=group, xlabel=_axis(x), connect=x != "label")

    def differences() -> Figure:
        baseline = summary.cell(summary.baseline).label
        return plots.paired_differences(tables.difference_frame(summary), baseline,
                                        f"difference in {FRICTION_LABEL}",
                                        f"Differences from the baseline ({name})")

    def grid() -> Figure:
        assert group is not None
        return plots.metric_heatmap(overall, x, group, f"Forced re-authentications ({name})",
                                    "per user per month", xlabel=_axis(x), ylabel=_axis(group))

    def pareto() -> Figure:
        xlabel = exposure_label(sources)
        swept = summary.swept
        grid = "grid" in (summary.resolved_scenario.get("sweep") or {})
        note = f"points: {', '.join(short_names(swept).values())}" if grid and swept else None
        return plots.pareto_front(cells, title=f"Friction against token exposure ({name})", xlabel=xlabel,
                                  ylabel=FRICTION_LABEL, label="point", label_note=note)

    figures: Figures = {
        "sweep_friction": (
            "Forced re-authentications over the swept values", main,
            "Forced re-authentications per user per month in each cell: mean over replications, band: "
            "95% confidence interval. Every cell simulates the same users with the same random numbers "
            "(common random numbers), so differences between cells are due to the policy, not to chance "
            "users.",
        ),
    }
    if len(summary.cells) > 1:
        figures["sweep_differences"] = (
            "Differences from the baseline", differences,
            "Each cell's forced re-authentications per user per month minus the baseline's. Dark: the paired "
            "95% interval (replication by replication: every cell simulates the same users with the same "
            "random numbers); light: the unpaired (Welch) interval of the same replications, what the "
            "comparison would give without common random numbers. A dark bar clear of the dashed line is a "
            "real difference even where the cells' own intervals overlap.",
        )
    if heatmap:
        figures["sweep_heatmap"] = (
            "The same as a grid", grid,
            "Forced re-authentications per user per month for every combination of the two swept "
            "values: mean and 95% confidence interval in each cell; darker is less friction.",
        )
    words = exposure_words(sources)
    figures["pareto"] = (
        "Trade-off between friction and exposure", pareto,
        f"Each cell as a point: forced re-authentications per user per month (95% CI) against "
        f"{words}. Red: Pareto-optimal cells, for which no other cell has both less friction and "
        "less exposure; the choice is among these.",
    )
    return figures


def _axis(column: str) -> str:
    return "cell" if column == "label" else column


def sweep_headline(summary: SweepSummary, frame: pd.DataFrame | None = None) -> list[str]:
    """The headline sentences of a sweep report (`frame`: the summary's `tables.sweep_frame`, if at hand)."""
    frame = frame if frame is not None else tables.sweep_frame(summary)
    if frame.empty:
        return ["No cell of the sweep could run."]
    blocks = {c.cell: c.metrics for c in summary.cells}
    best = frame.loc[frame["friction"].idxmin()]
    worst = frame.loc[frame["friction"].idxmax()]

    def describe(row: pd.Series) -> str:
        m = blocks[row["cell"]]
        return (f"**{md_escape(row['label'])}**: {with_ci(m[FRICTION])} forced re-authentications per "
                f"user per month, {with_ci(m['users_with_forced_reauth_share_monthly'], pct)} of users "
                "forced in a month")

    swept = ", ".join(f"`{p}`" for p in summary.swept) or "the cases"
    sentences = [
        f"{len(frame)} cells over {swept}, each {summary.replications} replications on common random "
        f"numbers (seed {summary.seed}).",
        f"Least friction: {describe(best)}.",
        f"Most friction: {describe(worst)}.",
    ]
    differences = summary.cell(best["cell"]).difference_from_baseline or {}
    diff = differences.get(FRICTION)
    if diff is not None and diff.mean is not None:
        baseline = summary.cell(summary.baseline).label
        sentences.append(
            f"Against the baseline ({md_escape(baseline)}), the least-friction cell changes forced "
            f"re-authentications by {difference_with_ci(diff.mean, diff.low, diff.high)} per user per month "
            "(paired over replications on common random numbers)."
        )
    front = frame[frame["pareto"]].sort_values("exposure_days")
    names = "; ".join(f"**{md_escape(r.label)}** ({num(r.exposure_days)} days, {num(r.friction)} per user "
                      "per month)" for r in front.itertuples())
    sentences.append(
        f"Pareto-optimal cells (no other cell has both less friction and less exposure): {names}."
    )
    return sentences


def sweep_markdown(
    summary: SweepSummary,
    figure_files: dict[str, str],
    figures: Figures | None = None,
    requirements: dict[str, list[Verdict]] | None = None,
) -> str:
    """report.md of a sweep; `figure_files` maps figure names to their PNG paths relative to the report.

    `figures` is `sweep_figures(summary)` when the caller already has it (built again otherwise).
    """
    frame = tables.sweep_frame(summary)
    lines = [f"# tokensim sweep report: {md_escape(summary.scenario)}", ""]
    if summary.description:
        lines += [md_prose(summary.description), ""]
    lines += sweep_requirements(summary, requirements)
    lines += ["## Headline figures", ""] + [f"- {s}" for s in sweep_headline(summary, frame)] + [""]
    lines += [
        "Every figure is the mean over the replications of the measured window (after the warm-up), with "
        "its 95% confidence interval in brackets. A month is 30 days.",
        "",
        "## What was simulated",
        "",
        "| setting | value |",
        "| --- | --- |",
        f"| scenario | {md_escape(summary.scenario)} |",
        f"| swept | {', '.join(f'`{p}`' for p in summary.swept)} |",
        f"| cells | {len(summary.cells)} run" + (f", {len(summary.skipped)} skipped |"
                                                  if summary.skipped else " |"),
        f"| horizon | {summary.horizon_days:g} days (warm-up {summary.warmup_days:g}) |",
        f"| replications | {summary.replications} per cell |",
        f"| seed | {summary.seed} (the same in every cell) |",
        "",
        "Each cell is the base scenario below with only the swept values overridden.",
        "",
    ]
    if summary.resolved_scenario:
        lines += scenario_tables(summary.resolved_scenario)
    lines += _cells_table(summary, frame)
    for skipped in summary.skipped:
        lines += [f"- skipped **{md_escape(skipped.label)}**: {md_escape(skipped.error or '')}"]
    lines += ["## Figures", ""]
    figures = figures if figures is not None else sweep_figures(summary)
    for name, (heading, _, caption) in figures.items():
        if name in figure_files:
            lines += figure_lines(heading, figure_files[name], caption)
    lines += ["---", "", f"*Generated by tokensim {__version__} from the sweep's summary.json. The figures "
              "are also in `figures/` as PNG and SVG.*", ""]
    return "\n".join(lines)


def _cells_table(summary: SweepSummary, frame: pd.DataFrame) -> list[str]:
    columns = [
        (FRICTION, "forced re-auths / user / month"),
        ("users_with_forced_reauth_share_monthly", "users forced in a month"),
        ("evictions_per_user_month", "evictions / user / month"),
        ("active_chains_per_user", "valid chains / user"),
    ]
    header = ("| cell | " + " | ".join(label for _, label in columns)
              + " | Δ forced re-auths vs baseline (paired) | exposure (days) | Pareto |")
    lines = ["### Cells", "", header, "| --- " * (len(columns) + 4) + "|"]
    pareto = dict(zip(frame["cell"], frame["pareto"], strict=True))
    exposure = dict(zip(frame["cell"], frame["exposure_days"], strict=True))
    for cell in summary.cells:
        values = [metric_text(m, cell.metrics[m]) if m in cell.metrics else "" for m, _ in columns]
        diff = (cell.difference_from_baseline or {}).get(FRICTION)
        paired = "baseline" if diff is None else difference_with_ci(diff.mean, diff.low, diff.high)
        mark = "yes" if pareto.get(cell.cell) else ""
        base = " (baseline)" if cell.cell == summary.baseline else ""
        lines.append(f"| {md_escape(cell.label)}{base} | " + " | ".join(values)
                     + f" | {paired} | {num(exposure.get(cell.cell))} | {mark} |")
    lines += ["", "The paired difference subtracts the baseline replication by replication: every cell "
              "simulates the same users with the same random numbers, so the difference is much more "
              "precise than the two cells' own intervals suggest (the figure below shows both)."]
    return [*lines, ""]


def sweep_requirements(summary: SweepSummary, verdicts: dict[str, list[Verdict]] | None) -> list[str]:
    """A pass/fail section for the scenario's requirements in every cell (nothing without requirements)."""
    if not verdicts:
        return []
    texts = [v.requirement.text for v in next(iter(verdicts.values()))]
    failing = [cell for cell, found in verdicts.items() if not all(v.holds for v in found)]
    first = (f"**{len(failing)} of {len(verdicts)} cells fail a requirement**" if failing
             else f"**Every requirement holds in all {len(verdicts)} cells** with 95% confidence")
    lines = ["## Requirements", "", first + ".", "",
             "| cell | " + " | ".join(md_code(t) for t in texts) + " |",
             "| --- " * (len(texts) + 1) + "|"]
    for cell in summary.cells:
        found = verdicts.get(cell.cell, [])
        marks = [("ok " if v.holds else "**FAIL** ") + verdict_estimate(v) for v in found]
        lines.append(f"| {md_escape(cell.label)} | " + " | ".join(marks) + " |")
    return [*lines, ""]
