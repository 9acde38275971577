"""The import rules of the package: one-way layers, no cycles, light entry points.

Every `import` and `from ... import` in `sim/` counts, inside functions and under `TYPE_CHECKING` too.
"""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parents[2] / "sim"

#: The layers from the bottom up, each one or more folders of sim/ (or `sim/api.py`); a module may import
#: only from its own layer and those below. Folders of one layer are the workflows beside each other.
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(names.split())
    for names in (
        "core",
        "policy",
        "scenario",
        "ingest",
        "model",
        "analysis",
        "run",
        "report",
        "experiments verify probe fit",
        "api",
        "cli",
    )
)
#: Modules outside the layer folders.
RANK_OF_MODULE = {"sim": 0, "sim.__main__": len(LAYERS)}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SIM.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in SIM.rglob("*.py")}


def resolve(name: str) -> str | None:
    """The sim module an imported name lives in (a package's module, or the package itself)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(path: Path) -> set[str]:
    """Every sim module the file imports, wherever the import statement is."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            base = node.module or ""
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name == "sim" or name.startswith("sim."):
                target = resolve(name)
                if target is not None:
                    found.add(target)
    return found


GRAPH = {name: imports_of(path) - {name} for name, path in MODULES.items()}


def rank(module: str) -> int:
    if module in RANK_OF_MODULE:
        return RANK_OF_MODULE[module]
    folder = module.split(".")[1]
    for index, names in enumerate(LAYERS):
        if folder in names:
            return index
    raise AssertionError(f"{module} is in no layer folder; add its folder to LAYERS")


def test_every_module_is_in_a_layer() -> None:
    for module in MODULES:
        rank(module)


def test_no_import_cycle() -> None:
    # graphlib raises CycleError with the cycle; a package importing its own submodules is not a cycle,
    # but a submodule importing its package back is (the package is imported first either way).
    try:
        tuple(graphlib.TopologicalSorter(GRAPH).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module: str) -> None:
    upward = sorted(target for target in GRAPH[module] if rank(target) > rank(module))
    assert not upward, f"{module} imports from a higher layer: {upward}"


def test_the_api_does_not_import_the_command_line() -> None:
    reached = set()
    todo = ["sim.api"]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo.extend(GRAPH[module])
    assert not [m for m in reached if m.startswith("sim.cli")]


def loaded_after(statement: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running `statement`."""
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(output.split())


def test_the_scenario_layer_loads_no_pandas_and_no_metrics() -> None:
    loaded = loaded_after("import sim.scenario")
    assert "pandas" not in loaded
    assert not [m for m in loaded if m.startswith("sim.analysis")]


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["run", "--help"], ["sweep", "--help"]])
def test_the_command_line_starts_without_the_heavy_libraries(argv: list[str]) -> None:
    loaded = loaded_after(
        "import contextlib, io\nfrom sim.cli.main import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n    main({argv!r})"
    )
    heavy = {"pandas", "scipy", "matplotlib", "dask", "distributed", "numpy", "pyarrow", "pydantic", "simpy"}
    assert not heavy & {name.split(".")[0] for name in loaded}
