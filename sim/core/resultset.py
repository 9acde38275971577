"""A results folder written as a whole: staged, locked, swapped in at the end, listed in a manifest.

Every workflow that writes into `--out DIR` does so through a `ResultSet`:

1. `open` checks that DIR can be written before any work starts (a file, a read-only folder, a dangling
   symlink or `/proc/...` fail at once), refuses a non-empty DIR without `force`, and locks DIR (an
   `flock` on the folder itself, released when the process ends, even by SIGKILL; no lock file is left
   behind): a second writer gets `OutputBusy` ("DIR is being written by another tokensim, pid N").
2. The workflow writes every file into a staging folder inside DIR (`.tokensim-staging-<id>/`, the same
   file system), through `path(name)`.
3. `commit` takes away the old manifest (the folder is then marked incomplete), moves every staged file
   into place (a rename: no copy, no disk space needed), deletes the files the *old manifest* lists that
   the new set does not have (a stale `report.html`, the CSV tables of an earlier `--format csv` run),
   and writes the new manifest last. A crash at any point leaves either the old complete set, or a
   folder without a complete manifest, which readers refuse; never a mix that looks complete.

Only files a tokensim manifest lists, and tokensim's own staging folders, are ever deleted: a file the
user put into DIR stays where it is.

Readers call `verify(DIR)`: the manifest must be complete and every file it lists present with its
recorded size.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim import __version__
from sim.core.output import new_file_mode, write_text_atomic
from sim.core.stop import check_stop

MANIFEST = ".tokensim-manifest.json"
STAGING_PREFIX = ".tokensim-staging-"
MANIFEST_FORMAT = 1
#: Files of tokensim's own book-keeping in a results folder (never listed in the manifest).
BOOKKEEPING = (MANIFEST,)


class OutputError(Exception):
    """The output folder cannot be used (not writable, not empty without --force, ...): bad input."""


class OutputBusy(OutputError):
    """Another tokensim process is writing the same output folder."""


class IncompleteResults(OutputError):
    """A results folder that is incomplete or whose files come from different runs."""


@dataclass
class Manifest:
    """What one complete write of a results folder put there (paths relative to the folder)."""

    run_id: str
    kind: str
    #: relative path -> {"size": bytes, "group": "results" | "report" | ...}
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    tool_version: str = __version__

    def to_json(self) -> str:
        """The manifest file's text."""
        content = {"format": MANIFEST_FORMAT, "tool": "tokensim", "tool_version": self.tool_version,
                   "run_id": self.run_id, "kind": self.kind, "complete": True, "files": self.files}
        return json.dumps(content, indent=2, sort_keys=False) + "\n"

    @classmethod
    def read(cls, folder: Path) -> Manifest | None:
        """The folder's manifest, or None when it has none (or one that tokensim did not write)."""
        path = Path(folder) / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("tool") != "tokensim" or not data.get("complete"):
            return None
        files = data.get("files")
        if not isinstance(files, dict):
            return None
        return cls(str(data.get("run_id")), str(data.get("kind")), files, str(data.get("tool_version")))

    def paths(self, group: str | None = None) -> list[str]:
        """The listed files, optionally of one group only."""
        return [name for name, entry in self.files.items() if group is None or entry.get("group") == group]


def check_writable(out: Path) -> None:
    """Raise OutputError at once when `out` cannot be a results folder (before any work is done)."""
    if out.is_symlink() and not out.exists():
        raise OutputError(f"--out {out} is a symbolic link to {os.readlink(out)}, which does not exist")
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} exists and is not a folder")
    parent = out if out.exists() else _existing_parent(out)
    if not parent.is_dir():
        raise OutputError(f"--out {out}: {parent} is not a folder")
    probe = parent / f".tokensim-write-test-{uuid.uuid4().hex[:8]}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"--out {out} cannot be written: {exc.strerror or exc}") from None


def _existing_parent(path: Path) -> Path:
    for parent in path.absolute().parents:
        if parent.exists():
            return parent
    return Path("/")  # pragma: no cover


def is_empty(folder: Path, ignore: Iterable[str] = ()) -> bool:
    """True when the folder holds nothing but tokensim's book-keeping (and the names in `ignore`)."""
    skip = {*BOOKKEEPING, *ignore}
    return not [p for p in folder.iterdir() if p.name not in skip and not p.name.startswith(STAGING_PREFIX)]


class ResultSet:
    """One write of a results folder (see the module docstring). Use it as a context manager:

    ```
    with ResultSet.open(out, kind="run", force=force) as results:
        summary.write(results.path("summary.json")) ...
        results.commit()
    ```
    Leaving the block without `commit` (an error, Ctrl-C) removes the staged files and leaves the folder
    as it was.
    """

    def __init__(self, out: Path, kind: str, group: str = "results"):
        self.out = Path(out)
        self.kind = kind
        self.group = group
        self.run_id = uuid.uuid4().hex
        self.staging = self.out / f"{STAGING_PREFIX}{self.run_id[:12]}"
        self._lock: int | None = None
        self._scratch: list[Path] = []
        self._created = False
        self.committed = False

    @classmethod
    def open(
        cls, out: Path, kind: str, force: bool = False, keep: bool = False, group: str = "results",
        allow: Iterable[str] = (),
    ) -> ResultSet:
        """Check, lock and prepare `out`; OutputError when it cannot be used.

        `force`: replace an earlier result (only tokensim's files are removed). `keep`: the folder's
        current results stay and this write adds to them (a report, a resumed sweep); `allow`: names
        that may already be there without `force` (a sweep's `cells` folder when resuming).
        """
        out = Path(out)
        check_writable(out)
        results = cls(out, kind, group)
        results._created = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        results._take_lock()
        try:
            if not (force or keep) and not is_empty(out, allow):
                raise OutputError(
                    f"--out {out} is not empty; use --force to replace the results tokensim wrote there "
                    "(files it did not write are kept)"
                )
            results._remove_stale_staging()
            results.staging.mkdir()
        except BaseException:
            results.release()
            raise
        return results

    def _take_lock(self) -> None:
        fd = os.open(self.out, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _lock_holder(fd)
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise
            raise OutputBusy(f"{self.out} is being written by another tokensim, pid {holder}") from None
        self._lock = fd

    def _remove_stale_staging(self) -> None:
        # We hold the lock: any staging folder left here belongs to a tokensim that was killed.
        for stale in self.out.glob(f"{STAGING_PREFIX}*"):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)

    def scratch(self, name: str) -> Path:
        """A folder for this write's temporary files beside the staging folder (removed at the end)."""
        folder = self.out / f"{self.staging.name}-{name}"
        folder.mkdir(exist_ok=True)
        self._scratch.append(folder)
        return folder

    def path(self, name: str) -> Path:
        """Where to write the result file `name` (a path relative to the folder) before the commit."""
        target = self.staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def commit(
        self, replace_groups: Iterable[str] | None = None, in_place: Iterable[str] = ()
    ) -> list[Path]:
        """Swap the staged files in (see the module docstring); return the final paths.

        `replace_groups`: the groups of the old manifest whose files this write replaces (default: all of
        them for a "results" write, only its own group otherwise); files of other groups stay listed.
        `in_place`: files this write already put into the folder itself (a sweep's cells, saved as they
        finished so that a killed sweep can resume), listed in the manifest as they are.
        """
        check_stop()  # a SIGTERM whose exception was lost must not let the results be swapped in
        old = Manifest.read(self.out)
        groups = set(replace_groups) if replace_groups is not None else (
            None if self.group == "results" else {self.group}
        )
        staged = sorted(p for p in self.staging.rglob("*") if p.is_file())
        manifest = Manifest(self.run_id, self.kind if old is None or self.group == "results" else old.kind)
        if old is not None:
            for name, entry in old.files.items():
                if groups is not None and entry.get("group") not in groups:
                    manifest.files[name] = entry
        mode = new_file_mode()
        (self.out / MANIFEST).unlink(missing_ok=True)  # from here the folder is incomplete
        final = []
        for source in staged:
            name = source.relative_to(self.staging).as_posix()
            target = self.out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(source, mode)
            os.replace(source, target)
            manifest.files[name] = {"size": target.stat().st_size, "group": self.group}
            final.append(target)
        for name in in_place:
            manifest.files[name] = {"size": (self.out / name).stat().st_size, "group": self.group}
        if old is not None:
            for name in old.paths():
                if name not in manifest.files:
                    _remove_listed(self.out, name)
        write_text_atomic(self.out / MANIFEST, manifest.to_json())
        os.chmod(self.out / MANIFEST, mode)
        shutil.rmtree(self.staging, ignore_errors=True)
        self.committed = True
        return final

    def release(self) -> None:
        """Remove the staged files (when not committed) and release the lock."""
        if not self.committed:
            shutil.rmtree(self.staging, ignore_errors=True)
        for folder in self._scratch:
            shutil.rmtree(folder, ignore_errors=True)
        if self._lock is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock, fcntl.LOCK_UN)
            os.close(self._lock)
            self._lock = None
        if self._created and not self.committed:
            with contextlib.suppress(OSError):  # only when it is still empty: a folder this write made
                self.out.rmdir()

    def __enter__(self) -> ResultSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock_holder(fd: int) -> str:
    """The pid holding an flock on the file behind `fd`, from /proc/locks ("unknown" where it cannot tell)."""
    info = os.fstat(fd)
    inode = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            if "FLOCK" in fields and inode in fields:
                return fields[fields.index(inode) - 1]
    except OSError:  # pragma: no cover - not Linux
        pass
    return "unknown"


def _remove_listed(folder: Path, name: str) -> None:
    """Delete a file an old manifest lists (never a folder), and its folders when they end up empty."""
    path = folder / name
    if path.is_file() or path.is_symlink():
        path.unlink(missing_ok=True)
    parent = path.parent
    while parent != folder and parent.is_dir():
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent


def verify(folder: Path, required: Iterable[str] = (), group: str | None = "results") -> Manifest:
    """The folder's manifest when its results are complete and from one run; IncompleteResults otherwise.

    Every file the manifest lists (of `group`: by default the results, not a report that is about to be
    written again) must exist with its recorded size, and every name in `required` must be listed.
    """
    folder = Path(folder)
    manifest = Manifest.read(folder)
    if manifest is None:
        if (folder / "summary.json").exists() or (folder / "comparison.json").exists():
            raise IncompleteResults(
                f"{folder}: its results are incomplete (no complete {MANIFEST}: the run that wrote them "
                "stopped before the end, or an older tokensim wrote them); run it again"
            )
        raise IncompleteResults(f"{folder}: no tokensim results here (no summary.json or comparison.json)")
    for name, entry in manifest.files.items():
        if group is not None and entry.get("group") != group:
            continue
        path = folder / name
        if not path.is_file():
            raise IncompleteResults(f"{folder}: {name} is missing (the results are incomplete); run it again")
        if path.stat().st_size != entry.get("size"):
            raise IncompleteResults(
                f"{folder}: {name} is not the file this run wrote (files from different runs); run it again"
            )
    missing = [name for name in required if name not in manifest.files]
    if missing:
        raise IncompleteResults(f"{folder}: the results have no {', '.join(missing)}")
    return manifest


@contextlib.contextmanager
def staged(out: Path, kind: str, force: bool = False) -> Iterator[ResultSet]:
    """`ResultSet.open` as a context manager that commits when the block ends without an error."""
    with ResultSet.open(out, kind, force=force) as results:
        yield results
        results.commit()
