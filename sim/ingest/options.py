"""The options of `ingest` (the reconstruction parameters recorded in every trace) and the formats."""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sim.core.validation import ConfigError, Problem, suggest
from sim.ingest import FORMATS
from sim.ingest.formats import DEVICE_KEYS, LogFormat


def log_format(name: str) -> LogFormat:
    """The format module's description (ConfigError with the nearest name for a typo)."""
    if name not in FORMATS:
        hint = suggest(name, FORMATS)
        message = f"unknown format {name!r}; " + (
            f"did you mean {hint!r}?" if hint else f"one of {', '.join(FORMATS)}"
        )
        raise ConfigError([Problem(loc=("--format",), message=message)])
    return importlib.import_module(f"sim.ingest.{name}").FORMAT


@dataclass(frozen=True)
class IngestOptions:
    """The reconstruction parameters (recorded in the trace's metadata); times in seconds."""

    format: str
    timezone: str = "UTC"
    #: G: a device's events more than `access_token_lifetime + session_gap` apart are two sessions.
    session_gap: float = 1800.0
    #: A: how long after a request a client can work without another; None = the format's default.
    access_token_lifetime: float | None = None
    #: What a device is: the session id, the client id, or client id and IP address (DEVICE_KEYS).
    device_by: str = "session"
    #: A login at most this long after a failed refresh of the same user is a forced login.
    forced_login_window: float = 3600.0
    #: Any bad row is an error naming its file and line (else bad rows are skipped and counted).
    strict: bool = False

    def resolved(self) -> IngestOptions:
        """The options with the format's default access-token lifetime filled in, checked."""
        fmt = log_format(self.format)
        problems = []
        if self.device_by not in DEVICE_KEYS:
            problems.append(
                Problem(
                    ("--device-by",), f"unknown value {self.device_by!r}; one of {', '.join(DEVICE_KEYS)}"
                )
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            hint = suggest(self.timezone, sorted(available_timezones()))
            problems.append(
                Problem(
                    ("--timezone",),
                    f"unknown time zone {self.timezone!r}"
                    + (f"; did you mean {hint!r}?" if hint else " (an IANA name like Europe/Oslo)"),
                )
            )
        access = (
            fmt.access_token_lifetime if self.access_token_lifetime is None else self.access_token_lifetime
        )
        if not access > 0:
            problems.append(Problem(("--access-token-lifetime",), f"must be positive, got {access}"))
        if problems:
            raise ConfigError(problems)
        return IngestOptions(**{**asdict(self), "access_token_lifetime": float(access)})
