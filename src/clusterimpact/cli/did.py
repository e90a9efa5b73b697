"""``clusterimpact did``: staggered difference-in-differences on any panel.

``clusterimpact did --data P --outcome Y --cohort G --method cs|sa|imputation|twfe --control never|notyet
[--covariates a,b] [--est reg|ipw|dr] [--unit COL --time COL --seed N --json P]``

Terms in the output (DESIGN.md): ``ATT(g,t)`` cells (cs), the overall aggregations ``simple``,
``dynamic``, ``group``, ``calendar`` and their elements ``dynamic:-3``, ``group:2004``,
``calendar:2005``. Bad input exits with status 2 naming the file, column and rows; the JSON file is
written atomically.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from clusterimpact._cohort import cohort_years
from clusterimpact.cli._common import (
    add_command,
    add_engine_args,
    add_level_arg,
    add_staggered_args,
    backend_of,
    check_columns,
    check_level,
    compute_of,
    distinct,
    engine_session,
    load_data,
    load_partitions,
    n_unique,
    panel_keys,
    split_list,
    write_json,
)

METHODS = ("cs", "sa", "imputation", "twfe")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``did`` subcommand."""
    p = add_command(
        sub,
        "did",
        help="staggered DiD (Callaway-Sant'Anna, Sun-Abraham, imputation, TWFE) with aggregations",
        description="Staggered difference-in-differences with the aggregations simple, dynamic, "
        "group and calendar. Cohort 0 or missing = never treated.",
    )
    p.add_argument("--outcome", required=True, help="outcome column")
    p.add_argument("--method", choices=METHODS, default="cs", help="estimator (default cs)")
    add_staggered_args(p, scope=" (cs)")
    p.add_argument(
        "--dr-method",
        dest="dr_method",
        choices=("improved", "traditional"),
        default="improved",
        help="cs --est dr: improved (IPT + WLS) or traditional (logit + OLS, as csdid)",
    )
    p.add_argument("--weights", default=None, help="sampling or matching weights column")
    p.add_argument("--stack", default=None, help="stack id of a cohort-stacked panel (cs)")
    p.add_argument(
        "--base-period", dest="base_period", choices=("varying", "universal"), default="varying"
    )
    p.add_argument(
        "--bootstrap", action="store_true", help="multiplier bootstrap SEs and uniform bands (cs)"
    )
    p.add_argument("--n-boot", dest="n_boot", type=int, default=999, help="bootstrap draws")
    p.add_argument(
        "--multiplier",
        choices=("mammen", "rademacher"),
        default="mammen",
        help="bootstrap multipliers (cs): mammen (default) or rademacher (what R did and csdid draw)",
    )
    add_level_arg(p)
    _register_honest(p)
    add_engine_args(p)
    p.set_defaults(func=_run)


def _rows(res: Any, level: float, keep: Any = None) -> list[dict[str, Any]]:
    out = []
    for r in res.tidy(level).itertuples(index=False):
        if keep is not None and not keep(str(r.term)):
            continue
        out.append(
            {
                "term": str(r.term),
                "estimate": float(r.estimate),
                "std_error": float(r.std_error),
                "conf_low": float(r.conf_low),
                "conf_high": float(r.conf_high),
                "p_value": float(r.p_value),
            }
        )
    return out


@dataclass
class _Fit:
    """What one method produced, in the shape of the JSON payload and the printed text."""

    estimates: list[dict[str, Any]]
    blocks: list[str]
    nobs: int
    warnings: list[str]
    exclusions: dict[str, int]
    provenance: dict[str, Any]
    n_units: int | None = None
    excluded_cells: dict[str, list[str]] = field(default_factory=dict)
    event_study: Any = None  # the result --honest bounds (cs, sa); None: computed there


def _run(args: argparse.Namespace) -> int:
    compute = compute_of(args)
    if compute.engine != "dask":
        return _run_on(args, load_data(args.data, args, outcome=args.outcome))
    with engine_session(compute):  # --data read lazily into firm partitions on the cluster
        return _run_on(args, None)


def _run_on(args: argparse.Namespace, df: Any) -> int:
    covs = split_list(args.covariates)
    level = args.level
    check_level(level)
    required = [args.unit, args.cohort, args.cluster, args.stack]
    numeric = [args.time, args.outcome, *covs, args.weights]
    if df is None:
        df = load_partitions(args.data, args, required=required, numeric=numeric)
    else:
        check_columns(df, args.data, required=required, numeric=numeric)
    g = _cohorts(args, df)
    fitters = {"cs": _fit_cs, "sa": _fit_sa, "imputation": _fit_imputation, "twfe": _fit_twfe}
    fit = fitters[args.method](args, df, covs, level, g)
    warnings = fit.warnings
    sensitivity = None
    if args.honest:
        sensitivity, notes = _honest(args, df, fit.event_study, level)
        warnings += [n for n in notes if n not in warnings]
        fit.blocks.append(_honest_text(sensitivity))
    payload = {
        "command": "did",
        "method": args.method,
        "nobs": int(fit.nobs),
        "n_units": int(fit.n_units if fit.n_units is not None else n_unique(df, args.unit)),
        "options": _options(args, covs, level),
        "estimates": fit.estimates,
        "warnings": warnings,
        "exclusions": fit.exclusions,
        "excluded_cells": fit.excluded_cells,
        "provenance": fit.provenance,
    }
    if sensitivity is not None:
        payload["sensitivity"] = sensitivity
    if args.json_path:
        write_json(args.json_path, payload)
        print(f"did ({args.method}): {len(fit.estimates)} estimates written to {args.json_path}")
    else:
        print("\n\n".join(fit.blocks))
    return 0


def _cohorts(args: argparse.Namespace, df: Any) -> Any:
    """The package's one cohort parser, here so that a typo names the file (0 or missing = never).

    On firm partitions it reads the distinct values (the rows of a bad one are not known there).
    """
    from clusterimpact.errors import DataError

    if isinstance(df, pd.DataFrame):
        return cohort_years(df[args.cohort], column=args.cohort, source=args.data)
    try:
        return cohort_years(distinct(df, args.cohort), column=args.cohort, source=args.data)
    except DataError as exc:
        raise DataError(exc.message, source=exc.source, column=exc.column) from None


def _options(args: argparse.Namespace, covs: list[str], level: float) -> dict[str, Any]:
    """The ``options`` block of the JSON payload."""
    return {
        "data": str(args.data),
        "outcome": args.outcome,
        "cohort": args.cohort,
        "unit": args.unit,
        "time": args.time,
        "control": args.control,
        "covariates": covs,
        "est": args.est,
        "dr_method": args.dr_method,
        "weights": args.weights,
        "cluster": args.cluster,
        "stack": args.stack,
        "anticipation": args.anticipation,
        "base_period": args.base_period,
        "allow_unbalanced": bool(args.allow_unbalanced),
        "bootstrap": bool(args.bootstrap),
        "n_boot": args.n_boot,
        "multiplier": args.multiplier,
        "seed": args.seed,
        "level": level,
    }


def _fit_cs(
    args: argparse.Namespace, df: pd.DataFrame, covs: list[str], level: float, g: Any
) -> _Fit:
    """Callaway-Sant'Anna ATT(g,t) and its four aggregations."""
    from clusterimpact.estimation.staggered import aggte, att_gt

    res = att_gt(
        df,
        args.outcome,
        **panel_keys(args),
        control=args.control,
        covariates=covs or None,
        est=args.est,
        dr_method=args.dr_method,
        anticipation=args.anticipation,
        base_period=args.base_period,
        weights=args.weights,
        cluster=args.cluster,
        stack=args.stack,
        allow_unbalanced=args.allow_unbalanced,
        n_boot=args.n_boot if args.bootstrap else 0,
        multiplier=args.multiplier,
        seed=args.seed,
        level=level,
        **backend_of(args, att_gt, "att_gt (--method cs)"),
    )
    estimates = _rows(res, level)
    blocks = [res.summary(level)]
    excluded_cells: dict[str, list[str]] = {}  # NaN ATT(g,t) cells each aggregation left out
    agg_warnings: list[str] = []
    for ty in ("simple", "dynamic", "group", "calendar"):
        agg = aggte(res, ty)
        estimates += _rows(agg, level)
        blocks.append(agg.summary(level).split("\n", 2)[-1])
        if agg.excluded_cells:
            excluded_cells[ty] = list(agg.excluded_cells)
        agg_warnings += [w for w in agg.warnings if w not in res.warnings]
    return _Fit(
        estimates=estimates,
        blocks=blocks,
        nobs=res.nobs,
        n_units=res.n_units,
        warnings=list(res.warnings) + agg_warnings,
        exclusions=dict(res.exclusions),
        provenance=res.provenance.to_dict(),
        excluded_cells=excluded_cells,
        event_study=res,
    )


def _fit_sa(
    args: argparse.Namespace, df: pd.DataFrame, covs: list[str], level: float, g: Any
) -> _Fit:
    """Sun-Abraham's interaction-weighted event study (never-treated or last-treated controls)."""
    from clusterimpact.estimation.sunab import sun_abraham

    sa = sun_abraham(
        df,
        args.outcome,
        **panel_keys(args),
        control="never" if (g == 0).any() else "last",
        weights=args.weights,
        cluster=args.cluster,
        stack=args.stack,
        **backend_of(args, sun_abraham, "sun_abraham (--method sa)"),
    )
    return _Fit(
        estimates=_rows(sa, level),
        blocks=[sa.summary(level)],
        nobs=sa.nobs,
        warnings=list(sa.warnings),
        exclusions=dict(sa.exclusions),
        provenance=sa.provenance.to_dict(),
        event_study=sa,
    )


def _fit_imputation(
    args: argparse.Namespace, df: pd.DataFrame, covs: list[str], level: float, g: Any
) -> _Fit:
    """Borusyak-Jaravel-Spiess imputation, one run per aggregation (terms reported once)."""
    from clusterimpact.estimation.imputation import imputation_did

    T = _n_periods(df, args.time)
    on = backend_of(args, imputation_did, "imputation_did (--method imputation)")
    seen: set[str] = set()
    fit = _Fit(estimates=[], blocks=[], nobs=0, warnings=[], exclusions={}, provenance={})
    for ty in ("simple", "dynamic", "group", "calendar"):
        imp = imputation_did(
            df,
            args.outcome,
            **panel_keys(args),
            aggregation=ty,  # type: ignore[arg-type]
            leads=max(0, min(5, T - 2)),
            **on,
        )
        new = [r for r in _rows(imp, level) if r["term"] not in seen]
        seen.update(r["term"] for r in new)
        fit.estimates += new
        fit.blocks.append(imp.summary(level))
        fit.nobs = imp.nobs
        fit.warnings = list(dict.fromkeys(fit.warnings + list(imp.warnings)))
        fit.exclusions = dict(imp.exclusions)
        fit.provenance = imp.provenance.to_dict()
    return fit


def _n_periods(df: Any, time: str) -> int:
    """Distinct periods (of a frame, or of firm partitions: computed on the cluster)."""
    return int(pd.to_numeric(distinct(df, time), errors="coerce").nunique())


def _fit_twfe(
    args: argparse.Namespace, df: pd.DataFrame, covs: list[str], level: float, g: Any
) -> _Fit:
    """The static two-way fixed-effects premium (through compare_estimators)."""
    from clusterimpact.estimation.compare import compare_estimators

    backend_of(args, compare_estimators, "the static TWFE premium (--method twfe)")
    cmp = compare_estimators(
        df,
        args.outcome,
        **panel_keys(args),
        estimators=("twfe",),
        weights=args.weights,
        cluster=args.cluster,
        bacon=False,
        level=level,
    )
    if "twfe" in cmp.failures:
        from clusterimpact.errors import EstimationError

        raise EstimationError(cmp.failures["twfe"])
    cols = ("estimate", "std_error", "conf_low", "conf_high", "p_value")
    estimates = [
        {"term": str(rec["term"]), **{k: float(rec[k]) for k in cols}}
        for rec in cmp.frame.to_dict("records")
    ]
    main = cmp.results["twfe"]
    block = cmp.frame[["term", "estimate", "std_error", "conf_low", "conf_high"]].to_string(
        index=False, float_format=lambda v: f"{v: .4f}"
    )
    return _Fit(
        estimates=estimates,
        blocks=[block],
        nobs=main.nobs,
        warnings=list(main.warnings),
        exclusions=dict(main.exclusions),
        provenance=main.provenance.to_dict(),
    )


# -- --honest: Rambachan-Roth sensitivity of the event study ------------------------------------------
def _register_honest(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--honest",
        choices=("rm", "sd", "both"),
        default=None,
        help="Rambachan-Roth sensitivity of the event study: relative magnitudes (rm), smoothness "
        "(sd) or both; cs needs --base-period universal",
    )
    p.add_argument(
        "--honest-grid",
        dest="honest_grid",
        default=None,
        help="comma-separated Mbar (rm) or M (sd)",
    )
    p.add_argument(
        "--honest-target",
        dest="honest_target",
        default="0",
        help="event time of theta (default 0, on impact) or 'average' of all lags",
    )


def _honest(
    args: argparse.Namespace, df: pd.DataFrame, es: Any, level: float
) -> tuple[list[dict[str, Any]], list[str]]:
    """Sensitivity sets for the method's event study: one JSON block per restriction."""
    from clusterimpact.errors import SpecError
    from clusterimpact.estimation.honest import honest_did

    if args.method == "imputation":  # the dynamic aggregation with its leads (joint covariance)
        from clusterimpact.estimation.imputation import imputation_did

        T = _n_periods(df, args.time)
        es = imputation_did(
            df,
            args.outcome,
            **panel_keys(args),
            leads=max(1, min(5, T - 2)),
            **backend_of(args, imputation_did, "imputation_did"),
        )
    elif args.method == "cs":
        from clusterimpact.estimation.staggered import aggte

        if args.base_period != "universal":
            raise SpecError("--honest with --method cs needs --base-period universal")
        es = aggte(es, "dynamic")
    elif args.method == "twfe":
        from clusterimpact.estimation.event_study import event_study

        es = event_study(
            df,
            args.outcome,
            cohort=args.cohort,
            unit=args.unit,
            time=args.time,
            bin_endpoints=False,
            cluster=args.cluster,
            weights=args.weights,
            **backend_of(args, event_study, "event_study"),
        )
    target: Any = args.honest_target
    if target != "average":
        try:
            target = int(target)
        except ValueError:
            raise SpecError(
                f"--honest-target must be an event time or 'average', got {target!r}"
            ) from None
    grid = None
    if args.honest_grid:
        try:
            grid = [float(v) for v in split_list(args.honest_grid)]
        except ValueError:
            raise SpecError(
                f"--honest-grid must be comma-separated numbers, got {args.honest_grid!r}"
            ) from None
    kinds = ("rm", "sd") if args.honest == "both" else (args.honest,)
    out, notes = [], []
    for kind in kinds:
        r = honest_did(
            es,
            restriction=kind,  # type: ignore[arg-type]
            grid=grid,
            target=target,
            level=level,
            seed=args.seed or 0,
        )
        block = r.to_dict()["sensitivity"]
        block["sets"] = [
            {"bound": float(b), "conf_low": float(lo), "conf_high": float(hi)}
            for b, lo, hi in r.sets[["bound", "conf_low", "conf_high"]].itertuples(index=False)
        ]
        block["summary"] = r.summary()
        out.append(block)
        notes += [w for w in r.warnings if w not in notes]
    return out, notes


def _honest_text(blocks: list[dict[str, Any]]) -> str:
    return "\n\n".join(str(b.pop("summary")) for b in blocks)
