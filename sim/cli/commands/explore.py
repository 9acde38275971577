"""`tokensim explore SCENARIO --out DIR`: where does the policy fail its requirements over `uncertain:`?"""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.cli.options import add_output_options, add_scenario_overrides, load_with_overrides, scenario_path

HELP = ("find where a policy fails its requirements over the scenario's uncertain: ranges (Latin hypercube, "
        "PRIM boxes), with a figure")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tokensim explore`."""
    scenario_path(parser, "scenario YAML file with an uncertain: section")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--recommended", type=Path, metavar="FILE",
                        help="explore the values of this recommended.yaml (written by tokensim optimize)")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                        help="a value to explore, e.g. policy.sliding_lifetime=9d (repeatable)")
    parser.add_argument("--require", action="append", default=[], metavar="REQUIREMENT",
                        help="a requirement to explore besides the scenario's (repeatable)")
    parser.add_argument("--points", type=int, help="points of the Latin hypercube (default 32)")
    add_scenario_overrides(parser)
    add_output_options(parser, tables=False)
    parser.add_argument("--resume", action="store_true", help="finish an interrupted exploration")


def _values(args: argparse.Namespace) -> dict[str, object]:
    import yaml

    from sim.cli.main import UsageError

    values: dict[str, object] = {}
    if args.recommended is not None:
        try:
            data = yaml.safe_load(args.recommended.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise UsageError(f"--recommended {args.recommended}: cannot read it ({exc})") from None
        if not isinstance(data, dict) or not isinstance(data.get("values"), dict):
            raise UsageError(f"--recommended {args.recommended}: not a recommended.yaml of tokensim optimize "
                             "(no values: mapping)")
        values.update(data["values"])
    for item in args.set:
        path, sep, text = item.partition("=")
        if not sep or not path.strip():
            raise UsageError(f"--set {item!r}: write PATH=VALUE, e.g. policy.sliding_lifetime=9d")
        values[path.strip()] = yaml.safe_load(text)
    return values


def run(args: argparse.Namespace) -> int:
    """Implement `tokensim explore`."""
    from sim import api
    from sim.cli.progress import make_progress
    from sim.cli.show import output_console

    scenario = load_with_overrides(args)
    result = api.explore(scenario, args.out, values=_values(args), require=args.require, points=args.points,
                         resume=args.resume, force=args.force, workers=args.workers, scheduler=args.scheduler,
                         worker_timeout=args.worker_timeout, progress=make_progress(args.quiet),
                         report=args.report, allow_large=args.allow_large)
    if not args.quiet:
        console = output_console()
        for line in result.summary.answer:
            console.print(line.replace("**", "").replace("`", ""), highlight=False)
        console.print(f"wrote {args.out} in {result.seconds:.1f} s", style="dim")
    return 0
