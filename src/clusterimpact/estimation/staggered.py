"""Callaway & Sant'Anna (2021) group-time average treatment effects and their aggregations.

``att_gt`` estimates every ATT(g,t): the average effect in period ``t`` on the units first treated in
period ``g`` (their *cohort*), each from a 2x2 comparison with never-treated or not-yet-treated units
and a base period before treatment. ``aggte`` aggregates the cells into an overall effect (``simple``),
an event study (``dynamic``), cohort effects (``group``) and calendar-year effects (``calendar``), with
standard errors that include the estimation of the aggregation weights (Callaway & Sant'Anna 2021,
section 4 and appendix). Written from the papers (Callaway & Sant'Anna 2021, Journal of Econometrics
225(2); Sant'Anna & Zhao 2020, Journal of Econometrics 219(1)); numbers match R did's analytic output on
its mpdta example (tests/reference/mpdta).

Inference: analytic standard errors from the influence functions, or the multiplier bootstrap (Mammen's
two-point multipliers by default; Rademacher signs, the multipliers R did and csdid draw, on request) with
a uniform confidence band; clustering at the unit
or at any coarser level (the bootstrap draws one multiplier per cluster). Influence functions are stored
factored (see :mod:`clusterimpact.estimation.influence`), never as a dense units x cells matrix.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from clusterimpact._renamed import renamed_kwargs
from clusterimpact._validation import as_frame, check_choice, resolve_rng
from clusterimpact.errors import EstimationError, EstimationWarning, SpecError
from clusterimpact.estimation import _cs_core as core
from clusterimpact.estimation._r_names import accept_r_names
from clusterimpact.estimation.influence import (
    MULTIPLIERS,
    InfluenceFunction,
    Multiplier,
    multiplier_bootstrap,
    single_thread_blas,
)
from clusterimpact.provenance import make_provenance
from clusterimpact.results import EstimateResult, PreTrendTest, ProfileResult

__all__ = [
    "ATTgtResult",
    "AggteResult",
    "AggregationType",
    "CallawaySantAnna",
    "ControlGroup",
    "EstMethod",
    "aggte",
    "att_gt",
]

ControlGroup = Literal["never", "notyet"]
EstMethod = Literal["dr", "ipw", "reg"]
DRMethod = Literal["improved", "traditional"]
DR_METHODS = ("improved", "traditional")
BasePeriod = Literal["varying", "universal"]
AggregationType = Literal["simple", "dynamic", "group", "calendar"]
CONTROLS = ("never", "notyet")
ESTS = ("dr", "ipw", "reg")
BASES = ("varying", "universal")
AGG_TYPES = ("simple", "dynamic", "group", "calendar")


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


def _alpha_to_level(alpha: float | None, level: float | None) -> float | None:
    if level is not None and alpha is not None:
        raise TypeError("pass level only ('alpha' is its old spelling: level = 1 - alpha)")
    return None if alpha is None else 1 - alpha


def _bootstrap_to_n_boot(bootstrap: bool | None, n_boot: int | None) -> int | None:
    if bootstrap is None:
        return n_boot
    if not bootstrap:
        return 0
    return n_boot if n_boot is not None else N_BOOT_DEFAULT


#: draws of the multiplier bootstrap when the old ``bootstrap=True`` gives no ``n_boot``
N_BOOT_DEFAULT = 999
#: old option spellings (#13): ``alpha`` -> ``level``; ``bootstrap=True`` + ``n_boot`` -> ``n_boot``
_RENAMED: dict[str, Any] = {
    "alpha": ("level", _alpha_to_level, "level = 1 - alpha"),
    "bootstrap": (
        "n_boot",
        _bootstrap_to_n_boot,
        "n_boot=B draws the multiplier bootstrap, n_boot=0 is analytic",
    ),
}


class CallawaySantAnna:
    """Callaway & Sant'Anna (2021) ATT(g,t) estimator (settings only; :meth:`fit` estimates).

    See :func:`att_gt` for the parameters.
    """

    @renamed_kwargs(**_RENAMED)
    def __init__(
        self,
        outcome: str,
        *,
        cohort: str = "treat_year",
        unit: str = "firm_id",
        time: str = "year",
        control: ControlGroup = "never",
        covariates: list[str] | tuple[str, ...] | None = None,
        est: EstMethod = "dr",
        dr_method: DRMethod = "improved",
        anticipation: int = 0,
        base_period: BasePeriod = "varying",
        panel: bool = True,
        allow_unbalanced: bool = False,
        weights: str | None = None,
        cluster: str | None = None,
        stack: str | None = None,
        n_boot: int = 0,
        multiplier: Multiplier = "mammen",
        seed: int | np.random.Generator | None = None,
        level: float = 0.95,
    ) -> None:
        self.outcome = outcome
        self.cohort = cohort
        self.unit = unit
        self.time = time
        self.control = control
        self.covariates = list(covariates) if covariates else []
        self.est = est
        self.dr_method = dr_method
        self.anticipation = anticipation
        self.base_period = base_period
        self.panel = panel
        self.allow_unbalanced = allow_unbalanced
        self.weights = weights
        self.cluster = cluster
        self.stack = stack
        self.n_boot = n_boot
        self.multiplier = multiplier
        self.seed = seed
        self.level = level

    def _check(self) -> None:
        check_choice("control", self.control, CONTROLS)
        check_choice("est", self.est, ESTS)
        check_choice("dr_method", self.dr_method, DR_METHODS)
        check_choice("base_period", self.base_period, BASES)
        check_choice("multiplier", self.multiplier, MULTIPLIERS)
        core.check_options(self.control, self.est, self.base_period, self.anticipation)
        if not self.panel:
            raise SpecError(
                "panel=False (repeated cross-sections) is not supported; pass a unit id column "
                "(unbalanced panels: allow_unbalanced=True)"
            )
        if not 0 < self.level < 1:
            raise SpecError(f"level must be in (0, 1), got {self.level}")
        if not isinstance(self.n_boot, (int, np.integer)) or self.n_boot == 1 or self.n_boot < 0:
            raise SpecError(
                f"n_boot must be 0 (analytic standard errors) or at least 2 draws, got {self.n_boot!r}"
            )

    @property
    def bootstrap(self) -> bool:
        """Whether :meth:`fit` draws the multiplier bootstrap (``n_boot > 0``)."""
        return self.n_boot > 0

    def _cluster(self) -> str | None:
        """The cluster column to use: ``None`` for the unit (the default), read without changing
        the user's setting."""
        if self.cluster is not None and self.cluster == self.unit and self.stack is None:
            return None
        return self.cluster

    def fit(self, data: Any) -> ATTgtResult:
        """Estimate every ATT(g,t) on ``data`` (a FirmPanel or long DataFrame)."""
        with single_thread_blas():
            return self._fit(data)

    def _fit(self, data: Any) -> ATTgtResult:
        self._check()
        cluster = self._cluster()
        df = as_frame(data)
        prep = core.prepare(
            df,
            outcome=self.outcome,
            cohort=self.cohort,
            unit=self.unit,
            time=self.time,
            covariates=self.covariates,
            weights=self.weights,
            cluster=cluster,
            stack=self.stack,
            anticipation=self.anticipation,
            allow_unbalanced=self.allow_unbalanced,
        )
        msgs = list(prep.messages)
        cells, dropped = core.enumerate_cells(
            prep, control=self.control, anticipation=self.anticipation, base_period=self.base_period
        )
        if dropped:
            core._warn(
                msgs,
                f"no valid control units for {len(dropped)} cell(s): {', '.join(dropped[:12])}"
                f"{' ...' if len(dropped) > 12 else ''}; "
                + (
                    "there are no never-treated units in those comparisons; try control='notyet'"
                    if self.control == "never"
                    else "every later cohort is already treated by then"
                ),
            )
        if not cells:
            raise EstimationError(
                f"no ATT(g,t) cell has a valid control group (control='{self.control}'): "
                "need never-treated units, or not-yet-treated units with control='notyet'"
            )
        if prep.x is None and prep.balanced:
            att, infl, counts = core.fast_cells(prep, cells)
        else:
            key = (
                "dr_traditional"
                if self.est == "dr" and self.dr_method == "traditional"
                else self.est
            )
            att, infl, counts, cmsg = core.general_cells(prep, cells, key)
            for m in cmsg:
                core._warn(msgs, m)
        ok = np.isfinite(att)
        if not ok.any():
            raise EstimationError(
                "no ATT(g,t) cell could be estimated: " + "; ".join(msgs[-3:] or ["see warnings"])
            )
        # cells whose estimation failed stay in the result as NaN (R did / csdid: NA), with a zero
        # influence function; aggte leaves them out and says so
        # cohorts with no estimable cell at all
        all_cohorts = np.unique(prep.group_cohort[prep.group_cohort > 0]).astype(int)
        got = {c.g for c in cells}
        lost = [int(g) for g in all_cohorts if g not in got]
        if lost:
            core._warn(
                msgs,
                f"cohort(s) {', '.join(map(str, lost))} have no valid control group in any period "
                "and are not estimated",
            )
        terms = [f"ATT({c.g},{c.t})" for c in cells]
        idx = pd.Index(terms, name="term")
        se_an = np.where(ok, infl.std_errors(), np.nan)
        V = infl.vcov()
        V[~ok, :] = np.nan
        V[:, ~ok] = np.nan
        rng = resolve_rng(self.seed)
        se = se_an
        crit = None
        n_boot = 0
        projection = None
        if self.bootstrap:
            projection = infl.project_draws(self.n_boot, rng, self.multiplier)
            br = multiplier_bootstrap(infl, rng=rng, alpha=1 - self.level, projection=projection)
            se, crit, n_boot = np.where(ok, br.std_errors, np.nan), br.crit_value, self.n_boot
        gvals = np.array([c.g for c in cells])
        tvals = np.array([c.t for c in cells])
        post = gvals <= tvals
        pretest = _wald_pretest(
            att[~post], infl.combine(np.eye(len(cells))[~post]), counts[~post, 0], msgs
        )
        shares = _cohort_shares(prep)
        seed = self.seed if isinstance(self.seed, (int, np.integer)) else None
        prov = make_provenance(
            "cs",
            df[[self.unit, self.time, self.cohort, self.outcome]],
            seed=seed,
            outcome=self.outcome,
            cohort=self.cohort,
            control=self.control,
            covariates=self.covariates,
            est=self.est,
            dr_method=self.dr_method,
            anticipation=self.anticipation,
            base_period=self.base_period,
            weights=self.weights,
            cluster=cluster,
            stack=self.stack,
            bootstrap=self.bootstrap,
            n_boot=self.n_boot if self.bootstrap else 0,
            multiplier=self.multiplier,
        )
        return ATTgtResult(
            params=pd.Series(att, index=idx, name="estimate"),
            std_errors=pd.Series(se, index=idx, name="std_error"),
            analytic_std_errors=pd.Series(se_an, index=idx, name="std_error"),
            se_type="bootstrap" if self.bootstrap else "analytic",
            nobs=prep.nobs,
            method="cs",
            provenance=prov,
            vcov=pd.DataFrame(V, index=idx, columns=idx),
            crit_value=crit,
            band_level=self.level,
            warnings=tuple(msgs),
            exclusions=dict(prep.exclusions),
            cohort=pd.Series(gvals, index=idx, name="cohort"),
            period=pd.Series(tvals, index=idx, name="period"),
            base=pd.Series([c.b for c in cells], index=idx, name="base"),
            post=pd.Series(post, index=idx, name="post"),
            n_treated=pd.Series(counts[:, 0], index=idx, name="n_treated"),
            n_control=pd.Series(counts[:, 1], index=idx, name="n_control"),
            influence=infl,
            cohort_shares=shares,
            group_cohort=prep.group_cohort,
            unit_ids=prep.unit_labels,
            boot_projection=projection,
            pretrend_detail=pretest,
            n_units=prep.n,
            control=self.control,
            est=self.est,
            anticipation=self.anticipation,
            base_period=self.base_period,
            level=self.level,
            n_boot=n_boot,
            multiplier=self.multiplier,
            seed=seed,
        )


def _cohort_shares(prep: core.Prepared) -> pd.Series:
    wsum = np.add.reduceat(prep.w, prep.starts[:-1]) if prep.n else np.zeros(0)
    df = pd.DataFrame({"cohort": prep.group_cohort, "w": wsum})
    s = df.groupby("cohort")["w"].sum() / prep.n
    s.index = s.index.astype(int)
    return s


#: Eigenvalues of the pre-test's correlation matrix below this fraction of the largest are treated as
#: zero (directions the estimates do not vary in); the test's degrees of freedom are the rest.
PRETEST_RTOL = 1e-8
#: Condition number of that correlation matrix above which the Wald statistic is flagged as unreliable.
PRETEST_MAX_CONDITION = 1e3
#: Pre-treatment cells resting on fewer treated units than this get the cell-level pre-test flagged.
PRETEST_MIN_TREATED = 30


def _wald(est: np.ndarray, V: np.ndarray) -> tuple[float, int, float]:
    """Wald statistic ``est' V^+ est`` with a relative eigenvalue cutoff on the correlation scale.

    Returns the statistic, the effective rank (its chi-squared degrees of freedom) and the condition
    number of the correlation matrix over the kept eigenvalues (exactly dependent estimates, such as
    two cells that are each other's negative, only reduce the rank). Estimates with zero variance are
    left out (normalisations); the correlation scale makes the cutoff independent of the cells' units.
    """
    d = np.sqrt(np.clip(np.diag(V), 0.0, None))
    ok = np.isfinite(d) & (d > 0) & np.isfinite(est)
    if not ok.any():
        return float("nan"), 0, float("nan")
    z = est[ok] / d[ok]
    C = V[np.ix_(ok, ok)] / np.outer(d[ok], d[ok])
    vals, vecs = np.linalg.eigh((C + C.T) / 2)
    top = float(vals.max(initial=0.0))
    keep = vals > PRETEST_RTOL * top
    rank = int(keep.sum())
    if rank == 0:
        return float("nan"), 0, float("nan")
    cond = top / float(vals[keep].min())
    proj = vecs[:, keep].T @ z
    return float((proj**2 / vals[keep]).sum()), rank, cond


def _wald_pretest(
    pre: np.ndarray, infl: InfluenceFunction, n_treated: np.ndarray, msgs: list[str]
) -> dict[str, float]:
    """Cell-level pre-test: joint Wald test that every pre-treatment ATT(g,t) is zero (R did's).

    The chi-squared reference is only trustworthy when the cells' covariance is well estimated: with
    many pre-treatment cells resting on small cohorts it is nearly singular and the test over-rejects
    (the event-study pre-test of :func:`aggte` with ``type="dynamic"`` is then the one to read). Such
    cases are reported in ``msgs`` (and warned about).
    """
    out = {
        "stat": float("nan"),
        "df": 0.0,
        "p_value": float("nan"),
        "n_cells": float(pre.size),
        "rank": 0.0,
        "condition": float("nan"),
        "min_treated": float(n_treated.min()) if n_treated.size else float("nan"),
    }
    if pre.size == 0:
        return out
    stat, rank, cond = _wald(pre, infl.vcov())
    out.update(rank=float(rank), condition=cond)
    if rank == 0:
        return out
    out.update(stat=stat, df=float(rank), p_value=float(stats.chi2.sf(stat, rank)))
    problems = []
    if not cond <= PRETEST_MAX_CONDITION:
        problems.append(
            f"their correlation matrix is ill-conditioned (condition number {cond:.3g}, "
            f"effective rank {rank})"
        )
    few = int((n_treated < PRETEST_MIN_TREATED).sum())
    if few:
        problems.append(
            f"{few} cell(s) rest on fewer than {PRETEST_MIN_TREATED} treated units "
            f"(smallest: {int(n_treated.min())})"
        )
    if problems:
        core._warn(
            msgs,
            f"the Wald pre-test on all {pre.size} pre-treatment ATT(g,t) cells is unreliable: "
            + "; ".join(problems)
            + ". Its covariance is poorly estimated and the test over-rejects; read the event-study "
            "pre-test instead: aggte(result, 'dynamic').pretrend",
        )
    return out


@accept_r_names
@renamed_kwargs(**_RENAMED)
def att_gt(
    data: Any,
    outcome: str,
    cohort: str = "treat_year",
    unit: str = "firm_id",
    time: str = "year",
    control: ControlGroup = "never",
    covariates: list[str] | tuple[str, ...] | None = None,
    est: EstMethod = "dr",
    anticipation: int = 0,
    base_period: BasePeriod = "varying",
    panel: bool = True,
    allow_unbalanced: bool = False,
    weights: str | None = None,
    cluster: str | None = None,
    stack: str | None = None,
    n_boot: int = 0,
    multiplier: Multiplier = "mammen",
    seed: int | np.random.Generator | None = None,
    level: float = 0.95,
    dr_method: DRMethod = "improved",
) -> ATTgtResult:
    """Group-time average treatment effects (Callaway & Sant'Anna 2021).

    Estimand: ``ATT(g,t) = E[Y_t(g) - Y_t(0) | G = g]``, the average effect in period ``t`` on the units
    first treated in period ``g``. Identification: (conditional) parallel trends between cohort ``g`` and
    the comparison group (never-treated units, or not-yet-treated units), no anticipation beyond
    ``anticipation`` periods, and overlap. Each cell is a 2x2 DiD between ``t`` and a base period ``b``:
    the last period before ``g - anticipation`` for post-treatment cells (and for every cell with
    ``base_period="universal"``), the period before ``t`` for pre-treatment cells otherwise.

    Parameters
    ----------
    data
        A FirmPanel or a long DataFrame (one row per unit and period).
    outcome
        Outcome column.
    cohort
        First-treatment period of each unit; 0 or missing = never treated. Must be constant within unit.
    unit, time
        Unit and (consecutive integer) period columns.
    control
        ``"never"`` (never-treated units) or ``"notyet"`` (also units first treated after
        ``max(t, b) + anticipation``).
    covariates
        Pre-treatment covariates (values in the base period are used). Without covariates every
        ``est`` gives the unconditional DiD.
    est
        ``"dr"``: improved locally efficient doubly robust estimator (Sant'Anna & Zhao 2020, inverse
        probability tilting + weighted outcome regression); ``"ipw"``: normalised (Hajek) IPW with a
        logit propensity score; ``"reg"``: outcome regression on the controls. Controls with a
        propensity score of 0.995 or more get no weight (ipw/dr), as in DRDID.
    dr_method
        ``"improved"`` (default; Sant'Anna & Zhao's recommended estimator, doubly robust for inference
        too) or ``"traditional"`` (logit MLE + OLS with both estimation effects in the influence
        function: DRDID's ``drdid_panel``, what csdid runs for ``est_method="dr"``).
    anticipation
        Number of periods before ``g`` in which units may already react.
    base_period
        ``"varying"`` (R did's default) or ``"universal"``.
    panel
        Must be True (repeated cross-sections are not supported).
    allow_unbalanced
        Keep units not observed in every period; each cell then uses the units observed in both ``t`` and
        ``b`` (R did instead switches to repeated-cross-section estimators, so results differ there).
        Without it such units are dropped (with a warning, counted in ``exclusions``).
    weights
        Sampling (or matching) weights, constant within unit; normalised to mean one.
    cluster
        Column to cluster on (constant within unit); default: the unit (the firm in a stacked panel).
    stack
        Stack id of a cohort-stacked (matched) panel: units are (stack, unit) pairs and every cell only
        compares units within the stacks of its cohort.
    n_boot, multiplier, seed, level
        ``n_boot > 0``: the multiplier bootstrap with ``n_boot`` draws and a uniform band at ``level``
        (``0``, the default: analytic standard errors); seeded and
        reproducible. ``multiplier="mammen"`` (default here: Mammen's two-point law, mean 0, variance
        and third moment 1) or ``"rademacher"`` (random signs: what R did and csdid draw; choose it to
        reproduce their bootstrap). Both give valid standard errors; draws differ, so bootstrap SEs and
        bands agree with R did's only up to Monte Carlo error. Without it, standard errors are analytic
        and no uniform band is computed.

    Returns
    -------
    ATTgtResult
        Terms ``ATT(g,t)``; see :func:`aggte` for aggregations.

    Notes
    -----
    R did / csdid keyword names are accepted as aliases: ``yname``, ``tname``, ``idname``/``ivar``,
    ``gname``/``gvar``, ``control_group`` (``"nevertreated"``/``"notyettreated"``), ``est_method``,
    ``weightsname``, ``bstrap``, ``biters``, ``allow_unbalanced_panel``, ``alp``; ``xformla`` and
    ``clustervars`` raise an error that names the argument to use.
    """
    return CallawaySantAnna(
        outcome,
        cohort=cohort,
        unit=unit,
        time=time,
        control=control,
        covariates=covariates,
        est=est,
        dr_method=dr_method,
        anticipation=anticipation,
        base_period=base_period,
        panel=panel,
        allow_unbalanced=allow_unbalanced,
        weights=weights,
        cluster=cluster,
        stack=stack,
        n_boot=n_boot,
        multiplier=multiplier,
        seed=seed,
        level=level,
    ).fit(data)


# -------------------------------------------------------------------------------------------------
# aggregation
# -------------------------------------------------------------------------------------------------
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


@renamed_kwargs(**_RENAMED)
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
    multiplier = multiplier if multiplier is not None else result.multiplier  # type: ignore[assignment]
    level = level if level is not None else result.level
    alpha = 1 - level
    if seed is None:
        seed = result.seed

    att = result.params.to_numpy(dtype=float)
    valid = np.isfinite(att)  # NaN cells (failed estimation) are left out of every aggregation
    att = np.where(valid, att, 0.0)
    g = result.cohort.to_numpy()
    t = result.period.to_numpy()
    pg_map = result.cohort_shares
    pg = np.array([pg_map.loc[int(v)] for v in g], dtype=float)
    wrows, const = _weight_coef(result)
    infl = result.influence
    K = att.size
    post = (g <= t) & (t <= g + max_e)
    wanted = post  # cells this aggregation would use (to report the NaN ones left out)

    names: list[str] = []
    thetas: list[float] = []
    mats: list[np.ndarray] = []
    extras: list[np.ndarray] = []
    xs: list[float] = []
    counts: list[float] = []
    nt = result.n_treated.to_numpy(dtype=float)
    zero = np.zeros_like(const)

    def add(name: str, theta: float, wvec: np.ndarray, extra: np.ndarray, x: float | None) -> None:
        names.append(name)
        thetas.append(theta)
        mats.append(wvec)
        extras.append(extra)
        if x is not None:
            xs.append(x)

    x_label = ""
    reference = None
    if type == "simple":
        if not (post & valid).any():
            raise EstimationError("no post-treatment ATT(g,t) cells to aggregate")
        th, wv, ex = _weighted(post & valid, att, pg, g, wrows, const)
        add("simple", th, wv, ex, None)
    elif type == "group":
        x_label = "Cohort (first year treated)"
        glist = np.unique(g)
        gelems: list[tuple[int, float, np.ndarray]] = []
        for gg in glist:
            sel = post & (g == gg) & valid
            if not sel.any():
                continue
            wv = sel / sel.sum()
            gelems.append((int(gg), float(wv @ att), wv))
            counts.append(float(nt[sel].max()))
        if not gelems:
            raise EstimationError("no post-treatment ATT(g,t) cells to aggregate")
        pgg = np.array([pg_map.loc[e[0]] for e in gelems])
        th_g = np.array([e[1] for e in gelems])
        s = pgg.sum()
        overall = float(pgg @ th_g / s)
        wv = sum(pgg[i] / s * gelems[i][2] for i in range(len(gelems)))
        ex = np.zeros_like(const)
        for i, e in enumerate(gelems):
            ex += (th_g[i] - overall) / s * (wrows[e[0]] - pgg[i] * const)
        add("group", overall, np.asarray(wv), ex, None)
        for e in gelems:
            add(f"group:{e[0]}", e[1], e[2], zero, float(e[0]))
    elif type == "dynamic":
        x_label = "Periods since treatment"
        e_cell = t - g
        include = np.ones(K, dtype=bool)
        if balance_e is not None:
            include = (t.max() - g) >= balance_e
            eseq = np.unique(e_cell[include])
            eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - t.max() + t.min())]
        else:
            eseq = np.unique(e_cell)
        eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
        wanted = include & np.isin(e_cell, eseq)
        eseq = np.unique(e_cell[wanted & valid])
        if eseq.size == 0:
            raise EstimationError("no event times left to aggregate (check balance_e/min_e/max_e)")
        elems: list[tuple[int, float, np.ndarray, np.ndarray]] = []
        for e in eseq:
            sel = (e_cell == e) & include & valid
            th, wv, ex = _weighted(sel, att, pg, g, wrows, const)
            elems.append((int(e), th, wv, ex))
            counts.append(float(nt[sel].sum()))
        postel = [el for el in elems if el[0] >= 0]
        if postel:
            m = len(postel)
            overall = float(np.mean([el[1] for el in postel]))
            w_all = np.sum([el[2] for el in postel], axis=0) / m
            ex_all = np.sum([el[3] for el in postel], axis=0) / m
            add("dynamic", overall, w_all, ex_all, None)
        for el in elems:
            add(f"dynamic:{el[0]}", el[1], el[2], el[3], float(el[0]))
        if result.base_period == "universal":
            reference = float(-1 - result.anticipation)
    else:  # calendar
        x_label = "Calendar period"
        celems: list[tuple[int, float, np.ndarray, np.ndarray]] = []
        for tt in np.unique(t[post & valid]):
            sel = post & (t == tt) & valid
            th, wv, ex = _weighted(sel, att, pg, g, wrows, const)
            celems.append((int(tt), th, wv, ex))
            counts.append(float(nt[sel].sum()))
        if not celems:
            raise EstimationError("no post-treatment ATT(g,t) cells to aggregate")
        m = len(celems)
        overall = float(np.mean([el[1] for el in celems]))
        add(
            "calendar",
            overall,
            np.sum([el[2] for el in celems], axis=0) / m,
            np.sum([el[3] for el in celems], axis=0) / m,
            None,
        )
        for el in celems:
            add(f"calendar:{el[0]}", el[1], el[2], el[3], float(el[0]))

    excluded = tuple(str(nm) for nm in result.params.index[wanted & ~valid])
    warns = result.warnings
    if excluded:
        msg = (
            f"aggte(type='{type}') leaves out {len(excluded)} ATT(g,t) cell(s) that are NaN (their "
            f"estimation failed; see the att_gt warnings): {', '.join(excluded)}"
        )
        warnings.warn(msg, EstimationWarning, stacklevel=3)
        warns = (*warns, msg)
    W = np.vstack(mats)
    agg_infl = infl.combine(W, extra=np.vstack(extras))
    idx = pd.Index(names, name="term")
    V_agg = agg_infl.vcov()
    se_an = np.sqrt(np.clip(np.diag(V_agg), 0.0, None))
    se = se_an
    crit = None
    projection = None
    if boot:
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
            projection = result.boot_projection
        else:
            projection = agg_infl.project_draws(n_boot, resolve_rng(seed), multiplier)
        br = multiplier_bootstrap(
            agg_infl, rng=resolve_rng(0), alpha=alpha, band=band, projection=projection
        )
        se, crit = br.std_errors, br.crit_value
    pretest = None
    if type == "dynamic":
        e_of = {nm: int(nm.split(":", 1)[1]) for nm in names if ":" in nm}
        lead_names = [
            nm
            for nm, e in e_of.items()
            if e < -result.anticipation and (reference is None or e != reference)
        ]
        pretest = _dynamic_pretest(
            lead_names,
            names,
            np.asarray(thetas),
            V_agg,
            dict(zip([nm for nm in names if ":" in nm], counts, strict=True)),
            agg_infl,
            projection,
            se if boot else None,
        )
    elem_names = [nm for nm in names if ":" in nm]
    x = pd.Series(xs, index=pd.Index(elem_names, name="term"), name="x", dtype=float)
    cnt = pd.Series(counts, index=x.index, dtype=float) if counts else None
    prov = replace(
        result.provenance,
        method=f"cs:{type}",
        options={
            **result.provenance.options,
            "aggregation": type,
            "balance_e": balance_e,
            "min_e": None if not np.isfinite(min_e) else min_e,
            "max_e": None if not np.isfinite(max_e) else max_e,
            "aggte_bootstrap": boot,
        },
    )
    return AggteResult(
        params=pd.Series(thetas, index=idx, name="estimate"),
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
        x_label=x_label,
        reference=reference,
        counts=cnt,
        type=type,
        overall=type,
        influence=agg_infl,
        balance_e=balance_e,
        min_e=min_e,
        max_e=max_e,
        pretrend_detail=pretest,
        excluded_cells=excluded,
    )


def _dynamic_pretest(
    leads: list[str],
    names: list[str],
    theta: np.ndarray,
    V: np.ndarray,
    counts: dict[str, float],
    infl: InfluenceFunction,
    projection: np.ndarray | None,
    boot_se: np.ndarray | None,
) -> dict[str, Any]:
    """Joint test that the event-study leads ``leads`` are zero: chi-squared Wald on the aggregated
    influence-function covariance and, given bootstrap draws of the basis, the sup-t test."""
    out: dict[str, Any] = {
        "stat": float("nan"),
        "df": 0.0,
        "p_value": float("nan"),
        "terms": list(leads),
        "min_treated": min((counts[nm] for nm in leads), default=float("nan")),
    }
    if not leads:
        return out
    pos = np.array([names.index(nm) for nm in leads])
    stat, rank, _ = _wald(theta[pos], V[np.ix_(pos, pos)])
    if rank > 0:
        out.update(stat=stat, df=float(rank), p_value=float(stats.chi2.sf(stat, rank)))
    if projection is not None and boot_se is not None:
        se = boot_se[pos]
        ok = np.isfinite(se) & (se > 0)
        if ok.any():
            draws = projection @ infl.coef[pos[ok]].T
            tmax = np.max(np.abs(draws) / se[ok], axis=1)
            sup = float(np.max(np.abs(theta[pos[ok]]) / se[ok]))
            out.update(
                sup_t=sup,
                sup_t_p_value=float(np.mean(tmax >= sup)),
                n_boot=int(projection.shape[0]),
            )
    return out
