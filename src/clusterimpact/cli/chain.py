"""``clusterimpact chain``: the firm-block bootstrap of the whole chain on any panel.

``clusterimpact chain --data P [--method acf] [--reps 200] [--n-jobs 2] [--seed N]
[--estimators cs,duration,matched_did] [--control notyet|never] [--window -5,5] [--bins 1,2,3,4,5+]
[--cohort treat_year] [--output ln_va --free ln_emp --state ln_capital --proxy COL]
[--design trends|levels | --covariates a,b [--trends c] [--pre-means d]] [--exact sector]
[--caliper 0.2] [--no-warm-start] [--level 0.95] [--json P]``

Each replication re-estimates the production function, ln TFP, the matching and the DiD / duration
estimators on a resample of firms. Terms: ``tfp:<input>``, ``cs:simple``, ``cs:dynamic``,
``cs:dynamic:<e>``, ``duration:average``, ``duration:member_years::<bin>``, ``duration:slope``,
``matched_did:ATT``; ``std_error`` is the chain SE and ``conf_low``/``conf_high`` the percentile
interval, with ``plugin_std_error`` (the estimator's own SE, TFP treated as data), ``se_ratio`` and
``n_boot`` beside them. The JSON's ``chain`` block counts the failed replications by reason.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from clusterimpact.cli._common import (
    add_command,
    add_level_arg,
    check_columns,
    check_level,
    load_data,
    split_list,
    write_json,
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``chain`` subcommand."""
    p = add_command(
        sub,
        "chain",
        help="bootstrap of the whole chain (TFP -> matching -> DiD): chain SEs beside plug-in SEs",
        description="Firm-block bootstrap of production function, ln TFP, matching, CS DiD, duration "
        "profile and matched DiD. Cohort 0 or missing = never a member.",
    )
    p.add_argument(
        "--method", default="acf", help="production function: ols|fe|op|lp|acf|wooldridge"
    )
    p.add_argument("--reps", type=int, default=200, help="bootstrap replications (default 200)")
    p.add_argument("--n-jobs", dest="n_jobs", type=int, default=1, help="worker processes")
    p.add_argument(
        "--estimators", default="cs,duration,matched_did", help="any of cs,duration,matched_did"
    )
    p.add_argument("--control", choices=("never", "notyet"), default="notyet")
    p.add_argument("--window", default="-5,5", help="event window LOW,HIGH (default -5,5)")
    p.add_argument("--bins", default="1,2,3,4,5+", help="duration bins, e.g. 1,2,3,4,5+")
    p.add_argument("--cohort", default="treat_year", help="first year of membership column")
    p.add_argument("--output", default="ln_va", help="production-function output column")
    p.add_argument("--free", default="ln_emp", help="free inputs, comma-separated")
    p.add_argument("--state", default="ln_capital", help="state inputs, comma-separated")
    p.add_argument(
        "--proxy", default=None, help="proxy (default ln_investment OP, else ln_materials)"
    )
    p.add_argument("--design", choices=("trends", "levels"), default=None, help="matching design")
    p.add_argument("--covariates", default=None, help="matching covariates in g-1 (custom design)")
    p.add_argument("--trends", default=None, help="columns whose pre-joining growth is matched on")
    p.add_argument(
        "--pre-means", dest="pre_means", default=None, help="pre-joining means matched on"
    )
    p.add_argument("--exact", default="sector", help="columns matched exactly ('' for none)")
    p.add_argument("--caliper", type=float, default=0.2, help="caliper in SD of the logit score")
    p.add_argument(
        "--no-warm-start",
        dest="warm_start",
        action="store_false",
        help="multi-start production-function search in every replication (slower)",
    )
    add_level_arg(p)
    p.set_defaults(func=_run)


def _window(text: str) -> tuple[int, int]:
    from clusterimpact.errors import SpecError

    parts = split_list(text)
    try:
        lo, hi = (int(v) for v in parts)
    except ValueError:
        raise SpecError(f"--window takes LOW,HIGH (two whole numbers), got {text!r}") from None
    return lo, hi


def _matching(args: argparse.Namespace) -> dict[str, Any]:
    custom = {
        k: split_list(v)
        for k, v in (
            ("covariates", args.covariates),
            ("trends", args.trends),
            ("pre_means", args.pre_means),
        )
        if v
    }
    out: dict[str, Any] = dict(custom) if custom else {"design": args.design or "trends"}
    if custom and args.design:
        from clusterimpact.errors import SpecError

        raise SpecError("--design sets the matching variables; leave out --covariates/--trends")
    out.update(exact=split_list(args.exact), caliper=args.caliper, replace=True, neighbors=1)
    return out


def _run(args: argparse.Namespace) -> int:
    from clusterimpact._cohort import cohort_years
    from clusterimpact.chain import chain_bootstrap

    check_level(args.level)
    df = load_data(args.data)
    estimators = split_list(args.estimators)
    free, state = split_list(args.free), split_list(args.state)
    check_columns(
        df,
        args.data,
        required=[args.unit, args.cohort],
        numeric=[args.time, args.output, *free, *state, args.proxy],
    )
    cohort_years(df[args.cohort], column=args.cohort, source=args.data)
    res = chain_bootstrap(
        df,
        n_boot=args.reps,
        seed=args.seed,
        n_jobs=args.n_jobs,
        method=args.method,
        output=args.output,
        free=free,
        state=state,
        proxy=args.proxy,
        estimators=estimators,
        matching=_matching(args) if "matched_did" in estimators else None,
        control=args.control,
        window=_window(args.window),
        bins=split_list(args.bins),
        cohort=args.cohort,
        unit=args.unit,
        time=args.time,
        warm_start=args.warm_start,
    )
    if args.json_path:
        payload = {"command": "chain", **res.to_dict(args.level)}
        payload["n_units"] = int(df[args.unit].nunique())
        payload["options"] = {
            "method": args.method,
            "reps": args.reps,
            "n_jobs": args.n_jobs,
            "estimators": estimators,
            "control": args.control,
            "window": list(_window(args.window)),
            "bins": split_list(args.bins),
            "warm_start": args.warm_start,
        }
        write_json(args.json_path, payload)
    else:
        sys.stdout.write(res.summary(args.level) + "\n")
    return 0
