"""A stop asked for by a signal (SIGTERM), remembered so that it cannot be lost.

The command line's SIGTERM handler records the request and raises `Terminated`. Python runs a signal
handler between two bytecodes of the main thread, wherever it is, and when that is inside a callback
whose exceptions Python ignores (the logging module's at-fork hook after a worker process is started, a
finalizer) the exception is printed and dropped: the run would go on and write its results. So the places
that must not go on after a stop check the recorded request too: each shard collected, and the commit
that swaps a result set in.
"""

from __future__ import annotations


class Terminated(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C (workers stopped, temporary files removed)."""


_requested = False


def request_stop() -> None:
    """Record that the process was asked to stop (called from a signal handler)."""
    global _requested
    _requested = True


def clear_stop() -> None:
    """Forget an earlier request (a new command starts)."""
    global _requested
    _requested = False


def check_stop() -> None:
    """Raise `Terminated` if a stop was asked for and its exception may have been lost on the way."""
    if _requested:
        raise Terminated()
