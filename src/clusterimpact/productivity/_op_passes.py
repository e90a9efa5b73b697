"""Olley-Pakes and Levinsohn-Petrin as passes of additive statistics (one code for memory and Dask).

The estimator (:meth:`OlleyPakes._estimate <clusterimpact.productivity.OlleyPakes>`) runs through a
:class:`~._runner.Runner`: the whole sample as one partition in memory, firm partitions on Dask. Every
firm is whole in one partition, sorted by year, so lags are partition-local and every statistic below
is a sum over partitions:

- first stage: the cross-products of output on the free inputs, the controls and a polynomial in the
  standardised (state, proxy) (:func:`fs_cross`), solved on the client (``ols_from_cross``), and its
  residual sum of squares (:func:`fs_ss`);
- the survival probit of the exit correction (:func:`survival_fit`): Newton-Raphson
  (:func:`clusterimpact._binary.newton_ascent`), each step one pass for the log-likelihood, gradient
  and information;
- the second stage's rows (firm-years with an observed previous year: state inputs at t and t-1, phi
  at t and t-1, output net of the free inputs, the survival probability at t-1), derived once
  (:func:`lom_rows`, kept by ``Runner.blocks``);
- at each trial theta of the optimiser (on the client): one pass of :func:`lom_moments` (sums of the
  monomials of omega_{t-1} (and the survival probability) up to twice the degree of g, times the few
  columns the criterion and its gradient need), finished by :func:`lom_finalize` into the sum of
  squared innovations / n and its exact gradient.

The in-memory path takes the same passes on one block, so both paths differ only by the order of
floating-point summation. ln TFP is ``phi - k theta`` by row (:func:`op_rows`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import linalg
from scipy.special import log_ndtr, ndtr, ndtri

from clusterimpact._binary import newton_ascent
from clusterimpact.errors import EstimationError
from clusterimpact.productivity._poly import poly_exponents, poly_matrix
from clusterimpact.productivity._prep import Arrays
from clusterimpact.productivity._runner import Blocks, Runner
from clusterimpact.productivity._stages import gram_solver

__all__ = [
    "SURVIVAL_MAXITER",
    "QRSum",
    "fs_design",
    "fs_qr",
    "fs_rows",
    "lom_criterion",
    "lom_finalize",
    "lom_moments",
    "lom_rows",
    "lom_start",
    "op_rows",
    "survival_fit",
    "survival_rows",
]

#: Newton steps of the survival probit before it is declared not to converge (a regular probit
#: converges in under 10; a separated one diverges: on Dask every step is a pass over the partitions)
SURVIVAL_MAXITER = 50


# -- first stage ------------------------------------------------------------------------------------
def fs_design(arr: Arrays, cache: dict[str, Any], spec: tuple[Any, ...]) -> np.ndarray:
    """1, free inputs, controls, a full polynomial of degree ``order`` in the standardised (state,
    proxy): ``spec = (mu, sd, order)`` (centre and scale of the polynomial's variables)."""
    if "fs" not in cache:
        mu, sd, order = spec
        assert arr.P is not None
        pv = (np.column_stack([arr.K, arr.P]) - mu) / sd
        exps = poly_exponents(pv.shape[1], order)
        cache["fs"] = np.column_stack([np.ones(arr.n), arr.F, arr.C, poly_matrix(pv, exps)])
    return np.asarray(cache["fs"])


class QRSum:
    """A least-squares problem reduced to ``R`` and ``Q'y`` (``D = QR``) and ``y'y``; ``+`` merges two
    blocks of rows by the QR factorisation of their stacked factors (Householder, as numpy's).

    The first stage's polynomial makes ``D'D`` ill-conditioned (about 1e7 on the test panels), and
    normal equations lose ``cond(D'D)`` times the roundoff of ``D'D``: the fitted values at the
    rows far out in the polynomial's range then differ between two summation orders by ~1e-9. The
    factors lose only ``cond(D)``, its square root, so the in-memory (one block) and Dask (one block
    per partition, merged in partition order) fits agree to ~1e-12 row by row.
    """

    def __init__(self, R: np.ndarray, qty: np.ndarray, yy: float) -> None:
        self.R, self.qty, self.yy = R, qty, yy

    @classmethod
    def of(cls, D: np.ndarray, y: np.ndarray) -> QRSum:
        """The factors of one block of rows."""
        Q, R = np.linalg.qr(D)
        return cls(R, Q.T @ y, float(y @ y))

    def __add__(self, other: QRSum) -> QRSum:
        Q, R = np.linalg.qr(np.vstack([self.R, other.R]))
        return QRSum(R, Q.T @ np.r_[self.qty, other.qty], self.yy + other.yy)

    def solve(self) -> np.ndarray | None:
        """The coefficients; ``None`` when the design is rank deficient or ill-conditioned (the rule
        of ``ols_from_cross``: a pivot of the norm-scaled factor below 1e-6 of the largest)."""
        k = self.R.shape[1]
        if self.R.shape[0] < k:
            return None
        norms = np.sqrt((self.R * self.R).sum(axis=0))
        d = np.abs(np.diag(self.R)) / np.where(norms > 0, norms, 1.0)
        if not d.min() > 1e-6 * d.max():
            return None
        return np.asarray(linalg.solve_triangular(self.R[:k], self.qty[:k], check_finite=False))

    def r2(self, n: int, ybar: float) -> float:
        """R² of the fit: 1 - (y'y - |Q'y|²) / (y'y - n ybar²)."""
        tss = self.yy - n * ybar * ybar
        return 1.0 - (self.yy - float(self.qty @ self.qty)) / tss if tss > 0 else float("nan")


def fs_qr(arr: Arrays, cache: dict[str, Any], spec: tuple[Any, ...]) -> QRSum:
    """The first stage's factors on one block."""
    return QRSum.of(fs_design(arr, cache, spec), arr.y)


def fs_rows(arr: Arrays, cache: dict[str, Any], spec: tuple[Any, ...]) -> tuple[Any, Any]:
    """The first stage's design and output (least squares on the rows, when the cross-product is
    ill-conditioned: in memory only)."""
    return fs_design(arr, cache, spec), arr.y


def _phi_base(
    arr: Arrays, cache: dict[str, Any], spec: tuple[Any, ...], b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """phi (the fitted value net of the free inputs and controls) and output net of them."""
    lin = np.column_stack([arr.F, arr.C])
    net = lin @ b[1 : 1 + lin.shape[1]]
    return fs_design(arr, cache, spec) @ b - net, arr.y - net


def op_rows(
    arr: Arrays, cache: dict[str, Any], spec: tuple[Any, ...], b: np.ndarray, theta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """ln TFP (phi - k theta) and its residual (output net of all inputs) by row."""
    phi, base = _phi_base(arr, cache, spec, b)
    return phi - arr.K @ theta, base - arr.K @ theta


# -- survival probit (exit correction) --------------------------------------------------------------
def survival_rows(
    arr: Arrays, cache: dict[str, Any], spec: tuple[Any, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The probit design for every row, and the at-risk rows' design and survival indicator
    (a firm-year before the last sample year survives when its firm is observed the next year).
    ``spec = (mu, sd, order, last_year)``."""
    if "surv" not in cache:
        mu, sd, order, last_year = spec
        assert arr.P is not None
        V = (np.column_stack([arr.K, arr.P]) - mu) / sd
        D = np.column_stack([np.ones(arr.n), poly_matrix(V, poly_exponents(V.shape[1], order))])
        nxt = np.zeros(arr.n, dtype=bool)
        nxt[:-1] = (arr.unit[1:] == arr.unit[:-1]) & (arr.time[1:] - arr.time[:-1] == 1)
        risk = arr.time < last_year
        cache["surv"] = (D, D[risk], nxt[risk].astype(float))
    D, Dr, s = cache["surv"]
    return D, Dr, s


def _last_year(arr: Arrays, cache: dict[str, Any]) -> dict[str, Any]:
    return {"max_t": int(arr.time.max()) if arr.n else np.iinfo(np.int64).min}


def _survival_counts(arr: Arrays, cache: dict[str, Any], spec: tuple[Any, ...]) -> dict[str, Any]:
    _, _, s = survival_rows(arr, cache, spec)
    return {"n": int(s.size), "stay": float(s.sum())}


def _probit_sums(
    beta: np.ndarray, spec: tuple[Any, ...], arr: Arrays, cache: dict[str, Any]
) -> tuple[Any, ...]:
    """Log-likelihood, gradient and information (minus the Hessian) of the probit at ``beta``."""
    _, D, s = survival_rows(arr, cache, spec)
    eta = D @ beta
    lp1, lp0 = log_ndtr(eta), log_ndtr(-eta)
    logpdf = -0.5 * eta * eta - 0.5 * np.log(2 * np.pi)
    l1, l0 = np.exp(logpdf - lp1), np.exp(logpdf - lp0)  # inverse Mills ratios
    ll = float(s @ lp1 + (1 - s) @ lp0)
    g = s * l1 - (1 - s) * l0
    w = s * l1 * (l1 + eta) + (1 - s) * l0 * (l0 - eta)
    return ll, D.T @ g, (D.T * w) @ D


def _probit_eval(spec: tuple[Any, ...], beta: np.ndarray) -> Callable[..., Any]:
    # a partial of a module function, not a closure: sent to every partition at every Newton step
    return functools.partial(_probit_sums, beta, spec)


def _extremes(
    arr: Arrays, cache: dict[str, Any], spec: tuple[Any, ...], beta: np.ndarray
) -> dict[str, Any]:
    _, D, _ = survival_rows(arr, cache, spec)
    p = ndtr(D @ beta)
    return {"extreme": int(((p < 1e-10) | (p > 1 - 1e-10)).sum())}


def survival_fit(
    runner: Runner, mu: np.ndarray, sd: np.ndarray, order: int
) -> tuple[tuple[Any, ...], np.ndarray, int, str | None]:
    """The survival probit by Newton steps over partitions.

    Returns the design spec, the coefficients, the number of exits and the probit's problem as a
    phrase (``None`` when it is fine): no convergence, non-finite coefficients, or, in memory where
    the rows are at hand, separation (fitted probabilities 0 or 1 without separation are a valid fit).
    """
    last = int(runner.reduce(_last_year)["max_t"])
    spec = (mu, sd, order, last)
    counts = runner.reduce(_survival_counts, spec)
    n, stay = int(counts["n"]), float(counts["stay"])
    n_exit = int(round(n - stay))
    if n_exit == 0 or n_exit == n:
        raise EstimationError(
            "exit correction: no firm leaves the panel (or every firm does), so survival cannot be "
            "modelled; fit without exit_correction"
        )
    k = 1 + len(poly_exponents(mu.size, order))
    beta0 = np.zeros(k)
    beta0[0] = float(ndtri(stay / n))
    stages = newton_ascent(functools.partial(_probit_eval, spec), beta0, SURVIVAL_MAXITER)
    try:
        request = next(stages)
        while True:
            request = stages.send(runner.reduce(request))
    except StopIteration as stop:
        beta, _, converged = stop.value
    why: str | None = None
    extreme = (
        int(runner.reduce(_extremes, spec, beta)["extreme"]) if np.all(np.isfinite(beta)) else 0
    )
    if not converged or extreme or not np.all(np.isfinite(beta)):
        why = _probit_problem(runner, spec, converged, beta)
    return spec, beta, n_exit, why


def _probit_problem(
    runner: Runner, spec: tuple[Any, ...], converged: bool, beta: np.ndarray
) -> str | None:
    """Non-convergence or (in memory) separation of the survival probit, as a phrase."""
    from clusterimpact._binary import SEPARATION_MESSAGE, separation

    if not runner.distributed:
        _, D, s = runner.rows(survival_rows, spec)
        if separation(D, s):
            return f"shows {SEPARATION_MESSAGE}"
    if not converged:
        return f"did not converge in {SURVIVAL_MAXITER} iterations"
    if not np.all(np.isfinite(beta)):
        return "has non-finite coefficients (singular information matrix)"
    return None  # extreme probabilities from extreme inputs, without separation: a valid fit


# -- second stage -----------------------------------------------------------------------------------
def lom_rows(
    arr: Arrays,
    cache: dict[str, Any],
    spec: tuple[Any, ...],
    b: np.ndarray,
    surv: tuple[tuple[Any, ...], np.ndarray] | None,
) -> dict[str, np.ndarray]:
    """The second stage's rows (firm-years with an observed previous year): state inputs at t and
    t-1 (``xc``, ``xl``), output net of the free inputs and controls at t (``basec``), phi at t and
    t-1, the survival probability at t-1 (``extra``, with the exit correction) and the firm code."""
    phi, base = _phi_base(arr, cache, spec, b)
    cur, lag = arr.cur, arr.lag
    out = {
        "unit": arr.unit[cur],
        "xc": arr.K[cur],
        "xl": arr.K[lag],
        "basec": base[cur],
        "phic": phi[cur],
        "phil": phi[lag],
    }
    if surv is not None:
        D, _, _ = survival_rows(arr, cache, surv[0])
        out["extra"] = ndtr(D[lag] @ surv[1])[:, None]
    return out


def lom_start(rows: dict[str, np.ndarray], theta: np.ndarray) -> dict[str, Any]:
    """The second stage's row count, and the sums for the centre and scale of omega_{t-1} at
    ``theta`` and of the survival probability."""
    u = rows["phil"] - rows["xl"] @ theta  # omega_{t-1}
    out = {"n": int(u.size), "su": float(u.sum()), "suu": float(u @ u)}
    if "extra" in rows:
        e = rows["extra"][:, 0]
        out |= {"se": float(e.sum()), "see": float(e @ e)}
    return out


def _exponents(d: int, order: int) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """Exponents of g's terms (degree 0..order) and of the moments (degree 0..2 order)."""
    return (
        poly_exponents(d, order, min_degree=0),
        poly_exponents(d, 2 * order, min_degree=0),
    )


def lom_moments(
    rows: dict[str, np.ndarray],
    theta: np.ndarray,
    c: float,
    s: float,
    order: int,
    omega: bool,
    ex: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Additive statistics of the law of motion at ``theta`` (one pass over the rows).

    With ``u = (phil - xl theta - c) / s`` (omega_{t-1} centred and scaled), ``v = [u, extra]`` (the
    survival probability centred and scaled by ``ex``: probabilities near 1 would make its powers
    nearly collinear; a polynomial with a constant spans the same functions in either), the
    target ``T = basec - xc theta`` and (``omega``) ``V = phic - xc theta``: the sums of every
    monomial of ``v`` up to degree ``2 order`` times ``1, T, (V), xc, xl, T xl, (V xl)``, and
    ``T'T``, ``T'xc``. Every cross-product of g's terms, their derivatives in u, the target and the
    inputs that :func:`lom_finalize` needs is one of these sums, with ``gamma`` (unknown until the
    sums are complete) factored out.
    """
    Xc, Xl = rows["xc"], rows["xl"]
    n, p = Xc.shape
    w = rows["phil"] - Xl @ theta
    u = (w - c) / s
    if ex is None:  # the powers of u, each one multiplication, into a column-major array
        M = np.empty((n, 2 * order + 1), order="F")
        M[:, 0] = 1.0
        for k in range(1, 2 * order + 1):
            np.multiply(M[:, k - 1], u, out=M[:, k])
    else:
        v = np.column_stack([u, (rows["extra"] - ex[0]) / ex[1]])
        M = poly_matrix(v, _exponents(2, order)[1])
    T = rows["basec"] - Xc @ theta
    V = rows["phic"] - Xc @ theta if omega else T
    nv = 1 + int(omega)
    W = np.empty((n, 2 + nv * (1 + p) + p), order="F")  # 1, T, (V), xc, xl, T xl, (V xl)
    W[:, 0] = 1.0
    W[:, 1] = T
    W[:, nv] = V
    o = 1 + nv
    W[:, o : o + p] = Xc
    W[:, o + p : o + 2 * p] = Xl
    np.multiply(Xl, T[:, None], out=W[:, o + 2 * p : o + 3 * p])
    if omega:
        np.multiply(Xl, V[:, None], out=W[:, o + 3 * p : o + 4 * p])
    return {
        "MW": M.T @ W,
        "TT": float(T @ T),
        "TXc": T @ Xc,
        "su": float(w.sum()),
        "suu": float(w @ w),
    }


def lom_finalize(
    st: dict[str, Any], n: int, s: float, order: int, d: int, omega: bool
) -> tuple[float, np.ndarray]:
    """The criterion (sum of squared innovations / n) and its exact gradient from :func:`lom_moments`
    summed over partitions.

    g's coefficients ``gamma`` solve the least squares of the target ``T`` (``omega``: of omega_t) on
    g's terms ``G``; the innovation is ``r = T - G gamma``. The gradient differentiates through u
    (``dG/dtheta = -dG/du xl / s``; the centre and scale are constants: a polynomial with a constant
    spans the same functions whatever they are) and through gamma.
    """
    eg, em = _exponents(d, order)
    idx = {e: i for i, e in enumerate(em)}
    S = st["MW"]
    p = st["TXc"].size
    oV = 2 if omega else 1
    oXc = oV + 1
    oXl, oTXl = oXc + p, oXc + 2 * p
    oVXl = oTXl + p if omega else oTXl
    q = len(eg)
    ea = [np.array(e) for e in eg]
    GG = np.array([[S[idx[tuple(a + b)], 0] for b in ea] for a in ea])
    GT = np.array([S[idx[e], 1] for e in eg])
    GV = np.array([S[idx[e], oV] for e in eg])
    GXc = np.array([S[idx[e], oXc : oXc + p] for e in eg])
    dGTXl, dGVXl = np.zeros((q, p)), np.zeros((q, p))
    dGGXl = np.zeros((q, q, p))  # [k, m] = sum dG_k G_m xl
    one = np.zeros(d, dtype=int)
    one[0] = 1
    for k, a in enumerate(ea):
        if a[0] == 0:
            continue
        lo = a - one
        dGTXl[k] = a[0] * S[idx[tuple(lo)], oTXl : oTXl + p]
        dGVXl[k] = a[0] * S[idx[tuple(lo)], oVXl : oVXl + p]
        for m, b in enumerate(ea):
            dGGXl[k, m] = a[0] * S[idx[tuple(lo + b)], oXl : oXl + p]
    solve = gram_solver(GG)
    gamma = solve(GV)
    rr = st["TT"] - 2.0 * gamma @ GT + gamma @ GG @ gamma
    dG_GgXl = np.einsum("m,kmp->kp", gamma, dGGXl)  # dG'((G gamma) xl)
    G_hXl = np.einsum("k,kmp->mp", gamma, dGGXl)  # G'(h xl), h = dG gamma
    r_hXl = gamma @ (dGTXl - dG_GgXl)  # r'(h xl)
    r_Xc = st["TXc"] - gamma @ GXc
    rhs = -(dGVXl - dG_GgXl) / s - GXc + G_hXl / s
    dgamma = solve(rhs)
    Gr = GT - GG @ gamma  # zero up to roundoff when g is fitted to the target itself
    r_dr = -r_Xc + r_hXl / s - Gr @ dgamma
    return float(rr) / n, 2.0 * r_dr / n


#: the centre and scale of omega_{t-1} are those of the previous evaluation (no pass of their own);
#: when omega_{t-1} at the new theta lies this far from them (in their units), the pass is repeated
#: with its own, to keep the monomials well conditioned
RECENTRE_MEAN = 1.0
RECENTRE_SD = (0.5, 2.0)


def _centre_scale(s1: float, s2: float, n: int) -> tuple[float, float]:
    c = s1 / n
    sd = float(np.sqrt(max(s2 / n - c * c, 0.0)))
    return c, (sd if sd > 1e-12 * max(abs(c), 1.0) else 1.0)


def lom_criterion(
    blocks: Blocks, start: dict[str, Any], order: int, omega: bool
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """The optimiser's objective: theta -> (criterion, gradient), one pass over ``blocks`` each
    (two after a large jump of omega_{t-1}); ``start``: :func:`lom_start` summed at the first start."""
    n = int(start["n"])
    ex = _centre_scale(start["se"], start["see"], n) if "se" in start else None
    d = 1 + int(ex is not None)
    c0, s0 = _centre_scale(start["su"], start["suu"], n)
    scale: dict[str, float] = {"c": c0, "s": s0}

    def update(sums: dict[str, Any]) -> None:
        scale["c"], scale["s"] = _centre_scale(sums["su"], sums["suu"], n)

    def drifted(sums: dict[str, Any]) -> bool:
        c = sums["su"] / n
        sd = float(np.sqrt(max(sums["suu"] / n - c * c, 0.0))) / scale["s"]
        mean = (c - scale["c"]) / scale["s"]
        ok = abs(mean) <= RECENTRE_MEAN and RECENTRE_SD[0] <= sd <= RECENTRE_SD[1]
        return bool(np.isfinite(mean) and np.isfinite(sd) and not ok)

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        st = blocks.reduce(lom_moments, theta, scale["c"], scale["s"], order, omega, ex)
        if drifted(st):
            update(st)
            st = blocks.reduce(lom_moments, theta, scale["c"], scale["s"], order, omega, ex)
        out = lom_finalize(st, n, scale["s"], order, d, omega)
        if np.all(np.isfinite(theta)) and np.isfinite(st["suu"]):
            update(st)
        return out

    return fun
