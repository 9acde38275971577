"""`tokensim check`: exit 0 when every requirement holds with 95% confidence, 1 when one fails, 2 on
bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.cli.main import main
from tests.sweep.scenarios import CASES, scenario_text, write

HOLDS = "forced_reauth_per_user_month < 100"
FAILS = "forced_reauth_per_user_month > 100"


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    """A scenario without a sweep, with one requirement in the file."""
    extra = f"requirements:\n  - {HOLDS}\n  - logins_per_user_month[office] > 1\n"
    text = scenario_text("", replications=4, users=10, mobile_users=3, extra=extra)
    return write(tmp_path, text, "plain.yaml")


def test_exit_0_when_every_requirement_holds_then_reads_the_results(
    plain: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["check", str(plain), "--out", str(out), "--workers", "1"]) == 0
    captured = capsys.readouterr()
    assert "all 2 requirement(s) hold with 95% confidence" in captured.out
    assert "logins_per_user_month[office] > 1" in captured.out  # brackets are not taken for markup
    summary = json.loads((out / "summary.json").read_text())
    assert (out / "replications.parquet").is_file() and summary["replications"] == 4
    # a second check reads the results instead of running again; more requirements do not matter
    assert main(["check", str(plain), "--out", str(out), "--require", "logins_per_user_month >= 0"]) == 0
    captured = capsys.readouterr()
    assert f"reading results from {out}/summary.json" in captured.err
    assert "all 3 requirement(s) hold" in captured.out


def test_exit_1_names_the_failing_requirement_with_its_interval(
    plain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(plain), "--require", FAILS, "--workers", "1"]) == 1
    out = capsys.readouterr().out
    failed = [line for line in out.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1
    assert failed[0].startswith(f"FAILED {FAILS}: estimate ")
    assert "lower 95% bound" in failed[0] and "does not meet > 100" in failed[0]


def test_one_replication_fails_for_want_of_an_interval(
    plain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(plain), "--replications", "1", "--workers", "1"]) == 1
    failed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 2
    reason = "(no interval); no 95% interval: it needs at least 2 replications"
    assert all(line.endswith(reason) for line in failed)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--require", "forced_reauth_per_user_mont < 1"], "did you mean 'forced_reauth_per_user_month'?"),
        (["--require", "forced_reauth_per_user_month ~ 1"], "OP one of <, <=, >, >="),
        (["--replications", "0"], "--replications must be at least 1"),
        (["--require", "evictions_per_user_month[ofice] < 4"], "no persona 'ofice' in the scenario; did you"),
    ],
)
def test_exit_2_on_bad_input(
    plain: Path, args: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(plain), *args]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


def test_exit_2_without_requirements_or_file_or_on_foreign_results(
    tmp_path: Path, plain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = write(tmp_path, scenario_text("", replications=2, users=4, mobile_users=1), "bare.yaml")
    assert main(["check", str(bare)]) == 2
    assert "nothing to check" in capsys.readouterr().err
    assert main(["check", str(tmp_path / "missing.yaml"), "--require", HOLDS]) == 2
    assert "missing.yaml: file not found" in capsys.readouterr().err
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "summary.json").write_text("{}")
    assert main(["check", str(plain), "--out", str(foreign)]) == 2
    assert "use --force" in capsys.readouterr().err


def test_a_sweep_must_meet_each_requirement_in_every_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without sliding expiries (a 20-day sliding lifetime outlasts every absence) only one cell passes."""
    scenario = write(tmp_path, scenario_text(CASES, replications=2, users=10, mobile_users=3))
    requirement = "forced_reauth_per_user_month.sliding_expiry <= 0"
    out = tmp_path / "out"
    args = ["check", str(scenario), "--require", HOLDS, "--require", requirement, "--out", str(out)]
    assert main([*args, "--workers", "1"]) == 1
    captured = capsys.readouterr()
    failed = [line for line in captured.out.splitlines() if line.startswith("FAILED")]
    assert [line.split(":")[0] for line in failed] == [
        "FAILED cell c01-as_written (as written)",
        "FAILED cell c03-bigger_office (bigger office)",
    ]
    assert "requirements in every cell" in captured.out and "long sliding" in captured.out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "sweep" and len(summary["cells"]) == 3
    assert main(["check", str(scenario), "--require", HOLDS, "--out", str(out)]) == 0  # read, not run
    assert "reading results from" in capsys.readouterr().err
