"""Callaway-Sant'Anna on Dask (#16): the same statistics as in memory, summed over firm partitions.

Each firm lives in one partition, so its outcome changes and base-period covariates are partition-local.

1. Preparation: every partition is validated by the in-memory helpers of
   :mod:`~clusterimpact.estimation.cs.prepare` (the same errors); the periods and the cohorts' unit
   counts are reduced to the client, which applies the same rules with the same messages
   (:func:`~clusterimpact.estimation.cs.prepare.cohort_rules`,
   :func:`~clusterimpact.estimation.cs.prepare.balance_notes`); each partition is then put in wide form
   (one row per firm) and persisted.
2. Without covariates on a balanced panel, one pass sums the group-block features per group, their Gram
   blocks and (bootstrap) their per-firm multiplier draws; the client finalises with
   :func:`~clusterimpact.estimation.cs.core.fast_cells_from_sums`.
3. Otherwise every cell runs its stages of :mod:`~clusterimpact.estimation.cs.staged`: each pass answers
   the pending request of every cell at once (the propensity-score Newton steps included), and a last
   pass turns the finalised cells into influence values, reduced per partition to ``Phi' Phi`` and
   ``xi Phi`` on the basis of :func:`~clusterimpact.estimation.cs.core.unit_basis`.

No firm-length vector reaches the client: only sums of size cells x basis (x draws).
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.dask import hold
from clusterimpact.errors import DataError, EstimationError, SpecError
from clusterimpact.estimation.cs import core, prepare, staged
from clusterimpact.estimation.influence import (
    GroupBlockBasis,
    InfluenceFunction,
    ReducedBasis,
    SparseBasis,
    firm_keys,
    project_firm_draws,
)

__all__ = ["DaskPrepared", "dask_cells", "dask_prepare"]


@dataclass
class _Opts:
    outcome: str
    cohort: str
    unit: str
    time: str
    covariates: list[str]
    weights: str | None
    anticipation: int
    allow_unbalanced: bool


@dataclass
class DaskPrepared:
    """What the client knows of a partitioned panel: the periods, the groups and their sizes.

    ``frame`` is the persisted wide form (one row per firm: cohort, raw weight, kept flag, outcome and
    covariates by period) that every pass reads.
    """

    frame: Any
    years: np.ndarray
    group_cohort: np.ndarray
    group_stack: np.ndarray
    n: int
    nobs: int
    w_mean: float
    k: int
    balanced: bool
    exclusions: dict[str, int] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    unit_labels: None = None


# -------------------------------------------------------------------------------------------------
# preparation
# -------------------------------------------------------------------------------------------------
def _long_part(part: pd.DataFrame, o: _Opts) -> tuple[Any, np.ndarray, np.ndarray]:
    lg = prepare._long(
        part, o.outcome, o.cohort, o.unit, o.time, o.covariates, o.weights, None, None
    )
    unit_g = prepare._unit_cohorts(lg, o.cohort)
    _, unit_w, _ = prepare._unit_settings(lg, o.weights, None, None)
    return lg, unit_g, unit_w


def _scan(part: pd.DataFrame, o: _Opts) -> dict[str, Any]:
    """Validate a partition; its periods and its units per cohort."""
    if len(part) == 0:
        return {"years": set(), "cohorts": Counter()}
    lg, unit_g, _ = _long_part(part, o)
    vals, cnt = np.unique(unit_g[unit_g > 0], return_counts=True)
    return {
        "years": set(np.unique(lg.tt).tolist()),
        "cohorts": Counter(dict(zip(vals.tolist(), cnt.tolist(), strict=True))),
    }


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {k: (a[k] | b[k]) if isinstance(a[k], set) else a[k] + b[k] for k in a}


def _wide_columns(years: np.ndarray, k: int) -> list[str]:
    T = len(years)
    return [f"__y{t}" for t in range(T)] + [f"__x{t}_{j}" for t in range(T) for j in range(k)]


def _wide_part(
    part: pd.DataFrame, o: _Opts, years: np.ndarray, late: np.ndarray, early: np.ndarray
) -> pd.DataFrame:
    """One row per firm: id, cohort (late cohorts as never treated), raw weight, kept flag, the
    balance and missing-row counts, outcome and base covariates by period."""
    cols = [
        o.unit,
        "__g",
        "__w",
        "__keep",
        "__n_drop",
        "__n_none",
        "__miss_y",
        "__miss_x",
        "__nobs",
    ]
    cols += _wide_columns(years, len(o.covariates))
    if len(part) == 0:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in cols}).astype({o.unit: object})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lg, unit_g, unit_w = _long_part(part, o)
        excl: dict[str, int] = {}
        y, x = prepare._wide(lg, years, o.outcome, o.covariates, excl)
    unit_g = np.where(np.isin(unit_g, late), 0.0, unit_g)
    keep0 = ~np.isin(unit_g, early)
    keep, _, _ = prepare.balance_mask(y, keep0.copy(), o.allow_unbalanced)
    not_all = keep0 & ~np.isfinite(y).all(axis=1)
    not_any = keep0 & ~np.isfinite(y).any(axis=1)
    n_all = len(unit_g)
    miss = np.zeros((n_all, 2))
    miss[0] = (excl.get("missing outcome (rows)", 0), excl.get("missing covariate (rows)", 0))
    data = {
        o.unit: np.asarray(lg.kuniq, dtype=object),
        "__g": unit_g,
        "__w": unit_w,
        "__keep": keep.astype(float),
        "__n_drop": (not_all & ~keep).astype(float) if not o.allow_unbalanced else 0.0,
        "__n_none": (not_any & ~keep).astype(float) if o.allow_unbalanced else 0.0,
        "__miss_y": miss[:, 0],
        "__miss_x": miss[:, 1],
        "__nobs": (np.isfinite(y).sum(axis=1) * keep).astype(float),
    }
    out = pd.DataFrame(data)
    ycols = pd.DataFrame(y, columns=[f"__y{t}" for t in range(len(years))])
    parts = [out, ycols]
    if x is not None:
        xs = x.reshape(n_all, -1)
        parts.append(pd.DataFrame(xs, columns=_wide_columns(years, x.shape[2])[len(years) :]))
    return pd.concat(parts, axis=1)


def _summary(part: pd.DataFrame, T: int) -> dict[str, Any]:
    keep = part["__keep"].to_numpy() > 0
    y = part[[f"__y{t}" for t in range(T)]].to_numpy()[keep]
    g = part["__g"].to_numpy()[keep]
    vals, cnt = np.unique(g, return_counts=True)
    return {
        "n": int(keep.sum()),
        "w": float(part["__w"].to_numpy()[keep].sum()),
        "nobs": int(part["__nobs"].sum()),
        "n_drop": int(part["__n_drop"].sum()),
        "n_none": int(part["__n_none"].sum()),
        "miss_y": int(part["__miss_y"].sum()),
        "miss_x": int(part["__miss_x"].sum()),
        "incomplete": int((~np.isfinite(y).all(axis=1)).sum()),
        "groups": Counter(dict(zip(vals.tolist(), cnt.tolist(), strict=True))),
    }


def _add_summary(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {k: a[k] + b[k] for k in a}


def dask_prepare(fp: Any, o: _Opts, msgs: list[str]) -> DaskPrepared:
    """Validate and reshape a :class:`~clusterimpact.dask.FirmPartitions` panel (see module doc)."""
    from clusterimpact._validation import require_columns

    need = [o.unit, o.time, o.cohort, o.outcome, *o.covariates] + ([o.weights] if o.weights else [])
    require_columns(fp.frame._meta, need, what="staggered DiD")
    scan = fp.map_reduce(_scan, o, combine=_merge)
    if not scan["years"]:
        raise EstimationError("no units left after validation")
    years = prepare._periods(np.array(sorted(scan["years"]), dtype=np.int64), o.time)
    exclusions: dict[str, int] = {}
    cohorts = np.array(sorted(scan["cohorts"]), dtype=float)
    counts = np.array([scan["cohorts"][c] for c in cohorts], dtype=np.int64)
    late, early = prepare.cohort_rules(
        cohorts, counts, years, o.anticipation, o.cohort, o.time, msgs, exclusions
    )
    k = len(o.covariates)
    meta = _wide_part(fp.frame._meta, o, years, late, early)
    wide = hold(fp.map_partitions(_wide_part, o, years, late, early, meta=meta))
    s = wide.map_reduce(_summary, len(years), combine=_add_summary)
    if s["miss_x"]:
        exclusions["missing covariate (rows)"] = s["miss_x"]
    if s["miss_y"]:
        exclusions["missing outcome (rows)"] = s["miss_y"]
    prepare.balance_notes(s["n_drop"], s["n_none"], years, msgs, exclusions)
    if s["n"] == 0:
        raise EstimationError("no units left after validation")
    if s["w"] <= 0:
        raise DataError("all weights are zero", column=o.weights)
    groups = np.array(sorted(s["groups"]), dtype=float)
    return DaskPrepared(
        frame=wide,
        years=years,
        group_cohort=groups,
        group_stack=np.zeros(len(groups), dtype=np.int64),
        n=s["n"],
        nobs=s["nobs"],
        w_mean=s["w"] / s["n"],
        k=k,
        balanced=s["incomplete"] == 0,
        exclusions=exclusions,
        messages=msgs,
    )


# -------------------------------------------------------------------------------------------------
# a partition's kept firms as arrays, sorted by group
# -------------------------------------------------------------------------------------------------
@dataclass
class _Local:
    y: np.ndarray
    x: np.ndarray | None
    w: np.ndarray
    group: np.ndarray
    starts: np.ndarray
    ids: np.ndarray


def _local(part: pd.DataFrame, groups: np.ndarray, T: int, k: int, w_mean: float) -> _Local:
    keep = part["__keep"].to_numpy() > 0
    g = np.searchsorted(groups, part["__g"].to_numpy()[keep])
    order = np.argsort(g, kind="stable")
    g = g[order]
    y = part[[f"__y{t}" for t in range(T)]].to_numpy(dtype=float)[keep][order]
    x = None
    if k:
        cols = [f"__x{t}_{j}" for t in range(T) for j in range(k)]
        x = part[cols].to_numpy(dtype=float)[keep][order].reshape(-1, T, k)
    w = part["__w"].to_numpy(dtype=float)[keep][order] / w_mean
    starts = np.searchsorted(g, np.arange(len(groups) + 1))
    ids = part.iloc[:, 0].to_numpy()[keep][order]
    return _Local(y=y, x=x, w=w, group=g, starts=starts, ids=ids)


class _Sealed:
    """Task arguments Dask passes through untouched (it would otherwise walk every list, tuple and
    dataclass inside them, once per partition and pass, looking for collections)."""

    def __init__(self, *items: Any) -> None:
        self.items = items

    def __dask_tokenize__(self) -> int:
        return id(self)


def _map_reduce(frame: Any, fn: Any, *args: Any) -> Any:
    """``frame.map_reduce(fn, *args)`` with the arguments sealed (see :class:`_Sealed`) in one task
    of the graph: serialised once per pass, not once per partition."""
    import dask

    return frame.map_reduce(_unseal, fn, dask.delayed(_Sealed(*args), traverse=False))


def _unseal(part: pd.DataFrame, fn: Any, sealed: _Sealed) -> Any:
    return fn(part, *sealed.items)


@dataclass
class _Boot:
    n_boot: int
    seed: int
    multiplier: str


def _fast_pass(part: pd.DataFrame, dp: _Spec, boot: _Boot | None) -> dict[str, Any]:
    loc = _local(part, dp.groups, dp.T, 0, dp.w_mean)
    feats = core.fast_features(loc.y, loc.w)
    G, q = len(dp.groups), feats.shape[1]
    S = np.zeros((G, q))
    for g in range(G):
        S[g] = feats[loc.starts[g] : loc.starts[g + 1]].sum(axis=0)
    basis = GroupBlockBasis(
        features=feats, starts=loc.starts, atom_cluster=None, n_clusters=len(loc.w)
    )
    out = {"S": S, "cnt": np.diff(loc.starts), "gram": basis.gram()}
    if boot is not None:
        out["proj"] = project_firm_draws(
            basis,
            firm_keys(loc.ids),
            boot.n_boot,
            boot.seed,
            boot.multiplier,  # type: ignore[arg-type]
        )
    return out


@dataclass
class _Spec:
    """The small facts every pass needs (sent to every task)."""

    groups: np.ndarray
    years: np.ndarray
    T: int
    k: int
    w_mean: float
    n: int


def _spec(dp: DaskPrepared) -> _Spec:
    return _Spec(dp.group_cohort, dp.years, len(dp.years), dp.k, dp.w_mean, dp.n)


def dask_fast(
    dp: DaskPrepared, cells: list[core.Cell], small_sample: bool, boot: _Boot | None
) -> tuple[np.ndarray, InfluenceFunction, np.ndarray, np.ndarray | None, np.ndarray]:
    """The fast path on partitions: estimates, influence functions (Gram only), counts, the basis
    draws (bootstrap) and the groups' weight sums."""
    spec = _spec(dp)
    r = _map_reduce(dp.frame, _fast_pass, spec, boot)
    att, coef, counts = core.fast_cells_from_sums(
        r["S"], r["cnt"], dp.years, cells, dp.n, small_sample=small_sample
    )
    q = r["S"].shape[1]
    basis = ReducedBasis(gram_matrix=r["gram"], n_clusters=dp.n, block_q=q)
    proj = r["proj"] / float(dp.n) if boot is not None else None
    return att, InfluenceFunction(coef=coef, basis=basis, n=dp.n), counts, proj, r["S"][:, spec.T]


# -------------------------------------------------------------------------------------------------
# general path: every cell's stages, one pass per round
# -------------------------------------------------------------------------------------------------
def _requests_pass(
    part: pd.DataFrame, spec: _Spec, cells: list[core.Cell], pending: list[tuple[int, Any]]
) -> list[Any]:
    """Answer ``(cell index, request)`` pairs on one partition."""
    loc = _local(part, spec.groups, spec.T, spec.k, spec.w_mean)
    tpos = {int(v): i for i, v in enumerate(spec.years)}
    return [req(core.cell_data(loc.y, loc.x, loc.w, loc.starts, cells[i], tpos)[1])
            for i, req in pending]  # fmt: skip


def _counts(a: staged.CellData) -> tuple[Any, ...]:
    return int(a.d.sum()), int((~a.d).sum())


def _final_pass(
    part: pd.DataFrame,
    spec: _Spec,
    cells: list[core.Cell],
    psi_fns: dict[int, Any],
    factors: dict[int, float],
    boot: _Boot | None,
) -> dict[str, Any]:
    """Influence values of the finished cells, reduced to ``Phi' Phi`` and ``xi Phi``."""
    loc = _local(part, spec.groups, spec.T, spec.k, spec.w_mean)
    tpos = {int(v): i for i, v in enumerate(spec.years)}
    K, G = len(cells), len(spec.groups)
    rows, cols, vals = [], [], []
    bad = np.zeros(K)
    for i, fn in psi_fns.items():
        idx, data = core.cell_data(loc.y, loc.x, loc.w, loc.starts, cells[i], tpos)
        psi = fn(data)
        bad[i] = (~np.isfinite(psi)).sum()
        psi[data.d] *= factors[i]
        rows.append(idx)
        cols.append(np.full(idx.size, i))
        vals.append(psi * spec.n)
    phi = core.unit_basis(rows, cols, vals, loc.w, loc.group, K, G)
    basis = SparseBasis(phi=phi)
    out = {"gram": basis.gram(), "bad": bad, "wsum": np.bincount(loc.group, loc.w, minlength=G)}
    if boot is not None:
        out["proj"] = project_firm_draws(
            basis,
            firm_keys(loc.ids),
            boot.n_boot,
            boot.seed,
            boot.multiplier,  # type: ignore[arg-type]
        )
    return out


def _drive(
    dp: DaskPrepared, spec: _Spec, cells: list[core.Cell], key: str, ok: list[int]
) -> tuple[dict[int, float], dict[int, Any], list[tuple[str, str]]]:
    """Run the stages of cells ``ok`` in lockstep: one map-reduce per round of requests."""
    k_x = 1 + spec.k
    gens = {i: staged.STAGES[key](k_x) for i in ok}
    pending = {i: next(g) for i, g in gens.items()}
    att: dict[int, float] = {}
    psi: dict[int, Any] = {}
    failed: list[tuple[str, str]] = []
    while pending:
        items = sorted(pending.items())
        sums = _map_reduce(dp.frame, _requests_pass, spec, cells, items)
        pending = {}
        for (i, _), s in zip(items, sums, strict=True):
            try:
                pending[i] = gens[i].send(s)
            except StopIteration as stop:
                att[i], psi[i] = stop.value
            except (np.linalg.LinAlgError, staged.CellFailure) as exc:
                failed.append((f"ATT({cells[i].g},{cells[i].t})", core.failure_reason(exc)))
    return att, psi, failed


def dask_general(
    dp: DaskPrepared, cells: list[core.Cell], est: str, small_sample: bool, boot: _Boot | None
) -> tuple[np.ndarray, InfluenceFunction, np.ndarray, np.ndarray | None, np.ndarray, list[str]]:
    """The general path on partitions (see module doc); as :func:`core.general_cells` plus the
    basis draws and the groups' weight sums."""
    spec = _spec(dp)
    K, G = len(cells), len(dp.group_cohort)
    key, _ = core.stage_key(est, np.empty((0, 0, dp.k)) if dp.k else None)
    counts = np.array(
        _map_reduce(dp.frame, _requests_pass, spec, cells, [(i, _counts) for i in range(K)]),
        dtype=np.int64,
    ).reshape(K, 2)
    empty = [f"ATT({c.g},{c.t})" for c, (nd, nc) in zip(cells, counts, strict=True)
             if nd == 0 or nc == 0]  # fmt: skip
    ok = [i for i in range(K) if counts[i, 0] > 0 and counts[i, 1] > 0]
    att_d, psi_fns, failed = _drive(dp, spec, cells, key, ok)
    for i in list(att_d):
        if not np.isfinite(att_d[i]):
            failed.append((f"ATT({cells[i].g},{cells[i].t})", core.NOT_FINITE))
            del att_d[i], psi_fns[i]
    factors = {
        i: core.small_sample_factor(int(counts[i, 0])) if small_sample else 1.0 for i in psi_fns
    }
    r = _map_reduce(dp.frame, _final_pass, spec, cells, psi_fns, factors, boot)
    bad = [i for i in psi_fns if r["bad"][i] > 0]
    if bad:
        for i in bad:
            failed.append((f"ATT({cells[i].g},{cells[i].t})", core.NOT_FINITE))
            del att_d[i], psi_fns[i]
        r = _map_reduce(dp.frame, _final_pass, spec, cells, psi_fns, factors, boot)
    att = np.full(K, np.nan)
    for i, a in att_d.items():
        att[i] = a
    basis = ReducedBasis(gram_matrix=r["gram"], n_clusters=dp.n)
    infl = InfluenceFunction(coef=core.sparse_coef(K, G), basis=basis, n=dp.n)
    proj = r["proj"] / float(dp.n) if boot is not None else None
    return att, infl, counts, proj, r["wsum"], core.cell_messages(empty, failed)


def dask_cells(
    dp: DaskPrepared, cells: list[core.Cell], est: str, small_sample: bool, boot: _Boot | None
) -> tuple[np.ndarray, InfluenceFunction, np.ndarray, np.ndarray | None, np.ndarray, list[str]]:
    """Every cell on partitions: the fast path without covariates on a balanced panel, else the
    staged estimators (the same choice as in memory)."""
    if dp.k == 0 and dp.balanced:
        att, infl, counts, proj, wsum = dask_fast(dp, cells, small_sample, boot)
        return att, infl, counts, proj, wsum, []
    return dask_general(dp, cells, est, small_sample, boot)


def check_dask_options(cluster: str | None, stack: str | None) -> None:
    """Options the Dask path does not support yet (a clear error rather than a different answer)."""
    if stack is not None:
        raise SpecError("stack= (stacked panels) is not supported with backend='dask'")
    if cluster is not None:
        raise SpecError(
            "cluster= other than the firm is not supported with backend='dask' yet (clusters may "
            "span partitions); standard errors are clustered by firm"
        )
