"""Reports: `report.md`, a self-contained `report.html` and `figures/*.png|svg` for a run or a sweep.

`build_report(directory)` reads what `tokensim run` or `tokensim sweep` wrote into `directory`
(summary.json and the tables, Parquet or CSV), draws the figures with `sim.report.plots` from tidy tables
(`sim.report.tables`), writes the headline sentences from summary.json's numbers (`sim.report.text`)
and writes every file atomically (`sim.core.output`). The HTML embeds its figures as base64 PNG and its
stylesheet inline: it opens offline and references nothing outside itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.figure import Figure

from sim.core.output import write_text_atomic
from sim.report.data import ReportInputError, RunFiles, is_sweep, read_summary
from sim.report.plots import save_figure
from sim.report.render import markdown_to_html

__all__ = ["ReportInputError", "ReportPaths", "build_report"]


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


def build_report(directory: str | Path, out: str | Path | None = None) -> ReportPaths:
    """Write the report of the run or sweep in `directory` into `out` (default: the same directory).

    Raises ReportInputError when `directory` holds no summary.json or misses a table the report needs.
    """
    from sim.report.run import run_figures, run_markdown
    from sim.report.sweep import sweep_figures, sweep_markdown

    directory = Path(directory)
    target = Path(out) if out is not None else directory
    summary = read_summary(directory)
    if is_sweep(summary):
        figures = sweep_figures(summary)
        relative = {name: f"figures/{name}.png" for name in figures}
        text = sweep_markdown(summary, relative, figures)
        title = f"tokensim sweep report: {summary['scenario']}"
    else:
        files = RunFiles.read(directory)
        figures = run_figures(files)
        relative = {name: f"figures/{name}.png" for name in figures}
        text = run_markdown(files, relative, figures)
        title = f"tokensim report: {summary['scenario']}"

    written = _draw(figures, target / "figures")
    html = markdown_to_html(text, title, {relative[name]: paths["png"] for name, paths in written.items()})
    write_text_atomic(target / "report.md", text)
    write_text_atomic(target / "report.html", html)
    return ReportPaths(target / "report.md", target / "report.html", written)


def _draw(
    figures: dict[str, tuple[str, Callable[[], Figure], str]], directory: Path
) -> dict[str, dict[str, Path]]:
    written = {}
    for name, (_, build, _) in figures.items():
        figure = build()
        written[name] = save_figure(figure, directory, name)
    return written
