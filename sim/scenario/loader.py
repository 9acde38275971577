"""Read scenario files: safe YAML, line numbers on every problem, and only `ConfigError` on bad input.

The file is composed into a YAML node tree first (with `yaml.SafeLoader`: tags that would build Python
objects are errors, nothing is ever constructed from them). The tree gives each location (a path of
keys and list indexes, like pydantic's `loc`) its line, finds duplicate keys (which PyYAML would
silently collapse) and bounds the size that aliases expand to. Then the data is constructed and
validated by the pydantic models; each problem gets the line of the deepest location the file has.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim.core.distributions import shown
from sim.core.validation import ConfigError, Loc, Problem, describe_errors
from sim.scenario.model import Scenario

#: At most this many YAML nodes after expanding aliases (a real scenario has a few hundred).
MAX_NODES = 100_000
#: The largest scenario file read (a real one is a few kilobytes; `/dev/zero` is not read for ever).
MAX_FILE_BYTES = 4 * 1024 * 1024
_MERGE_TAG = "tag:yaml.org,2002:merge"
_FIELDS_HINT = "name, horizon, policy, population, ..."


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate a scenario file; raise ConfigError (naming file, line and field) otherwise."""
    source = str(path)
    try:
        with Path(path).open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise _error("file not found", source) from None
    except IsADirectoryError:
        raise _error("is a directory, not a scenario file", source) from None
    except PermissionError:
        raise _error("permission denied: cannot read the file", source) from None
    except OSError as exc:
        raise _error(f"cannot read the file: {exc.strerror or exc}", source) from None
    if len(raw) > MAX_FILE_BYTES:
        raise _error(
            f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; a scenario is a few kilobytes "
            "(is this the right file?)", source,
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        message = f"not UTF-8 text (byte {raw[exc.start]:#04x}); save the file as UTF-8"
        raise _error(message, source, line) from None
    return scenario_from_yaml(text, source, base_dir=Path(path).absolute().parent)


def scenario_from_yaml(
    text: str, source: str | None = None, base_dir: str | os.PathLike[str] | None = None
) -> Scenario:
    """Validate a scenario given as YAML text; `source` names it in messages (e.g. the file name).

    Relative file paths in it (a persona's `activity.trace`) start from `base_dir` (default: the
    current directory); `load_scenario` passes the scenario file's folder.
    """
    data, lines = _parse(text, source)
    return _validate(data, source, lines, base_dir)


def scenario_from_dict(
    data: dict[str, Any], source: str | None = None, base_dir: str | os.PathLike[str] | None = None
) -> Scenario:
    """Validate a scenario given as a plain dict (YAML form); raise ConfigError with readable problems."""
    return _validate(data, source, {}, base_dir)


# --- parsing ----------------------------------------------------------------------------------------


def _error(message: str, source: str | None, line: int | None = None, loc: Loc = ()) -> ConfigError:
    return ConfigError([Problem(loc, message, line)], source=source)


class _Loader(yaml.SafeLoader):
    """The safe loader, with the position of any value that cannot be constructed (e.g. 2024-13-45)."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """Construct one node; an error from a constructor gets the node's position."""
        try:
            return super().construct_object(node, deep=deep)
        except (yaml.YAMLError, RecursionError):
            raise
        except Exception as exc:
            value = f" {shown(node.value)}" if isinstance(node, yaml.ScalarNode) else ""
            problem = f"invalid value{value}: {shown(str(exc), 120)}"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from None


def _parse(text: str, source: str | None) -> tuple[Any, dict[Loc, int]]:
    """The data and the line of every location, or ConfigError for anything that is not plain YAML."""
    try:
        loader = _Loader(text)
    except yaml.YAMLError as exc:  # the reader refuses control characters up front
        raise _yaml_error(exc, text, source) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise _error(f"the file is empty; a scenario needs at least {_FIELDS_HINT}", source, 1)
        _check_size(node, source)
        lines: dict[Loc, int] = {}
        duplicates: list[Problem] = []
        _index(node, (), lines, duplicates, loader, set())
        if duplicates:
            raise ConfigError(duplicates, source=source)
        data = loader.construct_document(node)
    except ConfigError:
        raise
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, source) from None
    except RecursionError:
        raise _error("the YAML is nested too deeply", source, 1) from None
    except Exception as exc:  # e.g. a timestamp like 2024-13-45, an integer with too many digits
        raise _error(f"invalid YAML value: {shown(str(exc), 200)}", source, _mark_line(exc)) from None
    finally:
        loader.dispose()
    return data, lines


def _mark_line(exc: BaseException) -> int | None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else None


def _yaml_error(exc: yaml.YAMLError, text: str, source: str | None) -> ConfigError:
    if isinstance(exc, yaml.MarkedYAMLError):
        problem = exc.problem or "syntax error"
        if "could not determine a constructor for the tag" in problem:
            problem = f"{problem}; tags that build objects are not allowed (the file is read as plain data)"
        context = f" ({exc.context})" if exc.context else ""
        return _error(f"invalid YAML: {problem}{context}", source, _mark_line(exc))
    if isinstance(exc, yaml.reader.ReaderError):
        line = text[: exc.position].count("\n") + 1
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        return _error(f"invalid YAML: the character U+{code:04X} is not allowed", source, line)
    return _error(f"invalid YAML: {shown(str(exc), 200)}", source)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _check_size(root: yaml.Node, source: str | None) -> None:
    """Refuse recursive aliases and alias "bombs" (a few lines expanding to millions of values)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _error("a value contains itself (a recursive alias)", source, _line(node))
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(item) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        active.discard(key)
        sizes[key] = total
        if total > MAX_NODES:
            if len(sizes) > MAX_NODES // 2:  # that many values are written out: no alias needed
                raise _error(f"the file has more than {MAX_NODES // 2:,} values; a scenario has a few "
                             "hundred (is this the right file?)", source, 1)
            raise _error(f"the file expands to more than {MAX_NODES:,} values through its aliases", source, 1)
        return total

    size(root)


def _index(
    node: yaml.Node,
    path: Loc,
    lines: dict[Loc, int],
    duplicates: list[Problem],
    loader: _Loader,
    seen: set[int],
) -> None:
    """Record the line of every location below `node` and every duplicate key."""
    lines.setdefault(path, _line(node))
    if id(node) in seen:  # an alias: its contents were indexed where the anchor is
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index(item, (*path, index), lines, duplicates, loader, seen)
    elif isinstance(node, yaml.MappingNode):
        first_line: dict[Any, int] = {}
        merged: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.append(value_node)
                continue
            key = loader.construct_object(key_node, deep=True)
            line = _line(key_node)
            try:
                known = key in first_line
            except TypeError:  # an unhashable key; the constructor reports it
                continue
            if known:
                duplicates.append(
                    Problem(
                        (*path, key),
                        f"duplicate key {shown(key)} (first at line {first_line[key]}); YAML would keep "
                        "only the last value: remove one",
                        line,
                    )
                )
                continue
            first_line[key] = line
            lines[(*path, key)] = line
            if not isinstance(key, str | int) or isinstance(key, bool):  # as pydantic names such keys
                lines.setdefault((*path, int(key) if isinstance(key, bool) else str(key)), line)
            _index(value_node, (*path, key), lines, duplicates, loader, seen)
        for source_node in merged:  # `<<: *defaults`: keys not set explicitly point at the anchor
            sources = source_node.value if isinstance(source_node, yaml.SequenceNode) else [source_node]
            for mapping in sources:
                if isinstance(mapping, yaml.MappingNode):
                    for key_node, _ in mapping.value:
                        if key_node.tag != _MERGE_TAG:
                            key = loader.construct_object(key_node, deep=True)
                            lines.setdefault((*path, key), _line(key_node))


# --- validation -------------------------------------------------------------------------------------


def _kind(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text {shown(value)}"
    return f"{type(value).__name__} {shown(value)}"


def _validate(
    data: Any, source: str | None, lines: dict[Loc, int], base_dir: str | os.PathLike[str] | None = None
) -> Scenario:
    if not isinstance(data, dict):
        if data is None:
            raise _error(f"the file has no content; a scenario needs at least {_FIELDS_HINT}", source, 1)
        message = f"the top level must be a mapping of scenario fields ({_FIELDS_HINT}), got {_kind(data)}"
        raise _error(message, source, lines.get(()))
    oversized = _oversized_numbers(data, ())
    if oversized:
        raise ConfigError([_located(p, lines) for p in oversized], source=source)
    try:
        context = {"base_dir": str(base_dir) if base_dir is not None else None}
        return Scenario.model_validate(data, context=context)
    except ValidationError as exc:
        problems = describe_errors(exc, Scenario)
        raw_locs = [_raw_loc(err) for err in exc.errors(include_url=False)]
        fixed = [_with_raw_loc(p, raw, data) for p, raw in zip(problems, raw_locs, strict=True)]
        raise ConfigError([_located(p, lines) for p in fixed], source=source) from None
    except Exception as exc:  # the contract: bad input never raises anything but ConfigError
        raise _error(f"internal error while validating: {type(exc).__name__}: {exc}", source) from None


def _raw_loc(err: Any) -> Loc:
    ctx = err.get("ctx") or {}
    loc: Loc = tuple(err["loc"])
    return (*loc, ctx["field"]) if ctx.get("field") else loc


def _with_raw_loc(problem: Problem, raw: Loc, data: Any) -> Problem:
    """Prefer pydantic's own location when it is a path into the input (a key may contain '-' or '[')."""
    if raw != problem.loc and _exists(data, raw[:-1]):
        return Problem(raw, problem.message, problem.line)
    return problem


def _exists(data: Any, loc: Loc) -> bool:
    current = data
    for part in loc:
        in_mapping = isinstance(current, dict) and not isinstance(part, int) and part in current
        in_list = isinstance(current, list | tuple) and isinstance(part, int) and 0 <= part < len(current)
        if not (in_mapping or in_list):
            return False
        current = current[part]
    return True


def _located(problem: Problem, lines: dict[Loc, int]) -> Problem:
    """The problem with the line of the deepest part of its location that the file has."""
    loc = problem.loc
    for depth in range(len(loc), -1, -1):
        line = lines.get(loc[:depth])
        if line is not None:
            return Problem(loc, problem.message, line)
    return problem


def _oversized_numbers(value: Any, path: Loc, seen: set[int] | None = None) -> list[Problem]:
    """Integers too large to be a float (validators would overflow): reported before validation."""
    seen = set() if seen is None else seen
    problems: list[Problem] = []
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError:
            digits = int(value.bit_length() * math.log10(2)) + 1
            problems.append(Problem(path, f"number too large (about {digits} digits)"))
    elif isinstance(value, dict | list) and id(value) not in seen:
        seen.add(id(value))
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            problems.extend(_oversized_numbers(item, (*path, key), seen))
    return problems
