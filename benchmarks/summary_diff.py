"""Compare the summary.json of two run directories, metric by metric (before/after a change).

    python benchmarks/summary_diff.py OLD_DIR NEW_DIR [OLD_DIR NEW_DIR ...]

Prints each number (means, interval bounds, per-replication values, per persona) that differs, with
its relative difference, and a last line per pair: identical bytes, or how many numbers differ and the
largest relative difference.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any


def numbers(tree: Any, path: str = "") -> dict[str, Any]:
    """Every leaf of a JSON tree by its path."""
    if isinstance(tree, dict):
        return {k: v for key, value in tree.items() for k, v in numbers(value, f"{path}/{key}").items()}
    if isinstance(tree, list):
        return {k: v for i, value in enumerate(tree) for k, v in numbers(value, f"{path}[{i}]").items()}
    return {path: tree}


def compare(old: Path, new: Path) -> str:
    """The differences between two run directories' summary.json, as text."""
    before, after = (Path(d) / "summary.json" for d in (old, new))
    if before.read_bytes() == after.read_bytes():
        return f"{new.name}: identical bytes"
    a, b = numbers(json.loads(before.read_text())), numbers(json.loads(after.read_text()))
    lines, worst = [], 0.0
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if x == y:
            continue
        if isinstance(x, float) and isinstance(y, float):
            relative = abs(x - y) / max(abs(x), abs(y), math.ulp(0.0))
            worst = max(worst, relative)
            lines.append(f"  {key}: {x!r} -> {y!r} (relative {relative:.1e})")
        else:
            worst = math.inf
            lines.append(f"  {key}: {x!r} -> {y!r}")
    lines.append(f"{new.name}: {len(lines)} numbers differ, largest relative difference {worst:.1e}")
    return "\n".join(lines)


if __name__ == "__main__":
    pairs = sys.argv[1:]
    for i in range(0, len(pairs) - 1, 2):
        print(compare(Path(pairs[i]), Path(pairs[i + 1])))
