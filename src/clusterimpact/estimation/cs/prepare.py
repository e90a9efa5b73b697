"""Data preparation of the Callaway-Sant'Anna estimator: the panel in wide form, units sorted by
adoption group, with the exclusions counted and the messages collected (:func:`prepare`)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.errors import DataError, EstimationError, EstimationWarning, PanelError

__all__ = ["Prepared", "note", "prepare"]


@dataclass
class Prepared:
    """A validated panel in wide form, units sorted by adoption group.

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.estimation.cs.prepare import prepare
    >>> prep = prepare(example_panel(), outcome="ln_lp", cohort="treat_year", unit="firm_id", time="year",
    ...                covariates=[], weights=None, cluster=None, stack=None, anticipation=0,
    ...                allow_unbalanced=True)
    >>> type(prep).__name__, len(prep.years)
    ('Prepared', 16)
    """

    years: np.ndarray  # (T,) consecutive integer periods
    y: np.ndarray  # (n, T) outcome, NaN where not observed
    w: np.ndarray  # (n,) sampling weights, mean 1
    x: np.ndarray | None  # (n, T, k) covariates (no intercept)
    covariates: list[str]
    group: np.ndarray  # (n,) group code, sorted ascending
    starts: np.ndarray  # (n_groups + 1,)
    group_cohort: np.ndarray  # (n_groups,) cohort of each group (0 = never treated)
    group_stack: np.ndarray  # (n_groups,) stack code of each group (0 without stacks)
    cluster: np.ndarray | None  # (n,) cluster code, None = unit level
    n_clusters: int
    unit_labels: np.ndarray  # (n,) unit ids (or "stack|unit")
    nobs: int
    exclusions: dict[str, int] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    @property
    def balanced(self) -> bool:
        return bool(np.isfinite(self.y).all())


def note(prep_msgs: list[str], msg: str) -> None:
    """Record ``msg`` for the result's ``warnings`` and issue it as an ``EstimationWarning``.

    Examples
    --------
    >>> import warnings
    >>> from clusterimpact.estimation.cs.prepare import note
    >>> messages = []
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     note(messages, "cohort 2023 has no post-treatment year")
    >>> messages, caught[0].category.__name__
    (['cohort 2023 has no post-treatment year'], 'EstimationWarning')
    """
    prep_msgs.append(msg)
    warnings.warn(msg, EstimationWarning, stacklevel=4)


def prepare(
    df: pd.DataFrame,
    *,
    outcome: str,
    cohort: str,
    unit: str,
    time: str,
    covariates: Sequence[str],
    weights: str | None,
    cluster: str | None,
    stack: str | None,
    anticipation: int,
    allow_unbalanced: bool,
) -> Prepared:
    """Validate a long panel and put it in wide form (see module docstring).

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.estimation.cs.prepare import prepare
    >>> prep = prepare(example_panel(), outcome="ln_lp", cohort="treat_year", unit="firm_id", time="year",
    ...                covariates=[], weights=None, cluster=None, stack=None, anticipation=0,
    ...                allow_unbalanced=True)
    >>> prep.y.shape  # firms x years, firms sorted by adoption group
    (300, 16)
    >>> prep.years[:3].tolist()
    [2008, 2009, 2010]
    """
    exclusions: dict[str, int] = {}
    msgs: list[str] = []
    lg = _long(df, outcome, cohort, unit, time, covariates, weights, cluster, stack)
    unit_g = _unit_cohorts(lg, cohort)
    unit_stack, unit_w, unit_cluster = _unit_settings(lg, weights, cluster, stack)
    years = _periods(lg.tt, time)
    unit_g, keep_unit = _cohorts_in_panel(
        unit_g, years, anticipation, cohort, time, msgs, exclusions
    )
    y, x = _wide(lg, years, outcome, covariates, exclusions)
    keep_unit = _balance(y, keep_unit, allow_unbalanced, years, msgs, exclusions)
    sel = np.flatnonzero(keep_unit)
    if sel.size == 0:
        raise EstimationError("no units left after validation")
    nobs = int(np.isfinite(y[sel]).sum())
    sel, gcode, group_stack, group_cohort, starts = _groups(sel, unit_g, unit_stack)
    w = unit_w[sel]
    if w.sum() <= 0:
        raise DataError("all weights are zero", column=weights)
    w = w / w.mean()
    cl, n_cl = _clusters(lg, sel, unit_cluster, unit, stack)
    return Prepared(
        years=years,
        y=y[sel],
        w=w,
        x=x[sel] if x is not None else None,
        covariates=list(covariates),
        group=gcode.astype(np.int64),
        starts=starts,
        group_cohort=group_cohort,
        group_stack=group_stack,
        cluster=cl,
        n_clusters=n_cl,
        unit_labels=np.asarray(lg.kuniq)[sel],
        nobs=nobs,
        exclusions=exclusions,
        messages=msgs,
    )


@dataclass
class _Long:
    """The validated long rows: the columns used, integer periods, unit codes (stack x unit when
    stacking) and the parsed cohort of every row."""

    d: pd.DataFrame
    tt: np.ndarray  # (rows,) integer periods
    kcode: np.ndarray  # (rows,) unit code
    kuniq: Any  # unit keys by code
    stack_codes: np.ndarray  # (rows,) stack code (0 without stacks)
    g_val: np.ndarray  # (rows,) cohort, 0 = never treated

    @property
    def n_all(self) -> int:
        return len(self.kuniq)


def _long(
    df: pd.DataFrame,
    outcome: str,
    cohort: str,
    unit: str,
    time: str,
    covariates: Sequence[str],
    weights: str | None,
    cluster: str | None,
    stack: str | None,
) -> _Long:
    """Columns present and numeric, integer periods, unit ids present, no duplicate unit-periods."""
    from clusterimpact._cohort import cohort_years
    from clusterimpact._validation import require_columns, require_numeric

    cols = [unit, time, cohort, outcome, *covariates]
    for extra in (weights, cluster, stack):
        if extra is not None and extra not in cols:
            cols.append(extra)
    require_columns(df, cols, what="staggered DiD")
    require_numeric(
        df, [time, outcome, *covariates] + ([weights] if weights else []), constant=[outcome]
    )
    d = df[cols].copy()

    # cohort: whole periods, missing or 0 = never treated (the package's one cohort parser)
    g_val = cohort_years(d[cohort], column=cohort)
    tt = pd.to_numeric(d[time], errors="coerce").to_numpy(dtype=float)
    if np.isnan(tt).any():
        raise DataError("missing time values", column=time, rows=list(d.index[np.isnan(tt)]))
    if (tt != np.round(tt)).any():
        raise DataError(
            "time periods must be integers", column=time, rows=list(d.index[tt != np.round(tt)])
        )
    tt_i = tt.astype(np.int64)

    # unit key (stack x unit when stacking)
    if stack is not None:
        key = d[stack].astype(str) + "|" + d[unit].astype(str)
        stack_codes, _ = pd.factorize(d[stack], sort=True)
        if (stack_codes < 0).any():
            raise DataError("missing stack ids", column=stack, rows=list(d.index[stack_codes < 0]))
    else:
        key = d[unit]
        stack_codes = np.zeros(len(d), dtype=np.int64)
    kcode, kuniq = pd.factorize(key, sort=True)
    if (kcode < 0).any():
        raise DataError("missing unit ids", column=unit, rows=list(d.index[kcode < 0]))
    n_all = len(kuniq)

    # duplicates
    span = int(tt_i.max() - tt_i.min() + 1)
    kt = kcode.astype(np.int64) * span + (tt_i - tt_i.min())
    if span * n_all <= 200_000_000:
        has_dup = bool(np.bincount(kt, minlength=1).max(initial=0) > 1)
    else:  # sparse periods (e.g. dates): hash instead of counting
        has_dup = bool(pd.Series(kt).duplicated().any())
    if has_dup:
        dup = pd.Series(kt).duplicated(keep=False).to_numpy()
        raise PanelError(
            f"duplicate {unit} x {time} rows; keep one row per unit and year",
            column=unit,
            rows=list(d.index[dup]),
        )
    return _Long(d=d, tt=tt_i, kcode=kcode, kuniq=kuniq, stack_codes=stack_codes, g_val=g_val)


def _unit_cohorts(lg: _Long, cohort: str) -> np.ndarray:
    """The cohort of every unit; it must be constant within unit (last write wins, then compare
    every row with its unit's value)."""
    kcode, g_val = lg.kcode, lg.g_val
    unit_g = np.empty(lg.n_all)
    unit_g[kcode] = g_val
    differs = unit_g[kcode] != g_val
    if differs.any():
        changing = np.unique(kcode[differs])
        ids = [str(lg.kuniq[i]) for i in changing[:10]]
        raise PanelError(
            f"the cohort ('{cohort}') changes over time for {changing.size} unit(s): "
            f"{', '.join(ids)}; the cohort must be the unit's first treatment year in every row",
            column=cohort,
            rows=list(lg.d.index[np.isin(kcode, changing)]),
        )
    return unit_g


def _unit_const(lg: _Long, col: str, label: str) -> np.ndarray:
    """Codes of ``col`` per unit; it must be present and constant within each unit."""
    kcode = lg.kcode
    codes, _ = pd.factorize(lg.d[col], sort=True)
    per_unit = np.empty(lg.n_all, dtype=np.int64)
    per_unit[kcode] = codes
    bad_rows = (per_unit[kcode] != codes) | (codes < 0)
    if bad_rows.any():
        badu = np.unique(kcode[bad_rows])
        raise DataError(
            f"{label} must be constant (and present) within each unit; "
            f"{badu.size} unit(s) differ, e.g. {lg.kuniq[badu[0]]}",
            column=col,
            rows=list(lg.d.index[np.isin(kcode, badu)][:50]),
        )
    return per_unit


def _unit_settings(
    lg: _Long, weights: str | None, cluster: str | None, stack: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Stack, weight and cluster of every unit (each constant within unit)."""
    kcode = lg.kcode
    unit_stack = np.zeros(lg.n_all, dtype=np.int64)
    if stack is not None:
        unit_stack[kcode] = lg.stack_codes
    if weights is not None:
        wv = lg.d[weights].to_numpy(dtype=float)
        if (~np.isfinite(wv)).any() or (wv < 0).any():
            rows = list(lg.d.index[~np.isfinite(wv) | (wv < 0)])
            raise DataError("weights must be finite and non-negative", column=weights, rows=rows)
        unit_w = np.empty(lg.n_all)
        unit_w[kcode] = wv
        wdiff = ~np.isclose(unit_w[kcode], wv, rtol=1e-10, atol=0)
        if wdiff.any():
            badu = np.unique(kcode[wdiff])
            raise DataError(
                f"weights must be constant within each unit; {badu.size} unit(s) differ, "
                f"e.g. {lg.kuniq[badu[0]]}",
                column=weights,
            )
    else:
        unit_w = np.ones(lg.n_all)
    unit_cluster = _unit_const(lg, cluster, "cluster") if cluster is not None else None
    return unit_stack, unit_w, unit_cluster


def _periods(tt_i: np.ndarray, time: str) -> np.ndarray:
    """The periods: at least two, consecutive integers."""
    t_lo = int(tt_i.min())
    years = np.flatnonzero(np.bincount(tt_i - t_lo)) + t_lo
    if len(years) < 2:
        raise DataError(f"need at least two periods in '{time}', found {len(years)}", column=time)
    gaps = np.setdiff1d(np.arange(years[0], years[-1] + 1), years)
    if gaps.size:
        raise DataError(
            f"gap in the periods: no rows at all for {', '.join(map(str, gaps))}; "
            "re-label periods as consecutive integers or fill the missing years",
            column=time,
        )
    return years


def _cohorts_in_panel(
    unit_g: np.ndarray,
    years: np.ndarray,
    anticipation: int,
    cohort: str,
    time: str,
    msgs: list[str],
    exclusions: dict[str, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Cohorts after the last period become never-treated; cohorts with no pre-treatment period
    are dropped (both said in ``msgs``). Returns the cohorts and the units kept."""
    cohorts, counts = np.unique(unit_g[unit_g > 0], return_counts=True)
    late, early = cohort_rules(cohorts, counts, years, anticipation, cohort, time, msgs, exclusions)
    if late.size:
        unit_g = np.where(np.isin(unit_g, late), 0.0, unit_g)
    keep_unit = np.ones(len(unit_g), dtype=bool)
    if early.size:
        keep_unit &= ~np.isin(unit_g, early)
    return unit_g, keep_unit


def cohort_rules(
    cohorts: np.ndarray,
    counts: np.ndarray,
    years: np.ndarray,
    anticipation: int,
    cohort: str,
    time: str,
    msgs: list[str],
    exclusions: dict[str, int],
) -> tuple[np.ndarray, np.ndarray]:
    """The cohorts first treated after the last period (``late``: untreated throughout, used as
    never-treated) and those with no pre-treatment period (``early``: dropped), from the distinct
    cohorts and their unit counts; both said in ``msgs``. Returns ``(late, early)``."""
    t_first, t_last = int(years[0]), int(years[-1])
    frac = cohorts[cohorts != np.round(cohorts)]
    if frac.size:
        raise DataError(
            f"cohort values {', '.join(map(str, frac))} are not periods of '{time}'", column=cohort
        )
    late = cohorts[cohorts > t_last + anticipation]
    if late.size:
        n_late = int(counts[cohorts > t_last + anticipation].sum())
        note(
            msgs,
            f"cohort(s) {', '.join(str(int(c)) for c in late)} first treated after the last period "
            f"{t_last}: their {n_late} unit(s) are untreated throughout the panel and are used as "
            "never-treated units",
        )
    early = cohorts[cohorts <= t_first + anticipation]
    if early.size:
        n_drop = int(counts[cohorts <= t_first + anticipation].sum())
        exclusions["treated in the first period (no pre-period)"] = n_drop
        note(
            msgs,
            f"cohort(s) {', '.join(str(int(c)) for c in early)} are treated in or before the first "
            f"period {t_first} (+ anticipation {anticipation}), so they have no pre-treatment "
            f"period: {n_drop} unit(s) dropped",
        )
    return late, early


def _wide(
    lg: _Long,
    years: np.ndarray,
    outcome: str,
    covariates: Sequence[str],
    exclusions: dict[str, int],
) -> tuple[np.ndarray, np.ndarray | None]:
    """Outcome (units x periods) and covariates (units x periods x k), NaN where not observed."""
    yv = lg.d[outcome].to_numpy(dtype=float)
    ok_row = np.isfinite(yv)
    n_miss_y = int((~ok_row).sum())
    xv = None
    if covariates:
        xv = lg.d[list(covariates)].to_numpy(dtype=float)
        okx = np.isfinite(xv).all(axis=1)
        n_miss_x = int((ok_row & ~okx).sum())
        if n_miss_x:
            exclusions["missing covariate (rows)"] = n_miss_x
        ok_row &= okx
    if n_miss_y:
        exclusions["missing outcome (rows)"] = n_miss_y

    T = len(years)
    tidx = lg.tt - int(years[0])
    kcode = lg.kcode
    y = np.full((lg.n_all, T), np.nan)
    y[kcode[ok_row], tidx[ok_row]] = yv[ok_row]
    x = None
    if xv is not None:
        x = np.full((lg.n_all, T, len(covariates)), np.nan)
        x[kcode[ok_row], tidx[ok_row], :] = xv[ok_row]
    return y, x


def _balance(
    y: np.ndarray,
    keep_unit: np.ndarray,
    allow_unbalanced: bool,
    years: np.ndarray,
    msgs: list[str],
    exclusions: dict[str, int],
) -> np.ndarray:
    """Units kept: observed in every period (unless ``allow_unbalanced``) or at least once."""
    keep_unit, n_drop, n_none = balance_mask(y, keep_unit, allow_unbalanced)
    balance_notes(n_drop, n_none, years, msgs, exclusions)
    return keep_unit


def balance_mask(
    y: np.ndarray, keep_unit: np.ndarray, allow_unbalanced: bool
) -> tuple[np.ndarray, int, int]:
    """Units kept by the balance rule, the number dropped as not observed in every period (without
    ``allow_unbalanced``) and the number dropped as never observed (with it)."""
    if not allow_unbalanced:
        drop = keep_unit & ~np.isfinite(y).all(axis=1)
        return keep_unit & ~drop, int(drop.sum()), 0
    none = keep_unit & ~np.isfinite(y).any(axis=1)
    return keep_unit & ~none, 0, int(none.sum())


def balance_notes(
    n_drop: int, n_none: int, years: np.ndarray, msgs: list[str], exclusions: dict[str, int]
) -> None:
    """Count (and say) the units :func:`balance_mask` dropped."""
    if n_drop:
        exclusions["unbalanced panel (units)"] = n_drop
        note(
            msgs,
            f"{n_drop} unit(s) are not observed (with outcome and covariates) in every "
            f"period {int(years[0])}-{int(years[-1])} and were dropped; pass "
            "allow_unbalanced=True to keep them",
        )
    if n_none:
        exclusions["no usable rows (units)"] = n_none


def _groups(
    sel: np.ndarray, unit_g: np.ndarray, unit_stack: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Groups = (stack, cohort); the kept units sorted by group, their group codes, each group's
    stack and cohort, and the groups' start offsets."""
    ug = unit_g[sel]
    us = unit_stack[sel]
    # cohorts are integer periods (checked above): one integer key per (stack, cohort)
    ug_i = ug.astype(np.int64)
    base = int(ug_i.max()) + 1
    pair_key = us.astype(np.int64) * base + ug_i
    gcode, guniq = pd.factorize(pair_key, sort=True)
    order = np.argsort(gcode, kind="stable")
    sel = sel[order]
    gcode = gcode[order]
    guniq = np.asarray(guniq, dtype=np.int64)
    group_stack = guniq // base
    group_cohort = (guniq % base).astype(float)
    starts = np.searchsorted(gcode, np.arange(len(guniq) + 1))
    return sel, gcode, group_stack, group_cohort, starts


def _clusters(
    lg: _Long, sel: np.ndarray, unit_cluster: np.ndarray | None, unit: str, stack: str | None
) -> tuple[np.ndarray | None, int]:
    """Cluster codes of the kept units (``None``: the unit) and the number of clusters."""
    if unit_cluster is not None:
        ccode, cuniq = pd.factorize(unit_cluster[sel], sort=True)
        return ccode.astype(np.int64), len(cuniq)
    if stack is not None:
        # stacked panel: a firm appears in several stacks; cluster on the firm by default
        firm = pd.Series(lg.d[unit].to_numpy())
        firm_of_key = np.empty(lg.n_all, dtype=object)
        firm_of_key[lg.kcode] = firm.to_numpy()
        fcode, funiq = pd.factorize(pd.Series(firm_of_key[sel]).astype(str), sort=True)
        n_cl = len(funiq)
        if n_cl == len(sel):
            return None, n_cl
        return np.asarray(fcode, dtype=np.int64), n_cl
    return None, len(sel)
