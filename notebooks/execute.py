"""Execute the notebooks and write each as a paired ``.ipynb`` (outputs, inline PNG figures) + ``.py``.

Usage (from the repository root; ``make notebooks-execute`` runs it on all of them)::

    python notebooks/execute.py [notebooks/06_event_study_and_table.py ...]

The jupytext percent ``.py`` file is the source; it is executed in a fresh temporary folder with the
``python3`` kernel and matplotlib's inline backend (headless), then written back as the pair
(``formats = "ipynb,py:percent"``) so that ``jupytext --sync`` and Jupyter keep both in step.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import jupytext
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
INLINE = "module://matplotlib_inline.backend_inline"


def execute(path: Path) -> None:
    """Run one notebook and write ``path`` and its ``.ipynb`` twin."""
    nb = jupytext.read(path)
    nb.metadata.setdefault("jupytext", {})["formats"] = "ipynb,py:percent"
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MPLBACKEND": INLINE, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
        client = NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp}}
        )
        client.execute(cwd=tmp, env=env)
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
    jupytext.write(nb, path.with_suffix(".ipynb"))
    jupytext.write(nb, path, fmt="py:percent")


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(HERE.glob("[0-9][0-9]_*.py"))
    for p in paths:
        print(f"executing {p.name}", flush=True)
        execute(p.resolve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
