"""Implementations of the `tokensim` subcommands (the argument parsing lives in sim.cli.main)."""
