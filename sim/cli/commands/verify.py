"""`tokensim verify SCENARIO [--examples N] [--seed S] [--junit FILE]`: prove or refute the invariants.

Every invariant of the scenario's `invariants:` section is decided exactly where the policy's rules allow
it ("proved"), else searched with hypothesis over N timelines of its behaviour class; a failure is printed
as the story of a minimal counterexample. Exit status: 0 every invariant held, 1 one failed, 2 bad input.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "prove or search for counterexamples of the scenario's invariants (exit 0 all hold, 1 one fails)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tokensim verify`."""
    parser.add_argument("scenario", type=Path, help="scenario YAML file with an invariants: section")
    parser.add_argument(
        "--examples",
        type=int,
        default=None,
        metavar="N",
        help="timelines searched per invariant (default 100)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="seed of the search: the same seed finds the same timelines",
    )
    parser.add_argument(
        "--junit", type=Path, metavar="FILE", help="also write JUnit XML (one test case per invariant)"
    )


def run(args: argparse.Namespace) -> int:
    """Verify, print a table and the story of every counterexample, write --junit; 0 or 1."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from sim import api
    from sim.verify.runner import DEFAULT_EXAMPLES, PROVED

    examples = DEFAULT_EXAMPLES if args.examples is None else args.examples
    result = api.verify(args.scenario, examples=examples, seed=args.seed)
    if args.junit is not None:
        result.write_junit(args.junit)
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    table = Table(title=escape(f"{result.scenario}: invariants"), title_justify="left", show_lines=True)
    table.add_column("invariant", ratio=2)
    table.add_column("result", ratio=3)
    for item in result.results:
        style = "green" if item.outcome == PROVED else ("yellow" if item.ok else "red")
        table.add_row(escape(item.name), f"[{style}]{escape(item.headline())}[/{style}]")
    console.print(table)
    for item in result.results:
        if item.counterexample is None:
            continue
        console.print(f"\n[bold red]FAILED[/bold red] {escape(item.name)}", highlight=False)
        for line in item.counterexample.story:
            console.print("  " + escape(line), highlight=False)
        if item.note:
            console.print(escape(item.note), highlight=False)
    failed = sum(not item.ok for item in result.results)
    summary = (
        f"{len(result.results) - failed} of {len(result.results)} invariants hold ({result.seconds:.1f} s)"
    )
    console.print(f"\n{escape(summary)}; replay: {escape(result.replay_command())}", highlight=False)
    if args.junit is not None:
        console.print(f"JUnit XML written to {escape(str(args.junit))}", highlight=False)
    return result.exit_code
