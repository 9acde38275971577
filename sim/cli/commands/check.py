"""`tokensim check SCENARIO --require "METRIC < X" ...`: do the results meet requirements with 95% confidence?

The requirements are the scenario's `requirements:` plus every `--require`. The results come from
`--out DIR` when it already holds them for this very scenario (its summary.json records the resolved
scenario), otherwise the scenario is run (and written to DIR when given). For a scenario with a sweep,
every requirement must hold in every cell.

Exit status: 0 every requirement holds, 1 at least one does not (each failure is printed with its
estimate and interval), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sim.analysis.summary import build_summary
from sim.analysis.verdicts import Verdict, evaluate
from sim.cli.commands.options import load_with_overrides
from sim.cli.commands.sweep import (
    EXIT_RUN_FAILED,
    ShardFailure,
    add_run_options,
    guarded,
    make_reporter,
    open_executor,
    output_console,
    prepare_out,
    run_sweep,
)
from sim.experiments.run import write_run
from sim.run.runner import run_scenario
from sim.scenario import Scenario
from sim.scenario.requirements import Requirement, parse_requirements

HELP = "check that a scenario's results meet requirements with 95% confidence (exit 0 yes, 1 no)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tokensim check`."""
    parser.add_argument("scenario", type=Path, help="scenario YAML file")
    parser.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="'METRIC[PERSONA] OP NUMBER'",
        help="a requirement, e.g. 'forced_reauth_per_user_month < 0.5' (repeatable; OP is <, <=, > or >=); "
        "added to the scenario's requirements:",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="read the results from this directory if it holds them, else write them here",
    )
    add_run_options(parser)
    parser.add_argument("--force", action="store_true", help="overwrite --out if it holds other results")
    parser.add_argument("--quiet", action="store_true", help="print only failures and errors")


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """A resolved scenario without its requirements (they do not change the results)."""
    return {key: value for key, value in config.items() if key != "requirements"}


def stored_summary(out: Path | None, scenario: Scenario) -> dict[str, Any] | None:
    """The summary.json in `out` when it was written for this scenario, else None."""
    if out is None or not (out / "summary.json").is_file():
        return None
    try:
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    recorded = summary.get("resolved_scenario") if isinstance(summary, dict) else None
    if not isinstance(recorded, dict) or _comparable(recorded) != _comparable(scenario.to_config()):
        return None
    return summary


def _results(args: argparse.Namespace, scenario: Scenario) -> dict[str, Any]:
    """Read the results from --out, or run the scenario (writing --out when given)."""
    from sim.cli.main import UsageError

    out: Path | None = args.out
    stored = stored_summary(out, scenario)
    if stored is not None:
        if not args.quiet:
            print(f"reading results from {out}/summary.json", file=sys.stderr)
        return stored
    if out is not None:
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out {out} exists and is not a directory")
        interrupted_sweep = scenario.sweep is not None and (out / "cells").is_dir()
        if out.is_dir() and any(out.iterdir()) and not (args.force or interrupted_sweep):
            raise UsageError(
                f"--out {out} holds results of a different scenario (or of other options); "
                "use --force to overwrite them"
            )
        if args.force:
            prepare_out(out, force=True, resume=False)
    with open_executor(args.scheduler, args.workers) as (executor, workers):
        if scenario.sweep is not None:
            with tempfile.TemporaryDirectory(prefix="tokensim-check-") as scratch:
                target = out if out is not None else Path(scratch)
                resume = out is not None and not args.force
                reporter = make_reporter(args.quiet)
                outcome = run_sweep(
                    scenario, target, executor, workers, "parquet", resume, reporter, str(args.scenario)
                )
                return outcome.summary
        with run_scenario(scenario, workers=workers, executor=guarded(executor)) as result:
            if out is not None:
                return write_run(result, out)
            return build_summary(scenario, result.replication_metrics)


def _interval(verdict: Verdict) -> str:
    if verdict.mean is None:
        return "n/a"
    if verdict.low is None or verdict.high is None:
        return f"{verdict.mean:.4g} (no interval)"
    return f"{verdict.mean:.4g} [{verdict.low:.4g}, {verdict.high:.4g}]"


def _failure_line(verdict: Verdict, where: str = "") -> str:
    prefix = f"{where}: " if where else ""
    return f"FAILED {prefix}{verdict.requirement.text}: estimate {_interval(verdict)}; {verdict.reason}"


def _check_run(summary: dict[str, Any], requirements: list[Requirement], console: Console) -> list[str]:
    verdicts = [evaluate(r, summary) for r in requirements]
    title = escape(f"{summary['scenario']}: requirements (95% confidence)")
    table = Table(title=title, title_justify="left")
    for column in ("requirement", "estimate [95% CI]", "result"):
        table.add_column(column)
    for v in verdicts:
        verdict = "holds" if v.holds else f"FAILS: {v.reason}"
        table.add_row(escape(v.requirement.text), escape(_interval(v)), escape(verdict))
    console.print(table)
    return [_failure_line(v) for v in verdicts if not v.holds]


def _check_sweep(summary: dict[str, Any], requirements: list[Requirement], console: Console) -> list[str]:
    title = escape(f"{summary['scenario']}: requirements in every cell (95% confidence)")
    table = Table(title=title, title_justify="left")
    table.add_column("cell")
    for requirement in requirements:
        table.add_column(escape(requirement.text), justify="right")
    failures = []
    for cell in summary["cells"]:
        view = {**cell, "replications": summary["replications"]}
        verdicts = [evaluate(r, view) for r in requirements]
        texts = [escape(("ok " if v.holds else "FAIL ") + _interval(v)) for v in verdicts]
        table.add_row(escape(cell["label"]), *texts)
        where = f"cell {cell['cell']} ({cell['label']})"
        failures += [_failure_line(v, where) for v in verdicts if not v.holds]
    console.print(table)
    for skipped in summary.get("skipped", []):
        text = f"not checked: cell {skipped['cell']} was skipped: {skipped['error']}"
        console.print(escape(text), highlight=False)
    return failures


def run(args: argparse.Namespace) -> int:
    """Implement `tokensim check`: 0 when every requirement holds, 1 when one fails, 2 on bad input."""
    from sim.cli.main import UsageError

    scenario = load_with_overrides(args)
    requirements = parse_requirements(scenario.requirements, source=str(args.scenario))
    requirements += parse_requirements(args.require, source="--require")
    if not requirements:
        raise UsageError(
            f"nothing to check: {args.scenario} has no requirements: section and no --require was given"
        )
    try:
        summary = _results(args, scenario)
    except ShardFailure as exc:
        print(f"tokensim: the run stopped: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    console = output_console(args.quiet)
    if summary.get("kind") == "sweep":
        failures = _check_sweep(summary, requirements, console)
    else:
        failures = _check_run(summary, requirements, console)
    for line in failures:
        print(line)
    if failures:
        print(f"{len(failures)} requirement check(s) failed", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"all {len(requirements)} requirement(s) hold with 95% confidence")
    return 0
