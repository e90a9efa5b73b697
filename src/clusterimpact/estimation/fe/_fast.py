"""The exact fast path of :func:`~clusterimpact.estimation.fe.feols`: absorb the fixed effects
(:mod:`~clusterimpact.estimation.fe._demean`), drop absorbed or collinear regressors by fixest's rule
(:mod:`~clusterimpact.estimation.fe._collinear`), solve, and build the covariance
(:mod:`~clusterimpact.estimation.fe.vcov`)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from clusterimpact.errors import EstimationError, EstimationWarning, SpecError
from clusterimpact.estimation.fe._collinear import select_regressors
from clusterimpact.estimation.fe._sample import _prepare, _Prepared, _ssq, _total_ss, _wmean
from clusterimpact.estimation.fe.result import FixedEffectsResult
from clusterimpact.estimation.fe.vcov import _df_k, _vcov_fast
from clusterimpact.formula.design import _Formula
from clusterimpact.provenance import make_provenance


def _select(
    p: _Prepared, Xd: np.ndarray, f: _Formula, collinear: str
) -> tuple[list[int], list[str], list[str]]:
    """Regressors kept (indices), dropped (names) and the note on them, by fixest's sequential rule
    (:mod:`clusterimpact.estimation.fe._collinear`); raises when ``collinear="raise"`` and one is dropped,
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
    return _select_from(np.einsum("ij,ik->jk", Xs, Xw), total, names, f, collinear)


def _select_from(
    XtX: np.ndarray, total: np.ndarray, names: list[str], f: _Formula, collinear: str
) -> tuple[list[int], list[str], list[str]]:
    """:func:`_select` given ``X~'WX~`` and the columns' total sums of squares (the Dask path sums both
    over partitions)."""
    has_fe = bool(f.fixed_effects)
    sel = select_regressors(XtX, total)
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
    return _solve_normal(np.einsum("ij,ik->jk", Xd, Xw), np.einsum("ij,i->j", Xw, yd))


def _solve_normal(XtX: np.ndarray, Xty: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``beta`` and the bread ``(X'WX)^{-1}`` from the normal equations' cross-products."""
    bread = np.linalg.inv(XtX)
    return bread @ Xty, bread


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
) -> FixedEffectsResult:
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
    fit = _Fit(
        names=names,
        beta=beta,
        V=V,
        nobs=p.nobs,
        df_resid=float(df_resid),
        warns=[*notes, *warns],
        exclusions=p.exclusions,
        n_clusters=n_clusters,
        rss=_ssq(u, p.w),
        tss=_ssq(p.y - _wmean(p.y, p.w), p.w),
        tss_w=_ssq(yd, p.w),
        df_k=int(df_k),
        fe_levels=list(p.fe_levels),
        dropped=dropped,
    )
    return _assemble(f, fit, vtype, ccols, weights, method, options)


@dataclass
class _Fit:
    """The numbers of a fast-path fit, from one frame or summed over partitions."""

    names: list[str]
    beta: np.ndarray
    V: np.ndarray
    nobs: int
    df_resid: float
    warns: list[str]
    exclusions: dict[str, int]
    n_clusters: int | None
    rss: float
    tss: float
    tss_w: float
    df_k: int
    fe_levels: list[int]
    dropped: list[str]


def _assemble(
    f: _Formula,
    fit: _Fit,
    vtype: str,
    ccols: list[str],
    weights: str | None,
    method: str,
    options: dict[str, Any] | None,
    *,
    stacklevel: int = 4,
) -> FixedEffectsResult:
    """The :class:`FixedEffectsResult` of a fit (warnings issued here)."""
    for m in fit.warns:
        warnings.warn(m, EstimationWarning, stacklevel=stacklevel)
    idx = pd.Index(fit.names)
    opts = {
        "formula": f.text,
        "vcov": vtype,
        "cluster": ccols,
        "weights": weights,
        "engine": "fast",
    }
    opts.update(options or {})
    rss, tss, tss_w, V = fit.rss, fit.tss, fit.tss_w, fit.V
    return FixedEffectsResult(
        params=pd.Series(fit.beta, index=idx, name="estimate"),
        std_errors=pd.Series(np.sqrt(np.diag(V)), index=idx, name="std_error"),
        nobs=fit.nobs,
        method=method,
        provenance=make_provenance(method, None, None, **opts),
        df_resid=float(fit.df_resid),
        vcov=pd.DataFrame(V, index=idx, columns=idx),
        warnings=tuple(fit.warns),
        exclusions=fit.exclusions,
        formula=f.text,
        depvar=f.depvar,
        fixed_effects=f.fixed_effects,
        vcov_type=vtype,
        cluster="+".join(ccols) if ccols else None,
        n_clusters=fit.n_clusters,
        r2=1 - rss / tss if tss > 0 else float("nan"),
        r2_within=1 - rss / tss_w if (f.fixed_effects and tss_w > 0) else float("nan"),
        rss=rss,
        df_k=int(fit.df_k),
        n_fe_levels=dict(zip(f.fixed_effects, fit.fe_levels, strict=True)),
        weights=weights,
        engine="fast",
        collinear=tuple(fit.dropped),
    )
