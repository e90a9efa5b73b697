"""TWFE event study: equivalences with explicit dummies and the static DiD, pre-trend test, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from fe_helpers import make_panel

from _asserts import assert_close
from clusterimpact.errors import DataError, EstimationError, SpecError
from clusterimpact.estimation import inference as inf
from clusterimpact.estimation.event_study import EventStudyResult, event_study
from clusterimpact.estimation.twfe import static_premium
from clusterimpact.results import ProfileResult
from tolerances import FE_EXACT_FLOOR, FE_EXACT_REL


def test_constant_effect_event_study_equals_static_did():
    """Noise-free outcome with a constant effect: every post coefficient equals the static DiD."""
    df = make_panel(n_firms=120, seed=1, constant_effect=0.2, heterogeneous=False, noise=0.0)
    es = event_study(df, window=(-3, 4))
    st = static_premium(df)
    post = [t for t in es.params.index if int(t.split("::")[1]) >= 0]
    leads = [t for t in es.params.index if int(t.split("::")[1]) < -1]
    assert_close(es.params[post], st.params["member"], rel=FE_EXACT_REL, floor=FE_EXACT_FLOOR)
    assert_close(st.params["member"], 0.2, rel=FE_EXACT_REL, floor=FE_EXACT_FLOOR)
    # leads are zero in exact arithmetic: a floor scaled to the fit's largest coefficient
    assert_close(es.params[leads], 0.0, abs=FE_EXACT_FLOOR * es.params.abs().max())


def test_event_study_equals_explicit_dummies_in_pyfixest():
    import pyfixest as pf

    df = make_panel(n_firms=200, seed=2)
    es = event_study(df, window=(-4, 5), bin_endpoints=True)
    rel = (df["year"] - df["treat_year"].astype("Float64")).to_numpy(dtype=float, na_value=np.nan)
    d = df.copy()
    names = []
    for e in range(-4, 6):
        if e == -1:
            continue
        r = np.clip(rel, -4, 5)
        nm = f"d_{e + 10}"
        d[nm] = (r == e).astype(float)
        names.append(nm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = pf.feols(
            f"ln_lp ~ {' + '.join(names)} | firm_id + year",
            d,
            vcov={"CRV1": "firm_id"},
            fixef_tol=1e-12,
        )
    assert_close(es.params.to_numpy(), m.coef().to_numpy(), rel=FE_EXACT_REL, floor=FE_EXACT_FLOOR)
    assert_close(
        es.std_errors.to_numpy(), m.se().to_numpy(), rel=FE_EXACT_REL, floor=FE_EXACT_FLOOR
    )
    assert list(es.params.index)[:3] == ["rel_year::-4", "rel_year::-3", "rel_year::-2"]


def test_result_shape_and_pretrend_wald():
    df = make_panel(n_firms=300, seed=3)
    es = event_study(df, window=(-5, 5))
    assert isinstance(es, EventStudyResult) and isinstance(es, ProfileResult)
    prof = es.profile()
    assert list(prof["x"]) == sorted(prof["x"]) and -1.0 not in set(prof["x"])
    assert es.reference == -1.0 and es.x_label
    leads = [f"rel_year::{e}" for e in (-5, -4, -3, -2)]
    assert es.pretrend.terms == tuple(leads)
    want = inf.wald_test(
        es.params[leads].to_numpy(), es.vcov.loc[leads, leads].to_numpy(), df_denom=es.df_resid
    )
    assert_close(es.pretrend.statistic, want.statistic, rel=FE_EXACT_REL)
    assert es.pretrend.p_value > 0.01  # no pre-trend in the DGP
    assert es.counts["rel_year::0"] == int(((df["year"] - df["treat_year"]) == 0).sum())
    assert "Pre-trend" in es.summary() and es.to_dict()["pretrend"]["df_num"] == 4


def test_pretrend_detected():
    df = make_panel(n_firms=400, seed=4)
    g = df["treat_year"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    rel = df["year"].to_numpy() - g
    # anticipation: outcomes start rising three years before joining
    df["ln_lp"] = df["ln_lp"] + np.where((rel >= -3) & (rel < 0), 0.15 * (rel + 4), 0.0)
    es = event_study(df, window=(-5, 5))
    assert es.pretrend.p_value < 0.001


def test_unbinned_window_drops_and_counts():
    df = make_panel(n_firms=200, seed=5)
    es = event_study(df, window=(-2, 2), bin_endpoints=False)
    rel = (df["year"] - df["treat_year"]).astype("Float64")
    outside = int(((rel < -2) | (rel > 2)).fillna(False).sum())
    assert es.exclusions["outside_window"] == outside


def test_notyet_drops_never_members():
    df = make_panel(n_firms=200, seed=6)
    with pytest.raises(EstimationError, match="second event time"):
        event_study(df, window=(-2, 2), bin_endpoints=False, control="notyet")
    es = event_study(df, window=(-3, 2), ref=(-1, -3), control="notyet")
    assert es.exclusions["never_treated"] == int(df["treat_year"].isna().sum())
    assert "rel_year::-3" not in es.params.index and "rel_year::-2" in es.params.index
    assert es.pretrend.terms == ("rel_year::-2",)


def test_bad_input():
    df = make_panel(n_firms=100, seed=7)
    with pytest.raises(SpecError, match="contain ref"):
        event_study(df, window=(0, 5))
    with pytest.raises(SpecError, match="choose one of"):
        event_study(df, control="all")
    with pytest.raises(DataError, match="cohort_x"):
        event_study(df, cohort="cohort_x")
    with pytest.raises(EstimationError, match="no treated"):
        event_study(df.assign(treat_year=pd.array([pd.NA] * len(df), dtype="Int64")))
    with pytest.raises(EstimationError, match="never-member"):
        event_study(df.loc[df["treat_year"].notna()])


@pytest.mark.parametrize("vcov", ["cluster", "iid"])
@pytest.mark.parametrize("fe", [None, ["firm_id", "sector^year"]])
def test_indicator_shortcut_equals_dense_path(vcov, fe):
    """The count-based solve for event-time dummies equals demeaning every dummy column."""
    from clusterimpact.estimation.fe._fast import _fit_fast
    from clusterimpact.estimation.fe._indicators import _fit_indicators
    from clusterimpact.estimation.fe.vcov import _normalise_vcov
    from clusterimpact.formula.design import _Formula

    df = make_panel(n_firms=300, seed=8, exit_share=0.2)
    df = df.loc[np.random.default_rng(2).random(len(df)) > 0.1]
    rel = (df["year"] - df["treat_year"].astype("Float64")).to_numpy(dtype=float, na_value=np.nan)
    dummies = {
        f"rel_year::{e}": (np.clip(rel, -3, 4) == e).astype(float) for e in (-3, -2, 0, 1, 2, 3, 4)
    }
    fes = tuple(fe or ("firm_id", "year"))
    f = _Formula(f"ln_lp ~ 0 | {' + '.join(fes)}", "ln_lp", (), fes, False, None)
    vtype, ccols = _normalise_vcov(vcov, "firm_id" if vcov == "cluster" else None)
    a = _fit_indicators(f, df, vtype, ccols, dummies, method="x")
    b = _fit_fast(f, df, vtype, ccols, None, None, None, "min", True, method="x", extra_X=dummies)
    assert a is not None
    assert_close(a.params, b.params, rel=FE_EXACT_REL, floor=FE_EXACT_FLOOR)
    assert_close(a.std_errors, b.std_errors, rel=FE_EXACT_REL, floor=FE_EXACT_FLOOR)
    assert a.nobs == b.nobs and a.df_resid == b.df_resid and a.exclusions == b.exclusions
    assert_close(a.r2, b.r2, rel=FE_EXACT_REL)
    assert_close(a.r2_within, b.r2_within, rel=FE_EXACT_REL)


@pytest.mark.parametrize("case", ["singletons", "shared_cells", "unbinned", "notyet"])
def test_sparse_event_dummies_equal_dense_columns(case):
    """The event study's sparse dummy rows (one pass over event codes) give the same fit as dense 0/1
    columns on the general path: with singleton firms dropped (positions re-mapped), with several rows per
    firm x secondary-level cell (residual cell sums by bincount, not scatter), with unbinned endpoints
    (treated rows outside the window dropped) and with the not-yet control."""
    from clusterimpact.estimation.fe._fast import _fit_fast
    from clusterimpact.estimation.fe.vcov import _normalise_vcov
    from clusterimpact.formula.design import _Formula

    df = make_panel(n_firms=250, seed=11)
    kw: dict = {"window": (-3, 3)}
    fes = ("firm_id", "year")
    if case == "singletons":
        firms = df["firm_id"].unique()[:15]
        first = df["firm_id"].isin(firms) & ~df.duplicated("firm_id")
        df = df.loc[~df["firm_id"].isin(firms) | first]  # 15 firms observed once
    elif case == "shared_cells":
        df = df.assign(period=df["year"] // 3)  # two or three firm-years per firm x period cell
        fes = ("firm_id", "period")
        kw["fe"] = list(fes)
    elif case == "unbinned":
        kw.update(bin_endpoints=False)
    else:
        kw.update(control="notyet", ref=(-1, -3))
    es = event_study(df, **kw)
    if case == "singletons":
        assert es.exclusions["singleton"] == 15
    # the same regression with dense float columns on the general path
    sub = df if case != "notyet" else df.loc[df["treat_year"].notna()]
    g = sub["treat_year"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    rel = sub["year"].to_numpy() - g
    if case == "unbinned":
        inside = np.isnan(rel) | ((rel >= -3) & (rel <= 3))
        assert es.exclusions["outside_window"] == int((~inside).sum()) > 0
        sub, rel = sub.loc[inside], rel[inside]
    else:
        rel = np.clip(rel, -3, 3)
    dummies = {t: (rel == float(t.split("::")[1])).astype(float) for t in es.params.index}
    f = _Formula(f"ln_lp ~ 0 | {' + '.join(fes)}", "ln_lp", (), fes, False, None)
    vtype, ccols = _normalise_vcov("cluster", "firm_id")
    b = _fit_fast(f, sub, vtype, ccols, None, None, None, "min", True, method="x", extra_X=dummies)
    assert_close(es.params, b.params, rel=FE_EXACT_REL, floor=FE_EXACT_FLOOR)
    assert_close(es.std_errors, b.std_errors, rel=FE_EXACT_REL, floor=FE_EXACT_FLOOR)
    assert es.nobs == b.nobs and es.df_resid == b.df_resid
    assert_close(es.r2, b.r2, rel=FE_EXACT_REL)
    assert_close(es.r2_within, b.r2_within, rel=FE_EXACT_REL)
