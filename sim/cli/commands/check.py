"""`tokensim check SCENARIO --require "METRIC < X" ...`: do the results meet requirements with 95% confidence?

Exit status: 0 every requirement holds, 1 at least one does not (each failure is printed with its
estimate and interval), 2 bad input (an unknown metric or persona, with "did you mean").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.cli.options import add_scenario_overrides, load_with_overrides, scenario_path

HELP = "check that a scenario's results meet requirements with 95% confidence (exit 0 yes, 1 no)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tokensim check`."""
    scenario_path(parser)
    parser.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="'METRIC[PERSONA] OP NUMBER'",
        help="a requirement, e.g. 'forced_reauth_per_user_month < 0.5' (repeatable; OP is <, <=, > or >=); "
        "added to the scenario's requirements:",
    )
    parser.add_argument(
        "--out", type=Path, help="read the results from this folder if it holds them, else write them here"
    )
    add_scenario_overrides(parser)
    parser.add_argument("--force", action="store_true", help="replace the results in --out if they differ")
    parser.add_argument("--quiet", action="store_true", help="print only failures and errors")


def run(args: argparse.Namespace) -> int:
    """Implement `tokensim check`: 0 when every requirement holds, 1 when one fails, 2 on bad input."""
    from sim import api
    from sim.cli.progress import make_progress
    from sim.cli.show import check_report, output_console

    scenario = load_with_overrides(args)
    result = api.check(scenario, args.require, out=args.out, force=args.force, workers=args.workers,
                       scheduler=args.scheduler, allow_large=args.allow_large,
                       worker_timeout=args.worker_timeout, progress=make_progress(args.quiet))
    if result.source == "read" and not args.quiet:
        print(f"reading results from {args.out}/summary.json", file=sys.stderr)
    failures = check_report(result, output_console(args.quiet))
    for line in failures:
        print(line)
    if failures:
        print(f"{len(failures)} requirement check(s) failed", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"all {len(result.requirements)} requirement(s) hold with 95% confidence")
    return 0
