"""The classic membership models on a firm-year panel: the static TWFE premium, the premium with linear
growth in years of membership, and the premium by bins of membership duration."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from clusterimpact._validation import as_frame, check_choice, require_columns
from clusterimpact.dask import wants_dask
from clusterimpact.errors import SpecError
from clusterimpact.estimation.fe._dask_membership import (
    bin_dummies,
    fit_membership,
    membership_partitions,
    post_exit_rows,
)
from clusterimpact.estimation.fe._fast import _fit_fast
from clusterimpact.estimation.fe._indicators import _fit_indicators
from clusterimpact.estimation.fe.result import FixedEffectsResult
from clusterimpact.estimation.fe.vcov import _normalise_vcov
from clusterimpact.formula.design import _Formula, build_design
from clusterimpact.formula.grammar import parse_formula

__all__ = ["PostExit", "binned_duration", "linear_duration", "parse_bins", "static_premium"]

PostExit = Literal["keep", "drop"]


def parse_bins(bins: Sequence[int | str]) -> list[tuple[str, int, float]]:
    """Parse duration bins: ``1`` (exactly 1), ``"2-3"`` (2 to 3), ``"5+"`` (5 or more).

    Returns ``(label, low, high)`` with ``high = inf`` for an open bin; bins must not overlap.

    Examples
    --------
    >>> from clusterimpact.estimation.fe import parse_bins
    >>> parse_bins([1, "2-3", "5+"])
    [('1', 1, 1.0), ('2-3', 2, 3.0), ('5+', 5, inf)]
    """
    out: list[tuple[str, int, float]] = []
    for b in bins:
        s = str(b).strip()
        try:
            if s.endswith("+"):
                lo, hi = int(s[:-1]), float("inf")
            elif "-" in s[1:]:
                a, c = s.split("-", 1)
                lo, hi = int(a), float(int(c))
            else:
                lo = int(s)
                hi = float(lo)
        except ValueError:
            raise SpecError(f"bin {b!r} is not valid; use e.g. 1, '2-3' or '5+'") from None
        if lo < 1 or hi < lo:
            raise SpecError(f"bin {b!r}: years of membership start at 1 and low <= high")
        out.append((s, lo, hi))
    out.sort(key=lambda t: t[1])
    for (l1, _, h1), (l2, lo2, _) in zip(out, out[1:], strict=False):
        if lo2 <= h1:
            raise SpecError(f"bins {l1!r} and {l2!r} overlap")
    if not out:
        raise SpecError("bins must not be empty")
    return out


def _membership_frame(
    data: Any,
    outcome: str,
    unit: str,
    time: str,
    cols: list[str],
    post_exit: str,
    cohort: str,
    backend: str = "memory",
) -> tuple[Any, dict[str, int]]:
    """The model's frame (or, on Dask, its FirmPartitions) with the post-exit rule applied."""
    check_choice("post_exit", post_exit, ("keep", "drop"))
    need = [outcome, unit, time, *cols]
    if post_exit == "drop":
        need.append(cohort)
    if wants_dask(data, backend):
        frame = data if type(data).__module__.startswith(("dask.", "clusterimpact.dask")) else None
        return membership_partitions(
            as_frame(data) if frame is None else frame, unit, need, post_exit, time, cohort
        )
    df = as_frame(data)
    require_columns(df, list(dict.fromkeys(need)), what="membership model")
    excl: dict[str, int] = {}
    if post_exit == "drop":
        after = post_exit_rows(df, time, cohort)
        if after.any():
            excl["post_exit"] = int(after.sum())
            df = df.loc[~after]
    return df, excl


def _fe_part(unit: str, time: str, fe: Sequence[str] | None) -> str:
    return " + ".join(fe) if fe else f"{unit} + {time}"


def _run_model(
    df: pd.DataFrame,
    formula: str,
    vcov: str,
    cluster: str | None,
    weights: str | None,
    extra_X: dict[str, np.ndarray] | None,
    method: str,
    excl: dict[str, int],
    options: dict[str, Any],
) -> FixedEffectsResult:
    if not isinstance(df, pd.DataFrame):  # FirmPartitions: the Dask path
        res = fit_membership(df, formula, vcov, cluster, weights, method, options)
        return _merge_exclusions(res, excl)
    f, df = build_design(formula, df)
    vtype, ccols = _normalise_vcov(vcov, cluster if vcov in ("cluster", "twoway") else None)
    res = _fit_fast(
        f,
        df,
        vtype,
        ccols,
        weights,
        None,
        None,
        "min",
        True,
        method=method,
        extra_X=extra_X,
        options=options,
    )
    return _merge_exclusions(res, excl)


def static_premium(
    data: Any,
    outcome: str = "ln_lp",
    *,
    treatment: str = "member",
    unit: str = "firm_id",
    time: str = "year",
    fe: Sequence[str] | None = None,
    controls: Sequence[str] = (),
    vcov: str = "cluster",
    cluster: str | None = None,
    weights: str | None = None,
    post_exit: PostExit = "keep",
    cohort: str = "treat_year",
    backend: Literal["memory", "dask"] = "memory",
) -> FixedEffectsResult:
    """The classic TWFE DiD premium: ``y_it = a_i + l_t + b * member_it + e_it``.

    Estimand: ``b``, the within-firm, within-year difference in the outcome between member and non-member
    firm-years. Identifying assumption: parallel trends in untreated outcomes and a treatment effect that
    is the same for every cohort and every year of membership; with staggered joining and effects that
    vary, ``b`` is a weighted average of effects with possibly negative weights (Goodman-Bacon 2021; use
    :func:`~clusterimpact.estimation.imputation.imputation_did` or ``duration_effects`` then).

    Parameters
    ----------
    data
        FirmPanel or DataFrame.
    outcome
        Outcome column (log productivity).
    treatment
        0/1 membership column.
    unit, time
        Firm and year columns (their fixed effects are absorbed).
    fe
        Fixed effects replacing ``unit + time`` (e.g. ``["firm_id", "sector^year"]``).
    controls
        Extra regressors.
    vcov, cluster
        Inference (default cluster-robust by ``unit``).
    weights
        Analytic weights column.
    post_exit
        ``"keep"`` treats years after leaving as non-member years; ``"drop"`` removes them (counted in
        ``exclusions["post_exit"]``; needs ``cohort``).
    backend
        ``"memory"`` or ``"dask"`` (the same fit over firm partitions, see :func:`feols`; ``data`` may
        be :class:`~clusterimpact.dask.FirmPartitions`). The other membership models take it too.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> result = ci.static_premium(example_panel(), "ln_lp")
    >>> result.formula, result.vcov_type, result.cluster
    ('ln_lp ~ member | firm_id + year', 'cluster', 'firm_id')
    """
    df, excl = _membership_frame(
        data, outcome, unit, time, [treatment, *controls], post_exit, cohort, backend
    )
    rhs = " + ".join([treatment, *controls])
    formula = f"{outcome} ~ {rhs} | {_fe_part(unit, time, fe)}"
    res = _run_model(
        df,
        formula,
        vcov,
        cluster or unit,
        weights,
        None,
        "static_premium",
        excl,
        {"post_exit": post_exit},
    )
    return dataclasses.replace(res, headline=treatment)


def linear_duration(
    data: Any,
    outcome: str = "ln_lp",
    *,
    treatment: str = "member",
    duration: str = "member_years",
    unit: str = "firm_id",
    time: str = "year",
    fe: Sequence[str] | None = None,
    controls: Sequence[str] = (),
    vcov: str = "cluster",
    cluster: str | None = None,
    weights: str | None = None,
    post_exit: PostExit = "keep",
    cohort: str = "treat_year",
    backend: Literal["memory", "dask"] = "memory",
) -> FixedEffectsResult:
    """Premium plus linear growth: ``y_it = a_i + l_t + b0 * member_it + b1 * member_years_it + e_it``.

    Estimand: ``b0`` (jump on joining, net of the linear term) and ``b1`` (change in the premium per
    additional year of membership). ``member_years`` is 1 in the join year, so the premium in the
    ``m``-th membership year is ``b0 + b1 * m``. Assumptions as in :func:`static_premium`, plus a premium
    linear in years of membership and common to all cohorts. After an exit ``member_years`` stays at its
    last value (``post_exit="keep"``), i.e. the model assumes the accumulated effect persists.

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.estimation.fe import linear_duration
    >>> result = linear_duration(example_panel(), "ln_lp")
    >>> result.params.index.tolist()  # the jump on joining and the change per year of membership
    ['member', 'member_years']
    """
    df, excl = _membership_frame(
        data, outcome, unit, time, [treatment, duration, *controls], post_exit, cohort, backend
    )
    rhs = " + ".join([treatment, duration, *controls])
    formula = f"{outcome} ~ {rhs} | {_fe_part(unit, time, fe)}"
    res = _run_model(
        df,
        formula,
        vcov,
        cluster or unit,
        weights,
        None,
        "linear_duration",
        excl,
        {"post_exit": post_exit},
    )
    return dataclasses.replace(res, headline=duration)


def binned_duration(
    data: Any,
    outcome: str = "ln_lp",
    *,
    bins: Sequence[int | str] = (1, 2, 3, 4, "5+"),
    treatment: str = "member",
    duration: str = "member_years",
    unit: str = "firm_id",
    time: str = "year",
    fe: Sequence[str] | None = None,
    controls: Sequence[str] = (),
    vcov: str = "cluster",
    cluster: str | None = None,
    weights: str | None = None,
    post_exit: PostExit = "keep",
    cohort: str = "treat_year",
    backend: Literal["memory", "dask"] = "memory",
) -> FixedEffectsResult:
    """Premium by years of membership in bins: ``y_it = a_i + l_t + sum_b c_b 1[member, m_it in b] + e``.

    Estimand: ``c_b``, the TWFE premium of member firm-years whose membership duration ``m_it``
    (``member_years``, 1 in the join year) falls in bin ``b`` (terms ``member_years::1`` ...
    ``member_years::5+``), relative to non-member firm-years. Member years outside every bin get no dummy
    (they are pooled with the controls; choose bins covering all durations). Assumptions as in
    :func:`static_premium`; the heterogeneity-robust counterpart is
    :func:`~clusterimpact.estimation.duration.duration_effects`.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.estimation.fe import binned_duration
    >>> result = binned_duration(example_panel(), "ln_lp", bins=[1, "2-3", "4+"])
    >>> result.params.index.tolist()
    ['member_years::1', 'member_years::2-3', 'member_years::4+']
    """
    parsed = parse_bins(bins)
    df, excl = _membership_frame(
        data, outcome, unit, time, [treatment, duration, *controls], post_exit, cohort, backend
    )
    frame = df if isinstance(df, pd.DataFrame) else df.frame._meta  # the names only, on Dask
    extra = bin_dummies(frame, duration, treatment, parsed)
    rhs = " + ".join(controls) if controls else "0"
    formula = f"{outcome} ~ {rhs} | {_fe_part(unit, time, fe)}"
    f = parse_formula(formula)
    text = f"{outcome} ~ {' + '.join([*extra, *controls])} | {_fe_part(unit, time, fe)}"
    ff = _Formula(text, f.depvar, tuple(controls), f.fixed_effects, False, None)
    options = {"bins": [b[0] for b in parsed]}
    if not isinstance(df, pd.DataFrame):  # FirmPartitions: the Dask path
        dres = fit_membership(
            df,
            ff,
            vcov,
            cluster or unit,
            weights,
            "binned_duration",
            options,
            bins=(duration, treatment, parsed),
        )
        return _reorder(_merge_exclusions(dres, excl), [*extra, *controls])
    vtype, ccols = _normalise_vcov(
        vcov, (cluster or unit) if vcov in ("cluster", "twoway") else None
    )
    res = None
    if not controls and weights is None:
        res = _fit_indicators(
            ff,
            df,
            vtype,
            ccols,
            extra,
            method="binned_duration",
            options={"bins": [b[0] for b in parsed]},
        )
    res = res or _fit_fast(
        ff,
        df,
        vtype,
        ccols,
        weights,
        None,
        None,
        "min",
        True,
        method="binned_duration",
        extra_X=extra,
        options={"bins": [b[0] for b in parsed]},
    )
    res = _merge_exclusions(res, excl)
    order = [*extra, *controls]
    return _reorder(res, order)


def _merge_exclusions(res: FixedEffectsResult, excl: dict[str, int]) -> FixedEffectsResult:
    if not excl:
        return res
    merged = dict(excl)
    for k, v in res.exclusions.items():
        merged[k] = merged.get(k, 0) + v
    return dataclasses.replace(res, exclusions=merged)


def _reorder(res: FixedEffectsResult, order: list[str]) -> FixedEffectsResult:
    idx = pd.Index(order)
    V = res.vcov.loc[idx, idx] if res.vcov is not None else None
    return dataclasses.replace(
        res, params=res.params.loc[idx], std_errors=res.std_errors.loc[idx], vcov=V
    )
