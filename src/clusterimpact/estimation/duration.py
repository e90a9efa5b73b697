"""The premium by years of membership, robust to heterogeneous effects (imputation), and its growth.

``duration_effects(panel, "ln_lp")`` estimates, for each bin ``b`` of membership duration
(``member_years`` = number of calendar years in membership up to and including ``t``: 1 in the join year),

    theta_b = E[ Y_it - Y_it(0) | member in t, member_years_it in b ],

by the imputation method of Borusyak, Jaravel & Spiess (2024): the untreated outcome model
``Y_it(0) = a_i + l_t`` is fitted on firm-years *before* joining and on never-members, ``Y_it(0)`` is imputed
for member firm-years, and the effects are averaged within bins with BJS's conservative, firm-clustered
(leave-out) variance (see :mod:`clusterimpact.estimation.imputation`). On top of the profile:

* ``slope``: the OLS line through the profile ``theta_b`` against the mean duration in each bin,
  ``slope = L theta`` with ``L`` the second row of ``(X'X)^{-1} X'`` (``X = [1, x_b]``), and its standard error
  ``sqrt(L V L')`` from the full covariance ``V`` of the profile; the test of "no growth" is ``H0: slope = 0``
  (normal reference).
* ``equal_effects``: the joint Wald chi2 test ``H0: theta_1 = ... = theta_B`` (B - 1 restrictions).
* ``average``: the average effect over all member firm-years in the bins.

Exits. A firm that leaves stops accumulating ``member_years``. Its post-exit years are neither untreated
(they may carry lasting effects of membership, so they never serve as controls) nor targets (the firm is
not a member then): they are left out and counted in ``exclusions["post_exit"]``. A firm that rejoins
continues counting; its years between spells are left out in the same way.

What is identified, and what is assumed: ``theta_b`` compares members with ``b`` years of membership to
their own imputed no-membership outcome, under parallel trends of untreated outcomes (firm and year effects)
and no anticipation. The profile mixes composition and duration: firms reaching 5+ years joined early and
stayed, so a rising profile can reflect dynamic effects *or* heterogeneous effects of early/long-staying
joiners; exits that are related to realised effects (unsuccessful members leave) make the later bins
averages over survivors. Compare cohort-specific profiles (``imputation_did(..., by=...)`` on a subset) to
separate these. Bins with no member firm-years raise an error.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from clusterimpact.dask import wants_dask
from clusterimpact.errors import DataError, EstimationError, EstimationWarning
from clusterimpact.estimation import inference as inf
from clusterimpact.estimation.event_study import cohort_array
from clusterimpact.estimation.fe._demean import factorize
from clusterimpact.estimation.fe.membership import parse_bins
from clusterimpact.estimation.imputation import (
    _aggregate,
    _Fit,
    _fit_core,
    _Options,
    _prepare_frame,
    _pretrend,
)
from clusterimpact.provenance import make_provenance
from clusterimpact.results import PreTrendTest, ProfileResult

__all__ = ["DurationResult", "duration_effects"]


@dataclass(frozen=True, kw_only=True)
class DurationResult(ProfileResult):
    """Premium by years of membership (terms ``member_years::1`` ... ``member_years::5+``), plus
    ``average`` and ``slope`` (off the axis), with the full covariance in ``vcov``.

    Attributes
    ----------
    slope_test
        Test of no growth, ``H0: slope = 0`` (chi2 with 1 df; ``statistic`` = z squared).
    equal_effects
        Joint test that all bins have the same effect (chi2, B - 1 df); None with one bin.
    pretrend
        BJS pre-trend F test on untreated firm-years (the shared :class:`PreTrendTest`).
    bins
        Bin labels in order.
    n_units, n_treated_obs, n_untreated_obs
        Firms; member firm-years averaged; untreated firm-years in the imputation model.
    cluster, n_clusters, fixed_effects, vcov_type
        Inference metadata (firm-clustered BJS variance).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel()
    >>> dur = ci.duration_effects(df, outcome="ln_lp", bins=[1, 2, "3+"])
    >>> type(dur).__name__, dur.x_label
    ('DurationResult', 'Years of membership')
    """

    _plot_with: ClassVar[str] = "plot_duration_premium"

    slope_test: inf.WaldTest | None = None
    equal_effects: inf.WaldTest | None = None
    pretrend: PreTrendTest | None = None
    bins: tuple[str, ...] = ()
    n_units: int = 0
    n_treated_obs: int = 0
    n_untreated_obs: int = 0
    cluster: str | None = None
    n_clusters: int | None = None
    fixed_effects: tuple[str, ...] = ()
    vcov_type: str = "bjs_cluster"
    r2: float = float("nan")
    r2_within: float = float("nan")

    @property
    def overall_term(self) -> str | None:
        """The headline term: the duration ``slope`` (``average`` with a single bin)."""
        for term in ("slope", "average"):
            if term in self.params.index:
                return term
        return None

    def _summary_header(self) -> list[str]:
        lines = [
            "DurationResult (imputation, Borusyak-Jaravel-Spiess): premium by years of membership",
            f"Firms: {self.n_units:,}   member firm-years: {self.n_treated_obs:,}   "
            f"untreated firm-years: {self.n_untreated_obs:,}",
        ]
        if self.slope_test is not None:
            lines.append(
                f"No growth (slope = 0): chi2(1) = {self.slope_test.statistic:.3f}, "
                f"p = {self.slope_test.p_value:.4f}"
            )
        if self.equal_effects is not None:
            e = self.equal_effects
            lines.append(
                f"Equal effects: chi2({e.df_num}) = {e.statistic:.3f}, p = {e.p_value:.4f}"
            )
        if self.pretrend is not None:
            p = self.pretrend
            lines.append(
                f"Pre-trend test: F({p.df_num}, {p.df_denom:g}) = {p.statistic:.3f}, "
                f"p = {p.p_value:.4f}"
            )
        return lines

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        """JSON-ready form with the tests."""
        out = super().to_dict(level)
        for name in ("slope_test", "equal_effects", "pretrend"):
            v = getattr(self, name)
            out[name] = None if v is None else v.to_dict()
        out["bins"] = list(self.bins)
        out["n_units"] = self.n_units
        return out


def duration_effects(
    panel: Any,
    outcome: str = "ln_lp",
    *,
    bins: Sequence[int | str] = (1, 2, 3, 4, "5+"),
    cohort: str = "treat_year",
    member: str = "member",
    member_years: str = "member_years",
    unit: str = "firm_id",
    time: str = "year",
    weights: str | None = None,
    leads: int = 5,
    leave_out: bool = True,
    backend: Literal["memory", "dask"] = "memory",
) -> DurationResult:
    """Premium by years of membership via imputation, with its slope and tests of no growth.

    Estimand: ``theta_b``, the average effect of membership on ``outcome`` among member firm-years with
    ``member_years`` in bin ``b``; ``slope``, the linear trend of ``theta_b`` across bins. Identifying
    assumptions: parallel trends of untreated outcomes (firm + year effects) and no anticipation; effects may
    differ across firms, cohorts and years. See the module docstring for exits and interpretation.

    Parameters
    ----------
    panel
        FirmPanel or DataFrame with ``unit``, ``time``, ``cohort``, ``member``, ``member_years``, ``outcome``,
        or :class:`~clusterimpact.dask.FirmPartitions` (then the Dask path).
    outcome
        Outcome column (log TFP or log labour productivity).
    bins
        Duration bins: integers (exact), ``"a-b"`` ranges, ``"k+"`` open-ended.
    cohort
        First year of membership (missing or 0 = never a member).
    member, member_years
        Membership indicator in year t and years of membership up to t.
    unit, time
        Firm and year columns.
    weights
        Aggregation weights (e.g. employment); equal weights by default.
    leads
        Pre-joining periods in the pre-trend test.
    leave_out
        Leave-out refinement of the BJS variance.
    backend
        ``"memory"`` (default) or ``"dask"``: the imputation estimator's map-reduce over firm partitions
        (:func:`~clusterimpact.estimation.imputation.imputation_did` with ``backend="dask"``), the same
        statistics summed over partitions, the same numbers up to roundoff.

    Returns
    -------
    DurationResult

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel()
    >>> dur = ci.duration_effects(df, outcome="ln_lp")
    >>> dur.params.index.tolist()
    ['average', 'member_years::1', 'member_years::2', 'member_years::3', 'member_years::4', 'member_years::5+', 'slope']
    """
    parsed = parse_bins(bins)
    labels = [lab for lab, _, _ in parsed]
    spec = _Bins(tuple(parsed), member, member_years)
    if wants_dask(panel, backend):
        from clusterimpact.estimation._imputation_dask import fit_dask

        # the bins are the driver's aggregation axis (spec.rows), the overall term their average
        o = _Options(outcome, cohort, unit, time, "simple", None, None, weights, leads, spec)
        fit = fit_dask(panel, o, leave_out)
        xb = np.asarray(list(fit.xs.values()), dtype=float)
        bin_counts = [int(c) for c in fit.counts[1:]]
    else:
        fit, xb, bin_counts = _fit_memory(
            panel, spec, outcome, cohort, unit, time, weights, leads, leave_out
        )
    names = [f"{member_years}::{lab}" for lab in labels]
    K = len(parsed)
    params, V, slope_test, equal = _slope_and_tests(np.asarray(fit.params), fit.V, xb, names)
    terms = ["average", *names] + (["slope"] if K >= 2 else [])
    idx = pd.Index(terms)
    for n in fit.notes:
        warnings.warn(n, EstimationWarning, stacklevel=2)
    counts = pd.Series([int(fit.counts[0]), *bin_counts], index=["average", *names])
    return DurationResult(
        params=pd.Series(params, index=idx, dtype=float),
        std_errors=pd.Series(np.sqrt(np.clip(np.diag(V), 0, None)), index=idx),
        nobs=fit.n_ident + fit.n_untreated,
        method="duration_imputation",
        provenance=make_provenance(
            "duration_imputation",
            None,
            None,
            outcome=outcome,
            bins=labels,
            cohort=cohort,
            weights=weights,
            leads=leads,
            leave_out=leave_out,
        ),
        df_resid=None,
        vcov=pd.DataFrame(V, index=idx, columns=idx),
        warnings=tuple(fit.notes),
        exclusions=fit.excl,
        x=pd.Series(xb, index=names, dtype=float),
        x_label="Years of membership",
        reference=None,
        counts=counts,
        slope_test=slope_test,
        equal_effects=equal,
        pretrend=fit.pretrend,
        bins=tuple(labels),
        n_units=fit.n_units,
        n_treated_obs=fit.n_ident,
        n_untreated_obs=fit.n_untreated,
        cluster=unit,
        n_clusters=fit.n_units,
        fixed_effects=(unit, time),
    )


@dataclass(frozen=True)
class _Bins:
    """The duration options that the imputation estimator's Dask driver reads in every partition
    (``_Options.duration``): the targets are the member firm-years in the bins, the bin codes the axis."""

    parsed: tuple[tuple[str, int, float], ...]
    member: str
    member_years: str

    @property
    def columns(self) -> list[str]:
        """The membership columns."""
        return [self.member, self.member_years]

    def rows(
        self, df: pd.DataFrame, excl: dict[str, int], o: _Options
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Weights, target rows, bin code (NaN outside the bins) and ``member_years`` of a frame."""
        s = _duration_sample(
            df, excl, list(self.parsed), o.cohort, self.member, self.member_years, o.time, o.weights
        )
        return s.w, s.target, np.where(s.codes >= 0, s.codes, np.nan), s.m

    @staticmethod
    def require_target(any_target: bool) -> None:
        """Refuse a panel without member firm-years in the bins."""
        if not any_target:
            raise EstimationError("no member firm-years with member_years in the bins")

    def require_bins(self, present: np.ndarray) -> None:
        """Refuse bins (codes ``0..K-1``) not among the ``present`` codes of identified firm-years."""
        empty = [lab for j, (lab, _, _) in enumerate(self.parsed) if j not in set(present.tolist())]
        if empty:
            raise EstimationError(
                f"no identified member firm-years in bin(s) {', '.join(empty)}; change the bins"
            )


def _fit_memory(
    panel: Any,
    spec: _Bins,
    outcome: str,
    cohort: str,
    unit: str,
    time: str,
    weights: str | None,
    leads: int,
    leave_out: bool,
) -> tuple[_Fit, np.ndarray, list[int]]:
    """The in-memory fit (one block: :func:`_fit_core`, :func:`_aggregate`), its mean duration per bin
    and bin counts."""
    extra = [*spec.columns, *([weights] if weights else [])]
    df, excl = _prepare_frame(panel, outcome, cohort, unit, time, extra)
    s = _duration_sample(
        df, excl, list(spec.parsed), cohort, spec.member, spec.member_years, time, weights
    )
    spec.require_target(bool(s.target.any()))
    y = pd.to_numeric(df[outcome], errors="coerce").to_numpy(dtype=float)
    core, ex2 = _fit_core(y, factorize(df[unit])[0], factorize(s.t)[0], s.untreated, s.target)
    excl.update(ex2)
    ident = core.ident
    K = len(spec.parsed)
    sel = ident & (s.codes >= 0)
    present = np.bincount(s.codes[sel], minlength=K)
    spec.require_bins(np.flatnonzero(present))
    grp = np.where(s.codes >= 0, s.g * 1000 + s.codes, -1)
    est_b, U_b, cnt_b, notes = _aggregate(core, s.codes, K, s.w, grp, leave_out)
    term_all = np.where(sel, 0, -1)
    est_a, U_a, cnt_a, notes_a = _aggregate(core, term_all, 1, s.w, grp, leave_out)
    notes += [n for n in notes_a if n not in notes]
    U = np.hstack([U_a, U_b])
    xb = np.bincount(s.codes[sel], weights=s.m[sel], minlength=K) / present
    test, _, pre_note = _pretrend(df, outcome, unit, time, s.rel, s.untreated, leads)
    if pre_note:
        notes.append(pre_note)
    fit = _Fit(
        terms=[],
        xs={},
        params=[*est_a, *est_b],
        counts=[int(cnt_a[0])],
        V=U.T @ U,
        pretrend=test,
        pre_tab=None,
        notes=notes,
        excl=excl,
        n_units=core.n_units,
        n_ident=int(sel.sum()),
        n_untreated=int(s.untreated.sum()),
        label="duration",
        x_label="Years of membership",
        tau=pd.DataFrame(),
        influence=None,
        influence_cov=None,
    )
    return fit, xb, [int(c) for c in cnt_b]


@dataclass(frozen=True)
class _Sample:
    """The frame's arrays: cohort ``g``, year ``t``, years of membership ``m``, event time
    ``rel``; ``untreated`` rows (before joining, never-members), bin ``codes`` (-1 outside every bin),
    aggregation weights ``w`` and the ``target`` member firm-years."""

    g: np.ndarray
    t: np.ndarray
    m: np.ndarray
    rel: np.ndarray
    untreated: np.ndarray
    codes: np.ndarray
    w: np.ndarray
    target: np.ndarray


def _duration_sample(
    df: pd.DataFrame,
    excl: dict[str, int],
    parsed: list[tuple[str, int, float]],
    cohort: str,
    member: str,
    member_years: str,
    time: str,
    weights: str | None,
) -> _Sample:
    """Check membership against the cohort, code the bins, and count post-exit years, member years
    outside the bins and bad weights in ``excl`` (in the whole frame, or in one partition)."""
    g = cohort_array(df, cohort)
    t = pd.to_numeric(df[time], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    mem = pd.to_numeric(df[member], errors="coerce").to_numpy(dtype=float, na_value=np.nan) == 1
    m = pd.to_numeric(df[member_years], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    rel = t - g
    ever = np.isfinite(g) & (rel >= 0)
    bad = mem & ~ever
    if bad.any():
        raise DataError(
            f"member == 1 before the first membership year in '{cohort}' (or for a firm without one); "
            "rebuild the panel so that treat_year is the first membership year",
            column=member,
            rows=list(df.index[bad][:20]),
        )
    untreated = ~ever
    post_exit = ever & ~mem
    if post_exit.any():
        excl["post_exit"] = int(post_exit.sum())
    codes = np.full(len(df), -1, dtype=np.int64)
    for j, (_, lo, hi) in enumerate(parsed):
        codes[mem & (m >= lo) & (m <= hi)] = j
    outside = mem & (codes < 0)
    if outside.any():
        excl["outside_bins"] = int(outside.sum())
    w = np.ones(len(df))
    target = mem & (codes >= 0)
    if weights:
        w = pd.to_numeric(df[weights], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        badw = target & ~(np.isfinite(w) & (w >= 0))
        if badw.any():
            excl["bad_weight"] = int(badw.sum())
            target &= ~badw
    return _Sample(g, t, m, rel, untreated, codes, w, target)


def _slope_and_tests(
    params: np.ndarray, V: np.ndarray, xb: np.ndarray, names: list[str]
) -> tuple[np.ndarray, np.ndarray, inf.WaldTest | None, inf.WaldTest | None]:
    """Append the slope of the profile (``average`` first, then the bins) to ``params`` and ``V``, with
    the test of no growth and the joint test of equal effects (none with a single bin)."""
    K = len(names)
    if K < 2:
        return params, V, None, None
    est_b = params[1:]
    X = np.column_stack([np.ones(K), xb])
    L = np.linalg.solve(X.T @ X, X.T)[1]  # slope row
    Lfull = np.concatenate([[0.0], L])
    slope = float(Lfull @ params)
    cov_s = V @ Lfull
    var_s = float(Lfull @ cov_s)
    params = np.append(params, slope)
    V = np.block([[V, cov_s[:, None]], [cov_s[None, :], np.array([[var_s]])]])
    slope_test = inf.wald_test(np.array([slope]), np.array([[var_s]]), terms=("slope",))
    R = np.zeros((K - 1, K))
    R[:, 0] = -1
    R[np.arange(K - 1), np.arange(1, K)] = 1
    equal = inf.wald_test(est_b, V[1 : K + 1, 1 : K + 1], R, terms=tuple(names))
    return params, V, slope_test, equal
