"""`clusterimpact heterogeneity`: the JSON contract, the numbers equal the API's, bad input exits 2."""

from __future__ import annotations

import json
import warnings

import pytest

from _asserts import assert_close
from clusterimpact.cli import main
from clusterimpact.errors import EstimationWarning
from clusterimpact.estimation.heterogeneity import subgroup_effects
from tolerances import STORED_REL


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from clusterimpact.synthetic import simulate

    path = tmp_path_factory.mktemp("het") / "panel.csv"
    simulate("ecoom", seed=2, n_firms=1500).panel().data.to_csv(path, index=False)
    return path


def test_json_contract_and_same_numbers_as_the_api(data, tmp_path):
    out = tmp_path / "h.json"
    argv = ["heterogeneity", "--data", str(data), "--outcome", "ln_lp", "--by", "size,region"]
    argv += ["--control", "notyet", "--allow-unbalanced", "--n-boot", "199", "--seed", "4"]
    assert main([*argv, "--json", str(out)]) == 0
    js = json.loads(out.read_text())
    for key in ("command", "method", "nobs", "n_units", "options", "estimates", "tests"):
        assert key in js
    assert js["command"] == "heterogeneity" and [t["by"] for t in js["tests"]] == ["size", "region"]
    assert [t["comparison"] for t in js["tests"]] == ["within", "within"]  # the presets' default
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        api = subgroup_effects(
            pd.read_csv(data),
            "ln_lp",
            "size",
            control="notyet",
            allow_unbalanced=True,
            n_boot=199,
            seed=4,
        )
    rows = {e["term"]: e for e in js["estimates"] if e["term"].startswith("size:")}
    assert list(rows) == list(api.params.index)
    for term, e in rows.items():
        assert_close(e["estimate"], api.params[term], rel=STORED_REL)
        assert_close(e["p_romano_wolf"], api.p_romano_wolf[term], rel=STORED_REL)
        assert e["n_firms"] == api.n_firms[term]
    assert_close(
        js["tests"][0]["equal_effects"]["p_value"], api.equal_effects["p_value"], rel=STORED_REL
    )


def test_text_output_custom_bins_and_bad_input(data, tmp_path, capsys):
    argv = ["heterogeneity", "--data", str(data), "--outcome", "ln_lp", "--allow-unbalanced"]
    assert main([*argv, "--by", "emp", "--bins", "0,10,1e6", "--n-boot", "99"]) == 0
    text = capsys.readouterr().out
    assert "Joint Wald test of equal effects" in text and "emp:<10" in text
    assert main([*argv, "--by", "nope"]) == 2
    err = capsys.readouterr().err
    assert "panel.csv" in err and "nope" in err
    assert main([*argv, "--by", "size,age", "--bins", "0,1,2"]) == 2
    assert "single --by" in capsys.readouterr().err
    assert main([*argv, "--by", "size", "--n-boot", "5"]) == 2
    assert not list(tmp_path.iterdir())
