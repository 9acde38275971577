"""The friction/exposure trade-off: how often users are forced to log in against how long a token that
leaks or is stolen stays usable, and the Pareto front of the policies compared.

Exposure is measured, in order of preference:

- `metric`: the mean attacker dwell time (`attacker_dwell_days_mean`, Kaplan-Meier, with its 95%
  interval) when the scenario models thefts: what an attacker who uses the stolen token actually keeps;
- `policy`: otherwise, the **idle window** of the policy: how long a refresh token stays usable after its
  last use, that is the sliding lifetime (plus any idle tolerance), cut by the absolute lifetime counted
  from the login; with neither limit a token never expires, and the window is the whole horizon. It is
  what a token found in a backup, a log or a stolen device gives an attacker who waits to use it. It
  is not the dwell of an attacker who keeps refreshing: under a sliding lifetime without an absolute
  one that attacker is stopped only by reuse detection, which needs a scenario with threats.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sim.core.durations import DAY, parse_duration

FRICTION = "forced_reauth_per_user_month"
#: A metric that, when present in a summary, measures exposure directly.
DWELL = "attacker_dwell_days_mean"

#: Axis labels of the exposure measure, by `exposure_source`.
EXPOSURE_LABELS = {
    "metric": "mean attacker dwell time (days)",
    "policy": "idle window: a leaked refresh token stays usable (days)",
}
#: The same in words, for figure captions and reports.
EXPOSURE_WORDS = {
    "metric": "the mean attacker dwell time (days)",
    "policy": (
        "the idle window: how long a refresh token stays usable after its last use (the sliding lifetime "
        "plus any idle tolerance, cut by the absolute lifetime; with neither limit, the whole horizon)"
    ),
}


def _seconds(value: Any) -> float | None:
    """A duration of a policy in its YAML form, in seconds; None for `unlimited` / `none`."""
    if value is None or (isinstance(value, str) and value.strip().lower() in {"unlimited", "none", "never"}):
        return None
    return parse_duration(value)


def idle_window_days(policy: Mapping[str, Any], horizon_days: float) -> float:
    """How long a refresh token stays usable after its last use under a resolved policy (YAML form), in
    days, at most the horizon (see the module docstring). The worst case is a token last used right at
    its issue, so the absolute lifetime cuts the window whether it counts from the login (`absolute_anchor:
    chain`) or from each token's issue (`token`)."""
    sliding = _seconds(policy.get("sliding_lifetime"))
    absolute = _seconds(policy.get("absolute_lifetime"))
    tolerance = _seconds(policy.get("idle_tolerance")) or 0.0
    limits = [value for value in (None if sliding is None else sliding + tolerance, absolute) if value]
    if not limits:
        return float(horizon_days)
    return min(float(horizon_days), min(limits) / DAY)


def exposure_point(
    metrics: Mapping[str, Any], policy: Mapping[str, Any] | None, horizon_days: float
) -> dict[str, Any]:
    """The exposure of one sweep cell or compared preset.

    `metrics` maps metric names to estimates (objects with `mean` and `ci95`, or dicts with those keys).
    Returns exposure_days, exposure_low, exposure_high and exposure_source (`metric` or `policy`).
    """
    dwell = metrics.get(DWELL)
    mean, (low, high) = _estimate(dwell) if dwell is not None else (math.nan, (math.nan, math.nan))
    if not math.isnan(mean):
        return {"exposure_days": mean, "exposure_low": low, "exposure_high": high,
                "exposure_source": "metric"}
    days = idle_window_days(policy, horizon_days) if policy is not None else float(horizon_days)
    return {"exposure_days": days, "exposure_low": math.nan, "exposure_high": math.nan,
            "exposure_source": "policy"}


def exposure_label(sources: Sequence[str]) -> str:
    """The exposure axis label for points whose `exposure_source` are `sources` (mixed: both named)."""
    kinds = list(dict.fromkeys(sources)) or ["policy"]
    if len(kinds) == 1:
        return EXPOSURE_LABELS[kinds[0]]
    return "exposure (days): attacker dwell where thefts are modelled, else idle window"


def exposure_words(sources: Sequence[str]) -> str:
    """What the exposure axis measures, in words (for a caption)."""
    kinds = list(dict.fromkeys(sources)) or ["policy"]
    return " where the scenario models thefts, else ".join(EXPOSURE_WORDS[k] for k in sorted(kinds))


def pareto_mask(exposure: Any, friction: Any) -> np.ndarray:
    """True for points not dominated on both axes (lower exposure and lower friction are better).

    A point is dominated when another is at least as good on both axes and strictly better on one.
    Points with a missing value are never on the front.
    """
    x = np.asarray(exposure, dtype=float)
    y = np.asarray(friction, dtype=float)
    ok = ~(np.isnan(x) | np.isnan(y))
    mask = np.zeros(len(x), dtype=bool)
    for i in np.nonzero(ok)[0]:
        others = ok.copy()
        others[i] = False
        dominated = others & (x <= x[i]) & (y <= y[i]) & ((x < x[i]) | (y < y[i]))
        mask[i] = not dominated.any()
    return mask


def _estimate(block: Any) -> tuple[float, tuple[float, float]]:
    """(mean, (low, high)) of an estimate object or dict, NaN where missing."""
    if isinstance(block, Mapping):
        mean, (low, high) = block.get("mean"), block.get("ci95", (None, None))
    else:
        mean, (low, high) = block.mean, block.ci95
    return _nan(mean), (_nan(low), _nan(high))


def _nan(value: Any) -> float:
    return math.nan if value is None else float(value)
