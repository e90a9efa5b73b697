"""The notebooks: each runs top to bottom, draws at least one figure, and ships as an executed ``.ipynb``
paired with its jupytext percent ``.py`` (the readable, diffable source).

Each ``.py`` is converted and executed here (nbclient, the ``python3`` kernel of this environment, in its
own temporary working folder, so the tests are independent and safe under pytest-xdist). The kernel gets
matplotlib's inline backend, which renders headless through Agg and returns figures as PNG outputs, so
"draws a figure" is checked on the outputs; the notebooks themselves never pick a backend. Each notebook
keeps its data small (at most about 2,500 firms) so that it runs in seconds.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("[0-9][0-9]_*.py"))
EXPECTED = {
    "01_quickstart",
    "02_productivity_tfp",
    "03_matching_balance",
    "04_duration_premium",
    "05_reproduce_report",
    "06_event_study_and_table",
    "07_your_own_file",
    "08_pretrend_rejects",
}
INLINE = "module://matplotlib_inline.backend_inline"
# a private module: clusterimpact._x, clusterimpact.x._y (import or attribute access)
PRIVATE = re.compile(r"\bclusterimpact(?:\.\w+)*\._\w+")


def _images(nb) -> int:
    return sum(
        "image/png" in o.get("data", {})
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )


def test_all_notebooks_are_present():
    assert {p.stem for p in NOTEBOOKS} == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_source_rules(path):
    text = path.read_text(encoding="utf-8")
    assert not PRIVATE.search(text), PRIVATE.search(text)
    assert "matplotlib.use(" not in text and "MPLBACKEND" not in text


def test_private_import_pattern_catches_both_forms():
    assert PRIVATE.search("from clusterimpact._validation import x")
    assert PRIVATE.search("from clusterimpact.report._estimation_steps import balance_wide")
    assert not PRIVATE.search("from clusterimpact.estimation.twfe import static_premium")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_ipynb_is_paired_executed_and_in_sync(path):
    import jupytext

    ipynb = path.with_suffix(".ipynb")
    assert ipynb.is_file(), f"{ipynb.name} missing: run `make notebooks-execute`"
    nb = jupytext.read(ipynb)
    assert nb.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    # same cells, same text: the .py is exactly what jupytext writes from the .ipynb
    assert jupytext.writes(nb, fmt="py:percent") == path.read_text(encoding="utf-8"), (
        f"{path.name} and {ipynb.name} differ: run `jupytext --sync {path}` or re-execute"
    )
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), "every code cell was executed"
    assert not [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert _images(nb) >= 1, "an executed notebook shows at least one figure"
    assert ipynb.stat().st_size < 200_000, "keep committed notebooks small"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_draws(path, tmp_path, monkeypatch):
    import jupytext
    from nbclient import NotebookClient

    nb = jupytext.read(path)
    assert any(c.cell_type == "markdown" for c in nb.cells), "a notebook tells a story"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    monkeypatch.setenv("MPLBACKEND", INLINE)
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
    assert _images(nb) >= 1, "the notebook drew no figure"
    # every cell that draws (``ax = ...``) shows its figure, not only the notebook's first one
    silent = [
        c.source.splitlines()[0]
        for c in nb.cells
        if c.cell_type == "code"
        and re.search(r"^ax = ", c.source, flags=re.M)
        and not any("image/png" in o.get("data", {}) for o in c.get("outputs", []))
    ]
    assert not silent, silent
