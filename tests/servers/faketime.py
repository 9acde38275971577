"""A server clock the test moves: libfaketime (Debian's `faketime` package) preloaded into the daemon.

The daemon is started with `LD_PRELOAD=libfaketimeMT.so.1` and `FAKETIME_TIMESTAMP_FILE` pointing at a
file that holds the offset (`+90.5` = 90.5 seconds ahead of the real clock). With `FAKETIME_NO_CACHE=1`
libfaketime reads the file on every `time()`/`gettimeofday()`/`clock_gettime(CLOCK_REALTIME)` call, so
`advance()` takes effect at the server's next request. The monotonic clock is left alone
(`FAKETIME_DONT_FAKE_MONOTONIC=1`): servers use it for socket and worker timeouts, not for token lifetimes,
and a jump there would only time out idle connections.

The offset file is replaced atomically (write + rename), so a server never reads half a number.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

#: Where Debian's libfaketime package puts the libraries (multi-threaded build: the servers run threads).
_LIBRARY_DIRS = (
    Path("/usr/lib/x86_64-linux-gnu/faketime"),
    Path("/usr/lib/aarch64-linux-gnu/faketime"),
    Path("/usr/lib/faketime"),
)
_LIBRARY_NAME = "libfaketimeMT.so.1"


def faketime_library() -> Path | None:
    """The path of libfaketime's multi-threaded library, or None when the `faketime` package is missing."""
    for directory in _LIBRARY_DIRS:
        candidate = directory / _LIBRARY_NAME
        if candidate.is_file():
            return candidate
    return None


class FakeTimeClock:
    """A `ServerClock` backed by a libfaketime offset file; pass `env()` to the daemon you start."""

    def __init__(self, offset_file: Path) -> None:
        library = faketime_library()
        if library is None:
            raise RuntimeError(
                "libfaketime not found (Debian package `faketime`): run `make servers` "
                "(scripts/servers/install-debian.sh) to install it"
            )
        self._library = library
        self._file = offset_file
        self._offset = 0.0
        self._started = time.monotonic()
        self._write()

    def env(self) -> dict[str, str]:
        """Environment variables that put a daemon (and the processes it forks) on this clock."""
        preload = os.environ.get("LD_PRELOAD", "")
        return {
            "LD_PRELOAD": f"{self._library} {preload}".strip(),
            "FAKETIME_TIMESTAMP_FILE": str(self._file),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            # the offset is written with a decimal point; libfaketime parses it with the C library
            "LC_NUMERIC": "C",
        }

    @property
    def offset(self) -> float:
        """Seconds the server's clock is ahead of the real one."""
        return self._offset

    def advance(self, seconds: float) -> None:
        """Move the server's clock forward by `seconds` (visible at its next request)."""
        if seconds < 0:
            raise ValueError(f"a server clock only moves forward, got {seconds} s")
        self._offset += seconds
        self._write()

    def now(self) -> float:
        """Seconds since the clock was set up (the server's start), as the server sees them."""
        return time.monotonic() - self._started + self._offset

    def _write(self) -> None:
        partial = self._file.with_suffix(".partial")
        partial.write_text(f"+{self._offset:.3f}\n", encoding="ascii")
        partial.chmod(0o644)  # a daemon that dropped its privileges must still read it
        os.replace(partial, self._file)
