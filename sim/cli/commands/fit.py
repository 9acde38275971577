"""`tokensim fit TRACE --personas K --out scenario.yaml`: personas fitted to a recorded trace."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = (
    "fit personas to a trace (as `tokensim ingest` writes it): write a scenario and a fit report with "
    "every distribution against the data"
)


def _personas(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1 or auto, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1 or auto, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tokensim fit`."""
    parser.add_argument("trace", type=Path, help="the trace's sessions file (trace.parquet)")
    parser.add_argument("--out", type=Path, required=True, help="the scenario YAML file to write")
    parser.add_argument(
        "--personas", type=_personas, default=1, metavar="K|auto",
        help="how many personas (default 1); auto: chosen by the silhouette of the clusters",
    )
    parser.add_argument(
        "--policy", metavar="PRESET|FILE",
        help="the policy the log was produced under: a preset or a YAML file (a policy mapping, or a "
        "scenario whose policy is used); default: the generic policy with the trace's access-token lifetime",
    )
    parser.add_argument(
        "--report-dir", type=Path,
        help="folder of the fit report (default: beside --out, named after it with -fit)",
    )
    parser.add_argument(
        "--replications", type=int, default=5,
        help="replications of the simulations compared with the trace's token events (default 5)",
    )
    parser.add_argument("--no-compare", action="store_true",
                        help="do not simulate the fitted scenario and the replayed trace for the report")
    parser.add_argument("--seed", type=int, default=0, help="seed of the clustering and the bootstraps")
    parser.add_argument("--workers", type=int, help="local worker processes for the simulations")
    parser.add_argument("--force", action="store_true",
                        help="replace the scenario file and the report that tokensim wrote before")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


def run(args: argparse.Namespace) -> int:
    """Implement `tokensim fit`."""
    from sim import api
    from sim.cli.main import UsageError
    from sim.cli.progress import make_progress
    from sim.cli.show import fit_summary, output_console

    if args.replications < 2 and not args.no_compare:
        raise UsageError(f"--replications must be at least 2 (for intervals), got {args.replications}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    if args.seed < 0:
        raise UsageError(f"--seed must be at least 0, got {args.seed}")
    outcome = api.fit(
        args.trace, args.out, personas=args.personas, policy=args.policy, report_dir=args.report_dir,
        compare=not args.no_compare, replications=args.replications, seed=args.seed, workers=args.workers,
        force=args.force, progress=make_progress(args.quiet),
    )
    if not args.quiet:
        fit_summary(outcome, output_console())
    return 0
