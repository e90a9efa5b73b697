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
from typing import Any

import pandas as pd

from clusterimpact._cohort import cohort_years
from clusterimpact.cli._common import (
    add_common_args,
    check_columns,
    load_data,
    split_list,
    write_json,
)

METHODS = ("cs", "sa", "imputation", "twfe")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``did`` subcommand."""
    p = sub.add_parser(
        "did",
        help="staggered DiD (Callaway-Sant'Anna, Sun-Abraham, imputation, TWFE) with aggregations",
        description="Staggered difference-in-differences with the aggregations simple, dynamic, "
        "group and calendar. Cohort 0 or missing = never treated.",
    )
    add_common_args(p)
    p.add_argument("--outcome", required=True, help="outcome column")
    p.add_argument("--cohort", default="treat_year", help="first-treatment period column")
    p.add_argument("--method", choices=METHODS, default="cs", help="estimator (default cs)")
    p.add_argument(
        "--control", choices=("never", "notyet"), default="never", help="comparison units (cs)"
    )
    p.add_argument("--covariates", default=None, help="comma-separated covariates (cs)")
    p.add_argument("--est", choices=("reg", "ipw", "dr"), default="dr", help="cs 2x2 estimator")
    p.add_argument(
        "--dr-method",
        dest="dr_method",
        choices=("improved", "traditional"),
        default="improved",
        help="cs --est dr: improved (IPT + WLS) or traditional (logit + OLS, as csdid)",
    )
    p.add_argument("--weights", default=None, help="sampling or matching weights column")
    p.add_argument("--cluster", default=None, help="cluster column (default: the unit)")
    p.add_argument("--stack", default=None, help="stack id of a cohort-stacked panel (cs)")
    p.add_argument("--anticipation", type=int, default=0, help="anticipation periods (cs)")
    p.add_argument(
        "--base-period", dest="base_period", choices=("varying", "universal"), default="varying"
    )
    p.add_argument(
        "--allow-unbalanced",
        dest="allow_unbalanced",
        action="store_true",
        help="cs: keep units not observed in every period (default: drop them, as R did)",
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
    p.add_argument("--level", type=float, default=0.95, help="confidence level")
    _register_honest(p)
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


def _run(args: argparse.Namespace) -> int:
    df = load_data(args.data, args, outcome=args.outcome)
    covs = split_list(args.covariates)
    level = args.level
    if not 0 < level < 1:
        from clusterimpact.errors import SpecError

        raise SpecError(f"--level must be in (0, 1), got {level}")
    check_columns(
        df,
        args.data,
        required=[args.unit, args.cohort, args.cluster, args.stack],
        numeric=[args.time, args.outcome, *covs, args.weights],
    )
    # the package's one cohort parser, here so that a typo names the file (0 or missing = never)
    g = cohort_years(df[args.cohort], column=args.cohort, source=args.data)
    estimates: list[dict[str, Any]] = []
    warnings: list[str] = []
    exclusions: dict[str, int] = {}
    provenance: dict[str, Any] = {}
    blocks: list[str] = []
    excluded_cells: dict[str, list[str]] = {}  # cs: NaN ATT(g,t) cells each aggregation left out
    nobs = 0
    n_units = int(df[args.unit].nunique())
    if args.method == "cs":
        from clusterimpact.estimation.staggered import aggte, att_gt

        res = att_gt(
            df,
            args.outcome,
            cohort=args.cohort,
            unit=args.unit,
            time=args.time,
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
        )
        estimates += _rows(res, level)
        blocks.append(res.summary(level))
        agg_warnings: list[str] = []
        for ty in ("simple", "dynamic", "group", "calendar"):
            agg = aggte(res, ty)
            estimates += _rows(agg, level)
            blocks.append(agg.summary(level).split("\n", 2)[-1])
            if agg.excluded_cells:
                excluded_cells[ty] = list(agg.excluded_cells)
            agg_warnings += [w for w in agg.warnings if w not in res.warnings]
        nobs, n_units = res.nobs, res.n_units
        warnings, exclusions = list(res.warnings) + agg_warnings, dict(res.exclusions)
        provenance = res.provenance.to_dict()
    elif args.method == "sa":
        from clusterimpact.estimation.sunab import sun_abraham

        sa = sun_abraham(
            df,
            args.outcome,
            cohort=args.cohort,
            unit=args.unit,
            time=args.time,
            control="never" if (g == 0).any() else "last",
            weights=args.weights,
            cluster=args.cluster,
            stack=args.stack,
        )
        estimates += _rows(sa, level)
        blocks.append(sa.summary(level))
        nobs = sa.nobs
        warnings, exclusions = list(sa.warnings), dict(sa.exclusions)
        provenance = sa.provenance.to_dict()
    elif args.method == "imputation":
        from clusterimpact.estimation.imputation import imputation_did

        T = int(pd.to_numeric(df[args.time], errors="coerce").nunique())
        seen: set[str] = set()
        for ty in ("simple", "dynamic", "group", "calendar"):
            imp = imputation_did(
                df,
                args.outcome,
                cohort=args.cohort,
                unit=args.unit,
                time=args.time,
                aggregation=ty,  # type: ignore[arg-type]
                leads=max(0, min(5, T - 2)),
            )
            new = [r for r in _rows(imp, level) if r["term"] not in seen]
            seen.update(r["term"] for r in new)
            estimates += new
            blocks.append(imp.summary(level))
            nobs = imp.nobs
            warnings = list(dict.fromkeys(warnings + list(imp.warnings)))
            exclusions = dict(imp.exclusions)
            provenance = imp.provenance.to_dict()
    else:  # twfe
        from clusterimpact.estimation.compare import compare_estimators

        cmp = compare_estimators(
            df,
            args.outcome,
            cohort=args.cohort,
            unit=args.unit,
            time=args.time,
            estimators=("twfe",),
            weights=args.weights,
            cluster=args.cluster,
            bacon=False,
            level=level,
        )
        if "twfe" in cmp.failures:
            from clusterimpact.errors import EstimationError

            raise EstimationError(cmp.failures["twfe"])
        for rec in cmp.frame.to_dict("records"):
            estimates.append(
                {
                    "term": str(rec["term"]),
                    **{
                        k: float(rec[k])
                        for k in ("estimate", "std_error", "conf_low", "conf_high", "p_value")
                    },
                }
            )
        main = cmp.results["twfe"]
        blocks.append(
            cmp.frame[["term", "estimate", "std_error", "conf_low", "conf_high"]].to_string(
                index=False, float_format=lambda v: f"{v: .4f}"
            )
        )
        nobs = main.nobs
        warnings, exclusions = list(main.warnings), dict(main.exclusions)
        provenance = main.provenance.to_dict()
    sensitivity = None
    if args.honest:
        sensitivity, notes = _honest(
            args,
            df,
            res if args.method == "cs" else sa if args.method == "sa" else None,
            level,
        )
        warnings += [n for n in notes if n not in warnings]
        blocks.append(_honest_text(sensitivity))
    payload = {
        "command": "did",
        "method": args.method,
        "nobs": int(nobs),
        "n_units": int(n_units),
        "options": {
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
        },
        "estimates": estimates,
        "warnings": warnings,
        "exclusions": exclusions,
        "excluded_cells": excluded_cells,
        "provenance": provenance,
    }
    if sensitivity is not None:
        payload["sensitivity"] = sensitivity
    if args.json_path:
        write_json(args.json_path, payload)
        print(f"did ({args.method}): {len(estimates)} estimates written to {args.json_path}")
    else:
        print("\n\n".join(blocks))
    return 0


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

        T = int(pd.to_numeric(df[args.time], errors="coerce").nunique())
        keys = ("cohort", "unit", "time")
        es = imputation_did(
            df, args.outcome, **{k: getattr(args, k) for k in keys}, leads=max(1, min(5, T - 2))
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
