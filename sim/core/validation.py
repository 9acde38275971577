"""Turn pydantic validation errors into plain messages that name the field, the value and what is allowed.

Shared by the policy model and the scenario loader. The one thing pydantic does not do for us is suggest
the nearest valid name for a typo; `describe_errors` adds that by walking the model classes along the
error's location.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (`loc`, a path of keys and list indexes) and what."""

    loc: Loc
    message: str
    #: 1-based line in the source file, when the input came from a file.
    line: int | None = None

    @property
    def path(self) -> str:
        """The location as a dotted path, e.g. `population[0].activity.schedule`."""
        return format_loc(self.loc)


class ConfigError(ValueError):
    """An input (a policy dict, a scenario file) that cannot be used, with every problem found."""

    def __init__(self, problems: Sequence[Problem], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        """All problems, one per line, prefixed by the source (a file name) when known."""
        lines = []
        for p in self.problems:
            where = self.source or ""
            if p.line is not None:
                where = f"{where}:{p.line}" if where else f"line {p.line}"
            parts = [part for part in (where, p.path) if part]
            lines.append(": ".join([*parts, p.message]))
        return "\n".join(lines)


def format_loc(loc: Loc) -> str:
    """`("population", 0, "activity")` -> `population[0].activity`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _model_classes(annotation: object) -> list[type[BaseModel]]:
    """Every pydantic model class reachable in an annotation (through Optional, Union, list, dict...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_classes(typing.get_args(annotation)[0])
    if origin is not None or isinstance(annotation, types.UnionType):
        for arg in typing.get_args(annotation):
            found.extend(_model_classes(arg))
    return found


def fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """The valid field names of the model(s) found at `loc` below `model` (empty if none)."""
    current: list[type[BaseModel]] = [model]
    for part in loc:
        if isinstance(part, int):
            continue  # a list index keeps the item type we already resolved
        following: list[type[BaseModel]] = []
        for cls in current:
            field = cls.model_fields.get(part)
            if field is not None:
                following.extend(_model_classes(field.annotation))
        if not following:
            # pydantic adds union member tags (e.g. "lognormal") to locations: skip them
            continue
        current = following
    names: list[str] = []
    for cls in current:
        names.extend(n for n in cls.model_fields if n not in names)
    return names


def suggest(name: str, candidates: Sequence[str]) -> str | None:
    """The nearest candidate to a misspelt name, or None when nothing is close."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def describe_errors(exc: ValidationError, model: type[BaseModel], prefix: Loc = ()) -> list[Problem]:
    """Plain problems from a pydantic error, with "did you mean" for unknown fields."""
    problems: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc: Loc = tuple(err["loc"])
        ctx = err.get("ctx") or {}
        if ctx.get("field"):
            loc = (*loc, ctx["field"])
        if err["type"] == "extra_forbidden":
            name = str(loc[-1])
            valid = fields_at(model, loc[:-1])
            hint = suggest(name, valid)
            message = f"unknown field {name!r}"
            message += f"; did you mean {hint!r}?" if hint else f"; valid fields: {', '.join(valid)}"
        else:
            message = _in_our_words(err["type"], err["msg"], model, loc)
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
            got = repr(err.get("input"))
            shown = err["type"] != "missing" and not ctx.get("field") and _short(err.get("input"))
            if shown and got not in message:
                message += f" (got {got})"
        problems.append(Problem(loc=prefix + _drop_union_tags(loc), message=message))
    return problems


#: pydantic's messages for the common kinds of error, in the project's words.
_OUR_WORDS = {
    "dict_type": "must be a mapping of names to values (key: value lines)",
    "model_type": "must be a mapping of names to values (key: value lines)",
    "list_type": "must be a list (lines starting with '- ')",
    "tuple_type": "must be a list (lines starting with '- ')",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text",
}


def _in_our_words(kind: str, message: str, model: type[BaseModel], loc: Loc) -> str:
    """A pydantic message said as the rest of tokensim says things ("Field required" -> what is missing)."""
    if kind == "missing":
        field = _field_info(model, loc)
        what = f" ({field.description.rstrip('.')})" if field is not None and field.description else ""
        return f"required, but missing{what}"
    if kind == "literal_error" and message.startswith("Input should be "):
        return "must be " + message[len("Input should be "):]
    return _OUR_WORDS.get(kind, message)


def _field_info(model: type[BaseModel], loc: Loc) -> Any:
    """The pydantic FieldInfo at `loc` below `model`, or None."""
    current: list[type[BaseModel]] = [model]
    info = None
    for part in loc:
        if isinstance(part, int):
            continue
        info = next((cls.model_fields[part] for cls in current if part in cls.model_fields), None)
        if info is None:
            return None
        current = _model_classes(info.annotation) or current
    return info


def _short(value: object) -> bool:
    return isinstance(value, str | int | float | bool) and len(repr(value)) <= 60


_PYDANTIC_TAGS = ("function-", "json-or-python", "lax-or-strict", "constrained-", "tagged-union", "union[")


def _drop_union_tags(loc: Loc) -> Loc:
    """Remove pydantic's union-member tags (like `function-before[...]`) so locations match the input."""
    def is_tag(part: str | int) -> bool:
        return isinstance(part, str) and part.startswith(_PYDANTIC_TAGS) and "[" in part

    return tuple(part for part in loc if not is_tag(part))
