"""Helpers for the ingest tests: ingest a shipped sample log into a temporary trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.ingest.pipeline import IngestOptions, ingest
from sim.ingest.trace import Trace, read_trace

SAMPLES = Path(__file__).resolve().parent / "samples"


@pytest.fixture
def ingest_sample(tmp_path: Path):
    """ingest_sample(file, format, **options) -> Trace of the sample at samples/file."""

    def run(name: str, fmt: str, **options: object) -> Trace:
        out = tmp_path / f"{Path(name).stem}.parquet"
        ingest([SAMPLES / name], out, IngestOptions(format=fmt, **options))
        return read_trace(out)

    return run
