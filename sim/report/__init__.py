"""Reports: `report.md`, a self-contained `report.html` and `figures/*.svg|png` for a run, a sweep or a
comparison of presets.

`build_report(directory)` reads what `tokensim run`, `sweep` or `compare` wrote into `directory` (its
typed summary and the tables, Parquet or CSV, only from a complete result set), draws the figures with
`sim.report.plots` from tidy tables (`sim.report.tables`), writes the headline sentences from the
summary's numbers (`sim.report.text`), checks the scenario's `requirements:` and puts their verdicts
first, and writes its files as one addition to the folder's result set (`sim.core.resultset`, group
`report`: a new report replaces the old one's files, a new run removes the old report). The HTML embeds
its figures as SVG and its stylesheet inline: it opens offline and references nothing outside itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.figure import Figure

from sim.analysis.optimization import ExploreSummary, OptimizeSummary
from sim.analysis.summary import ComparisonSummary, RunSummary, SweepSummary
from sim.analysis.verdicts import Verdict, evaluate
from sim.core.output import write_text_atomic
from sim.core.resultset import ResultSet
from sim.report.data import ReportInputError, RunFiles, read_summary
from sim.report.plots import save_figure
from sim.report.render import markdown_to_html
from sim.scenario.requirements import parse_requirements

__all__ = ["ReportInputError", "ReportPaths", "build_report", "requirement_verdicts"]


@dataclass(frozen=True)
class ReportPaths:
    """The files a report build wrote."""

    markdown: Path
    html: Path
    #: figure name -> {"png": path, "svg": path}
    figures: dict[str, dict[str, Path]] = field(default_factory=dict)

    def all(self) -> list[Path]:
        """Every file written."""
        return [self.markdown, self.html, *(p for pair in self.figures.values() for p in pair.values())]


def requirement_verdicts(summary: RunSummary | SweepSummary) -> list[Verdict] | dict[str, list[Verdict]]:
    """The verdicts of the scenario's `requirements:` on the summary (per cell for a sweep; empty when
    the scenario states none)."""
    texts = summary.resolved_scenario.get("requirements") or []
    if not texts:
        return []
    requirements = parse_requirements(texts, source="requirements")
    if isinstance(summary, SweepSummary):
        return {cell.cell: [evaluate(r, cell, summary.replications) for r in requirements]
                for cell in summary.cells}
    return [evaluate(r, summary, summary.replications) for r in requirements]


def build_report(
    directory: str | os.PathLike[str], out: str | os.PathLike[str] | None = None
) -> ReportPaths:
    """Write the report of the run, sweep or comparison in `directory` into `out` (default: the same).

    Raises ReportInputError when `directory` holds no complete results or misses a table the report needs.
    """
    from sim.report.compare import comparison_figure, comparison_markdown, tradeoff_figure
    from sim.report.run import run_figures, run_markdown
    from sim.report.sweep import sweep_figures, sweep_markdown

    directory = Path(directory)
    target = Path(out) if out is not None else directory
    summary = read_summary(directory)
    figures: dict[str, tuple[str, Callable[[], Figure], str]]
    if isinstance(summary, OptimizeSummary | ExploreSummary):
        import pandas as pd

        from sim.report.optimize import explore_figures, explore_markdown, optimize_figures, optimize_markdown

        if isinstance(summary, OptimizeSummary):
            figures = optimize_figures(summary)
            relative = {name: f"figures/{name}.svg" for name in figures}
            text = optimize_markdown(summary, relative, figures)
            title = f"tokensim optimize report: {summary.scenario}"
        else:
            points = pd.read_parquet(directory / "points.parquet")
            figures = explore_figures(summary, points)
            relative = {name: f"figures/{name}.svg" for name in figures}
            text = explore_markdown(summary, points, relative, figures)
            title = f"tokensim explore report: {summary.scenario}"
    elif isinstance(summary, ComparisonSummary):
        figures = {
            "comparison": ("", lambda: comparison_figure(summary), ""),
            "tradeoff": ("", lambda: tradeoff_figure(summary), ""),
        }
        relative = {name: f"figures/{name}.svg" for name in figures}
        text = f"# tokensim comparison report: {summary.scenario}\n\n" + comparison_markdown(summary)
        for name, path in relative.items():
            text = text.replace(f"]({name}.svg)", f"]({path})")
        title = f"tokensim comparison report: {summary.scenario}"
    elif isinstance(summary, SweepSummary):
        figures = sweep_figures(summary)
        relative = {name: f"figures/{name}.svg" for name in figures}
        verdicts = requirement_verdicts(summary)
        assert isinstance(verdicts, dict | list)
        text = sweep_markdown(summary, relative, figures, verdicts if isinstance(verdicts, dict) else None)
        title = f"tokensim sweep report: {summary.scenario}"
    else:
        files = RunFiles.read(directory)
        figures = run_figures(files)
        relative = {name: f"figures/{name}.svg" for name in figures}
        verdicts = requirement_verdicts(summary)
        text = run_markdown(files, relative, figures, verdicts if isinstance(verdicts, list) else None)
        title = f"tokensim report: {summary.scenario}"

    with ResultSet.open(target, summary_kind(summary), keep=True, group="report") as results:
        written = {name: save_figure(build(), results.staging / "figures", name)
                   for name, (_, build, _) in figures.items()}
        images = {relative[name]: paths["svg"] for name, paths in written.items()}
        html = markdown_to_html(text, title, images)
        write_text_atomic(results.path("report.md"), text)
        write_text_atomic(results.path("report.html"), html)
        results.commit()
    final = {name: {fmt: target / "figures" / path.name for fmt, path in paths.items()}
             for name, paths in written.items()}
    return ReportPaths(target / "report.md", target / "report.html", final)


def summary_kind(
    summary: RunSummary | SweepSummary | ComparisonSummary | OptimizeSummary | ExploreSummary,
) -> str:
    """`run`, `sweep`, `compare`, `optimize` or `explore`."""
    if isinstance(summary, OptimizeSummary | ExploreSummary):
        return summary.kind
    if isinstance(summary, ComparisonSummary):
        return "compare"
    return "sweep" if isinstance(summary, SweepSummary) else "run"
