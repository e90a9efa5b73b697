"""Data preparation of the Callaway-Sant'Anna estimator: the panel in wide form, units sorted by
adoption group, with the exclusions counted and the messages collected (:func:`prepare`)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clusterimpact.errors import DataError, EstimationError, EstimationWarning, PanelError

__all__ = ["Prepared", "note", "prepare"]


@dataclass
class Prepared:
    """A validated panel in wide form, units sorted by adoption group."""

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
    """Record ``msg`` for the result's ``warnings`` and issue it as an ``EstimationWarning``."""
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
    """Validate a long panel and put it in wide form (see module docstring)."""
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
    exclusions: dict[str, int] = {}
    msgs: list[str] = []

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
        stack_codes, stack_uniques = pd.factorize(d[stack], sort=True)
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

    # cohort constant within unit (last write wins, then compare every row with its unit's value)
    unit_g = np.empty(n_all)
    unit_g[kcode] = g_val
    differs = unit_g[kcode] != g_val
    if differs.any():
        changing = np.unique(kcode[differs])
        ids = [str(kuniq[i]) for i in changing[:10]]
        raise PanelError(
            f"the cohort ('{cohort}') changes over time for {changing.size} unit(s): "
            f"{', '.join(ids)}; the cohort must be the unit's first treatment year in every row",
            column=cohort,
            rows=list(d.index[np.isin(kcode, changing)]),
        )

    def _unit_const(col: str, label: str) -> np.ndarray:
        codes, uniq = pd.factorize(d[col], sort=True)
        per_unit = np.empty(n_all, dtype=np.int64)
        per_unit[kcode] = codes
        bad_rows = (per_unit[kcode] != codes) | (codes < 0)
        if bad_rows.any():
            badu = np.unique(kcode[bad_rows])
            raise DataError(
                f"{label} must be constant (and present) within each unit; "
                f"{badu.size} unit(s) differ, e.g. {kuniq[badu[0]]}",
                column=col,
                rows=list(d.index[np.isin(kcode, badu)][:50]),
            )
        return per_unit

    unit_stack = np.zeros(n_all, dtype=np.int64)
    if stack is not None:
        unit_stack = np.zeros(n_all, dtype=np.int64)
        unit_stack[kcode] = stack_codes
    if weights is not None:
        wv = d[weights].to_numpy(dtype=float)
        if (~np.isfinite(wv)).any() or (wv < 0).any():
            rows = list(d.index[~np.isfinite(wv) | (wv < 0)])
            raise DataError("weights must be finite and non-negative", column=weights, rows=rows)
        unit_w = np.empty(n_all)
        unit_w[kcode] = wv
        wdiff = ~np.isclose(unit_w[kcode], wv, rtol=1e-10, atol=0)
        if wdiff.any():
            badu = np.unique(kcode[wdiff])
            raise DataError(
                f"weights must be constant within each unit; {badu.size} unit(s) differ, "
                f"e.g. {kuniq[badu[0]]}",
                column=weights,
            )
    else:
        unit_w = np.ones(n_all)
    unit_cluster = _unit_const(cluster, "cluster") if cluster is not None else None

    # periods: consecutive integers
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
    t_first, t_last = int(years[0]), int(years[-1])

    # cohorts outside the panel
    cohorts = np.sort(pd.unique(unit_g[unit_g > 0]))
    frac = cohorts[cohorts != np.round(cohorts)]
    if frac.size:
        raise DataError(
            f"cohort values {', '.join(map(str, frac))} are not periods of '{time}'", column=cohort
        )
    late = cohorts[cohorts > t_last + anticipation]
    if late.size:
        n_late = int(np.isin(unit_g, late).sum())
        note(
            msgs,
            f"cohort(s) {', '.join(str(int(c)) for c in late)} first treated after the last period "
            f"{t_last}: their {n_late} unit(s) are untreated throughout the panel and are used as "
            "never-treated units",
        )
        unit_g = np.where(np.isin(unit_g, late), 0.0, unit_g)
    early = cohorts[cohorts <= t_first + anticipation]
    keep_unit = np.ones(n_all, dtype=bool)
    if early.size:
        drop = np.isin(unit_g, early)
        exclusions["treated in the first period (no pre-period)"] = int(drop.sum())
        note(
            msgs,
            f"cohort(s) {', '.join(str(int(c)) for c in early)} are treated in or before the first "
            f"period {t_first} (+ anticipation {anticipation}), so they have no pre-treatment "
            f"period: {int(drop.sum())} unit(s) dropped",
        )
        keep_unit &= ~drop

    # observed outcome (and covariates) per row
    yv = d[outcome].to_numpy(dtype=float)
    ok_row = np.isfinite(yv)
    n_miss_y = int((~ok_row).sum())
    xv = None
    if covariates:
        xv = d[list(covariates)].to_numpy(dtype=float)
        okx = np.isfinite(xv).all(axis=1)
        n_miss_x = int((ok_row & ~okx).sum())
        if n_miss_x:
            exclusions["missing covariate (rows)"] = n_miss_x
        ok_row &= okx
    if n_miss_y:
        exclusions["missing outcome (rows)"] = n_miss_y

    T = len(years)
    tidx = tt_i - t_first
    y = np.full((n_all, T), np.nan)
    y[kcode[ok_row], tidx[ok_row]] = yv[ok_row]
    x = None
    if xv is not None:
        x = np.full((n_all, T, len(covariates)), np.nan)
        x[kcode[ok_row], tidx[ok_row], :] = xv[ok_row]

    complete = np.isfinite(y).all(axis=1)
    if not allow_unbalanced:
        drop = keep_unit & ~complete
        if drop.any():
            exclusions["unbalanced panel (units)"] = int(drop.sum())
            note(
                msgs,
                f"{int(drop.sum())} unit(s) are not observed (with outcome and covariates) in every "
                f"period {t_first}-{t_last} and were dropped; pass allow_unbalanced=True to keep them",
            )
            keep_unit &= complete
    else:
        none = keep_unit & ~np.isfinite(y).any(axis=1)
        if none.any():
            exclusions["no usable rows (units)"] = int(none.sum())
            keep_unit &= ~none

    sel = np.flatnonzero(keep_unit)
    if sel.size == 0:
        raise EstimationError("no units left after validation")
    nobs = int(np.isfinite(y[sel]).sum())

    # groups = (stack, cohort), units sorted by group
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

    w = unit_w[sel]
    if w.sum() <= 0:
        raise DataError("all weights are zero", column=weights)
    w = w / w.mean()
    if unit_cluster is not None:
        ccode, cuniq = pd.factorize(unit_cluster[sel], sort=True)
        cl: np.ndarray | None = ccode.astype(np.int64)
        n_cl = len(cuniq)
    elif stack is not None:
        # stacked panel: a firm appears in several stacks; cluster on the firm by default
        firm = pd.Series(d[unit].to_numpy())
        firm_of_key = np.empty(n_all, dtype=object)
        firm_of_key[kcode] = firm.to_numpy()
        fcode, funiq = pd.factorize(pd.Series(firm_of_key[sel]).astype(str), sort=True)
        cl = np.asarray(fcode, dtype=np.int64)
        n_cl = len(funiq)
        if n_cl == len(sel):
            cl = None
    else:
        cl = None
        n_cl = len(sel)

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
        unit_labels=np.asarray(kuniq)[sel],
        nobs=nobs,
        exclusions=exclusions,
        messages=msgs,
    )
