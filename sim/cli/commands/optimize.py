"""`tokensim optimize SCENARIO --out DIR`: choose the values of the scenario's `optimize:` section."""

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

HELP = ("choose the values of a scenario's optimize: section: search (optuna), then select the best that "
        "meets every requirement with 95% confidence (Kim-Nelson), and write recommended.yaml and a report")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tokensim optimize`."""
    scenario_path(parser, "scenario YAML file with an optimize: section")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    add_scenario_overrides(parser)
    add_output_options(parser, tables=False)
    add_precision_options(parser)
    parser.add_argument("--resume", action="store_true",
                        help="finish an interrupted optimisation: saved evaluations are reused")


def run(args: argparse.Namespace) -> int:
    """Implement `tokensim optimize`: exit 0 with a recommendation, 1 when no candidate meets every
    requirement."""
    from sim import api
    from sim.cli.progress import make_progress
    from sim.cli.show import output_console
    from sim.run.executors import ShardFailure

    scenario = load_with_overrides(args)
    try:
        result = api.optimize(scenario, args.out, resume=args.resume, force=args.force, workers=args.workers,
                              scheduler=args.scheduler, worker_timeout=args.worker_timeout,
                              progress=make_progress(args.quiet), precision=precision_target(args),
                              report=args.report, allow_large=args.allow_large)
    except (KeyboardInterrupt, ShardFailure):
        print(f"tokensim: finished evaluations are saved in {args.out}/evaluations: run the same command "
              "with --resume to finish", file=sys.stderr)
        raise
    if not args.quiet:
        console = output_console()
        for line in result.summary.answer:
            console.print(line.replace("**", ""), highlight=False)
        note = f", {result.reused} evaluations reused" if result.reused else ""
        console.print(f"{result.ran} evaluations in {result.seconds:.1f} s{note}; wrote {args.out}",
                      style="dim")
    return 0 if result.summary.recommended is not None else 1
