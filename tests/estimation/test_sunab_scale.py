"""Sun-Abraham from cell sums equals the dense saturated regression and pyfixest, over random panels.

Two independent oracles, each run on the same random panel at runtime:

* ``_dense_sun_abraham``: the implementation this rewrite replaced (a dense rows x cells design fitted
  by ``feols``, cohort shares from boolean masks), kept here verbatim in substance as the reference;
* ``_pyfixest_sun_abraham``: pyfixest's saturated regression (``y ~ i(cell, ref='ref') | unit + period``
  with firm-clustered CRV1 and its fixest-default small-sample rule), with the sample rules and the
  interaction weights written out again from the docstring.

Panels are unbalanced, hold singleton units and missing outcomes, never-treated and last-treated
controls, optional weights, optional event windows, stacks and a cluster variable that does not nest
the units.
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest

from _asserts import assert_close
from clusterimpact._cohort import cohort_years
from clusterimpact.errors import DataError, EstimationError, EstimationWarning
from clusterimpact.estimation.sunab import sun_abraham
from clusterimpact.estimation.twfe import feols
from tolerances import SUNAB_ABS_FLOOR, SUNAB_REL, SUNAB_SE_REL

pf = pytest.importorskip("pyfixest")  # a test-time peer (the `dev` extra)


# -- random panels -----------------------------------------------------------------------------------
def _panel(seed: int, n_firms: int = 220, stacked: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    years = np.arange(2005, 2017)
    cohorts = np.array([2008, 2010, 2011, 2013, 2015])
    g = np.where(rng.random(n_firms) < 0.35, 0, rng.choice(cohorts, size=n_firms))
    firm = np.repeat(np.arange(n_firms), years.size)
    year = np.tile(years, n_firms)
    gg = g[firm]
    keep = rng.random(firm.size) > 0.15  # unbalanced
    # a few singleton firms: one observation left
    for f in rng.choice(n_firms, size=6, replace=False):
        rows = np.flatnonzero(firm == f)
        keep[rows] = False
        keep[rng.choice(rows)] = True
    on = (gg > 0) & (year >= gg)
    eff = np.where(on, 0.05 + 0.02 * (year - gg) + 0.01 * (gg - 2010), 0.0)
    y = rng.normal(size=n_firms)[firm] + 0.03 * (year - 2005) + eff + rng.normal(0, 0.3, firm.size)
    y[rng.random(firm.size) < 0.01] = np.nan
    df = pd.DataFrame(
        {
            "firm_id": np.char.add("F", firm.astype(str)),
            "year": year,
            "treat_year": np.where(gg > 0, gg.astype(float), np.nan),
            "y": y,
            "w": rng.uniform(0.2, 3.0, size=firm.size),
            # a cluster that does not nest the firms (a firm's region changes over time)
            "region": rng.integers(0, 40, size=firm.size),
        }
    ).loc[keep]
    if not stacked:
        return df.reset_index(drop=True)
    parts = []
    for s, c in enumerate((2010, 2013)):
        sub = df[df["treat_year"].isna() | (df["treat_year"] == c)]
        parts.append(sub[(sub["year"] >= c - 4) & (sub["year"] <= c + 3)].assign(stack=s))
    return pd.concat(parts, ignore_index=True)


# -- oracle 1: the dense implementation this module replaced -----------------------------------------
def _dense_sun_abraham(df, control="never", window=None, weights=None, cluster=None, stack=None):
    """The pre-rewrite ``sun_abraham`` core (dense dummies + ``feols``): catt, delta, V, W, nobs."""
    df = df[~df["y"].isna()].copy()
    g = cohort_years(df["treat_year"], column="treat_year")
    t = df["year"].to_numpy(dtype=float)
    cohorts = np.unique(g[g > 0])
    keep = np.ones(len(df), dtype=bool)
    if control == "last":
        last = cohorts.max()
        keep = t < last
        cohorts = cohorts[cohorts < last]
    rel = t - g
    treated = np.isin(g, cohorts)
    if window is not None:
        keep &= ~(treated & ((rel < window[0]) | (rel > window[1])))
    df = df.loc[keep].reset_index(drop=True)
    g, rel, treated = g[keep], rel[keep], treated[keep]
    wv = df[weights].to_numpy(dtype=float) if weights else np.ones(len(df))
    cells = pd.DataFrame({"g": g[treated], "e": rel[treated]}).value_counts().sort_index()
    cells = cells[cells.index.get_level_values("e") != -1]
    X = {}
    for gg, ee in cells.index:
        X[f"d{int(gg)}_{int(ee) + 100}"] = ((g == gg) & (rel == ee)).astype(float)
    reg = pd.concat([df, pd.DataFrame(X)], axis=1)
    fe = "firm_id + year"
    if stack:
        reg["su"] = reg[stack].astype(str) + "|" + reg["firm_id"]
        reg["st"] = reg[stack].astype(str) + "|" + reg["year"].astype(str)
        fe = "su + st"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = feols(
            f"y ~ {' + '.join(X)} | {fe}",
            reg,
            vcov="cluster",
            cluster=cluster or "firm_id",
            weights=weights,
            engine="fast",
            collinear="raise",  # feols drops collinear regressors by default (fixest's rule)
        )
    cg = np.array([k[0] for k in cells.index])
    ce = np.array([k[1] for k in cells.index])
    wobs = np.array([wv[(g == a) & (rel == b)].sum() for a, b in zip(cg, ce, strict=True)])
    names = list(X)
    return dict(
        delta=fit.params[names].to_numpy(),
        V=fit.vcov.loc[names, names].to_numpy(),
        cohort=cg,
        e=ce,
        n=cells.to_numpy(),
        wobs=wobs,
        nobs=fit.nobs,
    )


# -- oracle 2: pyfixest's saturated regression ------------------------------------------------------
def _pyfixest_sun_abraham(df, control="never", window=None, weights=None, cluster=None, stack=None):
    """The same estimator from pyfixest's ``i()`` interactions; sample rules written out again."""
    d = df[df["y"].notna()].copy()
    d["g"] = d["treat_year"].fillna(0.0)
    treated_cohorts = sorted(d.loc[d["g"] > 0, "g"].unique())
    if control == "last":
        last = treated_cohorts[-1]
        d = d[d["year"] < last]
        treated_cohorts = treated_cohorts[:-1]
    d["rel"] = d["year"] - d["g"]
    is_t = d["g"].isin(treated_cohorts)
    if window is not None:
        d = d[~(is_t & ((d["rel"] < window[0]) | (d["rel"] > window[1])))]
        is_t = d["g"].isin(treated_cohorts)
    in_cell = is_t & (d["rel"] != -1)
    d["cell"] = np.where(
        in_cell,
        d["g"].astype(int).astype(str) + ":" + d["rel"].astype(int).astype(str),
        "ref",
    )
    fe = "firm_id + year" if not stack else f"{stack}^firm_id + {stack}^year"
    m = pf.feols(
        f"y ~ i(cell, ref='ref') | {fe}",
        data=d,
        vcov={"CRV1": cluster or "firm_id"},
        weights=weights,
        fixef_rm="singleton",
        fixef_tol=1e-13,  # its alternating projections, converged to floating point
        ssc=pf.ssc(k_adj=True, k_fixef="nonnested", G_adj=True, G_df="min"),
    )
    names = [c.split("::")[1] for c in m.coef().index]
    cg = np.array([float(s.split(":")[0]) for s in names])
    ce = np.array([float(s.split(":")[1]) for s in names])
    order = np.lexsort((ce, cg))
    cells = d[in_cell]
    wsum = (cells[weights] if weights else pd.Series(1.0, index=cells.index)).groupby(cells["cell"])
    wobs = wsum.sum().reindex(np.array(names)[order]).to_numpy()
    V = np.asarray(m._vcov)[np.ix_(order, order)]
    return dict(
        delta=m.coef().to_numpy()[order], V=V, cohort=cg[order], e=ce[order], wobs=wobs, nobs=m._N
    )


def _aggregate(ref):
    """simple and dynamic:e from an oracle's cells: cohort shares of the weighted observations."""
    ce, wobs = ref["e"], ref["wobs"]
    rows, terms = [], []
    if (ce >= 0).any():
        w = np.where(ce >= 0, wobs, 0.0)
        rows.append(w / w.sum())
        terms.append("simple")
    for e in np.unique(ce):
        w = np.where(ce == e, wobs, 0.0)
        rows.append(w / w.sum())
        terms.append(f"dynamic:{int(e)}")
    W = np.vstack(rows)
    return pd.Series(W @ ref["delta"], index=terms), pd.DataFrame(
        W @ ref["V"] @ W.T, index=terms, columns=terms
    )


def _close(actual, expected, rtol):
    a, b = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert_close(a, b, rel=rtol, abs=SUNAB_ABS_FLOOR * np.abs(b).max())


def _check_against(res, ref):
    cat = res.catt
    np.testing.assert_array_equal(cat["cohort"], ref["cohort"].astype(int))
    np.testing.assert_array_equal(cat["e"], ref["e"].astype(int))
    assert res.nobs == ref["nobs"]
    _close(cat["estimate"], ref["delta"], SUNAB_REL)
    _close(cat["std_error"], np.sqrt(np.diag(ref["V"])), SUNAB_SE_REL)
    est, vc = _aggregate(ref)
    assert list(res.params.index) == list(est.index)
    _close(res.params, est, SUNAB_REL)
    _close(res.vcov.to_numpy(), vc.to_numpy(), SUNAB_REL)
    _close(res.std_errors, np.sqrt(np.diag(vc)), SUNAB_SE_REL)


CASES = [
    # seed, options
    (1, {}),
    (2, {"weights": "w"}),
    (3, {"control": "last"}),
    (4, {"control": "last", "weights": "w", "window": (-3, 2)}),
    (5, {"window": (-4, 3)}),
    (6, {"cluster": "region"}),
    (7, {"cluster": "region", "weights": "w", "window": (-2, 4)}),
]


@pytest.mark.parametrize(("seed", "opts"), CASES, ids=[str(c[1]) for c in CASES])
def test_equals_dense_regression_and_pyfixest(seed, opts):
    df = _panel(seed)
    res = sun_abraham(df, "y", **opts)
    assert res.exclusions.get("singleton", 0) > 0  # the panel does exercise singleton removal
    _check_against(res, _dense_sun_abraham(df, **opts))
    _check_against(res, _pyfixest_sun_abraham(df, **opts))


@pytest.mark.parametrize("weights", [None, "w"])
def test_stacked_panel_equals_oracles(weights):
    df = _panel(11, n_firms=260, stacked=True)
    res = sun_abraham(df, "y", stack="stack", weights=weights)
    _check_against(res, _dense_sun_abraham(df, stack="stack", weights=weights))
    _check_against(res, _pyfixest_sun_abraham(df, stack="stack", weights=weights))


def test_row_order_and_labels_change_nothing():
    df = _panel(12)
    res = sun_abraham(df, "y", weights="w")
    shuffled = df.sample(frac=1.0, random_state=3).assign(firm_id=lambda d: "X" + d["firm_id"])
    again = sun_abraham(shuffled, "y", weights="w")
    _close(again.params, res.params, SUNAB_REL)
    _close(again.vcov.to_numpy(), res.vcov.to_numpy(), SUNAB_REL)
    assert again.exclusions == res.exclusions


def test_zero_and_missing_weights_are_counted_like_feols():
    df = _panel(13)
    df.loc[df.index[df["treat_year"].isna()][:5], "w"] = 0.0
    df.loc[df.index[df["treat_year"].isna()][5:8], "w"] = np.nan
    res = sun_abraham(df, "y", weights="w")
    assert res.exclusions["zero_weight"] == 5
    assert res.exclusions["missing_values"] == 3
    _check_against(res, _dense_sun_abraham(df, weights="w"))


def test_bad_weights_and_absorbed_cells_raise():
    df = _panel(14)
    neg = df.assign(w=df["w"].where(df.index != 7, -1.0))
    with pytest.raises(DataError, match="negative weights") as info:
        sun_abraham(neg, "y", weights="w")
    assert info.value.column == "w" and info.value.rows == [8]  # 1-based row of a default index
    with pytest.raises(DataError, match="'w'"):
        sun_abraham(df.assign(w="heavy"), "y", weights="w")
    # a cohort never observed in its reference period: its cells add up to its firms' effects
    g = df["treat_year"] == 2011
    no_ref = df[~(g & (df["year"] == 2010))]
    with pytest.raises(EstimationError, match="collinear"):
        sun_abraham(no_ref, "y")
    with pytest.raises(EstimationError, match="collinear"):
        _dense_sun_abraham(no_ref)  # the dense fit refuses it too


def test_few_clusters_warn_as_feols():
    df = _panel(15).assign(sector=lambda d: d["region"] % 5)
    with pytest.warns(EstimationWarning, match="only 5 clusters in 'sector'"):
        res = sun_abraham(df, "y", cluster="sector")
    assert any("only 5 clusters" in m for m in res.warnings)
    _check_against(res, _dense_sun_abraham(df, cluster="sector"))


def test_memory_grows_with_rows_not_rows_times_cells():
    # 11 cohorts x ~30 event times: a dense design would hold ~300 float columns of N rows
    rng = np.random.default_rng(5)
    n_firms, years = 8000, np.arange(1990, 2020)
    firm = np.repeat(np.arange(n_firms), years.size)
    g = np.where(rng.random(n_firms) < 0.4, 0, rng.choice(np.arange(1995, 2017, 2), n_firms))
    df = pd.DataFrame(
        {
            "firm_id": firm,
            "year": np.tile(years, n_firms),
            "treat_year": g[firm],
            "y": rng.normal(size=firm.size),
        }
    )
    n = len(df)
    tracemalloc.start()
    try:
        res = sun_abraham(df, "y")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    k = len(res.catt)
    assert k > 250
    # measured ~38 doubles per row (319 cells); a dense design alone needs k (> 250) per row
    assert peak < 60 * 8 * n, f"peak {peak / 2**20:.0f} MiB for {n} rows and {k} cells"
