"""`clusterimpact did`: JSON contract (term names), methods, exit status 2 on bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from _asserts import assert_close
from _reference import r_did_aggregate
from clusterimpact.cli import main
from conftest import REFERENCE
from tolerances import CS_POINT_ABS, CS_SE_REL

MPDTA = REFERENCE / "mpdta" / "mpdta.csv"
BASE = ["did", "--data", str(MPDTA), "--outcome", "lemp", "--cohort", "first.treat",
        "--unit", "countyreal", "--time", "year"]  # fmt: skip


def _run(tmp_path, *extra):
    out = tmp_path / "out.json"
    assert main([*BASE, *extra, "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_cs_json_terms_and_r_values(tmp_path):
    d = _run(tmp_path, "--method", "cs", "--control", "never")
    assert d["command"] == "did" and d["method"] == "cs"
    assert d["nobs"] == 2500 and d["n_units"] == 500
    terms = [e["term"] for e in d["estimates"]]
    for t in ("ATT(2004,2005)", "simple", "dynamic", "dynamic:-3", "group", "group:2004",
              "calendar", "calendar:2005"):  # fmt: skip
        assert t in terms
    est = {e["term"]: e for e in d["estimates"]}
    simple, calendar = (
        r_did_aggregate("never_nocov", "simple"),
        r_did_aggregate("never_nocov", "calendar"),
    )
    assert_close(est["simple"]["estimate"], simple["estimate"], abs=CS_POINT_ABS)
    assert_close(est["simple"]["std_error"], simple["std_error"], rel=CS_SE_REL)
    assert_close(est["calendar"]["estimate"], calendar["estimate"], abs=CS_POINT_ABS)
    assert {"warnings", "exclusions", "provenance", "options"} <= set(d)
    assert set(est["simple"]) >= {"estimate", "std_error", "conf_low", "conf_high"}


def test_cs_covariates_notyet_and_bootstrap_seed(tmp_path):
    d = _run(tmp_path, "--covariates", "lpop", "--est", "reg")
    est = {e["term"]: e for e in d["estimates"]}
    want = r_did_aggregate("never_lpop_reg", "simple")["estimate"]
    assert_close(est["simple"]["estimate"], want, abs=CS_POINT_ABS)
    d = _run(tmp_path, "--control", "notyet")
    est = {e["term"]: e for e in d["estimates"]}
    want = r_did_aggregate("notyet_nocov", "simple")["estimate"]
    assert_close(est["simple"]["estimate"], want, abs=CS_POINT_ABS)
    a = _run(tmp_path, "--bootstrap", "--n-boot", "199", "--seed", "5")
    b = _run(tmp_path, "--bootstrap", "--n-boot", "199", "--seed", "5")
    assert a["estimates"] == b["estimates"]


@pytest.mark.parametrize("method", ["sa", "imputation", "twfe"])
def test_other_methods(tmp_path, method):
    d = _run(tmp_path, "--method", method)
    terms = [e["term"] for e in d["estimates"]]
    assert terms[0] == "simple"
    assert "dynamic:0" in terms
    assert d["method"] == method


def test_stdout_table_without_json(capsys):
    assert main([*BASE]) == 0
    out = capsys.readouterr().out
    assert "ATT(2004,2004)" in out and "calendar:2007" in out


def test_bad_input_exit_2(tmp_path, capsys):
    assert main([*BASE[:4], "nope", *BASE[5:]]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "mpdta.csv" in err
    bad = pd.read_csv(MPDTA)
    bad.loc[0, "first.treat"] = 2006  # cohort changes within county 8001
    p = tmp_path / "bad.csv"
    bad.to_csv(p, index=False)
    out = tmp_path / "never.json"
    args = ["did", "--data", str(p), "--outcome", "lemp", "--cohort", "first.treat",
            "--unit", "countyreal", "--json", str(out)]  # fmt: skip
    assert main(args) == 2
    assert "changes over time" in capsys.readouterr().err
    assert not out.exists()
