"""`clusterimpact did --honest`: the sensitivity sets in the JSON, equal to the API's."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from _asserts import assert_close
from clusterimpact.cli import main
from clusterimpact.estimation.event_study import event_study
from clusterimpact.estimation.honest import honest_did
from conftest import REFERENCE
from tolerances import STORED_REL


@pytest.fixture(scope="module")
def medicaid_csv(tmp_path_factory):
    df = pd.read_csv(REFERENCE / "honestdid" / "ehec_data.csv")
    d = df[(df.year < 2016) & (df.yexp2.isna() | (df.yexp2 != 2015))].copy()
    d["cohort"] = np.where(d.yexp2 == 2014, 2014, 0)
    path = tmp_path_factory.mktemp("honest") / "medicaid.csv"
    d.to_csv(path, index=False)
    return path, d


def _run(path, tmp_path, *extra) -> dict:
    out = tmp_path / "out.json"
    base = [
        "did",
        "--data",
        str(path),
        "--outcome",
        "dins",
        "--cohort",
        "cohort",
        "--unit",
        "stfips",
        "--time",
        "year",
    ]
    assert main([*base, *extra, "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_twfe_honest_json_matches_api(medicaid_csv, tmp_path):
    path, d = medicaid_csv
    js = _run(path, tmp_path, "--method", "twfe", "--honest", "both", "--honest-grid", "0,0.5")
    blocks = {b["restriction"]: b for b in js["sensitivity"]}
    assert set(blocks) == {"rm", "sd"}
    es = event_study(d, "dins", cohort="cohort", unit="stfips", time="year", bin_endpoints=False)
    for kind, b in blocks.items():
        r = honest_did(es, restriction=kind, grid=[0.0, 0.5])
        assert b["grid"] == [0.0, 0.5] and b["target"] == "e=0"
        assert_close([s["conf_low"] for s in b["sets"]], r.sets.conf_low, rel=STORED_REL)
        assert_close([s["conf_high"] for s in b["sets"]], r.sets.conf_high, rel=STORED_REL)
        assert_close(b["breakdown"], r.breakdown, rel=STORED_REL)
        assert "summary" not in b


def test_cs_needs_universal_base_period_and_imputation_refused(medicaid_csv, tmp_path, capsys):
    path, _ = medicaid_csv
    out = tmp_path / "x.json"
    base = [
        "did",
        "--data",
        str(path),
        "--outcome",
        "dins",
        "--cohort",
        "cohort",
        "--unit",
        "stfips",
        "--time",
        "year",
        "--json",
        str(out),
    ]
    assert main([*base, "--method", "cs", "--honest", "rm"]) == 2
    assert "--base-period universal" in capsys.readouterr().err
    assert main([*base, "--method", "imputation", "--honest", "sd"]) == 0  # leads + lags (#14)
    js = json.loads(out.read_text())
    assert [b["restriction"] for b in js["sensitivity"]] == ["sd"]
    out.unlink()
    assert main([*base, "--method", "sa", "--honest", "sd", "--honest-target", "x"]) == 2
    assert not out.exists()
    js = _run(
        path,
        tmp_path,
        "--method",
        "cs",
        "--base-period",
        "universal",
        "--honest",
        "sd",
        "--honest-grid",
        "0,0.02",
        "--honest-target",
        "average",
        "--est",
        "reg",
    )
    (b,) = js["sensitivity"]
    assert b["target"] == "average" and len(b["sets"]) == 2
