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

from typing import Any

import numpy as np
import pandas as pd

from clusterimpact._renamed import renamed_kwargs
from clusterimpact._validation import as_frame, check_choice, resolve_rng
from clusterimpact.errors import EstimationError, SpecError
from clusterimpact.estimation._r_names import accept_r_names
from clusterimpact.estimation.cs import core
from clusterimpact.estimation.cs.options import (
    BASES,
    CONTROLS,
    DR_METHODS,
    DRAWS,
    ESTS,
    RENAMED,
    Backend,
    BasePeriod,
    ControlGroup,
    Draws,
    DRMethod,
    EstMethod,
)
from clusterimpact.estimation.cs.pretest import wald_pretest
from clusterimpact.estimation.cs.result import ATTgtResult
from clusterimpact.estimation.influence import (
    MULTIPLIERS,
    InfluenceFunction,
    Multiplier,
    firm_keys,
    firm_seed,
    multiplier_bootstrap,
    project_firm_draws,
    single_thread_blas,
)
from clusterimpact.provenance import Provenance, make_provenance

__all__ = ["CallawaySantAnna", "att_gt"]


class CallawaySantAnna:
    """Callaway & Sant'Anna (2021) ATT(g,t) estimator (settings only; :meth:`fit` estimates).

    See :func:`att_gt` for the parameters. :meth:`fit` reads the settings and never changes them.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel()
    >>> from clusterimpact.estimation.staggered import CallawaySantAnna
    >>> estimator = CallawaySantAnna(outcome="ln_lp", cohort="treat_year", control="never",
    ...                              est="reg", allow_unbalanced=True)
    >>> result = estimator.fit(df)  # a new ATTgtResult; the estimator's settings are unchanged
    >>> result.control, result.est
    ('never', 'reg')
    """

    @renamed_kwargs(**RENAMED)
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
        small_sample: bool = False,
        draws: Draws = "stream",
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
        self.small_sample = small_sample
        self.draws = draws

    def _check(self) -> None:
        check_choice("control", self.control, CONTROLS)
        check_choice("est", self.est, ESTS)
        check_choice("dr_method", self.dr_method, DR_METHODS)
        check_choice("base_period", self.base_period, BASES)
        check_choice("multiplier", self.multiplier, MULTIPLIERS)
        check_choice("draws", self.draws, DRAWS)
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

    def fit(self, data: Any, backend: Backend = "memory") -> ATTgtResult:
        """Estimate every ATT(g,t) on ``data`` (a FirmPanel, a long DataFrame or firm partitions).

        ``backend="dask"`` (or ``data`` given as :class:`~clusterimpact.dask.FirmPartitions` or a Dask
        DataFrame) computes on Dask (the running client, else a local cluster for the call): the
        same result to roundoff, the bootstrap with per-firm multipliers (``draws="firm"``). The
        backend is an argument of ``fit``, not a setting: the same estimator runs on either.
        """
        from clusterimpact.dask import wants_dask

        with single_thread_blas():
            if wants_dask(data, backend):
                return self._fit_dask(data)
            return self._fit(data)

    def _fit_dask(self, data: Any) -> ATTgtResult:
        from clusterimpact.dask import as_partitions, compute_context
        from clusterimpact.estimation.cs import _dask

        self._check()
        cluster = self._cluster()
        _dask.check_dask_options(cluster, self.stack)
        fp = as_partitions(data, self.unit, self.time)
        opts = _dask._Opts(
            self.outcome, self.cohort, self.unit, self.time, list(self.covariates),
            self.weights, self.anticipation, self.allow_unbalanced,
        )  # fmt: skip
        msgs: list[str] = []
        with compute_context():
            dp = _dask.dask_prepare(fp, opts, msgs)
            cells = self._cells(dp, msgs)  # type: ignore[arg-type]
            boot = (
                _dask._Boot(self.n_boot, firm_seed(self.seed), self.multiplier)
                if self.bootstrap
                else None
            )
            att, infl, counts, proj, wsum, cmsg = _dask.dask_cells(
                dp, cells, self._est_key(), self.small_sample, boot
            )
        for m in cmsg:
            core.note(msgs, m)
        self._check_estimated(dp, cells, att, msgs)  # type: ignore[arg-type]
        ok = np.isfinite(att)
        se, crit = np.where(ok, infl.std_errors(), np.nan), None
        if proj is not None:
            br = multiplier_bootstrap(
                infl, rng=resolve_rng(0), alpha=1 - self.level, projection=proj
            )
            se, crit = np.where(ok, br.std_errors, np.nan), br.crit_value
        post = np.array([c.g <= c.t for c in cells])
        pretest = wald_pretest(
            att[~post], infl.combine(np.eye(len(cells))[~post]), counts[~post, 0], msgs
        )
        shares = _shares(dp.group_cohort, wsum, dp.n)
        prov = self._provenance(None, cluster, backend="dask")
        return self._result(
            dp, cells, att, infl, counts, se, crit, proj, pretest, msgs, prov, shares,  # type: ignore[arg-type]
        )  # fmt: skip

    def _est_key(self) -> str:
        return (
            "dr_traditional" if self.est == "dr" and self.dr_method == "traditional" else self.est
        )

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
        cells = self._cells(prep, msgs)
        att, infl, counts = self._estimate(prep, cells, msgs)
        # cells whose estimation failed stay in the result as NaN (R did / csdid: NA), with a zero
        # influence function; aggte leaves them out and says so
        ok = np.isfinite(att)
        se, crit, projection = self._bootstrap(infl, ok, prep)
        post = np.array([c.g <= c.t for c in cells])
        pretest = wald_pretest(
            att[~post], infl.combine(np.eye(len(cells))[~post]), counts[~post, 0], msgs
        )
        return self._result(
            prep, cells, att, infl, counts, se, crit, projection, pretest, msgs,
            self._provenance(df, cluster),
        )  # fmt: skip

    def _cells(self, prep: core.Prepared, msgs: list[str]) -> list[core.Cell]:
        """The ATT(g,t) cells with a valid control group (the others are warned about)."""
        cells, dropped = core.enumerate_cells(
            prep, control=self.control, anticipation=self.anticipation, base_period=self.base_period
        )
        if dropped:
            core.note(
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
        return cells

    def _estimate(
        self, prep: core.Prepared, cells: list[core.Cell], msgs: list[str]
    ) -> tuple[np.ndarray, InfluenceFunction, np.ndarray]:
        """Every cell's estimate, their influence functions and (treated, control) counts."""
        if prep.x is None and prep.balanced:
            att, infl, counts = core.fast_cells(prep, cells, small_sample=self.small_sample)
        else:
            att, infl, counts, cmsg = core.general_cells(
                prep, cells, self._est_key(), small_sample=self.small_sample
            )
            for m in cmsg:
                core.note(msgs, m)
        self._check_estimated(prep, cells, att, msgs)
        return att, infl, counts

    def _check_estimated(
        self, prep: core.Prepared, cells: list[core.Cell], att: np.ndarray, msgs: list[str]
    ) -> None:
        """Some cell estimated (else an error); the cohorts without any cell are said."""
        if not np.isfinite(att).any():
            raise EstimationError(
                "no ATT(g,t) cell could be estimated: " + "; ".join(msgs[-3:] or ["see warnings"])
            )
        # cohorts with no estimable cell at all
        all_cohorts = np.unique(prep.group_cohort[prep.group_cohort > 0]).astype(int)
        got = {c.g for c in cells}
        lost = [int(g) for g in all_cohorts if g not in got]
        if lost:
            core.note(
                msgs,
                f"cohort(s) {', '.join(map(str, lost))} have no valid control group in any period "
                "and are not estimated",
            )

    def _bootstrap(
        self, infl: InfluenceFunction, ok: np.ndarray, prep: core.Prepared
    ) -> tuple[np.ndarray, float | None, np.ndarray | None]:
        """Standard errors (analytic, or the multiplier bootstrap's), the uniform band's critical
        value and the bootstrap draws of the basis (``None`` when analytic)."""
        se = np.where(ok, infl.std_errors(), np.nan)
        if not self.bootstrap:
            return se, None, None
        rng = resolve_rng(self.seed)
        if self.draws == "firm":
            projection = project_firm_draws(
                infl.basis,
                boot_keys(prep.unit_labels, infl.basis.n_clusters),
                self.n_boot,
                firm_seed(self.seed),
                self.multiplier,
            ) / float(infl.n)
        else:
            projection = infl.project_draws(self.n_boot, rng, self.multiplier)
        br = multiplier_bootstrap(infl, rng=rng, alpha=1 - self.level, projection=projection)
        return np.where(ok, br.std_errors, np.nan), br.crit_value, projection

    def _provenance(
        self, df: pd.DataFrame | None, cluster: str | None, backend: str = "memory"
    ) -> Provenance:
        extra = {"backend": backend, "draws": "firm"} if backend == "dask" else {}
        if self.draws == "firm":
            extra["draws"] = "firm"
        return make_provenance(
            "cs",
            None if df is None else df[[self.unit, self.time, self.cohort, self.outcome]],
            **extra,
            seed=self._int_seed(),
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

    def _int_seed(self) -> int | None:
        return self.seed if isinstance(self.seed, (int, np.integer)) else None

    def _result(
        self,
        prep: core.Prepared,
        cells: list[core.Cell],
        att: np.ndarray,
        infl: InfluenceFunction,
        counts: np.ndarray,
        se: np.ndarray,
        crit: float | None,
        projection: np.ndarray | None,
        pretest: dict[str, float],
        msgs: list[str],
        prov: Provenance,
        shares: pd.Series | None = None,
    ) -> ATTgtResult:
        ok = np.isfinite(att)
        idx = pd.Index([f"ATT({c.g},{c.t})" for c in cells], name="term")
        se_an = np.where(ok, infl.std_errors(), np.nan)
        V = infl.vcov()
        V[~ok, :] = np.nan
        V[:, ~ok] = np.nan
        gvals = np.array([c.g for c in cells])
        tvals = np.array([c.t for c in cells])
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
            post=pd.Series(gvals <= tvals, index=idx, name="post"),
            n_treated=pd.Series(counts[:, 0], index=idx, name="n_treated"),
            n_control=pd.Series(counts[:, 1], index=idx, name="n_control"),
            influence=infl,
            cohort_shares=_cohort_shares(prep) if shares is None else shares,
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
            n_boot=self.n_boot if self.bootstrap else 0,
            multiplier=self.multiplier,
            seed=self._int_seed(),
            draws="firm" if prov.options.get("draws") == "firm" else "stream",
        )


def boot_keys(unit_ids: np.ndarray | None, n_clusters: int) -> np.ndarray:
    """The keys of the bootstrap's clusters for ``draws="firm"``: the firms' ids when every unit is
    its own cluster, else the cluster codes."""
    if unit_ids is not None and len(unit_ids) == n_clusters:
        return firm_keys(unit_ids)
    return firm_keys(np.arange(n_clusters))


def _cohort_shares(prep: core.Prepared) -> pd.Series:
    """``P(G = g)``: the weighted share of units in each cohort."""
    wsum = np.add.reduceat(prep.w, prep.starts[:-1]) if prep.n else np.zeros(0)
    return _shares(prep.group_cohort, wsum, prep.n)


def _shares(group_cohort: np.ndarray, wsum: np.ndarray, n: int) -> pd.Series:
    """Cohort shares from the groups' weight sums (additive: the Dask path sums them)."""
    df = pd.DataFrame({"cohort": group_cohort, "w": wsum})
    s = df.groupby("cohort")["w"].sum() / n
    s.index = s.index.astype(int)
    return s


@accept_r_names
@renamed_kwargs(**RENAMED)
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
    small_sample: bool = False,
    draws: Draws = "stream",
    backend: Backend = "memory",
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
    draws
        Multipliers of the bootstrap: ``"stream"`` (default: one random stream over the clusters) or
        ``"firm"`` (each firm's multiplier in draw ``b`` is a hash of ``(seed, firm id, b)``, so the
        draws do not depend on the order or partitioning of the firms; the Dask path always uses
        these). Needs an integer ``seed`` to be reproducible.
    backend
        ``"memory"`` (default) or ``"dask"``: see :meth:`CallawaySantAnna.fit`. ``cluster`` and
        ``stack`` are not supported on Dask yet (a ``SpecError``).
    small_sample
        Scale each cell's treated influence entries by ``sqrt(n_d / (n_d - 1))`` (``n_d >= 2`` treated
        units in the cell): the treated variance is then the unbiased one instead of the mean of
        squared deviations from the cell's own treated mean. Off by default (R did / csdid);
        :func:`~clusterimpact.estimation.heterogeneity.subgroup_effects` turns it on, where cohorts
        of a handful of firms otherwise make the standard errors too small.

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

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel()
    >>> cs = ci.att_gt(df, outcome="ln_lp", cohort="treat_year", control="notyet", allow_unbalanced=True)
    >>> cs.params.index[0]  # one ATT(g, t) per joining cohort g and year t
    'ATT(2011,2009)'
    >>> simple = ci.aggte(cs, "simple")
    >>> simple.params.index.tolist()
    ['simple']
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
        small_sample=small_sample,
        draws=draws,
    ).fit(data, backend=backend)
