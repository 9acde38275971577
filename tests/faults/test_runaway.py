"""Runaway inputs are refused at once with exit 2, naming the value and what it would cost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim.experiments.estimate import LIMITS, TooLargeError, check_limits, estimate
from sim.scenario import scenario_from_yaml
from tests.faults.scenarios import TINY

ROOT = Path(__file__).resolve().parents[2]
GRID = "sweep:\n  grid:\n    policy.reuse_interval: [{}]\n    horizon: [{}]\n".format(
    ", ".join(f"{i}s" for i in range(1000)), ", ".join(f"{i + 1}d" for i in range(1000))
)
RUNAWAY = {
    "billion-users": (TINY.replace("users: 8", "users: 1000000000"), "users 1,000,000,000 is above"),
    "absurd-users": (TINY.replace("users: 8", "users: 1.0e+308"), "is above the limit"),
    "long-horizon": (TINY.replace("horizon: 20d", "horizon: 1000000d"), "GiB of memory"),
    "replications": (TINY.replace("replications: 2", "replications: 1000000"), "replications 1,000,000"),
    "devices": (TINY.replace("devices: 2", "devices: 1000000"), "devices per user 1,000,000"),
    "millisecond-tokens": (TINY.replace("max_tokens_per_user: 3}", "max_tokens_per_user: 3, "
                                        "access_token_lifetime: 0.001s}"), "sessions would refresh about"),
}


def tokensim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)


@pytest.mark.parametrize("name", list(RUNAWAY))
def test_runaway_scenarios_are_refused_and_validate_prints_the_cost(tmp_path: Path, name: str) -> None:
    text, fragment = RUNAWAY[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    proc = tokensim("run", str(path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    assert fragment in proc.stderr and "--allow-large" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()  # nothing written, not even the folder
    validate = tokensim("validate", str(path))
    assert validate.returncode == 0 and "user-days" in validate.stdout and "--allow-large" in validate.stderr


def test_a_huge_sweep_grid_is_refused_before_its_cells_are_made(tmp_path: Path) -> None:
    path = tmp_path / "grid.yaml"
    path.write_text(TINY + GRID)
    for command in ("sweep", "validate"):
        args = [command, str(path)] + (["--out", str(tmp_path / "out")] if command == "sweep" else [])
        proc = tokensim(*args)
        assert proc.returncode == 2, proc.stderr
        assert "the sweep has 1,000,000 cells" in proc.stderr and "Traceback" not in proc.stderr


def test_allow_large_lets_a_run_past_the_limits() -> None:
    many = f"replications: {LIMITS['replications'] + 1}"
    scenario = scenario_from_yaml(TINY.replace("replications: 2", many))
    work = estimate(scenario)
    with pytest.raises(TooLargeError, match="replications"):
        check_limits(work)
    check_limits(work, allow_large=True)


def test_the_estimate_follows_the_scenario() -> None:
    base = estimate(scenario_from_yaml(TINY))
    twice = estimate(scenario_from_yaml(TINY.replace("users: 8", "users: 16")))
    assert twice.user_days == 2 * base.user_days and twice.requests == pytest.approx(2 * base.requests)
    shorter = estimate(scenario_from_yaml(TINY.replace("max_tokens_per_user: 3}", "max_tokens_per_user: 3, "
                                                       "access_token_lifetime: 6m}")))
    assert shorter.requests > base.requests  # ten times as many refreshes per session


@pytest.mark.parametrize("case", ["dev-zero", "too-big", "too-many-values", "star-persona"])
def test_unreasonable_scenario_files_are_refused_with_the_right_words(tmp_path: Path, case: str) -> None:
    path = tmp_path / "s.yaml"
    if case == "dev-zero":
        path = Path("/dev/zero")
        fragment = "larger than 4 MiB"
    elif case == "too-big":
        path.write_text("name: x\n" + "".join(f"k{i}: {i}\n" for i in range(400_000)))
        fragment = "larger than 4 MiB"
    elif case == "too-many-values":
        path.write_text("name: x\nextra:\n" + "".join(f"  k{i}: {i}\n" for i in range(60_000)))
        fragment = "more than 50,000 values; a scenario has a few hundred"
    else:
        path.write_text(TINY.replace("name: office", "name: '*'"))
        fragment = "the persona name '*' is reserved"
    proc = tokensim("validate", str(path))
    assert proc.returncode == 2 and fragment in proc.stderr, proc.stderr
    assert "alias" not in proc.stderr and "Traceback" not in proc.stderr


def test_workers_are_capped_at_the_run_s_shards(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    proc = tokensim("run", str(path), "--out", str(tmp_path / "out"), "--workers", "1000", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # --quiet: nothing but errors
    loud = tokensim("run", str(path), "--out", str(tmp_path / "out2"), "--workers", "1000")
    assert "--workers 1000: this run has" in loud.stderr and "worker(s)" in loud.stderr
