"""What a workflow tells the user while it runs. `Progress` says nothing; the command line gives progress
bars on a terminal and one line at a time in a log (`sim.cli.progress`), a notebook can pass its own.

Events, in order: `started(label, total)` for each unit of work (a run's users, a sweep's cells, a
comparison's presets), `advanced(label, done, total)` as it goes, `finished(label, seconds)`; inside a
sweep cell, `shards(label, total)` and `shard_done(label, replication_done)`; `warn(text)` for anything the
user should read (a skipped cell); `end()` once, also after an error or Ctrl-C.
"""

from __future__ import annotations


class Progress:
    """Receives a workflow's progress events; this base class ignores them (`--quiet`)."""

    def warn(self, text: str) -> None:
        """Something the user should read (a skipped cell, a reduced worker count)."""

    def note(self, text: str) -> None:
        """Something worth knowing about the work (cells reused from an interrupted sweep)."""

    def started(self, label: str, total: int, unit: str) -> None:
        """A piece of work starts: `total` units (`users`, `cells`, `presets`) under `label`."""

    def advanced(self, label: str, done: int, total: int) -> None:
        """`done` of the `total` units of `label` are finished."""

    def finished(self, label: str, seconds: float) -> None:
        """The piece of work `label` is finished."""

    def end(self) -> None:
        """The workflow is over (or stopped)."""
