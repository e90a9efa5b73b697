"""feols and the membership models: equivalences, published values, engines, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from fe_helpers import make_panel
from scipy import stats

from _asserts import assert_close
from clusterimpact.errors import DataError, EstimationError, EstimationWarning, SpecError
from clusterimpact.estimation.twfe import (
    FixedEffectsResult,
    binned_duration,
    feols,
    linear_duration,
    parse_bins,
    static_premium,
    wild_bootstrap,
)
from clusterimpact.results import EstimateResult
from tolerances import (
    EXACT_REL,
    FE_EXACT_FLOOR,
    FE_EXACT_REL,
    FE_PYFIXEST_ENGINE_REL,
    TRUTH_SE_MULTIPLE,
    WILD_BOOT_MC_SE_MULTIPLE,
    printed_precision,
)


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    df = make_panel(n_firms=250, n_years=8, seed=3, exit_share=0.2)
    # an unbalanced panel with singletons: drop a random 15 % of rows
    rng = np.random.default_rng(1)
    return df.loc[rng.random(len(df)) > 0.15].reset_index(drop=True)


def _close(a, b, rel=FE_EXACT_REL, floor=FE_EXACT_FLOOR):
    assert_close(np.asarray(a, float), np.asarray(b, float), rel=rel, floor=floor)


# -- equivalences -------------------------------------------------------------------------------------
def test_absorbed_fe_equal_explicit_dummies(panel):
    panel = panel.loc[panel["firm_id"].isin(panel["firm_id"].unique()[:80])].reset_index(drop=True)
    res = feols("ln_lp ~ member + x | firm_id + year", panel, "iid", drop_singletons=False)
    X = pd.get_dummies(panel[["firm_id"]], dtype=float).join(
        pd.get_dummies(panel["year"].astype(str), prefix="y", drop_first=True, dtype=float)
    )
    X = pd.concat([panel[["member", "x"]].astype(float), X], axis=1)
    ols = sm.OLS(panel["ln_lp"].to_numpy(), X).fit()
    _close(res.params, ols.params[["member", "x"]])
    _close(res.std_errors, ols.bse[["member", "x"]])
    hc1 = feols("ln_lp ~ member + x | firm_id + year", panel, "hetero", drop_singletons=False)
    _close(hc1.std_errors, ols.get_robustcov_results("HC1").bse[:2])
    assert res.nobs == len(panel)
    _close(res.r2, ols.rsquared)


def test_cluster_se_equals_hand_computation_with_stata_factor(panel):
    res = feols("ln_lp ~ member + x | firm_id + year", panel, "cluster", cluster="firm_id")
    # hand computation on the same sample: dummies, sandwich, (G/(G-1)) ((N-1)/(N-K)), K = k + n_years
    keep = panel.groupby("firm_id")["year"].transform("size") > 1
    d = panel.loc[keep]
    X = pd.concat(
        [
            d[["member", "x"]].astype(float),
            pd.get_dummies(d[["firm_id"]], dtype=float),
            pd.get_dummies(d["year"].astype(str), prefix="y", drop_first=True, dtype=float),
        ],
        axis=1,
    ).to_numpy()
    y = d["ln_lp"].to_numpy()
    XtXi = np.linalg.pinv(X.T @ X)
    b = XtXi @ X.T @ y
    u = y - X @ b
    codes = pd.factorize(d["firm_id"])[0]
    G = codes.max() + 1
    S = np.zeros((G, X.shape[1]))
    np.add.at(S, codes, X * u[:, None])
    V = XtXi @ S.T @ S @ XtXi
    N = len(y)
    K = 2 + d["year"].nunique()  # firm FE nested in the firm clusters are not counted
    V *= G / (G - 1) * (N - 1) / (N - K)
    _close(res.params, b[:2])
    _close(res.std_errors, np.sqrt(np.diag(V))[:2])
    assert res.n_clusters == G
    assert res.df_resid == G - 1
    assert res.exclusions.get("singleton", 0) == int((~keep).sum())


@pytest.mark.parametrize(
    "formula",
    [
        "ln_lp ~ member + x | firm_id + year",
        "ln_lp ~ member + x | firm_id + sector^year",
        "ln_lp ~ x",
    ],
)
@pytest.mark.parametrize(
    "vcov,cluster",
    [
        ("iid", None),
        ("hetero", None),
        ("cluster", "firm_id"),
        ("cluster", "year"),
        ("twoway", ["firm_id", "year"]),
    ],
)
@pytest.mark.parametrize("weights", [None, "w"])
def test_fast_path_equals_pyfixest(panel, formula, vcov, cluster, weights):
    import pyfixest as pf

    fast = feols(formula, panel, vcov, cluster=cluster, weights=weights, engine="fast")
    wrapped = feols(formula, panel, vcov, cluster=cluster, weights=weights, engine="pyfixest")
    pv = {"iid": "iid", "hetero": "hetero"}.get(
        vcov, {"CRV1": "+".join([cluster] if isinstance(cluster, str) else cluster or [])}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = pf.feols(formula, panel, vcov=pv, weights=weights, fixef_tol=1e-12)
    _close(fast.params, m.coef())
    _close(fast.std_errors, m.se())
    _close(wrapped.std_errors, m.se(), rel=FE_PYFIXEST_ENGINE_REL)  # pyfixest demeans iteratively
    assert fast.nobs == m._N == wrapped.nobs
    assert float(fast.df_resid) == float(m._df_t)
    _close(fast.r2, m._r2)
    assert list(fast.params.index) == list(wrapped.params.index)
    if "|" in formula:
        _close(fast.r2_within, m._r2_within)


def test_driscoll_kraay_equals_pyfixest(panel):
    import pyfixest as pf

    res = feols("ln_lp ~ member + x | firm_id + year", panel, "driscoll_kraay", time="year", lag=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = pf.feols(
            "ln_lp ~ member + x | firm_id + year",
            panel.assign(fid=pd.factorize(panel["firm_id"])[0]),
            vcov="DK",
            vcov_kwargs={"lag": 2, "time_id": "year", "panel_id": "fid"},
            fixef_tol=1e-12,
        )
    _close(res.std_errors, m.se())
    assert res.df_resid == panel["year"].nunique() - 1


def test_i_syntax_runs_on_both_engines(panel):
    # never-members coded at the reference period: they carry no event-time dummy
    rel = (panel["year"] - panel["treat_year"].astype("Float64")).fillna(-1).astype(int)
    d = panel.assign(rel=rel.clip(-3, 4))
    res = feols("ln_lp ~ i(rel, ref=-1) | firm_id + year", d, "cluster", cluster="firm_id")
    assert res.engine == "fast"  # the dummies are computed columns: the exact path takes them
    assert "rel::0" in res.params.index
    assert isinstance(res, EstimateResult)
    pyf = feols(
        "ln_lp ~ i(rel, ref=-1) | firm_id + year",
        d,
        "cluster",
        cluster="firm_id",
        engine="pyfixest",
    )
    assert list(pyf.params.index) == list(res.params.index)
    _close(pyf.params, res.params, rel=FE_PYFIXEST_ENGINE_REL, floor=FE_PYFIXEST_ENGINE_REL)
    _close(pyf.std_errors, res.std_errors, rel=FE_PYFIXEST_ENGINE_REL, floor=FE_PYFIXEST_ENGINE_REL)


def test_result_fields_for_tables(panel):
    res = static_premium(panel, "ln_lp")
    assert isinstance(res, FixedEffectsResult)
    assert res.fixed_effects == ("firm_id", "year")
    assert res.vcov_type == "cluster" and res.cluster == "firm_id"
    assert res.n_clusters == panel["firm_id"].nunique() - res.exclusions.get("singleton", 0)
    assert 0 < res.r2_within < res.r2 < 1
    t = res.tidy()
    assert list(t["term"]) == ["member"]
    assert "member" in res.summary() and "\\toprule" in res.to_latex()
    d = res.to_dict()
    assert d["fixed_effects"] == ["firm_id", "year"] and d["n_clusters"] == res.n_clusters


def test_row_order_and_relabelling_invariance(panel):
    a = feols("ln_lp ~ member + x | firm_id + year", panel, "cluster", cluster="firm_id")
    shuffled = panel.sample(frac=1.0, random_state=0).assign(firm_id=lambda d: "z" + d["firm_id"])
    b = feols("ln_lp ~ member + x | firm_id + year", shuffled, "cluster", cluster="firm_id")
    _close(a.params, b.params)
    _close(a.std_errors, b.std_errors)


# -- published values ---------------------------------------------------------------------------------
def test_published_grunfeld_and_wooldridge(reference_dir):
    ref = pd.read_csv(reference_dir / "fe_textbook" / "published.csv")
    from linearmodels.datasets import wage_panel
    from statsmodels.datasets import grunfeld

    g = grunfeld.load_pandas().data
    g = g.loc[g["firm"] != "American Steel"]
    fits = {
        "grunfeld10": feols("invest ~ value + capital | firm", g, "iid"),
        "wagepan": feols("lwage ~ expersq + union + married | nr + year", wage_panel.load(), "iid"),
    }
    assert fits["grunfeld10"].nobs == 200 and fits["wagepan"].nobs == 4360
    for r in ref.itertuples():
        res = fits[r.dataset]
        est, se = res.params[r.term], res.std_errors[r.term]
        # half a unit in the last printed digit (Stata: 7 decimals; Wooldridge: 3 or 4)
        assert_close([est, se], [r.estimate, r.std_error], abs=printed_precision(r.decimals), msg=r)


# -- membership models --------------------------------------------------------------------------------
def test_membership_models_recover_constant_effect():
    df = make_panel(n_firms=600, seed=5, constant_effect=0.15, heterogeneous=False)
    s = static_premium(df)
    assert abs(s.params["member"] - 0.15) <= TRUTH_SE_MULTIPLE * s.std_errors["member"]
    lin = linear_duration(df)
    assert abs(lin.params["member_years"]) <= TRUTH_SE_MULTIPLE * lin.std_errors["member_years"]
    b = binned_duration(df, bins=(1, 2, "3-4", "5+"))
    assert list(b.params.index) == [
        "member_years::1",
        "member_years::2",
        "member_years::3-4",
        "member_years::5+",
    ]
    for term in b.params.index:
        assert abs(b.params[term] - 0.15) <= TRUTH_SE_MULTIPLE * b.std_errors[term]


def test_binned_duration_equals_explicit_dummies():
    df = make_panel(n_firms=200, seed=2)
    b = binned_duration(df, bins=(1, 2, "3+"))
    d = df.assign(
        d1=((df.member == 1) & (df.member_years == 1)).astype(float),
        d2=((df.member == 1) & (df.member_years == 2)).astype(float),
        d3=((df.member == 1) & (df.member_years >= 3)).astype(float),
    )
    f = feols("ln_lp ~ d1 + d2 + d3 | firm_id + year", d, "cluster", cluster="firm_id")
    _close(b.params.to_numpy(), f.params.to_numpy())
    _close(b.std_errors.to_numpy(), f.std_errors.to_numpy())


def test_post_exit_drop_is_counted():
    df = make_panel(n_firms=200, seed=4, exit_share=0.5)
    res = static_premium(df, post_exit="drop")
    g = df["treat_year"].astype("Float64")
    n_post = int(((df["year"] >= g).fillna(False) & (df["member"] == 0)).sum())
    assert n_post > 0 and res.exclusions["post_exit"] == n_post


def test_parse_bins():
    assert parse_bins([1, "2-3", "4+"]) == [("1", 1, 1.0), ("2-3", 2, 3.0), ("4+", 4, float("inf"))]
    with pytest.raises(SpecError, match="overlap"):
        parse_bins([1, "1-2"])
    with pytest.raises(SpecError, match="not valid"):
        parse_bins(["x"])
    with pytest.raises(SpecError, match="start at 1"):
        parse_bins([0])


@pytest.mark.parametrize("term", ["member", "x"])  # t = 4.7 and t = -0.02
def test_wild_bootstrap_front_door(panel, term):
    fml, B = "ln_lp ~ member + x | firm_id + year", 199
    res = wild_bootstrap(fml, panel, term, cluster="firm_id", n_boot=B, seed=1)
    fe = feols(fml, panel, "cluster", cluster="firm_id")
    _close([res.estimate, res.std_error], [fe.params[term], fe.std_errors[term]])
    assert_close(res.t_stat, res.estimate / res.std_error, rel=EXACT_REL)
    # with 250 clusters the bootstrap p-value is the t(G-1) one up to Monte Carlo error
    p_t = 2 * stats.t.sf(abs(res.t_stat), res.n_clusters - 1)
    mc_sd = np.sqrt(max(p_t * (1 - p_t), 1 / B) / B)
    assert_close(res.p_value, p_t, abs=WILD_BOOT_MC_SE_MULTIPLE * mc_sd)
    # the restricted CI's ends are where the bootstrap p-value crosses 5 %
    lo, hi = res.bootstrap_interval
    assert lo < res.estimate < hi
    for end, outward in ((lo, -1e-3), (hi, 1e-3)):
        out = wild_bootstrap(
            fml, panel, term, cluster="firm_id", n_boot=B, seed=1, null=end + outward
        )
        inside = wild_bootstrap(
            fml, panel, term, cluster="firm_id", n_boot=B, seed=1, null=end - outward
        )
        assert out.p_value <= 0.05 < inside.p_value


# -- bad input ----------------------------------------------------------------------------------------
def test_missing_column_names_it(panel):
    with pytest.raises(DataError, match="not_there"):
        feols("ln_lp ~ member + not_there | firm_id + year", panel)
    with pytest.raises(DataError, match="no_fe"):
        feols("ln_lp ~ member | no_fe", panel, engine="pyfixest")
    with pytest.raises(DataError, match="cl_missing"):
        feols("ln_lp ~ member | firm_id", panel, "cluster", cluster="cl_missing")


@pytest.mark.parametrize("engine", ["fast", "pyfixest"])
def test_fixed_effect_absorbing_treatment(panel, engine):
    d = panel.assign(ever=panel["treat_year"].notna().astype(float))
    with pytest.raises(EstimationError, match="'ever' absorbed"):
        feols("ln_lp ~ ever + x | firm_id + year", d, engine=engine, collinear="raise")
    # fixest's default: dropped with a note naming it; the rest equals the model without it
    with pytest.warns(EstimationWarning, match="'ever' absorbed.*dropped"):
        res = feols("ln_lp ~ ever + x | firm_id + year", d, engine=engine)
    assert list(res.params.index) == ["x"] and res.collinear == ("ever",)
    assert any("'ever'" in w for w in res.warnings)
    ref = feols("ln_lp ~ x | firm_id + year", d, engine=engine)
    _close(res.params, ref.params)
    _close(res.std_errors, ref.std_errors)
    with pytest.raises(EstimationError, match="no regressor is left"):
        feols("ln_lp ~ ever | firm_id + year", d, engine="fast")


@pytest.mark.parametrize("engine", ["fast", "pyfixest"])
def test_collinear_regressors(panel, engine):
    d = panel.assign(x2=2 * panel["x"])
    with pytest.raises(EstimationError, match="collinear"):
        feols("ln_lp ~ x + x2 | firm_id + year", d, engine=engine, collinear="raise")
    # the later of two collinear regressors goes (fixest's order)
    with pytest.warns(EstimationWarning, match="'x2'"):
        res = feols("ln_lp ~ member + x + x2 | firm_id + year", d, engine=engine)
    assert list(res.params.index) == ["member", "x"] and res.collinear == ("x2",)
    with pytest.warns(EstimationWarning, match="'x'"):
        rev = feols("ln_lp ~ x2 + member + x | firm_id + year", d, engine=engine)
    assert list(rev.params.index) == ["x2", "member"]
    _close(rev.params["x2"] * 2, res.params["x"])


def test_too_few_clusters(panel):
    d = panel.assign(region=np.where(panel.index % 2 == 0, "a", "b"), one="a")
    with pytest.warns(EstimationWarning, match="only 2 clusters"):
        r = feols("ln_lp ~ member + x | firm_id + year", d, "cluster", cluster="region")
    assert any("only 2 clusters" in w for w in r.warnings)
    with pytest.raises(EstimationError, match="at least 2 clusters"):
        feols("ln_lp ~ member + x | firm_id + year", d, "cluster", cluster="one")


def test_bad_options(panel):
    with pytest.raises(SpecError, match="choose one of"):
        feols("ln_lp ~ x", panel, "sandwich")
    with pytest.raises(SpecError, match="needs cluster"):
        feols("ln_lp ~ x", panel, "cluster")
    with pytest.raises(SpecError, match="must look like"):
        feols("ln_lp x", panel)
    with pytest.raises(DataError, match="negative weights"):
        feols("ln_lp ~ x", panel.assign(w=-1.0), weights="w")
    with pytest.raises(DataError, match="not numeric"):  # a text column alone is a category
        feols("ln_lp ~ I(sector * 2) | firm_id", panel)
    with pytest.raises(SpecError, match="pyfixest"):
        feols("ln_lp ~ member | firm_id | x ~ w", panel, engine="fast")


def test_inputs_not_modified(panel):
    before = panel.copy()
    static_premium(panel)
    binned_duration(panel)
    pd.testing.assert_frame_equal(panel, before)
