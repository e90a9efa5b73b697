"""Olley & Pakes (1996): investment as the proxy for productivity, two stages.

Model: y_it = b_f' f_it + b_k' k_it + omega_it + e_it, with investment i_it = i(k_it, omega_it) strictly
increasing in omega, so omega_it = h(k_it, i_it). First stage: y on the free inputs and a polynomial
in (k, i) gives b_f and phi_it = b_k' k_it + omega_it. Second stage: productivity follows a first-order
Markov process, omega_it = g(omega_i,t-1) + xi_it with xi uncorrelated with k_it (chosen at t-1), so
b_k minimises the sum of squared innovations of::

    y_it - b_f' f_it - b_k' k_it = g(phi_i,t-1 - b_k' k_i,t-1) + xi_it + e_it,

g a polynomial (concentrated out by least squares). Optional exit (attrition) correction: g also
depends on the estimated survival probability P_it = Pr(firm survives to t | k, i at t-1) (a probit on
a polynomial in lagged (k, i)), as in Olley & Pakes' equation (16).
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
from clusterimpact.productivity._poly import poly_exponents, poly_matrix, scale_columns
from clusterimpact.productivity._prep import Arrays
from clusterimpact.productivity._stages import (
    LawOfMotion,
    coarse_mask,
    first_stage,
    multistart,
    ols_fit,
)

__all__ = ["LomTarget", "OlleyPakes", "survival_probability"]

LomTarget = Literal["output", "omega"]
OPTIMIZERS = ("BFGS", "L-BFGS-B", "CG", "Newton-CG", "Nelder-Mead", "Powell", "trust-constr")


def survival_probability(
    arr: Arrays, order: int, *, problems: list[str] | None = None
) -> tuple[np.ndarray, int]:
    """Probit probability that a firm present at t-1 is present at t, given a polynomial in (k, proxy) at t-1.

    Returns the fitted probability for every row (as the t-1 row) and the number of exits observed.
    Rows in the last sample year are censored (used for prediction only). When the probit did not
    converge or the polynomial separates exits from survivors (fitted probabilities 0 or 1, diverging
    coefficients, a singular information matrix), the reason is appended to ``problems`` (the
    estimator turns it into a warning): the correction then rests on unreliable probabilities.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> result = ci.estimate_tfp(example_panel(), method="op", exit_correction=True, seed=1)
    >>> result.diagnostics["exits"] > 0  # firm exits behind the survival probit of the second stage
    True
    """
    import warnings

    from statsmodels.discrete.discrete_model import Probit

    n = arr.n
    nxt_same = np.zeros(n, dtype=bool)
    nxt_same[:-1] = (arr.unit[1:] == arr.unit[:-1]) & (arr.time[1:] - arr.time[:-1] == 1)
    last_year = arr.time.max()
    at_risk = arr.time < last_year
    assert arr.P is not None
    V = scale_columns(np.column_stack([arr.K, arr.P]))
    D = np.column_stack([np.ones(n), poly_matrix(V, poly_exponents(V.shape[1], order))])
    s = nxt_same[at_risk].astype(float)
    n_exit = int((s == 0).sum())
    if n_exit == 0 or n_exit == s.size:
        raise EstimationError(
            "exit correction: no firm leaves the panel (or every firm does), so survival cannot be "
            "modelled; fit without exit_correction"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = Probit(s, D[at_risk]).fit(disp=0, maxiter=200)
    prob = np.asarray(res.predict(D), dtype=float)
    why = _probit_problem(D[at_risk], s, res, prob[at_risk], caught)
    if why is not None and problems is not None:
        problems.append(
            f"exit correction: the survival probit {why}; the survival probabilities that enter the "
            "law of motion are unreliable (lower poly_order, or fit without exit_correction)"
        )
    return prob, n_exit


def _probit_problem(
    D: np.ndarray, s: np.ndarray, res: Any, p: np.ndarray, caught: list[Any]
) -> str | None:
    """Non-convergence or (quasi-)separation of the survival probit, as a phrase; None if it is fine."""
    from clusterimpact._binary import SEPARATION_MESSAGE, separation

    converged = bool(res.mle_retvals.get("converged", False))
    params = np.asarray(res.params, dtype=float)
    extreme = int(((p < 1e-10) | (p > 1 - 1e-10)).sum())
    flagged = any("separation" in str(w.message).lower() for w in caught)
    if converged and extreme == 0 and not flagged and np.all(np.isfinite(params)):
        return None
    if separation(D, s):
        return f"shows {SEPARATION_MESSAGE}"
    if not converged:
        return "did not converge in 200 iterations"
    if not np.all(np.isfinite(params)):
        return "has non-finite coefficients (singular information matrix)"
    return None  # extreme probabilities from extreme inputs, without separation: a valid fit


@dataclass(frozen=True, kw_only=True)
class OlleyPakes(ProductionEstimator):
    """Olley & Pakes (1996) production function with an investment proxy.

    Estimand: Cobb-Douglas elasticities of the free and state inputs, identified under scalar
    unobservable productivity following a first-order Markov process, investment strictly increasing in
    productivity (firm-years with non-positive investment must be excluded), and state inputs chosen a
    period ahead. Standard errors: firm-block bootstrap (``bootstrap=B``).

    Parameters
    ----------
    poly_order
        Degree of the first-stage polynomial in (state, proxy) (default 3; prodest: 2).
    lom_order
        Degree of the law-of-motion polynomial g in lagged productivity (default 3).
    lom_target
        ``"output"`` fits g to y - b_f f - b_k k jointly with b_k (Olley & Pakes' non-linear least
        squares; default); ``"omega"`` fits g to phi - b_k k and takes the innovation from output
        (prodest 0.1.1).
    exit_correction
        Add the survival probability to g (Olley & Pakes' selection correction).
    start, optimizer, n_starts, start_tol
        Start values of b_k (sequence or dict; default the OLS coefficients), the scipy optimiser,
        the number of seeded starting points (default 5; prodest: 1) and the parameter distance
        above which disagreeing optima raise a warning.

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.productivity import OlleyPakes
    >>> result = OlleyPakes(seed=1).fit(example_panel())
    >>> sorted(result.elasticities.index)
    ['ln_capital', 'ln_emp']
    >>> result.tfp.columns.tolist()
    ['firm_id', 'year', 'ln_tfp', 'ln_tfp_resid']
    """

    method: ClassVar[str] = "op"
    uses_proxy: ClassVar[bool] = True
    uses_lags: ClassVar[bool] = True

    proxy: str | None = "ln_investment"
    poly_order: int | None = None
    lom_order: int | None = None
    lom_target: LomTarget | None = None
    exit_correction: bool = False
    start: Any = None
    optimizer: str = "BFGS"
    n_starts: int | None = None
    start_tol: float = 1e-3

    def _settings(self) -> dict[str, Any]:
        s = {
            "poly_order": int(resolve(self.poly_order, 3, 2, self.compat)),
            "lom_order": int(resolve(self.lom_order, 3, 3, self.compat)),
            "lom_target": resolve(self.lom_target, "output", "omega", self.compat),
            "n_starts": int(resolve(self.n_starts, 5, 1, self.compat)),
        }
        check_choice("lom_target", s["lom_target"], ("output", "omega"))
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        for k in ("poly_order", "lom_order", "n_starts"):
            if s[k] < 1:
                raise SpecError(f"{k}={s[k]} must be at least 1")
        return s

    def _options(self) -> dict[str, Any]:
        return self._settings() | {
            "exit_correction": self.exit_correction,
            "optimizer": self.optimizer,
            "start": None
            if self.start is None
            else list(np.ravel(self.start))
            if not isinstance(self.start, dict)
            else self.start,
            "start_tol": self.start_tol,
        }

    def _min_lag_rows(self, arr: Arrays) -> int:
        s = self._settings()
        return arr.K.shape[1] + s["lom_order"] + 2

    def _point(self, arr: Arrays, *, full: bool = True, start: np.ndarray | None = None) -> Point:
        s = self._settings()
        assert arr.P is not None
        linear = np.column_stack([arr.F, arr.C])
        fs = first_stage(arr.y, linear, np.column_stack([arr.K, arr.P]), s["poly_order"])
        pf = arr.F.shape[1]
        bf, bc = fs.coef[:pf], fs.coef[pf:]
        base = arr.y - linear @ fs.coef
        X = arr.K
        cur, lag = arr.cur, arr.lag
        extra = None
        n_exit = 0
        exit_msgs: list[str] = []
        if self.exit_correction:
            prob, n_exit = survival_probability(arr, s["poly_order"], problems=exit_msgs)
            extra = prob[lag][:, None]
        fit_on = "target" if s["lom_target"] == "output" else "omega"
        ncur = cur.size

        def objective(mask: np.ndarray | None) -> Any:
            c, lg = (cur, lag) if mask is None else (cur[mask], lag[mask])
            ex = extra if extra is None or mask is None else extra[mask]
            lom = LawOfMotion(
                X=X,
                phi=fs.phi,
                cur=c,
                lag=lg,
                order=s["lom_order"],
                base=base,
                extra=ex,
                fit_on=fit_on,
            )
            nn = c.size

            def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
                _, rr, rdr = lom.project(theta)
                return float(rr[0]) / nn, 2.0 * rdr[0] / nn

            return fun

        fun = objective(None)
        mask = coarse_mask(arr.unit[cur], self.seed) if start is None else None
        coarse = objective(mask) if mask is not None else None

        knames = list(self.state)
        if start is not None:  # bootstrap replication: one start at the point estimate
            starts = [start]
        else:
            user = parse_start(self.start, knames, self.method)
            if user is None:
                D = np.column_stack([np.ones(arr.n), arr.F, arr.K, arr.C])
                user = ols_fit(D, arr.y)[1 + pf : 1 + pf + X.shape[1]]
            starts = random_starts(user, s["n_starts"], self.seed)
        theta, table, msgs = multistart(
            fun,
            starts,
            optimizer=self.optimizer,
            names=knames,
            start_tol=self.start_tol,
            coarse=coarse,
        )
        omega = fs.phi - X @ theta
        params = np.r_[bf, theta, bc]
        names = [*self.free, *self.state, *self.controls]
        nin = pf + X.shape[1]
        chosen = table.loc[table["chosen"]].iloc[0]
        if not bool(chosen["converged"]):
            msgs.append(f"the optimiser did not report convergence: {chosen['status']}")
        msgs += exit_msgs
        diag: dict[str, Any] = {
            "first_stage_r2": fs.r2,
            "first_stage_terms": fs.n_terms,
            "criterion": float(chosen["criterion"]),
            "converged": bool(chosen["converged"]),
            "optimizer_status": str(chosen["status"]),
            "nobs_second_stage": int(ncur),
            "n_starts": len(starts),
            **s,
        }
        if self.exit_correction:
            diag["exits"] = n_exit
        return Point(
            params=params,
            names=names,
            elasticities=params[:nin],
            el_names=names[:nin],
            ln_tfp=omega,
            ln_tfp_resid=base - X @ theta,
            theta=theta,
            nobs=arr.n,
            diagnostics=diag,
            starts=table if full else None,
            messages=msgs if full else [],
            exclusions={"no_previous_year_second_stage": int(arr.n - ncur)},
        )
