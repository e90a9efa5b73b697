"""The front door :func:`estimate_tfp`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Literal

from clusterimpact._renamed import renamed_kwargs
from clusterimpact._validation import check_choice
from clusterimpact.dask import check_backend
from clusterimpact.errors import SpecError
from clusterimpact.productivity._base import Backend, ProductionEstimator
from clusterimpact.productivity.acf import ACF
from clusterimpact.productivity.labour import LabourProductivity
from clusterimpact.productivity.levinsohn_petrin import LevinsohnPetrin
from clusterimpact.productivity.olley_pakes import OlleyPakes
from clusterimpact.productivity.ols import OLS, FixedEffects
from clusterimpact.productivity.result import ProductionResult
from clusterimpact.productivity.wooldridge import Wooldridge

__all__ = ["ESTIMATORS", "METHODS", "Method", "estimate_tfp", "make_estimator"]

Method = Literal["ols", "fe", "op", "lp", "acf", "wooldridge", "labour"]
METHODS: tuple[str, ...] = ("ols", "fe", "op", "lp", "acf", "wooldridge", "labour")
ESTIMATORS: dict[str, type[ProductionEstimator]] = {
    "ols": OLS,
    "fe": FixedEffects,
    "op": OlleyPakes,
    "lp": LevinsohnPetrin,
    "acf": ACF,
    "wooldridge": Wooldridge,
    "labour": LabourProductivity,
}
_DEFAULT_PROXY = {
    "op": "investment",
    "lp": "materials",
    "acf": "materials",
    "wooldridge": "materials",
}


def make_estimator(method: str, **options: Any) -> ProductionEstimator:
    """The estimator object for ``method`` with ``options`` (``None`` values mean "default").

    Raises :class:`SpecError` for an option the method does not have.

    Examples
    --------
    >>> from clusterimpact.productivity.api import make_estimator
    >>> estimator = make_estimator("lp", poly_order=2, seed=3)
    >>> type(estimator).__name__, estimator.poly_order, estimator.seed
    ('LevinsohnPetrin', 2, 3)
    """
    check_choice("method", method, METHODS)
    cls = ESTIMATORS[method]
    fields = {f.name for f in dataclasses.fields(cls)}
    given = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(k for k in given if k not in fields)
    if unknown:
        raise SpecError(
            f"option(s) {', '.join(unknown)} do not apply to method={method!r}; "
            f"its options are: {', '.join(sorted(fields))}"
        )
    return cls(**given)


@renamed_kwargs(bootstrap="n_boot")
def estimate_tfp(
    panel: Any,
    method: Method = "acf",
    *,
    output: str | None = None,
    free: Sequence[str] | None = None,
    state: Sequence[str] | None = None,
    proxy: str | None = None,
    controls: Sequence[str] = (),
    unit: str = "firm_id",
    time: str = "year",
    logged: bool = True,
    function: str | None = None,
    value_added: bool | None = None,
    poly_order: int | None = None,
    lom_order: int | None = None,
    lom_target: str | None = None,
    exit_correction: bool | None = None,
    weighting: str | None = None,
    instruments: str | None = None,
    state_in_control: bool | None = None,
    start: Any = None,
    optimizer: str | None = None,
    n_starts: int | None = None,
    start_tol: float | None = None,
    n_boot: int = 0,
    seed: int | None = None,
    n_jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
    compat: str = "none",
    backend: Backend = "memory",
) -> ProductionResult:
    """Estimate a production function and the productivity (TFP) of every firm-year.

    Parameters
    ----------
    panel
        A :class:`~clusterimpact.panel.FirmPanel` or a DataFrame with one row per firm-year.
    method
        ``"ols"``, ``"fe"`` (within), ``"op"`` (Olley-Pakes, investment proxy), ``"lp"``
        (Levinsohn-Petrin, materials proxy), ``"acf"`` (Ackerberg-Caves-Frazer), ``"wooldridge"``
        (one-step GMM) or ``"labour"`` (log labour productivity, nothing estimated).
    output, free, state, proxy
        Column names. Defaults follow the FirmPanel: ``ln_va``, ``["ln_emp"]``, ``["ln_capital"]`` and
        ``ln_investment`` (OP) or ``ln_materials`` (LP, ACF, Wooldridge); without ``ln_`` when
        ``logged=False``.
    controls
        Exogenous regressors entering linearly (netted out of TFP).
    unit, time
        Firm and year columns.
    logged
        True when output, inputs and proxy are logs; False to log them here (non-positive values are
        excluded and counted in ``result.exclusions``).
    function, value_added
        ACF only: ``"cobb-douglas"``/``"translog"``; value added (True) or gross output (False).
    poly_order, lom_order, lom_target, exit_correction, weighting
        Control-function polynomial degree; law-of-motion degree (OP/LP/ACF); OP/LP second-stage target
        (``"output"``/``"omega"``); OP/LP exit correction; Wooldridge ``"one-step"``/``"two-step"``.
    instruments, state_in_control
        ACF ``"overid"`` (default: adds lagged state inputs) or ``"exact"``; Wooldridge: keep the linear
        state terms in the first equation's control function (default True; prodest 0.1.1: False).
    start, optimizer, n_starts, start_tol
        OP/LP/ACF optimiser: start values (sequence or dict by term), scipy method (default BFGS with
        an analytic gradient), number of seeded starting points, tolerance for disagreeing optima.
    n_boot, seed, n_jobs, progress
        Firm-block bootstrap replications (0: none; OP/LP/ACF then have no standard errors;
        ``bootstrap``, the old spelling, still works), seed,
        worker processes, progress callback ``progress(done, total)``.
    compat
        ``"prodest"``: defaults that reproduce prodest 0.1.1 (Rovigatti & Mollisi 2018): polynomial
        order 2, OP/LP innovation taken from output with g fitted to omega, ACF exactly identified from
        start 0.5, one start, Wooldridge without the linear state terms in the control function.
    backend
        ``"memory"`` (default) or ``"dask"``: the same statistics as map-reduce over partitions that
        each hold whole firms (``panel`` may then be a DataFrame or a
        :class:`~clusterimpact.dask.FirmPartitions`, which always runs on Dask), for every method:
        ``"labour"``, ``"ols"``, ``"fe"``, ``"wooldridge"`` (analytic standard errors), ``"acf"``,
        ``"op"`` and ``"lp"`` (the criterion by map-reduce at every trial value of the optimiser,
        which runs on the client; OP's survival probit by one map-reduce per Newton step). The
        firm-block bootstrap is not done on Dask (``n_boot > 0`` is a SpecError there), so ACF, OP
        and LP have no standard errors on Dask; ``result.partitions`` is the panel with ``ln_tfp``
        added partition by partition.

    Returns
    -------
    ProductionResult
        Elasticities with standard errors, returns to scale, the TFP series (``result.tfp``,
        ``result.join(panel)``), diagnostics and every optimiser start.

    Notes
    -----
    Identification (OP/LP/ACF/Wooldridge): productivity omega_it is a scalar first-order Markov process
    inverted from the proxy's demand, state inputs are chosen a period ahead, and the lagged free inputs
    are uncorrelated with today's productivity innovation. OLS and FE ignore this and serve as
    benchmarks: OLS overstates the labour elasticity when labour responds to productivity.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_firm_panel
    >>> panel = example_firm_panel()
    >>> tfp = ci.estimate_tfp(panel, method="acf", output="ln_va", free=["ln_emp"],
    ...                       state=["ln_capital"], proxy="ln_materials", seed=1)
    >>> tfp.elasticities.round(1).to_dict()  # true: labour 0.65, capital 0.30
    {'ln_emp': 0.7, 'ln_capital': 0.3}
    >>> data = tfp.join(panel)  # the panel with ln_tfp by firm-year
    >>> "ln_tfp" in data.columns
    True
    """
    check_choice("method", method, METHODS)
    check_backend(backend)
    pre = "ln_" if logged else ""
    if output is None:
        output = f"{pre}va"
    if free is None:
        free = (f"{pre}emp",)
    if state is None:
        state = () if method == "labour" else (f"{pre}capital",)
    if proxy is None and method in _DEFAULT_PROXY:
        proxy = f"{pre}{_DEFAULT_PROXY[method]}"
    options: dict[str, Any] = {
        "output": output,
        "free": tuple([free] if isinstance(free, str) else free),
        "state": tuple([state] if isinstance(state, str) else state),
        "controls": tuple([controls] if isinstance(controls, str) else controls),
        "unit": unit,
        "time": time,
        "logged": logged,
        "bootstrap": int(n_boot) if method != "labour" else None,
        "seed": seed,
        "n_jobs": n_jobs,
        "progress": progress,
        "compat": compat,
        "function": function,
        "value_added": value_added,
        "poly_order": poly_order,
        "lom_order": lom_order,
        "lom_target": lom_target,
        "exit_correction": exit_correction,
        "weighting": weighting,
        "instruments": instruments,
        "state_in_control": state_in_control,
        "start": start,
        "optimizer": optimizer,
        "n_starts": n_starts,
        "start_tol": start_tol,
    }
    if method in _DEFAULT_PROXY:
        options["proxy"] = proxy
    elif proxy is not None and method != "labour":
        options["proxy"] = None  # OLS/FE take no proxy; a uniform call passing one is accepted
    est = make_estimator(method, **options)
    return est.fit(panel, backend=backend)
