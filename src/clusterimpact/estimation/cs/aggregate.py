"""``aggte``: ATT(g,t) aggregated into an overall effect, an event study, cohort or calendar effects.

One function per aggregation type (``_simple``, ``_group``, ``_dynamic``, ``_calendar``) fills the
terms; :func:`_aggte` adds the influence functions of the estimated cohort-size weights, the optional
multiplier bootstrap and (``dynamic``) the pre-test of the leads.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact._renamed import renamed_kwargs
from clusterimpact._validation import check_choice, resolve_rng
from clusterimpact.errors import EstimationError, EstimationWarning, SpecError
from clusterimpact.estimation.cs import core
from clusterimpact.estimation.cs.options import (
    AGG_TYPES,
    N_BOOT_DEFAULT,
    RENAMED,
    AggregationType,
)
from clusterimpact.estimation.cs.pretest import dynamic_pretest
from clusterimpact.estimation.cs.result import AggteResult, ATTgtResult
from clusterimpact.estimation.influence import (
    InfluenceFunction,
    Multiplier,
    firm_seed,
    multiplier_bootstrap,
    project_firm_draws,
    single_thread_blas,
)

__all__ = ["aggte"]


def _weight_coef(res: ATTgtResult) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Basis coefficient rows of ``w_i 1{G_i = g}`` per cohort and of the constant 1."""
    infl = res.influence
    assert infl is not None and res.group_cohort is not None
    gc = res.group_cohort
    n_groups = len(gc)
    cols, _ = core.weight_columns(infl, n_groups, 0)
    const = core.const_coef(infl, n_groups)
    out: dict[int, np.ndarray] = {}
    for g in np.unique(gc):
        row = np.zeros(infl.basis.p)
        row[cols[gc == g]] = 1.0
        out[int(g)] = row
    return out, const


def _weighted(
    keep: np.ndarray,
    att: np.ndarray,
    pg: np.ndarray,
    cohorts: np.ndarray,
    wrows: dict[int, np.ndarray],
    const: np.ndarray,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Estimate ``sum_k pg_k att_k / sum pg`` over ``keep`` with the influence-function pieces:
    the weight vector on the cells and the extra basis coefficients from estimating ``pg``
    (Callaway & Sant'Anna 2021, appendix; R did's ``wif``)."""
    k = np.flatnonzero(keep)
    s = pg[k].sum()
    wts = pg[k] / s
    theta = float(wts @ att[k])
    # d theta / d pg_j = (att_j - theta) / s ; pg_j - pg ~ mean(w 1{G=g_j} - pg_j)
    extra = np.zeros_like(const)
    for j in k:
        extra += (att[j] - theta) / s * (wrows[int(cohorts[j])] - pg[j] * const)
    full = np.zeros(att.size)
    full[k] = wts
    return theta, full, extra


@dataclass
class _Cells:
    """The ATT(g,t) cells as an aggregation reads them (NaN cells are zero and not ``valid``)."""

    att: np.ndarray
    valid: np.ndarray
    g: np.ndarray
    t: np.ndarray
    pg: np.ndarray
    pg_map: pd.Series
    wrows: dict[int, np.ndarray]
    const: np.ndarray
    nt: np.ndarray
    post: np.ndarray

    @classmethod
    def of(cls, result: ATTgtResult, max_e: float) -> _Cells:
        att = result.params.to_numpy(dtype=float)
        valid = np.isfinite(att)  # NaN cells (failed estimation) are left out of every aggregation
        g = result.cohort.to_numpy()
        t = result.period.to_numpy()
        assert result.cohort_shares is not None
        pg_map = result.cohort_shares
        wrows, const = _weight_coef(result)
        return cls(
            att=np.where(valid, att, 0.0),
            valid=valid,
            g=g,
            t=t,
            pg=np.array([pg_map.loc[int(v)] for v in g], dtype=float),
            pg_map=pg_map,
            wrows=wrows,
            const=const,
            nt=result.n_treated.to_numpy(dtype=float),
            post=(g <= t) & (t <= g + max_e),
        )

    def weighted(self, sel: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        return _weighted(sel, self.att, self.pg, self.g, self.wrows, self.const)


@dataclass
class _Terms:
    """The terms of one aggregation as they are built: the overall term, then the elements."""

    names: list[str] = field(default_factory=list)
    thetas: list[float] = field(default_factory=list)
    mats: list[np.ndarray] = field(default_factory=list)
    extras: list[np.ndarray] = field(default_factory=list)
    xs: list[float] = field(default_factory=list)
    counts: list[float] = field(default_factory=list)
    x_label: str = ""
    reference: float | None = None

    def add(
        self, name: str, theta: float, wvec: np.ndarray, extra: np.ndarray, x: float | None
    ) -> None:
        self.names.append(name)
        self.thetas.append(theta)
        self.mats.append(wvec)
        self.extras.append(extra)
        if x is not None:
            self.xs.append(x)


def _simple(c: _Cells, out: _Terms) -> None:
    if not (c.post & c.valid).any():
        raise EstimationError("no post-treatment ATT(g,t) cells to aggregate")
    th, wv, ex = c.weighted(c.post & c.valid)
    out.add("simple", th, wv, ex, None)


def _group(c: _Cells, out: _Terms) -> None:
    out.x_label = "Cohort (first year treated)"
    gelems: list[tuple[int, float, np.ndarray]] = []
    for gg in np.unique(c.g):
        sel = c.post & (c.g == gg) & c.valid
        if not sel.any():
            continue
        wv = sel / sel.sum()
        gelems.append((int(gg), float(wv @ c.att), wv))
        out.counts.append(float(c.nt[sel].max()))
    if not gelems:
        raise EstimationError("no post-treatment ATT(g,t) cells to aggregate")
    pgg = np.array([c.pg_map.loc[e[0]] for e in gelems])
    th_g = np.array([e[1] for e in gelems])
    s = pgg.sum()
    overall = float(pgg @ th_g / s)
    wv = sum(pgg[i] / s * gelems[i][2] for i in range(len(gelems)))
    ex = np.zeros_like(c.const)
    for i, e in enumerate(gelems):
        ex += (th_g[i] - overall) / s * (c.wrows[e[0]] - pgg[i] * c.const)
    out.add("group", overall, np.asarray(wv), ex, None)
    zero = np.zeros_like(c.const)
    for e in gelems:
        out.add(f"group:{e[0]}", e[1], e[2], zero, float(e[0]))


def _dynamic(
    c: _Cells,
    out: _Terms,
    result: ATTgtResult,
    balance_e: int | None,
    min_e: float,
    max_e: float,
) -> np.ndarray:
    """Fill the event-study terms; returns the cells the aggregation would use."""
    out.x_label = "Periods since treatment"
    g, t = c.g, c.t
    e_cell = t - g
    include = np.ones(c.att.size, dtype=bool)
    if balance_e is not None:
        include = (t.max() - g) >= balance_e
        eseq = np.unique(e_cell[include])
        eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - t.max() + t.min())]
    else:
        eseq = np.unique(e_cell)
    eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
    wanted = include & np.isin(e_cell, eseq)
    eseq = np.unique(e_cell[wanted & c.valid])
    if eseq.size == 0:
        raise EstimationError("no event times left to aggregate (check balance_e/min_e/max_e)")
    elems: list[tuple[int, float, np.ndarray, np.ndarray]] = []
    for e in eseq:
        sel = (e_cell == e) & include & c.valid
        th, wv, ex = c.weighted(sel)
        elems.append((int(e), th, wv, ex))
        out.counts.append(float(c.nt[sel].sum()))
    postel = [el for el in elems if el[0] >= 0]
    if postel:
        m = len(postel)
        overall = float(np.mean([el[1] for el in postel]))
        w_all = np.sum([el[2] for el in postel], axis=0) / m
        ex_all = np.sum([el[3] for el in postel], axis=0) / m
        out.add("dynamic", overall, w_all, ex_all, None)
    for el in elems:
        out.add(f"dynamic:{el[0]}", el[1], el[2], el[3], float(el[0]))
    if result.base_period == "universal":
        out.reference = float(-1 - result.anticipation)
    return wanted


def _calendar(c: _Cells, out: _Terms) -> None:
    out.x_label = "Calendar period"
    celems: list[tuple[int, float, np.ndarray, np.ndarray]] = []
    for tt in np.unique(c.t[c.post & c.valid]):
        sel = c.post & (c.t == tt) & c.valid
        th, wv, ex = c.weighted(sel)
        celems.append((int(tt), th, wv, ex))
        out.counts.append(float(c.nt[sel].sum()))
    if not celems:
        raise EstimationError("no post-treatment ATT(g,t) cells to aggregate")
    m = len(celems)
    overall = float(np.mean([el[1] for el in celems]))
    out.add(
        "calendar",
        overall,
        np.sum([el[2] for el in celems], axis=0) / m,
        np.sum([el[3] for el in celems], axis=0) / m,
        None,
    )
    for el in celems:
        out.add(f"calendar:{el[0]}", el[1], el[2], el[3], float(el[0]))


@renamed_kwargs(**RENAMED)
def aggte(
    result: ATTgtResult,
    type: AggregationType = "group",
    *,
    balance_e: int | None = None,
    min_e: float = -np.inf,
    max_e: float = np.inf,
    n_boot: int | None = None,
    multiplier: Multiplier | None = None,
    seed: int | np.random.Generator | None = None,
    level: float | None = None,
) -> AggteResult:
    """Aggregate ATT(g,t) into overall, event-time, cohort or calendar-time effects (as R did's aggte).

    - ``simple``: ``sum pg * ATT(g,t)`` over post-treatment cells, weights proportional to cohort size.
    - ``dynamic``: ``theta(e)`` = cohort-size-weighted average of cells with ``t - g = e``; overall = mean
      of ``theta(e)`` over ``e >= 0``. ``balance_e`` keeps only cohorts observed at least ``balance_e``
      periods after treatment (and ``e <= balance_e``); ``min_e``/``max_e`` bound the event window.
    - ``group``: ``theta(g)`` = mean of cohort ``g``'s post cells (``t <= g + max_e``); overall =
      cohort-size-weighted mean of ``theta(g)``.
    - ``calendar``: ``theta(t)`` = cohort-size-weighted mean of post cells in period ``t``; overall =
      mean over periods.

    Standard errors include the influence function of the estimated cohort-size weights. With
    ``n_boot > 0`` the multiplier bootstrap (``n_boot`` draws) gives the standard errors and a uniform
    band over the elements at ``level``; ``n_boot=0`` is analytic; ``None`` (default) does as
    ``result`` did (the same draws when it was bootstrapped). ``multiplier``, ``seed`` and ``level``
    default to ``result``'s.

    ``dynamic`` also tests parallel trends on the event-study leads (``pretrend`` on the result): a
    joint Wald test that every ``theta(e)`` with ``e < -anticipation`` inside the window (``min_e``,
    ``max_e``, ``balance_e``; the universal base's reference period excluded) is zero, on the
    aggregated influence-function covariance, plus a bootstrap sup-t test when bootstrapping. Leads
    pool cohorts, so this test stays well behaved where the cell-level test of
    :attr:`ATTgtResult.pretrend` (many cells on small cohorts) over-rejects.

    Returns
    -------
    AggteResult
        Terms: the overall term (``simple``/``dynamic``/``group``/``calendar``) then the elements
        (``dynamic:-3``, ``group:2004``, ``calendar:2005``).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel()
    >>> cs = ci.att_gt(df, outcome="ln_lp", cohort="treat_year", control="notyet", allow_unbalanced=True)
    >>> dynamic = ci.aggte(cs, "dynamic", min_e=-3, max_e=3)  # by event time
    >>> dynamic.params.index.tolist()[:3]
    ['dynamic', 'dynamic:-3', 'dynamic:-2']
    >>> by_cohort = ci.aggte(cs, "group")
    >>> by_cohort.params.index[0]
    'group'
    """
    with single_thread_blas():
        return _aggte(result, type, balance_e, min_e, max_e, n_boot, multiplier, seed, level)


def _aggte(
    result: ATTgtResult,
    type: str,
    balance_e: int | None,
    min_e: float,
    max_e: float,
    n_boot: int | None,
    multiplier: Any,
    seed: int | np.random.Generator | None,
    level: float | None,
) -> AggteResult:
    check_choice("type", type, AGG_TYPES)
    if result.influence is None or result.cohort_shares is None:
        raise SpecError("aggte needs an ATTgtResult with influence functions (from att_gt)")
    boot = result.se_type == "bootstrap" if n_boot is None else n_boot > 0
    n_boot = n_boot if n_boot else (result.n_boot or N_BOOT_DEFAULT)
    multiplier = multiplier if multiplier is not None else result.multiplier
    level = level if level is not None else result.level
    if seed is None:
        seed = result.seed

    c = _Cells.of(result, max_e)
    out = _Terms()
    wanted = c.post  # cells this aggregation would use (to report the NaN ones left out)
    if type == "simple":
        _simple(c, out)
    elif type == "group":
        _group(c, out)
    elif type == "dynamic":
        wanted = _dynamic(c, out, result, balance_e, min_e, max_e)
    else:
        _calendar(c, out)

    excluded = tuple(str(nm) for nm in result.params.index[wanted & ~c.valid])
    warns = result.warnings
    if excluded:
        msg = (
            f"aggte(type='{type}') leaves out {len(excluded)} ATT(g,t) cell(s) that are NaN (their "
            f"estimation failed; see the att_gt warnings): {', '.join(excluded)}"
        )
        warnings.warn(msg, EstimationWarning, stacklevel=4)
        warns = (*warns, msg)
    assert result.influence is not None
    agg_infl = result.influence.combine(np.vstack(out.mats), extra=np.vstack(out.extras))
    V_agg = agg_infl.vcov()
    se_an = np.sqrt(np.clip(np.diag(V_agg), 0.0, None))
    se, crit, projection = se_an, None, None
    if boot:
        se, crit, projection = _bootstrap(
            result, out.names, agg_infl, n_boot, multiplier, seed, 1 - level
        )
    pretest = None
    if type == "dynamic":
        pretest = _lead_pretest(result, out, V_agg, agg_infl, projection, se if boot else None)
    return _result(
        result,
        type,
        out,
        agg_infl,
        V_agg,
        se_an,
        se,
        crit,
        level,
        warns,
        boot,
        dict(balance_e=balance_e, min_e=min_e, max_e=max_e),
        pretest,
        excluded,
    )


def _bootstrap(
    result: ATTgtResult,
    names: list[str],
    agg_infl: InfluenceFunction,
    n_boot: int,
    multiplier: Any,
    seed: int | np.random.Generator | None,
    alpha: float,
) -> tuple[np.ndarray, float | None, np.ndarray]:
    """Bootstrap standard errors, the uniform band's critical value over the elements, and the
    draws (those of the ATT(g,t) bootstrap when the settings match: a joint bootstrap)."""
    band = np.array([":" in nm for nm in names])
    if not band.any():
        band = np.ones(len(names), dtype=bool)
    reuse = (
        result.boot_projection is not None
        and (seed is None or seed == result.seed)
        and n_boot == result.n_boot
        and multiplier == result.multiplier
    )
    if reuse:
        # the same multipliers as the ATT(g,t) bootstrap: a joint bootstrap, no second pass
        assert result.boot_projection is not None
        projection = result.boot_projection
    elif result.draws == "firm":
        from clusterimpact.estimation.cs.api import boot_keys

        keys = boot_keys(result.unit_ids, agg_infl.basis.n_clusters)
        projection = project_firm_draws(
            agg_infl.basis, keys, n_boot, firm_seed(seed), multiplier
        ) / float(agg_infl.n)
    else:
        projection = agg_infl.project_draws(n_boot, resolve_rng(seed), multiplier)
    br = multiplier_bootstrap(
        agg_infl, rng=resolve_rng(0), alpha=alpha, band=band, projection=projection
    )
    return br.std_errors, br.crit_value, projection


def _lead_pretest(
    result: ATTgtResult,
    out: _Terms,
    V_agg: np.ndarray,
    agg_infl: InfluenceFunction,
    projection: np.ndarray | None,
    boot_se: np.ndarray | None,
) -> dict[str, Any]:
    """The event-study pre-test on the leads ``e < -anticipation`` (not the universal reference)."""
    names, reference = out.names, out.reference
    e_of = {nm: int(nm.split(":", 1)[1]) for nm in names if ":" in nm}
    lead_names = [
        nm
        for nm, e in e_of.items()
        if e < -result.anticipation and (reference is None or e != reference)
    ]
    return dynamic_pretest(
        lead_names,
        names,
        np.asarray(out.thetas),
        V_agg,
        dict(zip([nm for nm in names if ":" in nm], out.counts, strict=True)),
        agg_infl,
        projection,
        boot_se,
    )


def _result(
    result: ATTgtResult,
    type: str,
    out: _Terms,
    agg_infl: InfluenceFunction,
    V_agg: np.ndarray,
    se_an: np.ndarray,
    se: np.ndarray,
    crit: float | None,
    level: float,
    warns: tuple[str, ...],
    boot: bool,
    window: dict[str, Any],
    pretest: dict[str, Any] | None,
    excluded: tuple[str, ...],
) -> AggteResult:
    idx = pd.Index(out.names, name="term")
    elem_names = [nm for nm in out.names if ":" in nm]
    x = pd.Series(out.xs, index=pd.Index(elem_names, name="term"), name="x", dtype=float)
    cnt = pd.Series(out.counts, index=x.index, dtype=float) if out.counts else None
    min_e, max_e = window["min_e"], window["max_e"]
    prov = replace(
        result.provenance,
        method=f"cs:{type}",
        options={
            **result.provenance.options,
            "aggregation": type,
            "balance_e": window["balance_e"],
            "min_e": None if not np.isfinite(min_e) else min_e,
            "max_e": None if not np.isfinite(max_e) else max_e,
            "aggte_bootstrap": boot,
        },
    )
    return AggteResult(
        params=pd.Series(out.thetas, index=idx, name="estimate"),
        std_errors=pd.Series(se, index=idx, name="std_error"),
        analytic_std_errors=pd.Series(se_an, index=idx, name="std_error"),
        se_type="bootstrap" if boot else "analytic",
        nobs=result.nobs,
        method="cs",
        provenance=prov,
        vcov=pd.DataFrame(V_agg, index=idx, columns=idx),
        crit_value=crit,
        band_level=level,
        warnings=warns,
        exclusions=dict(result.exclusions),
        x=x,
        x_label=out.x_label,
        reference=out.reference,
        counts=cnt,
        type=type,
        overall=type,
        influence=agg_infl,
        balance_e=window["balance_e"],
        min_e=min_e,
        max_e=max_e,
        pretrend_detail=pretest,
        excluded_cells=excluded,
    )
