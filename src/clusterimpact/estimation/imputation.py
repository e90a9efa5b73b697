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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from clusterimpact._validation import as_frame, check_choice, require_columns
from clusterimpact.errors import EstimationError, EstimationWarning, SpecError
from clusterimpact.estimation import inference as inf
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
        product is their joint covariance (see ``_imputation_scores``; used by ``honest_did``).

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


# -- the core (shared with duration_effects) ---------------------------------------------------------
@dataclass
class _Core:
    """Arrays of one imputation fit."""

    tau: np.ndarray  # effects of target obs (NaN where not identified)
    ident: np.ndarray  # target obs identified
    unit: np.ndarray  # unit codes (all obs)
    n_units: int
    untreated: np.ndarray  # mask of obs used in the untreated model
    absorber: Absorber
    t0_of_obs: np.ndarray  # time code within Omega_0 (-1 if the year has no untreated obs)
    u0_codes: np.ndarray  # unit codes within Omega_0 (of untreated obs)
    resid0: np.ndarray  # untreated residuals
    n0_units: int
    T0: int


def _fit_core(
    y: np.ndarray, unit: np.ndarray, time: np.ndarray, untreated: np.ndarray, target: np.ndarray
) -> tuple[_Core, dict[str, int]]:
    n_units = int(unit.max()) + 1
    u_all = unit[untreated]
    t_all = time[untreated]
    if untreated.sum() == 0:
        raise EstimationError("no untreated firm-years to fit the untreated-outcome model on")
    u0, n0_units = factorize(u_all)
    t0, T0 = factorize(t_all)
    # maps from global codes to Omega_0 codes
    umap = np.full(n_units, -1, dtype=np.int64)
    umap[u_all] = u0
    tmap = np.full(int(time.max()) + 1, -1, dtype=np.int64)
    tmap[t_all] = t0
    absorber = Absorber([u0, t0], primary=0, max_dense=10**9)
    y0 = y[untreated]
    alpha, delta = absorber.effects(y0)
    if delta is None:
        delta = np.zeros(0)
    resid0 = y0 - alpha[u0] - (delta[t0] if T0 and absorber.H else 0.0)
    ut = umap[unit]
    tt = tmap[time]
    excl: dict[str, int] = {}
    no_u = target & (ut < 0)
    no_t = target & (ut >= 0) & (tt < 0)
    if no_u.any():
        excl["no_untreated_year_for_firm"] = int(no_u.sum())
    if no_t.any():
        excl["no_untreated_firm_in_year"] = int(no_t.sum())
    ident = target & (ut >= 0) & (tt >= 0)
    tau = np.full(len(y), np.nan)
    ii = np.flatnonzero(ident)
    d = delta[tt[ii]] if absorber.H else 0.0
    tau[ii] = y[ii] - alpha[ut[ii]] - d
    core = _Core(
        tau=tau,
        ident=ident,
        unit=unit,
        n_units=n_units,
        untreated=untreated,
        absorber=absorber,
        t0_of_obs=tt,
        u0_codes=u0,
        resid0=resid0,
        n0_units=n0_units,
        T0=T0,
    )
    return core, excl


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
    """
    notes: list[str] = []
    sel = core.ident & (term >= 0)
    idx = np.flatnonzero(sel)
    k = term[idx]
    wi = w[idx]
    tau = core.tau[idx]
    wsum = np.bincount(k, weights=wi, minlength=n_terms)
    counts = np.bincount(k, minlength=n_terms)
    if np.any(wsum <= 0):
        raise EstimationError("an aggregation term has no identified treated firm-years")
    wn = wi / wsum[k]
    est = np.bincount(k, weights=wn * tau, minlength=n_terms)
    # tau~: weighted group means, optionally leaving the unit out
    gcode, G = factorize(group[idx])
    gw = np.bincount(gcode, weights=wn, minlength=G)
    gwt = np.bincount(gcode, weights=wn * tau, minlength=G)
    units = core.unit[idx]
    if leave_out:
        ug, UG = factorize(gcode.astype(np.int64) * core.n_units + units)
        ugw = np.bincount(ug, weights=wn, minlength=UG)
        ugwt = np.bincount(ug, weights=wn * tau, minlength=UG)
        den = gw[gcode] - ugw[ug]
        num = gwt[gcode] - ugwt[ug]
        single = den <= 1e-14 * np.maximum(gw[gcode], 1e-300)
        if single.any():
            n_groups = len(np.unique(gcode[single]))
            notes.append(
                f"{n_groups} averaging group(s) hold a single firm: their leave-out average falls "
                "back to the plain group mean (variance may be understated there)"
            )
        tau_tilde = np.where(single, gwt[gcode] / gw[gcode], num / np.where(single, 1.0, den))
    else:
        tau_tilde = gwt[gcode] / gw[gcode]
    eps1 = tau - tau_tilde
    # treated part of the unit-level influence sums
    U = np.zeros((core.n_units, n_terms))
    for j in range(n_terms):
        m = k == j
        U[:, j] += np.bincount(units[m], weights=wn[m] * eps1[m], minlength=core.n_units)
    # untreated part: v_0 = -(a^k_i + delta^k_t); only delta matters (residuals sum to 0 in firms)
    ab = core.absorber
    if ab.H:
        t0 = core.t0_of_obs[idx]
        S = np.zeros((core.T0, n_terms))
        np.add.at(S, (t0, k), wn)
        u0_of_obs = _unit0_map(core)[units]
        R = sp.csr_matrix((wn, (u0_of_obs, k)), shape=(core.n0_units, n_terms))
        rhs = S - ab.ct_times(sp.csr_matrix(R.multiply(ab.inv_group_weights[:, None])))
        D = ab.solve(np.asarray(rhs))  # T0 x n_terms
        E = sp.csr_matrix(
            (core.resid0, (core.u0_codes, ab.secondary[0])), shape=(core.n0_units, core.T0)
        )
        contrib = -(E @ D)  # n0_units x n_terms
        U0 = np.zeros((core.n_units, n_terms))
        U0[_unit0_inverse(core)] = contrib
        U += U0
    return est, U, counts, notes


def _unit0_map(core: _Core) -> np.ndarray:
    """Global unit code -> Omega_0 unit code (-1 if none)."""
    m = np.full(core.n_units, -1, dtype=np.int64)
    m[core.unit[core.untreated]] = core.u0_codes
    return m


def _unit0_inverse(core: _Core) -> np.ndarray:
    """Omega_0 unit code -> global unit code."""
    inv = np.empty(core.n0_units, dtype=np.int64)
    inv[core.u0_codes] = core.unit[core.untreated]
    return inv


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
    y = pd.to_numeric(df[outcome], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    ok = np.isfinite(y) & df[unit].notna().to_numpy() & df[time].notna().to_numpy()
    excl: dict[str, int] = {}
    if not ok.all():
        excl["missing_values"] = int((~ok).sum())
        df = df.loc[ok]
    return df, excl


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
        FirmPanel or DataFrame.
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
    extra = [c for c in (weights, by) if c]
    df, excl = _prepare_frame(data, outcome, cohort, unit, time, extra)
    g = cohort_array(df, cohort)
    t = pd.to_numeric(df[time], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    y = pd.to_numeric(df[outcome], errors="coerce").to_numpy(dtype=float)
    rel = t - g
    treated = np.isfinite(g) & (rel >= 0)
    untreated = ~treated
    if not treated.any():
        raise EstimationError(
            f"no treated firm-years: column '{cohort}' has no first-treatment year"
        )
    ucodes, _ = factorize(df[unit])
    tcodes, _ = factorize(t)
    w, target = _weights_target(df, weights, treated, excl)
    axis_vals, label, prefix, x_label = _axis(df, aggregation, by, horizons, g, t, rel)
    core, ex2 = _fit_core(y, ucodes, tcodes, untreated, target)
    excl.update(ex2)
    ident = core.ident
    result_terms, xs, params, cnts, U_all, notes = _estimates(
        core, g, rel, axis_vals, label, prefix, w, leave_out
    )
    Vall = U_all.T @ U_all
    idx = pd.Index(result_terms)
    test, pre_tab, pre_note = _pretrend(df, outcome, unit, time, rel, untreated, leads)
    if pre_note:
        notes.append(pre_note)
    influence = joint_scores(y, ucodes, tcodes, rel, untreated, U_all, result_terms, pre_tab)
    for n in notes:
        warnings.warn(n, EstimationWarning, stacklevel=2)
    tau_frame = pd.DataFrame(
        {
            "unit": df[unit].to_numpy()[ident],
            "time": t[ident],
            "cohort": g[ident],
            "rel_time": rel[ident],
            "tau": core.tau[ident],
        }
    )
    n_units = core.n_units
    return ImputationResult(
        params=pd.Series(params, index=idx, dtype=float),
        std_errors=pd.Series(np.sqrt(np.clip(np.diag(Vall), 0, None)), index=idx),
        nobs=int(ident.sum() + untreated.sum()),
        method="imputation",
        provenance=make_provenance(
            "imputation",
            None,
            None,
            outcome=outcome,
            cohort=cohort,
            aggregation=label,
            horizons=list(horizons) if horizons is not None else None,
            weights=weights,
            leads=leads,
            leave_out=leave_out,
        ),
        df_resid=None,
        vcov=pd.DataFrame(Vall, index=idx, columns=idx),
        warnings=tuple(notes),
        exclusions=excl,
        x=pd.Series(xs, dtype=float),
        x_label=x_label,
        reference=None,
        counts=pd.Series(cnts, index=idx),
        aggregation=label,
        pretrend=test,
        pretrend_estimates=pre_tab,
        n_units=n_units,
        n_treated_obs=int(ident.sum()),
        n_untreated_obs=int(untreated.sum()),
        leave_out=leave_out,
        cluster=unit,
        n_clusters=n_units,
        fixed_effects=(unit, time),
        tau=tau_frame,
        influence=influence,
    )


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
