"""`clusterimpact did`: NaN cells and the cells each aggregation left out; the bootstrap multipliers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from _asserts import assert_close
from clusterimpact.cli import main
from clusterimpact.estimation.staggered import aggte, att_gt
from tolerances import EXACT_REL

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "estimation"))
from _did_dgp import make_staggered


def _write(tmp_path, df, name="p.csv"):
    p = tmp_path / name
    df.to_csv(p, index=False)
    return p


def test_separated_cell_is_null_and_aggregations_list_it(tmp_path):
    df, _ = make_staggered(n_units=300, seed=5, covariate=True)
    extra = df[df["firm_id"] == df["firm_id"].iloc[0]].copy()
    extra["firm_id"] = "lonely"
    extra["treat_year"] = pd.array([2016] * len(extra), dtype="Int64")
    extra["x"] = df["x"].max() + 1
    p = _write(tmp_path, pd.concat([df, extra], ignore_index=True))
    out = tmp_path / "o.json"
    args = ["did", "--data", str(p), "--outcome", "y", "--covariates", "x", "--est", "ipw",
            "--json", str(out)]  # fmt: skip
    assert main(args) == 0
    d = json.loads(out.read_text())
    est = {e["term"]: e for e in d["estimates"]}
    assert est["ATT(2016,2017)"]["estimate"] is None and est["ATT(2016,2017)"]["std_error"] is None
    assert est["simple"]["estimate"] is not None and est["dynamic"]["std_error"] < 1.0
    assert d["excluded_cells"]["simple"] == [f"ATT(2016,{t})" for t in range(2016, 2020)]
    assert "ATT(2016,2011)" in d["excluded_cells"]["dynamic"]
    assert any("separation" in w for w in d["warnings"])
    assert any("leaves out" in w for w in d["warnings"])


def test_multiplier_option(tmp_path):
    df, _ = make_staggered(n_units=300, seed=5)
    p = _write(tmp_path, df)
    runs = {}
    for m in ("mammen", "rademacher"):
        out = tmp_path / f"{m}.json"
        args = ["did", "--data", str(p), "--outcome", "y", "--bootstrap", "--n-boot", "99",
                "--seed", "3", "--multiplier", m, "--json", str(out)]  # fmt: skip
        assert main(args) == 0
        runs[m] = json.loads(out.read_text())
        assert runs[m]["options"]["multiplier"] == m
    rad = {e["term"]: e for e in runs["rademacher"]["estimates"]}
    mam = {e["term"]: e for e in runs["mammen"]["estimates"]}
    assert rad["simple"]["estimate"] == mam["simple"]["estimate"]
    assert rad["simple"]["std_error"] != mam["simple"]["std_error"]
    res = att_gt(df, "y", n_boot=99, seed=3, multiplier="rademacher")
    simple = aggte(res, "simple")
    assert_close(rad["simple"]["std_error"], simple.std_errors["simple"], rel=EXACT_REL)
