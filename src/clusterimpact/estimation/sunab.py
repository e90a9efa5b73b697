"""Sun & Abraham (2021) interaction-weighted event-study estimator.

A TWFE regression saturated in cohort x relative-period indicators,

    y_it = a_i + l_t + sum_{g not in C} sum_{e != ref} delta_{g,e} 1{G_i = g} 1{t - g = e} + u_it,

estimates every cohort-specific average treatment effect on the treated ``CATT(g, e)`` against a clean
control cohort ``C`` (the never-treated units; or, with ``control="last"``, the last-treated cohort
together with any never-treated units, every unit's periods from the last cohort's treatment on being
dropped). The interaction-weighted estimator averages them over cohorts,
``nu_e = sum_g delta_{g,e} Pr(G = g | G in cohorts observed at e)``, with the cohorts' shares of the
observations at relative period ``e`` as weights (held fixed in the delta method, as fixest's
``sunab`` aggregation does). ``simple`` is the observation-weighted average of all ``e >= 0`` cells.
Standard errors: cluster-robust (by unit by default) from the regression, then the delta method.
The regression is solved from cell sums, never from a dense rows x cells design
(:mod:`clusterimpact.estimation._sunab_fit`). Written from the paper (Journal of Econometrics 225(2),
2021).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from clusterimpact._cohort import cohort_years, row_numbers
from clusterimpact._validation import as_frame, check_choice, require_columns, require_numeric
from clusterimpact.errors import DataError, EstimationError, SpecError
from clusterimpact.estimation import inference as inf
from clusterimpact.estimation._sunab_fit import CellFit, fit_cells
from clusterimpact.estimation.fe._demean import drop_singletons, factorize, interact_codes
from clusterimpact.provenance import make_provenance
from clusterimpact.results import PreTrendTest, ProfileResult

__all__ = ["SunAbrahamResult", "sun_abraham"]

SAControl = Literal["never", "last"]


@dataclass(frozen=True, kw_only=True)
class SunAbrahamResult(ProfileResult):
    """Interaction-weighted event study (terms ``simple`` and ``dynamic:e``).

    Attributes
    ----------
    catt
        Cohort x relative-period estimates: cohort, e, estimate, std_error, n (observations).
    control
        ``"never"`` or ``"last"`` (the last-treated cohort, and any never-treated units, as control).
    control_cohort
        The control cohort's value (0 for never-treated).
    pretrend
        Joint chi-squared Wald test that every estimated lead (``dynamic:e`` with ``e < 0``; the
        reference period is not estimated) is zero, on the leads' block of ``vcov``; ``None`` when no
        lead is estimated.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel()
    >>> sa = ci.sun_abraham(df, outcome="ln_lp", window=(-3, 3))
    >>> type(sa).__name__, list(sa.catt.columns[:3])
    ('SunAbrahamResult', ['cohort', 'e', 'estimate'])
    """

    catt: pd.DataFrame
    control: str = "never"
    control_cohort: float = 0.0
    pretrend: PreTrendTest | None = None

    @property
    def overall_term(self) -> str | None:
        """``simple``, the average of the post-treatment ``dynamic:e`` weighted by cohort shares."""
        return "simple" if "simple" in self.params.index else None

    def _summary_header(self) -> list[str]:
        lines = super()._summary_header()
        p = self.pretrend
        if p is not None and np.isfinite(p.statistic):
            lines.append(
                f"Pre-trend test (leads jointly 0): chi2({p.df}) = {p.statistic:.3f}, "
                f"p = {p.p_value:.4f}"
            )
        return lines

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        """JSON-ready form with the pre-trend test of the leads (``pretrend``)."""
        out = super().to_dict(level)
        out["pretrend"] = None if self.pretrend is None else self.pretrend.to_dict()
        return out


def _lead_test(
    est: np.ndarray, vc: np.ndarray, terms: list[str], xs: list[float]
) -> PreTrendTest | None:
    """Chi-squared Wald test that the leads (event times before 0) are jointly zero."""
    elem = [tm for tm in terms if tm.startswith("dynamic:")]
    leads = [tm for tm, x in zip(elem, xs, strict=True) if x < 0]
    if not leads:
        return None
    pos = np.array([terms.index(tm) for tm in leads])
    test = inf.wald_test(est[pos], vc[np.ix_(pos, pos)], terms=tuple(leads))
    return PreTrendTest.from_wald(test)


def sun_abraham(
    data: Any,
    outcome: str,
    cohort: str = "treat_year",
    unit: str = "firm_id",
    time: str = "year",
    *,
    control: SAControl = "never",
    ref: int = -1,
    window: tuple[int, int] | None = None,
    weights: str | None = None,
    cluster: str | None = None,
    stack: str | None = None,
) -> SunAbrahamResult:
    """Sun & Abraham (2021) interaction-weighted event-study estimates.

    Estimand: ``nu_e``, the average over treated cohorts (weighted by their shares at relative period
    ``e``) of ``CATT(g, e) = E[Y_{g+e}(g) - Y_{g+e}(infinity) | G = g]``, relative to period ``ref``.
    Identifying assumptions: parallel trends between every treated cohort and the control cohort, and no
    anticipation; effects may differ arbitrarily across cohorts and periods.

    Parameters
    ----------
    data
        FirmPanel or long DataFrame.
    outcome
        Outcome column.
    cohort
        First treatment period (0 or missing = never treated).
    unit, time
        Unit and period columns.
    control
        ``"never"`` (never-treated units) or ``"last"``: the last-treated cohort *and the never-treated
        units* (both are untreated before the last cohort's treatment); every unit's periods from the
        last cohort's treatment on are dropped. To compare with
        the last-treated cohort alone, drop the never-treated units from ``data`` first.
    ref
        Omitted relative period (default -1).
    window
        Relative periods outside ``[lo, hi]`` are left out of the estimation sample (counted), else all.
    weights
        Regression weights (e.g. matching weights; numeric, non-negative).
    cluster
        Cluster column (default ``unit``).
    stack
        Stack id of a cohort-stacked panel: unit and period effects become stack-specific.

    Returns
    -------
    SunAbrahamResult

    Notes
    -----
    The saturated regression is solved from cell sums (:mod:`._sunab_fit`): memory and time grow with
    the number of rows, not with rows x cells. Rows with a missing outcome, weight, unit, period or
    cluster, zero-weight rows and singleton units or periods (iteratively) are left out of the
    regression and counted in ``exclusions``; the cohort shares that weight the aggregation count every
    row of the cell in the sample (before singleton removal), as before.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel()
    >>> sa = ci.sun_abraham(df, outcome="ln_lp", cohort="treat_year", window=(-3, 3))
    >>> sa.params.index.tolist()[:3]
    ['simple', 'dynamic:-3', 'dynamic:-2']
    """
    check_choice("control", control, ("never", "last"))
    if ref != -1 and not isinstance(ref, (int, np.integer)):
        raise SpecError(f"ref must be an integer, got {ref!r}")
    df0 = as_frame(data)
    cols = list(
        dict.fromkeys([unit, time, cohort, outcome] + [c for c in (weights, cluster, stack) if c])
    )
    require_columns(df0, cols, what="Sun-Abraham")
    require_numeric(df0, [time, outcome] + ([weights] if weights else []), constant=[outcome])
    s = _select(df0, outcome, cohort, time, control, window)
    cells = _Cells.build(s.g, s.rel, s.cohorts, ref)
    wv = (
        df0[weights].to_numpy(dtype=float, na_value=np.nan)[s.pos]
        if weights is not None
        else np.ones(len(s.pos))
    )
    fit, reg_excl = _regress(df0, s, cells, wv, unit, time, weights, cluster or unit, stack)
    est, vc, terms, xs, counts = _aggregate(cells, wv, fit.beta, fit.vcov)
    se = np.sqrt(np.clip(np.diag(vc), 0, None))
    idx = pd.Index(terms, name="term")
    elem = [tm for tm in terms if tm.startswith("dynamic:")]
    catt = pd.DataFrame(
        {
            "cohort": cells.cohort.astype(int),
            "e": cells.e.astype(int),
            "estimate": fit.beta,
            "std_error": np.sqrt(np.clip(np.diag(fit.vcov), 0, None)),
            "n": cells.n.astype(int),
        }
    )
    if not np.isfinite(est).all():
        raise DataError("non-finite Sun-Abraham estimates (check weights and the outcome)")
    prov = make_provenance(
        "sa",
        df0[[unit, time, cohort, outcome]],
        control=control,
        ref=ref,
        window=list(window) if window is not None else None,
        weights=weights,
        cluster=cluster or unit,
        stack=stack,
    )
    return SunAbrahamResult(
        params=pd.Series(est, index=idx, name="estimate"),
        std_errors=pd.Series(se, index=idx, name="std_error"),
        nobs=int(fit.nobs),
        method="sa",
        provenance=prov,
        df_resid=None,
        vcov=pd.DataFrame(vc, index=idx, columns=idx),
        warnings=fit.warnings,
        exclusions={**s.exclusions, **reg_excl},
        x=pd.Series(xs, index=pd.Index(elem, name="term"), dtype=float),
        x_label="Periods since treatment",
        reference=float(ref),
        counts=pd.Series(counts, index=pd.Index(elem, name="term"), dtype=float),
        catt=catt,
        control=control,
        control_cohort=s.ctrl_value,
        pretrend=_lead_test(est, vc, list(terms), list(xs)),
    )


@dataclass(frozen=True)
class _Sample:
    """Rows kept for estimation (positions ``pos`` in the input) with their cohort and event time."""

    pos: np.ndarray
    g: np.ndarray
    rel: np.ndarray
    y: np.ndarray
    cohorts: np.ndarray
    ctrl_value: float
    exclusions: dict[str, int]


def _select(
    df0: pd.DataFrame,
    outcome: str,
    cohort: str,
    time: str,
    control: SAControl,
    window: tuple[int, int] | None,
) -> _Sample:
    """Missing outcomes, the control rule and the event window: the rows that stay."""
    exclusions: dict[str, int] = {}
    g = cohort_years(df0[cohort], column=cohort)
    y = pd.to_numeric(df0[outcome], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    t = pd.to_numeric(df0[time], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    keep = ~np.isnan(y)
    if not keep.all():
        exclusions["missing outcome"] = int((~keep).sum())
    cohorts = np.unique(g[keep & (g > 0)])
    if cohorts.size == 0:
        raise EstimationError(f"no treated units: column '{cohort}' has no first-treatment period")
    if control == "never":
        if not (g[keep] == 0).any():
            raise EstimationError(
                "no never-treated units for control='never'; use control='last' (last-treated cohort)"
            )
        ctrl_value = 0.0
    else:
        ctrl_value = float(cohorts.max())
        late = keep & ~(t < ctrl_value)  # never-treated units stay: clean controls too (documented)
        if late.any():
            exclusions["periods from the last cohort's treatment on"] = int(late.sum())
        keep &= ~late
        cohorts = cohorts[cohorts < ctrl_value]
        if cohorts.size == 0:
            raise EstimationError(
                "only one treated cohort: nothing left to compare with the last one"
            )
    rel = t - g
    if window is not None:
        lo, hi = int(window[0]), int(window[1])
        out = keep & np.isin(g, cohorts) & ((rel < lo) | (rel > hi))
        if out.any():
            exclusions["outside the event window"] = int(out.sum())
        keep &= ~out
    pos = np.flatnonzero(keep)
    return _Sample(pos, g[pos], rel[pos], y[pos], cohorts, ctrl_value, exclusions)


@dataclass(frozen=True)
class _Cells:
    """Cohort x relative-period cells (sorted by cohort, then period; ``ref`` left out).

    ``rows`` are positions in the sample inside a cell and ``which`` their cell index.
    """

    cohort: np.ndarray
    e: np.ndarray
    n: np.ndarray
    rows: np.ndarray
    which: np.ndarray

    @classmethod
    def build(cls, g: np.ndarray, rel: np.ndarray, cohorts: np.ndarray, ref: int) -> _Cells:
        rows = np.flatnonzero(np.isin(g, cohorts) & np.isfinite(rel))
        ug, gc = np.unique(g[rows], return_inverse=True)
        ue, ec = np.unique(rel[rows], return_inverse=True)
        key, which, n = np.unique(gc * len(ue) + ec, return_inverse=True, return_counts=True)
        cg, ce = ug[key // len(ue)], ue[key % len(ue)]
        est = ce != ref
        if not est.any():
            raise EstimationError("no cohort x relative-period cells to estimate")
        remap = np.where(est, np.cumsum(est) - 1, -1)
        which = remap[which.ravel()]
        inside = which >= 0
        return cls(cg[est], ce[est], n[est], rows[inside], which[inside])

    @property
    def names(self) -> list[str]:
        return [f"(cohort {int(a)}, e={int(b)})" for a, b in zip(self.cohort, self.e, strict=True)]


def _codes(df0: pd.DataFrame, pos: np.ndarray, column: str, stack: str | None) -> np.ndarray:
    """Integer codes of ``column`` on the rows ``pos`` (stack-specific when ``stack`` is given)."""
    codes, _ = factorize(df0[column].iloc[pos])
    if stack is None:
        return codes
    return interact_codes([factorize(df0[stack].iloc[pos])[0], codes])[0]


def _regress(
    df0: pd.DataFrame,
    s: _Sample,
    cells: _Cells,
    wv: np.ndarray,
    unit: str,
    time: str,
    weights: str | None,
    cluster: str,
    stack: str | None,
) -> tuple[CellFit, dict[str, int]]:
    """The saturated regression on the sample: missing values, zero weights and singletons removed."""
    excl: dict[str, int] = {}
    neg = np.isfinite(wv) & (wv < 0)
    if neg.any():
        rows = row_numbers(df0.index, np.isin(np.arange(len(df0)), s.pos[neg]))
        raise DataError("negative weights", column=weights, rows=rows[:20])
    ok = np.isfinite(s.y) & np.isfinite(wv)
    for col in dict.fromkeys([unit, time, cluster] + ([stack] if stack else [])):
        ok &= df0[col].iloc[s.pos].notna().to_numpy()
    if not ok.all():
        excl["missing_values"] = int((~ok).sum())
    zero = ok & (wv == 0)
    if zero.any():
        excl["zero_weight"] = int(zero.sum())
        ok &= ~zero
    pos = s.pos[ok]
    firm, period = _codes(df0, pos, unit, stack), _codes(df0, pos, time, stack)
    keep = drop_singletons([firm, period]) if len(pos) else np.ones(0, dtype=bool)
    if not keep.all():
        excl["singleton"] = int((~keep).sum())
        firm, period = factorize(firm[keep])[0], factorize(period[keep])[0]
    if not keep.any():
        raise EstimationError("no observations left after removing missing values and singletons")
    ok[ok] = keep  # the regression rows, as a mask over the sample
    new_pos = np.cumsum(ok) - 1
    inside = ok[cells.rows]
    clus = factorize(df0[cluster].iloc[s.pos[ok]])[0]
    fit = fit_cells(
        s.y[ok],
        wv[ok],
        firm,
        period,
        clus,
        new_pos[cells.rows[inside]],
        cells.which[inside],
        cells.names,
        cluster_name=cluster,
    )
    return fit, excl


def _aggregate(
    cells: _Cells, wv: np.ndarray, delta: np.ndarray, V: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[str], list[float], list[float]]:
    """Interaction weights (cohort shares of each period's weighted observations), held fixed."""
    ce, cn = cells.e, cells.n.astype(float)
    wobs = np.bincount(cells.which, weights=wv[cells.rows], minlength=len(ce))
    terms: list[str] = []
    rows: list[np.ndarray] = []
    xs: list[float] = []
    counts: list[float] = []
    post = ce >= 0
    if post.any():
        w = np.where(post, wobs, 0.0)
        rows.append(w / w.sum())
        terms.append("simple")
    for e in np.unique(ce):
        sel = ce == e
        w = np.where(sel, wobs, 0.0)
        rows.append(w / w.sum())
        terms.append(f"dynamic:{int(e)}")
        xs.append(float(e))
        counts.append(float(cn[sel].sum()))
    W = np.vstack(rows)
    return W @ delta, W @ V @ W.T, terms, xs, counts
