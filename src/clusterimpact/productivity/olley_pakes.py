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
from scipy.special import ndtr

from clusterimpact._validation import check_choice
from clusterimpact.errors import SpecError
from clusterimpact.productivity._base import (
    Point,
    ProductionEstimator,
    parse_start,
    random_starts,
    resolve,
)
from clusterimpact.productivity._op_passes import (
    fs_qr,
    fs_rows,
    lom_criterion,
    lom_rows,
    lom_start,
    op_rows,
    survival_fit,
    survival_rows,
)
from clusterimpact.productivity._poly import round_bits
from clusterimpact.productivity._prep import Arrays
from clusterimpact.productivity._runner import MemoryBlocks, MemoryRunner, Moments, Runner, moments
from clusterimpact.productivity._stages import coarse_mask, multistart
from clusterimpact.productivity.ols import _ols_cross, _ols_design, _solve

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
    The fit is Newton-Raphson on sums over the rows (``_op_passes.survival_fit``, the code the Dask
    path runs over partitions).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> result = ci.estimate_tfp(example_panel(), method="op", exit_correction=True, seed=1)
    >>> result.diagnostics["exits"] > 0  # firm exits behind the survival probit of the second stage
    True
    """
    runner = MemoryRunner(arr)
    mu, sd = _poly_scale(moments(runner), arr.F.shape[1], arr.K.shape[1])
    spec, beta, n_exit, why = survival_fit(runner, mu, sd, order)
    _note_probit(why, problems)
    D, _, _ = runner.rows(survival_rows, spec)
    return ndtr(D @ beta), n_exit


def _note_probit(why: str | None, problems: list[str] | None) -> None:
    if why is not None and problems is not None:
        problems.append(
            f"exit correction: the survival probit {why}; the survival probabilities that enter the "
            "law of motion are unreliable (lower poly_order, or fit without exit_correction)"
        )


def _poly_scale(mo: Moments, pf: int, pk: int) -> tuple[np.ndarray, np.ndarray]:
    """Centre and scale of (state, proxy) for the polynomials (rounded: the same on both paths)."""
    kp = np.r_[np.arange(1 + pf, 1 + pf + pk), mo.mean.size - 1]
    sd = mo.sd[kp]
    # 8 bits: two summation orders (one frame, partitions) round to different constants only when
    # the exact value lies within their roundoff (~1e-12 relative) of a rounding boundary
    return round_bits(mo.mean[kp], 8), round_bits(np.where(sd > 0, sd, 1.0), 8)


@dataclass(frozen=True, kw_only=True)
class OlleyPakes(ProductionEstimator):
    """Olley & Pakes (1996) production function with an investment proxy.

    Estimand: Cobb-Douglas elasticities of the free and state inputs, identified under scalar
    unobservable productivity following a first-order Markov process, investment strictly increasing in
    productivity (firm-years with non-positive investment must be excluded), and state inputs chosen a
    period ahead. Standard errors: firm-block bootstrap (``bootstrap=B``; in memory only: on the Dask
    back end, ``fit(..., backend="dask")``, the same estimate is computed by map-reduce over firm
    partitions (see ``_op_passes``), and a bootstrap there is refused with a SpecError).

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
        return self._estimate(MemoryRunner(arr), full=full, start=start)

    def _estimate(
        self, runner: Runner, *, full: bool = True, start: np.ndarray | None = None
    ) -> Point:
        """The passes of ``_op_passes`` through ``runner`` (all rows in memory, partitions on Dask)."""
        s = self._settings()
        pf, pk = len(self.free), len(self.state)
        mo = moments(runner)
        mu, sd = _poly_scale(mo, pf, pk)
        spec = (mu, sd, s["poly_order"])
        fsx = runner.reduce(fs_qr, spec)
        b = fsx.solve()
        if b is None:
            b = _solve(runner, fsx.R.T @ fsx.R, fsx.R.T @ fsx.qty, fs_rows, spec)
        surv, n_exit = None, 0
        exit_msgs: list[str] = []
        if self.exit_correction:
            sspec, beta, n_exit, why = survival_fit(runner, mu, sd, s["poly_order"])
            _note_probit(why, exit_msgs)
            surv = (sspec, beta)
        blocks = runner.blocks(lom_rows, spec, b, surv)
        knames = list(self.state)
        if start is not None:  # bootstrap replication: one start at the point estimate
            starts = [start]
        else:
            user = parse_start(self.start, knames, self.method)
            if user is None:
                ox = runner.reduce(_ols_cross)
                user = _solve(runner, ox["DD"], ox["Dy"], _ols_design)[1 + pf : 1 + pf + pk]
            starts = random_starts(user, s["n_starts"], self.seed)
        first = blocks.reduce(lom_start, starts[0])
        ncur, omega = int(first["n"]), s["lom_target"] == "omega"
        fun = lom_criterion(blocks, first, s["lom_order"], omega)
        coarse = None
        if start is None and isinstance(blocks, MemoryBlocks):
            mask = coarse_mask(blocks.rows["unit"], self.seed)
            if mask is not None:
                sub = blocks.subset(mask)
                coarse = lom_criterion(sub, sub.reduce(lom_start, starts[0]), s["lom_order"], omega)
        theta, table, msgs = multistart(
            fun,
            starts,
            optimizer=self.optimizer,
            names=knames,
            start_tol=self.start_tol,
            coarse=coarse,
            polish=full,
        )
        rows = runner.rows(op_rows, spec, b, theta)
        coef = b[1 : 1 + pf + len(self.controls)]
        params = np.r_[coef[:pf], theta, coef[pf:]]
        names = [*self.free, *self.state, *self.controls]
        nin = pf + pk
        chosen = table.loc[table["chosen"]].iloc[0]
        if not bool(chosen["converged"]):
            msgs.append(f"the optimiser did not report convergence: {chosen['status']}")
        msgs += exit_msgs
        diag: dict[str, Any] = {
            "first_stage_r2": fsx.r2(mo.n, float(mo.mean[0])),
            "first_stage_terms": int(b.size),
            "criterion": float(chosen["criterion"]),
            "converged": bool(chosen["converged"]),
            "optimizer_status": str(chosen["status"]),
            "nobs_second_stage": ncur,
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
            ln_tfp=np.zeros(0) if runner.distributed else rows[0],
            ln_tfp_resid=np.zeros(0) if runner.distributed else rows[1],
            tfp_rule=rows if runner.distributed else None,
            theta=theta,
            nobs=mo.n,
            diagnostics=diag,
            starts=table if full else None,
            messages=msgs if full else [],
            exclusions={"no_previous_year_second_stage": int(mo.n - ncur)},
        )
