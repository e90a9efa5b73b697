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

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from clusterimpact._validation import check_choice
from clusterimpact.errors import EstimationError, SpecError
from clusterimpact.productivity._base import Point, ProductionEstimator, cluster_meat, resolve
from clusterimpact.productivity._poly import poly_exponents, poly_matrix, poly_shift
from clusterimpact.productivity._prep import Arrays

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

    def _control_basis(self, V: np.ndarray, pk: int, order: int) -> tuple[np.ndarray, np.ndarray]:
        """The polynomial c(k, m) with its constant, and the first equation's part of it.

        Returns ``P`` (rows x monomials: 1, then every monomial of the standardised inputs, centred)
        and ``B`` with ``P @ B`` spanning the first equation's control function: all of ``P`` by
        default (centring leaves the span of a full polynomial with its constant unchanged, so the
        estimates are those of the raw inputs, only computed stably), and with
        ``state_in_control=False`` the span of the *uncentred* monomials without the linear state
        terms (that restriction is not invariant to shifting the inputs, so it is kept exactly, on
        an orthonormal basis of that span).
        """
        sd = V.std(axis=0)
        Vs = V / np.where(sd > 0, sd, 1.0)
        mu = Vs.mean(axis=0)
        exps = poly_exponents(Vs.shape[1], order, min_degree=0)
        P = poly_matrix(Vs - mu, exps)
        if self._state_in_control():
            return P, np.eye(len(exps))
        own = [i for i, e in enumerate(exps) if not (sum(e) == 1 and any(e[j] for j in range(pk)))]
        Q, _ = np.linalg.qr(poly_shift(exps, mu)[:, own])
        return P, Q

    def _point(self, arr: Arrays, *, full: bool = True, start: np.ndarray | None = None) -> Point:
        order = self._order()
        assert arr.P is not None
        cur, lag = arr.cur, arr.lag
        n = cur.size
        pk = arr.K.shape[1]
        P_all, basis1 = self._control_basis(np.column_stack([arr.K, arr.P]), pk, order)
        C_all = P_all[:, 1:]  # centred monomials (without the constant)
        own1_all = P_all @ basis1  # the first equation's control function, constant included
        S_all = np.column_stack([arr.F, arr.K, arr.C])
        ps = S_all.shape[1]
        # inputs, controls and output enter centred: every equation has its own constant, so this
        # changes the constants only (undone for omega below) and keeps Z'X well conditioned
        m_s, m_y = S_all.mean(axis=0), float(arr.y.mean())
        Sc_all = S_all - m_s
        pf = arr.F.shape[1]
        Fc, Kc, Cc = Sc_all[:, :pf], Sc_all[:, pf : pf + pk], Sc_all[:, pf + pk :]
        one = np.ones(n)
        Cn, Cl = C_all[cur], C_all[lag]
        own1 = own1_all[cur]
        own2 = np.column_stack([one, Cl])
        S = Sc_all[cur]
        p1, p2 = own1.shape[1], own2.shape[1]
        X1 = np.column_stack([S, own1, np.zeros((n, p2))])
        X2 = np.column_stack([S, np.zeros((n, p1)), own2])
        Z1 = np.column_stack([one, Fc[cur], Cc[cur], Cn])
        Z2 = np.column_stack([one, Kc[cur], Fc[lag], Cc[cur], Cl])
        y = arr.y[cur] - m_y
        # moments: Z1'(y - X1 b) and Z2'(y - X2 b); blocks kept separate (no stacked 2n matrices)
        A = np.vstack([Z1.T @ X1, Z2.T @ X2])  # Z'X
        c = np.r_[Z1.T @ y, Z2.T @ y]  # Z'y
        q1 = Z1.shape[1]
        ZZ = np.zeros((A.shape[0], A.shape[0]))
        ZZ[:q1, :q1] = Z1.T @ Z1
        ZZ[q1:, q1:] = Z2.T @ Z2
        if A.shape[0] < A.shape[1] or not _full_column_rank(A):
            raise EstimationError(
                "wooldridge: the parameters are not identified by the instruments (collinear "
                "inputs, or a proxy polynomial of too high order for these data)"
            )
        W = np.linalg.pinv(ZZ)

        def solve(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            AW = A.T @ W
            H = AW @ A
            return np.linalg.solve(H, AW @ c), H

        b, H = solve(W)

        def scores(b: np.ndarray) -> np.ndarray:
            e1 = y - X1 @ b
            e2 = y - X2 @ b
            return np.column_stack([Z1 * e1[:, None], Z2 * e2[:, None]])

        g = scores(b)
        unit = arr.unit[cur]
        Smat = cluster_meat(g, unit)
        jstat = float("nan")
        if self.weighting == "two-step":
            W = np.linalg.pinv(Smat)
            b, H = solve(W)
            g = scores(b)
            Smat = cluster_meat(g, unit)
            m = g.sum(axis=0)
            jstat = float(m @ np.linalg.pinv(Smat) @ m)
        vcov = None
        if full:
            Hinv = np.linalg.inv(H)
            AW = A.T @ W
            vcov = Hinv @ AW @ Smat @ AW.T @ Hinv
            vcov = vcov[:ps, :ps]
        m = g.sum(axis=0) / n
        crit = float(m @ W @ m) * n
        beta = b[:ps]
        lam = b[ps : ps + p1]
        # omega-hat = fitted first equation minus the shared terms (S beta) and the noise
        omega = own1_all @ lam + m_y - m_s @ beta
        names = [*self.free, *self.state, *self.controls]
        nin = arr.F.shape[1] + pk
        diag = {
            "criterion": crit,
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
            ln_tfp=omega,
            ln_tfp_resid=arr.y - S_all @ beta,
            theta=None,
            vcov=vcov,
            nobs=n,
            diagnostics=diag,
            exclusions={"no_previous_year": int(arr.n - n)},
        )


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
