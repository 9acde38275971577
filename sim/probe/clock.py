"""Time for the probe: the clock its measurements are read on, and the limit on its request rate.

Every duration the probe measures is a difference of `ProbeClock.now()` readings, and every wait is
`ProbeClock.sleep_until(t)`. The real clock is `time.monotonic`/`time.sleep`; a test passes a clock that moves
the server's own time instead (libfaketime's offset, or a virtual clock shared with an in-process server), so
that days of policy take no real time.

The request rate is a promise to the server's operators, so `RateLimiter` always counts real time, whatever
the probe's clock is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class ProbeClock(Protocol):
    """Where the probe reads the time and how it waits (seconds; never going backwards)."""

    def now(self) -> float:
        """The current time in seconds (any origin)."""
        ...

    def sleep_until(self, when: float) -> None:
        """Return once `now() >= when` (at once when that time has passed)."""
        ...


class RealClock:
    """The machine's monotonic clock: the probe waits in real time."""

    def now(self) -> float:
        """`time.monotonic()`."""
        return time.monotonic()

    def sleep_until(self, when: float) -> None:
        """Sleep (in real time) until `when`."""
        while True:
            remaining = when - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(remaining)


class RateLimiter:
    """At most `rate` requests per second: consecutive requests start at least `1 / rate` s apart.

    The spacing is strict (no bursts): a server that rate-limits per second never sees more than `rate`
    requests in any one-second window from the probe. `now`/`sleep` default to the real clock.
    """

    def __init__(
        self,
        rate: float,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not rate > 0:
            raise ValueError(f"the request rate must be positive, got {rate!r}")
        self.rate = rate
        self._interval = 1.0 / rate
        self._now = now
        self._sleep = sleep
        self._last: float | None = None

    def wait(self) -> None:
        """Block until the next request may start, and count it as started."""
        if self._last is not None:
            due = self._last + self._interval
            while (remaining := due - self._now()) > 0:
                self._sleep(remaining)
        self._last = self._now()
