"""Running one scenario and writing its result set (`tokensim run`, `sim.api.run`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sim.analysis.summary import build_summary
from sim.core.output import write_text_atomic
from sim.run.runner import RunResult


def write_run(result: RunResult, out: Path, fmt: str = "parquet") -> dict[str, Any]:
    """Write summary.json and the tables into `out` (each file atomically); return the summary.

    The row tables are streamed from the run's spool (`RunResult.write_tables`).
    """
    out.mkdir(parents=True, exist_ok=True)
    summary = build_summary(result.scenario, result.replication_metrics)
    result.write_tables(out, fmt)
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2, allow_nan=False) + "\n")
    return summary
