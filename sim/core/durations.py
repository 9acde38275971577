"""Durations as they are written in scenarios (`90s`, `15m`, `1h`, `15d`, `2w`) and as seconds inside.

Time inside tokensim is always seconds as a float. `unlimited` and `none` are kept as `None` by the
callers that allow them; this module only parses and formats.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

SECOND = 1.0
MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
WEEK = 7 * DAY
#: A month in every per-month figure (forced re-authentications per user and month, ...).
MONTH = 30 * DAY

UNITS: dict[str, float] = {"s": SECOND, "m": MINUTE, "h": HOUR, "d": DAY, "w": WEEK}

_NUMBER = r"(?:\d+(?:\.\d+)?|\.\d+)"
_DURATION = re.compile(rf"^\s*(?P<value>{_NUMBER})\s*(?P<unit>[smhdw]?)\s*$")
#: Several parts, largest unit first, each unit at most once: `1h30m`, `2d12h`, `1w 2d`.
_COMPOUND = re.compile(
    rf"^\s*(?:(?P<w>{_NUMBER})\s*w)?\s*(?:(?P<d>{_NUMBER})\s*d)?\s*(?:(?P<h>{_NUMBER})\s*h)?"
    rf"\s*(?:(?P<m>{_NUMBER})\s*m)?\s*(?:(?P<s>{_NUMBER})\s*s)?\s*$"
)

DURATION_HELP = "a duration such as 90s, 15m, 1h, 1h30m, 15d, 2w or plain seconds"


def parse_duration(value: object) -> float:
    """Return a duration in seconds from `90s`, `15m`, `1h`, `15d`, `2w`, or a plain number of seconds.

    Raises ValueError with a message that says what is allowed. Booleans are refused (YAML turns
    `yes` into True, which is never a duration).
    """
    if isinstance(value, bool):
        raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            raise ValueError(f"duration too large: {value!r}") from None
    elif isinstance(value, str):
        if value.strip().startswith("-") and _parses(value.strip()[1:]):
            raise ValueError(f"a duration must not be negative, got {value!r}")
        seconds = _seconds(value)
    else:
        raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
    if seconds < 0:
        raise ValueError(f"a duration must not be negative, got {value!r}")
    if not math.isfinite(seconds):
        raise ValueError(f"expected a finite duration, got {value!r}")
    return seconds


def _seconds(text: str) -> float:
    """Seconds of a duration string (one part, or several largest first); ValueError otherwise."""
    match = _DURATION.match(text)
    if match:
        return float(match["value"]) * UNITS[match["unit"] or "s"]
    compound = _COMPOUND.match(text)
    if compound and any(compound.groupdict().values()):
        return sum(float(part) * UNITS[unit] for unit, part in compound.groupdict().items() if part)
    raise ValueError(f"expected {DURATION_HELP}, got {text!r}")


def _parses(text: str) -> bool:
    try:
        _seconds(text)
    except ValueError:
        return False
    return True


def format_duration(seconds: float | None) -> str:
    """Format seconds back into the largest unit that divides them exactly (`None` -> `unlimited`)."""
    if seconds is None:
        return "unlimited"
    for unit in ("w", "d", "h", "m"):
        size = UNITS[unit]
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds // size)}{unit}"
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{Decimal(repr(float(seconds))):f}s"  # exact and never in exponent form
