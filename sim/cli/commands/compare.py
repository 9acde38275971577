"""`tokensim compare SCENARIO --presets a,b,c --out DIR`: one population under several vendors' defaults."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.cli.options import add_output_options, add_scenario_overrides, load_with_overrides, scenario_path

HELP = (
    "run a scenario's population under several vendor presets' defaults (the scenario's own policy is "
    "ignored) on common random numbers and compare them"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tokensim compare`."""
    scenario_path(parser, "scenario YAML file (its population, horizon and seed)")
    parser.add_argument(
        "--presets", required=True, metavar="A,B,...",
        help="comma-separated presets; the first is the baseline (`--presets list` lists them)",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    add_scenario_overrides(parser)
    add_output_options(parser)


def run(args: argparse.Namespace) -> int:
    """Implement `tokensim compare`."""
    from sim import api
    from sim.cli.progress import make_progress
    from sim.cli.show import comparison_table, output_console

    if args.presets.strip() == "list":
        from sim.policy.presets import PRESETS

        for name, preset in PRESETS.items():
            print(f"{name}: {preset.description}")
        return 0
    scenario = load_with_overrides(args)
    comparison = api.compare(scenario, args.presets, out=args.out, fmt=args.format, force=args.force,
                             workers=args.workers, scheduler=args.scheduler, allow_large=args.allow_large,
                             worker_timeout=args.worker_timeout, progress=make_progress(args.quiet),
                             report=args.report)
    if not args.quiet:
        console = output_console()
        comparison_table(comparison.summary, console, comparison.seconds, args.out)
        if args.report:
            console.print(f"wrote {args.out / 'report.html'}", style="dim")
    return 0
