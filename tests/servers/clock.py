"""A server clock the test moves forward for the conformance servers (django-oauth-toolkit, oidc-provider),
both its real-time and its monotonic clock (Python and Node read both); tests/servers/faketime.py is the
Debian daemons' clock, whose monotonic clock is left alone.

The server process is started with `LD_PRELOAD=libfaketime.so.1` and `FAKETIME_TIMESTAMP_FILE` pointing at a
file that holds an offset such as `+86400` (seconds added to the real clock); `FAKETIME_NO_CACHE=1` makes
libfaketime read the file at every clock call, so a new offset is seen by the server's very next request.
The server's clock keeps running in real time between jumps, which is what `now()` reports: seconds since
the server started, as the server sees them. Checked with CPython (`time.time`, `datetime.now`) and Node
(`Date.now`, `performance.now`): both follow the file.
"""

from __future__ import annotations

import glob
import os
import time
from pathlib import Path


def libfaketime() -> str | None:
    """The path of libfaketime's thread-safe library, or None when the `faketime` package is not installed.

    The servers are multi-threaded (Django's runserver, Node's libuv pool): the plain `libfaketime.so.1`
    shares its buffers between threads, and about one login in a thousand then saw a wrong time.
    """
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))
    return found[0] if found else None


class FakeTimeClock:
    """A `tests.servers.base.ServerClock` for a server started with `env()` in its environment."""

    def __init__(self, directory: Path):
        library = libfaketime()
        if library is None:
            raise RuntimeError("libfaketime is not installed: run `make servers`")
        self._library = library
        self._file = Path(directory) / "faketime.offset"
        self._offset = 0.0
        self._write()
        self._started = time.time()

    def env(self) -> dict[str, str]:
        """Environment variables that put a process under this clock."""
        return {
            "LD_PRELOAD": self._library,
            "FAKETIME_TIMESTAMP_FILE": str(self._file),
            "FAKETIME_NO_CACHE": "1",
            # Python and Node read the real-time and the monotonic clock; both must move together.
            "DONT_FAKE_MONOTONIC": "0",
        }

    def mark_started(self) -> None:
        """Count `now()` from this moment (call it when the server process is started)."""
        self._started = time.time()

    def advance(self, seconds: float) -> None:
        """Move the server's clock forward by `seconds`."""
        if seconds < 0:
            raise ValueError(f"a server clock only moves forward, got {seconds}")
        self._offset += seconds
        self._write()

    def now(self) -> float:
        """Seconds since the server started, as the server sees them."""
        return time.time() - self._started + self._offset

    @property
    def offset(self) -> float:
        """Seconds added to the real clock so far."""
        return self._offset

    def _write(self) -> None:
        # Written whole and renamed, so the server never reads half a number.
        tmp = self._file.with_suffix(".tmp")
        tmp.write_text(f"{self._offset:+.6f}\n", encoding="ascii")
        os.replace(tmp, self._file)
