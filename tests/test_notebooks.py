"""The notebooks run top to bottom on a fresh kernel (at a small scale). They are committed without
outputs, or executed top to bottom (in order, without an error), as 04 is, so its figures show where the
notebook is read."""

from __future__ import annotations

import time
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
def test_notebook_is_committed_without_outputs_and_has_prose(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    prose = [cell for cell in notebook.cells if cell.cell_type == "markdown"]
    blank = all(cell.outputs == [] and cell.execution_count is None for cell in code)
    executed = [cell.execution_count for cell in code] == list(range(1, len(code) + 1)) and not any(
        output.output_type == "error" for cell in code for output in cell.outputs)
    assert blank or executed, f"{path.name}: commit it without outputs, or executed top to bottom"
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
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError, with the cell and traceback, if a cell fails
    elapsed = time.perf_counter() - started
    errors = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
              if output.output_type == "error"]
    assert errors == []
    images = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
              if "image/png" in output.get("data", {})]
    assert len(images) >= 2, f"{path.name}: the figures did not display"
    assert elapsed < 120, f"{path.name} took {elapsed:.0f} s at scale {SMALL_SCALE}"
