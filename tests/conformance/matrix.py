"""The conformance matrix (docs/conformance.md): server x version x configuration x rule -> agrees / differs,
with the request log of every difference. Rendered from the fixed timelines' results, deterministically
(timeline times, not wall-clock times; tokens as t0, t1, ...), so the committed file can be checked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

from tests.conformance.harness import TimelineResult
from tests.conformance.servers import SERVERS
from tests.conformance.timeline import RULES

DOC = Path(__file__).resolve().parents[2] / "docs" / "conformance.md"
BEGIN = "<!-- BEGIN GENERATED MATRIX: scripts/conformance_matrix.py writes this part -->"
END = "<!-- END GENERATED MATRIX -->"

#: (server, configuration) -> (server version, the fixed timelines' results by rule)
Results = Mapping[tuple[str, str], tuple[str, Mapping[str, TimelineResult]]]


def render(results: Results) -> str:
    """The generated part of docs/conformance.md."""
    lines = [BEGIN, "", "## Matrix", ""]
    rules = [build.__name__ for build in RULES]
    differences: list[str] = []
    for server, spec in SERVERS.items():
        configurations = [c for c in spec.configurations if (server, c) in results]
        if not configurations:
            continue
        versions = sorted({results[(server, c)][0] for c in configurations})
        lines += [f"### {', '.join(versions)}", ""]
        lines += ["| configuration | settings | tokensim policy |", "| --- | --- | --- |"]
        for configuration in configurations:
            settings = spec.configurations[configuration]
            policy = spec.module.policy_for(settings).minimal_config()
            lines.append(
                f"| {configuration} | `{json.dumps(settings, sort_keys=True) if settings else '{}'}` | "
                f"`{_short(policy)}` |"
            )
        lines += ["", "| rule | " + " | ".join(configurations) + " |",
                  "| --- |" + " --- |" * len(configurations)]
        for rule in rules:
            cells = []
            for configuration in configurations:
                result = results[(server, configuration)][1].get(rule)
                if result is None:
                    cells.append("n/a")
                    continue
                if result.agrees:
                    cells.append("agrees")
                    continue
                documented = spec.documented_for(configuration, rule)
                anchor = _anchor(server, configuration, rule)
                cells.append(f"[differs{' (documented)' if documented else ''}](#{anchor})")
                differences.append(_difference(server, configuration, rule, result,
                                               documented.observed if documented else None))
            lines.append(f"| `{rule}` | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Differences", ""]
    lines += differences or ["None."]
    lines += ["", END]
    return "\n".join(lines)


def _short(policy: Mapping[str, object]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in policy.items())


def _anchor(server: str, configuration: str, rule: str) -> str:
    text = f"{server} {configuration} {rule}".lower()
    return "".join(c if c.isalnum() else "-" for c in text)


def _difference(
    server: str, configuration: str, rule: str, result: TimelineResult, observed: str | None
) -> str:
    status = f"Documented approximation: {observed}." if observed else "**Not yet explained.**"
    return "\n".join([
        f'<a id="{_anchor(server, configuration, rule)}"></a>',
        f"#### {server}, {configuration}: `{rule}`",
        "",
        f"{result.timeline.description} {status}",
        "",
        "```",
        result.log(),
        "```",
        "",
    ])


def replace_generated(text: str, generated: str) -> str:
    """`text` with its generated block replaced (appended when it has none)."""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        return head + generated + tail
    return text.rstrip("\n") + "\n\n" + generated + "\n"


def generated_block(text: str) -> str | None:
    """The generated block of a document, or None."""
    if BEGIN not in text or END not in text:
        return None
    return BEGIN + text.split(BEGIN, 1)[1].split(END, 1)[0] + END


def collect(runner: Callable[[str, str], tuple[str, Mapping[str, TimelineResult]]]) -> dict:
    """Results of every (server, configuration) whose server is installed, from `runner(server, config)`."""
    out = {}
    for server, spec in SERVERS.items():
        if spec.module.installed():
            continue
        for configuration in spec.configurations:
            out[(server, configuration)] = runner(server, configuration)
    return out
