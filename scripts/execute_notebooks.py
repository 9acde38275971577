"""Execute every notebook top to bottom on a fresh kernel and save it with its outputs (`make notebooks`).

The notebooks are committed executed, so that they read on a code host with their tables and figures.
They run at their own default scale (TOKENSIM_NOTEBOOK_SCALE unset); pass paths to execute only some.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parents[1]


def main(paths: list[str]) -> int:
    notebooks = [Path(p) for p in paths] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    os.environ.pop("TOKENSIM_NOTEBOOK_SCALE", None)
    os.environ["MPLBACKEND"] = "Agg"
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        client = nbclient.NotebookClient(notebook, timeout=1800, kernel_name="python3",
                                         resources={"metadata": {"path": str(path.parent)}})
        client.execute()
        for cell in notebook.cells:  # no run-specific metadata: the file changes only when results do
            cell.metadata.pop("execution", None)
        nbformat.write(notebook, path)
        print(f"executed {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
