"""The notebooks run top to bottom on a fresh kernel (at a small scale), and are committed executed (with
their outputs, so that they read on a code host), without errors, in order (`make notebooks` runs them)."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: Users are multiplied by this in CI: the notebooks must execute, not give the shipped-scale answers.
SMALL_SCALE = "0.02"


def test_the_three_notebooks_exist() -> None:
    names = {path.stem for path in NOTEBOOKS}
    expected = {"01-sliding-lifetime-weekly-users", "02-cap-multi-device", "03-rotation-vs-reuse-flaky-tabs"}
    assert names >= expected


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_executed_and_has_prose(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    prose = [cell for cell in notebook.cells if cell.cell_type == "markdown"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), (
        f"{path.name}: not executed top to bottom on a fresh kernel (make notebooks)"
    )
    assert not [o for cell in code for o in cell.outputs if o.output_type == "error"], path.name
    shown = [o for cell in code for o in cell.outputs if "image/png" in o.get("data", {})]
    assert len(shown) >= 2, f"{path.name}: committed without its figures"
    assert len(prose) >= 4 and sum(len(cell.source) for cell in prose) > 2000, path.name
    assert any("TOKENSIM_NOTEBOOK_SCALE" in cell.source for cell in code), path.name
    assert all("import sim." not in cell.source and "from sim." not in cell.source for cell in code), (
        f"{path.name} should use the public API (from sim import api)"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_on_a_fresh_kernel(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENSIM_NOTEBOOK_SCALE", SMALL_SCALE)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, if a cell fails
    errors = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
              if output.output_type == "error"]
    assert errors == []
    images = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
              if "image/png" in output.get("data", {})]
    assert len(images) >= 2, f"{path.name}: the figures did not display"
