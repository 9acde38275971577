"""Ctrl-C and a Dask cluster that goes away: a clean stop (no traceback, no hang, the documented exit
status), finished cells kept, and a resume that completes the sweep exactly as an uninterrupted one."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.faults.scenarios import TINY

ROOT = Path(__file__).resolve().parents[2]
DASK = Path(sys.executable).parent / "dask"
#: Six cells of a few seconds each: long enough to interrupt between two of them.
SWEEP = TINY.replace("faults-tiny", "faults-interrupt").replace("users: 8", "users: 300").replace(
    "horizon: 20d", "horizon: 120d"
) + "sweep:\n  grid:\n    policy.sliding_lifetime: [2d, 5d, 9d]\n    policy.max_tokens_per_user: [2, 5]\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _done_cells(out: Path) -> int:
    return len(list((out / "cells").glob("*/summary.json"))) if (out / "cells").is_dir() else 0


def _wait_for(condition: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds} s")


def _sweep(scenario: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "sim", "sweep", str(scenario), "--out", str(out), *extra],
                            cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("interrupts") / "sweep.yaml"
    path.write_text(SWEEP)
    return path


@pytest.fixture(scope="module")
def whole(scenario: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("whole") / "out"
    proc = subprocess.run([sys.executable, "-m", "sim", "sweep", str(scenario), "--out", str(out), "--quiet",
                           "--workers", "2"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return out


def _same_results(a: Path, b: Path) -> None:
    assert json.loads((a / "summary.json").read_text()) == json.loads((b / "summary.json").read_text())
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()


@pytest.mark.parametrize("attempt", range(3))
def test_ctrl_c_in_a_sweep_never_shows_a_worker_traceback(scenario: Path, whole: Path, tmp_path: Path,
                                                          attempt: int) -> None:
    out = tmp_path / "out"
    process = _sweep(scenario, out, "--workers", "2")
    _wait_for(lambda: _done_cells(out) >= 1 + attempt % 2, 600)
    time.sleep(0.3 * attempt)  # land in different places of a cell
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "--resume" in err
    resumed = _finish(scenario, out, "--workers", "2")
    assert resumed.returncode == 0, resumed.stderr
    _same_results(out, whole)


def _finish(scenario: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sim", "sweep", str(scenario), "--out", str(out), "--resume", "--quiet"]
    return subprocess.run([*command, *extra], cwd=ROOT, capture_output=True, text=True, timeout=900)


Cluster = tuple[str, "subprocess.Popen[str]", "list[subprocess.Popen[str]]"]


@contextmanager
def dask_cluster(workers: int = 1) -> Iterator[Cluster]:
    """A real Dask scheduler and workers on 127.0.0.1, as separate processes that a test can kill."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "text": True}
    scheduler = subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], **quiet)  # type: ignore[call-overload]
    procs = [scheduler]
    try:
        _wait_for(lambda: _port_open(port), 60)
        started = [subprocess.Popen([str(DASK), "worker", address, "--nthreads", "1", "--no-dashboard"],
                                    **quiet) for _ in range(workers)]  # type: ignore[call-overload]
        procs += started
        yield address, scheduler, started
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_scheduler_that_dies_mid_sweep_is_exit_3_and_resume_completes(scenario: Path, whole: Path,
                                                                        tmp_path: Path) -> None:
    out = tmp_path / "out"
    with dask_cluster(workers=2) as (address, scheduler, _):
        process = _sweep(scenario, out, "--scheduler", address)
        _wait_for(lambda: _done_cells(out) >= 1, 600)
        scheduler.kill()
        _, err = process.communicate(timeout=300)
    assert process.returncode == 3, err
    assert "Traceback" not in err and "--resume" in err
    with dask_cluster(workers=2) as (address, _, _):
        resumed = _finish(scenario, out, "--scheduler", address)
    assert resumed.returncode == 0, resumed.stderr
    _same_results(out, whole)


def test_a_cluster_without_workers_stops_after_the_worker_timeout(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with dask_cluster(workers=1) as (address, _, workers):
        process = _sweep(scenario, out, "--scheduler", address, "--worker-timeout", "5s")
        _wait_for(lambda: _done_cells(out) >= 1, 600)
        workers[0].kill()
        _, err = process.communicate(timeout=300)
    assert process.returncode == 3, err
    assert "no worker for 5 s" in err and "Traceback" not in err


def test_a_malformed_scheduler_address_is_bad_input_at_once(scenario: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "sim", "sweep", str(scenario), "--out", str(tmp_path / "o"),
                           "--scheduler", "notaurl"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "is not a scheduler address" in proc.stderr, proc.stderr
    assert time.monotonic() - started < 60 and not (tmp_path / "o").exists()
