"""docs/conformance.md holds the matrix that the servers installed here produce (regenerate it with
`scripts/conformance_matrix.py` when a server, a rule or the engine changes)."""

from __future__ import annotations

from tests.conformance.matrix import DOC, generated_block, render
from tests.conformance.servers import SERVERS


def test_committed_matrix_is_current(servers) -> None:
    results = {}
    for server, spec in SERVERS.items():
        for configuration in spec.configurations:
            started = servers.get(server, configuration)
            results[(server, configuration)] = (started.server.version, started.fixed_results())
    committed = generated_block(DOC.read_text(encoding="utf-8"))
    assert committed is not None, "docs/conformance.md has no matrix: run scripts/conformance_matrix.py"
    assert committed == render(results), "docs/conformance.md is stale: run scripts/conformance_matrix.py"


def test_no_difference_is_left_unexplained() -> None:
    """Every difference in the committed matrix is a documented approximation."""
    text = DOC.read_text(encoding="utf-8")
    assert "Not yet explained" not in text
