"""The result of a fixed-effects regression (:func:`~clusterimpact.estimation.fe.feols` and the
membership models)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from clusterimpact.results import EstimateResult

__all__ = ["FixedEffectsResult"]


@dataclass(frozen=True, kw_only=True)
class FixedEffectsResult(EstimateResult):
    """A fixed-effects (or OLS) regression.

    Attributes
    ----------
    formula
        The fixest-style formula estimated.
    depvar
        Outcome column.
    fixed_effects
        Absorbed fixed effects as written (``("firm_id", "year")``, ``("sector^year",)``).
    vcov_type
        ``"iid"``, ``"hetero"``, ``"cluster"``, ``"twoway"`` or ``"driscoll_kraay"``.
    cluster
        Cluster variable(s) (``"firm_id"``, ``"firm_id+year"`` for two-way), or None.
    n_clusters
        Number of clusters (the smaller one for two-way), or None.
    r2, r2_within
        R-squared of the full model and of the within-transformed model (NaN without fixed effects).
    rss
        Weighted residual sum of squares.
    df_k
        Parameters counted in the small-sample factor (slopes plus non-nested absorbed effects).
    n_fe_levels
        Number of levels of each fixed effect in the estimation sample.
    weights
        Weight column or None.
    engine
        ``"fast"`` or ``"pyfixest"``.
    collinear
        Regressors dropped because they are absorbed by the fixed effects or collinear with regressors
        before them in the formula (fixest's rule; also noted in ``warnings``).
    vcov
        Covariance of ``params``; None on the pyfixest engine (pyfixest 0.60 publishes no covariance
        matrix: its standard errors are reported).
    headline
        The term the model is about (the membership dummy of :func:`static_premium`, the duration slope
        of :func:`linear_duration`), or None (:func:`feols`, :func:`binned_duration`); read it as
        :attr:`overall_term`.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> fit = ci.feols("ln_lp ~ member | firm_id + year", example_panel(), vcov="hetero")
    >>> type(fit).__name__, fit.depvar, fit.vcov_type
    ('FixedEffectsResult', 'ln_lp', 'hetero')
    >>> fit.tidy()["term"].tolist()
    ['member']
    """

    formula: str = ""
    depvar: str = ""
    fixed_effects: tuple[str, ...] = ()
    vcov_type: str = "iid"
    cluster: str | None = None
    n_clusters: int | None = None
    r2: float = float("nan")
    r2_within: float = float("nan")
    rss: float = float("nan")
    df_k: int = 0
    n_fe_levels: dict[str, int] = field(default_factory=dict)
    weights: str | None = None
    engine: str = "fast"
    collinear: tuple[str, ...] = ()
    headline: str | None = None

    @property
    def overall_term(self) -> str | None:
        """The headline term in ``params`` (None when the model has none or it was dropped)."""
        return self.headline if self.headline in self.params.index else None

    def _summary_header(self) -> list[str]:
        fe = " + ".join(self.fixed_effects) if self.fixed_effects else "none"
        se = self.vcov_type + (
            f" by {self.cluster} ({self.n_clusters} clusters)" if self.cluster else ""
        )
        return [
            f"{type(self).__name__} ({self.method}): {self.formula}",
            f"Observations: {self.nobs:,}   Fixed effects: {fe}",
            f"Std. errors: {se}   R2: {self.r2:.4f}   Within R2: {self.r2_within:.4f}",
        ]

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        """JSON-ready form with the regression's metadata added."""
        out = super().to_dict(level)
        out.update(
            formula=self.formula,
            fixed_effects=list(self.fixed_effects),
            vcov_type=self.vcov_type,
            cluster=self.cluster,
            n_clusters=self.n_clusters,
            r2=self.r2,
            r2_within=self.r2_within,
            engine=self.engine,
            collinear=list(self.collinear),
        )
        return out


def __getattr__(name: str) -> Any:
    """``EstimationResult``, the former name of :class:`FixedEffectsResult`, with a FutureWarning."""
    if name == "EstimationResult":
        warnings.warn(
            "EstimationResult is now called FixedEffectsResult; the old name will be removed in a "
            "later release",
            FutureWarning,
            stacklevel=2,
        )
        return FixedEffectsResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
