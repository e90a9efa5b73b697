"""The covariance side of a fixed-effects fit: the ``vcov=`` specification, the parameter count of the
small-sample factor (fixed effects nested in the cluster are not counted) and the fast path's covariance
(computed by :mod:`clusterimpact.estimation.inference`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from clusterimpact._validation import check_choice
from clusterimpact.errors import SpecError
from clusterimpact.estimation import inference as inf

if TYPE_CHECKING:
    from clusterimpact.estimation.fe._sample import _Prepared


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
    """Parameters counted in the small-sample factor of a fast-path fit with ``k`` slopes."""
    return count_df_k(k, p.fe_codes, p.fe_levels, p.cluster_codes, vtype)


def count_df_k(
    k: int,
    fe_codes: Sequence[np.ndarray],
    fe_levels: Sequence[int],
    cluster_codes: Sequence[np.ndarray],
    vtype: str,
) -> int:
    """``k`` slopes plus the fixed-effect levels as fixest counts them (``sum(levels) - (n_fe - 1)``),
    where an effect nested in a cluster variable counts as one (``k_fixef="nonnested"``)."""
    if not fe_codes:
        return k
    nested = [
        vtype in ("cluster", "twoway") and any(_nested_in(c, cl) for cl in cluster_codes)
        for c in fe_codes
    ]
    return df_k_nested(k, fe_levels, nested, vtype)


def df_k_nested(k: int, fe_levels: Sequence[int], nested: Sequence[bool], vtype: str) -> int:
    """:func:`count_df_k` given which effects are nested in a cluster variable (the Dask path decides
    that from statistics summed over partitions)."""
    if not fe_levels:
        return k
    k_fe = sum(fe_levels) - (len(fe_levels) - 1)
    if vtype in ("cluster", "twoway"):
        idx = [i for i, nest in enumerate(nested) if nest]
        if idx:
            return k + k_fe - sum(fe_levels[i] for i in idx) + len(idx)
    return k + k_fe


def _no_df_note(n: int, df_k: int) -> str:
    return (
        f"no residual degrees of freedom: {n} observations, {df_k} parameters counted (slopes plus "
        "fixed-effect levels as fixest counts them); standard errors are NaN"
    )


def vcov_counts(
    vtype: str, n: int, df_k: int, Gs: Sequence[int], ccols: Sequence[str]
) -> tuple[int | None, float, list[str]]:
    """Number of clusters (or periods), residual df and warnings of a fit with ``n`` rows, ``df_k``
    parameters counted and ``Gs`` clusters per cluster column (periods for Driscoll-Kraay)."""
    warns: list[str] = []
    n_clusters = None
    df_resid: float = n - df_k
    if vtype in ("cluster", "twoway"):
        for G, name in zip(Gs, ccols, strict=True):
            msg = inf.cluster_count_check(G, name)
            if msg:
                warns.append(msg)
        n_clusters = min(Gs)
        df_resid = n_clusters - 1
    elif vtype == "driscoll_kraay":
        n_clusters = int(Gs[0])
        df_resid = n_clusters - 1
    if n - df_k <= 0:
        warns.append(_no_df_note(n, df_k))
    return n_clusters, df_resid, warns


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
    Gs = [int(c.max()) + 1 for c in p.cluster_codes]
    if vtype == "driscoll_kraay":
        assert p.time_codes is not None
        Gs = [int(p.time_codes.max()) + 1]
    n_clusters, df_resid, warns = vcov_counts(vtype, n, df_k, Gs, ccols)
    if n - df_k <= 0:
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
