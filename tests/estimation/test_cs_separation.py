"""Callaway-Sant'Anna propensity models are loud: a separated or failed cell is NaN, never a number.

The issue's case: a cohort of one unit whose covariate lies beyond every control's. The logit (ipw,
traditional dr) and the tilting (improved dr) have no solution there; the cell used to come back with
a standard error of ~1e5 that dominated the dynamic aggregation and its pre-test. R did and csdid give
NA for such a cell; so do we, with a warning naming the cell and the reason, and ``aggte`` leaves the
NaN cells out and lists them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from _did_dgp import make_staggered

from _asserts import assert_close
from clusterimpact._binary import outside_hull, separation
from clusterimpact.errors import EstimationError, EstimationWarning
from clusterimpact.estimation.cs import core
from clusterimpact.estimation.staggered import aggte, att_gt
from tolerances import EXACT_FLOOR, EXACT_REL, PROPENSITY_REL

ESTS = [("ipw", "improved"), ("dr", "improved"), ("dr", "traditional")]


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    df, _ = make_staggered(n_units=600, seed=3, covariate=True)
    return df


def _one_unit_cohort(df: pd.DataFrame, x: float) -> pd.DataFrame:
    """``df`` plus one unit, alone in cohort 2016, with covariate ``x``."""
    extra = df[df["firm_id"] == df["firm_id"].iloc[0]].copy()
    extra["firm_id"] = "lonely"
    extra["treat_year"] = pd.array([2016] * len(extra), dtype="Int64")
    extra["x"] = x
    return pd.concat([df, extra], ignore_index=True)


def _fit(df, est, dr_method, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = att_gt(df, "y", covariates=["x"], est=est, dr_method=dr_method, **kw)
    return res, [str(w.message) for w in caught if issubclass(w.category, EstimationWarning)]


@pytest.mark.parametrize(("est", "dr_method"), ESTS)
def test_separated_cohort_is_nan_and_named(clean, est, dr_method):
    bad = _one_unit_cohort(clean, float(clean["x"].max()) + 1.0)
    res, msgs = _fit(bad, est, dr_method)
    lonely = res.cohort == 2016
    assert lonely.sum() == 9
    assert res.params[lonely].isna().all() and res.std_errors[lonely].isna().all()
    assert res.params[~lonely].notna().all() and np.isfinite(res.std_errors[~lonely]).all()
    text = [m for m in msgs if "ATT(2016,2011)" in m]
    assert len(text) == 1 and "ATT(2016,2019)" in text[0] and "separation" in text[0]
    assert text[0] in res.warnings
    # every other cell is what it is without the lonely unit (never-treated controls)
    base, _ = _fit(clean, est, dr_method)
    other = res.params[~lonely]
    assert_close(other, base.params[other.index], rel=EXACT_REL, floor=EXACT_FLOOR)
    assert_close(
        res.std_errors[~lonely], base.std_errors[other.index], rel=EXACT_REL, floor=EXACT_FLOOR
    )


@pytest.mark.parametrize(("est", "dr_method"), ESTS)
def test_aggregations_leave_nan_cells_out_and_say_so(clean, est, dr_method):
    bad = _one_unit_cohort(clean, float(clean["x"].max()) + 1.0)
    res, _ = _fit(bad, est, dr_method)
    base, _ = _fit(clean, est, dr_method)
    for ty in ("simple", "dynamic", "group", "calendar"):
        with pytest.warns(EstimationWarning, match=r"leaves out \d+ ATT\(g,t\) cell\(s\)"):
            agg = aggte(res, ty)
        ref = aggte(base, ty)
        assert agg.excluded_cells and all(c.startswith("ATT(2016,") for c in agg.excluded_cells)
        want = {
            "dynamic": list(res.params.index[res.cohort == 2016]),
            "simple": [f"ATT(2016,{t})" for t in range(2016, 2020)],
        }.get(ty, [f"ATT(2016,{t})" for t in range(2016, 2020)])
        assert list(agg.excluded_cells) == want
        assert agg.to_dict()["excluded_cells"] == want
        assert "Left out (NaN cells): ATT(2016," in agg.summary()
        assert any("leaves out" in w for w in agg.warnings)
        # estimates, SEs and the pre-test are those without the lonely unit (floating point only)
        pd.testing.assert_index_equal(agg.params.index, ref.params.index)
        assert_close(agg.params, ref.params, rel=EXACT_REL, floor=EXACT_FLOOR)
        assert_close(agg.std_errors, ref.std_errors, rel=EXACT_REL, floor=EXACT_FLOOR)
        if ty == "dynamic":
            assert agg.pretest["df"] == ref.pretest["df"] > 0
            assert_close(agg.pretest["stat"], ref.pretest["stat"], rel=EXACT_REL)


def test_cell_estimator_reports_each_failed_cell_once(clean):
    """The cell loop collects the failed cells under one message per reason."""
    bad = _one_unit_cohort(clean, float(clean["x"].max()) + 1.0)
    prep = core.prepare(
        bad, outcome="y", cohort="treat_year", unit="firm_id", time="year", covariates=["x"],
        weights=None, cluster=None, stack=None, anticipation=0, allow_unbalanced=False,
    )  # fmt: skip
    cells, _ = core.enumerate_cells(prep, control="never", anticipation=0, base_period="varying")
    lonely = [c for c in cells if c.g == 2016]
    att, infl, _, msgs = core.general_cells(prep, lonely, "ipw")
    assert np.isnan(att).all() and not infl.vcov().any()  # zero influence functions
    assert len(msgs) == 1 and "separation" in msgs[0]
    assert all(f"ATT(2016,{t})" in msgs[0] for t in range(2011, 2020))


@pytest.mark.parametrize(("est", "dr_method"), ESTS)
def test_interior_single_unit_is_estimated(clean, est, dr_method):
    """One treated unit inside the controls' covariate range: the estimates exist, no NaN."""
    ok = _one_unit_cohort(clean, float(clean["x"].median()))
    res, msgs = _fit(ok, est, dr_method)
    assert res.params.notna().all()
    assert not any("NaN" in m for m in msgs)


def test_quasi_complete_separation_by_a_dummy(clean):
    """A dummy that is 1 for a few never-treated units and a few of cohort 2013 only: the cells of
    cohorts 2015 and 2017 are quasi-completely separated (dummy = 1 predicts control exactly)."""
    df = clean.copy()
    ids = [
        *df.loc[df["treat_year"].isna(), "firm_id"].unique()[:5],
        *df.loc[df["treat_year"] == 2013, "firm_id"].unique()[:5],
    ]
    df["dummy"] = df["firm_id"].isin(ids).astype(float)
    with pytest.warns(
        EstimationWarning, match=r"are NaN: propensity-score logit: complete or quasi"
    ):
        res = att_gt(df, "y", covariates=["x", "dummy"], est="ipw")
    assert res.params[res.cohort == 2013].notna().all()
    assert res.params[res.cohort != 2013].isna().all()


def test_all_cells_failing_is_an_error(clean):
    df = clean.copy()
    df["sep"] = df["treat_year"].notna().astype(float) * 3.0  # treated status itself
    with pytest.raises(
        EstimationError, match="no ATT\\(g,t\\) cell could be estimated.*separation"
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EstimationWarning)
            att_gt(df, "y", covariates=["sep"], est="ipw")


def test_bootstrap_with_nan_cells(clean):
    bad = _one_unit_cohort(clean, float(clean["x"].max()) + 1.0)
    res, _ = _fit(bad, "ipw", "improved", n_boot=199, seed=2)
    lonely = res.cohort == 2016
    assert res.std_errors[lonely].isna().all()
    assert (res.std_errors[~lonely] > 0).all() and np.isfinite(res.crit_value)


# -- the nuisance fits on well-behaved data: no false alarms, same maximum as statsmodels ---------
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_logit_matches_statsmodels_on_regular_data(seed):
    import statsmodels.api as sm

    rng = np.random.default_rng(seed)
    n = 800
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.exponential(size=n) * 50])
    d = rng.random(n) < 1 / (1 + np.exp(-(-1.0 + 0.8 * X[:, 1] + 0.01 * X[:, 2])))
    w = rng.uniform(0.5, 2.0, n)
    w = w / w.mean()
    p, _ = core._logit(X, d, w)
    glm = sm.GLM(d.astype(float), X, family=sm.families.Binomial(), freq_weights=w).fit(tol=1e-12)
    assert_close(p, glm.fittedvalues, rel=PROPENSITY_REL, floor=PROPENSITY_REL)
    assert not separation(X, d, w)


def test_no_false_alarm_on_the_staggered_dgp(clean):
    for est, dr_method in ESTS:
        res, msgs = _fit(clean, est, dr_method)
        assert res.params.notna().all(), (est, dr_method)
        assert not any("NaN" in m for m in msgs)


def test_logit_non_convergence_is_reported():
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(300), rng.normal(size=300)])
    d = rng.random(300) < 0.4
    with pytest.raises(core.CellFailure, match="did not converge in 1 Newton"):
        core._logit(X, d, np.ones(300), maxiter=1)


# -- the separation check against its definition -------------------------------------------------
@pytest.mark.parametrize("seed", range(12))
def test_separation_matches_brute_force_in_one_dimension(seed):
    """In one dimension the data are (quasi-)separated exactly when the treated values and the
    control values do not interleave: max of one group <= min of the other."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 40))
    x = rng.integers(0, 8, n).astype(float)  # ties make quasi-complete cases
    d = rng.random(n) < 0.3
    d[0], d[1] = True, False
    shift = rng.integers(0, 3)
    if seed % 3 == 0:  # force separation: treated at or above every control
        x[d] = x[~d].max() + shift
    X = np.column_stack([np.ones(n), x])
    t, c = x[d], x[~d]
    truth = bool(t.max() <= c.min() or t.min() >= c.max())
    assert separation(X, d) is truth


@pytest.mark.parametrize("seed", range(8))
def test_outside_hull_matches_brute_force_in_one_dimension(seed):
    rng = np.random.default_rng(seed)
    xc = rng.normal(size=int(rng.integers(3, 30)))
    for target in (xc.min() - 0.1, xc.min(), (xc.min() + xc.max()) / 2, xc.max(), xc.max() + 1):
        truth = not (xc.min() < target < xc.max())
        got = outside_hull(np.column_stack([np.ones(xc.size), xc]), np.array([1.0, target]))
        assert got is truth, (seed, target)


@pytest.mark.parametrize("seed", [1, 2])
def test_tilting_balances_on_regular_data(seed):
    """Inverse probability tilting's defining property: the tilted controls' weighted covariate means
    equal the treated means (brute-force check of the solution; no false alarm)."""
    rng = np.random.default_rng(seed)
    n = 600
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n) * 20 + 100])
    d = rng.random(n) < 1 / (1 + np.exp(-(-1.0 + 0.7 * X[:, 1])))
    w = rng.uniform(0.5, 2.0, n)
    odds = core._ipt(X, d, w)
    treated = (w[d][:, None] * X[d]).sum(axis=0)
    tilted = ((w * odds)[~d][:, None] * X[~d]).sum(axis=0)
    assert_close(tilted, treated, rel=EXACT_REL, floor=EXACT_FLOOR)
    assert not outside_hull(X[~d], treated / w[d].sum())
