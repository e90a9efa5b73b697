"""The front door of fixed-effects regression: :func:`feols` picks the engine (the exact fast path or
pyfixest) and returns an :class:`~clusterimpact.estimation.fe.result.FixedEffectsResult`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

from clusterimpact._validation import as_frame, check_choice, require_columns
from clusterimpact.dask import wants_dask
from clusterimpact.errors import SpecError
from clusterimpact.estimation.fe._dask import fit_dask
from clusterimpact.estimation.fe._fast import _fit_fast
from clusterimpact.estimation.fe._pyfixest import _fit_pyfixest
from clusterimpact.estimation.fe.result import FixedEffectsResult
from clusterimpact.estimation.fe.vcov import _normalise_vcov
from clusterimpact.formula._syntax import Col, ParsedFormula, Value
from clusterimpact.formula.design import build_design
from clusterimpact.formula.grammar import parse_formula

__all__ = ["ENGINES", "Collinear", "Engine", "feols"]

Engine = Literal["auto", "fast", "pyfixest"]
ENGINES = ("auto", "fast", "pyfixest")
Collinear = Literal["drop", "raise"]


def feols(
    formula: str,
    data: Any,
    vcov: str | dict[str, str] = "iid",
    *,
    cluster: str | Sequence[str] | None = None,
    weights: str | None = None,
    time: str | None = None,
    lag: int | None = None,
    G_df: Literal["min", "conventional"] = "min",
    drop_singletons: bool = True,
    engine: Engine = "auto",
    collinear: Collinear = "drop",
    backend: Literal["memory", "dask"] = "memory",
) -> FixedEffectsResult:
    """Linear regression with absorbed fixed effects (fixest formula syntax).

    Estimand: the coefficients of the linear projection of the outcome on the regressors within the fixed
    effects; with a treatment dummy and unit and time effects, the TWFE DiD coefficient (a weighted
    average of treatment effects that is only the ATT under homogeneous effects).

    Parameters
    ----------
    formula
        ``"y ~ x1 + x2 | fe1 + fe2"``; fixed-effect interactions as ``sector^year``. Parsed by our own
        grammar (:mod:`clusterimpact.formula.grammar`; nothing is evaluated): columns, ``+ - * :``,
        ``C(x)``, ``i(rel_year, ref=-1)``, ``i(x, v)``, ``log``/``exp``/``sqrt`` and ``I(...)`` arithmetic,
        ``| endog ~ instr``. Transforms and dummies are computed by
        :mod:`clusterimpact.formula.design`; formulas that need them run on pyfixest, which receives
        only plain columns.
    data
        FirmPanel or DataFrame (not modified).
    vcov
        ``"iid"``, ``"hetero"`` (HC1), ``"cluster"`` (CRV1, with ``cluster=``), ``"twoway"`` (two cluster
        columns), ``"driscoll_kraay"`` (needs ``time=``), or pyfixest's ``{"CRV1": "col"}``.
    cluster
        Cluster column, or two columns for two-way clustering.
    weights
        Column of analytic weights (positive).
    time, lag
        Time column and Bartlett lag for Driscoll-Kraay (lag default ``floor(T**0.25)``).
    G_df
        Two-way clustering small-sample rule: ``"min"`` (fixest default) or ``"conventional"``.
    drop_singletons
        Drop singleton fixed-effect levels iteratively (reghdfe/fixest default).
    engine
        ``"auto"``, ``"fast"`` or ``"pyfixest"``. ``"auto"`` takes the exact fast path (any number of
        fixed effects, nested or crossed; see :mod:`clusterimpact.estimation.fe._demean`) for every formula
        without instruments, the computed ``i()``/``C()`` dummies and transforms included, and hands
        instrumental-variable formulas to pyfixest.
    collinear
        ``"drop"`` (fixest's default): regressors absorbed by the fixed effects or collinear with
        regressors before them in the formula are dropped, named in an :class:`EstimationWarning` and
        in ``result.collinear``; ``"raise"``: an :class:`EstimationError` instead.
    backend
        ``"memory"`` (default) or ``"dask"``: the same fit as map-reduce over firm partitions
        (:mod:`clusterimpact.dask`; the same numbers to roundoff). ``data`` may then be a
        :class:`~clusterimpact.dask.FirmPartitions` (taken on Dask whatever ``backend`` says) or a frame,
        split by its first fixed effect. The firm (the partition key) must be a fixed effect, the other
        effects have few levels (years, sector^year); plain columns only; vcov iid, hetero or one-way
        cluster by the firm or a variable constant within firms. Anything else raises a SpecError.

    Returns
    -------
    FixedEffectsResult

    Raises
    ------
    DataError
        The formula names a column the data lack, or a weight is negative.
    EstimationError
        Every regressor is absorbed or collinear (or one is, with ``collinear="raise"``); fewer than 2
        clusters.

    Notes
    -----
    Standard errors are NaN, with an :class:`EstimationWarning`, when the parameters counted in the
    small-sample factor (slopes plus fixed-effect levels as written, fixest's count) leave no residual
    degrees of freedom.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> fit = ci.feols("ln_va ~ ln_emp + ln_capital | firm_id + year", example_panel(),
    ...                vcov="cluster", cluster="firm_id")
    >>> fit.params.index.tolist(), fit.fixed_effects
    (['ln_emp', 'ln_capital'], ('firm_id', 'year'))
    >>> bool(fit.std_errors.gt(0).all())
    True
    """
    check_choice("engine", engine, ENGINES)
    check_choice("collinear", collinear, ("drop", "raise"))
    if wants_dask(data, backend):
        return _feols_dask(
            formula, data, vcov, cluster, weights, drop_singletons, engine, collinear
        )
    df = as_frame(data)
    f, df = build_design(formula, df)
    vtype, ccols = _normalise_vcov(vcov, cluster)
    extra = list(ccols) + ([weights] if weights else [])
    if vtype == "driscoll_kraay":
        if time is None:
            raise SpecError("vcov='driscoll_kraay' needs time=COLUMN")
        extra.append(time)
    require_columns(df, extra, what="vcov/weights")
    # every column the formula needs has been computed by build_design (transforms, interactions,
    # C()/i() dummies): the exact fast path takes all of it except instrumental variables
    use_fast = engine == "fast" or (engine == "auto" and f.iv is None)
    if engine == "fast" and f.iv is not None:
        raise SpecError(f"formula '{formula}' has instruments: use engine='pyfixest' (or 'auto')")
    if vtype == "driscoll_kraay" and not use_fast:
        raise SpecError("driscoll_kraay is available on the fast engine only (no instruments)")
    if use_fast:
        res = _fit_fast(
            f, df, vtype, ccols, weights, time, lag, G_df, drop_singletons, collinear=collinear
        )
    else:
        res = _fit_pyfixest(f, df, vtype, ccols, weights, G_df, drop_singletons, collinear)
    if f.notes:  # warnings raised while computing the formula's transforms
        res = dataclasses.replace(res, warnings=(*f.notes, *res.warnings))
    return res


def _feols_dask(
    formula: str,
    data: Any,
    vcov: str | dict[str, str],
    cluster: str | Sequence[str] | None,
    weights: str | None,
    drop_singletons: bool,
    engine: str,
    collinear: str,
) -> FixedEffectsResult:
    """``feols`` on Dask (:mod:`clusterimpact.estimation.fe._dask`)."""
    from clusterimpact.dask import FirmPartitions, as_partitions, compute_context

    if engine == "pyfixest":
        raise SpecError("engine='pyfixest' is not available with backend='dask'")
    vtype, ccols = _normalise_vcov(vcov, cluster)
    if isinstance(data, FirmPartitions):
        fp = data
    else:
        fes = parse_formula(formula).fixed_effects
        if not fes or "^" in fes[0]:
            raise SpecError(
                f"formula '{formula}': backend='dask' splits the data by the first fixed effect (the "
                "firm), which must be a column; or pass FirmPartitions"
            )
        frame = data if type(data).__module__.startswith("dask.") else as_frame(data)
        fp = as_partitions(frame, fes[0])
    f, _ = build_design(_plain_formula(formula, fp.frame._meta), fp.frame._meta)
    require_columns(
        fp.frame._meta, list(ccols) + ([weights] if weights else []), what="vcov/weights"
    )
    with compute_context():
        owned = not isinstance(data, FirmPartitions)
        res = fit_dask(
            f, fp, vtype, ccols, weights, drop_singletons, collinear=collinear, persist=owned
        )
    if f.notes:
        res = dataclasses.replace(res, warnings=(*f.notes, *res.warnings))
    return res


def _plain_formula(formula: str, meta: Any) -> ParsedFormula:
    """The parsed formula when every term is a column (the Dask path builds no transforms or
    dummies: their levels would have to be global); a SpecError otherwise (missing columns first)."""
    p = parse_formula(formula)
    plain = p.iv is None and isinstance(p.lhs.expr, Col)
    plain = plain and all(
        len(t) == 1 and isinstance(t[0], Value) and isinstance(t[0].expr, Col) for t in p.terms
    )
    if not plain:
        require_columns(meta, sorted(p.columns()), what="formula")
        raise SpecError(
            f"formula '{formula}': backend='dask' takes plain columns (no instruments, transforms or "
            "i()/C() dummies): compute the columns first, or use backend='memory'"
        )
    return p
