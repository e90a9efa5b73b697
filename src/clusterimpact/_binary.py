"""Diagnosis of binary-response fits used inside estimators (propensity scores, survival probits).

A logit or probit maximum-likelihood estimate does not exist when the covariates separate the two
outcomes, completely or quasi-completely: some direction ``b`` has ``x_i'b >= 0`` for every unit with
``d = 1`` and ``x_i'b <= 0`` for every unit with ``d = 0``, with at least one strict inequality (Albert &
Anderson 1984). Newton's method then never converges: the coefficients diverge along ``b``, fitted
probabilities go to 0 or 1 and the information matrix to singular. The fitters in the package watch
those symptoms; when one shows, :func:`separation` settles whether the data are separated with a
linear programme (Konis 2007: maximise ``sum_i s_i x_i'b`` subject to ``s_i x_i'b >= 0`` and
``|b_j| <= 1``, ``s_i = 2 d_i - 1``; a positive optimum is a separating direction).

The same programme with one "treated" point, the treated covariate mean, tells whether inverse
probability tilting (Graham, Pinto & Egel 2012) has a solution: the controls can be reweighted to that
mean exactly when it lies inside their convex hull (:func:`outside_hull`).

Private: the callers (``estimation/cs/core``, ``matching/propensity``, ``productivity/olley_pakes``)
turn the diagnosis into their own warning or error.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SEPARATION_MESSAGE", "outside_hull", "separation"]

#: What separation means, for the callers' messages.
SEPARATION_MESSAGE = (
    "complete or quasi-complete separation: a combination of the covariates predicts the outcome "
    "exactly for some units (fitted probabilities 0 or 1, diverging coefficients)"
)

# A direction separates when no unit violates it by more than this fraction of the largest |x'b|
# (the LP solver's feasibility tolerance is 1e-7 on standardised covariates).
_VIOLATION_REL = 1e-6


def _standardise(X: np.ndarray) -> np.ndarray:
    """Centre and scale the non-constant columns (an invertible change of basis when X has a
    constant column): separation does not depend on it, the LP's conditioning does."""
    X = np.asarray(X, dtype=float)
    sd = X.std(axis=0)
    const = sd <= 1e-12 * np.maximum(np.abs(X).max(axis=0), 1.0)
    out = np.empty_like(X)
    out[:, ~const] = (X[:, ~const] - X[:, ~const].mean(axis=0)) / sd[~const]
    out[:, const] = 1.0
    return out


def _separating_direction(S: np.ndarray) -> bool:
    """Is there ``b`` with ``S b >= 0`` (rows ``s_i x_i``) that is not zero on every row?"""
    from scipy.optimize import linprog

    n, k = S.shape
    if n == 0:
        return False
    res = linprog(
        -S.sum(axis=0),
        A_ub=-S,
        b_ub=np.zeros(n),
        bounds=[(-1.0, 1.0)] * k,
        method="highs",
    )
    if res.status != 0 or res.x is None:
        return False
    m = S @ res.x
    top = float(np.abs(m).max())
    return top > 0 and bool(m.min() >= -_VIOLATION_REL * top) and float(m.max()) > 0


def separation(X: np.ndarray, d: np.ndarray, w: np.ndarray | None = None) -> bool:
    """True when the covariates ``X`` (with a constant column) separate ``d`` (0/1), completely or
    quasi-completely, among the units with positive weight: the maximum-likelihood logit or probit
    estimate does not exist."""
    X = np.asarray(X, dtype=float)
    d = np.asarray(d).astype(bool)
    keep = np.ones(d.size, dtype=bool) if w is None else np.asarray(w) > 0
    if keep.sum() == 0 or d[keep].all() or not d[keep].any():
        return True  # no variation in d: nothing to estimate either
    Z = _standardise(X[keep])
    s = np.where(d[keep], 1.0, -1.0)
    return _separating_direction(Z * s[:, None])


def outside_hull(X_control: np.ndarray, target: np.ndarray) -> bool:
    """True when ``target`` (a covariate mean, with the constant) is not strictly inside the convex
    hull of the control rows ``X_control``: no positive reweighting of the controls reaches it."""
    Xc = np.asarray(X_control, dtype=float)
    rows = np.vstack([np.asarray(target, dtype=float)[None, :], Xc])
    Z = _standardise(rows)
    s = np.r_[1.0, -np.ones(Xc.shape[0])]
    return _separating_direction(Z * s[:, None])
