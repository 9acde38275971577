"""`tokensim ingest LOG... --format F --out trace.parquet`: an identity provider's log to a trace."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sim.core.durations import DURATION_HELP
from sim.ingest import FORMATS

HELP = "read an identity provider's event log and write the reconstructed sessions (a trace)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tokensim ingest`."""
    parser.add_argument(
        "logs", type=Path, nargs="+", metavar="LOG", help="log files, read in the order given"
    )
    parser.add_argument("--format", required=True, choices=FORMATS, help="the log's format")
    parser.add_argument("--out", type=Path, required=True, help="the trace to write (e.g. trace.parquet)")
    parser.add_argument("--timezone", default="UTC", help="IANA time zone of the trace's clock (default UTC)")
    parser.add_argument(
        "--session-gap", default="30m", help=f"idle time that splits sessions ({DURATION_HELP}; default 30m)"
    )
    parser.add_argument(
        "--access-token-lifetime",
        help=f"the access-token lifetime of the deployment ({DURATION_HELP}; default: the vendor default)",
    )
    parser.add_argument(
        "--device-by",
        choices=("session", "client", "client_ip"),
        default="session",
        help="what a device is: the session id (default), the client id, or client id and IP address",
    )
    parser.add_argument(
        "--forced-login-window",
        default="1h",
        help=f"a login this soon after a failed refresh of the user is forced ({DURATION_HELP}; default 1h)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="any bad row is an error (default: skip and count)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing trace")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


def run(args: argparse.Namespace) -> int:
    """Implement `tokensim ingest` (bad input raises ConfigError / UsageError: exit 2)."""
    from rich.console import Console

    from sim import api
    from sim.cli.main import UsageError
    from sim.core.durations import parse_duration
    from sim.ingest.pipeline import IngestOptions
    from sim.ingest.trace import companion_paths

    def duration(option: str, value: str | None) -> float | None:
        if value is None:
            return None
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise UsageError(f"{option}: {exc}") from None

    existing = [p for p in (args.out, *companion_paths(args.out)) if p.exists()]
    if existing and not args.force:
        raise UsageError(f"{existing[0]} exists; use --force to overwrite the trace")
    given = {
        "session_gap": duration("--session-gap", args.session_gap),
        "forced_login_window": duration("--forced-login-window", args.forced_login_window),
    }
    options = IngestOptions(
        format=args.format,
        timezone=args.timezone,
        access_token_lifetime=duration("--access-token-lifetime", args.access_token_lifetime),
        device_by=args.device_by,
        strict=args.strict,
        **{name: value for name, value in given.items() if value is not None},
    )
    result = api.ingest(args.logs, args.out, options)
    if not args.quiet:
        print_summary(result.summary, Console())
        Console().print(
            f"wrote {result.sessions_path}, {result.users_path.name}, {result.summary_path.name}", style="dim"
        )
    return 0


def _number(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:,.{digits}g}"


def print_summary(summary: dict[str, Any], console: Any) -> None:
    """The ingest summary as terminal tables."""
    from rich.table import Table

    table = Table(
        title=f"{summary['source']['format']} log, {summary['span_days']:.3g} days", title_justify="left"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    events = summary["events"]
    duration = summary["session_duration_s"]["median"]
    rows = [
        ("users", f"{summary['users']:,}"),
        ("devices (per user)", f"{summary['devices']:,} ({_number(summary['devices_per_user'])})"),
        ("sessions", f"{summary['sessions']:,}"),
        ("sessions per user-day", _number(summary["sessions_per_user_day"])),
        ("sessions per active user-day", _number(summary["sessions_per_active_user_day"])),
        ("session duration, median (minutes)", _number(None if duration is None else duration / 60)),
        (
            "logins / refreshes / failed refreshes",
            f"{events['login']:,} / {events['refresh']:,} / {events['refresh_failed']:,}",
        ),
        ("forced logins per user-month", _number(summary["forced_logins"]["per_user_month"])),
        ("failed refreshes per user-month", _number(summary["refresh_failures"]["per_user_month"])),
    ]
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)
    for title, counts in (
        ("forced logins by cause", summary["forced_logins"]["by_reason"]),
        ("failed refreshes by reason", summary["refresh_failures"]["by_reason"]),
        ("rows skipped", summary["rows"]["skipped"]),
        ("rows of other event types (not token events)", summary["rows"]["ignored_event_types"]),
    ):
        if counts:
            console.print(f"{title}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    if summary["rows"]["attributed_by_session"]:
        console.print(
            f"events without a user given their session's user: {summary['rows']['attributed_by_session']:,}"
        )
    console.print(f"from {summary['first_event']} to {summary['last_event']}", style="dim")
    console.print("session starts by weekday and hour (local time):")
    heat = Table(box=None)
    heat.add_column("")
    heat.add_column("".join(f"{h:<3d}" for h in range(0, 24, 3)))
    counts = summary["heatmap"]["counts"]
    top = max((max(row) for row in counts), default=0) or 1
    shades = " ░▒▓█"
    for day, row in zip(summary["heatmap"]["weekdays"], counts, strict=True):
        heat.add_row(day, "".join(shades[min(4, round(4 * c / top))] if c else "·" for c in row))
    console.print(heat)
