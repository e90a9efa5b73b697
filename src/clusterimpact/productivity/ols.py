"""Production functions by least squares: pooled OLS and the within (firm fixed-effects) estimator.

Both are biased when input choices respond to productivity the firm knows (the transmission bias
that motivates Olley & Pakes 1996): OLS overstates the labour elasticity, and the within estimator,
which relies on within-firm changes, typically understates capital. They serve as benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from clusterimpact.errors import EstimationError
from clusterimpact.productivity._base import Point, ProductionEstimator, cluster_meat
from clusterimpact.productivity._prep import Arrays
from clusterimpact.productivity._stages import ols_fit

__all__ = ["OLS", "FixedEffects"]


def _cluster_vcov(X: np.ndarray, e: np.ndarray, unit: np.ndarray, k: int) -> np.ndarray:
    n = X.shape[0]
    G = np.unique(unit).size
    bread = np.linalg.inv(X.T @ X)
    meat = cluster_meat(X * e[:, None], unit)
    adj = (G / max(G - 1, 1)) * ((n - 1) / max(n - k, 1))
    return adj * bread @ meat @ bread


@dataclass(frozen=True, kw_only=True)
class OLS(ProductionEstimator):
    """Pooled least squares of log output on log inputs (and controls), with a constant.

    Estimand: the Cobb-Douglas elasticities, consistent only if inputs are uncorrelated with
    productivity (they are not when firms choose inputs knowing it). Standard errors are clustered by
    firm (CR1). ``ln_tfp`` is output minus the inputs' and controls' contribution (constant included).

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.productivity import OLS
    >>> result = OLS().fit(example_panel())
    >>> sorted(result.elasticities.index)
    ['ln_capital', 'ln_emp']
    >>> result.tfp.columns.tolist()
    ['firm_id', 'year', 'ln_tfp', 'ln_tfp_resid']
    """

    method: ClassVar[str] = "ols"

    def _point(self, arr: Arrays, *, full: bool = True, start: np.ndarray | None = None) -> Point:
        X = np.column_stack([arr.F, arr.K, arr.C])
        D = np.column_stack([np.ones(arr.n), X])
        b = ols_fit(D, arr.y)
        e = arr.y - D @ b
        names = [*self.free, *self.state, *self.controls]
        beta = b[1:]
        nin = arr.F.shape[1] + arr.K.shape[1]
        resid = arr.y - X @ beta
        vcov = None
        if full:
            vcov = _cluster_vcov(D, e, arr.unit, D.shape[1])[1:, 1:]
        tss = float(((arr.y - arr.y.mean()) ** 2).sum())
        return Point(
            params=beta,
            names=names,
            elasticities=beta[:nin],
            el_names=names[:nin],
            ln_tfp=resid,
            ln_tfp_resid=resid,
            vcov=vcov,
            nobs=arr.n,
            diagnostics={
                "r2": 1 - float(e @ e) / tss if tss > 0 else float("nan"),
                "constant": float(b[0]),
            },
        )


@dataclass(frozen=True, kw_only=True)
class FixedEffects(ProductionEstimator):
    """Within (firm fixed-effects) least squares of log output on log inputs.

    Estimand: the Cobb-Douglas elasticities under the assumption that productivity is a firm constant
    plus noise unrelated to inputs. Firms observed once carry no within variation and are excluded
    (``singleton_firm``). Standard errors are clustered by firm (CRV1) with the small-sample factor
    ``G/(G-1) (N-1)/(N-K)``, ``K`` = slopes + 1: the firm effects, nested in the firm clusters, count as
    one parameter, as in pyfixest/fixest (``feols(y ~ l + k | firm_id, vcov={"CRV1": "firm_id"})``, equal
    to 1e-6 in the tests). Stata's ``xtreg, fe vce(cluster firm_id)`` uses the same ``K`` but keeps firms
    observed once in ``N``, so its standard errors differ by ``sqrt((N_s - K)(N - 1) / ((N - K)(N_s - 1)))``
    with ``N_s`` the count including them. ``ln_tfp`` keeps the firm effect.

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.productivity import FixedEffects
    >>> result = FixedEffects().fit(example_panel())
    >>> sorted(result.elasticities.index)
    ['ln_capital', 'ln_emp']
    >>> result.tfp.columns.tolist()
    ['firm_id', 'year', 'ln_tfp', 'ln_tfp_resid']
    """

    method: ClassVar[str] = "fe"

    def _point(self, arr: Arrays, *, full: bool = True, start: np.ndarray | None = None) -> Point:
        counts = np.bincount(arr.unit)
        keep = counts[arr.unit] > 1
        n_single = int((~keep).sum())
        X = np.column_stack([arr.F, arr.K, arr.C])
        y = arr.y
        unit = arr.unit[keep]
        Xk, yk = X[keep], y[keep]
        _, inv = np.unique(unit, return_inverse=True)
        cnt = np.bincount(inv).astype(float)

        def demean(v: np.ndarray) -> np.ndarray:
            if v.ndim == 1:
                return v - (np.bincount(inv, weights=v) / cnt)[inv]
            return np.column_stack([demean(v[:, j]) for j in range(v.shape[1])])

        if yk.size == 0:
            raise EstimationError("fe: no firm is observed in more than one year")
        Xd, yd = demean(Xk), demean(yk)
        sd = Xd.std(axis=0)
        names = [*self.free, *self.state, *self.controls]
        if np.any(sd == 0):
            bad = names[int(np.flatnonzero(sd == 0)[0])]
            raise EstimationError(
                f"fe: '{bad}' does not vary within firms, so its elasticity is not identified by the "
                "within estimator; use another method"
            )
        b = ols_fit(Xd, yd)
        e = yd - Xd @ b
        vcov = None
        if full:
            # the firm effects are nested in the firm clusters: as a block they count as one
            # parameter in (N-1)/(N-K), K = slopes + 1 (pyfixest/fixest k_fixef="nonnested"; Stata's
            # xtreg, fe vce(cluster) also has K = slopes + constant, but keeps singleton firms in N)
            vcov = _cluster_vcov(Xd, e, inv, Xd.shape[1] + 1)
        nin = arr.F.shape[1] + arr.K.shape[1]
        resid = y - X @ b
        exclusions: dict[str, Any] = {"singleton_firm": n_single} if n_single else {}
        return Point(
            params=b,
            names=names,
            elasticities=b[:nin],
            el_names=names[:nin],
            ln_tfp=resid,
            ln_tfp_resid=resid,
            vcov=vcov,
            nobs=int(keep.sum()),
            diagnostics={
                "within_r2": 1 - float(e @ e) / float(yd @ yd) if yd @ yd > 0 else float("nan")
            },
            exclusions=exclusions,
        )
