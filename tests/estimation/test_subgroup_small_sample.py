"""Issue #14: the subgroup variances' small-sample factor, ``min_cohort`` and the F reference.

The factor ``sqrt(n_d / (n_d - 1))`` on a cell's treated influence entries makes att_gt's variance of
ATT(g,t) the textbook two-sample one, ``s_D^2 / n_D + sum_C (dY - m_C)^2 / n_C^2`` with the unbiased
``s_D^2``; a lone treated unit has nothing to correct. Checked here against that formula computed by
hand, on the balanced fast path and the unbalanced cell-by-cell path; without the option att_gt is R
did's (the reference tests in tests/reference are unchanged).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from fe_helpers import make_panel
from scipy import special

from _asserts import assert_close
from clusterimpact.errors import EstimationWarning, SpecError
from clusterimpact.estimation.heterogeneity import subgroup_effects
from clusterimpact.estimation.staggered import att_gt
from tolerances import SMALL_SAMPLE_ABS_SCALE, SMALL_SAMPLE_REL


def _close(actual, expected) -> None:
    expected = np.asarray(expected, dtype=float)
    atol = SMALL_SAMPLE_ABS_SCALE * float(np.max(np.abs(expected)))
    assert_close(actual, expected, rel=SMALL_SAMPLE_REL, abs=atol)


def _tiny(unbalanced: bool) -> pd.DataFrame:
    """Firms 1-3 join in 2, firm 4 alone in 3, firms 5-10 never; periods 1-3. Unbalanced: firm 11
    (never treated) is missing period 3, which sends att_gt down the cell-by-cell path."""
    rng = np.random.default_rng(14)
    cohort = {1: 2, 2: 2, 3: 2, 4: 3} | {i: 0 for i in range(5, 11)}
    if unbalanced:
        cohort[11] = 0
    rows = [
        (i, t, g, float(rng.normal(0.3 * t, 1.0)))
        for i, g in cohort.items()
        for t in (1, 2, 3)
        if not (i == 11 and t == 3)
    ]
    return pd.DataFrame(rows, columns=["firm_id", "year", "treat_year", "y"])


def _by_hand(df: pd.DataFrame, g: int, t: int, unbiased: bool) -> tuple[float, float]:
    """ATT(g, t) (base period g - 1) and its variance from the two samples' changes."""
    wide = df.pivot(index="firm_id", columns="year", values="y")
    dy = (wide[t] - wide[g - 1]).dropna()
    coh = df.groupby("firm_id")["treat_year"].first().reindex(dy.index)
    d, c = dy[coh == g].to_numpy(), dy[coh == 0].to_numpy()
    var_d = d.var(ddof=1) / d.size if (unbiased and d.size > 1) else d.var(ddof=0) / d.size
    return d.mean() - c.mean(), var_d + c.var(ddof=0) / c.size


def _att_gt(df: pd.DataFrame, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)  # the unbalanced firm, the tiny pre-test
        return att_gt(df, "y", **kw)


@pytest.mark.parametrize("unbalanced", [False, True])
@pytest.mark.parametrize("small_sample", [False, True])
def test_cell_variance_equals_the_two_sample_formula(unbalanced, small_sample):
    df = _tiny(unbalanced)
    fit = _att_gt(df, allow_unbalanced=unbalanced, small_sample=small_sample)
    for g, t in ((2, 2), (2, 3), (3, 3)):  # (3, 3): firm 4 alone, no factor
        att, var = _by_hand(df, g, t, small_sample)
        _close(fit.params[f"ATT({g},{t})"], att)
        _close(fit.std_errors[f"ATT({g},{t})"] ** 2, var)


def test_the_factor_only_touches_the_treated_side():
    """With the option, the n_d = 3 cell's variance rises by exactly the treated term times 1/2
    (3/2 - 1); the lone firm's cell does not move."""
    df = _tiny(False)
    off, on = (_att_gt(df, small_sample=s) for s in (False, True))
    _, v_off = _by_hand(df, 2, 2, False)
    _, v_on = _by_hand(df, 2, 2, True)
    assert v_on > v_off  # the hand formulas differ, so the check above can tell them apart
    _close(on.std_errors["ATT(3,3)"], off.std_errors["ATT(3,3)"])
    pd.testing.assert_series_equal(on.params, off.params)


def _grouped_with_a_lone_cohort() -> tuple[pd.DataFrame, object]:
    """A synthetic panel split by a fixed trait, with one treated firm of class A moved to a cohort
    no other firm of A has."""
    df = make_panel(n_firms=600, seed=4)
    g = pd.to_numeric(df["treat_year"], errors="coerce").fillna(0)
    first = df.assign(g=g).groupby("firm_id").first()
    a = first[(first["sector"] == first["sector"].iloc[0]) & (first["g"] > 0)]
    lone_year = int(a["g"].max()) + 1
    assert lone_year not in set(first.loc[first["sector"] == a["sector"].iloc[0], "g"])
    firm = a.index[0]
    df.loc[df["firm_id"] == firm, "treat_year"] = lone_year
    return df, firm


@pytest.mark.parametrize("control", ["never", "notyet"])
def test_min_cohort_leaves_lone_cohorts_out_and_says_so(control):
    df, firm = _grouped_with_a_lone_cohort()
    kw = dict(comparison="pooled", control=control, n_boot=99, seed=1, min_treated=10)
    with pytest.warns(EstimationWarning, match="fewer than 2 treated firms"):
        res = subgroup_effects(df, "ln_lp", "sector", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        all_in = subgroup_effects(df, "ln_lp", "sector", min_cohort=1, **kw)
    key = "treated firms in a subgroup's cohort of fewer than 2 (min_cohort)"
    assert res.exclusions[key] >= 1
    assert int((all_in.n_firms - res.n_firms).sum()) == res.exclusions[key]
    term = next(t for t, f in all_in.fits.items() if firm in set(f.unit_ids))
    fit_ids = set(res.fits[term].unit_ids)
    # notyet: the firm stays as a not-yet-treated comparison; never: it leaves the subgroup's fit
    assert (firm in fit_ids) == (control == "notyet")
    assert res.params[term] != all_in.params[term]


def test_f_reference_of_the_equal_effects_test():
    """stat / df against F(df, smallest subgroup's treated firms - 1), computed here from the
    regularised incomplete beta function; F has the heavier tail, so its p-value is the larger."""
    df = make_panel(n_firms=600, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        res = subgroup_effects(df, "ln_lp", "sector", n_boot=99, seed=1, min_treated=10)
    ee = res.equal_effects
    d1, d2 = ee["df"], float(res.n_firms.min() - 1)
    assert ee["df_denom"] == d2
    x = ee["stat"] / d1
    _close(ee["f_stat"], x)
    _close(ee["p_value_f"], special.betainc(d2 / 2, d1 / 2, d2 / (d2 + d1 * x)))
    assert ee["p_value_f"] > ee["p_value"]
    assert "F(" in res.summary()


def test_bad_min_cohort_is_refused():
    df = make_panel(n_firms=200, seed=4)
    with pytest.raises(SpecError, match="min_cohort"):
        subgroup_effects(df, "ln_lp", "sector", min_cohort=0, n_boot=99)


@pytest.mark.parametrize("est", ["reg", "ipw", "dr"])
def test_with_covariates_only_the_treated_influence_entries_scale(est):
    """The covariate estimators: each cell's treated units' influence entries are multiplied by
    sqrt(n_d / (n_d - 1)), the comparison units' entries and the estimates are unchanged."""
    df = make_panel(n_firms=300, seed=5)
    kw = dict(covariates=["x"], est=est, control="notyet", allow_unbalanced=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        off, on = (att_gt(df, "ln_lp", small_sample=s, **kw) for s in (False, True))
    pd.testing.assert_series_equal(on.params, off.params)
    psi_off, psi_on = off.unit_influence().toarray(), on.unit_influence().toarray()
    ids = pd.Series(off.unit_ids)
    g_unit = pd.to_numeric(df.groupby("firm_id")["treat_year"].first(), errors="coerce").fillna(0)
    g_of = g_unit.reindex(ids).to_numpy()
    n_scaled = 0
    for k, (g, nd) in enumerate(zip(off.cohort, off.cells()["n_treated"], strict=True)):
        treated = g_of == g
        f = np.sqrt(nd / (nd - 1)) if nd >= 2 else 1.0
        _close(psi_on[k, treated], f * psi_off[k, treated])
        _close(psi_on[k, ~treated], psi_off[k, ~treated])
        n_scaled += bool(nd >= 2 and np.any(psi_off[k, treated] != 0))
    assert n_scaled > 0
