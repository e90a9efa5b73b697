"""Side-by-side staggered-DiD estimators on the same data: TWFE, Callaway-Sant'Anna, Sun-Abraham,
Borusyak-Jaravel-Spiess imputation (and the Goodman-Bacon decomposition of TWFE).

``compare_estimators`` runs each estimator on one panel and returns a :class:`ComparisonResult` whose
``tidy()`` frame (estimator, term, estimate, std_error, conf_low, conf_high, nobs) and ``table()`` feed the
report. Terms are shared: ``simple`` for the overall ATT (TWFE: the static coefficient) and ``dynamic:e``
for event-time effects (TWFE: the event-study dummies ``rel_year::e``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from clusterimpact._cohort import cohort_years
from clusterimpact._validation import as_frame, check_choice, require_columns
from clusterimpact.errors import ClusterImpactError, EstimationWarning, SpecError
from clusterimpact.results import EstimateResult

__all__ = ["ESTIMATORS", "ComparisonResult", "compare_estimators"]

ESTIMATORS = ("twfe", "cs", "sa", "imputation")
LABELS = {
    "twfe": "TWFE",
    "cs": "Callaway-Sant'Anna",
    "sa": "Sun-Abraham",
    "imputation": "Imputation (BJS)",
}
FRAME_COLUMNS = [
    "estimator",
    "label",
    "term",
    "estimate",
    "std_error",
    "conf_low",
    "conf_high",
    "p_value",
    "nobs",
]
Terms = Literal["simple", "dynamic"]


@dataclass(frozen=True)
class ComparisonResult:
    """Results of several estimators on the same data.

    Attributes
    ----------
    results
        Estimator key (``twfe``, ``cs``, ``sa``, ``imputation``) -> its result object.
    frame
        Tidy rows: estimator, label, term, estimate, std_error, conf_low, conf_high, p_value, nobs.
    bacon
        Goodman-Bacon decomposition of the TWFE coefficient (None when not computed).
    failures
        Estimators that could not run, with the reason.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> cmp = ci.compare_estimators(example_panel(), "ln_lp", estimators=["twfe", "imputation"],
    ...                             bacon=False)
    >>> sorted(cmp.results), cmp.failures
    (['imputation', 'twfe', 'twfe_event_study'], {})
    """

    results: dict[str, EstimateResult]
    frame: pd.DataFrame
    bacon: Any = None
    failures: dict[str, str] = field(default_factory=dict)

    def tidy(self, terms: Sequence[str] | None = None) -> pd.DataFrame:
        """The tidy comparison frame, optionally restricted to ``terms``."""
        if terms is None:
            return self.frame.copy()
        return self.frame[self.frame["term"].isin(list(terms))].reset_index(drop=True)

    def overall(self) -> pd.DataFrame:
        """One row per estimator: the overall ATT (term ``simple``)."""
        return self.tidy(["simple"])

    def overall_rows(self) -> pd.DataFrame:
        """The overall estimates with the display label as ``estimator``: the rows a comparison table
        shows (:func:`clusterimpact.tables.comparison_table` accepts this result directly)."""
        return self.overall().drop(columns=["estimator"]).rename(columns={"label": "estimator"})

    def table(self, fmt: str | None = None, *, truth: float | None = None, digits: int = 3) -> Any:
        """The comparison table of the overall estimates.

        A presentation shortcut, like :meth:`plot`: it hands this result to
        :func:`clusterimpact.tables.comparison_table`, which makes the table (the estimation layer
        computes, the tables layer above it formats).
        """
        from clusterimpact import tables  # the layer above: imported only when a table is asked for

        return tables.comparison_table(self, fmt=fmt, truth=truth, digits=digits)  # type: ignore[arg-type]

    def plot(self, **kwargs: Any) -> Any:
        """Draw the comparison with :func:`clusterimpact.plotting.plot_estimator_comparison`."""
        from clusterimpact.plotting import plot_estimator_comparison

        return plot_estimator_comparison(self, **kwargs)

    def _repr_html_(self) -> str:
        """Jupyter's rich display: the comparison table of the overall estimates."""
        return str(self.table(fmt="html"))

    def profile(self) -> pd.DataFrame:
        """Event-time rows of every estimator (x = e), for plotting side by side."""
        d = self.frame[self.frame["term"].str.startswith("dynamic:")].copy()
        d["x"] = d["term"].str.slice(len("dynamic:")).astype(float)
        return d.sort_values(["estimator", "x"], kind="mergesort").reset_index(drop=True)


def compare_estimators(
    data: Any,
    outcome: str,
    cohort: str = "treat_year",
    unit: str = "firm_id",
    time: str = "year",
    *,
    estimators: Sequence[str] = ESTIMATORS,
    terms: Terms = "dynamic",
    control: Literal["never", "notyet"] = "never",
    covariates: Sequence[str] | None = None,
    est: Literal["dr", "ipw", "reg"] = "dr",
    weights: str | None = None,
    cluster: str | None = None,
    window: tuple[int, int] | None = None,
    bacon: bool = True,
    allow_unbalanced: bool = True,
    level: float = 0.95,
) -> ComparisonResult:
    """Run TWFE, Callaway-Sant'Anna, Sun-Abraham and imputation on the same panel.

    Estimands: ``simple`` is each estimator's overall ATT (TWFE: the static coefficient on
    ``1{t >= G}``, a variance-weighted average that can be biased under heterogeneous effects; CS: the
    cohort-size-weighted post-treatment average; SA: the observation-weighted average of cohort x
    period effects; imputation: the average over treated observations); ``dynamic:e`` the event-time
    effects. Identification as in each estimator's docstring.

    Parameters
    ----------
    data
        FirmPanel or long DataFrame.
    outcome, cohort, unit, time
        Columns (cohort: first treatment period, 0 or missing = never treated).
    estimators
        Which of ``twfe``, ``cs``, ``sa``, ``imputation`` to run.
    terms
        ``"simple"`` (overall only) or ``"dynamic"`` (overall and event-time terms).
    control
        Comparison group for CS (``never``/``notyet``); SA uses never-treated units (or the last cohort
        when there are none); TWFE and imputation use all untreated observations.
    covariates, est
        CS covariates and estimation method.
    weights
        Sampling / matching weights (TWFE, CS, SA).
    cluster
        Cluster column (default the unit).
    window
        Event-time window ``(lo, hi)`` for the TWFE event study and SA (default: all).
    bacon
        Also compute the Goodman-Bacon decomposition of the TWFE coefficient (without weights; on the
        balanced part of the panel).
    allow_unbalanced
        CS keeps units not observed every period (each cell uses the units observed in its two periods),
        so that all estimators use the same firms; False drops them (R did's default).
    level
        Confidence level of the intervals.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> cmp = ci.compare_estimators(example_panel(), "ln_lp", control="notyet", window=(-3, 3))
    >>> cmp.overall()["estimator"].tolist()
    ['twfe', 'cs', 'sa', 'imputation']
    >>> cmp.bacon is not None  # the Goodman-Bacon decomposition of the TWFE coefficient
    True
    """
    check_choice("terms", terms, ("simple", "dynamic"))
    for e in estimators:
        check_choice("estimator", e, ESTIMATORS)
    df0 = as_frame(data)
    require_columns(df0, [unit, time, cohort, outcome], what="compare_estimators")
    g = cohort_years(df0[cohort], column=cohort)
    t = pd.to_numeric(df0[time], errors="coerce").to_numpy(dtype=float)
    rel = np.where(g > 0, t - g, np.nan)
    if window is None and np.isfinite(rel).any():
        window = (int(np.nanmin(rel)), int(np.nanmax(rel)))
    run = _Run(
        df0=df0,
        df=df0.assign(_did_treated=((g > 0) & (t >= g)).astype(int)),
        outcome=outcome,
        cohort=cohort,
        unit=unit,
        time=time,
        g=g,
        t=t,
        terms=terms,
        level=level,
        window=window,
        weights=weights,
        cluster=cluster,
    )
    runners = {
        "twfe": _run_twfe,
        "cs": lambda r: _run_cs(r, control, covariates, est, allow_unbalanced),
        "sa": _run_sa,
        "imputation": _run_imputation,
    }
    for key in estimators:
        try:
            runners[key](run)
        except (ClusterImpactError, ValueError, np.linalg.LinAlgError) as exc:
            run.failures[key] = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"{key} failed: {exc}", EstimationWarning, stacklevel=2)
    if not run.rows:
        raise SpecError(f"no estimator could run: {run.failures}")
    frame = pd.concat(run.rows, ignore_index=True)[FRAME_COLUMNS]
    bd = None
    if bacon and "twfe" in estimators:
        from clusterimpact.estimation.bacon import bacon_decomposition

        try:
            bd = bacon_decomposition(df0, outcome, cohort=cohort, unit=unit, time=time)
        except ClusterImpactError as exc:
            run.failures["bacon"] = f"{type(exc).__name__}: {exc}"
    return ComparisonResult(results=run.results, frame=frame, bacon=bd, failures=run.failures)


@dataclass
class _Run:
    """The shared inputs of one comparison and what the estimators add to it."""

    df0: pd.DataFrame
    df: pd.DataFrame  # df0 with the static treatment dummy _did_treated = 1{t >= G}
    outcome: str
    cohort: str
    unit: str
    time: str
    g: np.ndarray
    t: np.ndarray
    terms: str
    level: float
    window: tuple[int, int] | None
    weights: str | None
    cluster: str | None
    results: dict[str, EstimateResult] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    rows: list[pd.DataFrame] = field(default_factory=list)

    def add(self, key: str, res: EstimateResult, rename: dict[str, str] | None = None) -> None:
        """Append the overall (and, with ``terms="dynamic"``, the event-time) rows of ``res``."""
        tdy = res.tidy(self.level)
        if rename:
            tdy["term"] = tdy["term"].map(lambda s: rename.get(s, s))
        if self.terms == "simple":
            tdy = tdy[tdy["term"] == "simple"]
        else:
            tdy = tdy[(tdy["term"] == "simple") | tdy["term"].str.startswith("dynamic:")]
        self._append(key, tdy, res.nobs)

    def _append(self, key: str, tdy: pd.DataFrame, nobs: int) -> None:
        tdy.insert(0, "label", LABELS[key])
        tdy.insert(0, "estimator", key)
        tdy["nobs"] = nobs
        self.rows.append(tdy)


def _run_twfe(run: _Run) -> None:
    """The static coefficient on ``1{t >= G}`` and, for dynamic terms, the TWFE event study."""
    from clusterimpact.estimation.event_study import event_study
    from clusterimpact.estimation.fe.membership import static_premium

    res = static_premium(
        run.df,
        run.outcome,
        treatment="_did_treated",
        unit=run.unit,
        time=run.time,
        cluster=run.cluster,
        weights=run.weights,
    )
    run.results["twfe"] = res
    run.add("twfe", res, {"_did_treated": "simple"})
    if run.terms == "dynamic" and run.window is not None:
        es = event_study(
            run.df0,
            run.outcome,
            cohort=run.cohort,
            unit=run.unit,
            time=run.time,
            window=run.window,
            cluster=run.cluster,
            weights=run.weights,
        )
        run.results["twfe_event_study"] = es
        ren = {tm: "dynamic:" + tm.split("::")[1] for tm in es.params.index if "::" in tm}
        run.add("twfe", es, ren)


def _run_cs(
    run: _Run,
    control: Literal["never", "notyet"],
    covariates: Sequence[str] | None,
    est: Literal["dr", "ipw", "reg"],
    allow_unbalanced: bool,
) -> None:
    """Callaway-Sant'Anna ATT(g,t), aggregated to ``simple`` (and ``dynamic``)."""
    from clusterimpact.estimation.staggered import aggte, att_gt

    cs = att_gt(
        run.df0,
        run.outcome,
        cohort=run.cohort,
        unit=run.unit,
        time=run.time,
        control=control,
        covariates=list(covariates) if covariates else None,
        est=est,
        weights=run.weights,
        cluster=run.cluster,
        allow_unbalanced=allow_unbalanced,
    )
    run.results["cs"] = cs
    simple = aggte(cs, "simple")
    run.add("cs", simple)
    if run.terms == "dynamic":
        dyn = aggte(cs, "dynamic")
        run.results["cs_dynamic"] = dyn
        dyn_t = dyn.tidy(run.level)
        run._append("cs", dyn_t[dyn_t["term"].str.startswith("dynamic:")], dyn.nobs)
    run.results["cs_simple"] = simple


def _run_sa(run: _Run) -> None:
    """Sun-Abraham against the never-treated (the last cohort when there are none)."""
    from clusterimpact.estimation.sunab import sun_abraham

    sa_control: Literal["never", "last"] = "never" if (run.g == 0).any() else "last"
    sa = sun_abraham(
        run.df0,
        run.outcome,
        cohort=run.cohort,
        unit=run.unit,
        time=run.time,
        control=sa_control,
        window=run.window,
        weights=run.weights,
        cluster=run.cluster,
    )
    run.results["sa"] = sa
    run.add("sa", sa)


def _run_imputation(run: _Run) -> None:
    """Borusyak-Jaravel-Spiess imputation (up to five leads in its pre-trend test)."""
    from clusterimpact.estimation.imputation import imputation_did

    T = int(np.unique(run.t[np.isfinite(run.t)]).size)
    imp = imputation_did(
        run.df0,
        run.outcome,
        cohort=run.cohort,
        unit=run.unit,
        time=run.time,
        aggregation="dynamic" if run.terms == "dynamic" else "simple",
        leads=max(0, min(5, T - 2)),
    )
    run.results["imputation"] = imp
    run.add("imputation", imp)
