"""Hand-made traces for the replay and fit tests, in the format `tokensim ingest` writes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from sim.fit.synthetic import write_trace

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "scenarios" / "traces" / "sample.parquet"


def make_trace(
    path: Path,
    sessions: Sequence[tuple[str, str, float, float]],
    users: Sequence[str] | None = None,
    until: float | None = None,
) -> Path:
    """Write a trace of these (user, device, start_s, end_s) sessions; `users` adds users without any."""
    frame = pd.DataFrame(sessions, columns=["user", "device", "start_s", "end_s"]).astype(
        {"user": str, "device": str, "start_s": float, "end_s": float}
    )
    names = sorted(set(frame["user"]) | set(users or ()))
    table = pd.DataFrame({"user": names})
    table["devices"] = frame.groupby("user")["device"].nunique().reindex(names, fill_value=0).to_numpy()
    table["sessions"] = frame.groupby("user").size().reindex(names, fill_value=0).to_numpy()
    for column in ("logins", "refreshes", "refresh_failures", "forced_logins"):
        table[column] = 0
    return write_trace(frame, table, path, source_format="test", source_files=[], parameters={},
                       observed_until=until)
