"""The `tokensim` command line (also `python -m sim`): argument parsing and terminal output over `sim.api`."""
