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

:func:`newton_ascent` is the Newton-Raphson loop of the fits whose sums may be spread over partitions
(CS's propensity logit, the Olley-Pakes survival probit): it asks for the log-likelihood, gradient and
information at each candidate point and is driven by whoever can sum them (all rows at once in memory,
one map-reduce per request on Dask).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, TypeVar

import numpy as np

__all__ = ["SEPARATION_MESSAGE", "newton_ascent", "outside_hull", "separation"]

R = TypeVar("R")

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


def newton_ascent(
    evaluate: Callable[[np.ndarray], R], beta: np.ndarray, maxiter: int
) -> Generator[R, tuple[Any, ...], tuple[np.ndarray, np.ndarray, bool]]:
    """Maximise a concave log-likelihood by Newton-Raphson with step halving, as a generator.

    It yields ``evaluate(b)``, a request for the sums ``(ll, grad, H)`` at ``b`` (the log-likelihood,
    its gradient and the information, i.e. minus the Hessian), and is sent those sums; so step halving
    costs no extra request. A step is halved until the log-likelihood does not fall (to 1e-12
    relative); convergence is a step below 1e-10 of ``max(1, max|b|)``. Returns ``(b, H, converged)``
    (``converged`` False after ``maxiter`` steps, a singular ``H`` or no ascent along the Newton
    direction: the symptoms of separation).

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact._binary import newton_ascent
    >>> def evaluate(b):  # log-likelihood -(b - 2)^2, asked for and answered at once
    ...     return -float((b[0] - 2.0) ** 2), np.array([-2.0 * (b[0] - 2.0)]), np.array([[2.0]])
    >>> stages = newton_ascent(evaluate, np.zeros(1), maxiter=10)
    >>> sums = next(stages)
    >>> try:
    ...     while True:
    ...         sums = stages.send(sums)
    ... except StopIteration as stop:
    ...     b, H, converged = stop.value
    >>> float(b[0]), converged
    (2.0, True)
    """
    ll, grad, H = yield evaluate(beta)
    converged = False
    for _ in range(maxiter):
        try:
            step = np.linalg.solve(H, grad)
        except np.linalg.LinAlgError:
            break
        t = 1.0
        new, g_new, h_new = yield evaluate(beta + step)
        while not (np.isfinite(new) and new >= ll - 1e-12 * (1.0 + abs(ll))):
            t /= 2
            if t < 1e-10:
                break
            new, g_new, h_new = yield evaluate(beta + t * step)
        if t < 1e-10:
            break  # no ascent along the Newton direction: not converged
        beta = beta + t * step
        ll, grad, H = new, g_new, h_new
        if np.max(np.abs(t * step)) < 1e-10 * max(1.0, float(np.max(np.abs(beta)))):
            converged = True
            break
    return beta, H, converged
