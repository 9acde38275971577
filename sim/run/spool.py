"""A run's row tables on disk as a partitioned Parquet dataset: one part per shard and table.

Layout (Hive partitioning, readable as one table by pandas, pyarrow, DuckDB and dask.dataframe)::

    DIRECTORY/chains/replication=0/part-p00000-u000000000000.parquet
    DIRECTORY/chains/replication=0/part-p00000-u000000002000.parquet
    ...
    DIRECTORY/reauths/replication=0/...   DIRECTORY/thefts/...   DIRECTORY/lags/...

A part holds the rows of one shard (a range of one persona's users in one replication) sorted by the
table's keys; its name sorts in the run's global order (persona in the scenario's population order,
then the shard's first user), so reading the parts in order gives the whole table sorted by
(replication, persona, user, ...) whatever the number of workers or shards. The `replication` column
is the partition (in the folder name, not in the files). `lags` (access tokens still valid at a
revocation) is the run's own and is never published.

Workers write their parts themselves when they can reach the directory (`SpoolTarget`: a marker file
with a random token tells them it is the same directory, not one of the same name elsewhere); otherwise
they return the rows and the main process writes them. Every part is written atomically, so a shard run
twice (a retried task) leaves one part. `write` streams a table into one Parquet or CSV file in
fixed-size row groups, so the file does not depend on the shards either; `publish` moves a table's
parts into an output directory as they are.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.analysis.rescan import RowSource
from sim.core.output import write_atomic
from sim.model.recording import CHAIN_COLUMNS, EVENT_COLUMNS, REAUTH_COLUMNS, THEFT_COLUMNS, Recorder

#: The published row tables, in the order a run writes them.
TABLES = ("chains", "reauths", "thefts")
#: The token-event log (sim/model/recording.py), spooled only when a run records it (`events=True`).
EVENTS = "events"
#: Every table of the spool: the published ones and the revocation lags (read by the metrics only).
SPOOL_TABLES = (*TABLES, "lags")
LAG_COLUMNS = ("replication", "persona", "at_s", "remaining_s")
#: The partition column (a folder level, not a column of the part files).
PARTITION = "replication"
#: The file in a spool directory whose token tells a worker it is the spool it was given.
MARKER = ".tokensim-spool"

_INT, _FLOAT, _STR, _BOOL = pa.int64(), pa.float64(), pa.string(), pa.bool_()
_TYPES = {
    "replication": _INT, "persona": _STR, "user": _INT, "device": _INT, "chain": _INT,
    "authorized_at_s": _FLOAT, "ended_at_s": _FLOAT, "end_reason": _STR, "refreshes": _INT,
    "last_used_at_s": _FLOAT, "started_by": _STR, "at_s": _FLOAT, "cause": _STR, "mid_session": _BOOL,
    "stolen_at_s": _FLOAT, "first_use_at_s": _FLOAT, "detected": _BOOL, "detected_at_s": _FLOAT,
    "dwell_s": _FLOAT, "attacker_refreshes": _INT, "victim_reauths": _INT, "remaining_s": _FLOAT,
    "kind": _STR, "outcome": _STR, "reason": _STR,
}  # fmt: skip
#: Columns that are null when absent (a chain valid at the horizon, a theft never used or detected).
NULLABLE = frozenset({"ended_at_s", "end_reason", "first_use_at_s", "detected_at_s", "reason"})
COLUMNS: dict[str, tuple[str, ...]] = {
    "chains": CHAIN_COLUMNS,
    "reauths": REAUTH_COLUMNS,
    "thefts": THEFT_COLUMNS,
    "lags": LAG_COLUMNS,
    EVENTS: EVENT_COLUMNS,
}


def _schema(columns: Sequence[str]) -> pa.Schema:
    return pa.schema([pa.field(name, _TYPES[name], nullable=name in NULLABLE) for name in columns])


#: The Arrow schema of each table (an empty shard or table has the same types as a full one).
SCHEMAS: dict[str, pa.Schema] = {name: _schema(columns) for name, columns in COLUMNS.items()}
#: The schema of a part file: the table's without the partition column.
PART_SCHEMAS: dict[str, pa.Schema] = {
    name: _schema([c for c in columns if c != PARTITION]) for name, columns in COLUMNS.items()
}
#: The sort keys of each table (persona in the population's order; ties keep the recording order).
ORDER: dict[str, tuple[str, ...]] = {
    "chains": ("replication", "persona", "user", "chain"),
    "reauths": ("replication", "persona", "user", "at_s", "device"),
    "thefts": ("replication", "persona", "user", "stolen_at_s", "device"),
    "lags": ("replication", "persona"),
    EVENTS: ("replication", "persona", "user", "at_s"),  # ties keep the order they happened in
}
#: Rows per Parquet row group (and per CSV chunk) of a written table, and per batch read back.
ROW_GROUP_ROWS = 65_536


@dataclass(frozen=True)
class SpoolTarget:
    """Where a worker writes its parts: the spool's directory and the token of its marker file."""

    directory: str
    token: str

    def reachable(self) -> bool:
        """True when this process sees the spool itself (the marker holds the token)."""
        try:
            return (Path(self.directory) / MARKER).read_text(encoding="utf-8") == self.token
        except OSError:
            return False


@dataclass(frozen=True)
class PartKey:
    """Which shard a part holds: its replication, persona (index in the population) and first user."""

    replication: int
    persona: int
    start: int

    @property
    def name(self) -> str:
        """The part's file name (sorts in the run's order within a replication)."""
        return f"part-p{self.persona:05d}-u{self.start:012d}.parquet"

    def path(self, directory: Path, table: str) -> Path:
        """The part's path in a spool or dataset directory."""
        return Path(directory) / table / f"{PARTITION}={self.replication}" / self.name


def shard_tables(recorder: Recorder) -> dict[str, pa.Table]:
    """A shard's rows as part tables (no partition column), each sorted by its table's keys.

    A shard holds one replication and one persona, so the rows are sorted by the remaining keys.
    """
    lags = [pair for pairs in recorder.revocation_lags.values() for pair in pairs]
    persona = next(iter(recorder.users), (0, ""))[1]
    columns: dict[str, Mapping[str, Any]] = {
        "chains": recorder.chains,
        "reauths": recorder.reauths,
        "thefts": recorder.thefts,
        "lags": {
            "persona": [persona] * len(lags),
            "at_s": [at for at, _ in lags],
            "remaining_s": [left for _, left in lags],
        },
    }
    if recorder.events is not None:  # recorded only when the run asked for it
        columns[EVENTS] = recorder.events
    tables = {}
    for name, rows in columns.items():
        schema = PART_SCHEMAS[name]
        table = pa.table({c: rows[c] for c in schema.names}, schema=schema)
        keys = [c for c in ORDER[name] if c not in (PARTITION, "persona")]
        if keys and table.num_rows > 1:
            order = np.lexsort([table.column(c).to_numpy() for c in reversed(keys)])  # stable
            table = table.take(pa.array(order))
        tables[name] = table
    return tables


def write_shard(directory: Path, key: PartKey, tables: Mapping[str, pa.Table]) -> None:
    """Write a shard's part of every table into a spool directory, each atomically."""
    for name, table in tables.items():
        write_atomic(key.path(directory, name), functools.partial(_write_table, table))


def _write_table(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path)


class TableSpool:
    """The row tables of one run, as Parquet parts (one per shard and table) in `directory`.

    `personas` is the scenario's population order. The directory is created if needed and must not
    already hold a spool. `TableSpool.temporary` makes one in a fresh temporary directory that is
    removed by `close()` or when the spool is garbage-collected.
    """

    def __init__(self, directory: Path, personas: Sequence[str]):
        self.directory = Path(directory)
        self.personas = list(personas)
        self._cleanup: weakref.finalize | None = None
        for name in SPOOL_TABLES:
            (self.directory / name).mkdir(parents=True, exist_ok=False)
        self.target = SpoolTarget(str(self.directory.absolute()), secrets.token_hex(16))
        (self.directory / MARKER).write_text(self.target.token, encoding="utf-8")

    @classmethod
    def temporary(cls, personas: Sequence[str], parent: Path | None = None) -> TableSpool:
        """A spool in a new temporary directory (in `parent`, default the system's) that it owns."""
        directory = Path(tempfile.mkdtemp(prefix=".tokensim-spool-", dir=parent))
        spool = cls(directory, personas)
        spool._cleanup = weakref.finalize(spool, _remove_tree, directory)
        return spool

    def close(self) -> None:
        """Remove the directory if the spool owns it (`temporary`); otherwise leave it to its owner."""
        if self._cleanup is not None:
            self._cleanup()

    # -- writing parts ------------------------------------------------------

    def add(self, key: PartKey, tables: Mapping[str, pa.Table]) -> None:
        """Write one shard's parts (rows a worker returned instead of writing them)."""
        write_shard(self.directory, key, tables)

    # -- reading ------------------------------------------------------------

    def replications(self, name: str) -> list[int]:
        """The replications that have parts of table `name`, ascending."""
        prefix = f"{PARTITION}="
        folder = self.directory / _check(name)
        if not folder.is_dir():  # the event log of a run that did not record it
            return []
        folders = folder.iterdir()
        return sorted(int(f.name[len(prefix) :]) for f in folders if f.name.startswith(prefix))

    def parts(
        self, name: str, replication: int | None = None, personas: Sequence[str] | None = None
    ) -> list[Path]:
        """The parts of table `name` in the table's order: of one replication or all, of some personas
        (names) or all."""
        replications = self.replications(name) if replication is None else [replication]
        wanted = (
            None if personas is None else {PartKey(0, self.personas.index(p), 0).name[:12] for p in personas}
        )
        found = []
        for number in replications:
            folder = self.directory / name / f"{PARTITION}={number}"
            if not folder.is_dir():
                continue
            found.extend(
                sorted(
                    path
                    for path in folder.iterdir()
                    if path.name.startswith("part-")
                    and path.suffix == ".parquet"
                    and (wanted is None or path.name[:12] in wanted)
                )
            )
        return found

    def read(
        self, name: str, columns: Sequence[str] | None = None, replication: int | None = None
    ) -> pd.DataFrame:
        """Table `name` as a DataFrame in order: `columns` only (default all), one replication or all."""
        selected = list(columns) if columns is not None else SCHEMAS[_check(name)].names
        tables = [self._read_part(name, path, selected) for path in self.parts(name, replication)]
        if not tables:
            tables = [_empty(name, selected)]
        return pa.concat_tables(tables).to_pandas()

    def _read_part(self, name: str, path: Path, columns: Sequence[str]) -> pa.Table:
        """A part's `columns` of table `name`, the partition column (from the folder name) where asked."""
        stored = [c for c in columns if c != PARTITION]
        table = pq.read_table(path, columns=stored)
        if PARTITION in columns:
            number = int(path.parent.name.split("=", 1)[1])
            values = pa.array(np.full(table.num_rows, number, dtype=np.int64))
            table = table.add_column(list(columns).index(PARTITION), SCHEMAS[name].field(PARTITION), values)
        return table

    def row_source(self, replication: int, personas: Sequence[str]) -> RowSource:
        """A RowSource (sim/analysis/rescan.py) over these personas' rows of one replication: batches
        of at most ROW_GROUP_ROWS rows as numpy arrays (missing floats as NaN)."""

        def rows(name: str, columns: Sequence[str]) -> Iterator[dict[str, np.ndarray]]:
            for path in self.parts(name, replication, personas):
                for batch in pq.ParquetFile(path).iter_batches(
                    batch_size=ROW_GROUP_ROWS, columns=list(columns)
                ):
                    # floats with nulls come as NaN, strings as objects
                    yield {c: batch.column(c).to_numpy(zero_copy_only=False) for c in columns}

        return rows

    def batches(self, name: str) -> Iterator[pa.RecordBatch]:
        """Table `name` in order (with the partition column), as batches of at most ROW_GROUP_ROWS rows."""
        for path in self.parts(name):
            part = self._read_part(name, path, SCHEMAS[name].names)
            yield from part.to_batches(max_chunksize=ROW_GROUP_ROWS)

    # -- writing a whole table ----------------------------------------------

    def write(self, name: str, path: Path, fmt: str = "parquet") -> None:
        """Stream table `name` into one file at `path` (Parquet or CSV), atomically.

        Parquet row groups hold ROW_GROUP_ROWS rows each (the last one fewer), so the file is the
        same whatever the shards; CSV is written in chunks with one header.
        """
        if fmt == "csv":
            write_atomic(path, lambda tmp: self._write_csv(name, tmp))
        elif fmt == "parquet":
            write_atomic(path, lambda tmp: self._write_parquet(name, tmp))
        else:
            raise ValueError(f"unknown table format {fmt!r} (parquet or csv)")

    def publish(self, name: str, out: Path) -> Path:
        """Move table `name`'s parts into `out/name/` as they are (a partitioned dataset); return it.

        A rename when `out` is on the spool's file system, else a copy. An existing `out/name/` must be
        a dataset tokensim wrote (replication=N folders of part files), which it replaces.
        """
        target = Path(out) / name
        if target.exists():
            remove_dataset(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        source = self.directory / _check(name)
        try:
            os.replace(source, target)
        except OSError:  # another file system: copy, then rename the copy into place
            staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
            shutil.copytree(source, staging / name)
            os.replace(staging / name, target)
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(source, ignore_errors=True)
        source.mkdir(exist_ok=True)  # the spool stays valid (empty for this table)
        return target

    def _write_parquet(self, name: str, path: Path) -> None:
        with pq.ParquetWriter(path, SCHEMAS[name]) as writer:
            for group in _regroup(self.batches(name), SCHEMAS[name], ROW_GROUP_ROWS):
                writer.write_table(group, row_group_size=ROW_GROUP_ROWS)

    def _write_csv(self, name: str, path: Path) -> None:
        with open(path, "w", encoding="utf-8", newline="") as handle:
            header = True
            for batch in self.batches(name):
                if batch.num_rows:
                    batch.to_pandas().to_csv(handle, header=header, index=False)
                    header = False
            if header:  # no rows at all: the header alone
                _empty(name, SCHEMAS[name].names).to_pandas().to_csv(handle, index=False)


@contextmanager
def spool_directory(out: Path, shared: bool = False) -> Iterator[Path]:
    """A fresh hidden directory for a run's spool, removed at the end (whatever the run left in it).

    Beside `out` (same file system: tables are renamed into place), or, when the workers run elsewhere
    (`shared`: a cluster's workers write their parts where `out` is, a folder they all reach), inside
    `out`, which is created if needed.
    """
    out = Path(out).absolute()
    parent = out if shared else out.parent
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.spool-", dir=parent) as directory:
        yield Path(directory)


def is_dataset(path: Path) -> bool:
    """True for a folder that holds only a partitioned table as tokensim writes it."""
    path = Path(path)
    if not path.is_dir():
        return False
    for folder in path.iterdir():
        if not (folder.is_dir() and folder.name.startswith(f"{PARTITION}=")):
            return False
        if not all(f.name.startswith(("part-", ".part-")) and f.is_file() for f in folder.iterdir()):
            return False
    return True


def remove_dataset(path: Path) -> None:
    """Remove a partitioned table tokensim wrote; refuse (FileExistsError) anything else."""
    if not is_dataset(path):
        raise FileExistsError(f"{path} exists and is not a table tokensim wrote; not replacing it")
    shutil.rmtree(path)


def _remove_tree(directory: Path) -> None:
    try:
        shutil.rmtree(directory, ignore_errors=True)
    except BaseException:  # a Ctrl-C during the removal: finish it, then let the interrupt through
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _check(name: str) -> str:
    if name not in SCHEMAS:
        raise KeyError(f"unknown table {name!r} (one of {', '.join(SPOOL_TABLES)})")
    return name


def _empty(name: str, columns: Sequence[str]) -> pa.Table:
    schema = SCHEMAS[name]
    return pa.schema([schema.field(c) for c in columns]).empty_table()


def _regroup(batches: Iterator[pa.RecordBatch], schema: pa.Schema, size: int) -> Iterator[pa.Table]:
    """The rows of `batches` as tables of exactly `size` rows (the last one fewer), each one chunk.

    One contiguous chunk per row group, so the Parquet pages do not depend on where the parts began.
    """
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        while count >= size:
            table = pa.Table.from_batches(pending, schema=schema)
            yield table.slice(0, size).combine_chunks()
            rest = table.slice(size)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending, schema=schema).combine_chunks()
