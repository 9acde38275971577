"""Reading an output directory of `tokensim run` or `tokensim sweep`: summary.json and its tables."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd


class ReportInputError(ValueError):
    """The directory is not a run or sweep output directory (or a file in it is missing)."""


def read_summary(directory: Path) -> dict[str, Any]:
    """The directory's summary.json; ReportInputError when there is none or it is not JSON."""
    path = Path(directory) / "summary.json"
    if not path.is_file():
        raise ReportInputError(f"{directory}: no summary.json (is this a `tokensim run` or `sweep` output?)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ReportInputError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None


def is_sweep(summary: dict[str, Any]) -> bool:
    """True for a sweep's summary.json (a list of cells), False for a single run's."""
    return summary.get("kind") == "sweep" or "cells" in summary


def read_table(
    directory: Path, name: str, required: bool = True, columns: list[str] | None = None
) -> pd.DataFrame | None:
    """`name/` (a partitioned Parquet dataset, as `tokensim run --scheduler` writes), `name.parquet` or
    `name.csv` from the directory, in that order; None if absent and not required.

    `columns`: read only these (a run's chains table can be large; a report needs a few of its columns).
    """
    if (Path(directory) / name).is_dir():
        return _read_dataset(Path(directory) / name, columns)
    for suffix, reader in ((".parquet", pd.read_parquet), (".csv", pd.read_csv)):
        path = Path(directory) / f"{name}{suffix}"
        if path.is_file():
            if columns is None:
                return reader(path)
            return reader(path, columns=columns) if suffix == ".parquet" else reader(path, usecols=columns)
    if required:
        raise ReportInputError(f"{directory}: no {name}.parquet or {name}.csv")
    return None


def _read_dataset(path: Path, columns: list[str] | None) -> pd.DataFrame:
    """A Hive-partitioned Parquet dataset (replication=N/part-*.parquet) as one frame in the table's order:
    `replication` an int64 column in first place, rows by replication then part."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    partitioning = ds.partitioning(pa.schema([("replication", pa.int64())]), flavor="hive")
    data = ds.dataset(path, format="parquet", partitioning=partitioning)
    if columns is None:
        columns = ["replication", *(c for c in data.schema.names if c != "replication")]
    frame = data.to_table(columns=columns).to_pandas()
    if "replication" in frame:  # the folders come in name order (10 before 2)
        frame = frame.sort_values("replication", kind="stable").reset_index(drop=True)
    return frame


#: The chains columns a run report uses (survival curves, valid chains per user).
REPORT_CHAIN_COLUMNS = ["replication", "persona", "user", "authorized_at_s", "ended_at_s"]


@dataclass
class RunFiles:
    """What a run report reads from a `tokensim run` directory."""

    directory: Path
    summary: dict[str, Any]
    #: The chains table, only the REPORT_CHAIN_COLUMNS.
    chains: pd.DataFrame
    timeseries: pd.DataFrame
    #: One row per theft (None when the directory has no thefts table, e.g. an older run).
    thefts: pd.DataFrame | None = None

    @classmethod
    def read(cls, directory: Path) -> RunFiles:
        """Read summary.json, the chains (the columns a report uses) and timeseries tables, and thefts."""
        directory = Path(directory)
        summary = read_summary(directory)
        chains = read_table(directory, "chains", columns=REPORT_CHAIN_COLUMNS)
        timeseries = read_table(directory, "timeseries")
        assert chains is not None and timeseries is not None
        chains["persona"] = chains["persona"].astype(str)
        chains["ended_at_s"] = pd.to_numeric(chains["ended_at_s"], errors="coerce").astype("float64")
        thefts = read_table(directory, "thefts", required=False)
        if thefts is not None:
            thefts["persona"] = thefts["persona"].astype(str)
            for column in ("ended_at_s", "stolen_at_s", "dwell_s"):
                thefts[column] = pd.to_numeric(thefts[column], errors="coerce").astype("float64")
        return cls(directory, summary, chains, timeseries, thefts)
