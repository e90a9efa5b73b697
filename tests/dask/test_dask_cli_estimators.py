"""The estimation commands with ``--engine dask`` (#16): the same JSON numbers as in memory.

``fe``, ``duration``, ``did`` (cs, imputation) and ``tfp`` on a small Parquet panel, once in memory and
once with ``--engine dask --scheduler local`` (a LocalCluster started and closed by the command, the
panel read lazily into 3 partitions by firm). An estimator without a Dask path is refused with status 2
and a message naming it, never run silently in memory.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pytest

from clusterimpact.cli import main
from clusterimpact.panel import build_panel
from clusterimpact.synthetic import simulate
from tolerances import DASK_FLOOR, DASK_REL

pytestmark = [pytest.mark.xdist_group("dask")]

DASK = ["--engine", "dask", "--scheduler", "local", "--n-workers", "1", "--npartitions", "3"]


@pytest.fixture(scope="module")
def panel_file(tmp_path_factory) -> Path:
    """The panel as one Parquet file (the in-memory input) and, beside it, as a folder of 3 files cut
    by year (``panel_parts/``, the Dask input: reading it by firm needs the shuffle)."""
    sim = simulate("ecoom", seed=6, n_firms=600)
    data = build_panel(sim.accounts, sim.registry, deflators=sim.deflators).data
    folder = tmp_path_factory.mktemp("cli_est")
    path = folder / "panel.parquet"
    data.to_parquet(path, index=False)
    (folder / "panel_parts").mkdir()
    years = np.sort(data["year"].unique())
    for i, chunk in enumerate(np.array_split(years, 3)):
        part = data[data["year"].isin(chunk)]
        part.to_parquet(folder / "panel_parts" / f"part-{i}.parquet", index=False)
    return path


def _estimator(name: str):
    from clusterimpact.estimation.duration import duration_effects
    from clusterimpact.estimation.fe import feols
    from clusterimpact.estimation.imputation import imputation_did
    from clusterimpact.estimation.staggered import att_gt
    from clusterimpact.productivity import estimate_tfp

    return {"fe": feols, "duration": duration_effects, "cs": att_gt,
            "imputation": imputation_did, "tfp": estimate_tfp}[name]  # fmt: skip


COMMANDS = {
    "fe": ["fe", "--formula", "ln_lp ~ member | firm_id + year", "--vcov", "cluster",
           "--cluster", "firm_id"],
    "duration": ["duration", "--outcome", "ln_lp"],
    "cs": ["did", "--method", "cs", "--outcome", "ln_lp", "--control", "notyet",
           "--allow-unbalanced", "--est", "reg"],
    "imputation": ["did", "--method", "imputation", "--outcome", "ln_lp"],
    "tfp": ["tfp", "--method", "ols", "--output", "ln_va", "--free", "ln_emp", "--state",
            "ln_capital", "--logged"],
}  # fmt: skip


@pytest.mark.parametrize("name", list(COMMANDS))
def test_engine_dask_equals_memory(panel_file: Path, tmp_path: Path, capsys, name: str) -> None:
    mem, dsk = tmp_path / "memory.json", tmp_path / "dask.json"
    fe_engine = ["--engine", "fast"] if name == "fe" else []
    memory = [*COMMANDS[name], "--data", str(panel_file), *fe_engine, "--json", str(mem)]
    assert main(memory) == 0, capsys.readouterr().err
    parts = str(panel_file.parent / "panel_parts")
    status = main([*COMMANDS[name], "--data", parts, *DASK, "--json", str(dsk)])
    err = capsys.readouterr().err
    if "backend" not in inspect.signature(_estimator(name)).parameters:
        assert status == 2 and "has no Dask path; run this command without --engine dask" in err
        return
    assert status == 0, err
    a, b = json.loads(mem.read_text()), json.loads(dsk.read_text())
    assert [e["term"] for e in a["estimates"]] == [e["term"] for e in b["estimates"]]
    assert a["nobs"] == b["nobs"] and a["n_units"] == b["n_units"]
    for key in ("estimate", "std_error"):
        exp = np.array([e[key] for e in a["estimates"]], dtype=float)
        got = np.array([e[key] for e in b["estimates"]], dtype=float)
        floor = DASK_FLOOR * np.nanmax(np.abs(exp))
        np.testing.assert_allclose(got, exp, rtol=DASK_REL, atol=floor, err_msg=f"{name} {key}")


def test_engine_dask_column_errors(panel_file: Path, capsys) -> None:
    status = main(["duration", "--data", str(panel_file), "--outcome", "nope", *DASK])
    assert status == 2
    err = capsys.readouterr().err
    assert "nope" in err and str(panel_file) in err
