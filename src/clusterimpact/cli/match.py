"""`clusterimpact match`: matched estimates and balance on any cross-section or firm panel.

Usage::

    clusterimpact match --data P --treatment D --outcome Y --covariates a,b
                        --method nearest|nnmatch|cem|exact [--estimand att|ate|atc] [--neighbors M]
                        [--metric propensity|mahalanobis|inverse-variance] [--caliper C] [--replace]
                        [--exact COLS] [--bias-adjust] [--link logit|probit] [--json P]
    clusterimpact match --panel --data P --cohort treat_year --covariates ln_lp,ln_emp,age,ln_kl
                        [--trends ln_lp] [--trend-window 2] [--control never|notyet] [--exact sector]
                        [--outcome ln_lp] [--stacked-out P] [--json P]

``--metric propensity`` matches on the propensity score (default for ``nearest``);
``mahalanobis`` / ``inverse-variance`` on the covariates (``inverse-variance`` is ``nnmatch``'s default).
In ``--panel`` mode the treatment is joining in the cohort year (``--cohort``: first membership year, 0 or
missing = never), ``--unit``/``--time`` name the firm and year columns, and ``--stacked-out`` writes the
cohort-stacked matched panel (CSV or Parquet) for ``clusterimpact did``.

Without ``--json`` a summary (estimate, counts, SMD before/after) goes to stdout; with it the results go to
PATH as JSON (DESIGN.md shape plus ``estimand``, ``counts``, ``unmatched`` and ``balance``).
"""

from __future__ import annotations

import argparse
from typing import Any

from clusterimpact.cli._common import (
    add_command,
    check_columns,
    load_data,
    split_list,
    write_json,
)
from clusterimpact.errors import SpecError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `match` subcommand."""
    p = add_command(
        sub,
        "match",
        help="matching estimates and balance (cross-section or cohort-wise on a panel)",
        description="Nearest-neighbour, Abadie-Imbens, coarsened exact or exact matching.",
    )
    p.add_argument("--treatment", default=None, help="0/1 treatment column (cross-section)")
    p.add_argument("--outcome", default=None, help="outcome column")
    p.add_argument(
        "--covariates",
        default=None,
        help="matching covariates, comma-separated (required unless --design is given)",
    )
    p.add_argument("--method", default="nearest", choices=["nearest", "nnmatch", "cem", "exact"])
    p.add_argument("--estimand", default="att", choices=["att", "ate", "atc"])
    p.add_argument("--neighbors", type=int, default=1, help="matches per unit (default 1)")
    p.add_argument(
        "--metric",
        default=None,
        choices=["propensity", "mahalanobis", "inverse-variance"],
        help="distance: propensity score or covariates in a metric",
    )
    p.add_argument("--caliper", type=float, default=None, help="max distance (SD of the score)")
    p.add_argument("--replace", action="store_true", help="match with replacement")
    p.add_argument("--exact", default=None, help="columns to match exactly on, comma-separated")
    p.add_argument("--bias-adjust", action="store_true", help="Abadie-Imbens bias adjustment")
    p.add_argument("--link", default="logit", choices=["logit", "probit"])
    p.add_argument("--panel", action="store_true", help="cohort-wise matching on a firm panel")
    p.add_argument("--cohort", default="treat_year", help="first membership year (panel mode)")
    p.add_argument(
        "--design",
        default=None,
        choices=["trends", "levels"],
        help="panel mode: a documented set of matching variables instead of --covariates "
        "(trends: age, multi-year means of size and capital intensity, productivity trend; "
        "levels: productivity, size, age, capital intensity in g-1; see match_panel)",
    )
    p.add_argument("--trends", default=None, help="columns whose pre-joining growth is matched")
    p.add_argument("--pre-means", default=None, help="columns whose pre-joining mean is matched")
    p.add_argument("--trend-window", type=int, default=None, help="years of the growth (default 2)")
    p.add_argument("--control", default="never", choices=["never", "notyet"])
    p.add_argument("--stacked-out", default=None, help="write the stacked matched panel here")
    p.set_defaults(func=_run)


def _distance(metric: str | None) -> tuple[Any, Any]:
    if metric is None:
        return None, "inverse-variance"
    if metric == "propensity":
        return "propensity", "inverse-variance"
    return "covariates", metric


def _run(args: argparse.Namespace) -> int:
    from clusterimpact.io import writable_format

    if args.stacked_out:
        writable_format(args.stacked_out)  # an unknown extension fails before any work
    df = load_data(args.data, args, outcome=args.outcome)
    lists = [*split_list(args.covariates), *split_list(args.trends), *split_list(args.pre_means)]
    if args.panel:
        required = [args.unit, args.time, args.cohort, *split_list(args.exact)]
        numeric = [*lists, args.outcome]
    else:
        required = split_list(args.exact)
        numeric = [args.treatment, *lists, args.outcome]
    check_columns(df, args.data, required=required, numeric=numeric)
    return _fit_and_write(args, df)


def _fit_and_write(args: argparse.Namespace, df: Any) -> int:
    from clusterimpact.io import write_table
    from clusterimpact.matching import match, match_panel

    covs = split_list(args.covariates)
    exact = split_list(args.exact)
    distance, metric = _distance(args.metric)
    if args.design is not None and not args.panel:
        raise SpecError("--design needs --panel (it names pre-joining matching variables)")
    if args.design is not None:
        given = [
            flag
            for flag, v in (
                ("--covariates", covs),
                ("--trends", args.trends),
                ("--pre-means", args.pre_means),
                ("--trend-window", args.trend_window),
            )
            if v
        ]
        if given:
            raise SpecError(
                f"--design {args.design} sets the matching variables; leave out {', '.join(given)}"
            )
    if args.design is None and not covs:
        raise SpecError("give --covariates (or, with --panel, --design trends|levels)")
    if args.panel:
        if args.design is not None:
            variables: dict[str, Any] = {"design": args.design}
        else:
            variables = {
                "covariates": covs,
                "trends": split_list(args.trends),
                "pre_means": split_list(args.pre_means),
                "trend_window": args.trend_window,
            }
        res = match_panel(
            df,
            **variables,
            cohort=args.cohort,
            unit=args.unit,
            time=args.time,
            exact=exact,
            control=args.control,
            method=args.method,
            neighbors=args.neighbors,
            replace=True if args.replace else None,
            caliper=args.caliper,
            distance=distance,
            link=args.link,
            metric=metric,
            outcome=args.outcome,
            seed=args.seed,
            source=args.data,
        )
        n_units = (
            int(res.matched_panel[args.unit].nunique()) if res.matched_panel is not None else 0
        )
    else:
        if not args.treatment:
            raise SpecError("--treatment is required (or use --panel with --cohort)")
        res = match(
            df,
            args.treatment,
            covs,
            method=args.method,
            estimand=args.estimand,
            neighbors=args.neighbors,
            replace=True if args.replace else None,
            caliper=args.caliper,
            exact=exact,
            distance=distance,
            link=args.link,
            outcome=args.outcome,
            bias_adjust=args.bias_adjust,
            metric=metric,
            unit=args.unit if args.unit in df.columns else None,
            seed=args.seed,
            source=args.data,
        )
        n_units = int(res.nobs)
    if args.stacked_out:
        if res.matched_panel is None:
            raise SpecError("--stacked-out needs --panel")
        write_table(res.matched_panel, args.stacked_out)
    if args.json_path:
        payload = {"command": "match", **res.to_dict()}
        payload["n_units"] = n_units
        payload["options"] = {k: v for k, v in vars(args).items() if k not in ("func", "json_path")}
        write_json(args.json_path, payload)
    else:
        print(res.summary())
    return 0
