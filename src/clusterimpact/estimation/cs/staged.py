"""The 2x2 cell estimators of Callaway-Sant'Anna as stages of additive sums (one code for memory and Dask).

Every estimator (:func:`unconditional_stages`, :func:`reg_stages`, :func:`ipw_stages`,
:func:`dr_stages`, :func:`dr_traditional_stages`, and the nuisance fits :func:`logit_stages`,
:func:`ipt_stages`) is a generator. It *yields* a request: a function of the cell's units
(:class:`CellData`) returning a tuple of sums over those units (arrays and floats, additive over any split
of the units). It is *sent* the requested sums over all the cell's units, does the small solve on them
and asks for the next sums; it finally *returns* the estimate and the function giving each unit's
influence value (given the finalised estimates, a unit's influence value depends only on that unit).

- In memory, :func:`run_local` answers every request on the whole cell at once: the arithmetic is the
  one the estimators always did (the same expressions, in the same order).
- On Dask (:mod:`clusterimpact.estimation.cs._dask`) the requests of every cell are answered together
  by one map-reduce over the partitions (each firm in one partition), and the influence function in a
  last pass: the estimates differ from the in-memory ones only by the order of summation.

A factory takes the design's width ``k`` (intercept included). Newton fits (the propensity score)
take one request per iteration: the log-likelihood, gradient and
Hessian at the candidate point, so step halving costs no extra pass.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from clusterimpact._binary import newton_ascent

__all__ = [
    "PS_MAXITER",
    "STAGES",
    "TRIM_LEVEL",
    "CellData",
    "CellFailure",
    "run_local",
]

TRIM_LEVEL = 0.995  # controls with a propensity score at or above this get no weight (as DRDID)
#: Newton iterations before a propensity model is declared not to converge.
PS_MAXITER = 100


@dataclass
class CellData:
    """The units of one 2x2 cell (or the part of them in one partition): outcome change, design with
    intercept, sampling weights and the treated indicator.

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.estimation.cs.staged import CellData
    >>> cell = CellData(dy=np.array([3.0, 1.0]), X=np.ones((2, 1)), w=np.ones(2), d=np.array([True, False]))
    >>> cell.c.tolist()
    [False, True]
    """

    dy: np.ndarray
    X: np.ndarray
    w: np.ndarray
    d: np.ndarray
    memo: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def c(self) -> np.ndarray:
        return ~self.d

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        """``make()``, computed once per cell: a finalised stage's per-unit values (fitted scores,
        residuals) serve its later requests without being recomputed."""
        if key not in self.memo:
            self.memo[key] = make()
        return self.memo[key]


Request = Callable[[CellData], tuple[Any, ...]]
PsiFn = Callable[[CellData], np.ndarray]
Stages = Generator[Request, tuple[Any, ...], Any]


class CellFailure(Exception):
    """A 2x2 cell's nuisance model has no valid estimate; the message is the reason (the cell is NaN).

    ``diagnose``, when set, gives a more precise reason from the cell's units (in memory only: it
    needs them all at once, e.g. a linear program for separation).

    Examples
    --------
    >>> from clusterimpact.estimation.cs.core import CellFailure
    >>> try:
    ...     raise CellFailure("propensity model separated: no control with a score below 1")
    ... except CellFailure as failure:
    ...     print("cell is NaN:", failure)
    cell is NaN: propensity model separated: no control with a score below 1
    """

    def __init__(self, message: str, diagnose: Callable[[CellData], str] | None = None) -> None:
        super().__init__(message)
        self.diagnose = diagnose


def run_local(stages: Stages, data: CellData) -> Any:
    """Drive ``stages`` on all of a cell's units at once (the in-memory path); returns its value.

    A :class:`CellFailure` with a ``diagnose`` is re-raised with the diagnosed reason.

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.estimation.cs.staged import STAGES, CellData, run_local
    >>> cell = CellData(
    ...     dy=np.array([3.0, 5.0, 1.0, 2.0]), X=np.ones((4, 1)), w=np.ones(4),
    ...     d=np.array([True, True, False, False]),
    ... )
    >>> att, psi = run_local(STAGES["unconditional"](1), cell)
    >>> att  # (3 + 5) / 2 - (1 + 2) / 2
    2.5
    """
    try:
        request = next(stages)
        while True:
            request = stages.send(request(data))
    except StopIteration as stop:
        return stop.value
    except CellFailure as exc:
        if exc.diagnose is None:
            raise
        raise CellFailure(exc.diagnose(data)) from None


def _well_conditioned(H: np.ndarray) -> bool:
    """Hessian usable: finite, and not singular on the correlation scale (condition below 1e12)."""
    dg = np.sqrt(np.abs(np.diag(H)))
    if not np.all(np.isfinite(H)) or np.any(dg == 0):
        return False
    ev = np.linalg.eigvalsh(H / np.outer(dg, dg))
    return bool(ev.min() > 1e-12 * ev.max())


def _ps_reason(X: np.ndarray, d: np.ndarray, w: np.ndarray, converged: bool, maxiter: int) -> str:
    """Why a propensity-score fit failed, for the cell's warning."""
    from clusterimpact._binary import SEPARATION_MESSAGE, separation

    if separation(X, d, w):
        return f"propensity-score logit: {SEPARATION_MESSAGE}"
    return _ps_reason_no_lp(converged, maxiter)


def _ps_reason_no_lp(converged: bool, maxiter: int) -> str:
    if not converged:
        return f"propensity-score logit did not converge in {maxiter} Newton iterations"
    return "propensity-score logit: singular information matrix (collinear covariates in this cell)"


def _control_weight(total: float) -> float:
    """Total weight of the controls after trimming; no weight left means no overlap (a NaN cell)."""
    if not total > 0:
        raise CellFailure(
            f"no overlap: every control unit has a propensity score of {TRIM_LEVEL} or more and gets "
            "no weight"
        )
    return float(total)


def _solve(H: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.solve(H, b)


# -------------------------------------------------------------------------------------------------
# nuisance fits
# -------------------------------------------------------------------------------------------------
def _logit_eval(beta: np.ndarray) -> Request:
    # a partial of a module function, not a closure: sent to every partition in every Newton round,
    # it is then serialised by reference (a closure would be pickled by value, much slower)
    return functools.partial(_logit_request, beta)


def _logit_request(beta: np.ndarray, a: CellData) -> tuple[Any, ...]:
    from scipy.special import expit

    y = a.d.astype(float)
    eta = a.X @ beta
    ll = float(a.w @ (y * eta - np.logaddexp(0.0, eta)))
    p = expit(eta)
    grad = a.X.T @ (a.w * (y - p))
    H = (a.X.T * (a.w * p * (1 - p))) @ a.X
    return ll, grad, H


def _weighted_share(a: CellData) -> tuple[Any, ...]:
    return float(np.multiply(a.d.astype(float), a.w).sum()), float(a.w.sum())


def logit_stages(k: int, maxiter: int = PS_MAXITER) -> Stages:
    """Weighted logit of ``d`` on ``X`` by Newton-Raphson with step halving; returns ``(beta, H)``.

    Raises :class:`CellFailure` when the maximum-likelihood estimate does not exist or was not found
    (separation, diagnosed in memory by linear programming, or no convergence in ``maxiter`` steps).
    """
    swy, sw = yield _weighted_share
    beta = np.zeros(k)
    pbar = swy / sw
    beta[0] = np.log(pbar / (1 - pbar))
    beta, H, converged = yield from newton_ascent(_logit_eval, beta, maxiter)
    if not converged or not _well_conditioned(H):
        raise CellFailure(
            _ps_reason_no_lp(converged, maxiter),
            diagnose=lambda a: _ps_reason(a.X, a.d, a.w, converged, maxiter),
        )
    return beta, H


def _ipt_eval(gamma: np.ndarray) -> Request:
    return functools.partial(_ipt_request, gamma)  # by reference, as _logit_eval


def _ipt_request(gamma: np.ndarray, a: CellData) -> tuple[Any, ...]:
    Xc, wc = a.once("controls", lambda: (a.X[a.c], a.w[a.c]))
    odds = np.exp(np.clip(Xc @ gamma, -700, 700))
    return float((wc * odds).sum()), Xc.T @ (wc * odds), (Xc.T * (wc * odds)) @ Xc


def _ipt_start(a: CellData) -> tuple[Any, ...]:
    d = a.d
    return float(a.w[d].sum()), float(a.w[~d].sum()), (a.w[d][:, None] * a.X[d]).sum(axis=0)


def ipt_stages(k: int, maxiter: int = 2 * PS_MAXITER) -> Stages:
    """Inverse probability tilting for the ATT (Graham, Pinto & Egel 2012): control odds ``exp(X'g)``
    with weighted control covariate means equal to the treated ones. Returns ``gamma``.

    Raises :class:`CellFailure` when no tilting balances the covariates (the treated covariate mean
    outside the controls' hull, diagnosed in memory) or Newton did not converge.
    """
    wd, wc, xd = yield _ipt_start
    gamma = np.zeros(k)
    gamma[0] = np.log(wd / wc)
    s_odds, s_grad, H = yield _ipt_eval(gamma)
    cur = float(s_odds - xd @ gamma)
    converged = False
    for _ in range(maxiter):
        grad = s_grad - xd
        try:
            step = _solve(H, grad)
        except np.linalg.LinAlgError:
            break
        s = 1.0
        while s > 1e-10:
            new = gamma - s * step
            n_odds, n_grad, n_h = yield _ipt_eval(new)
            val = float(n_odds - xd @ new)
            if np.isfinite(val) and val <= cur + 1e-12 * abs(cur):
                break
            s /= 2
        else:
            break  # no descent: not converged
        gamma, cur, s_grad, H = new, val, n_grad, n_h
        if np.max(np.abs(s * step)) < 1e-10 * max(1.0, float(np.max(np.abs(gamma)))):
            converged = True
            break
    if not converged or not _well_conditioned(H):
        reason = _ipt_reason(converged, maxiter)
        raise CellFailure(reason, diagnose=lambda a: _ipt_diagnose(a, xd / wd, reason))
    return gamma


def _ipt_reason(converged: bool, maxiter: int) -> str:
    if not converged:
        return (
            f"propensity score (inverse probability tilting) did not converge in {maxiter} "
            "Newton iterations"
        )
    return (
        "propensity score (inverse probability tilting): singular information matrix "
        "(collinear covariates in this cell)"
    )


def _ipt_diagnose(a: CellData, treated_mean: np.ndarray, reason: str) -> str:
    from clusterimpact._binary import outside_hull

    if outside_hull(a.X[a.c], treated_mean):
        return (
            "propensity score (inverse probability tilting): the treated units' covariate mean "
            "lies outside the range of the controls' covariates (separation), so no reweighting "
            "of the controls balances them"
        )
    return reason


# -------------------------------------------------------------------------------------------------
# 2x2 estimators (Sant'Anna & Zhao 2020, panel data)
# -------------------------------------------------------------------------------------------------
def unconditional_stages(k: int = 1) -> Stages:
    """Unconditional 2x2 DiD (what every ``est`` reduces to without covariates)."""

    def sums(a: CellData) -> tuple[Any, ...]:
        d, c, w, dy = a.d, a.c, a.w, a.dy
        return w[d].sum(), w[c].sum(), (w[d] * dy[d]).sum(), (w[c] * dy[c]).sum()

    WD, WC, s1, s0 = yield sums
    m1, m0 = float(s1 / WD), float(s0 / WC)

    def psi(a: CellData) -> np.ndarray:
        d, c, w, dy = a.d, a.c, a.w, a.dy
        out = np.empty(dy.size)
        out[d] = w[d] * (dy[d] - m1) / WD
        out[c] = -w[c] * (dy[c] - m0) / WC
        return out

    return m1 - m0, psi


def _wls_sums(weight: Callable[[CellData], np.ndarray]) -> Request:
    """``X'WX`` and ``X'W dy`` over the controls with weights ``weight(a)`` (controls only)."""

    def request(a: CellData) -> tuple[Any, ...]:
        c = a.c
        xtw = a.X[c].T * weight(a)
        return xtw @ a.X[c], xtw @ a.dy[c]

    return request


def reg_stages(k: int) -> Stages:
    """Outcome regression (Heckman, Ichimura & Todd 1997): OLS of dY on X among controls.

    ``ATT = sum_D w (dY - X'beta) / W_D``; the influence function adds the estimation effect of beta.
    """

    def sums(a: CellData) -> tuple[Any, ...]:
        d = a.d
        H, b = _wls_sums(lambda u: u.w[u.c])(a)
        return H, b, a.w[d].sum(), (a.w[d][:, None] * a.X[d]).sum(axis=0)

    H, b, WD, swx = yield sums
    beta = _solve(H, b)

    def resid(a: CellData) -> np.ndarray:
        return a.once("e", lambda: a.dy - a.X @ beta)  # type: ignore[no-any-return]

    def treated(a: CellData) -> tuple[Any, ...]:
        d = a.d
        e = resid(a)
        return ((a.w[d] * e[d]).sum(),)

    (swe,) = yield treated
    att = float(swe / WD)
    v = _solve(H, swx / WD)

    def psi(a: CellData) -> np.ndarray:
        d, c, w = a.d, a.c, a.w
        e = resid(a)
        out = np.empty(a.dy.size)
        out[d] = w[d] * (e[d] - att) / WD
        out[c] = -w[c] * e[c] * (a.X[c] @ v)
        return out

    return att, psi


def _ps_weights(beta: np.ndarray) -> Callable[[CellData], tuple[np.ndarray, np.ndarray]]:
    """Fitted score (capped below 1) and the control weights ``w p/(1-p)`` (0 at or above the trim)."""

    def make(a: CellData) -> tuple[np.ndarray, np.ndarray]:
        from scipy.special import expit

        p = np.minimum(expit(a.X @ beta), 1 - 1e-6)
        r = np.where(a.c & (p < TRIM_LEVEL), p / (1 - p), 0.0)
        return p, a.w * r

    def weights(a: CellData) -> tuple[np.ndarray, np.ndarray]:
        return a.once("ps", lambda: make(a))  # type: ignore[no-any-return]

    return weights


def ipw_stages(k: int) -> Stages:
    """Normalised (Hajek) inverse-probability weighting (Abadie 2005; Sant'Anna & Zhao 2020, eq. 2.4).

    Logit propensity score; controls weighted by ``p/(1-p)`` (zero when ``p >= 0.995``), weights
    normalised within each arm. The influence function adds the logit's estimation effect.
    """
    beta, H = yield from logit_stages(k)
    ps = _ps_weights(beta)

    def sums(a: CellData) -> tuple[Any, ...]:
        d, c, w, dy = a.d, a.c, a.w, a.dy
        _, wr = ps(a)
        return w[d].sum(), (w[d] * dy[d]).sum(), wr[c].sum(), (wr[c] * dy[c]).sum()

    WD, s1, Wr, s0 = yield sums
    mu1 = float(s1 / WD)
    Wr = _control_weight(Wr)
    mu0 = float(s0 / Wr)

    def moment(a: CellData) -> tuple[Any, ...]:
        c = a.c
        _, wr = ps(a)
        return ((wr[c] * (a.dy[c] - mu0)) @ a.X[c],)

    (m,) = yield moment
    v = _solve(H, m / Wr)

    def psi(a: CellData) -> np.ndarray:
        d, c, w, dy = a.d, a.c, a.w, a.dy
        p, wr = ps(a)
        out = np.zeros(dy.size)
        out[d] = w[d] * (dy[d] - mu1) / WD
        out[c] = -wr[c] * (dy[c] - mu0) / Wr
        score = (w * (d.astype(float) - p))[:, None] * a.X
        return out - score @ v

    return mu1 - mu0, psi


def dr_stages(k: int) -> Stages:
    """Improved locally efficient doubly robust DiD (Sant'Anna & Zhao 2020, section 3.1, panel).

    Propensity score by inverse probability tilting, outcome model by weighted least squares among the
    controls with weights ``p/(1-p)``; both estimation effects vanish from the influence function by
    construction (the estimator is doubly robust for inference too).
    """
    gamma = yield from ipt_stages(k)

    def make(a: CellData) -> np.ndarray:
        odds = np.exp(np.clip(a.X @ gamma, -700, 700))
        p = odds / (1 + odds)
        return a.w * np.where(a.c & (p < TRIM_LEVEL), odds, 0.0)

    def tilt(a: CellData) -> np.ndarray:
        return a.once("tilt", lambda: make(a))  # type: ignore[no-any-return]

    def sums(a: CellData) -> tuple[Any, ...]:
        wr = tilt(a)
        H, b = _wls_sums(lambda u: wr[u.c])(a)
        return float(wr[a.c].sum()), H, b

    Wr, H, b = yield sums
    Wr = _control_weight(Wr)
    beta = _solve(H, b)

    def means(a: CellData) -> tuple[Any, ...]:
        d, c = a.d, a.c
        wr = tilt(a)
        e = a.dy - a.X @ beta
        return a.w[d].sum(), (a.w[d] * e[d]).sum(), (wr[c] * e[c]).sum()

    WD, s1, s0 = yield means
    a1, a0 = float(s1 / WD), float(s0 / Wr)

    def psi(a: CellData) -> np.ndarray:
        d, c, w = a.d, a.c, a.w
        wr = tilt(a)
        e = a.dy - a.X @ beta
        out = np.zeros(a.dy.size)
        out[d] = w[d] * (e[d] - a1) / WD
        out[c] = -wr[c] * (e[c] - a0) / Wr
        return out

    return a1 - a0, psi


def dr_traditional_stages(k: int) -> Stages:
    """Traditional locally efficient doubly robust DiD (Sant'Anna & Zhao 2020, eq. 3.1, panel).

    Logit propensity score by maximum likelihood, outcome regression by OLS among the controls; the
    influence function carries both estimation effects (DRDID's ``drdid_panel``).
    """
    gbeta, Hg = yield from logit_stages(k)
    ps = _ps_weights(gbeta)

    def sums(a: CellData) -> tuple[Any, ...]:
        H, b = _wls_sums(lambda u: u.w[u.c])(a)
        _, w0 = ps(a)
        return H, b, float(w0[a.c].sum()), float(a.w[a.d].sum())

    Hb, bb, W0, WD = yield sums
    beta = _solve(Hb, bb)
    W0 = _control_weight(W0)

    def means(a: CellData) -> tuple[Any, ...]:
        d, c, w = a.d, a.c, a.w
        _, w0 = ps(a)
        e = a.dy - a.X @ beta
        return (
            (w[d] * e[d]).sum(),
            (w0[c] * e[c]).sum(),
            (w[d][:, None] * a.X[d]).sum(axis=0),
            (w0[c][:, None] * a.X[c]).sum(axis=0),
        )

    s1, s0, sxd, sxc = yield means
    a1, a0 = float(s1 / WD), float(s0 / W0)
    m_beta = -sxd / WD + sxc / W0

    def moment(a: CellData) -> tuple[Any, ...]:
        c = a.c
        _, w0 = ps(a)
        e = a.dy - a.X @ beta
        return ((w0[c] * (e[c] - a0)) @ a.X[c],)

    (mg,) = yield moment
    vb = _solve(Hb, m_beta)
    vg = _solve(Hg, mg / W0)

    def psi(a: CellData) -> np.ndarray:
        d, c, w = a.d, a.c, a.w
        p, w0 = ps(a)
        e = a.dy - a.X @ beta
        out = np.zeros(a.dy.size)
        out[d] = w[d] * (e[d] - a1) / WD
        out[c] = -w0[c] * (e[c] - a0) / W0
        out[c] += w[c] * e[c] * (a.X[c] @ vb)
        score = (w * (d.astype(float) - p))[:, None] * a.X
        return out - score @ vg

    return a1 - a0, psi


STAGES: dict[str, Callable[[int], Stages]] = {
    "unconditional": unconditional_stages,
    "reg": reg_stages,
    "ipw": ipw_stages,
    "dr": dr_stages,
    "dr_traditional": dr_traditional_stages,
}
