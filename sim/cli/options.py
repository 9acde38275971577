"""Command-line options shared by the commands that run a scenario (run, sweep, compare, check)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.experiments.precision import PrecisionTarget
    from sim.scenario.model import Scenario


def add_scenario_overrides(parser: argparse.ArgumentParser) -> None:
    """`--replications`, `--seed`, `--users-scale`, `--workers` and `--scheduler`."""
    parser.add_argument("--replications", type=int, help="override the scenario's replications")
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.add_argument("--users-scale", type=float, help="multiply every persona's users by this factor")
    parser.add_argument(
        "--workers", type=int,
        help="local worker processes (default: the number of cores; with --scheduler: the cluster's threads, "
        "used only to size the shards); results do not depend on it",
    )
    parser.add_argument(
        "--scheduler", metavar="tcp://HOST:PORT", help="run the shards on this Dask distributed scheduler"
    )
    parser.add_argument(
        "--worker-timeout", metavar="DURATION", type=_duration, default=60.0,
        help="with --scheduler: stop (exit 3) when the cluster has had no worker this long (default 60s)",
    )
    parser.add_argument(
        "--allow-large", action="store_true",
        help="run even when the estimated work is beyond tokensim's limits (see `tokensim validate`)",
    )


def add_output_options(parser: argparse.ArgumentParser, tables: bool = True) -> None:
    """`--format`, `--force`, `--quiet` and `--report`."""
    if tables:
        parser.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="table format")
    parser.add_argument(
        "--force", action="store_true",
        help="replace the results tokensim wrote in --out before (files it did not write are kept)",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument(
        "--report", action="store_true", help="also write report.md, report.html and figures/ (as `report`)"
    )


def _duration(text: str) -> float:
    from sim.core.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def load_with_overrides(args: argparse.Namespace) -> Scenario:
    """The scenario file with the command line's overrides applied (ConfigError when bad)."""
    from sim.cli.main import UsageError
    from sim.scenario.loader import load_scenario

    if args.replications is not None and args.replications < 1:
        raise UsageError(f"--replications must be at least 1, got {args.replications}")
    if args.users_scale is not None and not args.users_scale > 0:
        raise UsageError(f"--users-scale must be a number greater than 0, got {args.users_scale}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    scenario = load_scenario(args.scenario)
    return scenario.with_overrides(
        replications=args.replications, seed=args.seed, users_scale=args.users_scale
    )


def scenario_path(parser: argparse.ArgumentParser, text: str = "scenario YAML file") -> None:
    """The positional SCENARIO argument."""
    parser.add_argument("scenario", type=Path, help=text)


def add_precision_options(parser: argparse.ArgumentParser) -> None:
    """`--precision`, `--precision-absolute` and `--max-replications`."""
    parser.add_argument(
        "--precision", metavar="PERCENT",
        help="add replications until every headline metric's 95%% half-width is within PERCENT of its mean "
        "(e.g. 2%%), or within --precision-absolute for metrics near zero",
    )
    parser.add_argument("--precision-absolute", type=float, metavar="X",
                        help="a half-width that is always precise enough (default 0.01)")
    parser.add_argument("--max-replications", type=int, metavar="N",
                        help="the most replications precision mode may take (default 100)")


def precision_target(args: argparse.Namespace) -> PrecisionTarget | None:
    """The PrecisionTarget of the command line (None without --precision); ConfigError when malformed."""
    if args.precision is None:
        if args.precision_absolute is not None or args.max_replications is not None:
            from sim.cli.main import UsageError

            raise UsageError("--precision-absolute and --max-replications need --precision")
        return None
    from sim.experiments.precision import PrecisionTarget

    return PrecisionTarget.parse(args.precision, args.precision_absolute, args.max_replications)
