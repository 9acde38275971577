"""Command-line options shared by the commands that run a scenario (run, sweep, check, compare)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.scenario import Scenario, load_scenario


def add_scenario_overrides(parser: argparse.ArgumentParser, workers_help: str | None = None) -> None:
    """`--replications`, `--seed`, `--users-scale` and `--workers`."""
    parser.add_argument("--replications", type=int, help="override the scenario's replications")
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.add_argument("--users-scale", type=float, help="multiply every persona's users by this factor")
    parser.add_argument(
        "--workers", type=int, help=workers_help or "worker processes (default: number of cores)"
    )


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """`--format`, `--force` and `--quiet`."""
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="table format")
    parser.add_argument("--force", action="store_true", help="overwrite a non-empty output directory")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


def load_with_overrides(args: argparse.Namespace) -> Scenario:
    """The scenario file with the command line's overrides applied (UsageError / ConfigError when bad)."""
    from sim.cli.main import UsageError

    scenario = load_scenario(args.scenario)
    if args.replications is not None and args.replications < 1:
        raise UsageError(f"--replications must be at least 1, got {args.replications}")
    if args.users_scale is not None and not args.users_scale > 0:
        raise UsageError(f"--users-scale must be positive, got {args.users_scale}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    return scenario.with_overrides(
        replications=args.replications, seed=args.seed, users_scale=args.users_scale
    )


def check_out_dir(out: Path, force: bool) -> None:
    """Refuse a file, or a non-empty directory without --force (nothing already there is lost)."""
    from sim.cli.main import UsageError

    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UsageError(f"--out {out} is not empty; use --force to overwrite its files")
