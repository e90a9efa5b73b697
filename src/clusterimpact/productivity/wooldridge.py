"""Wooldridge (2009): the two control-function equations estimated jointly in one GMM step.

With productivity omega_it = c(k_it, m_it)' lambda (a polynomial in state and proxy) and
omega_it = a + c(k_i,t-1, m_i,t-1)' gamma + xi_it (a linear law of motion in the lagged control function)::

  (1) y_it = a1 + b_f' f_it + b_k' k_it + c(k_it, m_it)' lambda + e_it,       instruments 1, f_it, c(k_it, m_it)
  (2) y_it = a2 + b_f' f_it + b_k' k_it + c(k_i,t-1, m_i,t-1)' gamma + u_it,   instruments 1, k_it, f_i,t-1, c(k_i,t-1, m_i,t-1)

where b_f, b_k (and control coefficients) are shared by both equations and controls instrument
themselves. Since c contains k linearly, (1) identifies b_f only and b_k comes from (2). prodest 0.1.1
left the linear state terms out of c in (1) (``state_in_control=False``), which ties the state
coefficient of the control function to b_k; that reproduces its published numbers but is biased
whenever the proxy demand depends on the state inputs. The system is linear in its parameters:
one-step GMM with weight (Z'Z)^-1 (default; prodest 0.1.1) or two-step efficient GMM. Standard errors:
the GMM sandwich with moments clustered by firm. Both equations use the firm-years with an observed
previous year.

Numerics: the system is solved with centred inputs, output and polynomial terms (each equation has its
own constant, so only the constants change, and they are undone for productivity); the prodest
restriction, which is not invariant to shifting the inputs, is kept exactly on an orthonormal basis of
the uncentred terms' span. Identification is checked on the equilibrated moment Jacobian
(``IDENT_RTOL``). Inputs shifted by constants (raw logs of euro amounts) give the same elasticities.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from scipy import linalg

from clusterimpact._validation import check_choice
from clusterimpact.errors import EstimationError, SpecError
from clusterimpact.productivity._base import Point, ProductionEstimator, cluster_meat, resolve
from clusterimpact.productivity._poly import poly_exponents, poly_matrix, poly_shift, round_bits
from clusterimpact.productivity._prep import Arrays
from clusterimpact.productivity._runner import MemoryRunner, Runner, moments

__all__ = ["Weighting", "Wooldridge"]

Weighting = Literal["one-step", "two-step"]


@dataclass(frozen=True, kw_only=True)
class Wooldridge(ProductionEstimator):
    """Wooldridge (2009) one-step GMM production function (materials proxy by default).

    Estimand: Cobb-Douglas elasticities under the Olley-Pakes/Levinsohn-Petrin assumptions (scalar
    Markov productivity inverted from the proxy demand; state inputs predetermined; lagged free inputs
    uncorrelated with the innovation), with the law of motion linear in lagged productivity. Standard
    errors are analytic (GMM sandwich, clustered by firm) unless ``bootstrap=B``.

    Parameters
    ----------
    poly_order
        Degree of the polynomial c(k, m) (default 3; prodest 0.1.1: 2).
    state_in_control
        Keep the linear state terms in the first equation's control function (Wooldridge 2009; default
        True). False reproduces prodest 0.1.1.
    weighting
        ``"one-step"`` (weight (Z'Z)^-1, default) or ``"two-step"`` (efficient, firm-clustered weight).

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.productivity import Wooldridge
    >>> result = Wooldridge().fit(example_panel())
    >>> sorted(result.elasticities.index)
    ['ln_capital', 'ln_emp']
    >>> result.tfp.columns.tolist()
    ['firm_id', 'year', 'ln_tfp', 'ln_tfp_resid']
    """

    method: ClassVar[str] = "wooldridge"
    uses_proxy: ClassVar[bool] = True
    uses_lags: ClassVar[bool] = True

    proxy: str | None = "ln_materials"
    poly_order: int | None = None
    weighting: Weighting = "one-step"
    state_in_control: bool | None = None

    def _order(self) -> int:
        o = int(resolve(self.poly_order, 3, 2, self.compat))
        if o < 1:
            raise SpecError(f"poly_order={o} must be at least 1")
        check_choice("weighting", self.weighting, ("one-step", "two-step"))
        return o

    def _options(self) -> dict[str, Any]:
        return {
            "poly_order": self._order(),
            "weighting": self.weighting,
            "state_in_control": self._state_in_control(),
        }

    def _state_in_control(self) -> bool:
        return bool(resolve(self.state_in_control, True, False, self.compat))

    def _min_lag_rows(self, arr: Arrays) -> int:
        d = arr.K.shape[1] + 1
        return 2 * (len(poly_exponents(d, self._order())) + arr.F.shape[1] + d + 2)

    def _control_basis(
        self, sd: np.ndarray, mean: np.ndarray, pk: int, order: int
    ) -> tuple[list[tuple[int, ...]], np.ndarray, np.ndarray]:
        """The polynomial c(k, m) with its constant, and the first equation's part of it.

        ``sd``, ``mean``: the standard deviations and means of (state, proxy) in the sample. Returns the
        monomials' exponents (1, then every monomial of the standardised inputs, centred: built per
        row by :func:`_design`), the centre ``mu`` of the standardised inputs, and ``B`` with
        ``P @ B`` spanning the first equation's control function: all of ``P`` by default (centring
        leaves the span of a full polynomial with its constant unchanged, so the estimates are those
        of the raw inputs, only computed stably), and with ``state_in_control=False`` the span of the
        *uncentred* monomials without the linear state terms (that restriction is not invariant to
        shifting the inputs, so it is kept exactly, on an orthonormal basis of that span).
        """
        sdw = np.where(sd > 0, sd, 1.0)
        mu = mean / sdw
        exps = poly_exponents(sd.size, order, min_degree=0)
        if self._state_in_control():
            return exps, mu, np.eye(len(exps))
        own = [i for i, e in enumerate(exps) if not (sum(e) == 1 and any(e[j] for j in range(pk)))]
        Q, _ = np.linalg.qr(poly_shift(exps, mu)[:, own])
        return exps, mu, Q

    def _point(self, arr: Arrays, *, full: bool = True, start: np.ndarray | None = None) -> Point:
        return self._estimate(MemoryRunner(arr), full=full)

    def _scale(self, runner: Runner, order: int) -> tuple[_Scale, int, int]:
        """Passes 1-3: the sample means and standard deviations the design is centred and scaled
        by, and the whitening of the polynomial's monomials."""
        mo = moments(runner)
        # every estimate is invariant to the centring and scaling constants (the polynomial's span,
        # the equations' own constants), so they are rounded to 26 significant bits: sums in
        # another order (other partitions) then give the same constants, and the same design by row
        mo = dataclasses.replace(mo, mean=round_bits(mo.mean), sd=round_bits(mo.sd))
        pf, pk = len(self.free), len(self.state)
        ps = pf + pk + len(self.controls)
        kp = np.r_[np.arange(1 + pf, 1 + pf + pk), mo.mean.size - 1]  # state columns, then proxy
        exps, mu, basis1 = self._control_basis(mo.sd[kp], mo.mean[kp], pk, order)
        sdw = np.where(mo.sd[kp] > 0, mo.sd[kp], 1.0)
        q = len(exps) - 1
        sc = _Scale(sdw, mu, exps, basis1, mo.mean[1 : 1 + ps], float(mo.mean[0]), pf, pk)
        sc = dataclasses.replace(sc, c_mean=np.zeros(q), c_white=np.eye(q))
        # whiten the monomials (the span, hence every estimate, is unchanged; the moment Jacobian
        # becomes well conditioned, so ln TFP = c(k, m)' lambda is not sensitive to roundoff)
        pm = runner.reduce(_poly_moments, sc)
        c_mean = pm["sum"] / mo.n
        cov = pm["CC"] / mo.n - np.outer(c_mean, c_mean)
        try:
            white = round_bits(
                linalg.solve_triangular(np.linalg.cholesky(cov), np.eye(q), lower=True).T
            )
        except np.linalg.LinAlgError:  # collinear monomials: the identification check says so
            return sc, mo.n, mo.n_cur
        c_mean = round_bits(c_mean)
        # P_raw = P_white @ M: the first equation's basis in the whitened coordinates
        M = np.eye(q + 1)
        M[0, 1:] = c_mean
        M[1:, 1:] = np.linalg.inv(white)
        b1 = np.eye(q + 1) if self._state_in_control() else M @ basis1
        sc = dataclasses.replace(sc, c_mean=c_mean, c_white=white, basis1=b1)
        return sc, mo.n, mo.n_cur

    def _estimate(self, runner: Runner, *, full: bool = True) -> Point:
        """(a) Z'X, Z'y, Z'Z by partition, (c) the GMM solve, (d) firm-clustered moment scores."""
        order = self._order()
        sc, n_all, n = self._scale(runner, order)
        st = runner.reduce(_cross, sc)
        A, c, q1 = st["A"], st["c"], st["ZZ1"].shape[0]
        ZZ = np.zeros((A.shape[0], A.shape[0]))
        ZZ[:q1, :q1] = st["ZZ1"]
        ZZ[q1:, q1:] = st["ZZ2"]
        if A.shape[0] < A.shape[1] or not _full_column_rank(A):
            raise EstimationError(
                "wooldridge: the parameters are not identified by the instruments (collinear "
                "inputs, or a proxy polynomial of too high order for these data)"
            )
        Wh = _whitener(ZZ)
        b, R, Q = _gmm_solve(A, c, Wh)
        g = runner.reduce(_scores, sc, b)
        jstat = float("nan")
        if self.weighting == "two-step":
            Wh = _whitener(g["meat"])
            b, R, Q = _gmm_solve(A, c, Wh)
            g = runner.reduce(_scores, sc, b)
            jstat = float(g["sum"] @ np.linalg.pinv(g["meat"]) @ g["sum"])
        ps = sc.m_s.size
        vcov = None
        if full:
            # (A'WA)^-1 A'W S W A (A'WA)^-1 with W^1/2 A = QR: R^-1 Q' (W^1/2' S W^1/2) Q R^-T
            B = Q.T @ (Wh.T @ g["meat"] @ Wh) @ Q
            Rinv = linalg.solve_triangular(R, np.eye(R.shape[0]))
            vcov = (Rinv @ B @ Rinv.T)[:ps, :ps]
        W = Wh @ Wh.T
        m = g["sum"] / n
        beta = b[:ps]
        lam = b[ps : ps + sc.basis1.shape[1]]
        rows = runner.rows(_rows, sc, lam, beta)
        names = [*self.free, *self.state, *self.controls]
        nin = sc.pf + sc.pk
        diag = {
            "criterion": float(m @ W @ m) * n,
            "poly_order": order,
            "weighting": self.weighting,
            "n_moments": int(A.shape[0]),
            "n_parameters": int(A.shape[1]),
            "j_statistic": jstat,
        }
        return Point(
            params=beta,
            names=names,
            elasticities=beta[:nin],
            el_names=names[:nin],
            ln_tfp=np.zeros(0) if runner.distributed else rows[0],
            ln_tfp_resid=np.zeros(0) if runner.distributed else rows[1],
            tfp_rule=rows if runner.distributed else None,
            theta=None,
            vcov=vcov,
            nobs=n,
            diagnostics=diag,
            exclusions={"no_previous_year": int(n_all - n)},
        )


@dataclass(frozen=True)
class _Scale:
    """What every partition needs to build the design: the proxy polynomial's scaling and basis, and
    the sample means the inputs and output are centred by (broadcast to the partitions)."""

    sd: np.ndarray
    mu: np.ndarray
    exps: list[tuple[int, ...]]
    basis1: np.ndarray
    m_s: np.ndarray
    m_y: float
    pf: int
    pk: int
    c_mean: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    c_white: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))


def _raw_poly(arr: Arrays, cache: dict[str, Any], sc: _Scale) -> np.ndarray:
    """The monomials of the standardised, centred (state, proxy), with the constant, by row."""
    if "P_raw" not in cache:
        assert arr.P is not None
        cache["P_raw"] = poly_matrix(np.column_stack([arr.K, arr.P]) / sc.sd - sc.mu, sc.exps)
    return np.asarray(cache["P_raw"])


def _poly(arr: Arrays, cache: dict[str, Any], sc: _Scale) -> np.ndarray:
    """The constant and the whitened monomials, by row (the design's polynomial)."""
    if "P_all" not in cache:
        P = cache.pop("P_raw", None)
        P = _raw_poly(arr, {}, sc) if P is None else P
        C = P[:, 1:]
        C -= sc.c_mean
        P[:, 1:] = C @ sc.c_white
        cache["P_all"] = P
    return np.asarray(cache["P_all"])


def _own1(P: np.ndarray, sc: _Scale) -> np.ndarray:
    """The first equation's control-function columns (all of ``P`` by default)."""
    B = sc.basis1
    if B.shape[0] == B.shape[1] and np.array_equal(B, np.eye(B.shape[0])):
        return P
    return np.asarray(P @ B)


def _poly_moments(arr: Arrays, cache: dict[str, Any], sc: _Scale) -> dict[str, Any]:
    """Sums and cross-products of the monomials before whitening."""
    C = _raw_poly(arr, cache, sc)[:, 1:]
    return {"sum": C.sum(axis=0), "CC": C.T @ C}


def _design(arr: Arrays, cache: dict[str, Any], sc: _Scale) -> dict[str, np.ndarray]:
    """Both equations' regressors and instruments on the rows with an observed previous year."""
    if "design" in cache:
        return dict(cache["design"])
    cur, lag = arr.cur, arr.lag
    n = cur.size
    P_all = _poly(arr, cache, sc)
    C_all = P_all[:, 1:]  # centred monomials (without the constant)
    own1 = _own1(P_all, sc)[cur]  # the first equation's control function, constant included
    # inputs, controls and output enter centred: every equation has its own constant, so this
    # changes the constants only (undone for omega below) and keeps Z'X well conditioned
    Sc_all = np.column_stack([arr.F, arr.K, arr.C]) - sc.m_s
    pf, pk = sc.pf, sc.pk
    Fc, Kc, Cc = Sc_all[:, :pf], Sc_all[:, pf : pf + pk], Sc_all[:, pf + pk :]
    one = np.ones(n)
    Cn, Cl = C_all[cur], C_all[lag]
    own2 = np.column_stack([one, Cl])
    S = Sc_all[cur]
    p1, p2 = own1.shape[1], own2.shape[1]
    d = {
        "X1": np.column_stack([S, own1, np.zeros((n, p2))]),
        "X2": np.column_stack([S, np.zeros((n, p1)), own2]),
        "Z1": np.column_stack([one, Fc[cur], Cc[cur], Cn]),
        "Z2": np.column_stack([one, Kc[cur], Fc[lag], Cc[cur], Cl]),
        "y": arr.y[cur] - sc.m_y,
    }
    cache["design"] = d
    return dict(d)


def _cross(arr: Arrays, cache: dict[str, Any], sc: _Scale) -> dict[str, Any]:
    """Z'X, Z'y and the two equations' Z'Z blocks (blocks kept apart: no stacked 2n matrices)."""
    d = _design(arr, cache, sc)
    Z1, Z2, X1, X2, y = d["Z1"], d["Z2"], d["X1"], d["X2"], d["y"]
    return {
        "A": np.vstack([Z1.T @ X1, Z2.T @ X2]),
        "c": np.r_[Z1.T @ y, Z2.T @ y],
        "ZZ1": Z1.T @ Z1,
        "ZZ2": Z2.T @ Z2,
    }


def _scores(arr: Arrays, cache: dict[str, Any], sc: _Scale, b: np.ndarray) -> dict[str, Any]:
    """The moments' firm-clustered outer product and their sum at ``b``."""
    d = _design(arr, cache, sc)
    e1 = d["y"] - d["X1"] @ b
    e2 = d["y"] - d["X2"] @ b
    g = np.column_stack([d["Z1"] * e1[:, None], d["Z2"] * e2[:, None]])
    return {"meat": cluster_meat(g, arr.unit[arr.cur]), "sum": g.sum(axis=0)}


def _rows(
    arr: Arrays, cache: dict[str, Any], sc: _Scale, lam: np.ndarray, beta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """omega-hat = fitted first equation minus the shared terms (S beta) and the noise; and the
    residual output minus the inputs' contribution."""
    S_all = np.column_stack([arr.F, arr.K, arr.C])
    omega = _own1(_poly(arr, cache, sc), sc) @ lam + sc.m_y - sc.m_s @ beta
    return omega, arr.y - S_all @ beta


def _whitener(S: np.ndarray) -> np.ndarray:
    """``Wh`` with ``Wh @ Wh.T = pinv(S)`` for a symmetric positive semi-definite ``S`` (eigenvalues
    below 1e-15 of the largest dropped, numpy's ``pinv`` cut-off)."""
    s, U = np.linalg.eigh((S + S.T) / 2)
    keep = s > 1e-15 * max(float(s.max()), 0.0)
    return np.asarray(U[:, keep] / np.sqrt(s[keep]))


def _gmm_solve(
    A: np.ndarray, c: np.ndarray, Wh: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The linear GMM estimate ``argmin (c - A b)' W (c - A b)``, ``W = Wh Wh'``, by a QR
    factorisation of ``Wh' A`` (not the normal equations ``A'WA``, whose condition number is the
    square: this keeps the estimate's roundoff, and so its dependence on the order of summation
    over partitions, near machine precision times cond(W^1/2 A)). Returns ``b``, ``R`` and ``Q``."""
    Q, R = np.linalg.qr(Wh.T @ A)
    b = linalg.solve_triangular(R, Q.T @ (Wh.T @ c))
    return np.asarray(b), R, Q


#: Identification check: the moment Jacobian Z'X counts as rank deficient when its smallest singular
#: value, after scaling its rows and columns to unit length, is below this fraction of the largest
#: (with a centred polynomial, real data sit many orders of magnitude above it; exact collinearity
#: sits at machine precision).
IDENT_RTOL = 1e-10


def _full_column_rank(A: np.ndarray) -> bool:
    """Numerical full column rank of ``A`` on the equilibrated scale (a scale-free criterion)."""
    rn = np.linalg.norm(A, axis=1)
    cn = np.linalg.norm(A, axis=0)
    if np.any(cn == 0):
        return False
    B = A[rn > 0] / rn[rn > 0, None] / cn
    s = np.linalg.svd(B, compute_uv=False)
    return bool(s.size >= A.shape[1] and s.min() > IDENT_RTOL * s.max())
