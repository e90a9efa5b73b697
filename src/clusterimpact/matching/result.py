"""`MatchResult`: what a matching run produced (pairs, weights, matched sample, balance, estimates)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from clusterimpact.results import EstimateResult, json_ready

__all__ = ["MatchResult"]


@dataclass(frozen=True, kw_only=True)
class MatchResult(EstimateResult):
    """Result of :func:`~clusterimpact.matching.match` or :func:`~clusterimpact.matching.match_panel`.

    ``params`` holds the matched estimate of the effect on ``outcome`` under the term ``"ATT"``, ``"ATE"``
    or ``"ATC"`` (empty when no outcome was given). The identifying assumption is selection on the
    matching covariates (unconfoundedness) plus overlap; in panel mode, parallel trends of the matched
    treated and controls after conditioning on pre-joining levels and trends.

    Attributes
    ----------
    estimand
        ``"att"``, ``"ate"`` or ``"atc"``.
    pairs
        One row per (focal unit, match): ``focal`` and ``match`` (row labels of the input data; unit
        ids in panel mode), ``focal_treated`` (bool), ``distance``, ``weight`` (1 / number of matches
        of the focal unit), and ``stack`` in panel mode. Empty for CEM / exact matching (see
        ``subclass`` in ``matched``).
    weights
        Matching weight of every input row kept for estimation (0 = unmatched), indexed like the input
        (by ``(stack, unit)`` in panel mode); treated weights are 1 for the ATT, control weights add up
        to the number of matched treated.
    matched
        The matched sample: the input rows with weight > 0 plus ``weight`` (and ``subclass`` for
        CEM / exact, ``stack`` in panel mode).
    balance
        Long balance table (see :func:`clusterimpact.balance.balance_table`) with a ``stage`` column,
        ``"before"`` (all units kept for estimation, unweighted) and ``"after"`` (matched, weighted), and
        a ``stack`` column (the joining cohort) in panel mode. The love plot reads this.
    propensity
        Propensity scores (None when none was estimated), indexed like the input: ``score``
        (probability), ``index`` (linear predictor), ``treated`` (0/1), ``matched`` (bool), ``weight``;
        in panel mode one row per unit and cohort cross-section, with ``stack`` and the unit column and
        a plain RangeIndex. The overlap plot reads this.
    unmatched
        Units left out, one row each: ``row`` (input label), ``unit`` (id when known), ``treated``,
        ``reason`` and ``stack`` in panel mode.
    support
        Common-support summary per group (see :func:`clusterimpact.balance.common_support`).
    counts
        Units per group: ``n_input``, ``n_used`` (after missing values and support), ``n_matched``.
    ps_params
        Propensity-model coefficients (None when none was fitted).
    matched_panel
        Panel mode: the cohort-stacked matched panel (``stack``, ``stack_unit``, ``treated``, ``weight``,
        ``rel_year`` relative to the stack's cohort for controls too, ``stack_cohort`` = cohort for
        treated and 0 for controls, plus the original columns; the original ``rel_year`` is kept as
        ``rel_year_own``). DiD estimators take it directly.
    options
        The options of the call.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> matched = ci.match_panel(example_panel(), design="trends", control="notyet", replace=True,
    ...                          outcome="ln_lp", seed=1)
    >>> type(matched).__name__, matched.params.index.tolist()
    ('MatchResult', ['ATT'])
    >>> {"stage", "covariate", "smd"} <= set(matched.balance.columns)  # balance before and after
    True
    """

    _plot_with: ClassVar[str] = "plot_love"

    @property
    def overall_term(self) -> str | None:
        """The matched effect's term (``ATT``, ``ATE`` or ``ATC``); ``None`` without an outcome."""
        return str(self.params.index[0]) if len(self.params) else None

    estimand: str
    pairs: pd.DataFrame
    weights: pd.Series
    matched: pd.DataFrame
    balance: pd.DataFrame
    unmatched: pd.DataFrame
    counts: pd.DataFrame
    propensity: pd.DataFrame | None = None
    support: pd.DataFrame | None = None
    ps_params: pd.Series | None = None
    matched_panel: pd.DataFrame | None = None
    options: dict[str, Any] = field(default_factory=dict)

    # -- convenience -----------------------------------------------------------------------------
    @property
    def balance_before(self) -> pd.DataFrame:
        """Balance of the estimation sample before matching (unweighted)."""
        return (
            self.balance[self.balance["stage"] == "before"]
            .drop(columns="stage")
            .reset_index(drop=True)
        )

    @property
    def balance_after(self) -> pd.DataFrame:
        """Balance of the matched sample (weighted)."""
        return (
            self.balance[self.balance["stage"] == "after"]
            .drop(columns="stage")
            .reset_index(drop=True)
        )

    @property
    def max_abs_smd(self) -> float:
        """Largest absolute SMD after matching over covariates (and cohorts)."""
        a = self.balance_after["smd"].abs()
        return float(a.max()) if len(a) else np.nan

    @property
    def n_unmatched(self) -> pd.Series:
        """Unmatched units counted by reason."""
        if self.unmatched.empty:
            return pd.Series(dtype="int64", name="count")
        return self.unmatched["reason"].value_counts().rename("count")

    def _summary_header(self) -> list[str]:
        lines = super()._summary_header()
        lines.append(f"Estimand: {self.estimand.upper()}")
        lines.append(self.counts.to_string(index=False))
        return lines

    def summary(self, level: float = 0.95) -> str:
        """Estimates (if an outcome was given), unit counts, unmatched reasons and a balance table."""
        parts = [super().summary(level)] if len(self.params) else self._summary_header()
        if not self.unmatched.empty:
            parts.append(
                "Unmatched: " + ", ".join(f"{k}={v:,}" for k, v in self.n_unmatched.items())
            )
        bal = self.balance
        keys = ["covariate"]
        if "stack" in bal.columns:
            bal = bal.assign(stack=bal["stack"].astype("string").fillna("all"))
            keys.append("stack")
        b = bal.pivot_table(index=keys, columns="stage", values="smd", sort=False)
        b = b.rename(columns={"before": "smd_before", "after": "smd_after"})
        parts.append("Standardized mean differences:")
        parts.append(b.to_string(float_format=lambda v: f"{v: .3f}"))
        return "\n".join(parts)

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        """JSON-ready form: the shared estimate block plus counts, unmatched reasons and balance."""
        out = super().to_dict(level)
        out["estimand"] = self.estimand
        out["counts"] = json_ready(self.counts.to_dict(orient="records"))
        out["unmatched"] = {str(k): int(v) for k, v in self.n_unmatched.items()}
        out["balance"] = json_ready(self.balance.to_dict(orient="records"))
        return out
