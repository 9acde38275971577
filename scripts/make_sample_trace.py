#!/usr/bin/env python3
"""Make the shipped sample trace: scenarios/traces/sample.parquet (with .users.parquet, .summary.json).

One replication of scenarios/traces/sample-truth.yaml, its sessions written in the trace format that
`tokensim ingest` writes (sim/fit/synthetic.py). Deterministic: the same tokensim and library versions
give the same files. Run from the repository's root: `.venv/bin/python scripts/make_sample_trace.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

from sim import api

ROOT = Path(__file__).resolve().parents[1]
TRUTH = Path("scenarios/traces/sample-truth.yaml")  # relative: the trace records it as its source
OUT = Path("scenarios/traces/sample.parquet")


def main() -> None:
    """Simulate the truth and write the trace."""
    os.chdir(ROOT)
    path = api.simulate_trace(TRUTH, OUT)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
