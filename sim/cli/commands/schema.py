"""`tokensim schema`: the JSON Schema of scenario files, for editors."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "print the JSON Schema of scenario files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tokensim schema`."""
    parser.add_argument("--out", type=Path, help="write to this file instead of standard output")


def run(args: argparse.Namespace) -> int:
    """Print or write the schema."""
    import json
    import sys

    from sim.core.output import write_text_atomic
    from sim.scenario import scenario_json_schema

    text = json.dumps(scenario_json_schema(), indent=2) + "\n"
    if args.out:
        write_text_atomic(args.out, text)
    else:
        sys.stdout.write(text)
    return 0
