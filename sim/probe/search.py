"""Threshold searches: the longest delay at which something still works, found by doubling then bisection.

Every timed finding of the probe has the same shape: an action works at small delays and stops working
beyond a threshold T (a token's lifetime, a replay's grace period). A `Bracket` holds what is known: the
longest delay seen working (`low`) and the shortest seen failing (`high`, None while none has), so that
`low <= T < high`. `next_delay()` doubles `low` until something fails or `limit` is reached, then halves
the bracket until it is `resolution` wide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: Round durations preferred by `Bracket.estimate`, roundest first (a day, an hour, 10 min, a minute, 10 s).
ROUND_STEPS = (86400, 3600, 600, 60, 10)


@dataclass
class Bracket:
    """`low <= threshold < high` (high None: no failure seen), searched up to `limit`."""

    limit: float
    resolution: float
    low: float = 0.0
    high: float | None = None
    #: The first delay tried while nothing is known (doubled from there).
    first: float = 1.0
    #: Exchange ids of the trials that set `low` and `high`.
    low_evidence: list[int] = field(default_factory=list)
    high_evidence: list[int] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """True when the bracket is narrow enough, or the threshold is known to be beyond `limit`."""
        if self.high is None:
            return self.low >= self.limit
        return self.high - self.low <= self.resolution

    @property
    def beyond_limit(self) -> bool:
        """True when the action still worked at `limit`: only a lower bound is known."""
        return self.high is None and self.low >= self.limit

    def next_delay(self) -> float:
        """The next delay to try (doubling, then bisection)."""
        if self.high is None:
            return min(self.limit, max(self.first, 2 * self.low))
        return (self.low + self.high) / 2

    def worked(self, delay: float, evidence: list[int] | None = None) -> None:
        """The action worked at `delay`."""
        if delay >= self.low:
            self.low = delay
            self.low_evidence = list(evidence or [])
        if self.high is not None and self.high <= self.low:  # an inconsistent server: keep the bracket valid
            self.high = None

    def failed(self, delay: float, evidence: list[int] | None = None) -> None:
        """The action failed at `delay`."""
        if self.high is None or delay < self.high:
            self.high = max(delay, self.low)
            self.high_evidence = list(evidence or [])

    def estimate(self) -> float:
        """The threshold's estimate, in whole seconds when it is at least a second.

        Servers keep whole seconds and compare with `>` or `>=`, so a lifetime D shows as a threshold
        anywhere in (D - 1, D + 1]: D lies within a second of the bracket. People configure round numbers,
        so a multiple of 10 s (the roundest, nearest the middle) within a second of the bracket is taken;
        else the one whole second inside the bracket; else the middle, rounded.
        """
        if self.high is None:
            return self.low
        middle = (self.low + self.high) / 2
        if middle < 1:
            return middle
        for step in ROUND_STEPS:
            first = math.ceil((self.low - 1) / step) * step
            candidates = [
                k
                for k in range(int(first), math.floor(self.high + 1) + 1, step)
                if self.low - 1 <= k < self.high + 1 and k > 0
            ]
            if candidates:
                return float(min(candidates, key=lambda k: abs(k - middle)))
        inside = range(math.ceil(self.low), math.floor(self.high) + 1)
        whole = [k for k in inside if self.low <= k < self.high]
        if len(whole) == 1:
            return float(whole[0])
        return float(round(middle))
