"""The imputation DiD estimator of Borusyak, Jaravel & Spiess (2024, Review of Economic Studies).

Three steps (their Theorem 1):

1. Fit the untreated-outcome model ``Y_it(0) = a_i + l_t + e_it`` by OLS on the untreated firm-years
   ``Omega_0`` (never-members, and members before joining).
2. Impute ``Y_it(0)`` for every treated firm-year in ``Omega_1`` and take ``tau_it = Y_it - a_i - l_t``.
3. Average: ``tau_w = sum_it w_it tau_it`` with weights of the target (overall ATT, by event time, by
   cohort, by calendar year, by years of membership, ...), each term's weights summing to one.

The estimator is linear in the outcomes, ``tau_w = sum_it v_it Y_it``, with ``v = w`` on treated
observations and ``v_0 = -Z_0 (Z_0'Z_0)^{-1} Z_1' w_1`` on untreated ones (``Z`` the firm and year dummies).
The variance estimator is BJS's conservative cluster (firm) formula (their Theorem 3),

    Var(tau_w) = sum_i ( sum_t v_it e~_it )^2,

with ``e~_it`` the untreated-model residual on ``Omega_0`` and ``tau_it - tau~_it`` on ``Omega_1``, where
``tau~_it`` averages the ``tau`` of the same *group* (cohort x term of the aggregation: cohort x event time
by default, as in their ``did_imputation`` code). By default (``leave_out=True``) ``tau~_it`` leaves firm
``i``'s own observations out of the group average, the refinement BJS recommend (Section 4.3; Stata's
``did_imputation, leaveout``) because the plain average is biased towards the observation's own effect
and makes the variance too small in small groups. Covariances between terms use the same formula, so a
whole profile has a full covariance matrix.

``v_0`` is never formed as an ``N``-vector: the year part of ``(Z_0'Z_0)^{-1} Z_1'w_1`` solves the small
``T x T`` system of the within-firm transform, and since untreated residuals sum to zero within each firm
the firm part drops out of ``sum_t v_it e~_it``.

The untreated model has firm and year effects only (no time-varying covariates); residualise the outcome
on covariates estimated among untreated firm-years beforehand if they are needed.

Pre-trend test (BJS Section 4.4, Test 1): on ``Omega_0`` only, regress the outcome on firm and year effects
and dummies for the ``leads`` periods before joining; an F test (firm-clustered) that the leads are zero.
It is separate from estimation, so it does not contaminate the effects.

Identifying assumptions: parallel trends of untreated outcomes (firm plus year effects) for all firms,
and no anticipation (untreated firm-years before joining are untreated). Effects may vary arbitrarily
across firms, cohorts and years. Treated firm-years are identified only when the firm has at least one
untreated year in the sample and the calendar year has untreated firms; the others are counted in
``exclusions`` (``no_untreated_year_for_firm``, ``no_untreated_firm_in_year``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from clusterimpact._validation import as_frame, check_choice, require_columns
from clusterimpact.dask import wants_dask
from clusterimpact.errors import EstimationError, EstimationWarning, SpecError
from clusterimpact.estimation import inference as inf
from clusterimpact.estimation._imputation_parts import (
    Block,
    finalize_terms,
    firm_effects,
    firm_scores,
    single_group_note,
    taus,
    term_sums,
)
from clusterimpact.estimation._imputation_scores import joint_scores
from clusterimpact.estimation.event_study import cohort_array
from clusterimpact.estimation.fe._demean import Absorber, factorize
from clusterimpact.estimation.fe._fast import _fit_fast
from clusterimpact.estimation.fe._indicators import _fit_indicators
from clusterimpact.estimation.fe.result import FixedEffectsResult
from clusterimpact.formula.design import _Formula
from clusterimpact.provenance import make_provenance
from clusterimpact.results import PreTrendTest, ProfileResult

__all__ = ["ImputationResult", "imputation_did"]

Aggregation = Literal["simple", "dynamic", "group", "calendar"]
AGGREGATIONS = ("simple", "dynamic", "group", "calendar")


@dataclass(frozen=True, kw_only=True)
class ImputationResult(ProfileResult):
    """Imputation (BJS 2024) estimates: ``simple`` (overall ATT) and the terms of one aggregation.

    Terms follow the DiD contract: ``simple``, ``dynamic:e``, ``group:g``, ``calendar:t``, or
    ``<column>::<value>`` for a custom ``by=`` column. ``vcov`` holds the full covariance.

    Attributes
    ----------
    aggregation
        ``"simple"``, ``"dynamic"``, ``"group"``, ``"calendar"`` or the ``by`` column.
    pretrend
        BJS pre-trend F test of the lead dummies on untreated observations (None if ``leads=0``).
    pretrend_estimates
        The lead coefficients (tidy frame), terms ``rel_year::-1`` ...
    n_units, n_treated_obs, n_untreated_obs
        Firms; identified treated firm-years averaged; untreated firm-years in the imputation model.
    leave_out
        Whether the leave-out variance refinement was used.
    cluster, n_clusters, fixed_effects, vcov_type
        Inference metadata for tables (firm-clustered BJS variance; ``r2``/``r2_within`` are NaN).
    tau
        The individual effects ``tau_it`` of the identified target firm-years (unit, time, cohort,
        rel_time, tau), for further aggregation.
    influence
        Per-firm influence scores of the leads (``rel_year::e``) and of every term, whose cross
        product is their joint covariance (see ``_imputation_scores``); None on the Dask back end,
        where per-firm rows are never collected.
    influence_cov
        Their joint covariance (leads and terms), summed over firms on either back end; what
        ``honest_did`` reads. None without leads.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel()
    >>> imp = ci.imputation_did(df, outcome="ln_lp")
    >>> type(imp).__name__, imp.pretrend_estimates["term"].iloc[0]
    ('ImputationResult', 'rel_year::-5')
    """

    aggregation: str = "dynamic"
    pretrend: PreTrendTest | None = None
    pretrend_estimates: pd.DataFrame | None = None
    n_units: int = 0
    n_treated_obs: int = 0
    n_untreated_obs: int = 0
    leave_out: bool = True
    cluster: str | None = None
    n_clusters: int | None = None
    fixed_effects: tuple[str, ...] = ()
    vcov_type: str = "bjs_cluster"
    r2: float = float("nan")
    r2_within: float = float("nan")
    tau: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    influence: pd.DataFrame | None = field(default=None, repr=False)
    influence_cov: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def overall_term(self) -> str | None:
        """``simple``, the overall ATT over every identified treated firm-year."""
        return "simple" if "simple" in self.params.index else None

    def _summary_header(self) -> list[str]:
        lines = [
            f"ImputationResult (Borusyak-Jaravel-Spiess, aggregation={self.aggregation})",
            f"Firms: {self.n_units:,}   treated firm-years: {self.n_treated_obs:,}   "
            f"untreated firm-years: {self.n_untreated_obs:,}",
        ]
        if self.pretrend is not None:
            p = self.pretrend
            lines.append(
                f"Pre-trend test (leads on untreated obs): F({p.df}, {p.df_denom:g}) = "
                f"{p.statistic:.3f}, p = {p.p_value:.4f}"
            )
        return lines

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        """JSON-ready form with the pre-trend test."""
        out = super().to_dict(level)
        out["pretrend"] = None if self.pretrend is None else self.pretrend.to_dict()
        out.update(aggregation=self.aggregation, n_units=self.n_units)
        return out


# -- the core (shared with duration_effects and the Dask path) -------------------------------------
@dataclass
class _Core:
    """Arrays of one imputation fit: the whole frame as one block of :mod:`._imputation_parts`."""

    block: Block  # the rows (firm codes over the whole frame; w set per aggregation)
    tau: np.ndarray  # effects of target obs (NaN where not identified)
    ident: np.ndarray  # target obs identified
    resid: np.ndarray  # untreated residuals (NaN on other obs)
    solve: (
        Callable[[np.ndarray], np.ndarray] | None
    )  # the year system's solve (None: no year effects)

    @property
    def n_units(self) -> int:
        """Firms in the sample."""
        return self.block.n_units


def _fit_core(
    y: np.ndarray, unit: np.ndarray, time: np.ndarray, untreated: np.ndarray, target: np.ndarray
) -> tuple[_Core, dict[str, int]]:
    n_units = int(unit.max()) + 1
    if untreated.sum() == 0:
        raise EstimationError("no untreated firm-years to fit the untreated-outcome model on")
    u0, _ = factorize(unit[untreated])
    t_all = time[untreated]
    t0, T0 = factorize(t_all)
    tmap = np.full(int(time.max()) + 1, -1, dtype=np.int64)
    tmap[t_all] = t0
    absorber = Absorber([u0, t0], primary=0, max_dense=10**9)
    # the year effects from the secondary system; the firm effects, taus and residuals per firm
    delta = np.zeros(0)
    if absorber.H:
        delta = absorber.solve(absorber.secondary_rhs(absorber.sweep_primary(y[untreated])))
    block = Block(y, unit, n_units, tmap[time], T0, untreated, target, np.ones(len(y)))
    alpha, has0 = firm_effects(block, delta)
    fit = taus(block, alpha, has0, delta)
    excl = {
        k: fit[k] for k in ("no_untreated_year_for_firm", "no_untreated_firm_in_year") if fit[k]
    }
    solve = absorber.solve if absorber.H else None
    return _Core(block, fit["tau"], fit["ident"], fit["resid"], solve), excl


def _aggregate(
    core: _Core,
    term: np.ndarray,
    n_terms: int,
    w: np.ndarray,
    group: np.ndarray,
    leave_out: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Estimates, unit-level influence sums ``U`` (Var = U'U) and counts of ``n_terms`` averages.

    ``term`` (per obs, -1 = none) and ``w`` (per obs, raw weights) define the targets; weights are
    normalised within terms. ``group`` (per obs) defines the tau~ averaging groups (must nest in terms).
    The steps (a)-(d) of :mod:`._imputation_parts` on the whole frame as one block.
    """
    sel = core.ident & (term >= 0)
    gcodes = np.full(len(term), -1, dtype=np.int64)
    gcodes[sel], G = factorize(group[sel])
    b = replace(core.block, w=w)
    sums = term_sums(b, core.tau, core.ident, term, n_terms, gcodes, G)
    fin = finalize_terms(sums, core.solve)
    U, single = firm_scores(b, core.tau, core.ident, core.resid, term, gcodes, fin, leave_out)
    note = single_group_note(single)
    return fin.est, U, fin.counts, [note] if note else []


def _pretrend(
    df: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    rel: np.ndarray,
    untreated: np.ndarray,
    leads: int,
) -> tuple[PreTrendTest | None, pd.DataFrame | None, str | None]:
    if leads <= 0:
        return None, None, None
    sub = df.loc[untreated]
    r = rel[untreated]
    extra = {}
    for e in range(-leads, 0):
        d = (r == e).astype(float)
        if d.sum() > 0:
            extra[f"rel_year::{e}"] = d
    if not extra:
        return None, None, "no pre-joining firm-years: the pre-trend test is not available"
    f = _Formula(f"{outcome} ~ 0 | {unit} + {time}", outcome, (), (unit, time), False, None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EstimationWarning)
            fit = _fit_indicators(f, sub, "cluster", [unit], extra, method="bjs_pretrend")
            reg: FixedEffectsResult = fit or _fit_fast(
                f,
                sub,
                "cluster",
                [unit],
                None,
                None,
                None,
                "min",
                True,
                method="bjs_pretrend",
                extra_X=extra,
            )
    except EstimationError as exc:
        return None, None, f"pre-trend test not available: {exc}"
    terms = list(extra)
    assert reg.vcov is not None
    test = inf.wald_test(
        reg.params.to_numpy(), reg.vcov.to_numpy(), df_denom=reg.df_resid, terms=tuple(terms)
    )
    return PreTrendTest.from_wald(test), reg.tidy(), None


def _prepare_frame(
    data: Any, outcome: str, cohort: str, unit: str, time: str, extra: Sequence[str]
) -> tuple[pd.DataFrame, dict[str, int]]:
    df = as_frame(data)
    require_columns(
        df, list(dict.fromkeys([outcome, cohort, unit, time, *extra])), what="imputation"
    )
    ok = _ok_rows(df, outcome, unit, time)
    excl: dict[str, int] = {}
    if not ok.all():
        excl["missing_values"] = int((~ok).sum())
        df = df.loc[ok]
    return df, excl


@dataclass(frozen=True)
class _Options:
    """The estimator's options (small: sent to every Dask task)."""

    outcome: str
    cohort: str
    unit: str
    time: str
    aggregation: str
    by: str | None
    horizons: tuple[int, ...] | None
    weights: str | None
    leads: int
    # duration_effects' bins (its ``_Bins``): membership-year targets and bin codes as the axis
    duration: Any = None

    @property
    def extra(self) -> list[str]:
        """Optional columns (the duration columns, weights, ``by``)."""
        dur = [] if self.duration is None else self.duration.columns
        return [*dur, *(c for c in (self.weights, self.by) if c)]


@dataclass
class _Fit:
    """The numbers of one fit, from either back end, that :func:`_result` packs."""

    terms: list[str]
    xs: dict[str, float]
    params: list[float]
    counts: list[Any]
    V: np.ndarray
    pretrend: PreTrendTest | None
    pre_tab: pd.DataFrame | None
    notes: list[str]
    excl: dict[str, int]
    n_units: int
    n_ident: int
    n_untreated: int
    label: str
    x_label: str
    tau: pd.DataFrame
    influence: pd.DataFrame | None
    influence_cov: pd.DataFrame | None


def _ok_rows(df: pd.DataFrame, outcome: str, unit: str, time: str) -> np.ndarray:
    """Rows with a finite outcome, a firm and a year (the others are counted as ``missing_values``)."""
    y = pd.to_numeric(df[outcome], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.isfinite(y) & df[unit].notna().to_numpy() & df[time].notna().to_numpy()


def imputation_did(
    data: Any,
    outcome: str = "ln_lp",
    *,
    cohort: str = "treat_year",
    unit: str = "firm_id",
    time: str = "year",
    aggregation: Aggregation = "dynamic",
    by: str | None = None,
    horizons: Sequence[int] | None = None,
    weights: str | None = None,
    leads: int = 5,
    leave_out: bool = True,
    backend: Literal["memory", "dask"] = "memory",
) -> ImputationResult:
    """Borusyak-Jaravel-Spiess (2024) imputation estimator with event-time aggregation and pre-trend test.

    Estimand: ``simple`` = the average treatment effect on the treated over all identified treated
    firm-years (``t >= G_i``); ``dynamic:e`` = the average at ``e`` years since joining; ``group:g`` = the
    average over cohort ``g``'s treated years; ``calendar:t`` = the average in year ``t``; with ``by=COL``
    the averages by that column's values among treated firm-years (e.g. ``member_years``). Identifying
    assumption: parallel trends in untreated outcomes (firm + year effects) and no anticipation; effects
    may be heterogeneous in any way. Standard errors: BJS Theorem 3, clustered by firm, with the leave-out
    refinement by default (see the module notes).

    Parameters
    ----------
    data
        FirmPanel or DataFrame, or :class:`~clusterimpact.dask.FirmPartitions` (then the Dask path).
    outcome
        Outcome column.
    cohort
        First treatment year (missing or 0 = never treated). Treatment is absorbing: every firm-year
        from ``cohort`` on is treated (exits are handled by ``duration_effects``).
    unit, time
        Firm and year columns.
    aggregation
        ``"simple"``, ``"dynamic"`` (event time), ``"group"`` (cohort), ``"calendar"`` (year).
    by
        Aggregate by this column's values instead (overrides ``aggregation``).
    horizons
        Event times to report for ``dynamic`` (default all observed ``e >= 0``).
    weights
        Column of aggregation weights (e.g. employment); equal weights when None.
    leads
        Number of pre-joining periods in the pre-trend test (0 = no test).
    leave_out
        Leave-out refinement of the variance estimator.
    backend
        ``"memory"`` (default) or ``"dask"``: map-reduce over firm partitions (each firm in one), the
        same statistics summed over partitions, the same numbers up to roundoff. On Dask, ``tau`` is
        empty and ``influence`` None (per-firm-year and per-firm rows stay on the workers);
        ``influence_cov`` carries what ``honest_did`` needs.

    Returns
    -------
    ImputationResult

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel()
    >>> imp = ci.imputation_did(df, outcome="ln_lp", cohort="treat_year")
    >>> imp.params.index[:2].tolist()
    ['simple', 'dynamic:0']
    """
    check_choice("aggregation", aggregation, AGGREGATIONS)
    hz = None if horizons is None else tuple(int(h) for h in horizons)
    o = _Options(outcome, cohort, unit, time, aggregation, by, hz, weights, leads)
    if wants_dask(data, backend):
        from clusterimpact.estimation._imputation_dask import fit_dask

        fit = fit_dask(data, o, leave_out)
    else:
        fit = _fit_memory(data, o, leave_out)
    for n in fit.notes:
        warnings.warn(n, EstimationWarning, stacklevel=2)
    return _result(fit, o, horizons, leave_out)


def _fit_memory(data: Any, o: _Options, leave_out: bool) -> _Fit:
    df, excl = _prepare_frame(data, o.outcome, o.cohort, o.unit, o.time, o.extra)
    g = cohort_array(df, o.cohort)
    t = pd.to_numeric(df[o.time], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    y = pd.to_numeric(df[o.outcome], errors="coerce").to_numpy(dtype=float)
    rel = t - g
    treated = np.isfinite(g) & (rel >= 0)
    untreated = ~treated
    _require_treated(bool(treated.any()), o.cohort)
    ucodes, _ = factorize(df[o.unit])
    tcodes, _ = factorize(t)
    w, target = _weights_target(df, o.weights, treated, excl)
    axis_vals, label, prefix, x_label = _axis(df, o.aggregation, o.by, o.horizons, g, t, rel)
    core, ex2 = _fit_core(y, ucodes, tcodes, untreated, target)
    excl.update(ex2)
    ident = core.ident
    result_terms, xs, params, cnts, U_all, notes = _estimates(
        core, g, rel, axis_vals, label, prefix, w, leave_out
    )
    test, pre_tab, pre_note = _pretrend(df, o.outcome, o.unit, o.time, rel, untreated, o.leads)
    if pre_note:
        notes.append(pre_note)
    influence = joint_scores(y, ucodes, tcodes, rel, untreated, U_all, result_terms, pre_tab)
    tau_frame = pd.DataFrame(
        {
            "unit": df[o.unit].to_numpy()[ident],
            "time": t[ident],
            "cohort": g[ident],
            "rel_time": rel[ident],
            "tau": core.tau[ident],
        }
    )
    return _Fit(
        terms=result_terms,
        xs=xs,
        params=params,
        counts=cnts,
        V=U_all.T @ U_all,
        pretrend=test,
        pre_tab=pre_tab,
        notes=notes,
        excl=excl,
        n_units=core.n_units,
        n_ident=int(ident.sum()),
        n_untreated=int(untreated.sum()),
        label=label,
        x_label=x_label,
        tau=tau_frame,
        influence=influence,
        influence_cov=None if influence is None else _cross(influence),
    )


def _require_treated(any_treated: bool, cohort: str) -> None:
    if not any_treated:
        raise EstimationError(
            f"no treated firm-years: column '{cohort}' has no first-treatment year"
        )


def _result(
    fit: _Fit, o: _Options, horizons: Sequence[int] | None, leave_out: bool
) -> ImputationResult:
    idx = pd.Index(fit.terms)
    return ImputationResult(
        params=pd.Series(fit.params, index=idx, dtype=float),
        std_errors=pd.Series(np.sqrt(np.clip(np.diag(fit.V), 0, None)), index=idx),
        nobs=fit.n_ident + fit.n_untreated,
        method="imputation",
        provenance=make_provenance(
            "imputation",
            None,
            None,
            outcome=o.outcome,
            cohort=o.cohort,
            aggregation=fit.label,
            horizons=list(horizons) if horizons is not None else None,
            weights=o.weights,
            leads=o.leads,
            leave_out=leave_out,
        ),
        df_resid=None,
        vcov=pd.DataFrame(fit.V, index=idx, columns=idx),
        warnings=tuple(fit.notes),
        exclusions=fit.excl,
        x=pd.Series(fit.xs, dtype=float),
        x_label=fit.x_label,
        reference=None,
        counts=pd.Series(fit.counts, index=idx),
        aggregation=fit.label,
        pretrend=fit.pretrend,
        pretrend_estimates=fit.pre_tab,
        n_units=fit.n_units,
        n_treated_obs=fit.n_ident,
        n_untreated_obs=fit.n_untreated,
        leave_out=leave_out,
        cluster=o.unit,
        n_clusters=fit.n_units,
        fixed_effects=(o.unit, o.time),
        tau=fit.tau,
        influence=fit.influence,
        influence_cov=fit.influence_cov,
    )


def _cross(scores: pd.DataFrame) -> pd.DataFrame:
    """``scores' scores`` (the joint covariance of per-firm influence scores)."""
    M = scores.to_numpy(dtype=float)
    return pd.DataFrame(M.T @ M, index=scores.columns, columns=scores.columns)


def _weights_target(
    df: pd.DataFrame, weights: str | None, treated: np.ndarray, excl: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The weights and the target firm-years (treated, with a valid weight; others counted)."""
    target = treated.copy()
    w = np.ones(len(df))
    if weights:
        w = pd.to_numeric(df[weights], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = treated & ~(np.isfinite(w) & (w >= 0))
        if bad.any():
            excl["bad_weight"] = int(bad.sum())
            target &= ~bad
    return w, target


def _axis(
    df: pd.DataFrame,
    aggregation: str,
    by: str | None,
    horizons: Sequence[int] | None,
    g: np.ndarray,
    t: np.ndarray,
    rel: np.ndarray,
) -> tuple[np.ndarray, str, str, str]:
    """The aggregation's axis value of every row, its label, term prefix and axis title."""
    if by is not None:
        axis_vals = pd.to_numeric(df[by], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return axis_vals, by, f"{by}::", by
    if aggregation == "dynamic":
        axis_vals = rel
        if horizons is not None:
            hz = np.asarray(sorted({int(h) for h in horizons}), dtype=float)
            if (hz < 0).any():
                raise SpecError("horizons must be >= 0 (use the pre-trend test for leads)")
            axis_vals = np.where(np.isin(rel, hz), rel, np.nan)
        return axis_vals, "dynamic", "dynamic:", "Years since joining"
    if aggregation == "group":
        return g, "group", "group:", "Cohort (first year of membership)"
    if aggregation == "calendar":
        return t, "calendar", "calendar:", "Calendar year"
    return np.zeros(len(df)), "simple", "", ""


def _estimates(
    core: _Core,
    g: np.ndarray,
    rel: np.ndarray,
    axis_vals: np.ndarray,
    label: str,
    prefix: str,
    w: np.ndarray,
    leave_out: bool,
) -> tuple[list[str], dict[str, float], list[float], list[Any], np.ndarray, list[str]]:
    """The overall ATT (``simple``) and the aggregation's terms: names, axis values, estimates,
    counts, the per-firm scores of all of them (columns) and notes."""
    ident = core.ident
    result_terms: list[str] = ["simple"]
    xs: dict[str, float] = {}
    # overall ATT
    term0 = np.where(ident, 0, -1)
    group0 = np.where(np.isfinite(rel), g * 1000 + rel, -1)
    est0, U0, cnt0, notes = _aggregate(core, term0, 1, w, group0, leave_out)
    params = [est0[0]]
    U_all = U0
    cnts = [cnt0[0]]
    if label != "simple":
        okv = ident & np.isfinite(axis_vals)
        vals = np.unique(axis_vals[okv])
        codes = np.full(len(g), -1, dtype=np.int64)
        codes[okv] = np.searchsorted(vals, axis_vals[okv])
        grp = np.where(okv, g * 1e6 + codes, -1)
        est, U1, cnt, notes2 = _aggregate(core, codes, len(vals), w, grp, leave_out)
        notes += [n for n in notes2 if n not in notes]
        names = [f"{prefix}{_fmt(v)}" for v in vals]
        result_terms += names
        xs = {nm: float(v) for nm, v in zip(names, vals, strict=True)}
        params += list(est)
        cnts += list(cnt)
        U_all = np.hstack([U0, U1])
    return result_terms, xs, params, cnts, U_all, notes


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"
