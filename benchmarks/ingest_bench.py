"""Benchmark of `tokensim ingest` on a large log: time and peak memory (issue 15).

Run with `python benchmarks/ingest_bench.py` (psutil comes with the `bench` extra, which `make bench`
installs). For each format (Keycloak JSON lines, the generic CSV) it writes a log of `--events` events
(default 10 million) to a temporary directory, then runs `python -m sim ingest` on it in a child
process and samples the child's resident memory with psutil every 0.2 s. The log: `--users` users,
each with a few devices; events in time order over 90 days, mostly refreshes, with logins, failed
refreshes (half of them without a user, as Keycloak writes them, found again by their session) and
logouts.

Figures go to benchmarks/ingest_results.json and a table on the terminal. Peak memory should stay flat
as the log grows (the log is streamed in blocks, sorted per user in partitions on disk); the figure to
compare is the peak against the log's size.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
START_MS = 1_704_067_200_000  # Monday 2024-01-01 00:00 UTC
SPAN_MS = 90 * 86_400_000
CHUNK = 500_000


def _draws(rng: np.random.Generator, n: int, users: int) -> dict[str, np.ndarray]:
    user = rng.integers(0, users, n)
    device = rng.integers(0, 3, n)
    kind = rng.choice(4, size=n, p=[0.03, 0.95, 0.015, 0.005])  # login, refresh, failure, logout
    return {"user": user, "device": device, "kind": kind, "anonymous": rng.random(n) < 0.5}


def write_keycloak(path: Path, events: int, users: int, seed: int) -> None:
    """Keycloak user events as JSON lines, in time order."""
    rng = np.random.default_rng(seed)
    types = ("CODE_TO_TOKEN", "REFRESH_TOKEN", "REFRESH_TOKEN_ERROR", "LOGOUT")
    with open(path, "w", encoding="utf-8") as handle:
        written = 0
        while written < events:
            n = min(CHUNK, events - written)
            times = START_MS + (np.arange(written, written + n) * (SPAN_MS / events)).astype(np.int64)
            d = _draws(rng, n, users)
            lines = []
            columns = (times, d["user"], d["device"], d["kind"], d["anonymous"])
            for t, u, dev, k, anon in zip(*(c.tolist() for c in columns), strict=True):
                session = f"{u:08x}-{dev:04x}-4a5b-9c6d-{(t // 604_800_000):012x}"
                user = "null" if k == 2 and anon else f'"0d9c6a52-3f41-4d6e-9a0b-{u:012x}"'
                detail = ',"reason":"Session not active"' if k == 2 else ""
                error = ',"error":"invalid_token"' if k == 2 else ""
                lines.append(
                    f'{{"time":{t},"type":"{types[k]}","realmId":"acme","clientId":"web-app","userId":{user},'
                    f'"sessionId":"{session}","ipAddress":"10.{u % 250}.{dev}.{u % 199}"{error},'
                    f'"details":{{"grant_type":"refresh_token","refresh_token_type":"Refresh"{detail}}}}}'
                )
            handle.write("\n".join(lines) + "\n")
            written += n


def write_csv(path: Path, events: int, users: int, seed: int) -> None:
    """The generic CSV (user, device, time, event, reason), in time order."""
    rng = np.random.default_rng(seed)
    names = ("login", "refresh", "refresh_failed", "logout")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("user,device,time,event,reason\n")
        written = 0
        while written < events:
            n = min(CHUNK, events - written)
            seconds = (START_MS + np.arange(written, written + n) * (SPAN_MS / events)) / 1000.0
            d = _draws(rng, n, users)
            lines = [
                f"user{u},device{dev},{t:.3f},{names[k]},{'sliding_expiry' if k == 2 else ''}"
                for t, u, dev, k in zip(
                    seconds.tolist(),
                    d["user"].tolist(),
                    d["device"].tolist(),
                    d["kind"].tolist(),
                    strict=True,
                )
            ]
            handle.write("\n".join(lines) + "\n")
            written += n


def measure(log: Path, fmt: str, out: Path) -> dict[str, float]:
    """Run `tokensim ingest` on `log` in a child process; its time and peak resident memory."""
    import psutil  # the `bench` extra

    command = [sys.executable, "-m", "sim", "ingest", str(log), "--format", fmt, "--out", str(out), "--quiet",
               "--force", "--access-token-lifetime", "1h"]  # fmt: skip
    started = time.perf_counter()
    child = subprocess.Popen(command)
    process = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, process.memory_info().rss)
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise subprocess.CalledProcessError(child.returncode, command)
    summary = json.loads(out.with_name(out.stem + ".summary.json").read_text())
    mib = 1024 * 1024
    return {
        "log_mib": log.stat().st_size / mib,
        "seconds": seconds,
        "events_per_s": summary["rows"]["read"] / seconds,
        "peak_rss_mib": peak / mib,
        "rows": summary["rows"]["read"],
        "users": summary["users"],
        "sessions": summary["sessions"],
        "attributed_by_session": summary["rows"]["attributed_by_session"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="events per log (default 10 million)")
    parser.add_argument("--users", type=int, default=50_000, help="distinct users in the log")
    parser.add_argument("--formats", default="keycloak,csv", help="comma-separated: keycloak, csv")
    parser.add_argument("--out", type=Path, default=HERE / "ingest_results.json")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    writers = {"keycloak": (write_keycloak, "log.jsonl"), "csv": (write_csv, "log.csv")}
    results: dict = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "events": args.events,
        "users": args.users,
    }
    from rich.console import Console
    from rich.table import Table

    with tempfile.TemporaryDirectory(prefix="tokensim-ingest-bench-") as work:
        for fmt in args.formats.split(","):
            write, name = writers[fmt]
            log = Path(work) / name
            started = time.perf_counter()
            write(log, args.events, args.users, args.seed)
            generated = time.perf_counter() - started
            results[fmt] = measure(log, fmt, Path(work) / f"{fmt}-trace.parquet")
            results[fmt]["generate_seconds"] = generated
            log.unlink()
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    table = Table(title=f"tokensim ingest: {args.events:,} events, {args.users:,} users")
    for column in ("format", "log (MiB)", "seconds", "events/s", "peak memory (MiB)", "sessions"):
        table.add_column(column, justify="right")
    for fmt in args.formats.split(","):
        r = results[fmt]
        table.add_row(fmt, f"{r['log_mib']:,.0f}", f"{r['seconds']:,.1f}", f"{r['events_per_s']:,.0f}",
                      f"{r['peak_rss_mib']:,.0f}", f"{r['sessions']:,}")  # fmt: skip
    Console().print(table)


if __name__ == "__main__":
    main()
