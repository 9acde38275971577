"""No work lost: a sweep killed mid-way resumes with --resume and ends with the same tables."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path

import pytest

from sim.cli.main import main
from sim.model.recording import Recorder
from sim.run import executors
from sim.run.shards import Executor, ShardTask, run_shard
from tests.sweep.scenarios import GRID, scenario_text, write
from tests.sweep.test_executors import assert_same_results

ROOT = Path(__file__).resolve().parents[2]
CELLS = 6


def _start(scenario: Path, out: Path) -> subprocess.Popen[str]:
    # TMPDIR: a killed sweep leaves its cell's spool of row tables behind, here rather than in /tmp
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(out.parent)}
    command = [sys.executable, "-m", "sim", "sweep", str(scenario), "--out", str(out), "--workers", "1"]
    pipe = subprocess.PIPE
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=pipe, stderr=pipe, text=True)


def _interrupt_after_first_cell(process: subprocess.Popen[str], out: Path, sig: signal.Signals) -> str:
    """Wait until the first cell is saved, send `sig`, and return what the process wrote to stderr."""
    deadline = time.monotonic() + 60
    while not list(out.glob("cells/*/summary.json")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no cell finished within 60 s"
        time.sleep(0.01)
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    return err


def _done_cells(out: Path) -> int:
    return len(list(out.glob("cells/*/summary.json")))


def test_resume_after_a_kill_gives_the_uninterrupted_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write(tmp_path, scenario_text(GRID, replications=2))
    killed = tmp_path / "killed"
    process = _start(scenario, killed)
    _interrupt_after_first_cell(process, killed, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    assert 1 <= _done_cells(killed) < CELLS, "the kill must land mid-sweep"
    assert not (killed / "summary.json").exists()
    saved = _done_cells(killed)

    assert main(["sweep", str(scenario), "--out", str(killed)]) == 2  # not empty: needs --resume
    assert "use --resume" in capsys.readouterr().err
    assert main(["sweep", str(scenario), "--out", str(killed), "--resume", "--workers", "1"]) == 0
    captured = capsys.readouterr()
    assert f"{saved} of {CELLS} cells already done" in captured.err
    assert captured.err.count(": done in") == CELLS - saved  # only the missing cells ran

    whole = tmp_path / "whole"
    assert main(["sweep", str(scenario), "--out", str(whole), "--workers", "2", "--quiet"]) == 0
    assert_same_results(killed, whole)


def test_ctrl_c_keeps_finished_cells_and_says_how_to_resume(tmp_path: Path) -> None:
    scenario = write(tmp_path, scenario_text(GRID, replications=2))
    out = tmp_path / "out"
    process = _start(scenario, out)
    err = _interrupt_after_first_cell(process, out, signal.SIGINT)
    assert process.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert _done_cells(out) >= 1


def test_resume_refuses_a_changed_sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small = "sweep:\n  grid:\n    policy.sliding_lifetime: [3d, 7d]\n"
    scenario = write(tmp_path, scenario_text(small, replications=2, users=6, mobile_users=2))
    out = tmp_path / "out"
    assert main(["sweep", str(scenario), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert main(["sweep", str(scenario), "--out", str(out), "--resume", "--quiet"]) == 0  # nothing to do

    assert main(["sweep", str(scenario), "--out", str(out), "--resume", "--seed", "6"]) == 2
    err = capsys.readouterr().err
    assert "cannot resume:" in err and "summary.json was written for a different scenario" in err

    other = write(tmp_path, scenario_text(small.replace("7d", "8d"), replications=2, users=6, mobile_users=2))
    assert main(["sweep", str(other), "--out", str(out), "--resume"]) == 2
    assert "holds cells that are not in this sweep (c02-sliding_lifetime=7d)" in capsys.readouterr().err

    assert main(["sweep", str(other), "--out", str(out), "--force", "--quiet", "--workers", "1"]) == 0
    assert sorted(p.name for p in (out / "cells").iterdir()) == [
        "c01-sliding_lifetime=3d",
        "c02-sliding_lifetime=8d",
    ]


def test_a_dead_worker_stops_the_sweep_with_exit_3_and_resume_finishes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    small = "sweep:\n  grid:\n    policy.sliding_lifetime: [3d, 7d]\n"
    scenario = write(tmp_path, scenario_text(small, replications=2, users=6, mobile_users=2))
    calls: list[int] = []

    def dies_on_the_second_cell(tasks: list[ShardTask], workers: int) -> Iterator[tuple[ShardTask, Recorder]]:
        calls.append(len(tasks))
        if len(calls) == 2:
            raise BrokenProcessPool("a worker process died")
        for task in tasks:
            yield task, run_shard(task)

    @contextmanager
    def flaky(workers: int) -> Iterator[Executor]:
        yield dies_on_the_second_cell

    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        patch.setattr(executors, "local_executor", flaky)
        assert main(["sweep", str(scenario), "--out", str(out), "--quiet"]) == 3
    err = capsys.readouterr().err
    assert "the run stopped: cell c02-sliding_lifetime=7d: BrokenProcessPool: a worker process died" in err
    assert "--resume" in err
    assert _done_cells(out) == 1
    assert main(["sweep", str(scenario), "--out", str(out), "--resume", "--workers", "1"]) == 0
    assert "1 of 2 cells already done" in capsys.readouterr().err
    assert (out / "summary.json").is_file()
