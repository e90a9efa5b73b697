"""Which regressors of a fixed-effects regression to keep: absorbed and collinear ones, the fixest way.

fixest (and pyfixest) run a Cholesky factorisation of ``X'WX`` (regressors already within-transformed)
column by column, in formula order, and drop every column whose residual sum of squares, given the columns
kept before it, falls below a tolerance: the *later* of two collinear regressors goes, and a regressor
without variation within the fixed effects goes first of all. This module does the same, with one
difference: the residual sum of squares is compared with the column's own total variation (its weighted
sum of squares about the mean, before the fixed effects are removed) instead of with an absolute number,
so that the decision does not depend on the units of the regressor. Exactly collinear or absorbed columns
(residual ~1e-16 relative) are dropped by both rules; only near-collinear designs (residual between 1e-10
and ~1e-9 in absolute terms) could be treated differently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

__all__ = ["COLLINEAR_TOL", "Selection", "select_regressors"]

# a column is dropped when its residual sum of squares (given the columns before it and the fixed effects)
# is at most this fraction of its total sum of squares (pyfixest: absolute 1e-9, fixest: 1e-10)
COLLINEAR_TOL = 1e-10


@dataclass(frozen=True)
class Selection:
    """Outcome of :func:`select_regressors`.

    Attributes
    ----------
    keep
        Indices of the columns kept, in order.
    absorbed
        Indices of columns with no variation left once the fixed effects (or the intercept) are removed.
    collinear
        Indices of columns that are linear combinations of columns before them.
    """

    keep: list[int]
    absorbed: list[int]
    collinear: list[int]


def select_regressors(
    XtX: np.ndarray, total_ss: np.ndarray, tol: float = COLLINEAR_TOL
) -> Selection:
    """Sequential (formula-order) selection of linearly independent regressors.

    Parameters
    ----------
    XtX
        ``X~'WX~`` of the within-transformed regressors (k x k).
    total_ss
        Each column's total (weighted, centred) sum of squares before the fixed effects are removed; the
        scale against which its residual is judged.
    tol
        Relative tolerance.
    """
    k = XtX.shape[0]
    keep: list[int] = []
    absorbed: list[int] = []
    collinear: list[int] = []
    L = np.zeros((0, 0))
    for j in range(k):
        scale = float(total_ss[j])
        own = float(XtX[j, j])
        if own <= tol * scale or own <= 0:
            absorbed.append(j)
            continue
        if keep:
            r = solve_triangular(L, XtX[keep, j], lower=True)
            resid = own - float(r @ r)
        else:
            r = np.zeros(0)
            resid = own
        if resid <= tol * scale:
            collinear.append(j)
            continue
        m = len(keep)
        L2 = np.zeros((m + 1, m + 1))
        L2[:m, :m] = L
        L2[m, :m] = r
        L2[m, m] = np.sqrt(resid)
        L = L2
        keep.append(j)
    return Selection(keep, absorbed, collinear)
