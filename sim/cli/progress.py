"""Progress of a running workflow at the terminal: rich bars on a terminal, plain lines in a log.

Bars show every piece of work (a run's users, a sweep's cells and the current cell's users, a comparison's
presets) with elapsed and remaining time; they disappear when done. In a pipe or a CI log, one line is
printed when a piece of work starts and finishes, and a line at most every `PLAIN_EVERY` seconds while it
runs, so a long run is never silent for minutes.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from sim.experiments.progress import Progress as WorkflowProgress

#: Seconds between two plain progress lines of one piece of work.
PLAIN_EVERY = 10.0
#: Units of work reported at every step in a log (each is long enough to deserve its line).
COUNTED_EVERY_STEP = ("cells", "presets", "experiments")


class RichProgress(WorkflowProgress):
    """Progress bars on a terminal (stderr)."""

    def __init__(self, console: Console):
        self.console = console
        self.bars = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.tasks: dict[str, TaskID] = {}
        self._started = False

    def _start(self) -> None:
        if not self._started:
            self.bars.start()
            self._started = True

    def warn(self, text: str) -> None:
        """Print a warning above the bars."""
        self.console.print("[yellow]warning:[/] " + escape(text), highlight=False)

    def note(self, text: str) -> None:
        """Print a note above the bars."""
        self.console.print(escape(text), style="dim", highlight=False)

    def started(self, label: str, total: int, unit: str) -> None:
        """Add a bar (a finished bar of the same label is replaced)."""
        self._start()
        if label in self.tasks:
            self.bars.remove_task(self.tasks.pop(label))
        self.tasks[label] = self.bars.add_task(escape(label), total=max(total, 1), unit=unit)

    def advanced(self, label: str, done: int, total: int) -> None:
        """Move a bar."""
        if label in self.tasks:
            self.bars.update(self.tasks[label], completed=done, total=max(total, 1))

    def finished(self, label: str, seconds: float) -> None:
        """Remove a finished piece's bar (a sweep's cell, a comparison's preset), keep the overall ones."""
        task = self.tasks.pop(label, None)
        if task is not None and len(self.tasks) > 0:
            self.bars.remove_task(task)
        elif task is not None:
            self.tasks[label] = task

    def end(self) -> None:
        """Remove every bar."""
        if self._started:
            self.bars.stop()
            self._started = False


class PlainProgress(WorkflowProgress):
    """One line per event, for logs and pipes (stderr)."""

    def __init__(self, stream: TextIO, every: float = PLAIN_EVERY):
        self.stream = stream
        self.every = every
        self._last: dict[str, float] = {}
        self._totals: dict[str, tuple[int, str]] = {}
        self._begun: dict[str, float] = {}
        self._done: dict[str, int] = {}

    def _say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def warn(self, text: str) -> None:
        """`warning: ...`."""
        self._say(f"warning: {text}")

    def note(self, text: str) -> None:
        """The note as a line."""
        self._say(text)

    def started(self, label: str, total: int, unit: str) -> None:
        """`office-workers: 1,500 users to simulate`."""
        self._totals[label] = (total, unit)
        self._begun[label] = self._last[label] = time.monotonic()
        self._say(f"{label}: {total:,} {unit} to go")

    def advanced(self, label: str, done: int, total: int) -> None:
        """A line at most every `every` seconds: `office-workers: 750/1,500 users (50%), 12 s`; for whole
        steps (cells, presets) a line per step: `sweep-sliding-cap: 3/6 cells done`."""
        now = time.monotonic()
        unit = self._totals.get(label, (total, ""))[1]
        if unit in COUNTED_EVERY_STEP:
            if done > self._done.get(label, 0):
                self._done[label] = done
                self._say(f"{label}: {done:,}/{total:,} {unit} done")
            return
        if label not in self._last or now - self._last[label] < self.every or done >= total:
            return
        self._last[label] = now
        share = done / total if total else 1.0
        self._say(f"{label}: {done:,}/{total:,} {unit} ({share:.0%}), {now - self._begun[label]:.0f} s")

    def finished(self, label: str, seconds: float) -> None:
        """`office-workers: done in 21.3 s`."""
        self._say(f"{label}: done in {seconds:.1f} s")
        self._last.pop(label, None)


def make_progress(quiet: bool, console: Console | None = None) -> WorkflowProgress:
    """Rich bars on a terminal, plain lines on stderr otherwise, nothing with `--quiet`."""
    if quiet:
        return WorkflowProgress()
    console = console or Console(stderr=True)
    return RichProgress(console) if console.is_terminal else PlainProgress(sys.stderr)
