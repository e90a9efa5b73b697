"""The shared result vocabulary: conf_int, tidy, profile, to_dict, to_latex."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from _asserts import assert_close
from clusterimpact.provenance import data_hash, make_provenance
from clusterimpact.results import TIDY_COLUMNS, EstimateResult, ProfileResult
from tolerances import ELEMENTWISE_REL


def _result(**kw) -> EstimateResult:
    idx = ["a", "b"]
    base = dict(
        params=pd.Series([1.0, -0.5], index=idx),
        std_errors=pd.Series([0.5, 0.25], index=idx),
        nobs=100,
        method="test",
        provenance=make_provenance("test", seed=3, alpha=0.1),
    )
    base.update(kw)
    return EstimateResult(**base)


def test_normal_inference_matches_scipy():
    r = _result()
    z = stats.norm.ppf(0.975)
    ci = r.conf_int()
    assert_close(ci.loc["a", "lower"], 1.0 - z * 0.5, rel=ELEMENTWISE_REL)
    assert_close(r.pvalues["b"], 2 * stats.norm.sf(2.0), rel=ELEMENTWISE_REL)


def test_t_inference_uses_df_resid():
    r = _result(df_resid=10)
    c = stats.t.ppf(0.95, 10)
    assert_close(r.conf_int(0.90).loc["b", "upper"], -0.5 + c * 0.25, rel=ELEMENTWISE_REL)
    assert_close(r.pvalues["a"], 2 * stats.t.sf(2.0, 10), rel=ELEMENTWISE_REL)


def test_tidy_columns_and_values():
    t = _result().tidy()
    assert list(t.columns) == TIDY_COLUMNS
    assert t["term"].tolist() == ["a", "b"]
    assert t["statistic"].tolist() == [2.0, -2.0]


def test_uniform_band_only_where_computed():
    with pytest.raises(ValueError, match="no uniform band"):
        _result().conf_int(uniform=True)
    r = _result(crit_value=2.8)
    assert_close(r.conf_int(uniform=True).loc["a", "upper"], 1.0 + 2.8 * 0.5, rel=ELEMENTWISE_REL)
    with pytest.raises(ValueError, match="computed at level 0.95"):
        r.conf_int(0.9, uniform=True)


def test_bad_level():
    with pytest.raises(ValueError, match="level must be in"):
        _result().conf_int(1.5)


def test_to_dict_is_json_and_follows_cli_contract():
    d = _result(exclusions={"missing input": 3}).to_dict()
    text = json.dumps(d)
    back = json.loads(text)
    assert back["estimates"][0]["term"] == "a"
    assert set(back["estimates"][0]) >= {"term", "estimate", "std_error", "conf_low", "conf_high"}
    assert back["exclusions"] == {"missing input": 3}
    assert back["provenance"]["seed"] == 3


def test_latex_and_summary_contain_terms():
    r = _result()
    tex = r.to_latex()
    assert tex.startswith("\\begin{tabular}") and "a & 1.0000 & 0.5000" in tex
    assert "Observations: 100" in r.summary()


def test_frozen():
    r = _result()
    with pytest.raises(AttributeError):
        r.nobs = 3  # type: ignore[misc]


def test_profile_sorted_with_band_and_overall_left_out():
    idx = ["dynamic:1", "dynamic:-1", "simple"]
    r = ProfileResult(
        params=pd.Series([0.2, 0.0, 0.1], index=idx),
        std_errors=pd.Series([0.1, 0.1, 0.05], index=idx),
        nobs=10,
        method="cs",
        provenance=make_provenance("cs"),
        x=pd.Series([1, -1], index=["dynamic:1", "dynamic:-1"]),
        crit_value=3.0,
        counts=pd.Series([5, 7], index=["dynamic:1", "dynamic:-1"]),
    )
    p = r.profile()
    assert p["x"].tolist() == [-1.0, 1.0]
    assert p["term"].tolist() == ["dynamic:-1", "dynamic:1"]
    assert_close(p["band_high"].tolist(), [0.3, 0.5], rel=ELEMENTWISE_REL)
    assert p["n"].tolist() == [7.0, 5.0]
    # at another level no band
    assert np.isnan(r.profile(0.9)["band_low"]).all()


def test_data_hash_stable_and_sensitive():
    df = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 0.25, 0.125]})
    assert data_hash(df) == data_hash(df.copy())
    changed = df.copy()
    changed.loc[1, "b"] = 0.3
    assert data_hash(changed) != data_hash(df)
    assert len(data_hash(df)) == 16
