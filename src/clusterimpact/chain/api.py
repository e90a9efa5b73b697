"""The front doors :func:`chain_bootstrap` and :func:`chain_from_spec`."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact._renamed import renamed_kwargs
from clusterimpact._validation import as_frame, check_choice, require_columns
from clusterimpact.chain._steps import (
    CHAIN_ESTIMATORS,
    FIXED_TFP,
    ChainData,
    ChainResample,
    ChainSteps,
)
from clusterimpact.chain.result import ChainResult
from clusterimpact.errors import EstimationWarning, SpecError
from clusterimpact.productivity._prep import prepare
from clusterimpact.productivity.api import make_estimator
from clusterimpact.productivity.bootstrap import firm_bootstrap
from clusterimpact.provenance import make_provenance

__all__ = ["CHAIN_METHODS", "chain_bootstrap", "chain_from_spec"]

CHAIN_METHODS: tuple[str, ...] = ("ols", "fe", "op", "lp", "acf", "wooldridge")
_PROXY = {"op": "ln_investment", "lp": "ln_materials", "acf": "ln_materials"}
_PROXY |= {"wooldridge": "ln_materials"}
_MATCH_DEFAULT: dict[str, Any] = {
    "design": "trends",
    "exact": ["sector"],
    "method": "nearest",
    "neighbors": 1,
    "caliper": 0.2,
    "replace": True,
}
_MATCH_SET_BY_CHAIN = ("panel", "cohort", "unit", "time", "outcome", "window", "seed", "source")
_TFP_SET_BY_CHAIN = ("bootstrap", "seed", "n_jobs", "progress", "unit", "time", "logged")


def _check_settings(
    method: str,
    reps: int,
    n_jobs: int,
    estimators: Sequence[str],
    window: tuple[int, int],
    matching: Mapping[str, Any] | None,
    tfp_options: Mapping[str, Any],
    max_fail_share: float,
) -> None:
    check_choice("method", method, CHAIN_METHODS)
    if int(reps) < 2:
        raise SpecError(f"n_boot={reps}: the chain bootstrap needs at least 2 replications")
    if int(n_jobs) < 1:
        raise SpecError(f"n_jobs={n_jobs} must be at least 1")
    if not estimators:
        raise SpecError(f"estimators is empty; choose from {', '.join(CHAIN_ESTIMATORS)}")
    for e in estimators:
        check_choice("estimators entry", e, CHAIN_ESTIMATORS)
    lo, hi = window
    if not (lo <= -1 and hi >= 0):
        raise SpecError(f"window={list(window)} must include -1 and 0 (lowest <= -1, highest >= 0)")
    bad = sorted(k for k in (matching or {}) if k in _MATCH_SET_BY_CHAIN)
    bad += sorted(k for k in tfp_options if k in _TFP_SET_BY_CHAIN)
    if bad:
        raise SpecError(
            f"option(s) {', '.join(bad)} are set by the chain itself (cohort/unit/time/outcome/window "
            "and seed/n_jobs come from chain_bootstrap's own arguments); leave them out"
        )
    if not 0 <= max_fail_share < 1:
        raise SpecError(f"max_fail_share={max_fail_share} must be in [0, 1)")


def _sorted_frame(frame: pd.DataFrame, unit: str, time: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows sorted as the production-function arrays are (firm codes by id value, then year)."""
    try:
        codes, _ = pd.factorize(frame[unit], sort=True)
    except TypeError:  # mixed id types: order by their text, as prepare() does
        codes, _ = pd.factorize(frame[unit].astype(str), sort=True)
    t = pd.to_numeric(frame[time], errors="coerce").to_numpy(dtype=float)
    order = np.lexsort((t, codes))
    return frame.iloc[order].reset_index(drop=True), np.asarray(codes[order], dtype=np.int64)


@renamed_kwargs(reps="n_boot")
def chain_bootstrap(
    panel: Any,
    *,
    n_boot: int = 200,
    seed: int | None = None,
    n_jobs: int = 1,
    method: str = "acf",
    output: str = "ln_va",
    free: Sequence[str] = ("ln_emp",),
    state: Sequence[str] = ("ln_capital",),
    proxy: str | None = None,
    tfp_options: Mapping[str, Any] | None = None,
    estimators: Sequence[str] = CHAIN_ESTIMATORS,
    matching: Mapping[str, Any] | None = None,
    control: str = "notyet",
    window: tuple[int, int] = (-5, 5),
    bins: Sequence[int | str] = (1, 2, 3, 4, "5+"),
    cohort: str = "treat_year",
    unit: str = "firm_id",
    time: str = "year",
    warm_start: bool = True,
    max_fail_share: float = 0.05,
    progress: Callable[[int, int], None] | None = None,
    fixed_tfp: bool = True,
) -> ChainResult:
    """Firm-block bootstrap of the whole chain: production function -> ln TFP -> matching -> DiD.

    Each replication draws firms with replacement (a firm drawn twice enters as two firms, with new
    ids), re-estimates the production function, recomputes ln TFP, re-runs the matching and the DiD
    and duration estimators on it, and records every estimate. The standard deviation over the
    replications is the chain standard error, which includes the uncertainty of the estimated TFP;
    the estimators' own (plug-in) standard errors treat ln TFP as data.

    Parameters
    ----------
    panel
        A :class:`~clusterimpact.panel.FirmPanel` or DataFrame with one row per firm-year, the
        production-function columns, ``cohort``, ``member`` and ``member_years`` (duration) and the
        matching variables. It is not modified; a column named ``ln_tfp_<method>`` is replaced in
        the chain's copy by the chain's own estimate.
    n_boot, seed, n_jobs
        Replications (``reps``, the old spelling, still works), seed, worker processes.
        Replication ``b`` draws from the ``b``-th child of ``numpy.random.SeedSequence(seed)``
        (its matching seed too), so the answer does not depend on ``n_jobs``.
    method, output, free, state, proxy, tfp_options
        Production function (``ols, fe, op, lp, acf, wooldridge``), its columns (proxy default
        ``ln_investment`` for OP, ``ln_materials`` otherwise) and further options of
        :func:`~clusterimpact.productivity.estimate_tfp` (e.g. ``{"poly_order": 2}``).
    estimators
        Any of ``"cs"`` (Callaway-Sant'Anna ATT(g,t), aggregated ``simple`` and ``dynamic``),
        ``"duration"`` (premium by years of membership, its average and slope) and
        ``"matched_did"`` (cohort-wise matching then matched DiD).
    matching
        Options of :func:`~clusterimpact.matching.match_panel` (default: ``design="trends"``,
        exact on ``sector``, nearest neighbour 1:1 with replacement, caliper 0.2).
    control, window, bins
        Control group (``"notyet"``/``"never"``), event window (dynamic aggregation, matched panel;
        its lowest value also sets the duration pre-trend leads), duration bins.
    cohort, unit, time
        Column names; the firms (``unit``) are the resampled clusters.
    warm_start
        True (default): every replication starts the production-function optimiser (OP/LP/ACF) at
        the full-sample solution and runs one local search, as practitioners do; False runs the
        estimator's own multi-start search in every replication (about 20 times slower for ACF).
    max_fail_share
        Share of failed replications (or of replications missing a term) above which a warning is
        raised. Failed replications are always counted in the result, never dropped silently.
    progress
        Optional ``progress(done, total)`` callback.
    fixed_tfp
        True (default): every replication also re-runs the DiD and duration estimators on the same
        resampled firms (and matching seed) with ln TFP held at its full-sample values -- the
        bootstrap of the DiD that treats TFP as data, under common random numbers with the chain.
        The difference between the chain SE and this fixed-TFP SE is the part of the uncertainty
        that estimating TFP adds (:attr:`ChainResult.se_ratio_fixed`, with its Monte Carlo error).
        Costs one more run of the DiD estimators per replication.

    Returns
    -------
    ChainResult
        Full-sample estimates with chain standard errors, percentile intervals and the plug-in
        standard errors beside them; the draws; the failures by reason.

    Notes
    -----
    Estimand: the sampling uncertainty of the DiD / duration estimates *including* the estimation of
    TFP, with firms as independent clusters. A replication fails when an estimator raises (an
    optimiser that does not converge, a cohort without controls, no member firm-years in a bin); its
    row of ``draws`` is NaN and the reason is counted in ``failures``. A term can also be missing
    from a replication that did not fail (an event time no resampled cohort reaches); ``n_boot``
    counts, per term, the replications it is estimated in. Nearest-neighbour matching with
    replacement is not smooth in the data, and the bootstrap is not guaranteed to be consistent for
    it (Abadie & Imbens 2008): read the matched DiD's chain SE as indicative.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> chain = ci.chain_bootstrap(example_panel(), reps=4, seed=1, method="ols",
    ...                            estimators=["duration"])
    >>> chain.draws.shape[0], "duration:average" in chain.params.index
    (4, True)
    >>> list(chain.tidy().columns)[:3]
    ['term', 'estimate', 'std_error']
    """
    reps = n_boot
    tfp_options = dict(tfp_options or {})
    _check_settings(method, reps, n_jobs, estimators, window, matching, tfp_options, max_fail_share)
    match_opts = dict(_MATCH_DEFAULT if matching is None else matching)
    frame = as_frame(panel)
    source = str(frame.attrs.get("source") or "data")
    need = [unit, time, cohort]
    if "duration" in estimators:
        need += ["member", "member_years"]
    require_columns(frame, need, source=source, what="chain bootstrap")
    outcome = f"ln_tfp_{method}"
    frame, codes = _sorted_frame(frame.drop(columns=[outcome], errors="ignore"), unit, time)
    est = make_estimator(
        method,
        output=output,
        free=tuple(free),
        state=tuple(state),
        **({"proxy": proxy or _PROXY[method]} if method in _PROXY else {}),
        unit=unit,
        time=time,
        seed=seed,
        **tfp_options,
    )
    est._validate_settings()
    prep = prepare(
        frame,
        output=est.output,
        free=list(est.free),
        state=list(est.state),
        proxy=est.proxy if est.uses_proxy else None,
        controls=list(est.controls),
        unit=unit,
        time=time,
        logged=est.logged,
        source=source,
    )
    est._check_arrays(prep.arrays, source)
    if prep.positions.size > 1 and not np.all(np.diff(prep.positions) > 0):  # pragma: no cover
        raise AssertionError("production-function rows out of the panel's order")
    data = ChainData(frame, codes, prep.arrays, prep.positions, match_seed=seed)
    steps = ChainSteps(
        estimator=est,
        outcome=outcome,
        cohort=cohort,
        unit=unit,
        time=time,
        control=control,
        window=(int(window[0]), int(window[1])),
        bins=tuple(bins),
        estimators=tuple(e for e in CHAIN_ESTIMATORS if e in estimators),
        matching=match_opts if "matched_did" in estimators else None,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table, point = steps.run(data, full=True)
    messages = list(dict.fromkeys(f"full sample: {w.message}" for w in caught))
    for w in caught:  # the full-sample estimators' own warnings reach the caller as usual
        warnings.warn(str(w.message), w.category, stacklevel=2)
    names = tuple(table["term"])
    fixed_names = tuple(t for t in names if not t.startswith("tfp:")) if fixed_tfp else ()
    if fixed_names:
        vals = np.full(len(frame), np.nan)
        vals[data.pf_rows] = point.ln_tfp
        data.frame = data.frame.assign(**{FIXED_TFP: vals})
    steps = replace(
        steps,
        theta=point.theta if warm_start else None,
        names=names,
        fixed_names=fixed_names,
    )
    draws, errors = firm_bootstrap(
        steps,
        data,
        reps=int(reps),
        k=len(names) + len(fixed_names) + 1,
        seed=seed,
        n_jobs=int(n_jobs),
        progress=progress,
        resample=ChainResample(unit),
        label="chain bootstrap",
    )
    return _assemble(
        table, point, draws, errors, messages, steps, frame, seed, warm_start, max_fail_share
    )


def _assemble(
    table: pd.DataFrame,
    point: Any,
    draws: np.ndarray,
    errors: list[str],
    messages: list[str],
    steps: ChainSteps,
    frame: pd.DataFrame,
    seed: int | None,
    warm_start: bool,
    max_fail_share: float,
) -> ChainResult:
    names = list(steps.names)
    reps = draws.shape[0]
    failed = ~np.isfinite(draws[:, -1])
    n_failed = int(failed.sum())
    est_draws = pd.DataFrame(draws[:, : len(names)], columns=names)
    fixed_draws = pd.DataFrame(draws[:, len(names) : -1], columns=list(steps.fixed_names))
    fixed_sd = fixed_draws.std(axis=0, ddof=1, skipna=True).reindex(names)
    finite = np.isfinite(est_draws.to_numpy())
    n_boot = pd.Series(finite.sum(axis=0), index=names, name="n_boot")
    sd = est_draws.std(axis=0, ddof=1, skipna=True).where(n_boot >= 2)
    failures = dict(Counter(e[:300] for e in errors).most_common())
    notes = []
    if n_failed > max_fail_share * reps:
        top = next(iter(failures), "non-finite estimates")
        notes.append(
            f"chain bootstrap: {n_failed} of {reps} replications failed and are left out of the "
            f"standard errors (most common: {top})"
        )
    short = [t for t in names if reps - n_failed - int(n_boot[t]) > max_fail_share * reps]
    if short:
        notes.append(
            "chain bootstrap: estimate missing in more than "
            f"{max_fail_share:.0%} of the replications for {', '.join(short)} (see n_boot)"
        )
    for m in notes:
        warnings.warn(m, EstimationWarning, stacklevel=3)
    messages = messages + notes
    est = steps.estimator
    production = {
        "method": est.method,
        "outcome": steps.outcome,
        "estimators": list(steps.estimators),
        "elasticities": {
            str(k): float(v) for k, v in zip(point.el_names, point.elasticities, strict=True)
        },
        "theta": None if point.theta is None else [float(v) for v in point.theta],
    }
    options = {
        "reps": reps,
        "control": steps.control,
        "window": list(steps.window),
        "bins": [str(b) for b in steps.bins],
        "matching": steps.matching,
        "warm_start": warm_start,
        "production": est._options() | {"method": est.method, "proxy": est.proxy},
    }
    idx = pd.Index(names)
    return ChainResult(
        params=pd.Series(table["estimate"].to_numpy(float), index=idx, name="estimate"),
        std_errors=pd.Series(sd.to_numpy(float), index=idx, name="std_error"),
        nobs=int(len(frame)),
        method="chain_bootstrap",
        provenance=make_provenance("chain_bootstrap", frame, seed, **options),
        warnings=tuple(messages),
        plugin_se=pd.Series(table["plugin_se"].to_numpy(float), index=idx, name="plugin_se"),
        draws=est_draws,
        reps=reps,
        n_failed=n_failed,
        failures=failures,
        n_boot=n_boot,
        n_warned=int(((draws[:, -1] > 0) & ~failed).sum()),
        warm_start=warm_start,
        production=production,
        fixed_tfp_se=fixed_sd.rename("fixed_tfp_se"),
        fixed_draws=fixed_draws if len(steps.fixed_names) else None,
    )


@renamed_kwargs(reps="n_boot")
def chain_from_spec(
    panel: Any,
    spec: Any,
    *,
    n_boot: int = 200,
    n_jobs: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> ChainResult:
    """The chain bootstrap of a study (the report's hook): settings taken from a ``StudySpec``.

    The production function is the headline outcome's method (``ln_tfp_<method>``; the first of
    ``outcomes.tfp_methods`` when the headline is ``ln_lp``) with the report's columns (ln_va on
    ln_emp, ln_capital; proxy ln_investment for OP, ln_materials otherwise); the estimators are those
    of ``estimation.estimators`` among cs, duration and matched_did; matching, control group, event
    window, duration bins and the seed (``spec.seed``) are the study's.

    Parameters
    ----------
    panel
        The study's panel (FirmPanel or DataFrame), as built by the report.
    spec
        A :class:`~clusterimpact.spec.StudySpec`.
    n_boot, n_jobs, progress
        As in :func:`chain_bootstrap`.

    Examples
    --------
    >>> from clusterimpact.chain import chain_from_spec
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.spec import StudySpec
    >>> spec = StudySpec()  # the default study: ln TFP (ACF), CS, duration and matched DiD
    >>> chain = chain_from_spec(example_panel(), spec, reps=2, n_jobs=1)
    >>> chain.draws.shape[0], chain.params.index[:3].tolist()
    (2, ['tfp:ln_emp', 'tfp:ln_capital', 'cs:simple'])
    """
    head = spec.outcomes.headline
    methods = tuple(spec.outcomes.tfp_methods)
    if head.startswith("ln_tfp_"):
        method = head.removeprefix("ln_tfp_")
    elif methods:
        method = methods[0]
    else:
        raise SpecError("[outcomes] the chain bootstrap needs a TFP outcome (tfp_methods)")
    est = spec.estimation
    chosen = tuple(e for e in CHAIN_ESTIMATORS if e in est.estimators)
    if not chosen:
        raise SpecError(
            "[estimation] none of cs, duration, matched_did is requested; the chain has nothing to run"
        )
    m = spec.matching
    matching = m.match_kwargs()
    bins: list[int | str] = [*est.duration_bins[:-1], f"{est.duration_bins[-1]}+"]
    return chain_bootstrap(
        panel,
        n_boot=n_boot,
        seed=spec.seed,
        n_jobs=n_jobs,
        method=method,
        estimators=chosen,
        matching=matching,
        control=est.control,
        window=tuple(est.event_window),
        bins=bins,
        progress=progress,
    )
