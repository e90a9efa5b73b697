"""TWFE event study: relative-year dummies with binned endpoints and a joint pre-trend test.

``event_study(panel, "ln_lp")`` estimates

    y_it = a_i + l_t + sum_{e in window, e != ref} b_e 1[t - G_i = e] + e_it,

with ``G_i`` the first membership year (cohort). Never-members have every dummy at zero and serve as the
comparison group; with ``control="notyet"`` they are dropped and identification comes from the timing
of joining alone. With ``bin_endpoints=True`` (default) the dummies at the window's ends absorb all earlier
/ later event times (``rel_year::-5`` then means "5 or more years before"); otherwise treated firm-years
outside the window are dropped (counted in ``exclusions["outside_window"]``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from clusterimpact._cohort import cohort_years
from clusterimpact._validation import as_frame, check_choice, require_columns
from clusterimpact.dask import wants_dask
from clusterimpact.errors import EstimationError, EstimationWarning, SpecError
from clusterimpact.estimation import inference as inf
from clusterimpact.estimation._event_study_dask import event_design
from clusterimpact.estimation.fe._dask import fit_dask
from clusterimpact.estimation.fe._fast import _fit_fast
from clusterimpact.estimation.fe._indicators import _fit_indicators, _Indicators
from clusterimpact.estimation.fe.result import FixedEffectsResult
from clusterimpact.estimation.fe.vcov import _normalise_vcov
from clusterimpact.formula.design import _Formula
from clusterimpact.results import PreTrendTest, ProfileResult

__all__ = ["EventStudyResult", "cohort_array", "event_study"]

Control = Literal["never", "notyet"]


@dataclass(frozen=True, kw_only=True)
class EventStudyResult(ProfileResult):
    """Event-study coefficients on the event-time axis (terms ``rel_year::e``).

    Attributes
    ----------
    pretrend
        Joint Wald (F) test that all leads (event times before ``reference``) are zero, or None when there
        are no leads.
    window
        ``(first, last)`` event time estimated.
    binned
        Whether the endpoints pool all earlier/later event times.
    control
        ``"never"`` or ``"notyet"``.
    fixed_effects, vcov_type, cluster, n_clusters, r2, r2_within
        As in :class:`~clusterimpact.estimation.twfe.FixedEffectsResult`.
    regression
        The underlying regression (including any controls).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel()
    >>> es = ci.event_study(df, outcome="ln_lp", window=(-3, 3))
    >>> type(es).__name__, es.reference, es.window
    ('EventStudyResult', -1.0, (-3, 3))
    >>> bool(0 <= es.pretrend.p_value <= 1)
    True
    """

    pretrend: PreTrendTest | None = None
    window: tuple[int, int] = (-5, 8)
    binned: bool = True
    control: str = "never"
    fixed_effects: tuple[str, ...] = ()
    vcov_type: str = "cluster"
    cluster: str | None = None
    n_clusters: int | None = None
    r2: float = float("nan")
    r2_within: float = float("nan")
    regression: FixedEffectsResult | None = None

    def _summary_header(self) -> list[str]:
        lines = [
            f"EventStudyResult ({self.method}, control={self.control}, reference {self.reference:g})",
            f"Observations: {self.nobs:,}   Fixed effects: {' + '.join(self.fixed_effects)}",
        ]
        if self.pretrend is not None:
            p = self.pretrend
            lines.append(
                f"Pre-trend test (leads jointly 0): F({p.df}, {p.df_denom:g}) = "
                f"{p.statistic:.3f}, p = {p.p_value:.4f}"
            )
        return lines

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        """JSON-ready form with the pre-trend test."""
        out = super().to_dict(level)
        out["pretrend"] = None if self.pretrend is None else self.pretrend.to_dict()
        out.update(
            fixed_effects=list(self.fixed_effects),
            vcov_type=self.vcov_type,
            cluster=self.cluster,
            n_clusters=self.n_clusters,
        )
        return out


def cohort_array(df: pd.DataFrame, cohort: str) -> np.ndarray:
    """First-treatment year as float, NaN for never-treated (missing or 0 mean never).

    Parsed by :func:`clusterimpact._cohort.cohort_years`: a value that is not a whole period is a
    :class:`~clusterimpact.errors.DataError`, never "never treated".

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.estimation.event_study import cohort_array
    >>> cohort_array(pd.DataFrame({"g": [2017, 0, None]}), "g").tolist()
    [2017.0, nan, nan]
    """
    return cohort_years(df[cohort], column=cohort, never=np.nan)


def _as_float(s: pd.Series) -> np.ndarray:
    """Float values (NaN for missing or non-numeric); skips the conversion pass for numeric columns."""
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        s = pd.to_numeric(s, errors="coerce")
    return s.to_numpy(dtype=float, na_value=np.nan)


def event_study(
    data: Any,
    outcome: str = "ln_lp",
    *,
    cohort: str = "treat_year",
    window: tuple[int, int] = (-5, 8),
    bin_endpoints: bool = True,
    ref: int | Sequence[int] = -1,
    control: Control = "never",
    unit: str = "firm_id",
    time: str = "year",
    fe: Sequence[str] | None = None,
    controls: Sequence[str] = (),
    vcov: str = "cluster",
    cluster: str | None = None,
    weights: str | None = None,
    backend: Literal["memory", "dask"] = "memory",
) -> EventStudyResult:
    """TWFE event study with relative-year dummies and a joint pre-trend test.

    Estimand: ``b_e``, the difference in outcomes between firms ``e`` years from joining and the
    comparison firm-years, relative to event time ``ref`` (−1). Identifying assumptions: parallel trends
    and no anticipation, and effects homogeneous across cohorts (with heterogeneous effects the dummies are
    contaminated by other periods' effects, Sun & Abraham 2021; compare with
    :func:`~clusterimpact.estimation.imputation.imputation_did`). The leads ``b_e, e < ref`` are the
    pre-trend check; their joint F test is stored in ``pretrend``.

    Parameters
    ----------
    data
        FirmPanel or DataFrame.
    outcome
        Outcome column.
    cohort
        First year of membership (missing or 0 = never a member).
    window
        First and last event time with its own dummy.
    bin_endpoints
        Pool event times beyond the window into the end dummies (else drop those treated firm-years).
    ref
        Omitted (reference) event time; several (e.g. ``(-1, -5)``) when there are no never-members,
        since event time is then collinear with firm and year effects and a second normalisation is needed.
    control
        ``"never"``: never-members are in the sample; ``"notyet"``: only eventually-treated firms.
    unit, time
        Firm and year columns (fixed effects).
    fe
        Fixed effects replacing ``unit + time`` (e.g. ``["firm_id", "sector^year"]``).
    controls
        Extra regressors.
    vcov, cluster
        Inference (default clustered by ``unit``).
    weights
        Analytic weights column.
    backend
        ``"memory"`` or ``"dask"``: the same estimates over firm partitions (see
        :func:`~clusterimpact.estimation.fe.feols`; ``data`` may be
        :class:`~clusterimpact.dask.FirmPartitions`, split by ``unit``).

    Returns
    -------
    EventStudyResult

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel()
    >>> es = ci.event_study(df, outcome="ln_lp", cohort="treat_year", window=(-3, 3))
    >>> es.params.index.tolist()  # event time -1 is the reference
    ['rel_year::-3', 'rel_year::-2', 'rel_year::0', 'rel_year::1', 'rel_year::2', 'rel_year::3']
    """
    check_choice("control", control, ("never", "notyet"))
    lo, hi = int(window[0]), int(window[1])
    refs = (int(ref),) if isinstance(ref, (int, np.integer)) else tuple(int(r) for r in ref)
    if not refs or lo >= hi or not all(lo <= r <= hi for r in refs):
        raise SpecError(f"window={window} must satisfy first < last and contain ref={ref}")
    ref0 = refs[0]
    need = list(dict.fromkeys([outcome, unit, time, cohort, *controls]))
    owned = False
    ind: Any
    if wants_dask(data, backend):
        rule = (cohort, time, control, bin_endpoints, lo, hi)
        sub, ind, events, counts, notes, excl, owned = event_design(data, need, unit, rule, refs)
    else:
        df = as_frame(data)
        require_columns(df, need, what="event study")
        keep, rel_b, excl = _sample(df, cohort, time, control, bin_endpoints, lo, hi)
        sub = df if keep.all() else df.loc[keep]
        rel_k = rel_b if keep.all() else rel_b[keep]
        ind, events, counts, notes = _dummies(rel_k, lo, hi, refs, len(sub))
    fe_list = tuple(fe) if fe else (unit, time)
    options = {"window": [lo, hi], "ref": list(refs), "control": control, "binned": bin_endpoints}
    reg = _regress(
        sub,
        ind,
        outcome,
        controls,
        fe_list,
        vcov,
        cluster or unit,
        weights,
        options,
        len(refs),
        persist=owned,
    )
    for k, v in reg.exclusions.items():
        excl[k] = excl.get(k, 0) + v
    terms = list(ind.names)
    V = reg.vcov.loc[terms, terms] if reg.vcov is not None else None
    return EventStudyResult(
        params=reg.params.loc[terms],
        std_errors=reg.std_errors.loc[terms],
        nobs=reg.nobs,
        method="event_study",
        provenance=reg.provenance,
        df_resid=reg.df_resid,
        vcov=V,
        warnings=(*notes, *reg.warnings),
        exclusions=excl,
        x=pd.Series([float(e) for e in events], index=terms),
        x_label="Years since joining",
        reference=float(ref0),
        counts=pd.Series(counts),
        pretrend=_lead_test(reg, [f"rel_year::{e}" for e in events if e < ref0]),
        window=(lo, hi),
        binned=bin_endpoints,
        control=control,
        fixed_effects=fe_list,
        vcov_type=reg.vcov_type,
        cluster=reg.cluster,
        n_clusters=reg.n_clusters,
        r2=reg.r2,
        r2_within=reg.r2_within,
        regression=reg,
    )


def _sample(
    df: pd.DataFrame,
    cohort: str,
    time: str,
    control: str,
    bin_endpoints: bool,
    lo: int,
    hi: int,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Rows kept (never-members left out with ``control="notyet"``; rows outside the window left
    out unless the endpoints are binned), the (binned) event time of every row, and the exclusions."""
    keep, rel_b, tally = _sample_rows(df, cohort, time, control, bin_endpoints, lo, hi)
    return keep, rel_b, _sample_checks(tally, cohort, control)


def _sample_rows(
    df: pd.DataFrame,
    cohort: str,
    time: str,
    control: str,
    bin_endpoints: bool,
    lo: int,
    hi: int,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """:func:`_sample` row by row: rows kept, (binned) event time, and the counts behind the checks
    (additive over any split of the rows: the Dask path sums them over partitions)."""
    g = cohort_array(df, cohort)
    t = _as_float(df[time])
    treated = np.isfinite(g)
    keep = np.ones(len(df), dtype=bool)
    if control == "notyet":
        keep &= treated
    rel = t - g
    outside = 0
    if bin_endpoints:
        rel_b = np.clip(rel, lo, hi)
    else:
        out = treated & ((rel < lo) | (rel > hi)) & keep
        outside = int(out.sum())
        keep &= ~out
        rel_b = rel
    tally = {"treated": int(treated.sum()), "never": int((~treated).sum()), "outside": outside}
    return keep, rel_b, tally


def _sample_checks(tally: dict[str, int], cohort: str, control: str) -> dict[str, int]:
    """The exclusions of :func:`_sample` from its counts; raises without never-members (``never``) or
    without treated firms."""
    excl: dict[str, int] = {}
    if control == "notyet":
        if tally["never"]:
            excl["never_treated"] = int(tally["never"])
    elif not tally["never"]:
        raise EstimationError("control='never' but no firm is a never-member; use control='notyet'")
    if not tally["treated"]:
        raise EstimationError(f"no treated firms: column '{cohort}' is missing or 0 everywhere")
    if tally["outside"]:
        excl["outside_window"] = int(tally["outside"])
    return excl


def _dummies(
    rel_k: np.ndarray, lo: int, hi: int, refs: tuple[int, ...], n_rows: int
) -> tuple[_Indicators, list[int], dict[str, int], list[str]]:
    """The event-time dummies (sparse), the event times estimated, the treated firm-years behind
    each, and a note (also warned) on event times without any."""
    events = [e for e in range(lo, hi + 1) if e not in refs]
    rows, which = _event_rows(rel_k, lo, hi, events)
    n_by = np.bincount(which, minlength=len(events))
    kept, counts, notes = _present_events(events, n_by, stacklevel=4)
    if len(kept) < len(events):
        present = n_by > 0
        which = (np.cumsum(present) - 1)[which]
    ind = _Indicators([f"rel_year::{e}" for e in kept], rows, which, n_rows)
    return ind, kept, counts, notes


def _event_rows(
    rel_k: np.ndarray, lo: int, hi: int, events: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The rows carrying an event-time dummy and which one (index into ``events``), in one pass
    (never-members have ``rel = NaN``)."""
    slot = np.full(hi - lo + 1, -1, dtype=np.int64)
    slot[[e - lo for e in events]] = np.arange(len(events))
    with np.errstate(invalid="ignore"):
        cand = np.flatnonzero((rel_k >= lo) & (rel_k <= hi))
    ev = rel_k[cand]
    whole = ev == np.floor(ev)
    cand, ev = cand[whole], ev[whole]
    which = slot[ev.astype(np.int64) - lo]
    on = which >= 0
    return cand[on], which[on]


def _present_events(
    events: list[int], n_by: np.ndarray, stacklevel: int = 3
) -> tuple[list[int], dict[str, int], list[str]]:
    """Event times with treated firm-years (``n_by`` of them each), their counts and a note (also
    warned) on those without any; raises when none has any."""
    counts = {f"rel_year::{e}": int(c) for e, c in zip(events, n_by, strict=True)}
    empty = [k for k, c in counts.items() if c == 0]
    notes: list[str] = []
    if not empty:
        return list(events), counts, notes
    if len(empty) == len(events):
        raise EstimationError("no treated firm-years in the event window")
    notes.append(
        f"no treated firm-years at event time(s) {', '.join(empty)}: left out (narrow the window)"
    )
    warnings.warn(notes[-1], EstimationWarning, stacklevel=stacklevel)
    for k in empty:
        del counts[k]
    return [e for e in events if f"rel_year::{e}" in counts], counts, notes


def _regress(
    sub: Any,
    ind: Any,
    outcome: str,
    controls: Sequence[str],
    fe_list: tuple[str, ...],
    vcov: str,
    cluster: str,
    weights: str | None,
    options: dict[str, Any],
    n_refs: int,
    *,
    persist: bool = False,
) -> FixedEffectsResult:
    """The TWFE regression on the dummies (and controls), absorbing ``fe_list`` (on Dask when ``sub``
    is FirmPartitions and ``ind`` the :class:`EventDummies` of its partitions)."""
    f = _Formula(
        f"{outcome} ~ {' + '.join(controls) if controls else '0'} | {' + '.join(fe_list)}",
        outcome,
        tuple(controls),
        fe_list,
        False,
        None,
    )
    vtype, ccols = _normalise_vcov(vcov, cluster if vcov in ("cluster", "twoway") else None)
    try:
        reg = None
        if not isinstance(sub, pd.DataFrame):
            from clusterimpact.dask import compute_context

            with compute_context():
                return fit_dask(
                    f,
                    sub,
                    vtype,
                    ccols,
                    weights,
                    True,
                    method="event_study",
                    extra=ind,
                    options=dict(options),
                    persist=persist,
                    extra_cols=ind.rule[:2],
                )
        if not controls and weights is None:
            reg = _fit_indicators(
                f, sub, vtype, ccols, ind, method="event_study", options=dict(options)
            )
        return reg or _fit_fast(
            f,
            sub,
            vtype,
            ccols,
            weights,
            None,
            None,
            "min",
            True,
            method="event_study",
            extra_X=ind.dense(),
            options=dict(options),
        )
    except EstimationError as exc:
        if "collinear" in str(exc) and options["control"] == "notyet" and n_refs == 1:
            raise EstimationError(
                f"{exc}. Without never-members a fully dynamic event study is not identified (event "
                "time = year - cohort is collinear with firm and year effects): omit a second event "
                "time, e.g. ref=(-1, -5), or use control='never'"
            ) from exc
        raise


def _lead_test(reg: FixedEffectsResult, leads: list[str]) -> PreTrendTest | None:
    """Joint F test that the leads are zero (``None`` without leads or a covariance)."""
    if not leads or reg.vcov is None:
        return None
    return PreTrendTest.from_wald(
        inf.wald_test(
            reg.params.loc[leads].to_numpy(),
            reg.vcov.loc[leads, leads].to_numpy(),
            df_denom=reg.df_resid,
            terms=tuple(leads),
        )
    )
