"""Starting, watching and stopping the daemons of a test server.

Shared by the server launchers in this package. Every daemon runs in its own process group (so the workers
it forks are stopped with it), writes its output to a log file in the test's temporary directory, and is
stopped by process-group id: SIGTERM, then SIGKILL after a bounded wait.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

import httpx


class ServerStartError(RuntimeError):
    """A server did not come up: the message has the command and the end of its logs."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Daemon:
    """One server process: started in its own process group with its output in `log_path`."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._env = {**os.environ, **(env or {})}
        self._cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        """Start the process (not waiting for it to answer)."""
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self._env,
            cwd=self._cwd,
            start_new_session=True,
        )

    @property
    def pid(self) -> int | None:
        """The process id (also its process-group id), or None before `start`."""
        return None if self._process is None else self._process.pid

    def exit_code(self) -> int | None:
        """None while the process runs, else its exit status."""
        return None if self._process is None else self._process.poll()

    def stop(self, grace: float = 10.0) -> None:
        """Stop the process and everything in its process group: SIGTERM, then SIGKILL after `grace` s."""
        process = self._process
        if process is not None:
            if process.poll() is None:
                self._signal_group(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    self._signal_group(process.pid, signal.SIGKILL)
                    process.wait(timeout=grace)
            # workers that outlived their manager are in the same group
            self._signal_group(process.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None

    @staticmethod
    def _signal_group(pgid: int, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signum)

    def log_tail(self, lines: int = 60) -> str:
        """The last `lines` lines of the process's output."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def wait_until_ready(
    answers: Callable[[], bool],
    *,
    what: str,
    daemons: Sequence[Daemon],
    timeout: float,
    interval: float = 0.1,
) -> float:
    """Call `answers()` until it returns True; the seconds it took.

    Raises `ServerStartError` with the daemons' logs when a daemon exits or `timeout` seconds pass.
    Connection errors from `answers` count as "not yet".
    """
    started = time.monotonic()
    deadline = started + timeout
    while True:
        for daemon in daemons:
            code = daemon.exit_code()
            if code is not None:
                raise ServerStartError(
                    failure_report(f"{what}: {daemon.name} exited with status {code}", daemons)
                )
        try:
            if answers():
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        if time.monotonic() >= deadline:
            raise ServerStartError(failure_report(f"{what} did not answer within {timeout:.0f} s", daemons))
        time.sleep(interval)


def failure_report(headline: str, daemons: Sequence[Daemon]) -> str:
    """`headline`, then each daemon's command line and the end of its log."""
    parts = [headline]
    for daemon in daemons:
        parts.append(f"--- {daemon.name}: {' '.join(daemon.argv)}\n{daemon.log_tail()}")
    return "\n".join(parts)
