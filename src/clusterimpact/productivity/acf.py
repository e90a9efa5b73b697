"""Ackerberg, Caves & Frazer (2015): the control function corrected for functional dependence.

First stage: y_it = phi(f_it, k_it, m_it) + e_it, a polynomial in all inputs and the proxy, identifies
no elasticity, only phi = expected output. With omega_it(beta) = phi_it - x_it' beta (x the production
terms: the inputs for Cobb-Douglas, inputs and their squares and cross-products for translog) and
omega_it = g(omega_i,t-1) + xi_it (g a polynomial, concentrated out), beta solves the moments
E[xi_it(beta) z_it] = 0 with z the state inputs at t and the free inputs (and the proxy, for gross
output) at t-1, or the same products of them for translog, by default plus the state inputs at t-1
(over-identification). The GMM criterion is xi' Z (Z'Z)^-1 Z' xi / N (0 at its minimum when exactly
identified).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from clusterimpact._validation import check_choice
from clusterimpact.errors import EstimationError, SpecError
from clusterimpact.productivity._base import (
    Point,
    ProductionEstimator,
    parse_start,
    random_starts,
    resolve,
)
from clusterimpact.productivity._poly import poly_derivative, poly_exponents, poly_matrix
from clusterimpact.productivity._prep import Arrays
from clusterimpact.productivity._stages import (
    LawOfMotion,
    coarse_mask,
    first_stage,
    multistart,
    ols_fit,
)
from clusterimpact.productivity.olley_pakes import OPTIMIZERS

__all__ = ["ACF", "Function", "Instruments"]

Function = Literal["cobb-douglas", "translog"]
Instruments = Literal["exact", "overid"]


def translog_terms(names: list[str]) -> tuple[list[tuple[int, ...]], list[str]]:
    """Exponents and names of the translog terms: a, b, a^2, a:b, b^2 ..."""
    exps = poly_exponents(len(names), 2)
    labels = []
    for e in exps:
        parts = [names[j] if p == 1 else f"{names[j]}^2" for j, p in enumerate(e) if p]
        labels.append(":".join(parts))
    return exps, labels


@dataclass(frozen=True, kw_only=True)
class ACF(ProductionEstimator):
    """Ackerberg-Caves-Frazer production function (value added or gross output; Cobb-Douglas or translog).

    Estimand: the output elasticities, identified when productivity is a scalar first-order Markov
    process, the proxy (materials) demand is strictly increasing in productivity conditional on the
    inputs, state inputs are chosen at t-1 and free inputs before the innovation xi_t is known only
    to the extent of their lags (so lagged free inputs are valid instruments). Standard errors:
    firm-block bootstrap.

    Parameters
    ----------
    function
        ``"cobb-douglas"`` (default) or ``"translog"``; translog terms are named ``a^2`` and ``a:b`` and
        :attr:`ProductionResult.elasticities` are sample means of the firm-year elasticities.
    value_added
        True (default): output is value added and the proxy only controls for productivity. False:
        gross output, with the proxy (materials) also a production input instrumented by its lag
        (beware Gandhi, Navarro & Rivers 2020: this moment may not identify a flexible input).
    instruments
        ``"overid"`` (default) adds the lagged state inputs (chosen at t-2, so valid) to the instruments:
        the over-identified criterion separates the true root from the spurious zeros the exactly
        identified ACF criterion often has (Kim, Luo & Su 2019). ``"exact"``: ACF's own instruments only
        (prodest).
    poly_order, lom_order
        Degrees of the first-stage polynomial in (free, state, proxy) (default 3; prodest: 2) and of g
        (default 3).
    start, optimizer, n_starts, start_tol
        Start values (sequence or dict by term; default the OLS estimates; prodest: 0.5 each), the
        scipy optimiser, the number of seeded starting points (default 5; prodest: 1) and the parameter
        distance above which disagreeing optima raise a warning.

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.productivity import ACF
    >>> estimator = ACF(free=["ln_emp"], state=["ln_capital"], proxy="ln_materials", seed=1)
    >>> result = estimator.fit(example_panel())  # a new ProductionResult; the estimator is unchanged
    >>> result.elasticities.round(1).to_dict()  # true: labour 0.65, capital 0.30
    {'ln_emp': 0.7, 'ln_capital': 0.3}
    """

    method: ClassVar[str] = "acf"
    uses_proxy: ClassVar[bool] = True
    uses_lags: ClassVar[bool] = True

    proxy: str | None = "ln_materials"
    function: Function = "cobb-douglas"
    instruments: Instruments | None = None
    value_added: bool = True
    poly_order: int | None = None
    lom_order: int | None = None
    start: Any = None
    optimizer: str = "BFGS"
    n_starts: int | None = None
    start_tol: float = 1e-3

    def _settings(self) -> dict[str, Any]:
        check_choice("function", self.function, ("cobb-douglas", "translog"))
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        s: dict[str, Any] = {
            "instruments": resolve(self.instruments, "overid", "exact", self.compat),
            "poly_order": int(resolve(self.poly_order, 3, 2, self.compat)),
            "lom_order": int(resolve(self.lom_order, 3, 3, self.compat)),
            "n_starts": int(resolve(self.n_starts, 5, 1, self.compat)),
        }
        check_choice("instruments", s["instruments"], ("exact", "overid"))
        for k in ("poly_order", "lom_order", "n_starts"):
            if s[k] < 1:
                raise SpecError(f"{k}={s[k]} must be at least 1")
        return s

    def _options(self) -> dict[str, Any]:
        return self._settings() | {
            "function": self.function,
            "value_added": self.value_added,
            "optimizer": self.optimizer,
            "start": self.start
            if isinstance(self.start, dict) or self.start is None
            else list(np.ravel(self.start)),
            "start_tol": self.start_tol,
        }

    def _inputs(self) -> list[str]:
        names = [*self.free, *self.state]
        if not self.value_added:
            assert self.proxy
            names.append(self.proxy)
        return names

    def _min_lag_rows(self, arr: Arrays) -> int:
        return len(self._terms()[1]) + self._settings()["lom_order"] + 2

    def _terms(self) -> tuple[list[tuple[int, ...]], list[str]]:
        names = self._inputs()
        if self.function == "translog":
            return translog_terms(names)
        return poly_exponents(len(names), 1), names

    def _point(self, arr: Arrays, *, full: bool = True, start: np.ndarray | None = None) -> Point:
        s = self._settings()
        assert arr.P is not None
        inputs = np.column_stack([arr.F, arr.K] + ([] if self.value_added else [arr.P]))
        pf, pk = arr.F.shape[1], arr.K.shape[1]
        # instrument versions of the inputs: free inputs (and the proxy) lagged, state inputs current
        cur, lag = arr.cur, arr.lag
        inst = np.column_stack(
            [arr.F[lag], arr.K[cur]] + ([] if self.value_added else [arr.P[lag][:, None]])
        )
        exps, terms = self._terms()
        X = poly_matrix(inputs, exps)
        Z = poly_matrix(inst, exps)
        if s["instruments"] == "overid":
            # xi has mean zero (g has a constant), so centring Z leaves the moments unchanged and
            # makes the weight (Z'Z)^-1 invariant to the units of the inputs
            Z = np.column_stack([Z, arr.K[lag]])
            Z = Z - Z.mean(axis=0)
        ncur = cur.size
        ZZ = Z.T @ Z
        try:
            ZZinv = np.linalg.inv(ZZ)
        except np.linalg.LinAlgError as exc:
            raise EstimationError(
                "acf: the instruments (lagged free inputs, current state inputs) are collinear"
            ) from exc
        fs = first_stage(arr.y, arr.C, np.column_stack([arr.F, arr.K, arr.P]), s["poly_order"])
        phi = fs.phi

        def objective(mask: np.ndarray | None) -> Any:
            c, lg, Zm = (cur, lag, Z) if mask is None else (cur[mask], lag[mask], Z[mask])
            lom = LawOfMotion(X=X, phi=phi, cur=c, lag=lg, order=s["lom_order"])
            W = ZZinv if mask is None else np.linalg.pinv(Zm.T @ Zm)
            nn = c.size

            def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
                _, m, Zdr = lom.project(theta, Zm)
                Wm = W @ m
                return float(m @ Wm) / nn, 2.0 * (Zdr.T @ Wm) / nn

            return fun

        fun = objective(None)
        mask = coarse_mask(arr.unit[cur], self.seed) if start is None else None
        coarse = objective(mask) if mask is not None else None

        if start is not None:
            starts = [start]
        else:
            user = parse_start(self.start, terms, self.method)
            if user is None:
                if self.compat == "prodest":
                    user = np.array([0.5 if sum(e) == 1 else 0.0 for e in exps])
                else:
                    D = np.column_stack([np.ones(arr.n), X, arr.C])
                    user = ols_fit(D, arr.y)[1 : 1 + X.shape[1]]
            starts = random_starts(
                user, s["n_starts"], self.seed, first_order=np.array([sum(e) == 1 for e in exps])
            )
        theta, table, msgs = multistart(
            fun,
            starts,
            optimizer=self.optimizer,
            names=terms,
            start_tol=self.start_tol,
            coarse=coarse,
            polish=full,
        )
        omega = phi - X @ theta
        # output elasticities: Cobb-Douglas the coefficients, translog the mean firm-year elasticity
        el = np.array(
            [
                float(np.mean(poly_derivative(inputs, exps, j) @ theta))
                for j in range(inputs.shape[1])
            ]
        )
        params = np.r_[theta, fs.coef]
        names = [*terms, *self.controls]
        chosen = table.loc[table["chosen"]].iloc[0]
        if not bool(chosen["converged"]):
            msgs.append(f"the optimiser did not report convergence: {chosen['status']}")
        diag: dict[str, Any] = {
            "first_stage_r2": fs.r2,
            "first_stage_terms": fs.n_terms,
            "criterion": float(chosen["criterion"]),
            "converged": bool(chosen["converged"]),
            "optimizer_status": str(chosen["status"]),
            "nobs_second_stage": int(ncur),
            "n_starts": len(starts),
            "function": self.function,
            "value_added": self.value_added,
            **s,
        }
        del pf, pk
        return Point(
            params=params,
            names=names,
            elasticities=el,
            el_names=self._inputs(),
            ln_tfp=omega,
            ln_tfp_resid=arr.y - arr.C @ fs.coef - X @ theta,
            theta=theta,
            nobs=arr.n,
            diagnostics=diag,
            starts=table if full else None,
            messages=msgs if full else [],
            exclusions={"no_previous_year_second_stage": int(arr.n - ncur)},
        )
