#!/usr/bin/env python3
"""Regenerate the conformance matrix in docs/conformance.md from the real servers (`make servers` first).

Runs every rule's fixed timeline against every installed server and configuration of
tests/conformance/servers.py and the engine, and rewrites the generated block of docs/conformance.md (the
hand-written parts stay). `--check` only compares and exits 1 when the committed matrix is stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conformance.harness import Run, UserPool
from tests.conformance.matrix import DOC, collect, generated_block, render, replace_generated
from tests.conformance.servers import SERVERS, available
from tests.conformance.timeline import timelines_for


def run_one(server: str, configuration: str):
    spec = SERVERS[server]
    settings = spec.configurations[configuration]
    policy = spec.module.policy_for(settings)
    with spec.module.launch(settings) as running:
        run = Run(running, policy, UserPool(list(running.passwords)))
        results = {r.timeline.name: r for r in run.run(timelines_for(policy))}
    print(f"{server} / {configuration}: "
          f"{sum(r.agrees for r in results.values())}/{len(results)} rules agree", file=sys.stderr)
    return running.version, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/conformance.md is stale")
    args = parser.parse_args()
    missing = {name: reason for name, reason in available().items() if reason}
    for name, reason in missing.items():
        print(f"skipping {name}: {reason}", file=sys.stderr)
    generated = render(collect(run_one))
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Conformance\n"
    if args.check:
        if generated_block(text) != generated:
            print("docs/conformance.md is stale: run scripts/conformance_matrix.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(replace_generated(text, generated), encoding="utf-8")
    print(f"wrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
