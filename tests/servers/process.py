"""Start a test server as a child process on 127.0.0.1, wait (bounded) until it answers, stop it always."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

#: The repository root (the servers run from there, so that `tests.servers...` modules import).
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_answers(url: str, process: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    """Poll `url` until the server answers with any HTTP status; raise with its log if it dies or is late."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with status {process.returncode}:\n{_tail(log)}")
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not answer {url} within {timeout:.0f} s:\n{_tail(log)}")


@contextlib.contextmanager
def running(
    command: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path = ROOT
) -> Iterator[subprocess.Popen]:
    """Run `command` (its output to `log`) and stop it, with its process group, when the block ends."""
    with open(log, "wb") as out:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        try:
            yield process
        finally:
            _stop(process)


def _die_with_parent() -> None:
    """In the child: ask Linux to send SIGTERM when the test process dies, even if it is killed outright
    (a killed pytest would otherwise leave its servers running)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def _tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
