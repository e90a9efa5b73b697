"""The arithmetic of Rambachan & Roth (2023) sensitivity sets, written from the papers.

Notation (Rambachan & Roth 2023, "A More Credible Approach to Parallel Trends", REStud 90(5)): the
event-study coefficients ``beta = (beta_pre, beta_post)`` (reference period excluded, ``n_pre`` leads
then ``n_post`` lags) satisfy ``beta = tau + delta`` with ``tau_pre = 0``; the target is
``theta = l' tau_post``. A restriction ``delta in Delta`` bounds the violation of parallel trends
``delta``, with ``delta_0 = 0`` in the reference period.

* ``Delta^SD(M)``: consecutive changes of slope are at most ``M``,
  ``|(delta_{t+1} - delta_t) - (delta_t - delta_{t-1})| <= M``. Sets are the optimal fixed-length
  confidence intervals (FLCI) of Armstrong & Kolesar over affine estimators ``a + v' beta_hat``.
* ``Delta^RM(Mbar)``: each post-period first difference is at most ``Mbar`` times the largest
  pre-period first difference. ``Delta^RM`` is the union over the location ``s`` and sign of that
  largest difference of polyhedra ``{delta: A delta <= 0}``; each is tested with the
  conditional-least-favourable hybrid test of Andrews, Roth & Pakes (2023, "Inference for Linear
  Conditional Moment Inequalities", REStud 90(6)), and the set is the union of the pieces' sets.

Everything here works on plain arrays; :mod:`clusterimpact.estimation.honest` wraps it for results.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

__all__ = [
    "ArpPiece",
    "flci_sd",
    "max_over_dual",
    "normal_abs_cv",
    "rm_constraints",
    "sd_constraints",
]

# A dual polytope with more candidate bases than this is searched by linear programming instead.
_MAX_ENUMERATED_BASES = 20_000
_TOL = 1e-10


# -- restriction matrices ------------------------------------------------------------------------
def _first_differences(n_pre: int, n_post: int) -> np.ndarray:
    """Rows ``delta_{t+1} - delta_t`` over the full vector (reference period at index ``n_pre``)."""
    n = n_pre + n_post + 1
    D = np.zeros((n - 1, n))
    for r in range(n - 1):
        D[r, r], D[r, r + 1] = -1.0, 1.0
    return D


def rm_constraints(
    n_pre: int, n_post: int, mbar: float, s: int, positive: bool, *, post_only: bool = True
) -> np.ndarray:
    """``A`` of the piece of ``Delta^RM(Mbar)`` whose largest pre-period difference is the ``s``-th.

    ``s`` counts the pre-period first differences ``0 .. n_pre-1`` (the last is ``delta_0 -
    delta_{-1}``); ``positive`` is its sign. The piece is ``{delta: A delta <= 0}``: every pre-period
    difference at most, and every post-period difference at most ``Mbar`` times, that difference in
    absolute value. With ``post_only`` only the rows that involve post-period ``delta`` are kept (the
    pre-period rows do not depend on ``theta``).
    """
    D = _first_differences(n_pre, n_post)
    v = D[s] * (1.0 if positive else -1.0)
    scale = np.r_[np.ones(n_pre), np.full(n_post, float(mbar))]
    A = np.vstack([D - scale[:, None] * v, -D - scale[:, None] * v])
    A = np.delete(A, n_pre, axis=1)  # delta_0 = 0
    A = A[np.any(np.abs(A) > 0, axis=1)]
    if post_only:
        A = A[np.any(np.abs(A[:, n_pre:]) > 0, axis=1)]
    return A


def _second_differences(n_pre: int, n_post: int) -> np.ndarray:
    n = n_pre + n_post + 1
    S = np.zeros((n - 2, n))
    for r in range(n - 2):
        S[r, r : r + 3] = (1.0, -2.0, 1.0)
    return S


def sd_constraints(n_pre: int, n_post: int, m: float) -> tuple[np.ndarray, np.ndarray]:
    """``(A, d)`` with ``Delta^SD(M) = {delta: A delta <= d}`` (``delta_0`` dropped)."""
    S = np.delete(_second_differences(n_pre, n_post), n_pre, axis=1)
    A = np.vstack([S, -S])
    return A, np.full(A.shape[0], float(m))


# -- FLCI under Delta^SD ---------------------------------------------------------------------------
def normal_abs_cv(t: float, alpha: float) -> float:
    """The ``1 - alpha`` quantile of ``|N(t, 1)|``."""
    t = abs(float(t))

    def f(c: float) -> float:
        return float(stats.norm.cdf(c - t) - stats.norm.cdf(-c - t) - (1 - alpha))

    return float(optimize.brentq(f, 0.0, t + 10.0, xtol=1e-14, rtol=1e-14))


@dataclass(frozen=True)
class FlciResult:
    """An FLCI: centre ``v' beta_hat``, half-length, the weights ``v`` and the worst-case bias."""

    center: float
    half_length: float
    weights: np.ndarray
    max_bias: float
    sd: float


def _sd_bias_map(n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray]:
    """``G`` (delta as a function of the second differences, slope 0) and the linear trend ``t``.

    Every ``delta`` with ``delta_0 = 0`` is ``slope * t + G d`` with ``d`` its second differences.
    """
    n = n_pre + n_post + 1
    S = _second_differences(n_pre, n_post)
    level = np.zeros(n)
    level[n_pre] = 1.0
    slope = np.zeros(n)
    slope[n_pre], slope[n_pre + 1] = -1.0, 1.0
    Q = np.vstack([S, level, slope])
    Qi = np.linalg.inv(Q)
    G = np.delete(Qi[:, : n - 2], n_pre, axis=0)
    trend = np.delete(Qi[:, n - 1], n_pre)
    return G, trend


def flci_sd(
    betahat: np.ndarray, sigma: np.ndarray, n_pre: int, l_vec: np.ndarray, m: float, alpha: float
) -> FlciResult:
    """Optimal FLCI for ``theta = l' tau_post`` under ``Delta^SD(M)``.

    The estimator is ``v' beta_hat`` with ``v = (w, l)``; it is unbiased for ``theta`` over linear
    trends when ``trend' v = 0``, and its worst-case bias is then ``M * ||G' v||_1``. The half-length
    ``sd(v) * cv_alpha(bias / sd(v))`` is minimised over ``w`` by tracing the smallest variance at
    each bias bound (a convex quadratic programme) and searching the bound in one dimension.
    """
    n_post = len(l_vec)
    G, trend = _sd_bias_map(n_pre, n_post)
    post = slice(n_pre, n_pre + n_post)
    scale = float(np.sqrt(l_vec @ sigma[post, post] @ l_vec))
    if not np.isfinite(scale) or scale <= 0:
        scale = float(np.sqrt(np.max(np.diag(sigma))))
    S = sigma / scale**2
    Gp, Gq = G[:n_pre], G[n_pre:]
    c0 = Gq.T @ l_vec
    eq_a, eq_b = trend[:n_pre], -float(trend[n_pre:] @ l_vec)

    def bias(w: np.ndarray) -> float:
        return float(m * np.abs(Gp.T @ w + c0).sum())

    def interval(w: np.ndarray) -> FlciResult:
        v = np.r_[w, l_vec]
        sd = float(np.sqrt(max(float(v @ sigma @ v), 0.0)))
        b = bias(w)
        half = sd * normal_abs_cv(b / sd, alpha) if sd > 0 else b
        return FlciResult(float(v @ betahat), half, v, b, sd)

    w_free = _min_variance(S, l_vec, n_pre, eq_a, eq_b, None)
    b_max = bias(w_free)
    if b_max <= 1e-14 * scale:
        return interval(w_free)

    def best_w(b: float) -> np.ndarray:
        return _min_variance_l1(S, l_vec, Gp, c0, eq_a, eq_b, b / m, w_free)

    def half(b: float) -> float:
        return interval(best_w(b)).half_length

    grid = np.linspace(0.0, b_max, 13)
    vals = np.array([half(b) for b in grid])
    i = int(np.argmin(vals))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    res = optimize.minimize_scalar(
        half, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12 * scale}
    )
    b_opt = float(res.x) if res.fun <= vals[i] else float(grid[i])
    return interval(best_w(b_opt))


def _min_variance(
    S: np.ndarray,
    l_vec: np.ndarray,
    n_pre: int,
    eq_a: np.ndarray,
    eq_b: float,
    zero_bias: tuple[np.ndarray, np.ndarray] | None,
) -> np.ndarray:
    """Smallest-variance pre-period weights under the trend constraint (and zero bias): KKT system."""
    Spp, Spq = S[:n_pre, :n_pre], S[:n_pre, n_pre:]
    E = eq_a[None, :]
    f = np.array([eq_b])
    if zero_bias is not None:
        Gp, c0 = zero_bias
        E = np.vstack([E, Gp.T])
        f = np.r_[f, -c0]
    k = E.shape[0]
    K = np.block([[2 * Spp, E.T], [E, np.zeros((k, k))]])
    rhs = np.r_[-2 * Spq @ l_vec, f]
    sol = np.linalg.lstsq(K, rhs, rcond=None)[0]
    return np.asarray(sol[:n_pre])


def _min_variance_l1(
    S: np.ndarray,
    l_vec: np.ndarray,
    Gp: np.ndarray,
    c0: np.ndarray,
    eq_a: np.ndarray,
    eq_b: float,
    budget: float,
    start: np.ndarray,
) -> np.ndarray:
    """Smallest variance subject to ``||Gp' w + c0||_1 <= budget`` and the trend constraint (SLSQP)."""
    n_pre, nd = Gp.shape
    Spp, Spq = S[:n_pre, :n_pre], S[:n_pre, n_pre:]
    lin = 2 * Spq @ l_vec

    def fun(z: np.ndarray) -> float:
        w = z[:n_pre]
        return float(w @ Spp @ w + lin @ w)

    def jac(z: np.ndarray) -> np.ndarray:
        return np.r_[2 * Spp @ z[:n_pre] + lin, np.zeros(nd)]

    Ci = np.hstack([np.vstack([-Gp.T, Gp.T]), np.vstack([np.eye(nd), np.eye(nd)])])
    ci = np.r_[-c0, c0]
    cons = [
        {
            "type": "eq",
            "fun": lambda z: eq_a @ z[:n_pre] - eq_b,
            "jac": lambda z: np.r_[eq_a, np.zeros(nd)],
        },
        {"type": "ineq", "fun": lambda z: Ci @ z + ci, "jac": lambda z: Ci},
        {
            "type": "ineq",
            "fun": lambda z: np.array([budget - z[n_pre:].sum()]),
            "jac": lambda z: np.r_[np.zeros(n_pre), -np.ones(nd)][None, :],
        },
    ]
    # start from the free optimum shrunk onto the bias budget: feasible for the slacks
    u0 = np.abs(Gp.T @ start + c0)
    z0 = np.r_[start, u0]
    res = optimize.minimize(  # type: ignore[call-overload]
        fun, z0, jac=jac, constraints=cons, method="SLSQP", options={"ftol": 1e-14, "maxiter": 500}
    )
    return np.asarray(res.x[:n_pre])


# -- ARP conditional / hybrid test ---------------------------------------------------------------
def _reduce(sigma_y: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``M = [sd, X]`` with ``X`` reduced to an orthonormal basis of its column space."""
    sd = np.sqrt(np.clip(np.diag(sigma_y), 0.0, None))
    if X.shape[1]:
        U, s, _ = np.linalg.svd(X, full_matrices=False)
        X = U[:, s > 1e-10 * max(1.0, s.max(initial=0.0))]
    return sd, np.column_stack([sd, X])


def _enumerate_vertices(Mmat: np.ndarray) -> np.ndarray | None:
    """Vertices of ``{lam >= 0: Mmat' lam = e_1}`` (rows), or None when there are too many bases."""
    m, k = Mmat.shape
    n_bases = int(np.prod([m - i for i in range(k)]) // max(1, int(np.prod(range(1, k + 1)))))
    if n_bases > _MAX_ENUMERATED_BASES:
        return None
    e1 = np.zeros(k)
    e1[0] = 1.0
    out = []
    for B in itertools.combinations(range(m), k):
        MB = Mmat[list(B)]
        if abs(np.linalg.det(MB)) < 1e-12 * max(1.0, np.abs(MB).max() ** k):
            continue
        lam_b = np.linalg.solve(MB.T, e1)
        if np.all(lam_b >= -1e-12):
            lam = np.zeros(m)
            lam[list(B)] = np.clip(lam_b, 0.0, None)
            out.append(lam)
    if not out:
        return np.zeros((0, m))
    V = np.unique(np.round(np.array(out), 12), axis=0)
    return V


def max_over_dual(
    Y: np.ndarray, Mmat: np.ndarray, vertices: np.ndarray | None
) -> tuple[float, np.ndarray | None]:
    """``max lam'Y`` over ``{lam >= 0: Mmat' lam = e_1}`` and the maximiser (None if empty)."""
    if vertices is not None:
        if vertices.shape[0] == 0:
            return -np.inf, None
        vals = vertices @ Y
        i = int(np.argmax(vals))
        return float(vals[i]), vertices[i]
    from scipy.optimize import linprog

    m, k = Mmat.shape
    e1 = np.zeros(k)
    e1[0] = 1.0
    res = linprog(-Y, A_eq=Mmat.T, b_eq=e1, bounds=[(0, None)] * m, method="highs-ds")
    if res.status == 2:
        return -np.inf, None
    if res.status != 0:
        raise RuntimeError(f"ARP linear programme failed: {res.message}")
    return -float(res.fun or 0.0), np.asarray(res.x)


def _truncation(
    S: np.ndarray, b: np.ndarray, Mmat: np.ndarray, vertices: np.ndarray | None
) -> tuple[float, float]:
    """``[V_lo, V_up]``: the values of ``eta`` at which ``lam_hat`` stays optimal (ARP, section 3)."""
    if vertices is not None:
        lb = vertices @ b
        ls = vertices @ S
        up = lb > 1 + 1e-10
        lo = lb < 1 - 1e-10
        v_up = float(np.min(ls[up] / (1 - lb[up]))) if up.any() else np.inf
        v_lo = float(np.max(ls[lo] / (1 - lb[lo]))) if lo.any() else -np.inf
        return v_lo, v_up
    from scipy.optimize import linprog

    m, k = Mmat.shape
    # Charnes-Cooper: mu = t lam, variables (mu, t)
    A_eq_base = np.hstack([Mmat.T, np.zeros((k, 1))])
    A_eq_base[0, -1] = -1.0  # sd' mu - t = 0
    bounds = [(0, None)] * (m + 1)
    zeros = np.zeros(k)
    res = linprog(
        np.r_[-S, 0.0],
        A_eq=np.vstack([A_eq_base, np.r_[b, -1.0]]),
        b_eq=np.r_[zeros, 1.0],
        bounds=bounds,
        method="highs",
    )
    v_up = float(res.fun or 0.0) if res.status == 0 else np.inf
    res = linprog(
        np.r_[-S, 0.0],
        A_eq=np.vstack([A_eq_base, np.r_[-b, 1.0]]),
        b_eq=np.r_[zeros, 1.0],
        bounds=bounds,
        method="highs",
    )
    v_lo = -float(res.fun or 0.0) if res.status == 0 else -np.inf
    return v_lo, v_up


@dataclass
class ArpPiece:
    """One polyhedron ``{delta: A delta <= d}`` tested by the ARP hybrid test at many ``theta``.

    Everything that does not depend on ``theta`` (moments' covariance, the dual polytope, the
    least-favourable critical value) is computed once.
    """

    y0: np.ndarray
    a_theta: np.ndarray
    sigma_y: np.ndarray
    Mmat: np.ndarray
    vertices: np.ndarray | None
    c_lf: float
    alpha: float
    kappa: float

    @classmethod
    def build(
        cls,
        A: np.ndarray,
        d: np.ndarray,
        betahat: np.ndarray,
        sigma: np.ndarray,
        n_pre: int,
        l_vec: np.ndarray,
        *,
        alpha: float,
        kappa: float,
        n_sims: int,
        seed: int,
        use_lp: bool = False,
    ) -> ArpPiece:
        A_post = A[:, n_pre:]
        y0 = A @ betahat - d
        a_theta = A_post @ l_vec / float(l_vec @ l_vec)
        # nuisance: tau_post moving within {l' tau = 0}
        if len(l_vec) > 1:
            _, _, Vt = np.linalg.svd(l_vec[None, :])
            X = A_post @ Vt[1:].T
        else:
            X = np.zeros((A.shape[0], 0))
        sigma_y = A @ sigma @ A.T
        _, Mmat = _reduce(sigma_y, X)
        vertices = None if use_lp else _enumerate_vertices(Mmat)
        rng = np.random.default_rng(seed)
        xi = rng.multivariate_normal(np.zeros(len(y0)), sigma_y, size=n_sims, method="eigh")
        c_lf = float(np.quantile(max_over_dual_many(xi, Mmat, vertices), 1 - kappa))
        return cls(y0, a_theta, sigma_y, Mmat, vertices, c_lf, alpha, kappa)

    def accepts(self, theta: float) -> bool:
        """Whether the hybrid (conditional-LF) test keeps ``theta`` at level ``alpha``."""
        Y = self.y0 - self.a_theta * theta
        eta, lam = max_over_dual(Y, self.Mmat, self.vertices)
        if lam is None or not np.isfinite(eta):
            return True
        if eta > self.c_lf:
            return False
        s2 = float(lam @ self.sigma_y @ lam)
        if s2 <= _TOL * max(1.0, float(np.max(np.diag(self.sigma_y)))):
            return eta <= 0
        b = self.sigma_y @ lam / s2
        v_lo, v_up = _truncation(Y - b * eta, b, self.Mmat, self.vertices)
        v_up = min(v_up, self.c_lf)
        sd = np.sqrt(s2)
        lo, up, x = v_lo / sd, v_up / sd, eta / sd
        if up <= lo:
            return True
        p = float(stats.truncnorm.cdf(x, lo, up))
        alpha_c = (self.alpha - self.kappa) / (1 - self.kappa)
        return p <= 1 - alpha_c


def max_over_dual_many(xi: np.ndarray, Mmat: np.ndarray, vertices: np.ndarray | None) -> np.ndarray:
    """``max lam' xi`` for each row ``xi`` (the ARP statistic of each simulated draw)."""
    if vertices is not None:
        if vertices.shape[0] == 0:
            return np.full(xi.shape[0], -np.inf)
        return np.asarray(np.max(xi @ vertices.T, axis=1))
    return np.array([max_over_dual(x, Mmat, None)[0] for x in xi])


# -- confidence sets by test inversion -----------------------------------------------------------
def rm_pieces(
    betahat: np.ndarray,
    sigma: np.ndarray,
    n_pre: int,
    l_vec: np.ndarray,
    mbar: float,
    *,
    alpha: float,
    n_sims: int,
    seed: int,
    post_only: bool = True,
    use_lp: bool = False,
) -> list[ArpPiece]:
    """The ``2 n_pre`` pieces of ``Delta^RM(Mbar)`` (location and sign of the largest pre-difference)."""
    n_post = len(l_vec)
    out = []
    for s in range(n_pre):
        for positive in (True, False):
            A = rm_constraints(n_pre, n_post, mbar, s, positive, post_only=post_only)
            out.append(
                ArpPiece.build(
                    A,
                    np.zeros(A.shape[0]),
                    betahat,
                    sigma,
                    n_pre,
                    l_vec,
                    alpha=alpha,
                    kappa=alpha / 10,
                    n_sims=n_sims,
                    seed=seed,
                    use_lp=use_lp,
                )
            )
    return out


def union_accepts(pieces: list[ArpPiece], theta: float) -> bool:
    """A value is in the union's set when any piece's test keeps it."""
    return any(p.accepts(theta) for p in pieces)


def invert(
    accepts: Callable[[float], bool],
    center: float,
    width: float,
    n_grid: int = 41,
    tol: float = 1e-9,
) -> tuple[float, float]:
    """``[min, max]`` of the accepted values: a grid over ``center +- width`` (widened while the
    accepted region touches an end), then bisection at both ends to ``tol * width``."""
    for _ in range(6):
        grid = np.linspace(center - width, center + width, n_grid)
        ok = np.array([accepts(float(g)) for g in grid])
        if not ok.any():
            # maybe a narrow set between grid points: refine once around the centre
            grid = np.linspace(center - width / 10, center + width / 10, 4 * n_grid)
            ok = np.array([accepts(float(g)) for g in grid])
            if not ok.any():
                return np.nan, np.nan
        if ok[0] or ok[-1]:
            width *= 3
            continue
        break
    else:
        return (-np.inf if ok[0] else float(grid[0])), (np.inf if ok[-1] else float(grid[-1]))
    i_lo, i_hi = int(np.argmax(ok)), len(ok) - 1 - int(np.argmax(ok[::-1]))
    lo = _bisect(accepts, float(grid[i_lo - 1]), float(grid[i_lo]), tol * width)
    hi = _bisect(accepts, float(grid[i_hi + 1]), float(grid[i_hi]), tol * width)
    return lo, hi


def _bisect(
    accepts: Callable[[float], bool], rejected: float, accepted: float, tol: float
) -> float:
    while abs(accepted - rejected) > tol:
        mid = 0.5 * (accepted + rejected)
        if accepts(mid):
            accepted = mid
        else:
            rejected = mid
    return accepted
