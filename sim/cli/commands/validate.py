"""`tokensim validate SCENARIO...`: check scenario files without running them."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.scenario import load_scenario

HELP = "check scenario files without running them"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tokensim validate`."""
    parser.add_argument("scenario", type=Path, nargs="+", help="scenario YAML file(s)")


def run(args: argparse.Namespace) -> int:
    """Load every file; the first bad one raises ConfigError (exit 2)."""
    for path in args.scenario:
        scenario = load_scenario(path)
        users = sum(p.users for p in scenario.population)
        print(f"{path}: ok ({scenario.name}: {len(scenario.population)} persona(s), {users:,} users)")
    return 0
