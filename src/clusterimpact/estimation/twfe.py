"""Fixed-effects regressions with fixest formula syntax, and the classic membership models.

``feols("y ~ x1 + x2 | firm_id + year", data, vcov="cluster", cluster="firm_id")`` estimates a linear
model with absorbed fixed effects. Two engines give identical answers (tested to 1e-8):

* a **fast path** (``engine="fast"``) for formulas whose regressors are plain columns and whose fixed
  effects are columns or interactions ``a^b``, any number of them, nested or crossed: the largest fixed
  effect is swept out with group sums and the others are solved exactly
  (:mod:`clusterimpact.estimation._demean`; tested against pyfixest on random specifications), then the
  covariance is built by :mod:`clusterimpact.estimation.inference`;
* **pyfixest** (``engine="pyfixest"``), given the columns :func:`build_design` computed; ``"auto"``
  uses it for instrumental variables only.

``engine="auto"`` (default) takes the fast path for every formula without instruments: transforms,
interactions and ``C()``/``i()`` dummies (``i(rel_year, ref=-1)``) are columns computed by
:mod:`clusterimpact.estimation.design` before either engine runs. Either way the result is our
:class:`EstimationResult`, so names and errors do not depend on the engine.

Conventions (those of reghdfe/fixest/pyfixest): regressors absorbed by the fixed effects or collinear with
earlier ones are dropped with a note (``collinear="drop"``, :mod:`clusterimpact.estimation._collinear`);
singleton fixed-effect levels are dropped iteratively and reported in ``exclusions["singleton"]``; the small-sample factors are described in
:mod:`clusterimpact.estimation.inference` (fixed effects nested in the cluster variable are not counted in
``K``). Weights are analytic weights (weighted least squares).
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from clusterimpact._validation import as_frame, check_choice, require_columns
from clusterimpact.errors import DataError, EstimationError, EstimationWarning, SpecError
from clusterimpact.estimation import inference as inf
from clusterimpact.estimation._collinear import select_regressors
from clusterimpact.estimation._demean import (
    Absorber,
    drop_singletons,
    factorize,
    interact_codes,
)
from clusterimpact.estimation.design import _Formula as _Formula
from clusterimpact.estimation.design import build_design, pyfixest_formula
from clusterimpact.estimation.formula import parse_formula
from clusterimpact.provenance import make_provenance
from clusterimpact.results import EstimateResult

__all__ = [
    "EstimationResult",
    "binned_duration",
    "feols",
    "linear_duration",
    "parse_bins",
    "static_premium",
    "wild_bootstrap",
]

Engine = Literal["auto", "fast", "pyfixest"]
ENGINES = ("auto", "fast", "pyfixest")
PostExit = Literal["keep", "drop"]
Collinear = Literal["drop", "raise"]
# wild_bootstrap: most levels of fixed effects not nested in the cluster, entered as explicit dummies
MAX_BOOT_DUMMIES = 400


@dataclass(frozen=True, kw_only=True)
class EstimationResult(EstimateResult):
    """A fixed-effects (or OLS) regression.

    Attributes
    ----------
    formula
        The fixest-style formula estimated.
    depvar
        Outcome column.
    fixed_effects
        Absorbed fixed effects as written (``("firm_id", "year")``, ``("sector^year",)``).
    vcov_type
        ``"iid"``, ``"hetero"``, ``"cluster"``, ``"twoway"`` or ``"driscoll_kraay"``.
    cluster
        Cluster variable(s) (``"firm_id"``, ``"firm_id+year"`` for two-way), or None.
    n_clusters
        Number of clusters (the smaller one for two-way), or None.
    r2, r2_within
        R-squared of the full model and of the within-transformed model (NaN without fixed effects).
    rss
        Weighted residual sum of squares.
    df_k
        Parameters counted in the small-sample factor (slopes plus non-nested absorbed effects).
    n_fe_levels
        Number of levels of each fixed effect in the estimation sample.
    weights
        Weight column or None.
    engine
        ``"fast"`` or ``"pyfixest"``.
    collinear
        Regressors dropped because they are absorbed by the fixed effects or collinear with regressors
        before them in the formula (fixest's rule; also noted in ``warnings``).
    """

    formula: str = ""
    depvar: str = ""
    fixed_effects: tuple[str, ...] = ()
    vcov_type: str = "iid"
    cluster: str | None = None
    n_clusters: int | None = None
    r2: float = float("nan")
    r2_within: float = float("nan")
    rss: float = float("nan")
    df_k: int = 0
    n_fe_levels: dict[str, int] = field(default_factory=dict)
    weights: str | None = None
    engine: str = "fast"
    collinear: tuple[str, ...] = ()

    def _summary_header(self) -> list[str]:
        fe = " + ".join(self.fixed_effects) if self.fixed_effects else "none"
        se = self.vcov_type + (
            f" by {self.cluster} ({self.n_clusters} clusters)" if self.cluster else ""
        )
        return [
            f"EstimationResult ({self.method}): {self.formula}",
            f"Observations: {self.nobs:,}   Fixed effects: {fe}",
            f"Std. errors: {se}   R2: {self.r2:.4f}   Within R2: {self.r2_within:.4f}",
        ]

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        """JSON-ready form with the regression's metadata added."""
        out = super().to_dict(level)
        out.update(
            formula=self.formula,
            fixed_effects=list(self.fixed_effects),
            vcov_type=self.vcov_type,
            cluster=self.cluster,
            n_clusters=self.n_clusters,
            r2=self.r2,
            r2_within=self.r2_within,
            engine=self.engine,
            collinear=list(self.collinear),
        )
        return out


# -- vcov spec ---------------------------------------------------------------------------------------
def _normalise_vcov(
    vcov: str | dict[str, str], cluster: str | Sequence[str] | None
) -> tuple[str, list[str]]:
    if isinstance(vcov, dict):
        if len(vcov) != 1:
            raise SpecError("vcov dict must have one entry, e.g. {'CRV1': 'firm_id'}")
        ((k, v),) = vcov.items()
        if k.upper() != "CRV1":
            raise SpecError(f"vcov={{{k!r}: ...}} is not supported; use {{'CRV1': 'col'}}")
        parts = [c.strip() for c in v.split("+")]
        return ("cluster" if len(parts) == 1 else "twoway"), parts
    v = str(vcov)
    alias = {
        "HC1": "hetero",
        "hc1": "hetero",
        "robust": "hetero",
        "CRV1": "cluster",
        "DK": "driscoll_kraay",
    }
    v = alias.get(v, v)
    check_choice("vcov", v, inf.VCOV_TYPES)
    cols: list[str] = []
    if cluster is not None:
        cols = [cluster] if isinstance(cluster, str) else list(cluster)
        cols = [p.strip() for c in cols for p in c.split("+")]
    if v == "cluster":
        if not cols:
            raise SpecError("vcov='cluster' needs cluster=COLUMN")
        if len(cols) == 2:
            v = "twoway"
        elif len(cols) != 1:
            raise SpecError("cluster-robust inference supports one or two cluster columns")
    if v == "twoway" and len(cols) != 2:
        raise SpecError("vcov='twoway' needs cluster=[COL1, COL2]")
    if v in ("iid", "hetero", "driscoll_kraay"):
        cols = []
    return v, cols


# -- the front door ----------------------------------------------------------------------------------
def feols(
    formula: str,
    data: Any,
    vcov: str | dict[str, str] = "iid",
    *,
    cluster: str | Sequence[str] | None = None,
    weights: str | None = None,
    time: str | None = None,
    lag: int | None = None,
    G_df: Literal["min", "conventional"] = "min",
    drop_singletons: bool = True,
    engine: Engine = "auto",
    collinear: Collinear = "drop",
) -> EstimationResult:
    """Linear regression with absorbed fixed effects (fixest formula syntax).

    Estimand: the coefficients of the linear projection of the outcome on the regressors within the fixed
    effects; with a treatment dummy and unit and time effects, the TWFE DiD coefficient (a weighted
    average of treatment effects that is only the ATT under homogeneous effects).

    Parameters
    ----------
    formula
        ``"y ~ x1 + x2 | fe1 + fe2"``; fixed-effect interactions as ``sector^year``. Parsed by our own
        grammar (:mod:`clusterimpact.estimation.formula`; nothing is evaluated): columns, ``+ - * :``,
        ``C(x)``, ``i(rel_year, ref=-1)``, ``i(x, v)``, ``log``/``exp``/``sqrt`` and ``I(...)`` arithmetic,
        ``| endog ~ instr``. Transforms and dummies are computed by
        :mod:`clusterimpact.estimation.design`; formulas that need them run on pyfixest, which receives
        only plain columns.
    data
        FirmPanel or DataFrame (not modified).
    vcov
        ``"iid"``, ``"hetero"`` (HC1), ``"cluster"`` (CRV1, with ``cluster=``), ``"twoway"`` (two cluster
        columns), ``"driscoll_kraay"`` (needs ``time=``), or pyfixest's ``{"CRV1": "col"}``.
    cluster
        Cluster column, or two columns for two-way clustering.
    weights
        Column of analytic weights (positive).
    time, lag
        Time column and Bartlett lag for Driscoll-Kraay (lag default ``floor(T**0.25)``).
    G_df
        Two-way clustering small-sample rule: ``"min"`` (fixest default) or ``"conventional"``.
    drop_singletons
        Drop singleton fixed-effect levels iteratively (reghdfe/fixest default).
    engine
        ``"auto"``, ``"fast"`` or ``"pyfixest"``. ``"auto"`` takes the exact fast path (any number of
        fixed effects, nested or crossed; see :mod:`clusterimpact.estimation._demean`) for every formula
        without instruments, the computed ``i()``/``C()`` dummies and transforms included, and hands
        instrumental-variable formulas to pyfixest.
    collinear
        ``"drop"`` (fixest's default): regressors absorbed by the fixed effects or collinear with
        regressors before them in the formula are dropped, named in an :class:`EstimationWarning` and
        in ``result.collinear``; ``"raise"``: an :class:`EstimationError` instead.

    Returns
    -------
    EstimationResult

    Raises
    ------
    DataError
        The formula names a column the data lack, or a weight is negative.
    EstimationError
        Every regressor is absorbed or collinear (or one is, with ``collinear="raise"``); fewer than 2
        clusters.

    Notes
    -----
    Standard errors are NaN, with an :class:`EstimationWarning`, when the parameters counted in the
    small-sample factor (slopes plus fixed-effect levels as written, fixest's count) leave no residual
    degrees of freedom.
    """
    check_choice("engine", engine, ENGINES)
    check_choice("collinear", collinear, ("drop", "raise"))
    df = as_frame(data)
    f, df = build_design(formula, df)
    vtype, ccols = _normalise_vcov(vcov, cluster)
    extra = list(ccols) + ([weights] if weights else [])
    if vtype == "driscoll_kraay":
        if time is None:
            raise SpecError("vcov='driscoll_kraay' needs time=COLUMN")
        extra.append(time)
    require_columns(df, extra, what="vcov/weights")
    # every column the formula needs has been computed by build_design (transforms, interactions,
    # C()/i() dummies): the exact fast path takes all of it except instrumental variables
    use_fast = engine == "fast" or (engine == "auto" and f.iv is None)
    if engine == "fast" and f.iv is not None:
        raise SpecError(f"formula '{formula}' has instruments: use engine='pyfixest' (or 'auto')")
    if vtype == "driscoll_kraay" and not use_fast:
        raise SpecError("driscoll_kraay is available on the fast engine only (no instruments)")
    if use_fast:
        res = _fit_fast(
            f, df, vtype, ccols, weights, time, lag, G_df, drop_singletons, collinear=collinear
        )
    else:
        res = _fit_pyfixest(f, df, vtype, ccols, weights, G_df, drop_singletons, collinear)
    if f.notes:  # warnings raised while computing the formula's transforms
        res = dataclasses.replace(res, warnings=(*f.notes, *res.warnings))
    return res


# -- fast path ---------------------------------------------------------------------------------------
@dataclass
class _Prepared:
    y: np.ndarray
    X: np.ndarray
    names: list[str]
    w: np.ndarray | None
    absorber: Absorber | None
    fe_codes: list[np.ndarray]
    fe_levels: list[int]
    cluster_codes: list[np.ndarray]
    time_codes: np.ndarray | None
    nobs: int
    exclusions: dict[str, int]
    keep: np.ndarray


def _numeric(df: pd.DataFrame, col: str) -> np.ndarray:
    s = df[col]
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=float, na_value=np.nan)
    if not pd.api.types.is_numeric_dtype(s):
        raise DataError(
            "is not numeric; regressors and outcomes must be numbers "
            "(use a fixed effect 'x' after '|' or i(x) for categories)",
            column=col,
        )
    return s.to_numpy(dtype=float, na_value=np.nan)


def _prepare(
    f: _Formula,
    df: pd.DataFrame,
    ccols: list[str],
    weights: str | None,
    time: str | None,
    singletons: bool,
    extra_X: dict[str, np.ndarray] | None = None,
) -> _Prepared:
    n = len(df)
    y = _numeric(df, f.depvar)
    names = list(f.terms)
    cols = [_numeric(df, t) for t in names]
    if extra_X:
        for k, v in extra_X.items():
            names.append(k)
            cols.append(np.asarray(v, dtype=float))
    ok = np.isfinite(y)
    for c in cols:
        ok &= np.isfinite(c)
    w = None
    excl: dict[str, int] = {}
    if weights:
        w = _numeric(df, weights)
        bad = np.isfinite(w) & (w < 0)
        if bad.any():
            raise DataError("negative weights", column=weights, rows=list(df.index[bad][:20]))
        ok &= np.isfinite(w)
    fe_cols = f.fe_columns()
    for col in dict.fromkeys(fe_cols + ccols + ([time] if time else [])):
        ok &= df[col].notna().to_numpy()
    n_missing = int(n - ok.sum())
    if n_missing:
        excl["missing_values"] = n_missing
    if w is not None:
        zero = ok & (w == 0)
        if zero.any():
            excl["zero_weight"] = int(zero.sum())
            ok &= ~zero
    all_ok = bool(ok.all())

    def sub(col: str) -> pd.Series:
        s = df[col]
        return s if all_ok else s[ok]

    fe_codes: list[np.ndarray] = []
    for fe in f.fixed_effects:
        parts = fe.split("^")
        if len(parts) == 1:
            codes, _ = factorize(sub(parts[0]))
        else:
            codes, _ = interact_codes([factorize(sub(p))[0] for p in parts])
        fe_codes.append(codes)
    keep = np.ones(int(ok.sum()), dtype=bool)
    if singletons and fe_codes:
        keep = drop_singletons(fe_codes)
        n_single = int((~keep).sum())
        if n_single:
            excl["singleton"] = n_single
            fe_codes = [factorize(c[keep])[0] for c in fe_codes]
    all_keep = bool(keep.all())

    def take(a: np.ndarray) -> np.ndarray:
        a = a if all_ok else a[ok]
        return a if all_keep else a[keep]

    y = take(y)
    nobs = len(y)
    if nobs == 0:
        raise EstimationError("no observations left after removing missing values and singletons")
    X = np.empty((nobs, len(cols)), order="F")  # contiguous columns for the per-column passes
    for j, c in enumerate(cols):
        X[:, j] = take(c)
    del cols
    if w is not None:
        w = take(w)
    if not fe_codes and f.intercept:
        X = np.asfortranarray(np.column_stack([np.ones(nobs), X]))
        names = ["Intercept", *names]
    cl_codes = []
    for ccol in ccols:
        if ccol in f.fixed_effects:  # reuse the fixed effect's codes (same column, same sample)
            cl_codes.append(fe_codes[f.fixed_effects.index(ccol)])
            continue
        sc = sub(ccol)
        codes, _ = factorize(sc if all_keep else sc[keep])
        cl_codes.append(codes)
    tcodes = None
    if time:
        st = sub(time)
        tv = (st if all_keep else st[keep]).to_numpy()
        tcodes = np.searchsorted(np.unique(tv), tv).astype(np.int64)
    absorber = Absorber(fe_codes, w) if fe_codes else None
    full_keep = ok.copy()
    full_keep[ok] = keep
    return _Prepared(
        y=y,
        X=X,
        names=names,
        w=w,
        absorber=absorber,
        fe_codes=fe_codes,
        fe_levels=[int(c.max()) + 1 for c in fe_codes],
        cluster_codes=cl_codes,
        time_codes=tcodes,
        nobs=nobs,
        exclusions=excl,
        keep=full_keep,
    )


def _wmean(v: np.ndarray, w: np.ndarray | None) -> float:
    return float(v.mean()) if w is None else float(np.average(v, weights=w))


def _ssq(v: np.ndarray, w: np.ndarray | None) -> float:
    """(Weighted) sum of squares without BLAS (an N-long dot product starts BLAS threads)."""
    return float(np.einsum("i,i->", v, v) if w is None else np.einsum("i,i,i->", w, v, v))


def _total_ss(X: np.ndarray, names: list[str], w: np.ndarray | None, centre: bool) -> np.ndarray:
    """Each column's (weighted) sum of squares about its mean (about zero for the intercept, and for
    every column when ``centre`` is False: a model with neither intercept nor fixed effects)."""
    out = np.empty(X.shape[1])
    for j, name in enumerate(names):
        x = X[:, j]
        xc = x - _wmean(x, w) if centre and name != "Intercept" else x
        out[j] = _ssq(xc, w)
    return out


def _select(
    p: _Prepared, Xd: np.ndarray, f: _Formula, collinear: str
) -> tuple[list[int], list[str], list[str]]:
    """Regressors kept (indices), dropped (names) and the note on them, by fixest's sequential rule
    (:mod:`clusterimpact.estimation._collinear`); raises when ``collinear="raise"`` and one is dropped,
    or when none is left."""
    names, w = p.names, p.w
    has_fe = bool(f.fixed_effects)
    total = _total_ss(p.X, names, w, centre=has_fe or "Intercept" in names)
    Xs = Xd
    if not has_fe and "Intercept" in names:  # judge on centred columns (the intercept comes first)
        Xs = np.column_stack(
            [
                Xd[:, j] if n == "Intercept" else Xd[:, j] - _wmean(Xd[:, j], w)
                for j, n in enumerate(names)
            ]
        )
    Xw = Xs if w is None else Xs * w[:, None]
    sel = select_regressors(np.einsum("ij,ik->jk", Xs, Xw), total)
    if not sel.absorbed and not sel.collinear:
        return sel.keep, [], []
    where = f"the fixed effects ({' + '.join(f.fixed_effects)})" if has_fe else "the intercept"
    parts = []
    if sel.absorbed:
        parts.append(
            f"regressor(s) {', '.join(repr(names[j]) for j in sel.absorbed)} absorbed by {where}: no "
            "variation within them (e.g. a treatment constant within firms, or a firm-level dummy "
            "with firm effects)"
        )
    if sel.collinear:
        parts.append(
            f"regressor(s) {', '.join(repr(names[j]) for j in sel.collinear)} collinear with the "
            f"regressors before them in the formula (given {where})"
        )
    dropped = [names[j] for j in sorted(sel.absorbed + sel.collinear)]
    if collinear == "raise" or not sel.keep:
        fix = "no regressor is left" if not sel.keep else "drop them or the fixed effect"
        raise EstimationError("; ".join(parts) + f"; {fix}")
    return sel.keep, dropped, ["; ".join(parts) + ": dropped (fixest's rule)"]


def _solve(Xd: np.ndarray, yd: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    Xw = Xd if w is None else Xd * w[:, None]
    # einsum, not BLAS: N-long products start BLAS threads, which stall on a loaded machine
    XtX = np.einsum("ij,ik->jk", Xd, Xw)
    bread = np.linalg.inv(XtX)
    beta = bread @ np.einsum("ij,i->j", Xw, yd)
    return beta, bread


def _nested_in(fe: np.ndarray, cl: np.ndarray) -> bool:
    """True when every level of ``fe`` lies within a single cluster."""
    if fe is cl:
        return True
    if int(fe.max()) < int(cl.max()):  # fewer levels than clusters: cannot be nested
        return False
    first = np.empty(int(fe.max()) + 1, dtype=np.int64)
    first[fe] = cl  # one (arbitrary) cluster per level ...
    return bool(np.array_equal(first[fe], cl))  # ... and every row agrees with it


def _df_k(p: _Prepared, k: int, vtype: str) -> int:
    if not p.fe_codes:
        return k
    n_fe = len(p.fe_codes)
    k_fe = sum(p.fe_levels) - (n_fe - 1)
    if vtype in ("cluster", "twoway"):
        nested = [
            i for i, c in enumerate(p.fe_codes) if any(_nested_in(c, cl) for cl in p.cluster_codes)
        ]
        if nested:
            return k + k_fe - sum(p.fe_levels[i] for i in nested) + len(nested)
    return k + k_fe


def _fit_fast(
    f: _Formula,
    df: pd.DataFrame,
    vtype: str,
    ccols: list[str],
    weights: str | None,
    time: str | None,
    lag: int | None,
    G_df: Literal["min", "conventional"],
    singletons: bool,
    *,
    method: str = "twfe",
    extra_X: dict[str, np.ndarray] | None = None,
    options: dict[str, Any] | None = None,
    collinear: str = "raise",
) -> EstimationResult:
    p = _prepare(f, df, ccols, weights, time, singletons, extra_X)
    if p.X.shape[1] == 0:
        raise SpecError(f"formula '{f.text}' has no regressors to estimate")
    J = None
    if p.absorber is not None:
        yd = p.absorber.demean(p.y)
        Xd = p.absorber.demean(p.X)
    else:
        yd, Xd = p.y, p.X
        if p.names[0] == "Intercept" and p.X.shape[1] > 1:
            # solve on [1, X - mean]: the normal equations of raw columns with large means lose
            # digits (error ~ eps * cond); map back with b = J b_c, V = J V_c J'
            xbar = np.array([_wmean(p.X[:, j], p.w) for j in range(1, p.X.shape[1])])
            Xd = p.X.copy(order="F")
            Xd[:, 1:] -= xbar
            J = np.eye(p.X.shape[1])
            J[0, 1:] = -xbar
    keep, dropped, notes = _select(p, Xd, f, collinear)
    names = [p.names[j] for j in keep]
    if dropped:
        Xd = np.asfortranarray(Xd[:, keep])
        J = None if J is None else J[np.ix_(keep, keep)]
    beta, bread = _solve(Xd, yd, p.w)
    u = yd - np.einsum("ij,j->i", Xd, beta)
    df_k = _df_k(p, Xd.shape[1], vtype)
    V, n_clusters, df_resid, warns = _vcov_fast(p, Xd, u, vtype, ccols, df_k, G_df, lag, bread)
    if J is not None:
        beta, V = J @ beta, J @ V @ J.T
    warns = [*notes, *warns]
    rss = _ssq(u, p.w)
    tss = _ssq(p.y - _wmean(p.y, p.w), p.w)
    tss_w = _ssq(yd, p.w)
    for m in warns:
        warnings.warn(m, EstimationWarning, stacklevel=3)
    idx = pd.Index(names)
    opts = {
        "formula": f.text,
        "vcov": vtype,
        "cluster": ccols,
        "weights": weights,
        "engine": "fast",
    }
    opts.update(options or {})
    return EstimationResult(
        params=pd.Series(beta, index=idx, name="estimate"),
        std_errors=pd.Series(np.sqrt(np.diag(V)), index=idx, name="std_error"),
        nobs=p.nobs,
        method=method,
        provenance=make_provenance(method, None, None, **opts),
        df_resid=float(df_resid),
        vcov=pd.DataFrame(V, index=idx, columns=idx),
        warnings=tuple(warns),
        exclusions=p.exclusions,
        formula=f.text,
        depvar=f.depvar,
        fixed_effects=f.fixed_effects,
        vcov_type=vtype,
        cluster="+".join(ccols) if ccols else None,
        n_clusters=n_clusters,
        r2=1 - rss / tss if tss > 0 else float("nan"),
        r2_within=1 - rss / tss_w if (f.fixed_effects and tss_w > 0) else float("nan"),
        rss=rss,
        df_k=int(df_k),
        n_fe_levels=dict(zip(f.fixed_effects, p.fe_levels, strict=True)),
        weights=weights,
        engine="fast",
        collinear=tuple(dropped),
    )


def _no_df_note(n: int, df_k: int) -> str:
    return (
        f"no residual degrees of freedom: {n} observations, {df_k} parameters counted (slopes plus "
        "fixed-effect levels as fixest counts them); standard errors are NaN"
    )


def _vcov_fast(
    p: _Prepared,
    Xd: np.ndarray,
    u: np.ndarray,
    vtype: str,
    ccols: list[str],
    df_k: int,
    G_df: Literal["min", "conventional"],
    lag: int | None,
    bread: np.ndarray,
) -> tuple[np.ndarray, int | None, float, list[str]]:
    """Covariance, number of clusters (or periods), residual df and warnings of a fast-path fit."""
    n = p.nobs
    warns: list[str] = []
    n_clusters = None
    df_resid: float = n - df_k
    if vtype in ("cluster", "twoway"):
        Gs = [int(c.max()) + 1 for c in p.cluster_codes]
        for G, name in zip(Gs, ccols, strict=True):
            msg = inf.cluster_count_check(G, name)
            if msg:
                warns.append(msg)
        n_clusters = min(Gs)
        df_resid = n_clusters - 1
    elif vtype == "driscoll_kraay":
        assert p.time_codes is not None
        n_clusters = int(p.time_codes.max()) + 1
        df_resid = n_clusters - 1
    if n - df_k <= 0:
        warns.append(_no_df_note(n, df_k))
        return np.full(bread.shape, np.nan), n_clusters, df_resid, warns
    if vtype == "iid":
        V = inf.vcov_iid(Xd, u, p.w, df_k=df_k, bread=bread)
    elif vtype == "hetero":
        V = inf.vcov_hetero(Xd, u, p.w, df_k=df_k, bread=bread)
    elif vtype in ("cluster", "twoway"):
        V, _ = inf.vcov_cluster(Xd, u, p.w, p.cluster_codes, df_k=df_k, G_df=G_df, bread=bread)
    else:
        assert p.time_codes is not None
        V, _, lag = inf.vcov_driscoll_kraay(
            Xd, u, p.w, p.time_codes, df_k=df_k, lag=lag, bread=bread
        )
    return V, n_clusters, df_resid, warns


# -- pyfixest path -----------------------------------------------------------------------------------
def _fit_pyfixest(
    f: _Formula,
    df: pd.DataFrame,
    vtype: str,
    ccols: list[str],
    weights: str | None,
    G_df: str,
    singletons: bool,
    collinear: str = "drop",
) -> EstimationResult:
    import pyfixest as pf

    # pyfixest sees generated identifiers only (civ0, civ1, ...), never the user's formula text: the
    # transforms and dummies were computed by build_design, so there is nothing left to evaluate
    cols = [f.depvar, *f.terms, *f.fe_columns(), *f.iv_endog, *f.iv_instruments, *ccols]
    cols = list(dict.fromkeys(cols + ([weights] if weights else [])))
    safe = {c: f"civ{j}" for j, c in enumerate(cols)}
    named = {v: k for k, v in safe.items()}

    def back(text: object) -> str:
        return re.sub(r"\bciv\d+\b", lambda mt: named.get(mt.group(0), mt.group(0)), str(text))

    pv: Any = vtype if vtype in ("iid", "hetero") else {"CRV1": "+".join(safe[c] for c in ccols)}
    sub = df[cols].set_axis([safe[c] for c in cols], axis=1)
    n0 = len(sub)
    complete = sub.notna().all(axis=1).to_numpy()
    n_missing = int(n0 - complete.sum())
    ssc = pf.ssc(k_adj=True, k_fixef="nonnested", G_adj=True, G_df=G_df)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            m = pf.feols(
                pyfixest_formula(f, safe),
                data=sub,
                vcov=pv,
                weights=safe[weights] if weights else None,
                ssc=ssc,
                fixef_rm="singleton" if singletons else "none",
                fixef_tol=1e-10,
            )
        except Exception as exc:  # pyfixest raises assorted types; map to ours
            raise EstimationError(f"pyfixest could not fit '{f.text}': {back(exc)}") from exc
    collin = [back(c) for c in getattr(m, "_collin_vars", []) or []]
    warns = []
    if collin:
        note = (
            f"regressor(s) {', '.join(map(repr, collin))} absorbed by the fixed effects "
            f"({' + '.join(f.fixed_effects)}) or collinear with regressors before them"
        )
        if collinear == "raise":
            raise EstimationError(f"{note}; drop them")
        warns.append(f"{note}: dropped (fixest's rule)")
        warnings.warn(warns[-1], EstimationWarning, stacklevel=3)
    for w in caught:
        msg = back(w.message)
        if "singleton" in msg or "multicollinearity" in msg:
            continue
        warns.append(msg)
    n_single = int(n0 - n_missing - m._N)
    excl = {}
    if n_missing:
        excl["missing_values"] = n_missing
    if n_single:
        excl["singleton"] = n_single
    n_clusters = None
    df_resid = float(m._df_t)
    if ccols:
        na_pos = np.asarray(sorted(getattr(m, "_na_index", ()) or ()), dtype=np.int64)
        used = sub.iloc[np.setdiff1d(np.arange(len(sub)), na_pos)]
        if len(used) != m._N:  # fall back to the complete rows
            used = sub.loc[complete]
        G = [int(used[safe[c]].nunique()) for c in ccols]
        n_clusters = int(min(G))
        for name, g in zip(ccols, G, strict=True):
            few = inf.cluster_count_check(int(g), name)
            if few:
                warns.append(few)
                warnings.warn(few, EstimationWarning, stacklevel=3)
    coef = m.coef()
    idx = pd.Index([back(c) for c in coef.index])  # e.g. civ1[T.b] -> sector[T.b]
    V = np.asarray(m._vcov)
    return EstimationResult(
        params=pd.Series(coef.to_numpy(), index=idx, name="estimate"),
        std_errors=pd.Series(np.sqrt(np.diag(V)), index=idx, name="std_error"),
        nobs=int(m._N),
        method="twfe",
        provenance=make_provenance(
            "twfe",
            None,
            None,
            formula=f.text,
            vcov=vtype,
            cluster=ccols,
            weights=weights,
            engine="pyfixest",
        ),
        df_resid=df_resid,
        vcov=pd.DataFrame(V, index=idx, columns=idx),
        warnings=tuple(warns),
        exclusions=excl,
        formula=f.text,
        depvar=f.depvar,
        fixed_effects=f.fixed_effects,
        vcov_type=vtype,
        cluster="+".join(ccols) if ccols else None,
        n_clusters=n_clusters,
        r2=float(m._r2),
        r2_within=float(m._r2_within) if f.fixed_effects else float("nan"),
        rss=float("nan"),
        df_k=int(m._df_k),
        n_fe_levels={},
        weights=weights,
        engine="pyfixest",
        collinear=tuple(collin),
    )


# -- wild bootstrap front door -----------------------------------------------------------------------
def wild_bootstrap(
    formula: str,
    data: Any,
    term: str,
    *,
    cluster: str,
    null: float = 0.0,
    B: int = 9999,
    weights: inf.BootWeights = "rademacher",
    restricted: bool = True,
    level: float = 0.95,
    seed: int | np.random.Generator | None = None,
) -> inf.WildBootstrapResult:
    """Wild cluster bootstrap test and CI for one coefficient of a fixed-effects regression.

    Fixed effects nested in the cluster variable (the firm effect with firm clusters) are projected out
    first; every other fixed effect (years, with firm clusters) enters the bootstrap as explicit dummies.
    Projecting those out too would not be the same bootstrap: a bootstrap error ``u~ v_g`` is not
    orthogonal to an effect that cuts across clusters, so each draw's residuals and standard error would
    differ from the regression with dummies (Roodman et al. 2019, section 3.2), which is what this
    function, boottest, fwildclusterboot and pyfixest's ``wildboottest`` compute. Non-nested effects
    with more than :data:`MAX_BOOT_DUMMIES` levels in total raise an :class:`EstimationError`. Plain-column
    formulas only. See :func:`clusterimpact.estimation.inference.wild_cluster_bootstrap` for the
    algorithm and options; the reported standard error is the CRV1 one of :func:`feols`.
    """
    df = as_frame(data)
    f, df = build_design(formula, df)
    require_columns(df, [cluster], what="cluster")
    if f.iv is not None:
        raise SpecError("wild_bootstrap does not support instrumental variables")
    p = _prepare(f, df, [cluster], None, None, True)
    if term not in p.names:
        raise SpecError(f"term {term!r} is not a regressor of '{formula}'; choose one of {p.names}")
    Xd = p.absorber.demean(p.X) if p.absorber else p.X
    _select(p, Xd, f, "raise")  # absorbed or collinear regressors are an error here
    cl = p.cluster_codes[0]
    nested = [c for c in p.fe_codes if _nested_in(c, cl)]
    crossed = [
        (fe, c) for fe, c in zip(f.fixed_effects, p.fe_codes, strict=True) if not _nested_in(c, cl)
    ]
    n_dum = sum(int(c.max()) + 1 for _, c in crossed)
    if n_dum > MAX_BOOT_DUMMIES:
        raise EstimationError(
            f"wild_bootstrap: the fixed effects not nested in the cluster '{cluster}' "
            f"({', '.join(fe for fe, _ in crossed)}) have {n_dum} levels; the bootstrap needs them as "
            f"explicit dummies (at most {MAX_BOOT_DUMMIES}). Cluster on a variable they nest in."
        )
    Z = p.X
    if crossed:
        dum = np.zeros((p.nobs, n_dum))
        off = 0
        for _, c in crossed:
            dum[np.arange(p.nobs), off + c] = 1.0
            off += int(c.max()) + 1
        Z = np.column_stack(
            [dum, p.X]
        )  # dummies first: redundant ones are dropped, never a regressor
    absorber = Absorber(nested) if nested else None
    Zd = absorber.demean(Z) if absorber else Z
    yd = absorber.demean(p.y) if absorber else p.y
    k = p.X.shape[1]
    if crossed:
        total = _total_ss(Z, ["d"] * n_dum + p.names, None, centre=bool(nested))
        sel = select_regressors(np.einsum("ij,ik->jk", Zd, Zd), total)
        dkeep = [j for j in sel.keep if j < n_dum]
        Zd = np.column_stack(
            [Zd[:, n_dum:], Zd[:, dkeep]]
        )  # regressors first, then the dummies kept
    df_k = _df_k(p, k, "cluster")
    if p.nobs - df_k <= 0:
        raise EstimationError(f"wild_bootstrap: {_no_df_note(p.nobs, df_k)}")
    return inf.wild_cluster_bootstrap(
        Zd,
        yd,
        cl,
        p.names.index(term),
        term=term,
        null=null,
        B=B,
        weights=weights,
        restricted=restricted,
        level=level,
        seed=seed,
        df_k=df_k,
    )


# -- membership models -------------------------------------------------------------------------------
def parse_bins(bins: Sequence[int | str]) -> list[tuple[str, int, float]]:
    """Parse duration bins: ``1`` (exactly 1), ``"2-3"`` (2 to 3), ``"5+"`` (5 or more).

    Returns ``(label, low, high)`` with ``high = inf`` for an open bin; bins must not overlap.
    """
    out: list[tuple[str, int, float]] = []
    for b in bins:
        s = str(b).strip()
        try:
            if s.endswith("+"):
                lo, hi = int(s[:-1]), float("inf")
            elif "-" in s[1:]:
                a, c = s.split("-", 1)
                lo, hi = int(a), float(int(c))
            else:
                lo = int(s)
                hi = float(lo)
        except ValueError:
            raise SpecError(f"bin {b!r} is not valid; use e.g. 1, '2-3' or '5+'") from None
        if lo < 1 or hi < lo:
            raise SpecError(f"bin {b!r}: years of membership start at 1 and low <= high")
        out.append((s, lo, hi))
    out.sort(key=lambda t: t[1])
    for (l1, _, h1), (l2, lo2, _) in zip(out, out[1:], strict=False):
        if lo2 <= h1:
            raise SpecError(f"bins {l1!r} and {l2!r} overlap")
    if not out:
        raise SpecError("bins must not be empty")
    return out


def _membership_frame(
    data: Any, outcome: str, unit: str, time: str, cols: list[str], post_exit: str, cohort: str
) -> tuple[pd.DataFrame, dict[str, int]]:
    check_choice("post_exit", post_exit, ("keep", "drop"))
    df = as_frame(data)
    need = [outcome, unit, time, *cols]
    if post_exit == "drop":
        need.append(cohort)
    require_columns(df, list(dict.fromkeys(need)), what="membership model")
    excl: dict[str, int] = {}
    if post_exit == "drop":
        from clusterimpact._cohort import cohort_years

        g = cohort_years(df[cohort], column=cohort, never=np.nan)
        t = df[time].to_numpy(dtype=float)
        after = np.isfinite(g) & (t >= g) & (df["member"].to_numpy() == 0)
        if after.any():
            excl["post_exit"] = int(after.sum())
            df = df.loc[~after]
    return df, excl


def _fe_part(unit: str, time: str, fe: Sequence[str] | None) -> str:
    return " + ".join(fe) if fe else f"{unit} + {time}"


def _run_model(
    df: pd.DataFrame,
    formula: str,
    vcov: str,
    cluster: str | None,
    weights: str | None,
    extra_X: dict[str, np.ndarray] | None,
    method: str,
    excl: dict[str, int],
    options: dict[str, Any],
) -> EstimationResult:
    f, df = build_design(formula, df)
    vtype, ccols = _normalise_vcov(vcov, cluster if vcov in ("cluster", "twoway") else None)
    res = _fit_fast(
        f,
        df,
        vtype,
        ccols,
        weights,
        None,
        None,
        "min",
        True,
        method=method,
        extra_X=extra_X,
        options=options,
    )
    return _merge_exclusions(res, excl)


def static_premium(
    data: Any,
    outcome: str = "ln_lp",
    *,
    treatment: str = "member",
    unit: str = "firm_id",
    time: str = "year",
    fe: Sequence[str] | None = None,
    controls: Sequence[str] = (),
    vcov: str = "cluster",
    cluster: str | None = None,
    weights: str | None = None,
    post_exit: PostExit = "keep",
    cohort: str = "treat_year",
) -> EstimationResult:
    """The classic TWFE DiD premium: ``y_it = a_i + l_t + b * member_it + e_it``.

    Estimand: ``b``, the within-firm, within-year difference in the outcome between member and non-member
    firm-years. Identifying assumption: parallel trends in untreated outcomes and a treatment effect that
    is the same for every cohort and every year of membership; with staggered joining and effects that
    vary, ``b`` is a weighted average of effects with possibly negative weights (Goodman-Bacon 2021; use
    :func:`~clusterimpact.estimation.imputation.imputation_did` or ``duration_effects`` then).

    Parameters
    ----------
    data
        FirmPanel or DataFrame.
    outcome
        Outcome column (log productivity).
    treatment
        0/1 membership column.
    unit, time
        Firm and year columns (their fixed effects are absorbed).
    fe
        Fixed effects replacing ``unit + time`` (e.g. ``["firm_id", "sector^year"]``).
    controls
        Extra regressors.
    vcov, cluster
        Inference (default cluster-robust by ``unit``).
    weights
        Analytic weights column.
    post_exit
        ``"keep"`` treats years after leaving as non-member years; ``"drop"`` removes them (counted in
        ``exclusions["post_exit"]``; needs ``cohort``).
    """
    df, excl = _membership_frame(
        data, outcome, unit, time, [treatment, *controls], post_exit, cohort
    )
    rhs = " + ".join([treatment, *controls])
    formula = f"{outcome} ~ {rhs} | {_fe_part(unit, time, fe)}"
    return _run_model(
        df,
        formula,
        vcov,
        cluster or unit,
        weights,
        None,
        "static_premium",
        excl,
        {"post_exit": post_exit},
    )


def linear_duration(
    data: Any,
    outcome: str = "ln_lp",
    *,
    treatment: str = "member",
    duration: str = "member_years",
    unit: str = "firm_id",
    time: str = "year",
    fe: Sequence[str] | None = None,
    controls: Sequence[str] = (),
    vcov: str = "cluster",
    cluster: str | None = None,
    weights: str | None = None,
    post_exit: PostExit = "keep",
    cohort: str = "treat_year",
) -> EstimationResult:
    """Premium plus linear growth: ``y_it = a_i + l_t + b0 * member_it + b1 * member_years_it + e_it``.

    Estimand: ``b0`` (jump on joining, net of the linear term) and ``b1`` (change in the premium per
    additional year of membership). ``member_years`` is 1 in the join year, so the premium in the
    ``m``-th membership year is ``b0 + b1 * m``. Assumptions as in :func:`static_premium`, plus a premium
    linear in years of membership and common to all cohorts. After an exit ``member_years`` stays at its
    last value (``post_exit="keep"``), i.e. the model assumes the accumulated effect persists.
    """
    df, excl = _membership_frame(
        data, outcome, unit, time, [treatment, duration, *controls], post_exit, cohort
    )
    rhs = " + ".join([treatment, duration, *controls])
    formula = f"{outcome} ~ {rhs} | {_fe_part(unit, time, fe)}"
    return _run_model(
        df,
        formula,
        vcov,
        cluster or unit,
        weights,
        None,
        "linear_duration",
        excl,
        {"post_exit": post_exit},
    )


def binned_duration(
    data: Any,
    outcome: str = "ln_lp",
    *,
    bins: Sequence[int | str] = (1, 2, 3, 4, "5+"),
    treatment: str = "member",
    duration: str = "member_years",
    unit: str = "firm_id",
    time: str = "year",
    fe: Sequence[str] | None = None,
    controls: Sequence[str] = (),
    vcov: str = "cluster",
    cluster: str | None = None,
    weights: str | None = None,
    post_exit: PostExit = "keep",
    cohort: str = "treat_year",
) -> EstimationResult:
    """Premium by years of membership in bins: ``y_it = a_i + l_t + sum_b c_b 1[member, m_it in b] + e``.

    Estimand: ``c_b``, the TWFE premium of member firm-years whose membership duration ``m_it``
    (``member_years``, 1 in the join year) falls in bin ``b`` (terms ``member_years::1`` ...
    ``member_years::5+``), relative to non-member firm-years. Member years outside every bin get no dummy
    (they are pooled with the controls; choose bins covering all durations). Assumptions as in
    :func:`static_premium`; the heterogeneity-robust counterpart is
    :func:`~clusterimpact.estimation.duration.duration_effects`.
    """
    parsed = parse_bins(bins)
    df, excl = _membership_frame(
        data, outcome, unit, time, [treatment, duration, *controls], post_exit, cohort
    )
    m = pd.to_numeric(df[duration], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    mem = pd.to_numeric(df[treatment], errors="coerce").to_numpy(dtype=float, na_value=np.nan) == 1
    extra = {
        f"{duration}::{label}": ((mem & (m >= lo) & (m <= hi)).astype(float))
        for label, lo, hi in parsed
    }
    rhs = " + ".join(controls) if controls else "0"
    formula = f"{outcome} ~ {rhs} | {_fe_part(unit, time, fe)}"
    f = parse_formula(formula)
    vtype, ccols = _normalise_vcov(
        vcov, (cluster or unit) if vcov in ("cluster", "twoway") else None
    )
    text = f"{outcome} ~ {' + '.join([*extra, *controls])} | {_fe_part(unit, time, fe)}"
    ff = _Formula(text, f.depvar, tuple(controls), f.fixed_effects, False, None)
    res = None
    if not controls and weights is None:
        res = _fit_indicators(
            ff,
            df,
            vtype,
            ccols,
            extra,
            method="binned_duration",
            options={"bins": [b[0] for b in parsed]},
        )
    res = res or _fit_fast(
        ff,
        df,
        vtype,
        ccols,
        weights,
        None,
        None,
        "min",
        True,
        method="binned_duration",
        extra_X=extra,
        options={"bins": [b[0] for b in parsed]},
    )
    res = _merge_exclusions(res, excl)
    order = [*extra, *controls]
    return _reorder(res, order)


def _merge_exclusions(res: EstimationResult, excl: dict[str, int]) -> EstimationResult:
    import dataclasses

    if not excl:
        return res
    merged = dict(excl)
    for k, v in res.exclusions.items():
        merged[k] = merged.get(k, 0) + v
    return dataclasses.replace(res, exclusions=merged)


def _reorder(res: EstimationResult, order: list[str]) -> EstimationResult:
    import dataclasses

    idx = pd.Index(order)
    V = res.vcov.loc[idx, idx] if res.vcov is not None else None
    return dataclasses.replace(
        res, params=res.params.loc[idx], std_errors=res.std_errors.loc[idx], vcov=V
    )


# -- indicator dummies without dense columns ---------------------------------------------------------
@dataclass(frozen=True)
class _Indicators:
    """Mutually exclusive 0/1 dummies stored sparsely: ``rows`` (positions in the frame) and ``which``
    (index into ``names`` of the dummy that is 1 there); every other row has all dummies at 0."""

    names: list[str]
    rows: np.ndarray
    which: np.ndarray
    n: int

    @classmethod
    def from_masks(cls, dummies: dict[str, np.ndarray]) -> _Indicators:
        masks = [np.asarray(d, dtype=bool) for d in dummies.values()]
        rows = [np.flatnonzero(m) for m in masks]
        which = [np.full(len(r), j, dtype=np.int64) for j, r in enumerate(rows)]
        return cls(
            list(dummies),
            np.concatenate(rows) if rows else np.empty(0, dtype=np.int64),
            np.concatenate(which) if which else np.empty(0, dtype=np.int64),
            len(masks[0]) if masks else 0,
        )

    def dense(self) -> dict[str, np.ndarray]:
        """Float columns (for the general path)."""
        out = {}
        for j, name in enumerate(self.names):
            col = np.zeros(self.n)
            col[self.rows[self.which == j]] = 1.0
            out[name] = col
        return out


def _residual_cell_products(
    ab: Absorber, u: np.ndarray, tf: np.ndarray, S1: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``S1' U[tf]`` (k x H) and ``U'U`` (H x H) for ``U`` the residual sums by primary group x secondary
    level, dense when the absorber holds its cell totals densely, sparse otherwise."""
    G, H, prim = ab.G, ab.H, ab.primary
    if isinstance(ab._C, np.ndarray):
        U = np.zeros(G * H)
        if ab.unique_cells:
            U[prim * H + ab._sec_off[0]] = u
        else:
            for cs in ab._sec_off:
                U += np.bincount(prim * H + cs, weights=u, minlength=G * H)
        Um = U.reshape(G, H)
        return np.einsum("gk,gh->kh", S1, Um[tf]), np.einsum("gi,gj->ij", Um, Um)
    Us = sp.csr_matrix(
        (
            np.tile(u, len(ab._sec_off)),
            (np.tile(prim, len(ab._sec_off)), np.concatenate(ab._sec_off)),
        ),
        shape=(G, H),
    )
    Us.sum_duplicates()
    return np.asarray((Us[tf].T @ S1).T), np.asarray((Us.T @ Us).toarray())


def _fit_indicators(
    f: _Formula,
    df: pd.DataFrame,
    vtype: str,
    ccols: list[str],
    dummies: dict[str, np.ndarray] | _Indicators,
    *,
    method: str,
    options: dict[str, Any] | None = None,
) -> EstimationResult | None:
    """Regression on mutually exclusive 0/1 dummies with absorbed effects, never forming dense columns.

    For a dummy ``D_e`` (rows ``r_e``) its fixed-effect fit is solved from group counts alone: firm means
    ``m_e = cnt_e / n_g``; secondary coefficients ``delta_e = A^+ (L_e - C' m_e)`` (``L_e`` the counts by
    secondary level, ``C`` the firm x level counts, ``A`` the within Gram matrix of the secondary
    dummies); firm coefficients ``a_e = m_e - (C delta_e) / n_g``. With ``D~_e = D_e - a_e[firm] -
    delta_e[level]`` the normal equations need only ``D~_e' D~_f = [e=f] n_e - cnt_e'a_f - L_e'delta_f``
    and ``D~_e' y~ = sum of y~ over r_e``; firm-cluster scores are ``sum_{r_e in g} u - (U delta_e)_g``
    (``U`` = residual sums by firm x level; residuals sum to zero within firms). Cost: O(N) for the
    outcome and O(treated rows) per dummy, instead of O(N) per dummy. The outcome's within transform
    ``y~`` is needed only on the dummy rows: over N the residual is formed directly from ``y`` and the
    combined fixed-effect fits, and ``y~'y~ = u'u + b'X~'y~`` (``u`` orthogonal to ``X~``).

    ``dummies`` maps names to 0/1 columns (length ``len(df)``) or is an :class:`_Indicators`.

    Returns None when the shortcut does not apply (weights, dense controls, clusters other than the
    primary effect, heteroskedastic or Driscoll-Kraay errors, a secondary effect too large for the dense
    solve); the caller then uses the general path.
    """
    if f.terms or vtype not in ("iid", "cluster") or not f.fixed_effects:
        return None
    p = _prepare(f, df, ccols, None, None, True)
    ab = p.absorber
    if ab is None or not ab.H:
        return None
    if vtype == "cluster" and p.cluster_codes[0] is not ab.primary:
        if not np.array_equal(p.cluster_codes[0], ab.primary):
            return None
    ind = dummies if isinstance(dummies, _Indicators) else _Indicators.from_masks(dummies)
    names = list(ind.names)
    k = len(names)
    if p.keep.all():
        r, jc = ind.rows, ind.which
    else:  # positions in the estimation sample
        kept = p.keep[ind.rows]
        r = (np.cumsum(p.keep) - 1)[ind.rows[kept]]
        jc = ind.which[kept]
    G, H, n = ab.G, ab.H, p.nobs
    prim = ab.primary
    pr = prim[r]
    g_part, delta_y = ab.projection(p.y)  # y~ = y - g_part[firm] - D delta_y
    yd_r = p.y[r] - g_part[pr]
    for cs in ab._sec_off:
        yd_r -= delta_y[cs[r]]
    # Only firms with dummy rows (tf) have non-zero counts: number them 0..len(tf)-1 and restrict the
    # G-sized products to them. One bincount each for the firm x dummy counts, level x dummy counts,
    # n_e and X~'y~.
    has = np.zeros(G, dtype=bool)
    has[pr] = True
    tf = np.flatnonzero(has)
    gk = (np.cumsum(has) - 1)[pr] * k + jc
    CNT_t = np.bincount(gk, minlength=len(tf) * k).reshape(len(tf), k).astype(float)
    Lf = np.zeros(H * k)
    for cs in ab._sec_off:
        Lf += np.bincount(cs[r] * k + jc, minlength=H * k)
    L = Lf.reshape(H, k)
    n_e = np.bincount(jc, minlength=k).astype(float)
    rhs = np.bincount(jc, weights=yd_r, minlength=k)
    # Tall-skinny products use einsum (no BLAS thread pool: it stalls on a loaded machine).
    M_t = CNT_t * ab._inv_wg[tf, None]  # firm means of each dummy (treated firms)
    CtM = ab.ct_times_rows(tf, M_t)  # C'M, H x k
    Delta = ab.solve(L - CtM)  # H x k
    # CNT'Alpha with Alpha = M - C Delta / n  ->  CNT'M - (C'M)'Delta (M = CNT / n)
    gram = np.diag(n_e) - np.einsum("gi,gj->ij", CNT_t, M_t) + CtM.T @ Delta - L.T @ Delta
    gram = 0.5 * (gram + gram.T)
    for j, name in enumerate(names):
        if n_e[j] == 0 or gram[j, j] <= 1e-10 * n_e[j]:
            raise EstimationError(
                f"regressor '{name}' is absorbed by the fixed effects ({' + '.join(f.fixed_effects)}) "
                "or has no observations"
            )
    d = np.sqrt(np.diag(gram))
    ev = np.linalg.eigvalsh(gram / np.outer(d, d))
    if ev.min() < 1e-10 * max(ev.max(), 1.0):
        raise EstimationError(
            f"regressors are collinear (given the fixed effects): {', '.join(names)}"
        )
    bread = np.linalg.inv(gram)
    beta = bread @ rhs
    # u = y~ - sum_e beta_e D~_e, with D~_e = D_e - alpha_e[firm] - delta_e[level], formed from y:
    # u = y - (g_part - alpha b)[firm] - D (delta_y - delta b) - b[e] on the dummy rows
    db = Delta @ beta
    a_b = -ab.c_times(db[:, None])[:, 0] * ab._inv_wg
    a_b[tf] += np.einsum("gk,k->g", M_t, beta)
    u = p.y - (g_part - a_b)[prim]
    d_fit = delta_y - db
    for cs in ab._sec_off:
        u -= d_fit[cs]
    u[r] -= beta[jc]
    df_k = _df_k(p, k, vtype)
    rss = _ssq(u, None)
    warns: list[str] = []
    n_clusters = None
    df_resid = float(n - df_k)
    if vtype == "iid":
        V = rss / max(n - df_k, 1) * bread
    else:
        few = inf.cluster_count_check(G, ccols[0])
        if few:
            warns.append(few)
            warnings.warn(few, EstimationWarning, stacklevel=3)
        # scores S = S1 - U Delta, S1 = residual sums by firm x dummy (non-zero on firms tf only),
        # U = residual sums by firm x level; meat S'S = S1'S1 - S1'U Delta - (S1'U Delta)' +
        # Delta'(U'U)Delta: one G-sized product
        S1 = np.bincount(gk, weights=u[r], minlength=len(tf) * k).reshape(len(tf), k)
        X1, UU = _residual_cell_products(ab, u, tf, S1)
        X1 = X1 @ Delta
        meat = np.einsum("gi,gj->ij", S1, S1) - X1 - X1.T + Delta.T @ UU @ Delta
        meat = 0.5 * (meat + meat.T)
        V = G / (G - 1) * (n - 1) / max(n - df_k, 1) * (bread @ meat @ bread)
        n_clusters = G
        df_resid = float(G - 1)
    if n - df_k <= 0:
        warns.append(_no_df_note(n, df_k))
        warnings.warn(warns[-1], EstimationWarning, stacklevel=3)
        V = np.full_like(bread, np.nan)
    yc = p.y - p.y.mean()
    tss = _ssq(yc, None)
    tss_w = rss + float(beta @ rhs)  # y~'y~ = u'u + b'X~'y~
    idx = pd.Index(names)
    opts = {"formula": f.text, "vcov": vtype, "cluster": ccols, "engine": "fast-indicators"}
    opts.update(options or {})
    return EstimationResult(
        params=pd.Series(beta, index=idx, name="estimate"),
        std_errors=pd.Series(np.sqrt(np.diag(V)), index=idx, name="std_error"),
        nobs=n,
        method=method,
        provenance=make_provenance(method, None, None, **opts),
        df_resid=df_resid,
        vcov=pd.DataFrame(V, index=idx, columns=idx),
        warnings=tuple(warns),
        exclusions=p.exclusions,
        formula=f.text,
        depvar=f.depvar,
        fixed_effects=f.fixed_effects,
        vcov_type=vtype,
        cluster="+".join(ccols) if ccols else None,
        n_clusters=n_clusters,
        r2=1 - rss / tss if tss > 0 else float("nan"),
        r2_within=1 - rss / tss_w if tss_w > 0 else float("nan"),
        rss=rss,
        df_k=int(df_k),
        n_fe_levels=dict(zip(f.fixed_effects, p.fe_levels, strict=True)),
        weights=None,
        engine="fast",
    )
