"""duration_effects: synthetic truth (ecoom, null), slope algebra, exits, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _bjs_brute import bjs_brute
from fe_helpers import make_panel
from scipy import stats

from _asserts import assert_close
from _stats import binomial_min_hits
from clusterimpact.errors import DataError, EstimationError, SpecError
from clusterimpact.estimation.duration import DurationResult, duration_effects
from clusterimpact.results import ProfileResult
from tolerances import FE_EXACT_FLOOR, FE_EXACT_REL, TRUTH_SE_MULTIPLE

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


# Truth over seeds, not one lucky seed (seed 1 alone put every bin in its 95 % CI; seeds 12 and 15 do not).
# Synthetic ecoom, 4,000 firms, seeds 1-12. A seed passes when every bin is within TRUTH_SE_MULTIPLE (3) SE
# of its truth: probability >= 1 - 5 x 0.0027 = 0.9865 for correct intervals (Bonferroni over the 5 bins,
# whatever their correlation). Rule: >= binomial_min_hits(12, 0.9865, 0.0005) = 10 passing seeds, so a correct
# estimator fails with probability < 0.0005; one bin biased by 3 SE (within 3 SE half the time) passes with
# probability 0.02. The pre-trend test (5 leads) must not reject at 1 % on >= binomial_min_hits(12, 0.99,
# 0.0005) = 10 seeds. About 3 s CPU.
TRUTH_SEEDS = range(1, 13)
P_ALL_BINS_WITHIN = 1 - len(BINS) * 2 * stats.norm.sf(TRUTH_SE_MULTIPLE)


def test_ecoom_truth_over_seeds():
    from clusterimpact.synthetic import simulate

    max_z, pre_p, first = [], [], None
    for seed in TRUTH_SEEDS:
        sim = simulate("ecoom", seed=seed, n_firms=4000)
        res = duration_effects(sim.panel(), "ln_lp")
        truth = _truth_bins(sim.truth)
        assert res.pretrend is not None and res.pretrend.terms
        max_z.append(max(abs(res.params[k] - v) / res.std_errors[k] for k, v in truth.items()))
        pre_p.append(res.pretrend.p_value)
        first = first or res
    res = first
    assert isinstance(res, DurationResult) and isinstance(res, ProfileResult)
    prof = res.profile()
    assert list(prof["term"]) == [f"member_years::{b[0]}" for b in BINS]
    assert prof["n"].sum() == res.n_treated_obs
    n = len(TRUTH_SEEDS)
    k_truth = binomial_min_hits(n, P_ALL_BINS_WITHIN, 0.0005)
    k_pre = binomial_min_hits(n, 0.99, 0.0005)
    assert (k_truth, k_pre) == (10, 10)
    within = sum(z <= TRUTH_SE_MULTIPLE for z in max_z)
    assert within >= k_truth, f"all bins within 3 SE on {within}/{n} seeds: {np.round(max_z, 2)}"
    assert sum(p > 0.01 for p in pre_p) >= k_pre, np.round(pre_p, 3)


def _null_rejections(seed: int) -> tuple[bool, bool]:
    from clusterimpact.synthetic import simulate

    panel = simulate("null", seed=seed, n_firms=3000).panel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = duration_effects(panel, "ln_lp", leads=0)
    return bool(res.pvalues["average"] < 0.05), bool(res.slope_test.p_value < 0.05)


def test_null_no_significant_premium_or_growth_over_seeds():
    """Null scenario (3,000 firms), seeds 1-12: neither the 5 % test of 'no premium' nor that of 'no
    growth' rejects on >= binomial_min_hits(12, 0.95, 0.0005) = 8 seeds (a test of size 5 % fails this with
    probability 0.0002). The any-seed form of the old seed-1 check; it replaces the opt-in 40-seed sweep
    (the null-scenario size checks measure the rejection rates with more seeds). About 2.5 s CPU."""
    seeds = range(1, 13)
    rej = np.array([_null_rejections(s) for s in seeds])
    k = binomial_min_hits(len(seeds), 0.95, 0.0005)
    assert k == 8
    kept = (~rej).sum(axis=0)
    assert kept[0] >= k and kept[1] >= k, f"not rejected (premium, growth): {kept} of {len(seeds)}"


def test_slope_and_tests_from_the_profile():
    df = make_panel(n_firms=500, seed=12)
    res = duration_effects(df, bins=(1, 2, 3, "4+"), leads=0)
    names = [f"member_years::{b}" for b in ("1", "2", "3", "4+")]
    theta = res.params[names].to_numpy()
    V = res.vcov.loc[names, names].to_numpy()
    x = res.x[names].to_numpy()
    X = np.column_stack([np.ones(4), x])
    L = np.linalg.solve(X.T @ X, X.T)[1]
    assert_close(res.params["slope"], L @ theta, rel=FE_EXACT_REL)
    assert_close(res.std_errors["slope"], np.sqrt(L @ V @ L), rel=FE_EXACT_REL)
    assert_close(res.slope_test.statistic, (L @ theta) ** 2 / (L @ V @ L), rel=FE_EXACT_REL)
    assert_close(x[:3], [1, 2, 3], rel=FE_EXACT_REL)
    assert x[3] > 4
    # the DGP's effect grows by 0.02 a year: growth is detected, equal effects rejected
    assert res.slope_test.p_value < 0.01 and res.equal_effects.p_value < 0.01
    assert abs(res.params["slope"] - 0.02) <= TRUTH_SE_MULTIPLE * res.std_errors["slope"]
    # the bins equal an independent dense imputation (explicit firm and year dummies, pinv) averaged by
    # binned member_years, with the BJS leave-out standard errors
    ref = bjs_brute(df, lambda d, rel: np.minimum(d["member_years"].to_numpy(), 4))
    want = np.array([ref[j + 1] for j in range(4)])
    assert_close(res.params[names], want[:, 0], rel=FE_EXACT_REL, floor=FE_EXACT_FLOOR)
    assert_close(res.std_errors[names], want[:, 1], rel=FE_EXACT_REL, floor=FE_EXACT_FLOOR)
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
    assert_close(res2.params, res.params, rel=FE_EXACT_REL, floor=FE_EXACT_FLOOR)


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
