"""`tokensim report DIR`: write report.md, a self-contained report.html and figures/ for a run or a sweep."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.report import ReportPaths

HELP = "write report.md, a self-contained report.html and figures (PNG, SVG) for a run or sweep directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tokensim report`."""
    parser.add_argument("directory", type=Path, help="output directory of `tokensim run` or `tokensim sweep`")
    parser.add_argument("--out", type=Path, help="write the report here (default: into DIRECTORY)")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


def run(args: argparse.Namespace) -> int:
    """Implement `tokensim report` (a directory without summary.json or tables is a UsageError, exit 2)."""
    paths = write_report(args.directory, args.out)
    if not args.quiet:
        figures = paths.html.parent / "figures"
        print(f"wrote {paths.markdown}, {paths.html} and {len(paths.figures)} figures in {figures}")
    return 0


def write_report(directory: Path, out: Path | None = None) -> ReportPaths:
    """Build the report; bad input is raised as the CLI's UsageError (exit status 2, no traceback)."""
    from sim.cli.main import UsageError
    from sim.report import ReportInputError, build_report

    if not Path(directory).is_dir():
        raise UsageError(f"{directory} is not a directory")
    try:
        return build_report(directory, out)
    except ReportInputError as exc:
        raise UsageError(str(exc)) from None
