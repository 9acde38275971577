"""What a probe found: one `Finding` per policy field, each with its evidence, and every exchange made.

`ProbeResult.policy_yaml()` is a `policy:` section a scenario can use (it passes `Policy.from_dict`), with
each field's confidence and evidence as YAML comments; `ProbeResult.evidence_json()` is every request and
answer of the plan (tokens replaced by labels such as `C.2`, the second refresh token of chain C; passwords
and secrets never recorded).

Confidence words:
- `exact`: measured to the probe's resolution (a duration within `resolution` seconds), or read from the
  server's own answer (`expires_in`, `refresh_expires_in`);
- `bounded`: the value lies in `[low, high)` or is at least `low`, and what is written is explained;
- `not_measured`: the plan could not observe it (not applicable, budget exhausted, logins refused);
  the value written is then the one consistent with what was seen, or tokensim's default.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from sim.core.durations import format_duration
from sim.policy.model import Policy

Confidence = Literal["exact", "bounded", "not_measured"]

#: The policy fields a probe writes, in the order of the YAML section.
FIELDS: tuple[str, ...] = (
    "refresh_token_usage",
    "access_token_lifetime",
    "absolute_lifetime",
    "absolute_anchor",
    "sliding_lifetime",
    "idle_tolerance",
    "reuse_interval",
    "max_reuse",
    "on_reuse",
    "max_tokens_per_user",
    "on_cap",
)

CONFIDENCE_TEXT = {"exact": "measured", "bounded": "bounded", "not_measured": "not measured"}


class Exchange(BaseModel):
    """One request of the plan and the server's answer (tokens as labels)."""

    model_config = ConfigDict(frozen=True)

    id: int
    experiment: str
    kind: Literal["login", "refresh"]
    #: Seconds since the plan started, on the probe's clock, when the request was sent.
    at: float
    #: Seconds the request took.
    elapsed: float
    #: The label of the refresh token presented (refresh only), e.g. `C.1`.
    presented: str | None = None
    #: Which chain the request was about.
    chain: str | None = None
    ok: bool
    status: int | None = None
    error: str | None = None
    #: The label of the refresh token in the answer, if any; `new` says whether it had never been seen.
    issued: str | None = None
    new: bool = False
    expires_in: float | None = None
    refresh_expires_in: float | None = None
    #: The answer's body with every token replaced by its label.
    body: dict[str, Any] = Field(default_factory=dict)
    #: Why the plan sent it (e.g. "replay 4 s after the rotation").
    purpose: str = ""

    def line(self) -> str:
        """`#12 +31.0 s refresh C.1 -> 400 invalid_grant (replay 4 s after the rotation)`."""
        what = f"refresh {self.presented}" if self.kind == "refresh" else "login"
        if self.ok:
            outcome = "200" + (f", {'new ' if self.new else ''}token {self.issued}" if self.issued else "")
        else:
            outcome = f"{self.status if self.status is not None else 'refused'}"
            outcome += f" {self.error}" if self.error else ""
        return f"#{self.id} +{self.at:.1f} s {what} -> {outcome}" + (
            f" ({self.purpose})" if self.purpose else ""
        )


class Finding(BaseModel):
    """What the probe concluded about one policy field."""

    model_config = ConfigDict(frozen=True)

    field: str
    #: The value as written in the YAML section (a duration string, a word, a number, a mapping).
    value: Any
    confidence: Confidence
    #: One or two sentences: what was seen and what it means.
    summary: str
    #: For durations and counts: the bracket in seconds (or count); `high` None = no upper bound seen.
    low: float | None = None
    high: float | None = None
    #: Exchange ids that show it.
    evidence: list[int] = Field(default_factory=list)

    def shown_value(self) -> str:
        """The value as the table shows it (`≥ 1m` when only a lower bound is known)."""
        if self.confidence == "not_measured" and self.low is not None and self.high is None:
            return f"≥ {format_duration(round(self.low))}" if _is_duration(self.field) else f"≥ {self.low:g}"
        if isinstance(self.value, dict):
            return str(yaml.safe_dump(self.value, default_flow_style=True)).strip()
        return str(self.value)


def _is_duration(field: str) -> bool:
    return field.endswith(("lifetime", "interval", "tolerance"))


class ProbeSettings(BaseModel):
    """The plan's bounds as they were used (for the record)."""

    model_config = ConfigDict(frozen=True)

    max_wait: float
    max_logins: int
    rate: float
    max_requests: int
    max_time: float
    resolution: float


class ProbeResult(BaseModel):
    """The outcome of `tokensim probe`."""

    model_config = ConfigDict(frozen=True)

    token_endpoint: str
    client_id: str
    login: str
    #: ISO 8601 UTC time the plan started.
    started: str
    #: Seconds the plan took on the probe's clock.
    duration: float
    settings: ProbeSettings
    findings: list[Finding]
    exchanges: list[Exchange]
    #: Things the user should know (inconsistent answers, limits hit).
    warnings: list[str] = Field(default_factory=list)
    #: Why the plan stopped early (a lost connection), else None.
    stopped: str | None = None

    @property
    def requests(self) -> int:
        """Requests sent (logins and refreshes)."""
        return len(self.exchanges)

    def finding(self, field: str) -> Finding:
        """The finding for one policy field (KeyError if the plan has none)."""
        for finding in self.findings:
            if finding.field == field:
                return finding
        raise KeyError(field)

    def policy_config(self) -> dict[str, Any]:
        """The `policy:` mapping (plain values, as in a scenario file)."""
        return {finding.field: finding.value for finding in self.findings}

    def policy(self) -> Policy:
        """The policy as tokensim validates it."""
        return Policy.from_dict(self.policy_config(), source="probe result")

    def policy_yaml(self, evidence_name: str | None = None) -> str:
        """The `policy:` section with a header and each field's confidence and evidence as comments."""
        lines = [
            f"# tokensim probe of {self.token_endpoint} (client {self.client_id}, {self.login})",
            f"# started {self.started}; {self.requests} requests in {_clock(self.duration)}; max wait "
            f"{format_duration(self.settings.max_wait)}, max logins {self.settings.max_logins}, "
            f"{self.settings.rate:g} requests/s; durations to about {self.settings.resolution:g} s",
            "# Each field: measured (to that resolution) / bounded / not measured, and what the probe saw.",
        ]
        if evidence_name:
            lines.append(f"# Every request and answer (tokens replaced by labels): {evidence_name}")
        if self.stopped:
            lines.append(f"# The plan stopped early: {self.stopped}")
        lines.extend(f"# warning: {text}" for text in self.warnings)
        lines.append("policy:")
        for finding in self.findings:
            comment = f"{CONFIDENCE_TEXT[finding.confidence]}: {finding.summary}"
            if finding.evidence:
                comment += " (requests " + ", ".join(f"#{i}" for i in finding.evidence) + ")"
            lines.extend(f"  # {part}" for part in _wrap(comment, 104))
            lines.append(f"  {finding.field}: {_flow(finding.value)}")
        return "\n".join(lines) + "\n"

    def evidence_json(self) -> str:
        """Everything, as JSON: the settings, the findings and every exchange."""
        return json.dumps(self.model_dump(mode="json"), indent=1) + "\n"


def _flow(value: Any) -> str:
    """A value as one line of YAML (`90s`, `unlimited`, `3`, `{uniform: {low: 60s, high: 90s}}`)."""
    text = str(yaml.safe_dump(value, default_flow_style=True, sort_keys=False)).strip()
    return text.removesuffix("...").strip()


def _clock(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m {rest:02d}s" if minutes else f"{seconds:.1f} s"


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return lines
