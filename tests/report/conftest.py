"""Fixtures of the report tests: a tiny run written to disk once per session (two personas, a cap)."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from sim import api

TINY = """\
name: tiny-report
description: Two small personas, a short sliding lifetime and a cap of 2, so that every cause shows up.
seed: 3
horizon: 21d
warmup: 3d
replications: 3
policy:
  preset: visma_connect
  sliding_lifetime: 3d
  max_tokens_per_user: 2
population:
  - name: office
    users: 16
    devices: 2
    activity:
      schedule: weekdays
      sessions_per_day: 2
      session_duration: {exponential: {mean: 2h}}
      fresh_login: 0.2
    faults: {lost_refresh_response: 0.05}
  - name: mobile
    users: 10
    activity: {sessions_per_day: 0.4}
    lifecycle: {password_changes_per_year: 6}
"""


THEFTS = """\
name: tiny-thefts
description: Stolen tokens under rotation with family revocation; the occasional users' thieves often outlast
  the simulation, so some thefts are censored.
seed: 8
horizon: 30d
warmup: 3d
replications: 3
policy:
  refresh_token_usage: one_time
  absolute_lifetime: 60d
  sliding_lifetime: 7d
  on_reuse: revoke_family
population:
  - name: laptop
    users: 14
    devices: 2
    activity: {schedule: weekdays, sessions_per_day: 2, session_duration: {exponential: {mean: 1h}}}
    threats: {thefts_per_year: 10, strategy: daily}
  - name: occasional
    users: 12
    activity: {sessions_per_day: 0.15, session_duration: 10m}
    threats: {stolen_device_share: 0.6, strategy: immediate}
"""


@pytest.fixture(scope="session")
def theft_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory written by `write` for a tiny scenario with thefts (no report yet)."""
    out = tmp_path_factory.mktemp("theft-run") / "thefts"
    api.write(api.run(api.scenario_from_dict(yaml.safe_load(THEFTS)), workers=1), out)
    return out


@pytest.fixture(scope="session")
def tiny_scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny scenario as a YAML file."""
    path = tmp_path_factory.mktemp("scenario") / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="session")
def run_dir(tiny_scenario: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory written by `write` for the tiny scenario (no report yet)."""
    out = tmp_path_factory.mktemp("run") / "tiny"
    api.write(api.run(tiny_scenario, workers=1), out)
    return out


def number(text: str) -> float:
    """A number as the report writes it (`1,234`, `0.454`, `27.0`)."""
    return float(text.replace(",", ""))


def shown_tolerance(text: str) -> float:
    """Half a unit of the last digit shown: the most that rounding can change a number."""
    match = re.search(r"\.(\d+)$", text)
    return 0.5 * 10 ** -(len(match.group(1)) if match else 0) + 1e-12


def agrees(text: str, value: float | None, scale: float = 1.0) -> bool:
    """True when `text` (as shown in the report) is `value * scale` rounded for display."""
    assert value is not None, f"the summary has no value where the report shows {text!r}"
    if text.endswith("%"):  # a share shown as a percentage
        text, scale = text[:-1], scale * 100.0
    return abs(number(text) - value * scale) <= shown_tolerance(text)


class _References(HTMLParser):
    """Every tag, and every attribute that can load something, of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.refs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "data", "poster", "xlink:href"):
                self.refs.append((tag, name, value or ""))


def assert_self_contained(page: str, images: int) -> None:
    """The page loads nothing from outside: images are data: URIs, no script, link, import or URL."""
    parser = _References()
    parser.feed(page)
    assert not {"script", "link", "iframe", "object", "embed"} & set(parser.tags)
    assert len([ref for ref in parser.refs if ref[0] == "img"]) == images
    for tag, attr, value in parser.refs:
        assert value.startswith(("data:image/svg+xml;base64,", "data:image/png;base64,", "#")), (tag, attr,
                                                                                                   value[:60])
        if value.startswith("data:image/svg+xml;base64,"):  # an embedded SVG loads nothing either
            svg = base64.b64decode(value.split(",", 1)[1]).decode("utf-8")
            assert not re.search(r'(href|src)="(?!#|data:)', svg), svg[:200]
            assert "url(http" not in svg and "@import" not in svg
    text = re.sub(r"data:image/(png|svg\+xml);base64,[A-Za-z0-9+/=]+", "", page).lower()
    for needle in ("http://", "https://", "@import", "url(", "//fonts", "cdn.", "<link", "<script"):
        assert needle not in text, needle


def restamp(directory: Path) -> None:
    """Record the current sizes of a results folder's files in its manifest (for a test that edits a table
    to build a case the simulation rarely gives)."""
    import json

    path = directory / ".tokensim-manifest.json"
    manifest = json.loads(path.read_text())
    for name, entry in manifest["files"].items():
        entry["size"] = (directory / name).stat().st_size
    path.write_text(json.dumps(manifest))


def stamp(directory: Path, kind: str) -> None:
    """Write the manifest of a results folder a test built by hand (every file in it, as tokensim would)."""
    from sim.core.resultset import MANIFEST, Manifest

    files = {p.relative_to(directory).as_posix(): {"size": p.stat().st_size, "group": "results"}
             for p in sorted(directory.rglob("*")) if p.is_file() and p.name != MANIFEST}
    (directory / MANIFEST).write_text(Manifest("test", kind, files).to_json())
