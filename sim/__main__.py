"""`python -m sim` is the same as the `tokensim` command."""

from sim.cli.main import main

raise SystemExit(main())
