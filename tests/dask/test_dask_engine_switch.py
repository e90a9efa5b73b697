"""The engine switch (#16): [compute] in the study TOML and --engine/--scheduler on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clusterimpact.cli import main
from clusterimpact.errors import SpecError
from clusterimpact.panel import build_panel
from clusterimpact.spec import ComputeSpec, StudySpec
from clusterimpact.synthetic import simulate

pytestmark = [pytest.mark.xdist_group("dask")]


def test_compute_section_parsed_and_recorded() -> None:
    spec = StudySpec.from_dict(
        {"compute": {"engine": "dask", "scheduler": "tcp://10.1.2.3:8786", "npartitions": 8}}
    )
    assert spec.compute == ComputeSpec("dask", "tcp://10.1.2.3:8786", 2, 8)
    assert spec.compute.address == "tcp://10.1.2.3:8786"
    assert StudySpec.from_record(spec.to_dict()).compute == spec.compute
    assert StudySpec().compute.engine == "memory"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"engine": "spark"}, "engine='spark' is not valid; choose one of 'memory', 'dask'"),
        ({"engine": "dask", "scheduler": "10.0.0.1"}, "must be 'local' or a scheduler address"),
        ({"engine": "dask", "n_workers": 0}, r"n_workers=0 must be an integer >= 1"),
        ({"engine": "dask", "npartitions": 2.5}, r"npartitions=2.5 must be an integer >= 1"),
        ({"scheduler": "tcp://h:1"}, 'apply to engine = "dask" only'),
        ({"engine": "dask", "colour": "red"}, "unknown key.*'colour'.*valid keys: engine"),
        ({"engine": "dask", "password": "x"}, "holds no credentials.*DASK_DISTRIBUTED__COMM__TLS"),
        ({"engine": "dask", "tls_key": "/k.pem"}, "holds no credentials.*~/.config/dask"),
        ({"engine": "dask", "scheduler": "tls://me:pw@h:8786"}, "user or password"),
    ],
)
def test_compute_section_refuses(section: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        StudySpec.from_dict({"compute": section})


@pytest.fixture(scope="module")
def small_files(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli_dask")
    sim = simulate("ecoom", seed=4, n_firms=400, dirty=True)
    (folder / "acc").mkdir()
    for i, c in enumerate(np.array_split(np.arange(len(sim.accounts)), 3)):
        sim.accounts.iloc[c].to_parquet(folder / "acc" / f"part-{i}.parquet", index=False)
    sim.accounts.to_parquet(folder / "whole.parquet", index=False)
    sim.registry.to_csv(folder / "registry.csv", index=False)
    sim.deflators.to_csv(folder / "deflators.csv", index=False)
    return folder


def test_cli_build_on_dask_equals_memory(small_files: Path, tmp_path: Path, capsys) -> None:
    f = small_files
    common = ["--registry", str(f / "registry.csv"), "--deflators", str(f / "deflators.csv"),
              "--start", "2010", "--min-years", "2"]  # fmt: skip
    out = tmp_path / "panel.parquet"
    status = main(["build", "--accounts", str(f / "acc"), *common, "--out", str(out),
                   "--json", str(tmp_path / "b.json"), "--engine", "dask", "--scheduler", "local",
                   "--n-workers", "1", "--npartitions", "4"])  # fmt: skip
    assert status == 0, capsys.readouterr().err
    # four partitions and the mark that lets a later build replace the folder (Parquet readers skip it)
    assert sorted(p.name for p in out.iterdir()) == [
        "_clusterimpact_written",
        *[f"part.{i}.parquet" for i in range(4)],
    ]
    from clusterimpact.panel import PanelSpec

    memory = build_panel(f / "whole.parquet", f / "registry.csv",
                         PanelSpec(start=2010, min_years=2), f / "deflators.csv")  # fmt: skip
    got = pd.read_parquet(out).sort_values(["firm_id", "year"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, memory.data, check_dtype=False, check_exact=True)
    js = json.loads((tmp_path / "b.json").read_text())
    assert js["exclusions"] == memory.exclusion_counts()
    assert js["nobs"] == memory.n_obs and js["engine"]["npartitions"] == 4
    excl = pd.read_parquet(tmp_path / "panel.exclusions.parquet")
    assert len(excl) == len(memory.exclusions)
    assert excl["reason"].value_counts().to_dict() == memory.exclusion_counts()


def test_cli_engine_flags_refused(small_files: Path, tmp_path: Path, capsys) -> None:
    acc = str(small_files / "acc")
    bad = [
        (["--scheduler", "tcp://h:1"], 'apply to engine = "dask" only'),
        (["--engine", "dask", "--n-workers", "0"], "--n-workers 0 must be an integer >= 1"),
        (["--engine", "dask", "--scheduler", "tcp://u:p@h:1"], "user or password"),
    ]
    for flags, message in bad:
        status = main(["build", "--accounts", acc, "--out", str(tmp_path / "p.parquet"), *flags])
        assert status == 2
        assert message in capsys.readouterr().err
    status = main(
        ["build", "--accounts", acc, "--out", str(tmp_path / "p.csv"), "--engine", "dask"]
    )
    assert status == 2
    assert "Parquet folders" in capsys.readouterr().err
