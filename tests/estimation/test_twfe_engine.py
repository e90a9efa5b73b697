"""The fixed-effects engine (``_demean.Absorber``) and what ``feols`` does with its answer.

The within transform is checked against least squares on explicit dummies (an independent computation)
for nested, crossed and interacted effects, weights, the block decomposition and the conjugate-gradient
solve of large blocks; absorbed and collinear regressors follow fixest (dropped with a note) and the
fixest event-study idiom ``i(rel_year, ref=-1)`` runs and equals pyfixest.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from fe_helpers import make_panel
from fe_random import assert_close, pf_fit

from _asserts import assert_close as close
from clusterimpact.errors import EstimationError, EstimationWarning
from clusterimpact.estimation.fe._demean import (
    MAX_DENSE_LEVELS,
    Absorber,
    factorize,
    interact_codes,
    redundant_effects,
)
from clusterimpact.estimation.twfe import feols
from tolerances import (
    FE_EXACT_REL,
    FE_PROPERTY_COEF_REL,
    FE_PROPERTY_SE_REL,
    FE_PYFIXEST_ENGINE_REL,
)


def _dummy_residual(v: np.ndarray, codes: list[np.ndarray], w: np.ndarray | None) -> np.ndarray:
    """``v`` minus its (weighted) least-squares fit on every level of every effect (lstsq)."""
    D = np.column_stack(
        [np.eye(int(c.max()) + 1)[c] for c in codes]
    )  # N x sum(levels), rank deficient: lstsq handles it
    sw = np.ones(len(v)) if w is None else np.sqrt(w)
    coef = np.linalg.lstsq(D * sw[:, None], v * sw, rcond=None)[0]
    return v - D @ coef


def _crossed_codes(rng: np.random.Generator, n: int = 600) -> list[np.ndarray]:
    """Primary ~80 groups and three secondary effects crossed with it and with each other, the last
    an interaction ``d^e`` of two variables not in the model on their own."""
    a = rng.integers(0, 80, n)
    b = rng.integers(0, 9, n)
    c = rng.integers(0, 7, n)
    de = interact_codes([rng.integers(0, 3, n), rng.integers(0, 4, n)])[0]
    return [factorize(x)[0] for x in (a, b, c, de)]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_fe", [3, 4])
@pytest.mark.parametrize("max_dense", [MAX_DENSE_LEVELS, 4])
def test_within_transform_equals_dummy_regression(weighted, n_fe, max_dense):
    rng = np.random.default_rng(7 + n_fe)
    codes = _crossed_codes(rng)[:n_fe]
    w = rng.uniform(0.3, 2.5, len(codes[0])) if weighted else None
    v = rng.normal(size=len(codes[0])) * 3 + 10
    ab = Absorber(codes, w, max_dense=max_dense)
    assert len(ab.secondary) == n_fe - 1 and ab.exact == (max_dense == MAX_DENSE_LEVELS)
    want = _dummy_residual(v, codes, w)
    got = ab.demean(v)
    close(got, want, abs=FE_EXACT_REL * np.abs(v).max())
    # the effects reproduce the fit: v - within = alpha[g] + D delta
    alpha, delta = ab.effects(v - got)
    fit = alpha[ab.primary] + ab.secondary_fit(delta)
    close(fit, v - got, abs=FE_EXACT_REL * np.abs(v).max())


@pytest.mark.parametrize("weighted", [False, True])
def test_one_large_block_solved_directly_equals_dummy_regression(weighted):
    """A connected secondary block of ~160 levels: pivoted Cholesky factor, two triangular solves."""
    rng = np.random.default_rng(21)
    n = 1500
    codes = [factorize(rng.integers(0, k, n))[0] for k in (200, 120, 40)]
    w = rng.uniform(0.5, 2.0, n) if weighted else None
    ab = Absorber(codes, w)
    assert ab._solver is not None and ab._solver.n_blocks == 1 and ab.H > 64 and ab.exact
    v = rng.normal(size=n)
    close(ab.demean(v), _dummy_residual(v, codes, w), abs=FE_EXACT_REL * np.abs(v).max())


def test_redundant_effects_are_coarsenings_only():
    rng = np.random.default_rng(3)
    firm = np.repeat(np.arange(40), 6)
    year = np.tile(np.arange(6), 40)
    sector = rng.integers(0, 4, 40)[firm]  # constant within firm
    region = np.where((firm % 5 == 0) & (year > 2), 1, rng.integers(2, 5, 40)[firm])  # movers
    sy = interact_codes([sector, year])[0]
    codes = [firm, year, sector, region, sy]
    levels = [int(c.max()) + 1 for c in codes]
    # sector is nested in firm and year in sector^year; region crosses firm (movers) and both of those
    assert redundant_effects(codes, levels) == [1, 2]
    ab = Absorber(codes)
    assert ab.dropped == [1, 2] and ab.G == 40
    v = rng.normal(size=len(firm))
    close(ab.demean(v), _dummy_residual(v, codes, None), abs=FE_EXACT_REL * 10)


def test_secondary_system_splits_into_blocks():
    """firm + sector^year with firm-level sectors: one block of years per sector, solved exactly."""
    rng = np.random.default_rng(5)
    n_sec, T = 30, 6
    firm = np.repeat(np.arange(240), T)
    year = np.tile(np.arange(T), 240)
    sector = rng.integers(0, n_sec, 240)[firm]
    sy = interact_codes([sector, year])[0]
    ab = Absorber([firm, sy])
    assert ab._solver is not None and ab._solver.n_blocks == len(np.unique(sector))
    assert ab.exact and ab.H > 64
    v = rng.normal(size=len(firm))
    close(ab.demean(v), _dummy_residual(v, [firm, sy], None), abs=FE_EXACT_REL * 10)


def test_conjugate_gradients_above_the_dense_limit_equal_pyfixest():
    """One connected block of more than MAX_DENSE_LEVELS secondary levels (default settings)."""
    rng = np.random.default_rng(11)
    n = 24_000
    df = pd.DataFrame(
        {
            "a": rng.integers(0, 5000, n),
            "b": rng.integers(0, MAX_DENSE_LEVELS + 300, n),
            "c": rng.integers(0, 12, n),
            "x": rng.normal(size=n),
        }
    )
    df["y"] = 0.5 * df["x"] + rng.normal(size=n) + 0.01 * df["b"] % 7
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = feols("y ~ x | a + b + c", df, "hetero", engine="fast")
    m = pf_fit("y ~ x | a + b + c", df, "hetero")
    assert res.nobs == m._N
    assert_close(res.params.to_numpy(), m.coef().to_numpy(), FE_PROPERTY_COEF_REL, "coef")
    assert_close(res.std_errors.to_numpy(), m.se().to_numpy(), FE_PROPERTY_SE_REL, "se")
    codes = [factorize(df[c])[0] for c in "abc"]
    ab = Absorber(codes)
    assert not ab.exact and ab.H > MAX_DENSE_LEVELS
    ab.demean(df["y"].to_numpy())
    assert ab.iterations > 0


def test_conjugate_gradients_that_do_not_converge_raise():
    codes = _crossed_codes(np.random.default_rng(2))[:3]
    ab = Absorber(codes, max_dense=2, maxiter=1)
    with pytest.raises(EstimationError, match="did not converge"):
        ab.demean(np.random.default_rng(0).normal(size=len(codes[0])))


# -- what feols does with the engine's answer ---------------------------------------------------------
@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    df = make_panel(n_firms=200, seed=8)
    rng = np.random.default_rng(2)
    return df.loc[rng.random(len(df)) > 0.1].reset_index(drop=True)


@pytest.mark.parametrize("engine", ["fast", "pyfixest"])
def test_collinear_sets_follow_fixest(panel, engine):
    d = panel.assign(x3=panel["x"] + 0.5 * panel["member"], ever=panel["treat_year"].notna() * 1.0)
    fml = "ln_lp ~ ever + member + x + x3 | firm_id + year"
    with pytest.warns(EstimationWarning) as rec:
        res = feols(fml, d, "cluster", cluster="firm_id", engine=engine)
    msg = " ".join(str(r.message) for r in rec)
    assert "'ever'" in msg and "'x3'" in msg and "dropped" in msg
    assert set(res.collinear) == {"ever", "x3"} and list(res.params.index) == ["member", "x"]
    m = pf_fit(fml, d, {"CRV1": "firm_id"})
    assert sorted(map(str, m._collin_vars)) == ["ever", "x3"]
    rel = FE_PROPERTY_COEF_REL if engine == "fast" else FE_PYFIXEST_ENGINE_REL
    assert_close(res.params.to_numpy(), m.coef().to_numpy(), rel, "coef")
    assert_close(res.std_errors.to_numpy(), m.se().to_numpy(), FE_PROPERTY_SE_REL, "se")


def test_collinearity_judged_on_centred_columns_without_fixed_effects(panel):
    # a regressor with a large mean is not mistaken for collinear (nor missed) by the intercept
    d = panel.assign(big=1e4 + panel["x"], big2=1e4 + 2 * panel["x"])
    res = feols("ln_lp ~ member + big", d, "hetero")
    ref = feols("ln_lp ~ member + x", d, "hetero")
    assert_close(res.params["big"], ref.params["x"], FE_EXACT_REL, "slope")
    with pytest.warns(EstimationWarning, match="'big2' collinear"):
        two = feols("ln_lp ~ big + big2", d, "iid")
    assert list(two.params.index) == ["Intercept", "big"]


def test_no_residual_degrees_of_freedom_gives_nan_with_a_warning():
    df = pd.DataFrame(
        {"y": [1.0, 2.0, 0.5, 3.0], "x": [0.1, 0.4, 0.2, 0.9], "a": [0, 0, 1, 1], "b": [0, 1, 0, 1]}
    )
    with pytest.warns(EstimationWarning, match="no residual degrees of freedom"):
        res = feols("y ~ x | a + b", df, "iid")
    assert np.isfinite(res.params["x"]) and np.isnan(res.std_errors["x"])


@pytest.mark.parametrize("engine", ["auto", "pyfixest"])
@pytest.mark.parametrize("coding", ["minus1000", "missing", "treat"])
def test_fixest_event_study_idiom_runs_and_equals_pyfixest(coding, engine):
    """feols("y ~ i(rel_year, ref=-1) | firm_id + year") as fixest users write it: on the exact fast
    path (the dummies are computed columns) and through pyfixest."""
    df = make_panel(n_firms=200, seed=6)
    g = df["treat_year"].astype("Float64")
    rel = (df["year"] - g).astype("Float64")
    if coding == "minus1000":  # never-members at an event time of their own, absorbed by the firm
        d = df.assign(rel_year=rel.fillna(-1000).astype(int))
        fml = "ln_lp ~ i(rel_year, ref=-1) | firm_id + year"
    elif coding == "missing":  # never-members left out (NA event time), as fixest does
        d = df.assign(rel_year=rel.astype(float))
        fml = "ln_lp ~ i(rel_year, ref=-1) | firm_id + year"
    else:
        d = df.assign(rel_year=rel.fillna(0).astype(int), treat=g.notna().astype(int))
        fml = "ln_lp ~ i(rel_year, treat, ref=-1) | firm_id + year"
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = feols(fml, d, "cluster", cluster="firm_id", engine=engine)
    notes = [str(r.message) for r in rec if issubclass(r.category, EstimationWarning)]
    m = pf_fit(fml, d, {"CRV1": "firm_id"})
    assert res.engine == ("fast" if engine == "auto" else "pyfixest") and res.nobs == m._N
    assert list(res.params.index) == [str(c) for c in m.coef().index]
    collin = sorted(map(str, m._collin_vars or []))
    assert sorted(res.collinear) == collin
    if coding == "minus1000":
        assert "rel_year::-1000" in collin and any("rel_year::-1000" in n for n in notes)
    if coding == "missing":  # no never-members left: two event times go (fixest's rule)
        assert len(collin) == 2 and res.exclusions["missing_values"] == int(g.isna().sum())
    exact = engine == "auto"  # pyfixest here runs at fixef_tol=1e-14, inside feols at 1e-10
    tol = FE_PROPERTY_COEF_REL if exact else FE_PYFIXEST_ENGINE_REL
    assert_close(res.params.to_numpy(), m.coef().to_numpy(), tol, "coef")
    tol = FE_PROPERTY_SE_REL if exact else FE_PYFIXEST_ENGINE_REL
    assert_close(res.std_errors.to_numpy(), m.se().to_numpy(), tol, "se")
    # the same model on dummies built here, through our exact fast path (same columns dropped)
    sub = d.loc[g.notna().to_numpy()] if coding == "missing" else d
    r = rel.where(g.notna()).loc[sub.index]
    levels = sorted(int(e) for e in r.dropna().unique() if e != -1)
    dums = {f"d{e + 100}": (r == e).fillna(False).to_numpy(dtype=float) for e in levels}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = feols(
            f"ln_lp ~ {' + '.join(dums)} | firm_id + year",
            sub.assign(**dums),
            "cluster",
            cluster="firm_id",
            engine="fast",
        )
    fmt = float if coding == "missing" else int  # pyfixest names levels as the column stores them
    rename = {f"d{e + 100}": f"rel_year::{fmt(e)}" for e in levels}
    if coding == "treat":
        rename = {k: f"{v}:treat" for k, v in rename.items()}
    assert [rename[c] for c in fast.params.index] == list(res.params.index)
    assert_close(fast.params.to_numpy(), res.params.to_numpy(), FE_PYFIXEST_ENGINE_REL, "fast")
    assert_close(
        fast.std_errors.to_numpy(), res.std_errors.to_numpy(), FE_PYFIXEST_ENGINE_REL, "se"
    )
