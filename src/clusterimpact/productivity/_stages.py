"""Numerical building blocks shared by the control-function estimators.

- :func:`ols_fit`: least squares via scaled normal equations (SVD fallback).
- :func:`first_stage`: output on the free inputs, controls and a polynomial in (state, proxy) — the
  control function of Olley & Pakes (1996) / Levinsohn & Petrin (2003), or on a polynomial in all inputs
  (Ackerberg, Caves & Frazer 2015). Returns phi-hat, the expected output net of the noise.
- :class:`LawOfMotion`: the productivity innovation xi(theta) = omega_t - g(omega_{t-1}) with
  omega = phi - X theta and g a polynomial fitted by least squares (concentrated out), and its exact
  Jacobian with respect to theta (so BFGS works from an analytic gradient).
- :func:`multistart`: run a local optimiser from several starting points and keep all optima.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, optimize

from clusterimpact.errors import EstimationError
from clusterimpact.productivity._poly import (
    poly_derivative,
    poly_exponents,
    poly_matrix,
    round_bits,
)

__all__ = [
    "LawOfMotion",
    "coarse_mask",
    "first_stage",
    "multistart",
    "newton_polish",
    "ols_fit",
    "ols_from_cross",
]


def ols_fit(D: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares coefficients of ``y`` on ``D``.

    Normal equations on norm-scaled columns with a Cholesky factorisation (one pass over the data,
    fast at 10^6 rows, :func:`ols_from_cross`); falls back to an SVD least-squares solve when the
    scaled cross-product is ill-conditioned or singular.
    """
    b = ols_from_cross(D.T @ D, D.T @ y)
    if b is not None:
        return b
    return np.linalg.lstsq(D, y, rcond=None)[0]


def gram_solver(A: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """A solver of ``A x = b`` for a Gram matrix summed over partitions (the rows are not at hand): by
    its Cholesky factor, or by least squares on ``A`` itself when it is not positive definite."""
    try:
        cho = linalg.cho_factor(A, check_finite=False)
    except linalg.LinAlgError:
        return lambda b: np.linalg.lstsq(A, b, rcond=None)[0]
    return lambda b: linalg.cho_solve(cho, b, check_finite=False)


def ols_from_cross(DD: np.ndarray, Dy: np.ndarray) -> np.ndarray | None:
    """Least-squares coefficients from the cross-products ``D'D`` and ``D'y`` (additive over rows).

    The normal equations are solved on norm-scaled columns (the norms are ``sqrt(diag(D'D))``) with a
    Cholesky factorisation; ``None`` when the scaled cross-product is ill-conditioned (smallest
    Cholesky pivot below 1e-6 of the largest) or singular: the caller then needs the rows.
    """
    norms = np.sqrt(np.clip(np.diag(DD), 0.0, None))
    norms = np.where(norms > 0, norms, 1.0)
    G = DD / np.outer(norms, norms)
    rhs = Dy / norms
    try:
        cho = linalg.cho_factor(G, check_finite=False)
        d = np.diag(cho[0])
        if d.min() > 1e-6 * d.max():
            return np.asarray(linalg.cho_solve(cho, rhs, check_finite=False) / norms)
    except linalg.LinAlgError:
        pass
    return None


@dataclass
class FirstStage:
    """First-stage fit: ``coef`` on the ``linear`` columns, ``phi`` (fitted minus linear part), R²."""

    coef: np.ndarray
    phi: np.ndarray
    r2: float
    n_terms: int


def first_stage(y: np.ndarray, linear: np.ndarray, poly_vars: np.ndarray, order: int) -> FirstStage:
    """Regress ``y`` on a constant, ``linear`` and a full polynomial of degree ``order`` in ``poly_vars``.

    ``phi`` is the fitted value minus ``linear @ coef`` (it keeps the constant and the polynomial).
    The polynomial variables are standardised first; this changes no fitted value.
    """
    n = y.shape[0]
    pv = np.asarray(poly_vars, dtype=float)
    mu, sd = pv.mean(axis=0), pv.std(axis=0)
    mu, sd = round_bits(mu), round_bits(np.where(sd > 0, sd, 1.0))  # any centre and scale give phi
    exps = poly_exponents(pv.shape[1], order)
    D = np.column_stack([np.ones(n), linear, poly_matrix((pv - mu) / sd, exps)])
    b = ols_fit(D, y)
    fitted = D @ b
    q = linear.shape[1]
    coef = b[1 : 1 + q]
    phi = fitted - linear @ coef
    resid = y - fitted
    tss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(resid @ resid) / tss if tss > 0 else float("nan")
    return FirstStage(coef=coef, phi=phi, r2=r2, n_terms=D.shape[1])


class LawOfMotion:
    """Innovation residuals of the productivity law of motion and their Jacobian, as a callable.

    omega = phi - X theta. The target is ``T = (base - X theta)[cur]`` when ``base`` is given (output net
    of the first-stage free inputs, Olley-Pakes' second stage) and ``omega[cur]`` otherwise (ACF).
    g is a polynomial of degree ``order`` in omega[lag] (and in the columns of ``extra``, e.g. the survival
    probability of the exit correction), with a constant, fitted by least squares of ``T``
    (``fit_on="target"``, the non-linear least squares of Olley & Pakes) or of ``omega[cur]``
    (``fit_on="omega"``). ``self(theta)`` returns r = T - G gamma; :meth:`project` also the
    exact derivative of P'r.
    The pieces that do not depend on theta are sliced once here.
    """

    def __init__(
        self,
        *,
        X: np.ndarray,
        phi: np.ndarray,
        cur: np.ndarray,
        lag: np.ndarray,
        order: int,
        base: np.ndarray | None = None,
        extra: np.ndarray | None = None,
        fit_on: str = "target",
    ) -> None:
        self.Xc = np.asfortranarray(X[cur])
        self.Xl = np.asfortranarray(X[lag])
        self.phic = phi[cur]
        self.phil = phi[lag]
        self.basec = None if base is None else base[cur]
        self.extra = extra
        self.order = order
        self.fit_on = fit_on
        if extra is not None:
            self.exps = poly_exponents(1 + extra.shape[1], order, min_degree=0)
        self._bufs: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    def _design(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.extra is None:
            G = np.empty((u.size, self.order + 1))
            dG = np.zeros_like(G)
            G[:, 0] = 1.0
            for p in range(1, self.order + 1):
                G[:, p] = G[:, p - 1] * u
                dG[:, p] = p * G[:, p - 1]
            return G, dG
        v = np.column_stack([u, self.extra])
        return poly_matrix(v, self.exps), poly_derivative(v, self.exps, 0)

    def _fit_g(self, theta: np.ndarray) -> dict[str, Any]:
        wl = self.phil - self.Xl @ theta
        c, s = wl.mean(), wl.std()
        s = s if s > 0 else 1.0
        u = (wl - c) / s
        G, dGdu = self._design(u)
        om_c = self.phic - self.Xc @ theta
        T = om_c if self.basec is None else self.basec - self.Xc @ theta
        V = T if self.fit_on == "target" else om_c
        A = G.T @ G
        try:
            cho: Any = linalg.cho_factor(A, check_finite=False)
            gamma = linalg.cho_solve(cho, G.T @ V, check_finite=False)
        except linalg.LinAlgError:
            cho = None
            gamma = np.linalg.lstsq(G, V, rcond=None)[0]
        Gg = G @ gamma
        return {
            "s": s,
            "G": G,
            "dG": dGdu,
            "T": T,
            "V": V,
            "A": A,
            "cho": cho,
            "gamma": gamma,
            "Gg": Gg,
        }

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        """The innovation residuals r(theta)."""
        f = self._fit_g(theta)
        return f["T"] - f["Gg"]

    def project(
        self, theta: np.ndarray, P: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """r, P'r and P'dr/dtheta (P defaults to r itself, for a sum of squares).

        All the cross products needed for the exact Jacobian come from one matrix product over the
        rows, written into buffers allocated once, so an evaluation costs a few passes over the data
        whatever the number of parameters.
        """
        Xl, Xc = self.Xl, self.Xc
        n, p = Xl.shape
        z = 1 if P is None else P.shape[1]
        q = self.order + 1 if self.extra is None else len(self.exps)
        if z not in self._bufs:
            # column-major: every column contiguous. L = [G, P], R = [h*Xl, Xc, G, r]
            L = np.empty((n, q + z), order="F")
            R = np.empty((n, 2 * p + q + 1), order="F")
            R[:, p : 2 * p] = Xc
            self._bufs[z] = (L, R, np.empty((n, q), order="F"), np.empty((n, p), order="F"))
        L, R, dG, eXl = self._bufs[z]
        G = L[:, :q]
        u = self.phil - Xl @ theta
        c = float(u.sum()) / n
        s = float(np.sqrt(max(float(u @ u) / n - c * c, 0.0)))
        s = s if s > 1e-12 * max(abs(c), 1.0) else 1.0
        u -= c
        u /= s
        if self.extra is None:
            G[:, 0] = 1.0
            dG[:, 0] = 0.0
            for k in range(1, q):
                np.multiply(G[:, k - 1], u, out=G[:, k])
                np.multiply(G[:, k - 1], float(k), out=dG[:, k])
        else:
            v = np.column_stack([u, self.extra])
            G[:] = poly_matrix(v, self.exps)
            dG[:] = poly_derivative(v, self.exps, 0)
        om_c = self.phic - Xc @ theta
        T = om_c if self.basec is None else self.basec - Xc @ theta
        V = T if self.fit_on == "target" else om_c
        A = G.T @ G
        try:
            cho: Any = linalg.cho_factor(A, check_finite=False)
            gamma = linalg.cho_solve(cho, G.T @ V, check_finite=False)
        except linalg.LinAlgError:
            cho = None
            gamma = np.linalg.lstsq(G, V, rcond=None)[0]
        Gg = G @ gamma
        r = T - Gg
        e = r if V is T else V - Gg
        h = dG @ gamma
        np.multiply(Xl, e[:, None], out=eXl)
        np.multiply(Xl, h[:, None], out=R[:, :p])
        R[:, 2 * p : 2 * p + q] = G
        R[:, -1] = r
        if P is None:
            L[:, q] = r
        else:
            L[:, q:] = P
        dG_eXl = dG.T @ eXl
        M = L.T @ R
        G_hXl, G_Xc = M[:q, :p], M[:q, p : 2 * p]
        P_hXl, P_Xc = M[q:, :p], M[q:, p : 2 * p]
        P_G, P_r = M[q:, 2 * p : 2 * p + q], M[q:, -1]
        rhs = -dG_eXl / s - G_Xc + G_hXl / s
        dgamma = (
            linalg.cho_solve(cho, rhs, check_finite=False)
            if cho is not None
            else np.linalg.lstsq(A, rhs, rcond=None)[0]
        )
        P_dr = -P_Xc + P_hXl / s - P_G @ dgamma
        return r, P_r.copy(), P_dr

    def jacobian(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """r and the full dr/dtheta (n_cur x p); for checks and small problems."""
        f = self._fit_g(theta)
        s, G, dG, gamma, Gg = f["s"], f["G"], f["dG"], f["gamma"], f["Gg"]
        r = f["T"] - Gg
        e = f["V"] - Gg
        du = self.Xl * (-1.0 / s)
        dT = -self.Xc
        dGg = (dG @ gamma)[:, None] * du
        rhs = dG.T @ (e[:, None] * du) + G.T @ (dT - dGg)
        cho = f["cho"]
        dgamma = (
            linalg.cho_solve(cho, rhs, check_finite=False)
            if cho is not None
            else np.linalg.lstsq(f["A"], rhs, rcond=None)[0]
        )
        return r, dT - dGg - G @ dgamma


Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]

# panels with more second-stage rows than 2 x COARSE_ROWS search from every start on a firm subsample
# of about COARSE_ROWS rows first, then polish each distinct optimum on all rows
COARSE_ROWS = 150_000


def coarse_mask(unit: np.ndarray, seed: int | None) -> np.ndarray | None:
    """Rows of a seeded firm subsample of about ``COARSE_ROWS`` rows, or None for small panels."""
    n = unit.size
    if n <= 2 * COARSE_ROWS:
        return None
    rng = np.random.default_rng(np.random.SeedSequence([0 if seed is None else int(seed), 11]))
    keep = rng.random(int(unit.max()) + 1) < COARSE_ROWS / n
    return keep[unit]


GRADIENT_FREE = ("Nelder-Mead", "Powell")


def multistart(
    fun: Objective,
    starts: list[np.ndarray],
    *,
    optimizer: str,
    names: list[str],
    start_tol: float,
    options: dict[str, Any] | None = None,
    coarse: Objective | None = None,
    polish: bool = False,
) -> tuple[np.ndarray, pd.DataFrame, list[str]]:
    """Minimise ``fun`` from each start; keep every optimum.

    With ``polish`` the chosen optimum is refined by :func:`newton_polish` (its row of the table
    then reports the polished parameters, criterion and gradient).

    With ``coarse`` (the same criterion on a subsample of firms, for large panels) every start but
    the first is first run on ``coarse``; the distinct optima found there are then polished on ``fun``
    and each start reports the polished optimum of its basin (column ``coarse_start``). The first
    start always runs on ``fun`` directly.

    The optimum with the lowest criterion is chosen (ties within 1e-9 relative go to the earliest
    start, so the first start, the user's or the documented default, wins among equivalent optima).
    A message is returned when another optimum's parameters differ from the chosen one by more than
    ``start_tol`` (largest absolute difference).
    """
    if coarse is not None and len(starts) > 1:
        # the first start (the user's or the documented default) always runs on all rows
        pre, _, _ = _run_starts(coarse, starts[1:], optimizer, options)
        reps: list[np.ndarray] = [starts[0]]
        basin = [0]
        for x in pre:
            for b, rx in enumerate(reps[1:], start=1):
                if np.all(np.isfinite(x)) and np.max(np.abs(x - rx)) <= max(start_tol, 1e-4):
                    basin.append(b)
                    break
            else:
                basin.append(len(reps))
                reps.append(x)
        fin, rows_fin, _ = _run_starts(fun, reps, optimizer, options)
        xs = [fin[b] for b in basin]
        rows = []
        for i, (x0, b, x) in enumerate(zip(starts, basin, xs, strict=True)):
            row = dict(rows_fin[b])
            row["start"] = i
            row |= {f"start:{n}": float(v) for n, v in zip(names, x0, strict=True)}
            row |= {n: float(v) for n, v in zip(names, x, strict=True)}
            row["coarse_start"] = i > 0
            rows.append(row)
        return _polished(fun, _choose(xs, rows, names, start_tol), names, polish)
    xs, rows, _ = _run_starts(fun, starts, optimizer, options)
    for i, (row, x0, x) in enumerate(zip(rows, starts, xs, strict=True)):
        row["start"] = i
        row |= {f"start:{n}": float(v) for n, v in zip(names, x0, strict=True)}
        row |= {n: float(v) for n, v in zip(names, x, strict=True)}
    return _polished(fun, _choose(xs, rows, names, start_tol), names, polish)


def _polished(
    fun: Objective, chosen: tuple[np.ndarray, pd.DataFrame, list[str]], names: list[str], on: bool
) -> tuple[np.ndarray, pd.DataFrame, list[str]]:
    x, table, msgs = chosen
    if not on or not np.all(np.isfinite(x)):
        return chosen
    x, crit, gnorm = newton_polish(fun, x)
    i = table.index[table["chosen"]][0]
    for n, v in zip(names, x, strict=True):
        table.loc[i, n] = float(v)
    table.loc[i, "criterion"] = crit
    if "gradient_norm" in table.columns:
        table.loc[i, "gradient_norm"] = gnorm
    return x, table, msgs


#: Newton polish: relative step of the central differences of the analytic gradient (the Hessian's
#: error is O(h^2) ~ 1e-10 relative, ample for steps that start ~1e-6 from the optimum) and the
#: number of steps taken with that Hessian (each one evaluation; the error shrinks ~1e-6 per step).
POLISH_H = 1e-5
POLISH_STEPS = 3
#: largest relative Newton step taken (BFGS leaves the optimum within about 1e-6 relative)
POLISH_MAX_STEP = 1e-4


def newton_polish(fun: Objective, x: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Refine a local minimum: Newton steps on the analytic gradient with a central-difference Hessian.

    BFGS stops where its gradient tolerance or line search does, a distance |g|/lambda_min(H) from
    the optimum that depends on the path (start, rounding of the criterion): about 1e-8 relative on
    ACF's parameters. A few Newton steps bring the gradient to its rounding level, so the same data
    give the same optimum to ~1e-12 whatever the path (in memory, or summed over partitions on Dask).
    A step is kept only if it is small (``POLISH_MAX_STEP``) and lowers the largest gradient entry; a
    Hessian that is not positive definite (not a regular minimum) leaves ``x`` as it is. Returns the point,
    its criterion and its largest absolute gradient entry. Cost: 2p + 1 + POLISH_STEPS evaluations.
    """
    x = np.asarray(x, dtype=float)
    f0, g0 = fun(x)
    h = POLISH_H * np.maximum(np.abs(x), 1.0)
    cols = []
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = h[j]
        cols.append((fun(x + e)[1] - fun(x - e)[1]) / (2 * h[j]))
    H = np.column_stack(cols)
    H = (H + H.T) / 2
    try:
        cho = linalg.cho_factor(H, check_finite=False)
    except linalg.LinAlgError:
        return x, float(f0), float(np.max(np.abs(g0)))
    for _ in range(POLISH_STEPS):
        step = linalg.cho_solve(cho, g0, check_finite=False)
        if np.max(np.abs(step) / np.maximum(np.abs(x), 1.0)) > POLISH_MAX_STEP:
            break  # not in the quadratic neighbourhood BFGS should have left us in
        x1 = x - step
        f1, g1 = fun(x1)
        # near the optimum the criterion changes by less than its rounding: judge by the gradient
        ok = np.isfinite(f1) and np.all(np.isfinite(g1))
        if not ok or np.max(np.abs(g1)) >= np.max(np.abs(g0)):
            break
        x, f0, g0 = x1, f1, g1
    return x, float(f0), float(np.max(np.abs(g0)))


def _run_starts(
    fun: Objective, starts: list[np.ndarray], optimizer: str, options: dict[str, Any] | None
) -> tuple[list[np.ndarray], list[dict[str, Any]], None]:
    rows = []
    xs = []
    for x0 in starts:
        opts = dict(options or {})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if optimizer in GRADIENT_FREE:
                opts.setdefault("maxiter", 20000)
                if optimizer == "Nelder-Mead":
                    opts.setdefault("xatol", 1e-10)
                    opts.setdefault("fatol", 1e-16)
                res = optimize.minimize(lambda t: fun(t)[0], x0, method=optimizer, options=opts)  # type: ignore[call-overload]
            else:
                if optimizer in ("BFGS", "CG"):
                    opts.setdefault("gtol", 1e-10)
                opts.setdefault("maxiter", 2000)
                res = optimize.minimize(fun, x0, jac=True, method=optimizer, options=opts)  # type: ignore[call-overload]
        x = np.asarray(res.x, dtype=float)
        crit, grad = fun(x)
        crit = float(crit)
        gnorm = float(np.max(np.abs(grad))) if np.size(grad) else 0.0
        # BFGS stops with "precision loss" when the gradient is at rounding level: accept a small one
        converged = bool(res.success) or (np.isfinite(gnorm) and gnorm < 1e-6)
        xs.append(x)
        row = {"criterion": crit, "converged": converged, "gradient_norm": gnorm}
        row |= {"iterations": int(getattr(res, "nit", -1)), "status": str(res.message)}
        rows.append(row)
    return xs, rows, None


def _choose(
    xs: list[np.ndarray], rows: list[dict[str, Any]], names: list[str], start_tol: float
) -> tuple[np.ndarray, pd.DataFrame, list[str]]:
    starts = xs
    first = ["start", *[f"start:{n}" for n in names], *names, "criterion", "converged"]
    table = pd.DataFrame(rows)
    table = table[first + [c for c in table.columns if c not in first]]
    crits = table["criterion"].to_numpy()
    finite = np.isfinite(crits)
    if not finite.any():
        raise EstimationError(
            "the optimiser found no finite criterion value from any starting point; try other start "
            "values (start=...), another optimizer or a lower polynomial order"
        )
    best_val = crits[finite].min()
    tie = finite & (crits <= best_val + 1e-9 * max(abs(best_val), 1e-12) + 1e-15)
    best = int(np.flatnonzero(tie)[0])
    table["chosen"] = table["start"] == best
    msgs: list[str] = []
    if len(starts) > 1:
        diffs = np.array(
            [np.max(np.abs(x - xs[best])) if np.all(np.isfinite(x)) else np.inf for x in xs]
        )
        away = np.flatnonzero(diffs > start_tol)
        if away.size:
            msgs.append(
                f"{away.size} of {len(starts)} starting points reached a different optimum (largest "
                f"parameter difference {np.max(diffs[np.isfinite(diffs)]):.4g}, criteria "
                f"{', '.join(f'{c:.4g}' for c in crits[away])} vs {crits[best]:.4g} chosen); the objective "
                "is flat or multi-modal here: inspect result.starts"
            )
    return xs[best], table, msgs
