"""`tokensim validate SCENARIO...`: check scenario files and every cell of their sweeps, without running."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "check scenario files, and every cell of their sweeps, without running them"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tokensim validate`."""
    parser.add_argument("scenario", type=Path, nargs="+", help="scenario YAML file(s)")


def run(args: argparse.Namespace) -> int:
    """Check every file; the first bad one raises ConfigError (exit 2). Skipped cells are warned about."""
    import sys

    from sim.experiments.estimate import TooLargeError, check_limits
    from sim.experiments.validate import validate

    for path in args.scenario:
        result = validate(path)
        scenario = result.scenario
        cells = ""
        if result.cells:
            runnable = len(result.cells) - len(result.skipped)
            cells = f", {runnable} of {len(result.cells)} sweep cells can run"
        personas = len(scenario.population)
        print(f"{path}: ok ({scenario.name}: {personas} persona(s), {result.users:,} users{cells})")
        if result.work is not None:
            print(f"{path}: {result.work.describe()}")
            try:
                check_limits(result.work, source=str(path))
            except TooLargeError as exc:
                print(f"{path}: warning: beyond tokensim's limits, a run needs --allow-large:\n"
                      + exc.render(), file=sys.stderr)
        for cell in result.skipped:
            print(f"{path}: warning: cell {cell.cell.id} ({cell.cell.label}) will be skipped: {cell.error}",
                  file=sys.stderr)
    return 0
