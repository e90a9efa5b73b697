"""`clusterimpact duration`: the premium by years of membership (imputation) with its slope and tests.

Usage::

    clusterimpact duration --data P --outcome Y [--cohort treat_year] [--bins 1,2,3,4,5+]
                           [--member member] [--member-years member_years] [--weights COL]
                           [--leads 5] [--json P]
                           [--engine dask [--scheduler ADDRESS|local] [--n-workers N] [--npartitions N]]

Terms: ``member_years::1`` ... ``member_years::5+``, ``average`` and ``slope``; the JSON adds
``slope_test``, ``equal_effects`` and ``pretrend``.
"""

from __future__ import annotations

import argparse
from typing import Any

from clusterimpact.cli._common import (
    add_command,
    add_engine_args,
    backend_of,
    check_columns,
    compute_of,
    engine_session,
    load_data,
    load_partitions,
    split_list,
    write_json,
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `duration` subcommand."""
    p = add_command(
        sub,
        "duration",
        help="premium by years of membership (imputation DiD) and its growth",
        description="Borusyak-Jaravel-Spiess imputation of the membership premium by member_years.",
    )
    p.add_argument("--outcome", required=True, help="outcome column (e.g. ln_lp or tfp)")
    p.add_argument("--cohort", default="treat_year", help="first year of membership column")
    p.add_argument(
        "--bins", default="1,2,3,4,5+", help="duration bins, e.g. 1,2,3,4,5+ or 1,2-3,4+"
    )
    p.add_argument("--member", default="member", help="membership indicator column")
    p.add_argument("--member-years", default="member_years", help="years-of-membership column")
    p.add_argument("--weights", default=None, help="aggregation weights column")
    p.add_argument("--leads", type=int, default=5, help="leads in the pre-trend test (0 = none)")
    add_engine_args(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    required = [args.unit, args.cohort]
    numeric = [args.outcome, args.time, args.weights]
    compute = compute_of(args)
    if compute.engine == "dask":
        with engine_session(compute):
            data = load_partitions(args.data, args, required=required, numeric=numeric)
            return _fit_and_write(args, data)
    df = load_data(args.data, args, outcome=args.outcome)
    check_columns(df, args.data, required=required, numeric=numeric)
    return _fit_and_write(args, df)


def _fit_and_write(args: argparse.Namespace, df: Any) -> int:
    from clusterimpact.estimation.duration import duration_effects

    bins = split_list(args.bins)
    res = duration_effects(
        df,
        args.outcome,
        bins=bins,
        cohort=args.cohort,
        member=args.member,
        member_years=args.member_years,
        unit=args.unit,
        time=args.time,
        weights=args.weights,
        leads=args.leads,
        **backend_of(args, duration_effects, "duration_effects"),
    )
    if args.json_path:
        payload = {"command": "duration", **res.to_dict()}
        payload["n_units"] = res.n_units
        payload["options"] = {
            "outcome": args.outcome,
            "cohort": args.cohort,
            "bins": bins,
            "weights": args.weights,
            "leads": args.leads,
        }
        write_json(args.json_path, payload)
    else:
        print(res.summary())
    return 0
