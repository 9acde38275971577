"""One number format for every metric, wherever it is shown (run, sweep, compare, check, reports).

- Shares are percentages (`pct`): one decimal from 1% up, two below 1%, three below 0.1% (`27.0%`).
- Other numbers have three significant digits, no exponent, thousands separated (`num`: `0.454`, `80.5`,
  `1,234`).
- An estimate is `mean (low–high)` with its 95% interval (`with_ci`); without an interval, the mean alone.
- An interval of zero width (every replication gave the same value) is not certainty: it is shown as
  `mean (= in every replication)` rather than as `(x–x)`.
- Differences carry a sign (`+0.12`, `-3.4 pp` for shares).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sim.core.metric_names import is_share

DASH = "–"
#: What a zero-width interval is shown as.
SAME_EVERYWHERE = "= in every replication"


def pct(share: float | None, sign: str = "") -> str:
    """A share as a percentage (see the module docstring)."""
    if share is None or math.isnan(share):
        return "n/a"
    value = 100.0 * share
    if value == 0:
        return "0%"
    decimals = 0 if abs(value) >= 99.95 else 1 if abs(value) >= 1 else (2 if abs(value) >= 0.1 else 3)
    return f"{value:{sign}.{decimals}f}%"


def num(value: float | None, sign: str = "") -> str:
    """A number to three significant digits without exponent (`0.454`, `80.5`, `1,234`)."""
    if value is None or math.isnan(value):
        return "n/a"
    if value == 0:
        return "0"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):{sign},}"
    decimals = max(0, min(6, 2 - math.floor(math.log10(abs(value)))))
    text = f"{value:{sign},.{decimals}f}"
    return "0" if float(text.replace(",", "")) == 0 else text


def _parts(estimate: Any) -> tuple[float | None, float | None, float | None]:
    if estimate is None:
        return None, None, None
    if isinstance(estimate, Mapping):
        low, high = estimate.get("ci95", (None, None))
        return estimate.get("mean"), low, high
    low, high = estimate.ci95
    return estimate.mean, low, high


def formatter(metric: str | None = None, share: bool | None = None) -> Any:
    """`pct` for a share metric, else `num`."""
    return pct if (share if share is not None else bool(metric and is_share(metric))) else num


def interval(estimate: Any, fmt: Any = num, compact: bool = False) -> str:
    """`(low–high)` of an estimate, `(= in every replication)` (compact: `(=)`) when it has no width,
    or ''."""
    mean, low, high = _parts(estimate)
    if low is None or high is None:
        return ""
    if low == high and mean is not None and low == mean:
        return "(=)" if compact else f"({SAME_EVERYWHERE})"
    sep = " to " if low < 0 or high < 0 else DASH  # `(-1.1 to 7.4%)` reads better than `(-1.1–7.4%)`
    if fmt is pct:
        return f"({pct(low).rstrip('%')}{sep}{pct(high)})"
    return f"({fmt(low)}{sep}{fmt(high)})"


def with_ci(estimate: Any, fmt: Any = num, compact: bool = False, separator: str = " ") -> str:
    """`mean (low–high)`, the interval left out when there is none (`separator` between the two)."""
    mean, _, _ = _parts(estimate)
    text = fmt(mean)
    ci = interval(estimate, fmt, compact)
    return f"{text}{separator}{ci}" if ci else text


def metric_text(name: str, estimate: Any, compact: bool = False, separator: str = " ") -> str:
    """An estimate of metric `name` in its format (a share as a percentage); `compact` writes a
    zero-width interval as `(=)` (for tables with a footnote)."""
    return with_ci(estimate, formatter(name), compact, separator)


def difference_text(value: float | None, share: bool = False) -> str:
    """A signed difference: percentage points for a share (`+1.2 pp`), else `num` with a sign."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value * 100:+.1f} pp" if share else num(value, "+")


def difference_with_ci(
    mean: float | None, low: float | None, high: float | None, share: bool = False, compact: bool = False,
    separator: str = " ",
) -> str:
    """`+0.12 (+0.05 to +0.2)`: a signed difference and its interval."""
    text = difference_text(mean, share)
    if mean is None or low is None or high is None:
        return text
    if low == high == mean:
        return f"{text}{separator}" + ("(=)" if compact else f"({SAME_EVERYWHERE})")
    return f"{text}{separator}({difference_text(low, share)} to {difference_text(high, share)})"


def zero_width(estimate: Any) -> bool:
    """True when an estimate's interval has no width (every replication gave the same value)."""
    mean, low, high = _parts(estimate)
    return mean is not None and low is not None and low == high == mean
