"""The `tokensim` command line (also `python -m sim`): parse the arguments, call one function of `sim.api`,
print its result, and turn the library's exceptions into exit statuses (never a traceback for bad input).

Exit status (the README's table): 0 success (for `check`: every requirement holds); 1 a requirement
does not hold; 2 bad input (a scenario, option, requirement or output folder that cannot be used, the
message naming the file, line and field); 3 the run stopped because a worker process or the Dask cluster
failed (finished sweep cells are kept: resume); 4 the results could not be written (disk full,
permissions): the output folder keeps its earlier results; 130 interrupted (Ctrl-C); 143 terminated
(SIGTERM).

Importing this module loads no pandas, scipy, matplotlib or dask: `--help` and `--version` start fast.
Each subcommand is a module of `sim.cli.commands` with HELP, `add_arguments(parser)` and `run(args)`,
which imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Any

from sim import __version__
from sim.core.stop import Terminated, clear_stop, request_stop

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_RUN_FAILED = 3
EXIT_IO = 4
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

#: Subcommands, each a module of sim.cli.commands, in the order `--help` lists them.
COMMANDS: dict[str, str] = {
    "run": "sim.cli.commands.run",
    "sweep": "sim.cli.commands.sweep",
    "compare": "sim.cli.commands.compare",
    "optimize": "sim.cli.commands.optimize",
    "explore": "sim.cli.commands.explore",
    "fit": "sim.cli.commands.fit",
    "check": "sim.cli.commands.check",
    "report": "sim.cli.commands.report",
    "validate": "sim.cli.commands.validate",
    "schema": "sim.cli.commands.schema",
    "demo": "sim.cli.commands.demo",
    "ingest": "sim.cli.commands.ingest",
    "verify": "sim.cli.commands.verify",
    "probe": "sim.cli.commands.probe",
}


class UsageError(Exception):
    """A bad command line: reported with exit status 2."""


def _literal(text: str) -> str:
    """Help text with `%` kept literal (argparse %-formats every help string, but a description only when
    it holds `%(prog)`, so a description is passed as it is)."""
    return text.replace("%", "%%")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokensim",
        description="Simulate OAuth 2.0 / OIDC refresh-token policies against user behaviour.",
    )
    parser.add_argument("--version", action="version", version=f"tokensim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = commands.add_parser(name, help=_literal(module.HELP), description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)
    return parser


_main_pid = 0


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    if os.getpid() != _main_pid:  # a worker forked before it set its own handler: end as SIGTERM would
        os._exit(128 + signum)
    request_stop()  # remembered: the exception is lost when the handler runs inside an at-fork hook
    raise Terminated()


def _unraisable(unraisable: Any) -> None:
    """Python's hook for exceptions it cannot raise, silent for a `Terminated` (recorded, raised later)."""
    if not isinstance(unraisable.exc_value, Terminated):
        sys.__unraisablehook__(unraisable)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    global _main_pid
    _main_pid = os.getpid()
    clear_stop()
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    previous_hook, sys.unraisablehook = sys.unraisablehook, _unraisable
    try:
        return _dispatch(args)
    except Terminated:
        print("tokensim: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("tokensim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
        sys.unraisablehook = previous_hook
        clear_stop()


def _dispatch(args: argparse.Namespace) -> int:
    # Library exceptions are imported here, not at the top: their modules load the heavy libraries.
    from sim.analysis.summary import UnknownMetricError
    from sim.core.resultset import OutputError
    from sim.core.validation import ConfigError
    from sim.run.executors import SchedulerError, ShardFailure

    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_BAD_INPUT
    except (UsageError, OutputError, SchedulerError, UnknownMetricError) as exc:
        print(f"tokensim: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ShardFailure as exc:
        print(f"tokensim: the run stopped: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"tokensim: cannot write the results{where}: {exc.strerror or exc}; the output folder keeps "
              "its earlier results", file=sys.stderr)
        return EXIT_IO
