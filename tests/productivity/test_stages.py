"""The numerical building blocks: polynomial design, exact Jacobian of the law-of-motion residuals."""

from __future__ import annotations

import numpy as np
import pytest

from _asserts import assert_close
from clusterimpact.productivity._poly import poly_derivative, poly_exponents, poly_matrix
from clusterimpact.productivity._stages import LawOfMotion, ols_fit
from tolerances import ELEMENTWISE_REL, EXACT_FLOOR, EXACT_REL, FINITE_DIFF_FLOOR, FINITE_DIFF_REL


def _problem(extra: bool, base: bool, fit_on: str):
    rng = np.random.default_rng(0)
    n = 400
    X = rng.normal(size=(n, 3))
    phi = X @ np.array([0.5, 0.3, 0.1]) + rng.normal(size=n)
    cur = np.arange(1, n)
    lag = cur - 1
    ex = rng.uniform(0.2, 0.9, size=(cur.size, 1)) if extra else None
    b = phi + rng.normal(size=n) if base else None
    lom = LawOfMotion(X=X, phi=phi, cur=cur, lag=lag, order=3, base=b, extra=ex, fit_on=fit_on)
    Z = rng.normal(size=(cur.size, 4))
    return lom, Z


@pytest.mark.parametrize(
    ("extra", "base", "fit_on"),
    [
        (False, False, "target"),
        (False, True, "target"),
        (False, True, "omega"),
        (True, True, "omega"),
    ],
)
def test_projected_jacobian_matches_finite_differences(extra, base, fit_on):
    lom, Z = _problem(extra, base, fit_on)
    theta = np.array([0.4, 0.2, 0.05])
    for P in (None, Z):
        r, Pr, Pdr = lom.project(theta, P)
        assert_close(r, lom(theta), rel=EXACT_REL, floor=EXACT_FLOOR)
        h = 1e-6
        num = np.column_stack(
            [
                (
                    (r if P is None else Z).T
                    @ (lom(theta + h * np.eye(3)[j]) - lom(theta - h * np.eye(3)[j]))
                )
                / (2 * h)
                for j in range(3)
            ]
        )
        assert_close(Pdr, num, rel=FINITE_DIFF_REL, floor=FINITE_DIFF_FLOOR)
        r2, dr = lom.jacobian(theta)
        want = np.atleast_2d(Pdr)
        assert_close(
            np.atleast_2d((r if P is None else Z).T @ dr), want, rel=EXACT_REL, floor=EXACT_FLOOR
        )
        assert_close(Pr, (r if P is None else Z).T @ r, rel=EXACT_REL, floor=EXACT_FLOOR)


def test_poly_matrix_and_derivative():
    x = np.random.default_rng(1).normal(size=(30, 3))
    exps = poly_exponents(3, 3, min_degree=0)
    ref = np.column_stack([np.prod(x ** np.array(e), axis=1) for e in exps])
    assert_close(poly_matrix(x, exps), ref, rel=ELEMENTWISE_REL)
    h = 1e-6
    xp, xm = x.copy(), x.copy()
    xp[:, 1] += h
    xm[:, 1] -= h
    num = (poly_matrix(xp, exps) - poly_matrix(xm, exps)) / (2 * h)
    assert_close(poly_derivative(x, exps, 1), num, rel=FINITE_DIFF_REL, floor=FINITE_DIFF_FLOOR)
    assert len(poly_exponents(2, 2)) == 5


def test_ols_fit_matches_lstsq_and_handles_rank_deficiency():
    rng = np.random.default_rng(2)
    D = np.column_stack([np.ones(50), rng.normal(size=(50, 3))])
    y = rng.normal(size=50)
    want = np.linalg.lstsq(D, y, rcond=None)[0]
    assert_close(ols_fit(D, y), want, rel=EXACT_REL, floor=EXACT_FLOOR)
    Dd = np.column_stack([D, D[:, 1]])
    fitted = Dd @ ols_fit(Dd, y)
    assert_close(fitted, D @ want, rel=EXACT_REL, floor=EXACT_FLOOR)
