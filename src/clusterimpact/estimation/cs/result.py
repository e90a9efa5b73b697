"""The result objects of Callaway-Sant'Anna: :class:`ATTgtResult` (every ATT(g,t) cell) and
:class:`AggteResult` (an aggregation), with their pre-tests as :class:`~clusterimpact.results.PreTrendTest`."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.estimation.influence import InfluenceFunction
from clusterimpact.results import EstimateResult, PreTrendTest, ProfileResult

__all__ = ["ATTgtResult", "AggteResult"]


@dataclass(frozen=True, kw_only=True)
class ATTgtResult(EstimateResult):
    """Group-time average treatment effects ATT(g,t) (terms ``ATT(g,t)``).

    Attributes
    ----------
    cohort, period, base
        Cohort ``g``, period ``t`` and base period of every cell (indexed like ``params``).
    post
        True for cells with ``t >= g`` (treated periods).
    n_treated, n_control
        Units behind each cell.
    analytic_std_errors
        Influence-function standard errors (``std_errors`` holds the bootstrap ones when
        ``se_type == "bootstrap"``).
    se_type
        ``"analytic"`` or ``"bootstrap"``.
    influence
        Factored influence functions of the cells (:class:`~clusterimpact.estimation.influence.InfluenceFunction`);
        ``unit_influence()`` gives them as a sparse (cells x units) matrix.
    cohort_shares
        ``P(G = g)``: the weighted share of units in each cohort (the aggregation weights).
    pretrend_detail
        R did's Wald pre-test of parallel trends on *all* pre-treatment cells (``pretrend`` gives it as
        a :class:`~clusterimpact.results.PreTrendTest`; ``pretest``, its name before #13, is a
        deprecated alias of this dict): ``{"stat", "df",
        "p_value", "n_cells", "rank", "condition", "min_treated"}`` (``df`` = ``rank``, the effective
        rank after a relative eigenvalue cutoff of the cells' correlation matrix; ``condition`` its
        condition number over the kept eigenvalues; ``min_treated`` the fewest treated units behind a
        pre-treatment cell). With
        many cells on small cohorts the covariance is poorly estimated and this test over-rejects (an
        ``EstimationWarning`` says so); the event-study pre-test,
        ``aggte(result, "dynamic").pretrend``, is the one to report.
    n_units, control, est, anticipation, base_period, level, n_boot, multiplier, seed
        Settings and sample size (``level``: of the uniform band; ``n_boot`` 0 when analytic).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel()
    >>> cs = ci.att_gt(df, outcome="ln_lp", cohort="treat_year", control="notyet", allow_unbalanced=True)
    >>> type(cs).__name__, bool((cs.n_treated > 0).all())
    ('ATTgtResult', True)
    >>> cs.tidy().columns[:3].tolist()
    ['term', 'estimate', 'std_error']
    """

    cohort: pd.Series
    period: pd.Series
    base: pd.Series
    post: pd.Series
    n_treated: pd.Series
    n_control: pd.Series
    analytic_std_errors: pd.Series
    se_type: str = "analytic"
    influence: InfluenceFunction | None = field(default=None, repr=False, compare=False)
    cohort_shares: pd.Series | None = None
    group_cohort: np.ndarray | None = field(default=None, repr=False, compare=False)
    unit_ids: np.ndarray | None = field(default=None, repr=False, compare=False)
    boot_projection: np.ndarray | None = field(default=None, repr=False, compare=False)
    pretrend_detail: dict[str, float] | None = None
    n_units: int = 0
    control: str = "never"
    est: str = "dr"
    anticipation: int = 0
    base_period: str = "varying"
    level: float = 0.95
    n_boot: int = 0
    multiplier: str = "mammen"
    seed: int | None = None
    draws: str = "stream"

    @property
    def alpha(self) -> float:
        """``1 - level`` (the setting's name before #13)."""
        return 1 - self.level

    @property
    def time(self) -> pd.Series:
        """The period ``t`` of every cell (alias of ``period``)."""
        return self.period

    @property
    def pretrend(self) -> PreTrendTest | None:
        """The cell-level Wald pre-test (chi-squared) of every pre-treatment ATT(g,t) being zero."""
        return _pretrend_test(self.pretrend_detail, self.params.index[~self.post.to_numpy(bool)])

    @property
    def pretest(self) -> dict[str, float] | None:
        """Deprecated: the pre-test as a dict; use ``pretrend`` (or ``pretrend_detail``)."""
        _warn_pretest("ATTgtResult")
        return self.pretrend_detail

    def unit_influence(self) -> Any:
        """The unit-level influence functions as a scipy CSR matrix (cells x units), built on demand
        (``None`` when clustering at a higher level discarded the unit level). Columns follow
        ``unit_ids`` (units sorted by cohort); ``psi / n`` summed over units is ``att - ATT``."""
        return self.influence.unit_matrix() if self.influence is not None else None

    def cells(self) -> pd.DataFrame:
        """One row per cell: cohort, period, base, post, estimate, std_error, n_treated, n_control."""
        return pd.DataFrame(
            {
                "term": self.params.index,
                "cohort": self.cohort.to_numpy(),
                "period": self.period.to_numpy(),
                "base": self.base.to_numpy(),
                "post": self.post.to_numpy(),
                "estimate": self.params.to_numpy(),
                "std_error": self.std_errors.to_numpy(),
                "n_treated": self.n_treated.to_numpy(),
                "n_control": self.n_control.to_numpy(),
            }
        )

    def _summary_header(self) -> list[str]:
        lines = super()._summary_header()
        lines.append(
            f"Units: {self.n_units:,}  Control: {self.control}  Estimation: {self.est}  "
            f"Base period: {self.base_period}  Anticipation: {self.anticipation}  SE: {self.se_type}"
        )
        pt = self.pretrend_detail
        if pt is not None and np.isfinite(pt.get("stat", np.nan)):
            lines.append(
                f"Pre-test of parallel trends (all pre-treatment cells): Wald "
                f"{pt['stat']:.3f} (df {int(pt['df'])}), "
                f"p = {pt['p_value']:.4f}"
            )
        return lines

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        """JSON-ready form with the cell-level pre-test (``pretest``: the detail dict; ``pretrend``:
        the :class:`~clusterimpact.results.PreTrendTest`)."""
        out = super().to_dict(level)
        out["pretest"] = _json_test(self.pretrend_detail)
        out["pretrend"] = None if self.pretrend is None else self.pretrend.to_dict()
        return out


@dataclass(frozen=True, kw_only=True)
class AggteResult(ProfileResult):
    """An aggregation of ATT(g,t): the overall term (``simple``/``dynamic``/``group``/``calendar``) and
    its elements (``dynamic:-3``, ``group:2004``, ``calendar:2005``).

    Attributes
    ----------
    type
        Aggregation type.
    overall
        Name of the overall term.
    influence
        Factored influence functions of every term.
    analytic_std_errors, se_type
        As in :class:`ATTgtResult`.
    pretrend_detail
        ``dynamic`` only (``pretrend`` gives it as a :class:`~clusterimpact.results.PreTrendTest`;
        ``pretest``, its name before #13, is a deprecated alias of this dict): the event-study pre-test of parallel trends (Callaway & Sant'Anna 2021,
        section 4), a joint Wald test that every pre-treatment event-time effect in the window is zero,
        ``theta(e) = 0`` for ``e < -anticipation`` (under ``base_period="universal"`` the reference
        period is a normalisation and not tested), with the covariance of the aggregated influence
        functions (including the estimated cohort weights). Keys: ``stat``, ``df``, ``p_value`` (chi-
        squared), ``terms`` (the tested ``dynamic:e`` terms), ``min_treated`` (fewest treated units behind
        a tested term) and, with the bootstrap, ``sup_t`` (largest ``|theta(e)| / se(e)``) and
        ``sup_t_p_value`` (share of bootstrap draws whose largest ``|t|`` is at least as large).
        ``None`` for other aggregations; ``df == 0`` and NaN statistics when no lead is estimable.
    excluded_cells
        The ATT(g,t) cells this aggregation would have used but left out because they are NaN (their
        estimation failed, e.g. a separated propensity score; R did's ``na.rm=TRUE``). Also in
        ``warnings`` and ``to_dict()["excluded_cells"]``.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel()
    >>> cs = ci.att_gt(df, outcome="ln_lp", cohort="treat_year", control="notyet", allow_unbalanced=True)
    >>> dynamic = ci.aggte(cs, "dynamic", min_e=-3, max_e=3)
    >>> type(dynamic).__name__, dynamic.x.tolist()
    ('AggteResult', [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0])
    >>> 0 <= dynamic.pretrend.p_value <= 1  # joint test that the leads are zero
    True
    """

    type: str
    overall: str
    analytic_std_errors: pd.Series
    se_type: str = "analytic"
    influence: InfluenceFunction | None = field(default=None, repr=False, compare=False)
    balance_e: int | None = None
    min_e: float = -np.inf
    max_e: float = np.inf
    pretrend_detail: dict[str, Any] | None = None
    excluded_cells: tuple[str, ...] = ()

    @property
    def overall_term(self) -> str | None:
        """The overall term (``simple``, ``dynamic``, ``group`` or ``calendar``) when it was estimated
        (a ``dynamic`` window without post-treatment event times has none)."""
        return self.overall if self.overall in self.params.index else None

    @property
    def pretrend(self) -> PreTrendTest | None:
        """``dynamic`` only: the chi-squared Wald test of the event-study leads (else ``None``)."""
        pt = self.pretrend_detail
        return None if pt is None else _pretrend_test(pt, pt.get("terms", ()))

    @property
    def pretest(self) -> dict[str, Any] | None:
        """Deprecated: the pre-test as a dict; use ``pretrend`` (or ``pretrend_detail``)."""
        _warn_pretest("AggteResult")
        return self.pretrend_detail

    def elements(self) -> pd.DataFrame:
        """The profile of the elements (same as :meth:`profile`)."""
        return self.profile(self.band_level)

    def _summary_header(self) -> list[str]:
        lines = super()._summary_header()
        pt = self.pretrend_detail
        if pt is not None and pt.get("df", 0) > 0 and np.isfinite(pt.get("stat", np.nan)):
            es = [t.split(":", 1)[1] for t in pt["terms"]]
            span = es[0] if len(es) == 1 else f"{es[0]}..{es[-1]}"
            line = (
                f"Pre-test of parallel trends (event times {span}): Wald {pt['stat']:.3f} "
                f"(df {int(pt['df'])}), p = {pt['p_value']:.4f}"
            )
            if "sup_t" in pt:
                line += f"; sup-t {pt['sup_t']:.3f}, bootstrap p = {pt['sup_t_p_value']:.4f}"
            lines.append(line)
        if self.excluded_cells:
            lines.append(f"Left out (NaN cells): {', '.join(self.excluded_cells)}")
        return lines

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        """JSON-ready form with the event-study pre-test (``pretest``, ``dynamic`` only) and the NaN
        cells left out (``excluded_cells``)."""
        out = super().to_dict(level)
        out["pretest"] = _json_test(self.pretrend_detail)
        out["pretrend"] = None if self.pretrend is None else self.pretrend.to_dict()
        out["excluded_cells"] = list(self.excluded_cells)
        return out


def _pretrend_test(detail: dict[str, Any] | None, terms: Any) -> PreTrendTest | None:
    """The :class:`PreTrendTest` of a CS pre-test dict (chi-squared Wald)."""
    if detail is None:
        return None
    return PreTrendTest(
        statistic=float(detail["stat"]),
        df=int(detail["df"]),
        df_denom=None,
        p_value=float(detail["p_value"]),
        method="wald",
        terms=tuple(str(t) for t in terms),
    )


def _warn_pretest(cls: str) -> None:
    warnings.warn(
        f"{cls}.pretest is now spelled 'pretrend' (a PreTrendTest; the dict with every detail is "
        "'pretrend_detail'); the old name will be removed in a later release",
        FutureWarning,
        stacklevel=3,
    )


def _json_test(test: dict[str, Any] | None) -> dict[str, Any] | None:
    """A pre-test dict with JSON-safe values (NaN and infinity as ``None``)."""
    if test is None:
        return None
    out: dict[str, Any] = {}
    for k, v in test.items():
        if isinstance(v, (list, tuple)):
            out[k] = [str(x) for x in v]
        else:
            f = float(v)
            out[k] = f if np.isfinite(f) else None
    return out
