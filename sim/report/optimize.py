"""The report of an optimisation (`tokensim optimize`) and of an exploration (`tokensim explore`).

Optimize: the plain-words answer first, the evidence table (objective and every requirement with its
one-sided 95% bound, for the winner and the runners-up of the selection stage), how the search and the
selection went, then the figures: convergence, the objective against each decision variable, the Pareto
front (two objectives) and the regret of the robust choice (with `uncertain:`). Explore: the answer, the
PRIM box of each requirement as rules, a table of the points and a figure of where requirements fail.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator

from sim import __version__
from sim.analysis.optimization import CandidateSummary, ExploreSummary, OptimizeSummary
from sim.report.numbers import formatter, num
from sim.report.optimize_words import check_cell, requirement_value
from sim.report.plots import COLORS, _figure, _legend_below, _style
from sim.report.render import md_escape
from sim.report.run import figure_lines
from sim.scenario.optimize import Variable, parse_objective
from sim.scenario.paths import short_names, value_text

Figures = dict[str, tuple[str, Callable[[], Figure], str]]
FEASIBLE, INFEASIBLE, WINNER = COLORS[0], "#b0b0b0", COLORS[3]
UNDECIDED = "#9ecae1"
#: How a candidate's requirements were decided (by one-sided 95% bounds): status, colour, legend text.
CLASSES = (("fails", INFEASIBLE, "fails a requirement"),
           ("undecided", UNDECIDED, "not shown either way (few replications)"),
           ("holds", FEASIBLE, "shown to meet every requirement"))
#: Round values of days for the ticks of a logarithmic day axis.
DAY_TICKS = (0.25, 0.5, 1, 2, 3, 5, 7, 10, 14, 20, 30, 45, 60, 90, 180, 365, 730)


def _number(spec: dict[str, Any], value: Any) -> float | None:
    """A variable's value as a number for an axis (days for durations, position for choices)."""
    variable = Variable.model_validate(spec)
    if variable.choices is not None:
        texts = [value_text(c) for c in variable.choices]
        return float(texts.index(value_text(value))) if value_text(value) in texts else None
    number = variable.number(value)
    return number / 86400.0 if variable.kind == "duration" else number


def _status(c: CandidateSummary) -> str:
    """holds when every requirement is shown to hold, fails when one is shown to fail, else undecided."""
    statuses = {k.status for k in c.constraints}
    if not statuses or statuses == {"holds"}:
        return "holds"
    return "fails" if "fails" in statuses else "undecided"


def _candidates_frame(summary: OptimizeSummary) -> pd.DataFrame:
    rows = []
    for c in summary.candidates:
        if not c.valid or c.objective is None:
            continue
        status = _status(c)
        rows.append({"id": c.id, "trial": c.trial, "objective": c.objective, "objective2": c.objective2,
                     "status": status, "meets": status == "holds", "winner": c.id == summary.recommended,
                     "pareto": c.pareto,
                     **{p: _number(spec, c.values[p]) for p, spec in summary.variables.items()}})
    return pd.DataFrame(rows)


def _objective_scale(ax: Axes, values: pd.Series) -> None:
    """A logarithmic objective axis when the values span more than a factor of ten (a few bad candidates
    would otherwise squeeze the good ones against the bottom), with plain tick labels."""
    positive = values[values > 0]
    if len(positive) == len(values) and len(values) > 1 and positive.max() > 10 * positive.min():
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(_two_and_five))


def _two_and_five(value: float, _: object = None) -> str:
    """Minor tick labels of a log axis: only 2 and 5 times a power of ten (2, 5, 20, 50...)."""
    if value <= 0:
        return ""
    mantissa = value / 10 ** math.floor(math.log10(value))
    return f"{value:g}" if round(mantissa, 6) in (2.0, 5.0) else ""


def _day_axis(ax: Axes, values: pd.Series) -> None:
    """A logarithmic axis of days with round, plainly written ticks (2, 5, 10, 30 rather than 2 x 10^0)."""
    ax.set_xscale("log")
    low, high = float(values.min()), float(values.max())
    ticks = [d for d in DAY_TICKS if low / 1.3 <= d <= high * 1.3]
    if len(ticks) >= 2:
        ax.set_xticks(ticks, [f"{d:g}" for d in ticks])
        ax.xaxis.set_minor_locator(NullLocator())


def _scatter_classes(ax: Axes, frame: pd.DataFrame, x: str) -> None:
    """The candidates by how their requirements were decided, and the recommended one as a star."""
    for status, color, text in CLASSES:
        part = frame[frame["status"] == status]
        if not part.empty:
            ax.scatter(part[x], part["objective"], color=color, s=24, label=text, zorder=3,
                       edgecolors="white", linewidths=0.4)
    win = frame[frame["winner"]]
    if not win.empty:
        ax.scatter(win[x], win["objective"], marker="*", s=200, color=WINNER, label="recommended", zorder=4,
                   edgecolors="white", linewidths=0.6)


def optimize_figures(summary: OptimizeSummary) -> Figures:
    """Each figure of an optimize report: name -> (heading, builder, caption)."""
    frame = _candidates_frame(summary)
    metric = summary.objectives[0]
    names = short_names(list(summary.variables))
    robust = "" if summary.uncertain is None else (
        " (worst design point)" if summary.robust == "worst"
        else f" ({summary.robust:g} quantile over the design)")
    better = min if summary.sense == "minimize" else max
    ylabel = metric + ("\n" + robust.strip() if robust else "")

    def convergence() -> Figure:
        with _style():
            figure, ax = _figure()
            ordered = frame.sort_values("trial").assign(trial=lambda f: f["trial"] + 1)
            _scatter_classes(ax, ordered, "trial")
            best, line = None, []
            for row in ordered.itertuples():
                if row.meets:
                    best = row.objective if best is None else better(best, row.objective)
                line.append(best)
            ax.step(ordered["trial"], [np.nan if v is None else v for v in line], where="post", color="black",
                    lw=1.2, label="best shown to meet every requirement so far")
            _objective_scale(ax, ordered["objective"])
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("trial of the search")
            ax.set_ylabel(ylabel)
            ax.set_title(f"Search convergence ({summary.scenario})")
            _legend_below(ax, None)
            return figure

    def against(path: str) -> Callable[[], Figure]:
        def build() -> Figure:
            with _style():
                figure, ax = _figure(7.0, 4.0)
                _scatter_classes(ax, frame, path)
                spec = Variable.model_validate(summary.variables[path])
                if spec.choices is not None:
                    ax.set_xticks(range(len(spec.choices)), [value_text(c) for c in spec.choices])
                elif spec.scaled_log and spec.kind == "duration":
                    _day_axis(ax, frame[path])
                elif spec.scaled_log:
                    ax.set_xscale("log")
                _objective_scale(ax, frame["objective"])
                unit = " (days)" if spec.kind == "duration" else ""
                if spec.kind == "integer":
                    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
                ax.set_xlabel(names[path] + unit)
                ax.set_ylabel(ylabel)
                ax.set_title(f"{metric} against {names[path]}")
                _legend_below(ax, None)
                return figure
        return build

    figures: Figures = {}
    if not frame.empty:
        figures["convergence"] = (
            "Search convergence", convergence,
            f"{metric}{robust} of every candidate the optimiser ({summary.sampler}) proposed, in the order "
            "proposed (means over its replications). Colour: how its requirements were decided by one-sided "
            "95% bounds (light blue: neither shown to hold nor to fail with the search's few replications); "
            "the line is the best candidate shown to meet every requirement so far; the star is the "
            "recommendation after the selection stage.")
        for path in summary.variables:
            figures[f"objective_{names[path].replace('.', '_')}"] = (
                f"{metric} against {names[path]}", against(path),
                f"Each candidate's {metric}{robust} against its value of `{path}` (means over its "
                "replications; colours as in the convergence figure).")
    if len(summary.objectives) == 2 and not frame.empty:
        figures["pareto"] = ("Pareto front of the two objectives", lambda: _pareto(summary, frame), (
            f"Every candidate: {summary.objectives[0]} against {summary.objectives[1]} (means); red: the "
            "Pareto front of those whose means meet every requirement (no other such candidate is better in "
            "both)."))
    if summary.regret:
        figures["regret"] = ("Regret of the robust choice", lambda: _regret(summary), (
            "At each point of the uncertainty design: how much worse the recommended (robust) candidate's "
            f"{metric} is than the best candidate of the selection stage that meets every requirement at "
            "that point (0: it is the best there too); the dashed line is the indifference zone, the "
            "smallest difference worth telling apart."))
    return figures


def _pareto(summary: OptimizeSummary, frame: pd.DataFrame) -> Figure:
    with _style():
        figure, ax = _figure()
        ax.scatter(frame["objective"], frame["objective2"], color=INFEASIBLE, s=22, label="candidates")
        front = frame[frame["pareto"]].sort_values("objective")
        ax.plot(front["objective"], front["objective2"], "o-", color=WINNER, label="Pareto front")
        ax.set_xlabel(summary.objectives[0])
        ax.set_ylabel(summary.objectives[1])
        ax.set_title(f"Pareto front ({summary.scenario})")
        ax.legend(loc="best")
        return figure


def _regret(summary: OptimizeSummary) -> Figure:
    """Bars of the regret at each design point, against the indifference zone (the smallest difference
    worth telling apart)."""
    with _style():
        figure, ax = _figure(7.0, 3.8)
        points = [r.design_point + 1 for r in summary.regret]
        values = [np.nan if r.regret is None else r.regret for r in summary.regret]
        ax.bar(points, values, color=COLORS[1], width=0.6)
        zone = summary.selection.indifference
        ax.axhline(zone, color="0.35", ls="--", lw=1)
        ax.text(0.01, zone, f" indifference zone ({num(zone)})", transform=ax.get_yaxis_transform(),
                ha="left", va="bottom", color="0.3", fontsize=8)
        for x, value in zip(points, values, strict=True):
            text = "no feasible candidate" if np.isnan(value) else num(value)
            ax.text(x, 0 if np.isnan(value) else max(value, 0), text, ha="center", va="bottom", fontsize=8)
        finite = [v for v in values if not np.isnan(v)]
        ax.set_ylim(min(0.0, *finite) if finite else 0.0, 1.6 * max([zone, *finite]))
        ax.set_xlabel("point of the uncertainty design")
        ax.set_ylabel(f"regret\n({summary.objectives[0]})", fontsize=8)
        ax.set_title("Regret of the robust choice at each design point")
        ax.set_xticks(points)
        return figure


def _evidence(summary: OptimizeSummary) -> list[str]:
    """The evidence table: the winner and the runners-up of the selection stage."""
    metric = summary.objectives[0]
    fmt = formatter(parse_objective(metric)[0])
    chosen = [summary.candidate(i) for i in summary.selection.systems]
    chosen.sort(key=lambda c: (c.id != summary.recommended, not c.feasible))
    names = short_names(list(summary.variables))
    head = ["candidate", *[f"`{md_escape(names[p])}`" for p in summary.variables], f"{metric} (95% CI)",
            *[f"`{t}`" for t in summary.subject_to], "replications", "outcome"]
    lines = ["| " + " | ".join(head) + " |", "| --- " * len(head) + "|"]
    for c in chosen:
        win = c.id == summary.recommended
        cells = [f"**{c.id}**" if win else c.id,
                 *[_bold(md_escape(value_text(c.values[p])), win) for p in summary.variables],
                 f"{fmt(c.objective)} ({fmt(c.objective_ci95[0])}–{fmt(c.objective_ci95[1])})"]
        for check in c.constraints:
            cells.append(check_cell(check, point=summary.uncertain is not None))
        cells.append(str(c.replications))
        cells.append(_outcome(summary, c))
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _bold(text: str, bold: bool) -> str:
    return f"**{text}**" if bold else text


def _compact(summary: OptimizeSummary, candidate_id: str) -> str:
    """A candidate as `k013 (15d, 7d, 9, 60s)`: its id and its values in the order of the variables."""
    c = summary.candidate(candidate_id)
    return f"{c.id} ({', '.join(md_escape(value_text(c.values[p])) for p in summary.variables)})"


def _outcome(summary: OptimizeSummary, c: CandidateSummary) -> str:
    if c.id == summary.recommended:
        return "recommended"
    if not c.feasible:
        return "not shown to meet the requirements"
    if c.eliminated_at is not None:
        return f"eliminated by KN after {c.eliminated_at} replications"
    return "survived (cap reached)"


def _selection_line(summary: OptimizeSummary) -> str:
    """Step 3 of "How it was chosen": KN's constants, or why there was nothing to select."""
    selection = summary.selection
    if len(selection.feasible) <= 1:
        what = ("only one candidate was shown feasible, so there was nothing to select between"
                if selection.feasible else "no candidate was shown feasible, so there was nothing to select")
        return (f"3. **Selection**: {selection.procedure}, indifference zone {num(selection.indifference)}: "
                f"{what}.")
    return (f"3. **Selection**: {selection.procedure} among {len(selection.feasible)} feasible candidates, "
            f"alpha = {selection.alpha:g}, indifference zone {num(selection.indifference)}, first stage "
            f"n0 = {selection.n0}, eta = {selection.eta:.4g}, h² = {selection.h2:.4g}"
            + ("; stopped at the replication cap (no guarantee between the survivors)" if selection.truncated
               else "") + ".")


def _every_candidate(summary: OptimizeSummary) -> list[str]:
    """Every candidate in the order the search proposed it: its objective and each requirement's estimate
    with its decision (at its worst design point)."""
    metric = summary.objectives[0]
    names = short_names(list(summary.variables))
    head = ["candidate", *[f"`{md_escape(names[p])}`" for p in summary.variables], "replications", metric,
            *[f"`{t}`" for t in summary.subject_to]]
    lines = ["## Every candidate", "",
             "In the order the search proposed them (the recommended one in bold); each requirement's "
             "estimate (at its worst design point) and how its one-sided 95% bound decided it.", "",
             "| " + " | ".join(head) + " |", "| --- " * len(head) + "|"]
    words = {"holds": "holds", "fails": "**fails**", "undecided": "undecided"}
    for c in sorted(summary.candidates, key=lambda c: c.trial):
        win = c.id == summary.recommended
        cells = [_bold(c.id, win), *[md_escape(value_text(c.values[p])) for p in summary.variables],
                 str(c.replications), num(c.objective)]
        if not c.valid:
            cells += ["invalid: " + md_escape(c.error or "")] + [""] * (len(summary.subject_to) - 1)
        else:
            for check in c.constraints:
                value = "no value" if check.missing else requirement_value(check.requirement, check.mean)
                cells.append(f"{value} ({words.get(check.status, check.status)})")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def optimize_markdown(summary: OptimizeSummary, figure_files: dict[str, str], figures: Figures) -> str:
    """report.md of an optimisation."""
    selection = summary.selection
    metric = summary.objectives[0]
    lines = [f"# tokensim optimize report: {md_escape(summary.scenario)}", ""]
    if summary.description:
        lines += [md_escape(summary.description), ""]
    lines += ["## The answer", "", "\n>\n".join(f"> {line}" for line in summary.answer), ""]
    lines += ["## Evidence", "",
              f"The candidates of the selection stage: {metric} ({summary.sense}) with its 95% interval over "
              "the replications" + (" (robust over the uncertainty design)" if summary.uncertain else "")
              + ", and each requirement's estimate with its one-sided 95% bound"
              + (" at the design point where it is closest to failing" if summary.uncertain else "")
              + ". A requirement holds when the bound is on the required side.", ""]
    lines += _evidence(summary)
    spent = summary.spent
    unit, limit = next(iter(summary.budget.items()))
    lines += [
        "## How it was chosen", "",
        f"1. **Search**: {summary.sampler.upper()} (optuna) proposed {summary.trials} trials, "
        f"{sum(1 for c in summary.candidates if c.valid)} distinct valid candidates, each run for "
        f"{summary.replications if summary.replications >= 2 else 2} replications with seed {summary.seed} "
        "(common random numbers: every candidate meets the same simulated users)"
        + (f" at each of the {len(summary.design)} points of a Latin hypercube over the uncertain values"
           if summary.uncertain else "")
        + f"; budget {num(limit)} {unit.replace('_', '-')}, spent {num(spent['search_' + unit])}.",
        f"2. **Feasibility**: each requirement of the best {len(selection.systems)} candidates decided by "
        "its one-sided 95% bound" + (" at every design point" if summary.uncertain else "")
        + "; undecided ones got more replications (up to "
        f"{summary.resolved_scenario['optimize']['max_replications']}). Feasible: {len(selection.feasible)}.",
        _selection_line(summary),
        f"Total simulated: {num(spent['user_years'])} user-years in {num(spent['runs'])} replications.", "",
    ]
    if summary.precision:
        p = summary.precision
        met = "every figure met the target" if p["met"] else "the target was not met at the cap"
        lines += [f"Precision mode ({p['target']}): the recommended candidate took {p['replications']} "
                  f"replications; {met}.", ""]
    if summary.uncertain:
        names = short_names(list(summary.uncertain["over"]))
        order = ", ".join(short_names(list(summary.variables)).values())
        lines += ["## The uncertainty design", "",
                  "The points every candidate was evaluated at; at each, the recommended candidate's "
                  f"{metric} and the best candidate of the selection stage that meets every requirement "
                  f"there (values in the order {md_escape(order)}).", "",
                  "| point | " + " | ".join(f"`{md_escape(names[p])}`" for p in summary.uncertain["over"])
                  + f" | recommended's {metric} | best there | regret |",
                  "| --- " * (len(names) + 4) + "|"]
        for row in summary.regret:
            values = " | ".join(md_escape(value_text(row.values[p])) for p in summary.uncertain["over"])
            best = _compact(summary, row.best) if row.best else "none feasible"
            lines.append(f"| {row.design_point + 1} | {values} | {num(row.chosen_objective)} | {best} | "
                         f"{num(row.regret)} |")
        lines.append("")
    lines += ["## Figures", ""]
    for name, (heading, _, caption) in figures.items():
        if name in figure_files:
            lines += figure_lines(heading, figure_files[name], caption)
    lines += _every_candidate(summary)
    lines += ["", "---", "", f"*Generated by tokensim {__version__} from the optimisation's summary.json and "
              "candidates.parquet; the recommended policy is in recommended.yaml.*", ""]
    return "\n".join(lines)


def explore_figures(summary: ExploreSummary, points: pd.DataFrame) -> Figures:
    """The figure of an exploration: where each requirement fails over the two most telling parameters."""
    figures: Figures = {}
    for index, req in enumerate(summary.requirements):
        figures[f"explore_{index + 1}"] = (
            f"Where `{req.requirement}` fails", _explore_plot(summary, points, index),
            "Each point of the design: red where the requirement does not hold with 95% confidence, blue "
            "where it holds; the box is PRIM's (the ranges where failures concentrate).")
    return figures


def _explore_plot(summary: ExploreSummary, points: pd.DataFrame, index: int) -> Callable[[], Figure]:
    req = summary.requirements[index]
    paths = list(summary.parameters)
    restricted = list(req.box.limits) if req.box else []
    axes = (restricted + [p for p in paths if p not in restricted])[:2]
    names = short_names(paths)

    def value(path: str, text: Any) -> float:
        spec = Variable.model_validate(summary.parameters[path])
        if spec.choices is not None:
            return float([value_text(c) for c in spec.choices].index(value_text(text)))
        number = float(text) if isinstance(text, int | float) else spec.number(text)
        return number / 86400.0 if spec.kind == "duration" else number

    def build() -> Figure:
        with _style():
            figure, ax = _figure(6.5, 4.5)
            fails = points[f"{req.requirement} :: status"] != "holds"
            xs = [value(axes[0], v) for v in points[axes[0]]]
            ys = [value(axes[1], v) for v in points[axes[1]]] if len(axes) > 1 else [0.0] * len(xs)
            for mask, color, text in ((~fails, FEASIBLE, "holds"), (fails, WINNER, "fails")):
                chosen = mask.to_numpy()
                ax.scatter(np.asarray(xs)[chosen], np.asarray(ys)[chosen], color=color, s=26, label=text,
                           zorder=3)
            if req.box is not None:
                limits = req.box.limits
                lo = [limits[a][0] if a in limits and not isinstance(limits[a][0], list) else None
                      for a in axes]
                hi = [limits[a][1] if a in limits and not isinstance(limits[a][1], list) else None
                      for a in axes]
                x0 = lo[0] if lo[0] is not None else min(xs)
                x1 = hi[0] if hi[0] is not None else max(xs)
                y0 = (lo[1] if len(axes) > 1 and lo[1] is not None else min(ys))
                y1 = (hi[1] if len(axes) > 1 and hi[1] is not None else max(ys))
                ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1.5, ls="--", color="black",
                                       label="PRIM box"))
            ax.set_xlabel(names[axes[0]])
            if len(axes) > 1:
                ax.set_ylabel(names[axes[1]])
            ax.set_title(f"Where {req.requirement} fails")
            ax.legend(loc="best")
            return figure
    return build


def explore_markdown(summary: ExploreSummary, points: pd.DataFrame, figure_files: dict[str, str],
                     figures: Figures) -> str:
    """report.md of an exploration."""
    lines = [f"# tokensim explore report: {md_escape(summary.scenario)}", "", "## The answer", ""]
    lines += [f"- {line}" for line in summary.answer] + [""]
    lines += ["## What was explored", "",
              f"The policy {md_escape(value_text(summary.policy))}"
              + (f" with {md_escape(value_text(summary.overrides))}" if summary.overrides else "")
              + f", at {len(summary.points)} points of a Latin hypercube over the uncertain values, each "
              f"with {summary.replications} replications (seed {summary.seed}). A requirement fails at a "
              "point when it does not hold with 95% confidence (one-sided bound). Boxes: "
              f"{summary.method}.", ""]
    for req in summary.requirements:
        lines += [f"### `{req.requirement}`", "",
                  f"Fails at {req.failures} of {req.points} points."]
        if req.box is not None:
            lines += [f"PRIM box: {md_escape(' and '.join(req.rules))}: coverage "
                      f"{formatter(share=True)(req.box.coverage)}, density "
                      f"{formatter(share=True)(req.box.density)},"
                      f" {req.box.points} points inside.", ""]
        lines.append("")
    lines += ["## Figures", ""]
    for name, (heading, _, caption) in figures.items():
        if name in figure_files:
            lines += figure_lines(heading, figure_files[name], caption)
    lines += ["---", "", f"*Generated by tokensim {__version__}; every point is in points.parquet.*", ""]
    return "\n".join(lines)
