"""`tokensim report DIR`: report.md, a self-contained report.html and figures/ of a results folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.report import ReportPaths

HELP = "write report.md, a self-contained report.html and figures (SVG, PNG) for a run, sweep or comparison"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tokensim report`."""
    parser.add_argument("directory", type=Path, help="output folder of `tokensim run`, `sweep` or `compare`")
    parser.add_argument("--out", type=Path, help="write the report here (default: into DIRECTORY)")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


def run(args: argparse.Namespace) -> int:
    """Implement `tokensim report` (a folder without complete results is bad input, exit 2)."""
    from sim import api

    paths = api.report(args.directory) if args.out is None else _elsewhere(args.directory, args.out)
    if not args.quiet:
        figures = paths.html.parent / "figures"
        print(f"wrote {paths.markdown}, {paths.html} and {len(paths.figures)} figures in {figures}")
    return 0


def _elsewhere(directory: Path, out: Path) -> ReportPaths:
    from sim.report import build_report

    return build_report(directory, out)
