"""Every notebook in notebooks/ runs top to bottom (jupytext percent files, executed with nbclient).

The notebooks are stored as jupytext percent-format ``.py`` files (outputs are never committed); each
is converted and executed here in its own temporary working folder with the ``python3`` kernel of this
environment (ipykernel), so the tests are independent and safe to run in parallel (pytest-xdist).
Each notebook keeps its data small (about 2,000 firms) so that it runs in well under a minute.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.py"))
EXPECTED = {
    "01_quickstart",
    "02_productivity_tfp",
    "03_matching_balance",
    "04_duration_premium",
    "05_reproduce_report",
}


def test_all_notebooks_are_present():
    assert {p.stem for p in NOTEBOOKS} == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    import jupytext
    from nbclient import NotebookClient

    nb = jupytext.read(path)
    assert any(c.cell_type == "markdown" for c in nb.cells), "a notebook tells a story"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute(cwd=str(tmp_path), env=dict(os.environ))
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors, errors
