"""Writing a probe's result: the `policy:` YAML section and, beside it, the JSON evidence.

`--out policy.yaml` writes `policy.yaml` and `policy.evidence.json`, each atomically. A file that is there
already is replaced only when tokensim probe wrote it (its first line says so) or with `force`: the probe
never overwrites a file a person wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

from sim.core.output import write_text_atomic
from sim.core.resultset import OutputError
from sim.probe.result import ProbeResult

#: The first line of every YAML file the probe writes.
MARKER = "# tokensim probe of "


def evidence_path(out: Path) -> Path:
    """`policy.yaml` -> `policy.evidence.json`."""
    return out.with_name(f"{out.stem}.evidence.json")


def check_writable(out: Path, force: bool) -> None:
    """OutputError when `out` or its evidence file exists and was not written by the probe (unless force)."""
    if out.is_dir():
        raise OutputError(f"{out} is a folder; --out names the policy YAML file to write")
    if force:
        return
    for path, ours in ((out, _ours_yaml), (evidence_path(out), _ours_json)):
        if path.exists() and not ours(path):
            raise OutputError(
                f"{path} exists and was not written by tokensim probe; choose another --out or "
                "pass --force to replace it"
            )


def write_result(result: ProbeResult, out: Path, force: bool = False) -> tuple[Path, Path]:
    """Write the YAML section and the evidence; the two paths."""
    out = Path(out)
    check_writable(out, force)
    evidence = evidence_path(out)
    write_text_atomic(evidence, result.evidence_json())
    write_text_atomic(out, result.policy_yaml(evidence.name))
    return out, evidence


def _ours_yaml(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.readline().startswith(MARKER)
    except (OSError, UnicodeDecodeError):
        return False


def _ours_json(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"token_endpoint", "findings", "exchanges"} <= set(data)
