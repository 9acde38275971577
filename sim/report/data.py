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


def read_table(directory: Path, name: str, required: bool = True) -> pd.DataFrame | None:
    """`name.parquet` or `name.csv` from the directory (Parquet first); None if absent and not required."""
    for suffix, reader in ((".parquet", pd.read_parquet), (".csv", pd.read_csv)):
        path = Path(directory) / f"{name}{suffix}"
        if path.is_file():
            return reader(path)
    if required:
        raise ReportInputError(f"{directory}: no {name}.parquet or {name}.csv")
    return None


@dataclass
class RunFiles:
    """Everything `tokensim run` wrote into one directory."""

    directory: Path
    summary: dict[str, Any]
    chains: pd.DataFrame
    reauths: pd.DataFrame
    timeseries: pd.DataFrame
    replications: pd.DataFrame
    #: One row per theft (None when the directory has no thefts table, e.g. an older run).
    thefts: pd.DataFrame | None = None

    @classmethod
    def read(cls, directory: Path) -> RunFiles:
        """Read summary.json, the four tables and, if there is one, the thefts table (Parquet or CSV)."""
        directory = Path(directory)
        summary = read_summary(directory)
        tables = {name: read_table(directory, name) for name in ("chains", "reauths", "timeseries",
                                                                  "replications")}
        chains = tables["chains"]
        assert chains is not None
        chains["persona"] = chains["persona"].astype(str)
        chains["ended_at_s"] = pd.to_numeric(chains["ended_at_s"], errors="coerce").astype("float64")
        thefts = read_table(directory, "thefts", required=False)
        if thefts is not None:
            thefts["persona"] = thefts["persona"].astype(str)
            for column in ("ended_at_s", "stolen_at_s", "dwell_s"):
                thefts[column] = pd.to_numeric(thefts[column], errors="coerce").astype("float64")
        return cls(directory, summary, chains, tables["reauths"], tables["timeseries"],  # type: ignore[arg-type]
                   tables["replications"], thefts)  # type: ignore[arg-type]
