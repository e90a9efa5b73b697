"""Property test: every fixed-effects entry point equals pyfixest on random specifications (issue #10).

Seeded random panels (unbalanced, singletons, firms that move region, row-level groups, weights) and
random sets of two to four fixed effects drawn from nested, crossed and interacted ones (``a^b``) go
through ``feols`` (every covariance type it exposes), ``static_premium``, ``linear_duration``,
``binned_duration``, ``event_study`` (both its indicator shortcut and the general path) and the ``fe``
command; pyfixest, run here at a tight demeaning tolerance, is the reference: coefficients to
``FE_PROPERTY_COEF_REL``, standard errors to ``FE_PROPERTY_SE_REL``, each with an absolute floor scaled to
the fit. Some seeds force the conjugate-gradient solve of the secondary system (a small ``max_dense``),
the path taken above :data:`~clusterimpact.estimation.fe._demean.MAX_DENSE_LEVELS` levels. pyfixest's
Driscoll-Kraay matches ours; the wild cluster bootstrap is checked against a brute-force loop over
explicit dummies. The regressors the dummies are built from are computed here, independently of the
code under test.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from fe_random import (
    assert_close,
    pf_fit,
    random_fes,
    random_panel,
    vcov_cases,
)

from clusterimpact.cli import main
from clusterimpact.errors import EstimationError
from clusterimpact.estimation.event_study import event_study
from clusterimpact.estimation.fe import _demean
from clusterimpact.estimation.twfe import (
    binned_duration,
    feols,
    linear_duration,
    static_premium,
    wild_bootstrap,
)
from tolerances import FE_EXACT_ABS, FE_PROPERTY_COEF_REL, FE_PROPERTY_SE_REL, WILD_BOOT_P_ABS

COEF, SE = FE_PROPERTY_COEF_REL, FE_PROPERTY_SE_REL
B_WILD = 199


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


def _compare(ours, m, names: list[str], what: str) -> None:
    """Our result vs a pyfixest model on the same terms (pyfixest's names may differ)."""
    assert ours.nobs == m._N, what
    assert_close(ours.params.to_numpy(), m.coef().to_numpy(), COEF, f"coef {what}")
    want_se = m.se().to_numpy()
    if not np.all(np.isfinite(want_se)):  # no residual df: pyfixest NaN or inf, ours NaN (warned)
        assert np.all(np.isnan(ours.std_errors.to_numpy())), what
        assert any("no residual degrees of freedom" in w for w in ours.warnings), what
        return
    assert_close(ours.std_errors.to_numpy(), want_se, SE, f"se {what}")
    assert float(ours.df_resid) == float(m._df_t), what


def _maybe_small_blocks(rng, monkeypatch) -> None:
    """On a third of the seeds, solve every block above 3 levels by conjugate gradients."""
    if rng.random() < 1 / 3:
        monkeypatch.setattr(_demean, "MAX_DENSE_LEVELS", 3)


@pytest.mark.parametrize("seed", range(30))
def test_feols_every_vcov_equals_pyfixest(seed, monkeypatch):
    rng = np.random.default_rng(1000 + seed)
    df = random_panel(rng)
    fes = random_fes(rng)
    weights = "w" if rng.random() < 0.5 else None
    singletons = bool(rng.random() < 0.75)
    _maybe_small_blocks(rng, monkeypatch)
    fml = f"y ~ x1 + x2 | {' + '.join(fes)}"
    cases = vcov_cases(df)
    m = pf_fit(
        fml,
        df,
        "iid",
        weights=weights,
        fixef_rm="singleton" if singletons else "none",
    )
    for case in cases:
        what = f"seed {seed}: {fml}, vcov={case.ours}, weights={weights}"
        ours = _quiet(
            feols,
            fml,
            df,
            case.ours,
            cluster=case.cluster,
            weights=weights,
            time="year" if case.ours == "driscoll_kraay" else None,
            lag=2,
            drop_singletons=singletons,
            engine="fast",
        )
        _quiet(m.vcov, case.pf, vcov_kwargs=case.pf_kwargs)
        _compare(ours, m, ["x1", "x2"], what)
        assert_close(
            ours.r2_within,
            float(m._r2_within),
            rel=FE_PROPERTY_COEF_REL,
            abs=FE_EXACT_ABS,
            msg=what,
        )


def _pf_frame(df: pd.DataFrame, cols: dict[str, np.ndarray]) -> pd.DataFrame:
    return df.assign(**{k: np.asarray(v, dtype=float) for k, v in cols.items()})


def _agree_or_both_collinear(call, pf_model_fn, what: str):
    """Our call's result, or None when it raises because a regressor is absorbed, in which case
    pyfixest must report collinear variables for the same model."""
    try:
        return _quiet(call)
    except EstimationError as exc:
        if "absorbed" not in str(exc) and "collinear" not in str(exc):
            raise
        m = pf_model_fn()
        assert list(getattr(m, "_collin_vars", []) or []), f"{what}: ours raised {exc}"
        return None


@pytest.mark.parametrize("seed", range(12))
def test_membership_models_equal_pyfixest(seed, monkeypatch):
    rng = np.random.default_rng(2000 + seed)
    df = random_panel(rng)
    fes = random_fes(rng)
    weights = "w" if rng.random() < 0.5 else None
    vcov = ["iid", "hetero", "cluster"][int(rng.integers(0, 3))]
    _maybe_small_blocks(rng, monkeypatch)
    pv = {"iid": "iid", "hetero": "hetero"}.get(vcov) or {"CRV1": "firm_id"}
    fe_txt = " + ".join(fes)
    common = {"outcome": "y", "fe": fes, "vcov": vcov, "weights": weights}
    for fn, terms in ((static_premium, ["member"]), (linear_duration, ["member", "member_years"])):
        what = f"seed {seed}: {fn.__name__} | {fe_txt}, {vcov}, weights={weights}"

        def pf_model(terms=terms, pv=pv):
            return pf_fit(f"y ~ {' + '.join(terms)} | {fe_txt}", df, pv, weights=weights)

        res = _agree_or_both_collinear(lambda fn=fn: fn(df, **common), pf_model, what)
        if res is not None:
            _compare(res, pf_model(), terms, what)
    # bins built here: member firm-years by years of membership
    m_y = df["member_years"].to_numpy()
    mem = df["member"].to_numpy() == 1
    bins = {"b1": mem & (m_y == 1), "b2": mem & (m_y >= 2) & (m_y <= 3), "b3": mem & (m_y >= 4)}
    d = _pf_frame(df, bins)
    what = f"seed {seed}: binned_duration | {fe_txt}, {vcov}, weights={weights}"

    def pf_binned():
        return pf_fit(f"y ~ b1 + b2 + b3 | {fe_txt}", d, pv, weights=weights)

    res = _agree_or_both_collinear(
        lambda: binned_duration(df, bins=(1, "2-3", "4+"), **common), pf_binned, what
    )
    if res is not None:
        assert list(res.params.index) == [
            "member_years::1",
            "member_years::2-3",
            "member_years::4+",
        ]
        _compare(res, pf_binned(), list(bins), what)


@pytest.mark.parametrize("seed", range(12))
def test_event_study_equals_pyfixest(seed, monkeypatch):
    rng = np.random.default_rng(3000 + seed)
    df = random_panel(rng, n_firms=(40, 90))
    fes = random_fes(rng) if rng.random() < 0.7 else ["firm_id", "year"]
    weights = "w" if rng.random() < 0.4 else None  # without: the indicator shortcut
    vcov = ["iid", "hetero", "cluster"][int(rng.integers(0, 3))]
    binned = bool(rng.random() < 0.6)
    lo, hi = -int(rng.integers(2, 4)), int(rng.integers(1, 4))
    _maybe_small_blocks(rng, monkeypatch)
    g = df["treat_year"].to_numpy(dtype=float)
    rel = np.where(g > 0, df["year"].to_numpy() - g, np.nan)
    d = df
    if not binned:  # treated firm-years outside the window are left out
        d = df.loc[~((g > 0) & ((rel < lo) | (rel > hi)))].reset_index(drop=True)
        rel = rel[~((g > 0) & ((rel < lo) | (rel > hi)))]
    relb = np.clip(rel, lo, hi)
    dummies = {
        f"e{e - lo}": np.nan_to_num(relb == e).astype(bool)
        for e in range(lo, hi + 1)
        if e != -1 and np.any(relb == e)
    }
    d = _pf_frame(d, dummies)
    fe_txt = " + ".join(fes)
    pv = {"iid": "iid", "hetero": "hetero"}.get(vcov) or {"CRV1": "firm_id"}
    what = f"seed {seed}: event_study | {fe_txt}, {vcov}, window ({lo},{hi}), binned={binned}"

    def pf_es():
        return pf_fit(f"y ~ {' + '.join(dummies)} | {fe_txt}", d, pv, weights=weights)

    res = _agree_or_both_collinear(
        lambda: event_study(
            df,
            "y",
            window=(lo, hi),
            bin_endpoints=binned,
            fe=fes,
            vcov=vcov,
            weights=weights,
        ),
        pf_es,
        what,
    )
    if res is not None:
        want = [f"rel_year::{int(k[1:]) + lo}" for k in dummies]
        assert list(res.params.index) == want, what
        _compare(res, pf_es(), list(dummies), what)


@pytest.mark.parametrize("seed", range(3))
def test_fe_command_equals_pyfixest(seed, tmp_path):
    rng = np.random.default_rng(4000 + seed)
    df = random_panel(rng)
    fes = random_fes(rng, k=(3, 5))
    path = tmp_path / "panel.csv"
    df.to_csv(path, index=False)
    back = pd.read_csv(path)
    fml = f"y ~ x1 + x2 | {' + '.join(fes)}"
    for vcov, extra, pv in (
        ("hetero", ["--weights", "w"], "hetero"),
        ("twoway", ["--cluster", "firm_id,year"], {"CRV1": "firm_id+year"}),
    ):
        out = tmp_path / f"{vcov}.json"
        argv = ["fe", "--data", str(path), "--formula", fml, "--vcov", vcov, *extra]
        assert _quiet(main, [*argv, "--json", str(out)]) == 0
        js = json.loads(out.read_text())
        m = pf_fit(fml, back, pv, weights="w" if "--weights" in extra else None)
        what = f"seed {seed}: fe {fml} --vcov {vcov}"
        assert [e["term"] for e in js["estimates"]] == ["x1", "x2"]
        assert js["nobs"] == m._N, what
        est = [e["estimate"] for e in js["estimates"]]
        se = [e["std_error"] for e in js["estimates"]]
        assert_close(est, m.coef().to_numpy(), COEF, what)
        assert_close(se, m.se().to_numpy(), SE, what)


def _dummies(codes: np.ndarray) -> np.ndarray:
    out = np.zeros((len(codes), int(codes.max()) + 1))
    out[np.arange(len(codes)), codes] = 1.0
    return out


def _brute_wild(y, X, D, cl, j, B, seed, restricted, kind, null):
    """Wild cluster bootstrap p-value by re-estimating every draw with explicit dummies ``D``."""
    Z = np.column_stack([X, D])
    Zp = np.linalg.pinv(Z)  # any generalised inverse gives the same estimable coefficients
    G = int(cl.max()) + 1
    rng = np.random.default_rng(seed)
    if kind == "rademacher":
        V = rng.choice(np.array([-1.0, 1.0]), size=(G, B))
    else:
        vals = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])
        V = rng.choice(vals, size=(G, B))

    def t_of(yy, centre):
        b = Zp @ yy
        u = yy - Z @ b
        # CRV1 of b_j (up to the small-sample factor, which cancels): Zp[j] gives b_j from y
        se = np.sqrt(np.sum(np.bincount(cl, weights=Zp[j] * u, minlength=G) ** 2))
        return (b[j] - centre) / se

    b = Zp @ y
    t_obs = t_of(y, null)
    if restricted:
        Zo = np.delete(Z, j, axis=1)
        yr = y - null * Z[:, j]
        fitted = Zo @ (np.linalg.pinv(Zo) @ yr) + null * Z[:, j]
        centre = null
    else:
        fitted, centre = Z @ b, b[j]
    ut = y - fitted
    ts = np.abs([t_of(fitted + ut * V[cl, s], centre) for s in range(B)])
    # a draw of all-equal Rademacher weights reproduces |t| exactly: ties are decided by rounding, so
    # return the p-values with near-ties counted out and in
    t = abs(t_obs)
    return float(np.mean(ts >= t * (1 + 1e-9))), float(np.mean(ts >= t * (1 - 1e-9)))


@pytest.mark.parametrize("seed", range(6))
def test_wild_bootstrap_equals_brute_force_with_dummies(seed):
    rng = np.random.default_rng(5000 + seed)
    df = random_panel(rng, n_firms=(30, 60))
    fes = random_fes(rng, k=(2, 4))
    cluster = "firm_id" if rng.random() < 0.6 else "region"
    restricted = bool(rng.random() < 0.7)
    kind = "rademacher" if rng.random() < 0.5 else "webb"
    fml = f"y ~ x1 + x2 | {' + '.join(fes)}"
    m = pf_fit(fml, df, {"CRV1": cluster})
    if not np.isfinite(m.se()["x1"]):  # no residual degrees of freedom
        with pytest.raises(EstimationError, match="no residual degrees of freedom"):
            _quiet(wild_bootstrap, fml, df, "x1", cluster=cluster, n_boot=9, seed=seed)
        return
    # a null one standard error away: |t| = 1 lies in the bulk of the bootstrap distribution, so the
    # p-value moves with any change in the draws' t statistics
    null = float(m.coef()["x1"] - m.se()["x1"])
    res = _quiet(
        wild_bootstrap,
        fml,
        df,
        "x1",
        cluster=cluster,
        n_boot=B_WILD,
        seed=seed,
        restricted=restricted,
        weights=kind,
        null=null,
    )
    assert_close(res.estimate, float(m.coef()["x1"]), rel=COEF)
    assert_close(res.std_error, float(m.se()["x1"]), rel=SE)
    # brute force on the estimation sample pyfixest used (singletons dropped), all effects as dummies
    keep = np.setdiff1d(np.arange(len(df)), np.asarray(sorted(m._na_index or ()), dtype=np.int64))
    s = df.iloc[keep]
    assert len(s) == m._N
    D = np.column_stack(
        [
            _dummies(pd.factorize(s[fe.split("^")].astype(str).agg("_".join, axis=1))[0])
            for fe in fes
        ]
    )
    cl = np.unique(s[cluster].to_numpy(), return_inverse=True)[1]
    p_lo, p_hi = _brute_wild(
        s["y"].to_numpy(),
        s[["x1", "x2"]].to_numpy(),
        D,
        cl,
        0,
        B_WILD,
        seed,
        restricted,
        kind,
        null,
    )
    assert p_lo - WILD_BOOT_P_ABS <= res.p_value <= p_hi + WILD_BOOT_P_ABS, (p_lo, p_hi)
