"""`clusterimpact fe` on a user panel: table, JSON contract, bad input exits 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "estimation"))
from fe_helpers import make_panel

from _asserts import assert_close
from clusterimpact.cli import main
from clusterimpact.estimation.twfe import feols
from tolerances import STORED_REL


@pytest.fixture
def panel_csv(tmp_path):
    df = make_panel(n_firms=150, seed=1).drop(columns=["treat_year"])
    p = tmp_path / "panel.csv"
    df.to_csv(p, index=False)
    return p, df


def test_fe_json_matches_library(panel_csv, tmp_path):
    p, df = panel_csv
    out = tmp_path / "fe.json"
    argv = [
        "fe",
        "--data",
        str(p),
        "--formula",
        "ln_lp ~ member + x | firm_id + year",
        "--vcov",
        "cluster",
        "--cluster",
        "firm_id",
        "--json",
        str(out),
    ]
    assert main(argv) == 0
    js = json.loads(out.read_text())
    res = feols("ln_lp ~ member + x | firm_id + year", df, "cluster", cluster="firm_id")
    assert js["command"] == "fe" and js["nobs"] == res.nobs
    assert [e["term"] for e in js["estimates"]] == ["member", "x"]
    assert_close(js["estimates"][0]["estimate"], res.params["member"], rel=STORED_REL)
    assert_close(js["estimates"][0]["std_error"], res.std_errors["member"], rel=STORED_REL)
    assert js["fixed_effects"] == ["firm_id", "year"] and js["n_clusters"] == 150
    assert js["n_units"] == 150 and "provenance" in js and "options" in js


def test_fe_table_to_stdout(panel_csv, capsys):
    p, _ = panel_csv
    assert (
        main(["fe", "--data", str(p), "--formula", "ln_lp ~ x | firm_id", "--vcov", "hetero"]) == 0
    )
    out = capsys.readouterr().out
    assert "x" in out and "firm_id" in out


def test_fe_bad_input_exit_2(panel_csv, tmp_path, capsys):
    p, _ = panel_csv
    out = tmp_path / "no.json"
    argv = [
        "fe",
        "--data",
        str(p),
        "--formula",
        "ln_lp ~ missing_col | firm_id",
        "--json",
        str(out),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "missing_col" in err and str(p) in err
    assert not out.exists()
    assert main(["fe", "--data", str(p), "--formula", "ln_lp ~ x", "--vcov", "cluster"]) == 2
    assert "needs --cluster" in capsys.readouterr().err
