"""The imputation estimator over Dask firm partitions (#16): the statistics of the in-memory path,
summed over partitions.

Each firm lives in one partition, so a firm's effect, its ``tau``, its leave-out sums and its influence
sums ``U_i`` are partition-local; the year effects come from the absorber's small secondary system
summed over partitions (:class:`~clusterimpact.estimation.fe._dask_absorber.DaskAbsorber`, the one
absorber of the package). The passes:

1. *meta*: the in-memory row parsing (:func:`~clusterimpact.estimation.imputation._prepare_frame`,
   cohorts, weights, the aggregation axis) per partition; exclusion counts, the lead counts and the
   distinct (year, cohort, axis value) triples of the target firm-years whose firm has an untreated
   year, from which the client fixes the global term and averaging-group codes;
2. the absorber on the untreated firm-years (level pass, system, one right-hand side: the year
   effects ``delta``);
3. :func:`~clusterimpact.estimation._imputation_parts.term_sums` per partition (step a), summed (b)
   and finalized on the client (c): the estimates and the year part ``D`` of the untreated weights;
4. the pre-trend regression (leads on untreated firm-years, singletons dropped as in memory): the
   absorber again, then the moments ``D~'D~``, ``D~'y~`` of the lead dummies;
5. *scores*: per partition the firms' BJS influence sums ``U_i``
   (:func:`~clusterimpact.estimation._imputation_parts.firm_scores`, step d) and lead scores ``S_i``;
   only their cross product ``[S U]'[S U]`` leaves the partition: the BJS covariance, the lead
   cluster covariance and the joint covariance ``honest_did`` reads.

Per-firm-year effects (``tau``) and per-firm scores (``influence``) stay on the workers: the result
has an empty ``tau`` frame and ``influence=None``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pandas as pd

from clusterimpact._validation import require_columns
from clusterimpact.dask import FirmPartitions, as_partitions, compute_context, hold
from clusterimpact.errors import EstimationError
from clusterimpact.estimation import inference as inf
from clusterimpact.estimation._imputation_parts import (
    Block,
    Terms,
    add_sums,
    code_rows,
    cross_product,
    finalize_terms,
    firm_effects,
    firm_scores,
    single_group_note,
    taus,
    term_sums,
)
from clusterimpact.estimation._imputation_scores import (
    joint_cov,
    lead_dummies,
    lead_moments,
    lead_scale,
    lead_scores,
)
from clusterimpact.estimation.event_study import cohort_array
from clusterimpact.estimation.fe._dask_absorber import DaskAbsorber, demean
from clusterimpact.estimation.fe._demean import factorize
from clusterimpact.estimation.fe._indicators import _check_identified
from clusterimpact.estimation.fe.result import FixedEffectsResult
from clusterimpact.estimation.imputation import (
    _axis,
    _Fit,
    _fmt,
    _ok_rows,
    _Options,
    _prepare_frame,
    _require_treated,
    _weights_target,
)
from clusterimpact.provenance import make_provenance
from clusterimpact.results import PreTrendTest

__all__ = ["fit_dask"]


@dataclass
class _Rows:
    """One partition parsed exactly as the in-memory path parses the whole frame."""

    ok: np.ndarray  # rows of the partition kept (finite outcome, firm and year)
    excl: dict[str, int]
    y: np.ndarray
    g: np.ndarray
    t: np.ndarray
    rel: np.ndarray
    untreated: np.ndarray
    treated: np.ndarray
    target: np.ndarray
    w: np.ndarray
    axis: np.ndarray
    unit: np.ndarray
    n_units: int
    x: np.ndarray | None = None  # duration: member_years (the bins' mean duration)


def _parse(part: pd.DataFrame, o: _Options) -> _Rows:
    df, excl = _prepare_frame(part, o.outcome, o.cohort, o.unit, o.time, o.extra)
    ok = _ok_rows(part, o.outcome, o.unit, o.time)
    g = cohort_array(df, o.cohort)
    t = pd.to_numeric(df[o.time], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    y = pd.to_numeric(df[o.outcome], errors="coerce").to_numpy(dtype=float)
    rel = t - g
    treated = np.isfinite(g) & (rel >= 0)
    x = None
    if o.duration is None:
        w, target = _weights_target(df, o.weights, treated, excl)
        axis = _axis(df, o.aggregation, o.by, o.horizons, g, t, rel)[0]
    else:  # duration_effects: member firm-years in the bins, the bin codes as the axis
        w, target, axis, x = o.duration.rows(df, excl, o)
    unit, n_units = factorize(df[o.unit]) if len(df) else (np.zeros(0, np.int64), 0)
    return _Rows(ok, excl, y, g, t, rel, ~treated, treated, target, w, axis, unit, n_units, x)


def _untreated_rows(part: pd.DataFrame, o: _Options) -> np.ndarray:
    """Partition rows of the untreated-outcome model (the absorber's sample)."""
    r = _parse(part, o)
    out = np.zeros(len(part), dtype=bool)
    out[np.flatnonzero(r.ok)[r.untreated]] = True
    return out


def _pretrend_rows(part: pd.DataFrame, o: _Options, drop_years: tuple[float, ...]) -> np.ndarray:
    """Rows of the in-memory pre-trend regression: untreated, singletons dropped (years in
    ``drop_years``, found by the client from summed counts; then the firms left with one row, a
    partition-local step). Used to count its sample; the estimates and scores are computed on all
    untreated rows, where a singleton row is fitted exactly and adds nothing."""
    r = _parse(part, o)
    keep = r.untreated & ~np.isin(r.t, np.asarray(drop_years, dtype=float))
    n = np.bincount(r.unit[keep], minlength=r.n_units)
    keep &= n[r.unit] >= 2
    out = np.zeros(len(part), dtype=bool)
    out[np.flatnonzero(r.ok)[keep]] = True
    return out


def _pretrend_counts(
    part: pd.DataFrame, o: _Options, drop: tuple[float, ...], es: tuple[int, ...]
) -> dict[str, Any]:
    """Rows, firms, rows by year and rows of each lead ``es`` in the pre-trend sample."""
    r = _parse(part, o)
    rows = _pretrend_rows(part, o, drop)[r.ok]
    return {
        "years": pd.Series(r.t[rows]).value_counts(sort=False),
        "n": np.array([rows.sum(), len(np.unique(r.unit[rows]))], dtype=np.int64),
        "n_e": np.array([int((r.rel[rows] == e).sum()) for e in es], dtype=np.int64),
    }


def _add_counts(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    years = a["years"].add(b["years"], fill_value=0)
    return {"years": years, "n": a["n"] + b["n"], "n_e": a["n_e"] + b["n_e"]}


# -- pass 1: what the client needs to code terms, groups and years ---------------------------------------
def _meta(part: pd.DataFrame, o: _Options, es: tuple[int, ...]) -> dict[str, Any]:
    r = _parse(part, o)
    has0 = np.bincount(r.unit[r.untreated], minlength=r.n_units) > 0
    tg = r.target & has0[r.unit]
    keys = pd.DataFrame({"t": r.t[tg], "g": r.g[tg], "a": r.axis[tg]}).drop_duplicates()
    return {
        "excl": pd.Series(r.excl, dtype=np.int64),
        "keys": keys,
        "leads": np.array([int((r.untreated & (r.rel == e)).sum()) for e in es], dtype=np.int64),
        "n": np.array(
            [r.treated.sum(), r.untreated.sum(), r.n_units, r.target.sum()], dtype=np.int64
        ),
        "pre": _pretrend_counts(part, o, (), es),
    }


def _add_meta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    keys = pd.concat([a["keys"], b["keys"]], ignore_index=True).drop_duplicates()
    return {
        "excl": a["excl"].add(b["excl"], fill_value=0).astype(np.int64),
        "keys": keys,
        "leads": a["leads"] + b["leads"],
        "n": a["n"] + b["n"],
        "pre": _add_counts(a["pre"], b["pre"]),
    }


@dataclass(frozen=True)
class _Coding:
    """Global codes fixed on the client: untreated years, the aggregation's axis values and the
    averaging groups of the overall term (cohort x event time) and of the aggregation (cohort x term)."""

    years: np.ndarray
    vals: np.ndarray
    groups0: np.ndarray
    groups1: np.ndarray
    aggregated: bool
    by_axis: bool = False  # duration: the overall term averages within cohort x bin


def _coding(keys: pd.DataFrame, years: np.ndarray, label: str, by_axis: bool) -> _Coding:
    ident = keys[keys["t"].isin(years)]
    t, g, a = (ident[c].to_numpy(dtype=float) for c in ("t", "g", "a"))
    groups0 = np.unique(g * 1000 + (a if by_axis else t - g))
    fin = np.isfinite(a)
    vals = np.unique(a[fin])
    codes = np.searchsorted(vals, a[fin])
    groups1 = np.unique(g[fin] * 1e6 + codes)
    return _Coding(years, vals, groups0, groups1, label != "simple" or by_axis, by_axis)


def _term_sets(
    r: _Rows, ident: np.ndarray, c: _Coding
) -> list[tuple[np.ndarray, int, np.ndarray, int]]:
    """``(term, K, group, G)`` row codes and sizes of the overall term and of the aggregation (as in
    memory)."""
    term0 = np.where(ident, 0, -1)
    gval0 = np.where(np.isfinite(r.rel), r.g * 1000 + (r.axis if c.by_axis else r.rel), np.nan)
    out = [(term0, 1, code_rows(gval0, c.groups0, ident), len(c.groups0))]
    if c.aggregated:
        okv = ident & np.isfinite(r.axis)
        term = code_rows(r.axis, c.vals, okv)
        gval = np.where(okv, r.g * 1e6 + term, np.nan)
        out.append((term, len(c.vals), code_rows(gval, c.groups1, okv), len(c.groups1)))
    return out


def _block(r: _Rows, c: _Coding, delta: np.ndarray) -> tuple[Block, dict[str, Any]]:
    t0 = code_rows(r.t, c.years, np.ones(len(r.t), dtype=bool))
    b = Block(r.y, r.unit, r.n_units, t0, len(c.years), r.untreated, r.target, r.w)
    alpha, has0 = firm_effects(b, delta)
    return b, taus(b, alpha, has0, delta)


# -- pass 3: term sums ----------------------------------------------------------------------------------
def _sums(part: pd.DataFrame, o: _Options, c: _Coding, model: _Model) -> dict[str, Any]:
    r = _parse(part, o)
    b, fit = _block(r, c, model.delta_y)
    tsets = _term_sets(r, fit["ident"], c)
    sets = [term_sums(b, fit["tau"], fit["ident"], term, K, grp, G) for term, K, grp, G in tsets]
    xsum: np.ndarray = np.zeros(len(c.vals))
    if r.x is not None:  # duration: sum of member_years per bin (the bins' mean duration)
        term = tsets[-1][0]
        xsum = np.bincount(term[term >= 0], weights=r.x[term >= 0], minlength=len(c.vals))
    return {
        "sets": sets,
        "xsum": xsum,
        "excl": np.array(
            [fit["no_untreated_year_for_firm"], fit["no_untreated_firm_in_year"]], dtype=np.int64
        ),
        "n_ident": int(fit["ident"].sum()),
        "leads": _model_moments(part, o, model),
    }


# -- the untreated-outcome model: y and the lead dummies on the untreated rows ------------------------------
@dataclass(frozen=True)
class _Model:
    """The absorber of the untreated rows and the year effects of ``y`` and the lead dummies ``D_e``
    (one solve), with the leads' coefficients once known."""

    spec: Any
    es: tuple[int, ...]
    delta: np.ndarray  # H x (1 + leads)
    beta: np.ndarray | None = None

    @property
    def delta_y(self) -> np.ndarray:
        """Year effects of the outcome."""
        return np.asarray(self.delta[:, 0])


def _model_columns(sub: pd.DataFrame, o: _Options, es: tuple[int, ...]) -> np.ndarray:
    """``[y, D_e...]`` on the untreated rows of a partition."""
    r = _parse(sub, o)
    if not es:
        return r.y[:, None]
    return np.column_stack([r.y, lead_dummies(r.rel, list(es))])


def _within(part: pd.DataFrame, o: _Options, model: _Model) -> np.ndarray:
    return demean(part, model.spec, partial(_model_columns, o=o, es=model.es), model.delta)


def _model_moments(part: pd.DataFrame, o: _Options, model: _Model) -> dict[str, np.ndarray]:
    if not model.es:
        return {}
    Z = _within(part, o, model)
    return lead_moments(Z[:, 1:], Z[:, 0])


def _scores(
    part: pd.DataFrame,
    o: _Options,
    c: _Coding,
    model: _Model,
    fins: list[Terms],
    leave_out: bool,
) -> dict[str, Any]:
    r = _parse(part, o)
    b, fit = _block(r, c, model.delta_y)
    blocks: list[np.ndarray] = []
    if model.beta is not None:
        Z = _within(part, o, model)
        units = r.unit[r.untreated]
        blocks.append(lead_scores(Z[:, 1:], Z[:, 0], model.beta, units, r.n_units))
    singles = []
    for (term, _, grp, _), fin in zip(_term_sets(r, fit["ident"], c), fins, strict=True):
        U, single = firm_scores(
            b, fit["tau"], fit["ident"], fit["resid"], term, grp, fin, leave_out
        )
        blocks.append(U)
        singles.append(single)
    return {"cross": cross_product(blocks), "single": singles}


# -- the pre-trend regression ---------------------------------------------------------------------------
def _pretrend_size(
    fp: Any, o: _Options, pre: dict[str, Any], es: tuple[int, ...], used: tuple[int, ...]
) -> dict[str, Any]:
    """Rows, firms, years and rows per lead of the in-memory pre-trend sample: untreated rows after
    the iterated singleton rule (firms with one row go partition by partition, a year left with one
    row needs the summed counts and another pass)."""
    drop: tuple[float, ...] = ()
    while True:
        ones = pre["years"].index[pre["years"].to_numpy() == 1]
        if not len(ones):
            break
        drop = tuple(sorted({*drop, *(float(v) for v in ones)}))
        pre = fp.map_reduce(_pretrend_counts, o, drop, es, combine=_add_counts)
    n, G = (int(v) for v in pre["n"])
    n_e = np.asarray([pre["n_e"][es.index(e)] for e in used], dtype=float)
    return {"n": n, "G": G, "T": int((pre["years"] > 0).sum()), "n_e": n_e}


def _leads(
    fp: Any,
    o: _Options,
    meta: dict[str, Any],
    es: tuple[int, ...],
    used: tuple[int, ...],
    mom: dict[str, np.ndarray],
) -> tuple[dict[str, Any], str | None]:
    """The pre-trend sample's sizes with the leads' ``bread`` (absent when the test is not available,
    with the in-memory note)."""
    if not used:
        msg = "no pre-joining firm-years: the pre-trend test is not available"
        return {}, msg if o.leads > 0 else None
    names = [f"rel_year::{e}" for e in used]
    size = _pretrend_size(fp, o, meta["pre"], es, used)
    ne = SimpleNamespace(n_e=size["n_e"], gram=0.5 * (mom["DD"] + mom["DD"].T))
    try:
        _check_identified(cast(Any, ne), names, (o.unit, o.time))
    except EstimationError as exc:
        return {}, f"pre-trend test not available: {exc}"
    return {**size, "bread": np.linalg.inv(ne.gram), "names": names}, None


def _pretrend_result(
    beta: np.ndarray, size: dict[str, Any], SS: np.ndarray, o: _Options
) -> tuple[PreTrendTest, pd.DataFrame, np.ndarray]:
    """The lead regression's CRV1 covariance (the in-memory small-sample factor: firm effects nested
    in the firm clusters count once, so ``df_k = leads + years``), its tidy frame and F test."""
    n, G, bread, names = size["n"], size["G"], size["bread"], size["names"]
    df_k = len(names) + size["T"]
    if n - df_k > 0:
        V = inf.sandwich("cluster", bread, SS, n=n, df_k=df_k, G=G)
    else:
        V = np.full_like(bread, np.nan)
    idx = pd.Index(names)
    reg = FixedEffectsResult(
        params=pd.Series(beta, index=idx, name="estimate"),
        std_errors=pd.Series(np.sqrt(np.diag(V)), index=idx, name="std_error"),
        nobs=n,
        method="bjs_pretrend",
        provenance=make_provenance("bjs_pretrend", None, None, engine="dask", cluster=[o.unit]),
        df_resid=float(G - 1),
        vcov=pd.DataFrame(V, index=idx, columns=idx),
        fixed_effects=(o.unit, o.time),
        vcov_type="cluster",
        cluster=o.unit,
        n_clusters=G,
        df_k=df_k,
    )
    test = inf.wald_test(beta, V, df_denom=reg.df_resid, terms=tuple(names))
    return PreTrendTest.from_wald(test), reg.tidy(), V


# -- the driver -----------------------------------------------------------------------------------------
def fit_dask(data: Any, o: _Options, leave_out: bool) -> _Fit:
    """:func:`~clusterimpact.estimation.imputation.imputation_did` on firm partitions."""
    fp = as_partitions(data, o.unit, o.time)
    meta_frame = fp.frame._meta
    cols = list(dict.fromkeys([o.outcome, o.cohort, o.unit, o.time, *o.extra]))
    require_columns(meta_frame, cols, what="imputation")
    used_cols = FirmPartitions(fp.frame[cols], fp.firm, fp.time, whole_firms=True)
    empty = np.zeros(0)
    _, label, prefix, x_label = _axis(
        meta_frame, o.aggregation, o.by, o.horizons, empty, empty, empty
    )
    es = tuple(range(-o.leads, 0))
    with compute_context():
        # the passes read only these columns, held on the workers (read or shuffled once)
        fp = hold(used_cols)
        meta = fp.map_reduce(_meta, o, es, combine=_add_meta)
        n_treated, n_untreated, n_units, n_target = (int(v) for v in meta["n"])
        if o.duration is not None:
            o.duration.require_target(n_target > 0)
        _require_treated(n_treated > 0, o.cohort)
        if n_untreated == 0:
            raise EstimationError("no untreated firm-years to fit the untreated-outcome model on")
        used = tuple(e for e, n in zip(es, meta["leads"], strict=True) if n > 0)
        # the year effects of y and of the lead dummies: one absorber, one solve
        ab = DaskAbsorber(fp, [o.time], rows=partial(_untreated_rows, o=o))
        model = _Model(ab.spec, used, ab.solve(partial(_model_columns, o=o, es=used)))
        years = np.asarray(ab.spec.levels[0], dtype=float)
        coding = _coding(meta["keys"], years, label, o.duration is not None)
        if o.duration is not None:
            o.duration.require_bins(coding.vals)
        sums = fp.map_reduce(_sums, o, coding, model, combine=add_sums)
        solve = ab.solver.solve if ab.spec.H else None
        fins = [finalize_terms(sm, solve) for sm in sums["sets"]]
        size, pre_note = _leads(fp, o, meta, es, used, sums["leads"])
        if "bread" in size:
            model = replace(model, beta=size["bread"] @ sums["leads"]["Dy"])
        sc = fp.map_reduce(_scores, o, coding, model, fins, leave_out, combine=add_sums)
    k = 0 if model.beta is None else len(used)
    C = sc["cross"]
    vals = coding.vals if coding.aggregated else np.zeros(0)
    names = [f"{prefix}{_fmt(v)}" for v in vals]
    terms = ["simple", *names]
    test = pre_tab = cov = None
    if model.beta is not None:
        bread, lead_names = size["bread"], size["names"]
        test, pre_tab, Vp = _pretrend_result(model.beta, size, C[:k, :k], o)
        scale = lead_scale(bread, C[:k, :k], np.diag(Vp))
        cov = joint_cov(C[:k, :k], C[:k, k:], C[k:, k:], bread, scale, lead_names + terms)
    notes: list[str] = []
    for single in sc["single"]:
        note = single_group_note(single)
        if note and note not in notes:
            notes.append(note)
    if pre_note:
        notes.append(pre_note)
    excl = {str(key): int(v) for key, v in meta["excl"].items() if v}
    for key, v in zip(_UNIDENTIFIED, sums["excl"], strict=True):
        if v:
            excl[key] = int(v)
    xs = vals if o.duration is None else sums["xsum"] / fins[-1].counts
    return _Fit(
        terms=terms,
        xs={nm: float(v) for nm, v in zip(names, xs, strict=True)},
        params=[float(v) for f in fins for v in f.est],
        counts=[c for f in fins for c in f.counts],
        V=C[k:, k:],
        pretrend=test,
        pre_tab=pre_tab,
        notes=notes,
        excl=excl,
        n_units=n_units,
        n_ident=int(sums["n_ident"]),
        n_untreated=n_untreated,
        label=label,
        x_label=x_label,
        tau=pd.DataFrame({c: pd.Series(dtype=float) for c in _TAU_COLUMNS}),
        influence=None,
        influence_cov=cov,
    )


_TAU_COLUMNS = ("unit", "time", "cohort", "rel_time", "tau")
_UNIDENTIFIED = ("no_untreated_year_for_firm", "no_untreated_firm_in_year")
