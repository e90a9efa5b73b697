"""`clusterimpact tfp`: JSON contract, --out panel, levels vs --logged, bad input exits 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from _asserts import assert_close
from clusterimpact.cli import main
from tolerances import EXACT_FLOOR, EXACT_REL

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "productivity"))
from _prod_dgp import make_production


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("tfp") / "panel.csv"
    make_production(250, seed=4).drop(columns="omega").to_csv(path, index=False)
    return path


def test_json_contract_and_out_panel(data_file, tmp_path):
    js, out = tmp_path / "r.json", tmp_path / "tfp.parquet"
    argv = [
        "tfp",
        "--data",
        str(data_file),
        "--output",
        "va",
        "--free",
        "emp",
        "--state",
        "capital",
        "--proxy",
        "materials",
        "--method",
        "acf",
        "--bootstrap",
        "3",
        "--seed",
        "1",
        "--n-starts",
        "2",
        "--json",
        str(js),
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    payload = json.loads(js.read_text())
    assert payload["command"] == "tfp" and payload["method"] == "acf"
    assert [e["term"] for e in payload["estimates"]] == ["emp", "capital"]
    for key in (
        "nobs",
        "n_units",
        "options",
        "warnings",
        "exclusions",
        "provenance",
        "returns_to_scale",
        "diagnostics",
    ):
        assert key in payload
    assert payload["n_units"] == 250
    assert payload["estimates"][0]["std_error"] > 0
    panel = pd.read_parquet(out)
    assert {"ln_tfp", "ln_tfp_resid"} <= set(panel.columns)
    assert len(panel) == len(pd.read_csv(data_file))


def test_logged_matches_levels(data_file, tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    common = ["--method", "wooldridge"]
    assert (
        main(
            [
                "tfp",
                "--data",
                str(data_file),
                "--output",
                "va",
                "--free",
                "emp",
                "--state",
                "capital",
                "--proxy",
                "materials",
                "--json",
                str(a),
                *common,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "tfp",
                "--data",
                str(data_file),
                "--output",
                "ln_va",
                "--free",
                "ln_emp",
                "--state",
                "ln_capital",
                "--proxy",
                "ln_materials",
                "--logged",
                "--json",
                str(b),
                *common,
            ]
        )
        == 0
    )
    ea = [e["estimate"] for e in json.loads(a.read_text())["estimates"]]
    eb = [e["estimate"] for e in json.loads(b.read_text())["estimates"]]
    # logs taken by the CLI vs the panel's ln_ columns (the same numbers): floating point only
    assert_close(ea, eb, rel=EXACT_REL, floor=EXACT_FLOOR)


def test_table_to_stdout(data_file, capsys):
    assert (
        main(
            [
                "tfp",
                "--data",
                str(data_file),
                "--output",
                "ln_va",
                "--free",
                "ln_emp",
                "--state",
                "ln_capital",
                "--method",
                "ols",
                "--logged",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "ln_emp" in out and "Returns to scale" in out


def test_bad_input_exits_2(data_file, tmp_path, capsys):
    js = tmp_path / "never.json"
    assert (
        main(
            [
                "tfp",
                "--data",
                str(data_file),
                "--output",
                "va",
                "--free",
                "nope",
                "--method",
                "ols",
                "--json",
                str(js),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "panel.csv" in err and "nope" in err
    assert not js.exists()
    assert (
        main(
            [
                "tfp",
                "--data",
                str(data_file),
                "--output",
                "va",
                "--free",
                "emp",
                "--state",
                "capital",
                "--method",
                "lp",
            ]
        )
        == 2
    )
    assert "--proxy" in capsys.readouterr().err
