"""`tokensim sweep SCENARIO --out DIR`: every cell of a scenario's sweep on common random numbers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.cli.options import (
    add_output_options,
    add_precision_options,
    add_scenario_overrides,
    load_with_overrides,
    precision_target,
    scenario_path,
)

HELP = "run every cell of a scenario's sweep on common random numbers and compare the cells"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tokensim sweep`."""
    scenario_path(parser, "scenario YAML file with a sweep: section")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    add_scenario_overrides(parser)
    add_output_options(parser)
    add_precision_options(parser)
    parser.add_argument(
        "--resume", action="store_true", help="finish an interrupted sweep: run only the missing cells"
    )


def run(args: argparse.Namespace) -> int:
    """Implement `tokensim sweep`."""
    from sim import api
    from sim.cli.progress import make_progress
    from sim.cli.show import output_console, sweep_table
    from sim.run.executors import ShardFailure

    scenario = load_with_overrides(args)
    try:
        result = api.sweep(scenario, args.out, resume=args.resume, force=args.force, fmt=args.format,
                           workers=args.workers, scheduler=args.scheduler, allow_large=args.allow_large,
                           worker_timeout=args.worker_timeout, progress=make_progress(args.quiet),
                           report=args.report, precision=precision_target(args))
    except (KeyboardInterrupt, ShardFailure):
        print(f"tokensim: finished cells are saved in {args.out}/cells: run the same command with --resume "
              "to finish", file=sys.stderr)
        raise
    if not args.quiet:
        console = output_console()
        sweep_table(result.summary, console, result.seconds, args.out, len(result.reused))
        if args.report:
            console.print(f"wrote {args.out / 'report.html'}", style="dim")
    return 0
