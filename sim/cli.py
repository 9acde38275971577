"""The `tokensim` command line (also `python -m sim`).

Exit status: 0 success, 1 a requirement failed (for `check`), 2 bad input (a message naming the file,
line and field; never a traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from sim import __version__
from sim.validation import ConfigError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """A bad command line or output directory: reported with exit status 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokensim",
        description="Simulate OAuth 2.0 / OIDC refresh-token policies against user behaviour.",
    )
    parser.add_argument("--version", action="version", version=f"tokensim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run a scenario and write its tables and summary")
    run.add_argument("scenario", type=Path, help="scenario YAML file")
    run.add_argument("--out", type=Path, required=True, help="output directory")
    run.add_argument("--replications", type=int, help="override the scenario's replications")
    run.add_argument("--seed", type=int, help="override the scenario's seed")
    run.add_argument("--users-scale", type=float, help="multiply every persona's users by this factor")
    run.add_argument("--workers", type=int, help="worker processes (default: number of cores)")
    run.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="table format")
    run.add_argument("--force", action="store_true", help="overwrite a non-empty output directory")
    run.add_argument("--quiet", action="store_true", help="print nothing but errors")

    validate = commands.add_parser("validate", help="check a scenario file without running it")
    validate.add_argument("scenario", type=Path, nargs="+", help="scenario YAML file(s)")

    schema = commands.add_parser("schema", help="print the JSON Schema of scenario files")
    schema.add_argument("--out", type=Path, help="write to this file instead of standard output")

    commands.add_parser("demo", help="a small built-in walk through the policy engine")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_BAD_INPUT
    except UsageError as exc:
        print(f"tokensim: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("tokensim: interrupted", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "validate":
        from sim.scenario import load_scenario

        for path in args.scenario:
            scenario = load_scenario(path)
            print(f"{path}: ok ({scenario.name}, {len(scenario.population)} persona(s))")
        return EXIT_OK
    if args.command == "schema":
        from sim.output import write_text_atomic
        from sim.scenario import scenario_json_schema

        text = json.dumps(scenario_json_schema(), indent=2) + "\n"
        if args.out:
            write_text_atomic(args.out, text)
        else:
            sys.stdout.write(text)
        return EXIT_OK
    if args.command == "run":
        from sim.commands.run import run_command

        return run_command(args)
    if args.command == "demo":
        from sim.demo import run_demo

        run_demo()
        return EXIT_OK
    raise AssertionError(args.command)
