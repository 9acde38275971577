"""The measured window of a run: [warmup, horizon]."""

from __future__ import annotations

from dataclasses import dataclass

from sim.core.durations import MONTH


@dataclass(frozen=True)
class Window:
    """The measured window of a run."""

    warmup: float
    horizon: float

    @property
    def length(self) -> float:
        """Seconds measured."""
        return self.horizon - self.warmup

    @property
    def months(self) -> float:
        """Months (of 30 days) measured."""
        return self.length / MONTH
