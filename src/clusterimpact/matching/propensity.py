"""Propensity scores (Rosenbaum & Rubin 1983) by logit or probit maximum likelihood (statsmodels).

The score is estimated on the rows that survive the missing-value screen. Matching uses the *linear
predictor* (the logit or probit index) by default, as Rosenbaum & Rubin (1985) recommend, and the
caliper is expressed in standard deviations of that index (Austin 2011 suggests 0.2 SD of the logit).

Perfect separation (some covariate combination predicts treatment exactly) makes the maximum-likelihood
estimates diverge and the scores 0 or 1: matching on such a score is meaningless, so it raises
:class:`~clusterimpact.errors.EstimationError` naming the likely culprits.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from clusterimpact.errors import EstimationError

__all__ = ["Link", "PropensityFit", "fit_propensity"]

Link = Literal["logit", "probit"]

# fitted probabilities this close to 0 or 1 signal (quasi-)separation
_SEP_EPS = 1e-10


@dataclass(frozen=True)
class PropensityFit:
    """A fitted propensity-score model.

    Attributes
    ----------
    score
        Fitted probabilities P(D = 1 | X), one per estimation row.
    index
        Linear predictor X'b (logit or probit index), one per estimation row.
    params
        Coefficients, labelled by design-matrix column.
    bse
        Their maximum-likelihood standard errors.
    link
        ``"logit"`` or ``"probit"``.
    design
        The design matrix used (with constant), kept for the Abadie-Imbens (2016) adjustment.
    converged
        Whether the optimiser converged.
    """

    score: np.ndarray
    index: np.ndarray
    params: pd.Series
    bse: pd.Series
    link: str
    design: np.ndarray
    converged: bool


def fit_propensity(X: pd.DataFrame, d: np.ndarray, link: Link = "logit") -> PropensityFit:
    """Fit P(D = 1 | X) by maximum likelihood.

    Parameters
    ----------
    X
        Covariates (no constant: one is added); numeric, no missing values.
    d
        Treatment indicator (0/1).
    link
        ``"logit"`` or ``"probit"``.

    Raises
    ------
    EstimationError
        Perfect or quasi-complete separation, a singular design, or no variation in ``d``.
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import (
        ConvergenceWarning,
        HessianInversionWarning,
        PerfectSeparationError,
        PerfectSeparationWarning,
    )

    d = np.asarray(d, dtype=float)
    if d.min() == d.max():
        raise EstimationError("the treatment has no variation: a propensity score cannot be fitted")
    cols = list(X.columns)
    Z = np.column_stack([np.ones(len(X)), X.to_numpy(dtype=float)])
    names = ["const", *map(str, cols)]
    const_cols = [c for c, v in zip(cols, Z[:, 1:].T, strict=True) if np.ptp(v) == 0]
    if const_cols:
        raise EstimationError(
            f"propensity model: covariate(s) {', '.join(const_cols)} are constant in the estimation "
            "sample; drop them (or match exactly on them instead)"
        )
    if np.linalg.matrix_rank(Z) < Z.shape[1]:
        raise EstimationError(
            "propensity model: the covariates are collinear (design matrix of rank "
            f"{np.linalg.matrix_rank(Z)} < {Z.shape[1]} columns: {', '.join(names)}); drop redundant ones"
        )
    model_cls = sm.Logit if link == "logit" else sm.Probit
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", HessianInversionWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            res = model_cls(d, Z).fit(disp=0, method="newton", maxiter=100)
        except (PerfectSeparationError, PerfectSeparationWarning) as exc:
            raise _separation_error(X, d) from exc
        except np.linalg.LinAlgError as exc:
            raise EstimationError(f"propensity model: singular Hessian ({exc})") from exc
    params = np.asarray(res.params, dtype=float)
    index = Z @ params
    score = np.asarray(model_cls(d, Z).cdf(index), dtype=float)
    converged = bool(res.mle_retvals.get("converged", True))
    extreme = (score < _SEP_EPS) | (score > 1 - _SEP_EPS)
    if (
        not np.all(np.isfinite(params))
        or extreme.mean() > 0.5
        or (not converged and extreme.any())
        or np.max(np.abs(params)) > 1e6
    ):
        raise _separation_error(X, d)
    bse = np.asarray(res.bse, dtype=float) if converged else np.full(len(names), np.nan)
    return PropensityFit(
        score=score,
        index=index,
        params=pd.Series(params, index=names, name="coef"),
        bse=pd.Series(bse, index=names, name="std_error"),
        link=link,
        design=Z,
        converged=converged,
    )


def _separation_error(X: pd.DataFrame, d: np.ndarray) -> EstimationError:
    culprits = []
    for c in X.columns:
        v = X[c].to_numpy(dtype=float)
        t, u = v[d == 1], v[d == 0]
        if (
            t.min() > u.max()
            or t.max() < u.min()
            or (
                len(np.unique(v)) <= 10
                and any(
                    (np.all(d[v == val] == 1) or np.all(d[v == val] == 0)) for val in np.unique(v)
                )
            )
        ):
            culprits.append(str(c))
    hint = (
        f" (covariate(s) that separate treated from controls on their own: {', '.join(culprits)})"
        if culprits
        else ""
    )
    return EstimationError(
        "propensity model: perfect separation, the covariates predict treatment exactly and the "
        f"scores are 0 or 1{hint}; drop or coarsen those covariates, match exactly on them, or "
        "use method='cem' / distance='mahalanobis'"
    )
