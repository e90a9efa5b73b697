"""``clusterimpact tfp --engine dask --out FOLDER`` (#16): the panel with ln TFP as a Parquet folder.

A small Parquet panel (a folder cut by year, so reading it by firm needs the shuffle), LP on the shared
test cluster (3 partitions): the folder holds one file per partition and the mark of a folder this
package wrote, and its ln TFP by firm-year equals the ``--out`` file of the in-memory run; a second run
replaces it (no staging folder left); a folder the package did not write is refused (status 2,
untouched), and so is a single file (``.csv``) with a message that a folder is needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _asserts import assert_close
from clusterimpact._panel_dask_write import WRITTEN_MARK
from clusterimpact.cli import main
from clusterimpact.panel import build_panel
from clusterimpact.synthetic import simulate
from tolerances import DASK_FLOOR, DASK_REL

pytestmark = [pytest.mark.xdist_group("dask")]

TFP = ["tfp", "--output", "ln_va", "--free", "ln_emp", "--state", "ln_capital", "--logged"]
LP = [*TFP, "--method", "lp", "--proxy", "ln_materials", "--n-starts", "1", "--seed", "3"]


def _dask(client) -> list[str]:
    return ["--engine", "dask", "--scheduler", client.scheduler.address, "--npartitions", "3"]


@pytest.fixture(scope="module")
def panel_file(tmp_path_factory) -> Path:
    """The panel as one Parquet file and, beside it, a folder of 3 files cut by year."""
    sim = simulate("ecoom", seed=6, n_firms=300)
    data = build_panel(sim.accounts, sim.registry, deflators=sim.deflators).data
    folder = tmp_path_factory.mktemp("cli_tfp_out")
    path = folder / "panel.parquet"
    data.to_parquet(path, index=False)
    (folder / "parts").mkdir()
    for i, chunk in enumerate(np.array_split(np.sort(data["year"].unique()), 3)):
        data[data["year"].isin(chunk)].to_parquet(folder / "parts" / f"p{i}.parquet", index=False)
    return path


def test_out_folder_equals_the_in_memory_panel(dask_client, panel_file, tmp_path, capsys) -> None:
    mem, dsk = tmp_path / "memory.parquet", tmp_path / "tfp.parquet"
    assert main([*LP, "--data", str(panel_file), "--out", str(mem)]) == 0, capsys.readouterr().err
    parts = str(panel_file.parent / "parts")
    args = [*LP, "--data", parts, *_dask(dask_client), "--out", str(dsk)]
    assert main(args) == 0, capsys.readouterr().err
    assert dsk.is_dir() and (dsk / WRITTEN_MARK).is_file()
    assert len(list(dsk.glob("*.parquet"))) == 3  # one file per partition
    key = ["firm_id", "year"]
    a = pd.read_parquet(mem).sort_values(key).reset_index(drop=True)
    b = pd.read_parquet(dsk).sort_values(key).reset_index(drop=True)
    assert sorted(a.columns) == sorted(b.columns) and len(a) == len(b)
    pd.testing.assert_frame_equal(b[key], a[key], check_dtype=False)
    for c in ("ln_tfp", "ln_tfp_resid"):
        x, y = b[c].to_numpy(float), a[c].to_numpy(float)
        np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
        assert (~np.isnan(y)).any()
        assert_close(x[~np.isnan(y)], y[~np.isnan(y)], rel=DASK_REL, floor=DASK_FLOOR, msg=c)
    # a second run replaces the folder this package wrote, and leaves no staging folder behind
    (dsk / "part.0.parquet").unlink()
    ols = [*TFP, "--method", "ols", "--data", parts, *_dask(dask_client), "--out", str(dsk)]
    assert main(ols) == 0, capsys.readouterr().err
    assert len(list(dsk.glob("*.parquet"))) == 3 and (dsk / WRITTEN_MARK).is_file()
    assert [p.name for p in tmp_path.iterdir() if ".ci-" in p.name] == []


def test_out_must_be_a_folder_this_package_may_replace(
    dask_client, panel_file, tmp_path, capsys
) -> None:
    parts = str(panel_file.parent / "parts")
    ols = [*TFP, "--method", "ols", "--data", parts, *_dask(dask_client)]
    assert main([*ols, "--out", str(tmp_path / "tfp.csv")]) == 2
    err = capsys.readouterr().err
    assert "Parquet folder" in err and "not a single file" in err and "tfp.csv" in err
    assert not (tmp_path / "tfp.csv").exists()
    mine = tmp_path / "mine.parquet"
    mine.mkdir()
    (mine / "notes.txt").write_text("my own data", encoding="utf-8")
    assert main([*ols, "--out", str(mine)]) == 2
    err = capsys.readouterr().err
    assert "not a Parquet folder this package wrote" in err and str(mine) in err
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
