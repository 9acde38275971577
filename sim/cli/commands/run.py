"""`tokensim run SCENARIO --out DIR`: run a scenario and write its tables, summary and (optionally) report."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.cli.options import (
    add_output_options,
    add_precision_options,
    add_scenario_overrides,
    load_with_overrides,
    precision_target,
    scenario_path,
)
from sim.ingest import FORMATS

HELP = "run a scenario and write its tables and summary"
#: The log formats `--events` writes (those `tokensim ingest` reads).
EVENT_FORMATS = FORMATS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tokensim run`."""
    scenario_path(parser)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    add_scenario_overrides(parser)
    add_output_options(parser)
    parser.add_argument(
        "--events", metavar="FORMAT", choices=EVENT_FORMATS,
        help=f"also write every token event as this vendor's log ({', '.join(EVENT_FORMATS)})",
    )
    add_precision_options(parser)


def run(args: argparse.Namespace) -> int:
    """Implement `tokensim run`."""
    from sim import api
    from sim.cli.progress import make_progress
    from sim.cli.show import output_console, run_summary

    scenario = load_with_overrides(args)
    outcome = api.run_to(scenario, args.out, fmt=args.format, force=args.force, workers=args.workers,
                         scheduler=args.scheduler, allow_large=args.allow_large,
                         worker_timeout=args.worker_timeout, progress=make_progress(args.quiet),
                         report=args.report, events=args.events, precision=precision_target(args))
    if not args.quiet:
        console = output_console()
        run_summary(outcome.summary, console, outcome.seconds, args.out)
        if outcome.precision is not None:
            done = outcome.precision
            state = "every headline metric met it" if done.met else (
                "not met at the cap for " + ", ".join(w.metric for w in done.unmet))
            console.print(f"precision {done.target.text()}: {done.replications} replications; {state}")
        if args.report:
            console.print(f"wrote {args.out / 'report.html'}", style="dim")
    return 0
