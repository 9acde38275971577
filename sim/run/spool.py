"""A run's row tables (chains, re-authentications, thefts) on disk, one Parquet part per shard and table.

`run_scenario` hands every shard's `Recorder` to a `TableSpool` as soon as a worker returns it, so the
main process never holds the rows of the whole run. A part's name sorts in the run's global order
(replication, persona in the scenario's population order, first user of the shard) and its rows are
sorted by the same keys as the whole table, so reading the parts in name order gives the table sorted
by (replication, persona, user, ...) whatever the number of workers or shards. `write` streams the parts
into one Parquet or CSV file in fixed-size chunks, so the output does not depend on the shards either.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sim.core.output import write_atomic
from sim.model.recording import CHAIN_COLUMNS, EVENT_COLUMNS, REAUTH_COLUMNS, THEFT_COLUMNS, Recorder

if TYPE_CHECKING:
    from sim.run.shards import ShardTask

#: The row tables, in the order a run writes them.
TABLES = ("chains", "reauths", "thefts")
#: The token-event log (sim/model/recording.py), spooled only when a run records it (`events=True`).
EVENTS = "events"

_INT, _FLOAT, _STR, _BOOL = pa.int64(), pa.float64(), pa.string(), pa.bool_()
_TYPES = {
    "replication": _INT, "persona": _STR, "user": _INT, "device": _INT, "chain": _INT,
    "authorized_at_s": _FLOAT, "ended_at_s": _FLOAT, "end_reason": _STR, "refreshes": _INT,
    "last_used_at_s": _FLOAT, "started_by": _STR, "at_s": _FLOAT, "cause": _STR, "mid_session": _BOOL,
    "stolen_at_s": _FLOAT, "first_use_at_s": _FLOAT, "detected": _BOOL, "detected_at_s": _FLOAT,
    "dwell_s": _FLOAT, "attacker_refreshes": _INT, "victim_reauths": _INT,
    "kind": _STR, "outcome": _STR, "reason": _STR,
}  # fmt: skip
#: Columns that are null when absent (a chain valid at the horizon, a theft never used or detected).
NULLABLE = frozenset({"ended_at_s", "end_reason", "first_use_at_s", "detected_at_s", "reason"})


def _schema(columns: tuple[str, ...]) -> pa.Schema:
    return pa.schema([pa.field(name, _TYPES[name], nullable=name in NULLABLE) for name in columns])


#: The Arrow schema of each row table (an empty shard or table has the same types as a full one).
SCHEMAS: dict[str, pa.Schema] = {
    "chains": _schema(CHAIN_COLUMNS),
    "reauths": _schema(REAUTH_COLUMNS),
    "thefts": _schema(THEFT_COLUMNS),
    EVENTS: _schema(EVENT_COLUMNS),
}
#: The sort keys of each table (persona in the population's order; ties keep the recording order).
ORDER: dict[str, tuple[str, ...]] = {
    "chains": ("replication", "persona", "user", "chain"),
    "reauths": ("replication", "persona", "user", "at_s", "device"),
    "thefts": ("replication", "persona", "user", "stolen_at_s", "device"),
    EVENTS: ("replication", "persona", "user", "at_s"),  # ties keep the order they happened in
}
#: Rows per Parquet row group (and per CSV chunk) of a written table.
ROW_GROUP_ROWS = 65_536


class TableSpool:
    """The row tables of one run, as sorted Parquet parts (one per shard and table) in `directory`.

    `personas` is the scenario's population order. The directory is created if needed and must not
    already hold a spool. `TableSpool.temporary` makes one in a fresh temporary directory that is
    removed by `close()` or when the spool is garbage-collected.
    """

    def __init__(self, directory: Path, personas: Sequence[str]):
        self.directory = Path(directory)
        self.personas = list(personas)
        self._persona_index = {name: i for i, name in enumerate(self.personas)}
        self._cleanup: weakref.finalize | None = None
        for name in TABLES:
            (self.directory / name).mkdir(parents=True, exist_ok=False)

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

    def add(self, task: ShardTask, recorder: Recorder) -> None:
        """Write one shard's rows: one sorted part per table, each atomically (temp name, rename)."""
        rows = {"chains": recorder.chains, "reauths": recorder.reauths, "thefts": recorder.thefts}
        names = list(TABLES)
        if recorder.events is not None:
            rows[EVENTS] = recorder.events
            names.append(EVENTS)
            (self.directory / EVENTS).mkdir(exist_ok=True)
        part = self._part_name(task.replication, task.persona.name, task.start)
        for name in names:
            table = self._sorted(name, pa.table(rows[name], schema=SCHEMAS[name]))
            write_atomic(self.directory / name / part, functools.partial(_write_parquet, table))

    def _part_name(self, replication: int, persona: str, start: int) -> str:
        return f"r{replication:06d}-p{self._persona_index[persona]:05d}-u{start:012d}.parquet"

    def _sorted(self, name: str, table: pa.Table) -> pa.Table:
        """The table sorted by ORDER[name], stably (numpy's lexsort is a stable sort)."""
        if table.num_rows == 0:
            return table
        keys = []
        for column in ORDER[name]:
            values = table.column(column)
            if column == "persona":
                values = pc.index_in(values, value_set=pa.array(self.personas, pa.string()))
            keys.append(values.to_numpy())
        order = np.lexsort(keys[::-1])  # lexsort's last key is the primary one
        return table.take(pa.array(order))

    # -- reading ------------------------------------------------------------

    def parts(self, name: str, replication: int | None = None) -> list[Path]:
        """The parts of table `name` (of one replication, or all) in the table's order."""
        prefix = "r" if replication is None else f"r{replication:06d}-"
        folder = self.directory / _check(name)
        if not folder.is_dir():  # the event log of a run that did not record it
            return []
        return sorted(
            path
            for path in folder.iterdir()
            if path.name.startswith(prefix) and path.suffix == ".parquet"
        )

    def read(
        self, name: str, columns: Sequence[str] | None = None, replication: int | None = None
    ) -> pd.DataFrame:
        """Table `name` as a DataFrame in order: `columns` only (default all), one replication or all."""
        selected = list(columns) if columns is not None else SCHEMAS[_check(name)].names
        tables = [pq.read_table(path, columns=selected) for path in self.parts(name, replication)]
        if not tables:
            tables = [_empty(name, selected)]
        return pa.concat_tables(tables).to_pandas()

    def shards(
        self, replication: int, columns: Mapping[str, Sequence[str]]
    ) -> Iterator[tuple[str, dict[str, pd.DataFrame]]]:
        """Each shard of one replication in order: its persona, and its rows of each table in `columns`
        (table name -> the columns to read). A shard holds every row of its users."""
        names = list(columns)
        for path in self.parts(names[0], replication):
            persona = self.personas[int(path.name.split("-")[1][1:])]  # r…-pINDEX-u….parquet
            yield persona, {
                name: pq.read_table(self.directory / name / path.name, columns=list(wanted)).to_pandas()
                for name, wanted in columns.items()
            }

    def batches(self, name: str) -> Iterator[pa.RecordBatch]:
        """Table `name` in order, as record batches of at most ROW_GROUP_ROWS rows."""
        for path in self.parts(name):
            yield from pq.ParquetFile(path).iter_batches(batch_size=ROW_GROUP_ROWS)

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


def _remove_tree(directory: Path) -> None:
    try:
        shutil.rmtree(directory, ignore_errors=True)
    except BaseException:  # a Ctrl-C during the removal: finish it, then let the interrupt through
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _check(name: str) -> str:
    if name not in SCHEMAS:
        raise KeyError(f"unknown table {name!r} (one of {', '.join((*TABLES, EVENTS))})")
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


def _write_parquet(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path)
