"""Every command at a real terminal (a pseudo-terminal, as a person types it), with the progress display on.

CI has no terminal, so without these tests a crash that only happens when rich draws its bars (or when
argparse formats a help text) would never be seen. Each command runs in a child process attached to a
pty (pexpect); the test fails on any traceback, on a wrong exit status, and when the progress display
did not show.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest

from sim.cli.main import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
TINY = """\
name: terminal-tiny
seed: 2
horizon: 20d
warmup: 2d
replications: 2
policy: {preset: visma_connect, sliding_lifetime: 5d, max_tokens_per_user: 3}
population:
  - name: office
    users: 12
    devices: 2
    activity: {schedule: weekdays, sessions_per_day: 2, session_duration: {exponential: {mean: 1h}}}
requirements:
  - forced_reauth_per_user_month < 50
"""
SWEEP = TINY.replace("terminal-tiny", "terminal-sweep") + (
    "sweep:\n  grid:\n    policy.sliding_lifetime: [2d, 9d]\n"
)


def at_a_terminal(args: list[str], timeout: float = 240) -> tuple[int, str]:
    """Run `python -m sim ARGS` on a pseudo-terminal 120 columns wide; (exit status, everything shown)."""
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(sys.executable, ["-m", "sim", *args], cwd=str(ROOT), env=env,
                          dimensions=(40, 120), encoding="utf-8", codec_errors="replace", timeout=timeout)
    child.expect(pexpect.EOF)
    child.close()
    status = child.exitstatus if child.exitstatus is not None else 128 + (child.signalstatus or 0)
    return status, child.before or ""


def shown(args: list[str], expect: int = 0) -> str:
    status, text = at_a_terminal(args)
    assert "Traceback" not in text, text[-3000:]
    assert status == expect, text[-3000:]
    return text


HELPS = [["--help"], ["-h"], ["--version"], *([name, "--help"] for name in COMMANDS)]


@pytest.mark.parametrize("args", HELPS)
def test_help_and_version_at_a_terminal(args: list[str]) -> None:
    text = shown(args)
    assert "tokensim" in text or "usage" in text
    assert "%%" not in text  # a percent sign escaped twice: shown as "95%%"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("terminal")
    (folder / "tiny.yaml").write_text(TINY)
    (folder / "sweep.yaml").write_text(SWEEP)
    return folder


def test_run_shows_its_progress_and_summary(files: Path) -> None:
    text = shown(["run", str(files / "tiny.yaml"), "--out", str(files / "run"), "--workers", "2", "--report"])
    assert "\x1b[" in text  # colour and cursor control: rich drew on the terminal
    assert "━" in text and "terminal-tiny" in text  # the progress bar was drawn
    assert "forced re-auths / user / month" in text and "report.html" in text


def test_sweep_check_report_and_the_rest_at_a_terminal(files: Path) -> None:
    text = shown(["sweep", str(files / "sweep.yaml"), "--out", str(files / "sweep"), "--workers", "2"])
    assert "━" in text and "cells" in text and "baseline" in text and "(paired)" in text
    text = shown(["check", str(files / "sweep.yaml"), "--out", str(files / "sweep")])
    assert "hold with 95% confidence" in text
    text = shown(["check", str(files / "tiny.yaml"), "--require", "forced_reauth_per_user_month[ofice] < 4"],
                 expect=2)
    assert "did you mean 'office'" in text
    shown(["report", str(files / "sweep")])
    text = shown(["compare", str(files / "tiny.yaml"), "--presets", "visma_connect,auth0", "--out",
                  str(files / "compare"), "--workers", "2", "--report"])
    assert "━" in text and "auth0" in text
    text = shown(["validate", str(files / "tiny.yaml"), str(files / "sweep.yaml")])
    assert "tiny.yaml: ok" in text and "2 of 2 sweep cells can run" in text
    assert '"properties"' in shown(["schema"])
    assert "alice" in shown(["demo"])


def test_a_bad_scenario_at_a_terminal_is_a_message_not_a_traceback(files: Path) -> None:
    bad = files / "bad.yaml"
    bad.write_text(TINY.replace("sessions_per_day: 2", "sesions_per_day: 2"))
    text = shown(["run", str(bad), "--out", str(files / "bad-run")], expect=2)
    assert "did you mean 'sessions_per_day'" in text
    assert not (files / "bad-run").exists()
