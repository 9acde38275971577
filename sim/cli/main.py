"""The `tokensim` command line (also `python -m sim`).

Exit status: 0 success, 1 a requirement failed (for `check`), 2 bad input (a message naming the file,
line and field; never a traceback), 3 a sweep stopped because a worker failed (resume it), 130
interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from sim import __version__
from sim.core.validation import ConfigError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """A bad command line or output directory: reported with exit status 2."""


#: Subcommands, each a module of sim.cli.commands with HELP, add_arguments(parser) and run(args) -> int.
COMMANDS: dict[str, str] = {
    "run": "sim.cli.commands.run",
    "validate": "sim.cli.commands.validate",
    "schema": "sim.cli.commands.schema",
    "demo": "sim.cli.commands.demo",
    "report": "sim.cli.commands.report",
    "sweep": "sim.cli.commands.sweep",
    "check": "sim.cli.commands.check",
    "compare": "sim.cli.commands.compare",
    "verify": "sim.cli.commands.verify",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokensim",
        description="Simulate OAuth 2.0 / OIDC refresh-token policies against user behaviour.",
    )
    parser.add_argument("--version", action="version", version=f"tokensim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = commands.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)
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
    return int(args.handler(args))
