"""Reading a results folder of `tokensim run`, `sweep` or `compare`: its typed summary and its tables.

Only complete result sets are read (`sim.core.resultset.verify`: the manifest is complete and every file
it lists is the one the run wrote), and only the files the manifest lists: a stale table of an earlier
run left beside them (by an older tokensim) is never mixed in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.analysis.optimization import ExploreSummary, OptimizeSummary
from sim.analysis.summary import ComparisonSummary, ResultFileError, RunSummary, SweepSummary
from sim.core.resultset import Manifest, OutputError, verify


class ReportInputError(OutputError):
    """The folder is not a complete results folder (or a file the report needs is missing)."""


Summary = RunSummary | SweepSummary | ComparisonSummary | OptimizeSummary | ExploreSummary


def read_summary(directory: Path) -> Summary:
    """The folder's typed summary (run, sweep or comparison); ReportInputError when it has none, when it
    is incomplete or mixes runs, or when the file is not what tokensim writes."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ReportInputError(f"{directory} is not a folder")
    try:
        verify(directory)
    except OutputError as exc:
        raise ReportInputError(str(exc)) from None
    if (directory / "comparison.json").is_file():
        return _read(ComparisonSummary, directory / "comparison.json")
    path = directory / "summary.json"
    try:
        kind = json.loads(path.read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError):
        kind = None
    if kind in ("optimize", "explore"):
        return _read(OptimizeSummary if kind == "optimize" else ExploreSummary, path)
    return _read(SweepSummary if kind == "sweep" else RunSummary, path)


def _read(kind: type[Summary], path: Path) -> Summary:
    try:
        return kind.read(path)
    except ResultFileError as exc:
        raise ReportInputError(str(exc)) from None


def is_sweep(summary: Summary) -> bool:
    """True for a sweep's summary."""
    return isinstance(summary, SweepSummary)


def read_table(
    directory: Path, name: str, required: bool = True, columns: list[str] | None = None
) -> pd.DataFrame | None:
    """`name/` (a partitioned Parquet dataset, as `tokensim run --scheduler` writes), `name.parquet` or
    `name.csv` from the directory, in that order; None if absent and not required.

    `columns`: read only these (a run's chains table can be large; a report needs a few of its columns).
    """
    manifest = Manifest.read(Path(directory))
    listed = set(manifest.files) if manifest is not None else None
    in_manifest = listed is None or any(f.startswith(f"{name}/") for f in listed)
    if (Path(directory) / name).is_dir() and in_manifest:
        return _read_dataset(Path(directory) / name, columns)
    for suffix, reader in ((".parquet", pd.read_parquet), (".csv", pd.read_csv)):
        path = Path(directory) / f"{name}{suffix}"
        if path.is_file() and (listed is None or path.name in listed):
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
    summary: RunSummary
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
        if not isinstance(summary, RunSummary):
            raise ReportInputError(f"{directory}: not the results of a single run")
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
