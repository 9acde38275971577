"""Reading log files in bounded memory: JSON lines, JSON arrays and CSV, in blocks of lines.

A format names the fields it needs as dotted paths (`details.reason`) with an Arrow type. A reader yields
`RawBatch`es: a flat table with one column per path, the 1-based line of each row, and what was wrong
with rows or lines that could not be read. Clean blocks go through pyarrow's C++ parsers; a block with
anything wrong is read again line by line with the standard library, so every bad line is named.

- JSON lines (one object per line, as log streams and `jq -c` write them): blocks of about
  BLOCK_BYTES cut at a line end.
- A JSON array (as the vendors' REST APIs answer: Keycloak `GET /admin/realms/{realm}/events`, the
  Okta System Log API, the Auth0 Management API): decoded object by object; a syntax error inside the
  array cannot be skipped safely, so it is an error naming the line.
- CSV with a header line: blocks of lines; values must not contain line breaks.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from sim.core.validation import ConfigError, Problem

#: Bytes read per block (a block's table is the largest thing held in memory while parsing).
BLOCK_BYTES = 16 * 1024 * 1024
#: pyarrow's own parsing blocks within one of ours (parsed on several threads).
PARSE_BLOCK_BYTES = 4 * 1024 * 1024
#: Objects per batch when a JSON array or a dirty block is read line by line.
SLOW_BATCH = 50_000


@dataclass(frozen=True)
class Field:
    """A value a format reads: a dotted path into each record, and its Arrow type."""

    path: str
    type: pa.DataType


@dataclass
class RawBatch:
    """Records read from one block: `table` has one column per field path, `lines` the line of each row.

    `problems` are (row, field, message) for values of the wrong type (left null in `table`);
    `bad_lines` are (line, field, message) for lines that are not records at all.
    """

    table: pa.Table
    lines: np.ndarray
    problems: list[tuple[int, str, str]] = field(default_factory=list)
    bad_lines: list[tuple[int, str, str]] = field(default_factory=list)


def input_error(path: Path, line: int | None, where: str, message: str) -> ConfigError:
    """A bad-input error naming the file, the line and the field (exit status 2 from the CLI)."""
    return ConfigError([Problem(loc=(where or "record",), message=message, line=line)], source=str(path))


# ---------------------------------------------------------------------------------------------- JSON


def read_json_records(
    path: Path, fields: Sequence[Field], block_bytes: int = BLOCK_BYTES
) -> Iterator[RawBatch]:
    """The records of a JSON-lines file or of a file holding one JSON array of records."""
    with open(path, "rb") as handle:
        first = _first_byte(handle)
        handle.seek(0)
        if first == b"[":
            yield from _json_array(path, handle, fields)
        else:
            yield from _json_lines(handle, fields, block_bytes)


def _first_byte(handle: io.BufferedReader) -> bytes:
    while True:
        chunk = handle.read(4096)
        if not chunk:
            return b""
        stripped = chunk.lstrip()
        if stripped.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark
            stripped = stripped[3:].lstrip()
        if stripped:
            return stripped[:1]


def _blocks(handle: io.BufferedReader, block_bytes: int) -> Iterator[tuple[bytes, int]]:
    """Blocks of whole lines and the 1-based number of each block's first line."""
    pending = b""
    line = 1
    while True:
        chunk = handle.read(block_bytes)
        data = pending + chunk
        if not chunk:
            if data:
                yield data, line
            return
        cut = data.rfind(b"\n")
        if cut < 0:
            pending = data
            continue
        block, pending = data[: cut + 1], data[cut + 1 :]
        yield block, line
        line += block.count(b"\n")


def _line_spans(block: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of every line of a block (end excludes the newline)."""
    raw = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(raw == 10)
    if len(block) and block[-1:] != b"\n":
        ends = np.append(ends, len(block))
    starts = np.concatenate([[0], ends[:-1] + 1]) if len(ends) else np.zeros(0, dtype=np.int64)
    return starts.astype(np.int64), ends.astype(np.int64)


def _nested_schema(fields: Sequence[Field]) -> pa.Schema:
    """The nested Arrow schema that reading `fields` from JSON objects needs."""
    tree: dict = {}
    for f in fields:
        node = tree
        parts = f.path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = f.type

    def build(node: dict) -> list[pa.Field]:
        return [
            pa.field(name, pa.struct(build(value)) if isinstance(value, dict) else value)
            for name, value in node.items()
        ]

    return pa.schema(build(tree))


def _flatten(table: pa.Table, fields: Sequence[Field]) -> pa.Table:
    while any(pa.types.is_struct(column.type) for column in table.columns):
        table = table.flatten()
    return pa.table({f.path: table.column(f.path) for f in fields})


def _json_lines(handle: io.BufferedReader, fields: Sequence[Field], block_bytes: int) -> Iterator[RawBatch]:
    schema = _nested_schema(fields)
    parse = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    for block, first_line in _blocks(handle, block_bytes):
        starts, ends = _line_spans(block)
        raw = np.frombuffer(block, dtype=np.uint8)
        blank = _blank_lines(raw, starts, ends)
        lines = first_line + np.flatnonzero(~blank)
        try:
            table = pajson.read_json(
                io.BytesIO(block),
                read_options=pajson.ReadOptions(block_size=PARSE_BLOCK_BYTES, use_threads=True),
                parse_options=parse,
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            table = None
        if table is not None and table.num_rows == len(lines):
            yield RawBatch(_flatten(table, fields), lines)
            continue
        # something in this block is not clean JSON of the expected types: read it line by line
        records, record_lines, bad = [], [], []
        for offset, (s, e) in enumerate(zip(starts, ends, strict=True)):
            if blank[offset]:
                continue
            text = block[s:e]
            try:
                value = json.loads(text)
            except (ValueError, UnicodeDecodeError) as exc:
                bad.append((first_line + offset, "", f"not valid JSON ({_short_error(exc)})"))
                continue
            if not isinstance(value, dict):
                bad.append((first_line + offset, "", f"expected a JSON object, got {type(value).__name__}"))
                continue
            records.append(value)
            record_lines.append(first_line + offset)
        yield from _slow_batches(records, record_lines, fields, bad)


def _blank_lines(raw: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """True for lines holding only white space (found without a Python loop over the lines)."""
    lengths = ends - starts
    blank = lengths == 0
    short = np.flatnonzero(~blank & (lengths <= 4))
    for i in short:  # a line this short is either blank ("\r", " ") or not a record at all
        blank[i] = not bytes(raw[starts[i] : ends[i]]).strip()
    return blank


def _short_error(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 80 else text[:77] + "..."


def _json_array(path: Path, handle: io.BufferedReader, fields: Sequence[Field]) -> Iterator[RawBatch]:
    decoder = json.JSONDecoder()
    reader = io.TextIOWrapper(handle, encoding="utf-8-sig")
    buffer = ""
    position = 0
    line = 1
    started = ended = eof = False
    records: list[dict] = []
    record_lines: list[int] = []
    bad: list[tuple[int, str, str]] = []

    def more() -> bool:
        nonlocal buffer, position, eof
        chunk = reader.read(1 << 20)
        if not chunk:
            eof = True
            return False
        buffer = buffer[position:] + chunk
        position = 0
        return True

    while not ended:
        # skip white space (and the commas between elements), counting lines
        while True:
            while position < len(buffer) and buffer[position] in " \t\r\n,[]":
                char = buffer[position]
                if char == "\n":
                    line += 1
                elif char == "[":
                    if started:
                        raise input_error(path, line, "", "nested JSON arrays are not log records")
                    started = True
                elif char == "]":
                    ended = True
                position += 1
                if ended:
                    break
            if ended or position < len(buffer) or not more():
                break
        if ended or (eof and position >= len(buffer)):
            break
        while True:
            try:
                value, end = decoder.raw_decode(buffer, position)
                break
            except json.JSONDecodeError as exc:
                if eof or not more():
                    message = f"not valid JSON ({exc.msg}); the array cannot be read past it"
                    raise input_error(path, line, "", message) from None
        if isinstance(value, dict):
            records.append(value)
            record_lines.append(line)
        else:
            bad.append((line, "", f"expected a JSON object, got {type(value).__name__}"))
        line += buffer.count("\n", position, end)
        position = end
        if len(records) >= SLOW_BATCH:
            yield from _slow_batches(records, record_lines, fields, bad)
            records, record_lines, bad = [], [], []
    if started and not ended:
        raise input_error(path, line, "", "the JSON array is not closed (a truncated file?)")
    if records or bad:
        yield from _slow_batches(records, record_lines, fields, bad)


def _slow_batches(
    records: list[dict], lines: list[int], fields: Sequence[Field], bad: list[tuple[int, str, str]]
) -> Iterator[RawBatch]:
    """Records parsed by the standard library into a flat table, each value checked against its type."""
    problems: list[tuple[int, str, str]] = []
    columns = {}
    for f in fields:
        check = _CHECKS[_type_key(f.type)]
        parts = f.path.split(".")
        values = []
        for row, record in enumerate(records):
            value: object = record
            for part in parts:
                value = value.get(part) if isinstance(value, dict) else None
            if value is not None:
                value, message = check(value)
                if message:
                    problems.append((row, f.path, message))
            values.append(value)
        columns[f.path] = pa.array(values, type=f.type)
    table = pa.table(columns) if fields else pa.table({})
    yield RawBatch(table, np.asarray(lines, dtype=np.int64), problems, bad)


def _type_key(t: pa.DataType) -> str:
    if pa.types.is_string(t):
        return "string"
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_list(t):
        return "list"
    raise TypeError(f"unsupported field type {t}")


def _check_string(value: object) -> tuple[object, str | None]:
    if isinstance(value, str):
        return value, None
    return None, f"expected a string, got {json.dumps(value)[:40]}"


def _check_int(value: object) -> tuple[object, str | None]:
    if isinstance(value, int) and not isinstance(value, bool):
        return value, None
    return None, f"expected an integer, got {json.dumps(value)[:40]}"


def _check_float(value: object) -> tuple[object, str | None]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value), None
    return None, f"expected a number, got {json.dumps(value)[:40]}"


def _check_list(value: object) -> tuple[object, str | None]:
    if isinstance(value, list):
        return [
            {k: v if isinstance(v, str) else None for k, v in item.items() if k in ("id", "type")}
            for item in value
            if isinstance(item, dict)
        ], None
    return None, f"expected a list, got {json.dumps(value)[:40]}"


_CHECKS = {"string": _check_string, "int": _check_int, "float": _check_float, "list": _check_list}


# ----------------------------------------------------------------------------------------------- CSV


def read_csv_records(
    path: Path, columns: Sequence[str], required: Sequence[str], block_bytes: int = BLOCK_BYTES
) -> Iterator[RawBatch]:
    """The rows of a CSV file with a header line, as strings (empty and `NULL` are null).

    Header names match `columns` ignoring case; a missing `required` column is an error naming the
    header line and the nearest column name found.
    """
    with open(path, "rb") as handle:
        header_line = handle.readline()
        if header_line.startswith(b"\xef\xbb\xbf"):
            header_line = header_line[3:]
        header = next(csv.reader([header_line.decode("utf-8", errors="replace")]), [])
        header = [name.strip() for name in header]
        by_lower = {name.lower(): i for i, name in enumerate(header)}
        missing = [name for name in required if name.lower() not in by_lower]
        if missing:
            from sim.core.validation import suggest

            hint = suggest(missing[0], header)
            message = f"missing column {missing[0]!r} (found: {', '.join(header) or 'no header'})"
            if hint:
                message += f"; did you mean {hint!r}?"
            raise input_error(path, 1, "", message)
        present = [name for name in columns if name.lower() in by_lower]
        indexes = [by_lower[name.lower()] for name in present]
        names = [f"c{i}" for i in range(len(header))]
        convert = pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            include_columns=[names[i] for i in indexes],
            null_values=["", "NULL", "null"],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        )
        read = pacsv.ReadOptions(column_names=names, use_threads=True)
        for block, first_line in _blocks(handle, block_bytes):
            starts, ends = _line_spans(block)
            raw = np.frombuffer(block, dtype=np.uint8)
            blank = _blank_lines(raw, starts, ends)
            lines = first_line + 1 + np.flatnonzero(~blank)
            try:
                table = pacsv.read_csv(io.BytesIO(block), read_options=read, convert_options=convert)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                table = None
            if table is not None and table.num_rows == len(lines):
                yield RawBatch(
                    pa.table(
                        {name: table.column(names[i]) for name, i in zip(present, indexes, strict=True)}
                    ),
                    lines,
                )
                continue
            rows, row_lines, bad = [], [], []
            for offset, (s, e) in enumerate(zip(starts, ends, strict=True)):
                if blank[offset]:
                    continue
                text = block[s:e].decode("utf-8", errors="replace").rstrip("\r")
                values = next(csv.reader([text]), [])
                if len(values) != len(header):
                    bad.append(
                        (first_line + 1 + offset, "", f"expected {len(header)} columns, got {len(values)}")
                    )
                    continue
                rows.append([None if values[i] in ("", "NULL", "null") else values[i] for i in indexes])
                row_lines.append(first_line + 1 + offset)
            table = pa.table(
                {name: pa.array([r[k] for r in rows], pa.string()) for k, name in enumerate(present)}
            )
            yield RawBatch(table, np.asarray(row_lines, dtype=np.int64), [], bad)


def column(table: pa.Table, name: str, type_: pa.DataType | None = None) -> pa.ChunkedArray:
    """Column `name`, or an all-null column of `type_` when the file has no such column."""
    if name in table.column_names:
        return table.column(name)
    return pa.chunked_array([pa.nulls(table.num_rows, type_ or pa.string())])
