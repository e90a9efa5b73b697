"""The estimation sample of the fast path: numeric columns, rows with missing values, zero weights and
singleton fixed-effect levels removed (counted in ``exclusions``), fixed-effect and cluster codes, and the
:class:`~clusterimpact.estimation.fe._demean.Absorber` of the fixed effects."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from clusterimpact.errors import DataError, EstimationError
from clusterimpact.estimation.fe._demean import (
    Absorber,
    drop_singletons,
    factorize,
    interact_codes,
)
from clusterimpact.formula.design import _Formula


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
