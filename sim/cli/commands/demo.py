"""`tokensim demo`: a walk through the policy engine's rules, no scenario needed."""

from __future__ import annotations

import argparse

HELP = "a small built-in walk through the policy engine"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`tokensim demo` takes no options."""


def run(args: argparse.Namespace) -> int:
    """Print the demo timeline."""
    from rich.console import Console
    from rich.table import Table

    from sim.policy.demo import demo_timeline

    timeline = demo_timeline()
    table = Table(title=timeline.title)
    table.add_column("time", justify="right")
    table.add_column("what happens")
    table.add_column("server answers")
    for row in timeline.rows:
        table.add_row(*row)
    console = Console()
    console.print(table)
    console.print(timeline.totals)
    return 0
