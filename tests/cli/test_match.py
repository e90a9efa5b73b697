"""`clusterimpact match`: JSON contract, panel mode with the stacked output, bad input exit status."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd

from _asserts import assert_close
from clusterimpact.cli import main
from clusterimpact.matching import match
from tolerances import STORED_REL

NSW = Path(__file__).resolve().parents[1] / "reference" / "nsw" / "nsw_dw.csv"


def test_match_json_follows_the_contract(tmp_path):
    out = tmp_path / "m.json"
    argv = [
        "match",
        "--data",
        str(NSW),
        "--treatment",
        "treat",
        "--outcome",
        "re78",
        "--covariates",
        "age,educ,re74,re75",
        "--method",
        "nnmatch",
        "--estimand",
        "ate",
        "--json",
        str(out),
    ]
    assert main(argv) == 0
    js = json.loads(out.read_text())
    for key in (
        "command",
        "method",
        "nobs",
        "n_units",
        "options",
        "estimates",
        "warnings",
        "exclusions",
        "provenance",
        "balance",
        "counts",
    ):
        assert key in js
    assert js["command"] == "match" and js["estimates"][0]["term"] == "ATE"
    ref = match(
        pd.read_csv(NSW),
        "treat",
        ["age", "educ", "re74", "re75"],
        method="nnmatch",
        estimand="ate",
        outcome="re78",
    )
    assert_close(js["estimates"][0]["estimate"], ref.params["ATE"], rel=STORED_REL)


def test_match_text_summary(capsys):
    assert (
        main(
            [
                "match",
                "--data",
                str(NSW),
                "--treatment",
                "treat",
                "--outcome",
                "re78",
                "--covariates",
                "age,educ",
                "--metric",
                "propensity",
                "--replace",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "ATT" in out and "Standardized mean differences" in out


def test_match_panel_mode_writes_stacked_panel(tmp_path):
    from clusterimpact.synthetic import simulate

    data = tmp_path / "panel.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        simulate("ecoom", seed=2, n_firms=800).panel().data.to_csv(data, index=False)
    stacked = tmp_path / "stacked.csv"
    out = tmp_path / "p.json"
    rc = main(
        [
            "match",
            "--panel",
            "--data",
            str(data),
            "--cohort",
            "treat_year",
            "--covariates",
            "ln_emp,age,ln_kl",
            "--trends",
            "ln_lp",
            "--outcome",
            "ln_lp",
            "--stacked-out",
            str(stacked),
            "--json",
            str(out),
        ]
    )
    assert rc == 0
    js = json.loads(out.read_text())
    assert js["estimates"][0]["term"] == "ATT"
    mp = pd.read_csv(stacked)
    assert {"stack", "stack_unit", "rel_year", "treated", "weight"} <= set(mp.columns)


def test_bad_input_exits_2_and_names_file_and_column(tmp_path, capsys):
    out = tmp_path / "never.json"
    rc = main(
        [
            "match",
            "--data",
            str(NSW),
            "--treatment",
            "treat",
            "--covariates",
            "age,nope",
            "--json",
            str(out),
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "nsw_dw.csv" in err and "'nope'" in err
    assert not out.exists()


def test_match_panel_design_equals_the_library_call(tmp_path, capsys):
    from clusterimpact.matching import match_panel
    from clusterimpact.synthetic import simulate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = simulate("ecoom", seed=3, n_firms=800).panel().data
        expected = match_panel(
            panel, design="trends", exact=["sector"], outcome="ln_lp", caliper=0.2, seed=1
        )
    data = tmp_path / "panel.parquet"
    panel.to_parquet(data)
    out = tmp_path / "d.json"
    args = ["match", "--panel", "--data", str(data), "--design", "trends", "--exact", "sector"]
    args += ["--outcome", "ln_lp", "--caliper", "0.2", "--seed", "1", "--json", str(out)]
    assert main(args) == 0
    est = json.loads(out.read_text())["estimates"][0]
    assert_close(est["estimate"], float(expected.params["ATT"]), rel=STORED_REL)
    # a design with explicit covariates is a usage error; so is a design without --panel
    assert main([*args[:-2], "--covariates", "age"]) == 2
    assert "sets the matching variables" in capsys.readouterr().err
    assert main(["match", "--data", str(data), "--design", "trends", "--treatment", "member"]) == 2
    assert "--design needs --panel" in capsys.readouterr().err
