"""The fixed-effects results in the package's one result vocabulary (#13): the class name and its
deprecated alias, the headline term, and the old option spellings that still map onto the new ones."""

from __future__ import annotations

import dataclasses
import importlib
import warnings

import numpy as np
import pandas as pd
import pytest
from fe_helpers import make_panel

from clusterimpact.estimation import inference as inf
from clusterimpact.estimation.fe import FixedEffectsResult
from clusterimpact.estimation.twfe import (
    binned_duration,
    feols,
    linear_duration,
    static_premium,
    wild_bootstrap,
)
from clusterimpact.results import TIDY_COLUMNS, EstimateResult


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return make_panel(n_firms=120, n_years=8, seed=5)


@pytest.mark.parametrize(
    "module",
    [
        "clusterimpact.estimation.twfe",
        "clusterimpact.estimation.fe",
        "clusterimpact.estimation.fe.result",
    ],
)
def test_old_result_name_is_a_deprecated_alias(module):
    mod = importlib.import_module(module)
    with pytest.warns(FutureWarning, match="EstimationResult is now called FixedEffectsResult"):
        old = mod.EstimationResult
    assert old is FixedEffectsResult
    assert issubclass(old, EstimateResult)
    with pytest.raises(AttributeError, match="no attribute 'NoSuchResult'"):
        _ = mod.NoSuchResult


def test_result_class_and_summary_use_the_new_name(panel):
    res = static_premium(panel)
    assert type(res) is FixedEffectsResult
    assert res.summary().splitlines()[0].startswith("FixedEffectsResult (static_premium): ")


def test_overall_term_names_the_headline(panel):
    assert static_premium(panel).overall_term == "member"
    other = panel.rename(columns={"member": "in_cluster"})
    assert static_premium(other, treatment="in_cluster").overall_term == "in_cluster"
    lin = linear_duration(panel)
    assert list(lin.params.index) == ["member", "member_years"]
    assert lin.overall_term == "member_years"  # the duration slope
    assert binned_duration(panel, bins=(1, 2, "3+")).overall_term is None
    assert feols("ln_lp ~ member | firm_id + year", panel).overall_term is None


def test_overall_term_is_none_for_a_headline_not_in_params(panel):
    res = static_premium(panel)
    assert dataclasses.replace(res, headline="member_years").overall_term is None
    assert dataclasses.replace(res, headline=None).overall_term is None


# -- the wild bootstrap's result ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def wild(panel):
    return wild_bootstrap(
        "ln_lp ~ member + x | firm_id + year",
        panel,
        "member",
        cluster="firm_id",
        n_boot=99,
        seed=3,
        level=0.9,
    )


def test_wild_conf_int_is_a_method_at_the_bootstrap_level(wild):
    assert isinstance(wild, EstimateResult)
    ci = wild.conf_int()
    assert list(ci.columns) == ["lower", "upper"] and list(ci.index) == ["member"]
    assert (ci.loc["member", "lower"], ci.loc["member", "upper"]) == wild.bootstrap_interval
    assert wild.conf_int(0.9).equals(ci) and wild.conf_int(0.9, uniform=True).equals(ci)
    with pytest.raises(ValueError, match="computed at level 0.9, not 0.95"):
        wild.conf_int(0.95)
    assert wild.overall_term == "member"


def test_wild_tidy_and_to_dict_follow_the_shared_schema(wild):
    t = wild.tidy()
    assert list(t.columns) == TIDY_COLUMNS and len(t) == 1
    row = t.iloc[0]
    assert (row["term"], row["estimate"], row["std_error"]) == (
        "member",
        wild.estimate,
        wild.std_error,
    )
    assert (row["statistic"], row["p_value"]) == (wild.t_stat, wild.p_value)
    assert (row["conf_low"], row["conf_high"]) == wild.bootstrap_interval
    d = wild.to_dict()
    assert d["method"] == "wild_bootstrap" and d["nobs"] == wild.nobs
    (est,) = d["estimates"]
    assert (est["term"], est["conf_low"], est["conf_high"]) == ("member", *wild.bootstrap_interval)
    assert d["n_boot"] == d["B"] == 99 and d["p_value"] == wild.p_value
    assert d["provenance"]["seed"] == 3


def test_wild_old_spelling_B_still_maps(panel, wild):
    with pytest.warns(FutureWarning, match="'B' is now spelled 'n_boot'"):
        old = wild_bootstrap(
            "ln_lp ~ member + x | firm_id + year",
            panel,
            "member",
            cluster="firm_id",
            B=99,
            seed=3,
            level=0.9,
        )
    assert old.to_dict() == wild.to_dict()
    with pytest.warns(FutureWarning, match="B is now spelled n_boot"):
        assert wild.B == 99


def test_wild_cluster_bootstrap_old_spelling_B_still_maps():
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(200), rng.normal(size=200)])
    y, g = X @ [1.0, 0.5] + rng.normal(size=200), rng.integers(0, 40, 200)
    new = inf.wild_cluster_bootstrap(X, y, g, 1, n_boot=49, seed=1)
    with pytest.warns(FutureWarning, match="'B' is now spelled 'n_boot'"):
        old = inf.wild_cluster_bootstrap(X, y, g, 1, B=49, seed=1)
    assert old.to_dict() == new.to_dict() and old.n_boot == 49


def test_duration_overall_term_is_the_slope(panel):
    from clusterimpact.estimation.duration import duration_effects

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prof = duration_effects(panel, bins=(1, 2, "3+"))
        one = duration_effects(panel, bins=("1+",))
    assert prof.overall_term == "slope" and "slope" in prof.params.index
    assert one.overall_term == "average" and "slope" not in one.params.index


def test_bacon_overall_term_is_the_twfe_coefficient(panel):
    from clusterimpact.estimation.bacon import bacon_decomposition

    res = bacon_decomposition(panel, "ln_lp")
    assert res.overall_term == "twfe" and res.params["twfe"] == res.twfe


def test_wild_bootstrap_names_stay_reachable_from_inference():
    import clusterimpact
    from clusterimpact.estimation import wildboot

    assert (
        inf.WildBootstrapResult is wildboot.WildBootstrapResult is clusterimpact.WildBootstrapResult
    )
    assert inf.wild_cluster_bootstrap is wildboot.wild_cluster_bootstrap
    with pytest.raises(AttributeError, match="no attribute 'wild_nothing'"):
        _ = inf.wild_nothing


def test_wild_result_draws_and_renders(wild):
    import matplotlib.pyplot as plt

    try:
        ax = wild.plot()
        lo, hi = wild.bootstrap_interval
        assert ax.get_xlim()[0] <= lo and hi <= ax.get_xlim()[1]
    finally:
        plt.close("all")
    tex = wild.to_latex()
    assert f"[{lo:.4f}, {hi:.4f}]" in tex and "member" in tex
    assert "bootstrap p-value" in wild.summary() and wild._repr_html_().startswith("<pre>")
