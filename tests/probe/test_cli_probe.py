"""`tokensim probe` on the command line: exit status, table, YAML, files, progress at a terminal.

The reference server (tests/probe/engine_server.py) runs here in real time (the command line probes on the
real clock), with lifetimes longer than the short --max-wait, so each run takes a few seconds.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
import yaml

from sim.cli.main import main
from sim.policy.model import Policy
from tests.probe.engine_server import CLIENT_ID, CLIENT_SECRET, PASSWORD, USER, RealTimeClock, serve

ROOT = Path(__file__).resolve().parents[2]
POLICY = {
    "refresh_token_usage": "one_time",
    "absolute_lifetime": "1h",
    "on_reuse": "revoke_family",
    "max_tokens_per_user": 2,
    "on_cap": "evict_oldest",
    "access_token_lifetime": "5m",
}


@pytest.fixture
def server_url() -> Iterator[str]:
    with serve(POLICY, RealTimeClock()) as server:
        yield server.url


def arguments(url: str, *extra: str) -> list[str]:
    return [
        "probe",
        "--token-endpoint",
        url,
        "--client-id",
        CLIENT_ID,
        "--client-secret",
        CLIENT_SECRET,
        "--login",
        f"password:{USER}:{PASSWORD}",
        "--max-wait",
        "2s",
        "--max-logins",
        "3",
        "--rate",
        "200",
        *extra,
    ]


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def test_a_probe_prints_its_findings_and_the_policy_section(server_url: str) -> None:
    status, out, err = run(arguments(server_url))
    assert status == 0, err
    assert "replays used refresh tokens" in err and "test account" in err  # the warning
    assert "refresh_token_usage" in out and "measured" in out  # the table
    section = yaml.safe_load(out[out.index("# tokensim probe of") :])
    policy = Policy.from_dict(section["policy"])
    assert (policy.refresh_token_usage, policy.on_reuse, policy.max_tokens_per_user) == (
        "one_time",
        "revoke_family",
        2,
    )
    assert policy.absolute_lifetime is None  # 1 h is beyond --max-wait 2s: "at least", unlimited written
    assert "≥ 2s" in out or "≥ 3s" in out


def test_out_writes_the_section_and_its_evidence(server_url: str, tmp_path: Path) -> None:
    target = tmp_path / "policy.yaml"
    status, out, err = run(arguments(server_url, "--out", str(target)))
    assert status == 0, err
    assert target.read_text().startswith("# tokensim probe of")
    assert (tmp_path / "policy.evidence.json").is_file()
    assert "# tokensim probe of" not in out  # the section went to the file, the table to the terminal
    foreign = tmp_path / "mine.yaml"
    foreign.write_text("policy: {}\n")
    status, _, err = run(arguments(server_url, "--out", str(foreign)))
    assert status == 2 and "not written by tokensim probe" in err and "Traceback" not in err
    assert foreign.read_text() == "policy: {}\n"


def test_an_unreachable_endpoint_exits_2_with_a_message() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    status, _, err = run(arguments(f"http://127.0.0.1:{port}/token"))
    assert status == 2
    assert f"cannot probe http://127.0.0.1:{port}/token" in err and "cannot reach" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--token-endpoint", "ftp://example.com/token"], "token_endpoint"),
        (["--login", "password:alice"], "password:USER:PASSWORD"),
        (["--max-wait", "forever"], "max_wait"),
        (["--max-logins", "1"], "max_logins"),
    ],
)
def test_bad_input_exits_2_naming_the_option(server_url: str, change: list[str], message: str) -> None:
    argv = arguments(server_url)
    flag = change[0]
    argv[argv.index(flag) + 1] = change[1]
    status, _, err = run(argv)
    assert status == 2 and message in err and "Traceback" not in err


def test_the_password_and_secret_can_come_from_the_environment(
    server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKENSIM_PASSWORD", PASSWORD)
    monkeypatch.setenv("TOKENSIM_CLIENT_SECRET", CLIENT_SECRET)
    argv = [
        "probe",
        "--token-endpoint",
        server_url,
        "--client-id",
        CLIENT_ID,
        "--login",
        f"password:{USER}",
        "--max-wait",
        "1s",
        "--max-logins",
        "2",
        "--rate",
        "200",
        "--quiet",
    ]
    status, out, err = run(argv)
    assert status == 0, err
    assert out == "" and err == ""  # --quiet


def test_probe_at_a_terminal_shows_progress_and_the_table(server_url: str) -> None:
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "140", "LINES": "40"}
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "sim", *arguments(server_url)],
        cwd=str(ROOT),
        env=env,
        dimensions=(40, 140),
        encoding="utf-8",
        codec_errors="replace",
        timeout=120,
    )
    child.expect(pexpect.EOF)
    child.close()
    text = child.before or ""
    assert child.exitstatus == 0, text[-3000:]
    assert "Traceback" not in text
    assert "\x1b[" in text and "experiments" in text  # rich drew the progress bar
    assert "warning:" in text and "test account" in text
    assert "policy field" in text and "refresh_token_usage" in text
