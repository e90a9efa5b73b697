"""duration_effects: synthetic truth (ecoom, null), slope algebra, exits, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from fe_helpers import make_panel

from clusterimpact.errors import DataError, EstimationError, SpecError
from clusterimpact.estimation.duration import DurationResult, duration_effects
from clusterimpact.estimation.imputation import imputation_did
from clusterimpact.results import ProfileResult
from tolerances import FE_EXACT_REL

BINS = [("1", 1, 1), ("2", 2, 2), ("3", 3, 3), ("4", 4, 4), ("5+", 5, 99)]


def _truth_bins(truth: dict) -> dict[str, float]:
    """Bin the synthetic truth profile (effect on ln_lp by member_years), weighting by firm-years."""
    my = truth["member_years"]
    out = {}
    for label, lo, hi in BINS:
        cells = [v for m, v in my.items() if lo <= int(m) <= hi]
        out[f"member_years::{label}"] = sum(v["att_lp"] * v["n"] for v in cells) / sum(
            v["n"] for v in cells
        )
    return out


@pytest.fixture(scope="module")
def ecoom():
    from clusterimpact.synthetic import simulate

    sim = simulate("ecoom", seed=1, n_firms=4000)
    return sim, sim.panel()


def test_ecoom_truth_within_95ci(ecoom):
    sim, panel = ecoom
    res = duration_effects(panel, "ln_lp")
    ci = res.conf_int(0.95)
    for term, v in _truth_bins(sim.truth).items():
        assert ci.loc[term, "lower"] <= v <= ci.loc[term, "upper"], (term, v, ci.loc[term])
    assert isinstance(res, DurationResult) and isinstance(res, ProfileResult)
    assert res.pretrend is not None and res.pretrend.p_value > 0.01
    prof = res.profile()
    assert list(prof["term"]) == [f"member_years::{b[0]}" for b in BINS]
    assert prof["n"].sum() == res.n_treated_obs


def _null_rejections(seed: int) -> tuple[bool, bool]:
    from clusterimpact.synthetic import simulate

    panel = simulate("null", seed=seed, n_firms=3000).panel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = duration_effects(panel, "ln_lp", leads=0)
    return bool(res.pvalues["average"] < 0.05), bool(res.slope_test.p_value < 0.05)


def test_null_no_significant_premium_or_growth():
    prem, growth = _null_rejections(1)
    assert not prem and not growth


@pytest.mark.sweep
def test_null_rejection_rate_sweep():
    """Rejection rates of 'no premium' and 'no growth' over 40 seeds (nominal 5 %)."""
    rej = np.array([_null_rejections(s) for s in range(1, 41)])
    rate = rej.mean(axis=0)
    print(f"null rejection rates: premium {rate[0]:.3f}, growth {rate[1]:.3f}")
    # 'most seeds': allow for the DGP's mild selection on productivity (see the report)
    assert rate[0] <= 0.15 and rate[1] <= 0.15


def test_slope_and_tests_from_the_profile():
    df = make_panel(n_firms=500, seed=12)
    res = duration_effects(df, bins=(1, 2, 3, "4+"), leads=0)
    names = [f"member_years::{b}" for b in ("1", "2", "3", "4+")]
    theta = res.params[names].to_numpy()
    V = res.vcov.loc[names, names].to_numpy()
    x = res.x[names].to_numpy()
    X = np.column_stack([np.ones(4), x])
    L = np.linalg.solve(X.T @ X, X.T)[1]
    assert res.params["slope"] == pytest.approx(L @ theta, rel=FE_EXACT_REL)
    assert res.std_errors["slope"] == pytest.approx(np.sqrt(L @ V @ L), rel=FE_EXACT_REL)
    assert res.slope_test.statistic == pytest.approx((L @ theta) ** 2 / (L @ V @ L), rel=1e-8)
    assert x[:3] == pytest.approx([1, 2, 3]) and x[3] > 4
    # the DGP's effect grows by 0.02 a year: growth is detected, equal effects rejected
    assert res.slope_test.p_value < 0.01 and res.equal_effects.p_value < 0.01
    assert abs(res.params["slope"] - 0.02) <= 3 * res.std_errors["slope"]
    # the bins equal imputation_did averaged by a binned member_years column
    binned = df.assign(mb=np.minimum(df["member_years"], 4))
    alt = imputation_did(binned, by="mb", leads=0)
    for j, nm in enumerate(names):
        assert res.params[nm] == pytest.approx(alt.params[f"mb::{j + 1}"], rel=FE_EXACT_REL)
        assert res.std_errors[nm] == pytest.approx(alt.std_errors[f"mb::{j + 1}"], rel=FE_EXACT_REL)
    d = res.to_dict()
    assert d["slope_test"]["df_num"] == 1 and d["bins"] == ["1", "2", "3", "4+"]


def test_exits_are_left_out_and_counted():
    df = make_panel(n_firms=400, seed=13, exit_share=0.4)
    res = duration_effects(df, leads=0)
    g = df["treat_year"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    post_exit = (df["year"].to_numpy() >= g) & (df["member"].to_numpy() == 0)
    assert res.exclusions["post_exit"] == int(post_exit.sum()) > 0
    # member_years is capped by exits: the 5+ bin only has stayers
    stay = df.loc[df["member"] == 1]
    assert res.counts["member_years::5+"] == int((stay["member_years"] >= 5).sum())
    # post-exit years are not used as controls: changing them changes nothing
    shifted = df.assign(ln_lp=np.where(post_exit, df["ln_lp"] + 5.0, df["ln_lp"]))
    res2 = duration_effects(shifted, leads=0)
    np.testing.assert_allclose(res2.params, res.params, rtol=FE_EXACT_REL)


def test_bad_input():
    df = make_panel(n_firms=150, seed=14)
    with pytest.raises(SpecError, match="overlap"):
        duration_effects(df, bins=(1, "1-3"))
    bad = df.copy()
    i = bad.index[bad["treat_year"].isna()][0]
    bad.loc[i, "member"] = 1
    with pytest.raises(DataError, match="before the first membership year"):
        duration_effects(bad)
    with pytest.raises(EstimationError, match="no identified member firm-years in bin"):
        duration_effects(df, bins=(1, 2, "30+"))
    with pytest.raises(DataError, match="member_years_x"):
        duration_effects(df, member_years="member_years_x")
    assert isinstance(df, pd.DataFrame)
