"""The libfaketime clock the server launchers use: a process started with its environment sees the offset,
and an advance reaches a process that is already running (no restart, no cache)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.servers.faketime import FakeTimeClock, faketime_library

pytestmark = pytest.mark.skipif(
    faketime_library() is None, reason="Debian package faketime is not installed (make servers-debian)"
)

# A child that prints its wall clock each time it reads a line, until stdin closes.
_ECHO_CLOCK = "import sys, time\nfor _ in sys.stdin:\n    print(time.time(), flush=True)\n"


def test_a_running_process_follows_the_offset(tmp_path: Path) -> None:
    clock = FakeTimeClock(tmp_path / "offset")
    child = subprocess.Popen(
        [sys.executable, "-c", _ECHO_CLOCK],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **clock.env()},
    )
    assert child.stdin is not None and child.stdout is not None

    def child_time() -> float:
        child.stdin.write("\n")
        child.stdin.flush()
        return float(child.stdout.readline())

    try:
        before = child_time()
        assert abs(before - time.time()) < 5
        clock.advance(86_400)
        shifted = child_time()
        assert 86_400 - 5 < shifted - time.time() < 86_400 + 5
        clock.advance(0.5)
        assert clock.offset == pytest.approx(86_400.5)
        assert clock.now() >= 86_400.5
    finally:
        child.stdin.close()
        child.wait(timeout=10)


def test_the_clock_only_moves_forward(tmp_path: Path) -> None:
    clock = FakeTimeClock(tmp_path / "offset")
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
