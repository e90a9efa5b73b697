"""``feols(..., backend="dask")``: the fast path's fit as map-reduce over firm partitions (#16).

The estimation sample, the statistics and the finalizing steps are those of the in-memory fast path
(:mod:`~clusterimpact.estimation.fe._fast`), computed per partition and summed in partition order:

1. sample: rows with missing values and zero weights out (per row); singleton levels out by the
   iterative rule of :func:`~clusterimpact.estimation.fe._demean.drop_singletons` (firm singletons are
   partition-local; secondary levels seen once over all partitions are banned and the pass repeats);
2. the firm plus the secondary effects absorbed by :class:`~._dask_absorber.DaskAbsorber`;
3. means, then the within cross-products ``X~'WX~``, ``X~'Wy~``, the total sums of squares; on the
   client the regressors are selected (:func:`~._fast._select_from`) and solved
   (:func:`~._fast._solve_normal`);
4. residual statistics (``sum w u^2``, the HC1 meat, the cluster score sums) finalized by
   :func:`~clusterimpact.estimation.inference.sandwich`.

The firm must be one of the fixed effects (the partition key is the primary effect); covariances iid,
HC1 and one-way CRV1 by the firm or by a variable constant within firms. Anything else is refused.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.dask import hold
from clusterimpact.errors import DataError, EstimationError, SpecError
from clusterimpact.estimation import inference as inf
from clusterimpact.estimation.fe._dask_absorber import (
    DaskAbsorber,
    _effect_keys,
    demean,
    effect_codes,
    partition_absorber,
)
from clusterimpact.estimation.fe._demean import factorize
from clusterimpact.estimation.fe._fast import _assemble, _Fit, _select_from, _solve_normal
from clusterimpact.estimation.fe._sample import _numeric
from clusterimpact.estimation.fe.result import FixedEffectsResult
from clusterimpact.estimation.fe.vcov import df_k_nested, vcov_counts
from clusterimpact.formula.design import _Formula

__all__ = ["fit_dask"]

# extra regressors computed from a partition's rows (row-local: the binned-duration dummies)
Extra = Callable[[pd.DataFrame], dict[str, np.ndarray]]


@dataclasses.dataclass(frozen=True)
class _Design:
    """What every partition needs to build the sample and the columns (small; sent to tasks)."""

    depvar: str
    terms: tuple[str, ...]
    firm: str
    secondary: tuple[str, ...]
    ccols: tuple[str, ...]
    weights: str | None
    extra: Extra | None
    singletons: bool
    banned: tuple[pd.Index | None, ...] = ()

    @property
    def fe_cols(self) -> list[str]:
        return [self.firm, *[c for e in self.secondary for c in e.split("^")]]

    def __call__(self, part: pd.DataFrame) -> np.ndarray:
        """The sample rows of ``part`` (the ``rows`` of the absorber)."""
        return _sample(part, self)[0]


def _yx(sub: pd.DataFrame, d: _Design) -> np.ndarray:
    """``[y, X]`` of sample rows (n x (1 + k)), columns as the in-memory path builds them."""
    cols = [_numeric(sub, d.depvar), *[_numeric(sub, t) for t in d.terms]]
    if d.extra is not None:
        cols += [np.asarray(v, dtype=float) for v in d.extra(sub).values()]
    out = np.empty((len(sub), len(cols)), order="F")
    for j, c in enumerate(cols):
        out[:, j] = c
    return out


def _ok_rows(part: pd.DataFrame, d: _Design) -> tuple[np.ndarray, dict[str, int]]:
    """Rows with every value present and a positive weight; counts as in ``_prepare``."""
    YX = _yx(part, d)
    ok = np.isfinite(YX).all(axis=1)
    if d.weights:
        w = _numeric(part, d.weights)
        bad = np.isfinite(w) & (w < 0)
        if bad.any():
            raise DataError("negative weights", column=d.weights, rows=list(part.index[bad][:20]))
        ok &= np.isfinite(w)
    for col in dict.fromkeys(d.fe_cols + list(d.ccols)):
        ok &= part[col].notna().to_numpy()
    counts = {"rows": len(part), "ok": int(ok.sum()), "zero_weight": 0}
    if d.weights:
        zero = ok & (w == 0)
        counts["zero_weight"] = int(zero.sum())
        ok &= ~zero
    return ok, counts


def _sample(part: pd.DataFrame, d: _Design) -> tuple[np.ndarray, dict[str, int]]:
    """Sample rows: present, positive weight, not in a banned level, not a firm singleton."""
    keep, counts = _ok_rows(part, d)
    if d.singletons:
        for e, banned in zip(d.secondary, d.banned, strict=False):
            if banned is not None and len(banned):
                idx = np.flatnonzero(keep)
                keep[idx[_effect_keys(part.iloc[idx], e).isin(banned)]] = False
        idx = np.flatnonzero(keep)
        firm, g = factorize(part[d.firm].iloc[idx]) if len(idx) else (np.zeros(0, np.int64), 0)
        keep[idx[np.bincount(firm, minlength=g)[firm] == 1]] = False
    return keep, counts


def _sample_stats(part: pd.DataFrame, d: _Design) -> dict[str, Any]:
    """Counts behind the exclusions, level counts and weighted sums of ``[y, X]`` on the sample."""
    keep, counts = _sample(part, d)
    sub = part if keep.all() else part.loc[keep]
    levels = {e: _effect_keys(sub, e).value_counts(sort=False) for e in d.secondary}
    w = np.ones(len(sub)) if d.weights is None else _numeric(sub, d.weights)
    swv = np.einsum("i,ij->j", w, _yx(sub, d))
    return {"counts": counts, "kept": int(keep.sum()), "levels": levels, "sw": w.sum(), "swv": swv}


def _add_sample(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {
        "counts": {k: a["counts"][k] + b["counts"][k] for k in a["counts"]},
        "kept": a["kept"] + b["kept"],
        "levels": {k: a["levels"][k].add(b["levels"][k], fill_value=0) for k in a["levels"]},
        "sw": a["sw"] + b["sw"],
        "swv": a["swv"] + b["swv"],
    }


def _settle_sample(
    fp: Any, d: _Design, scheduler: str | None
) -> tuple[_Design, dict[str, int], dict[str, Any]]:
    """Ban secondary levels seen once until none is left (the iterative singleton rule); the design
    with the bans, the exclusions and the last pass's statistics."""
    banned: list[pd.Index | None] = [None] * len(d.secondary)
    while True:
        d = dataclasses.replace(d, banned=tuple(banned))
        st = fp.map_reduce(_sample_stats, d, combine=_add_sample, scheduler=scheduler)
        new = False
        if d.singletons:
            for i, e in enumerate(d.secondary):
                lv = st["levels"][e]
                once = lv.index[lv.to_numpy() == 1]
                if len(once):
                    prev = banned[i]
                    banned[i] = once if prev is None else prev.append(once).unique()
                    new = True
        if not new:
            break
    c = st["counts"]
    excl: dict[str, int] = {}
    if c["rows"] - c["ok"]:
        excl["missing_values"] = int(c["rows"] - c["ok"])
    if c["zero_weight"]:
        excl["zero_weight"] = int(c["zero_weight"])
    single = c["ok"] - c["zero_weight"] - st["kept"]
    if single:
        excl["singleton"] = int(single)
    if st["kept"] == 0:
        raise EstimationError("no observations left after removing missing values and singletons")
    return d, excl, st


@dataclasses.dataclass(frozen=True)
class _Clusters:
    """How the cluster scores are summed: by the (partition-local) firm, or by global levels."""

    col: str | None = None
    levels: pd.Index | None = None  # None: the firm


def _cluster_stats(part: pd.DataFrame, spec: Any, d: _Design, col: str) -> dict[str, Any]:
    """Whether ``col`` is constant within firms and, for each secondary effect, whether each of its
    levels meets one cluster (the nestedness of :func:`count_df_k`)."""
    _, sub = partition_absorber(part, spec)
    firm, g = factorize(sub[d.firm]) if len(sub) else (np.zeros(0, np.int64), 0)
    out: dict[str, Any] = {}
    if col == d.firm:
        cl, G = firm, g
        out["varies"] = 0
        out["levels"] = pd.Series(dtype=float)
    else:
        keys = pd.Index(sub[col])
        cl, G = factorize(sub[col]) if len(sub) else (np.zeros(0, np.int64), 0)
        per_firm = pd.DataFrame({"f": firm, "c": cl}).groupby("f")["c"].nunique()
        out["varies"] = int((per_firm > 1).sum())
        out["levels"] = keys.value_counts(sort=False)
    # distinct clusters per level of each secondary effect: summing over partitions is exact for the
    # firm (each firm in one partition); for a global cluster variable the pairs are returned
    pairs: dict[str, Any] = {}
    for e, lv in zip(spec.effects, spec.levels, strict=True):
        if len(lv) < G:  # fewer levels than clusters here already: not nested, nothing to collect
            pairs[e] = None
            continue
        codes = effect_codes(sub, e, lv)
        uniq = (
            pd.MultiIndex.from_arrays([codes, np.asarray(sub[col]) if col != d.firm else firm])
            .unique()
            .to_frame(index=False)
        )
        pairs[e] = (
            np.bincount(uniq.iloc[:, 0].to_numpy(), minlength=len(lv)) if col == d.firm else uniq
        )
    out["pairs"] = pairs
    out["G"] = G
    return out


def _add_cluster(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    pairs: dict[str, Any] = {}
    for e in a["pairs"]:
        x, y = a["pairs"][e], b["pairs"][e]
        if x is None or y is None:
            pairs[e] = None
        else:
            pairs[e] = x + y if isinstance(x, np.ndarray) else pd.concat([x, y]).drop_duplicates()
    return {
        "varies": a["varies"] + b["varies"],
        "levels": a["levels"].add(b["levels"], fill_value=0),
        "pairs": pairs,
        "G": a["G"] + b["G"],
    }


def _nesting(
    st: dict[str, Any], ab: DaskAbsorber, d: _Design, col: str
) -> tuple[_Clusters, int, list[bool]]:
    """Cluster layout, number of clusters and which effects (firm first, then ``d.secondary``) are
    nested in the cluster variable, from the summed :func:`_cluster_stats`."""
    if st["varies"]:
        raise SpecError(
            f"cluster={col!r} varies within {st['varies']} firms: backend='dask' clusters by the "
            f"firm ({d.firm!r}) or by a variable constant within firms (use backend='memory')"
        )
    if col == d.firm:
        G, layout = ab.n_firms, _Clusters()
    else:
        lv = st["levels"]
        levels = lv.index[lv.to_numpy() > 0].sort_values()
        G, layout = len(levels), _Clusters(col, levels)
    nested = {d.firm: True}  # the firm is its own cluster or lies within one
    for e, lv in zip(ab.spec.effects, ab.spec.levels, strict=True):
        if len(lv) < G or st["pairs"][e] is None:  # fewer levels than clusters: not nested
            nested[e] = False
        elif col == d.firm:
            nested[e] = bool(np.all(st["pairs"][e] == 1))
        else:
            nested[e] = bool(st["pairs"][e].iloc[:, 0].value_counts().max() == 1)
    return layout, G, [nested[e] for e in (d.firm, *d.secondary)]


def _cross_stats(
    part: pd.DataFrame,
    spec: Any,
    d: _Design,
    delta: np.ndarray,
    means: np.ndarray,
    ccol: str | None,
) -> dict[str, Any]:
    """Within cross-products, the total sums of squares about the global means and (``ccol``) the
    cluster statistics."""
    ab, sub = partition_absorber(part, spec)
    YX = _yx(sub, d)
    Z = demean(part, spec, YX, delta)
    w = ab.w
    Zw = Z if w is None else Z * w[:, None]
    C = YX - means
    Cw = C if w is None else C * w[:, None]
    out = {"ZZ": np.einsum("ij,ik->jk", Z, Zw), "tot": np.einsum("ij,ij->j", C, Cw)}
    if ccol is not None:
        out["cl"] = _cluster_stats(part, spec, d, ccol)
    return out


def _add_cross(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = {"ZZ": a["ZZ"] + b["ZZ"], "tot": a["tot"] + b["tot"]}
    if "cl" in a:
        out["cl"] = _add_cluster(a["cl"], b["cl"])
    return out


def _resid_stats(
    part: pd.DataFrame,
    spec: Any,
    d: _Design,
    delta: np.ndarray,
    beta: np.ndarray,
    keep: list[int],
    vtype: str,
    layout: _Clusters,
) -> dict[str, Any]:
    """Residual sum of squares and the meat of the covariance (scores summed by cluster)."""
    ab, sub = partition_absorber(part, spec)
    Z = demean(part, spec, _yx(sub, d), delta)
    X = np.asfortranarray(Z[:, [1 + j for j in keep]])
    u = Z[:, 0] - np.einsum("ij,j->i", X, beta)
    w = ab.w
    out: dict[str, Any] = {"rss": float(np.einsum("i,i->", u, u if w is None else w * u))}
    if vtype == "hetero":
        S = inf._scores(X, u, w)
        out["meat"] = S.T @ S
    elif vtype == "cluster":
        S = inf._scores(X, u, w)
        if layout.levels is None:  # by firm: clusters are partition-local
            codes = ab.primary
            out["meat"] = (
                inf._meat_cluster(S, codes)[0] if len(codes) else np.zeros((len(keep),) * 2)
            )
        else:
            codes = np.asarray(layout.levels.get_indexer(pd.Index(sub[layout.col])), np.int64)
            G = len(layout.levels)
            agg = np.empty((G, S.shape[1]))
            for j in range(S.shape[1]):
                agg[:, j] = np.bincount(codes, weights=S[:, j], minlength=G)
            out["agg"] = agg
    return out


def _check_spec(f: _Formula, firm: str, vtype: str) -> None:
    if f.iv is not None or f.generated:
        raise SpecError(
            f"formula '{f.text}': backend='dask' takes plain columns (no instruments, transforms or "
            "i()/C() dummies): compute the columns first, or use backend='memory'"
        )
    if firm not in f.fixed_effects:
        raise SpecError(
            f"formula '{f.text}': backend='dask' absorbs the partition key {firm!r} as the primary "
            f"fixed effect; the fixed effects ({' + '.join(f.fixed_effects) or 'none'}) must "
            "include it (or use backend='memory')"
        )
    if vtype not in ("iid", "hetero", "cluster"):
        raise SpecError(
            f"vcov={vtype!r} is not available with backend='dask' (iid, hetero/HC1 and one-way "
            "cluster/CRV1 are); use backend='memory'"
        )


def fit_dask(
    f: _Formula,
    fp: Any,
    vtype: str,
    ccols: list[str],
    weights: str | None,
    singletons: bool,
    *,
    method: str = "twfe",
    extra: Extra | None = None,
    options: dict[str, Any] | None = None,
    collinear: str = "raise",
    scheduler: str | None = None,
    persist: bool = False,
    extra_cols: Sequence[str] = (),
) -> FixedEffectsResult:
    """The fast path's fit of ``f`` on :class:`~clusterimpact.dask.FirmPartitions` ``fp``.

    ``extra`` computes extra regressors from a partition's rows, reading ``extra_cols``;
    ``persist``: hold the partitions in the workers' memory for the passes (for partitions built by the
    call from a frame; partitions the caller passes are used as they are).
    """
    _check_spec(f, fp.firm, vtype)
    secondary = tuple(e for e in f.fixed_effects if e != fp.firm)
    need = [fp.firm, *[c for e in secondary for c in e.split("^")], *ccols, f.depvar, *f.terms]
    need = list(dict.fromkeys([*need, *([weights] if weights else []), *extra_cols]))
    # the passes read these columns only: the others are left behind in each task
    fp = fp.map_partitions(_columns_of, need, meta=fp.frame._meta[need])
    if persist:
        fp = hold(fp)
    d = _Design(f.depvar, f.terms, fp.firm, secondary, tuple(ccols), weights, extra, singletons)
    d, excl, st = _settle_sample(fp, d, scheduler)
    yx = functools.partial(_yx, d=d)
    ab = DaskAbsorber(
        fp, secondary, weights=weights, rows=d, levels=st["levels"], columns=yx, scheduler=scheduler
    )
    names = [*f.terms, *(extra(fp.frame._meta).keys() if extra else [])]
    if not names:
        raise SpecError(f"formula '{f.text}' has no regressors to estimate")
    delta = ab.solve()
    means = st["swv"] / st["sw"]
    ccol = ccols[0] if vtype == "cluster" else None
    cross = fp.map_reduce(
        _cross_stats, ab.spec, d, delta, means, ccol, combine=_add_cross, scheduler=scheduler
    )
    ZZ, tot = cross["ZZ"], cross["tot"]
    keep, dropped, notes = _select_from(ZZ[1:, 1:], tot[1:], names, f, collinear)
    beta, bread = _solve_normal(ZZ[1:, 1:][np.ix_(keep, keep)], ZZ[1:, 0][keep])
    fe_levels = _fe_levels(f, fp.firm, ab)
    n = ab.nobs
    layout, Gs, nested = _Clusters(), [], [False] * len(fe_levels)
    if ccol is not None:
        layout, G, nested_sec = _nesting(cross["cl"], ab, d, ccol)
        Gs = [G]
        order = [fp.firm, *secondary]
        nested = [nested_sec[order.index(e)] for e in f.fixed_effects]
    df_k = df_k_nested(len(keep), fe_levels, nested, vtype)
    n_clusters, df_resid, warns = vcov_counts(vtype, n, df_k, Gs, ccols)
    res = fp.map_reduce(
        _resid_stats, ab.spec, d, delta, beta, keep, vtype, layout, scheduler=scheduler
    )
    if n - df_k <= 0:
        V = np.full(bread.shape, np.nan)
    elif vtype == "iid":
        V = inf.sandwich("iid", bread, res["rss"], n=n, df_k=df_k)
    elif vtype == "hetero":
        V = inf.sandwich("hetero", bread, res["meat"], n=n, df_k=df_k)
    else:
        meat = res["meat"] if "meat" in res else res["agg"].T @ res["agg"]
        V = inf.sandwich("cluster", bread, meat, n=n, df_k=df_k, G=Gs[0])
    fit = _Fit(
        names=[names[j] for j in keep],
        beta=beta,
        V=V,
        nobs=n,
        df_resid=float(df_resid),
        warns=[*notes, *warns],
        exclusions=excl,
        n_clusters=n_clusters,
        rss=res["rss"],
        tss=float(tot[0]),
        tss_w=float(ZZ[0, 0]),
        df_k=int(df_k),
        fe_levels=fe_levels,
        dropped=dropped,
    )
    return _assemble(f, fit, vtype, ccols, weights, method, options, stacklevel=5)


def _columns_of(part: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    return part[cols]


def _fe_levels(f: _Formula, firm: str, ab: DaskAbsorber) -> list[int]:
    n = dict(zip(ab.spec.effects, ab.n_levels, strict=True))
    n[firm] = ab.n_firms
    return [n[e] for e in f.fixed_effects]
