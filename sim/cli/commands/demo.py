"""`tokensim demo`: a walk through the policy engine's rules, no scenario needed."""

from __future__ import annotations

import argparse

from sim.policy.demo import run_demo

HELP = "a small built-in walk through the policy engine"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`tokensim demo` takes no options."""


def run(args: argparse.Namespace) -> int:
    """Print the demo timeline."""
    run_demo()
    return 0
