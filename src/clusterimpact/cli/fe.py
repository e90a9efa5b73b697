"""`clusterimpact fe`: a fixed-effects regression in fixest formula syntax on any panel.

Usage::

    clusterimpact fe --data P --formula "y ~ x1 + x2 | fe1 + fe2" --vcov iid|hetero|cluster|twoway|driscoll_kraay
                     [--cluster COL[,COL2]] [--weights COL] [--engine auto|fast|pyfixest] [--json P]
                     [--wild-bootstrap B --cluster COL [--wild-term TERM] [--wild-weights W] --seed S]
                     [--engine dask [--scheduler ADDRESS|local] [--n-workers N] [--npartitions N]]

The formula is parsed by our own grammar (:mod:`clusterimpact.formula.grammar`): columns,
``+ - * : ^ |``, ``C(x)``, ``i(x, ref=-1)``, ``log``/``exp``/``sqrt``/``I(...)`` arithmetic; anything else
exits with status 2 and a message naming the token. Without ``--json`` the estimates table goes to
stdout; with it the results go to PATH as JSON (shape in DESIGN.md, plus ``formula``,
``fixed_effects``, ``vcov_type``, ``cluster``, ``n_clusters``, ``r2``, ``r2_within``).

``--wild-bootstrap B`` adds a wild cluster bootstrap-t test and CI (restricted, B draws, clustered by the
one ``--cluster`` column, seeded by ``--seed``) for ``--wild-term`` (default: the first regressor): printed
under the table, or under ``wild_bootstrap`` in the JSON. It is :func:`clusterimpact.wild_bootstrap`.

``--engine dask`` fits on a Dask cluster (``--data``: a Parquet file, folder or glob, read into partitions
by ``--unit``); the other ``--engine`` choices pick the in-memory fitter.
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
    n_unique,
    split_list,
    write_json,
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `fe` subcommand."""
    p = add_command(
        sub,
        "fe",
        help="fixed-effects regression (fixest formula syntax)",
        description="Linear regression with absorbed fixed effects: 'y ~ x1 + x2 | fe1 + fe2'.",
    )
    p.add_argument("--formula", required=True, help="e.g. 'ln_lp ~ member | firm_id + year'")
    p.add_argument(
        "--vcov",
        default="iid",
        choices=["iid", "hetero", "cluster", "twoway", "driscoll_kraay"],
        help="covariance estimator (default iid)",
    )
    p.add_argument(
        "--cluster", default=None, help="cluster column (two, comma-separated, for twoway)"
    )
    p.add_argument("--weights", default=None, help="analytic weights column")
    p.add_argument("--lag", type=int, default=None, help="Driscoll-Kraay lag (default T^(1/4))")
    p.add_argument(
        "--engine",
        default="auto",
        choices=["auto", "fast", "pyfixest", "dask"],
        help="fitter in memory (auto, fast, pyfixest), or dask: on a Dask cluster",
    )
    add_engine_args(p, engine_flag=False)
    p.add_argument(
        "--wild-bootstrap",
        dest="wild_b",
        type=int,
        default=None,
        metavar="B",
        help="wild cluster bootstrap-t with B draws (needs one --cluster column and --seed)",
    )
    p.add_argument("--wild-term", default=None, help="coefficient to test (default: the first)")
    p.add_argument(
        "--wild-weights", default="rademacher", choices=["rademacher", "webb", "mammen", "normal"]
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from clusterimpact.formula.grammar import parse_formula

    # our grammar, nothing evaluated; a bad formula fails before the data are read
    parse_formula(args.formula)
    compute = compute_of(args)
    if compute.engine == "dask":
        if args.wild_b is not None:
            from clusterimpact.errors import SpecError

            raise SpecError("--wild-bootstrap runs in memory; drop --engine dask")
        with engine_session(compute):
            data = load_partitions(
                args.data, args, required=split_list(args.cluster), numeric=[args.weights]
            )
            return _fit_and_write(args, data)
    df = load_data(args.data, args, outcome=args.formula.split("~", 1)[0].strip())
    check_columns(df, args.data, required=split_list(args.cluster), numeric=[args.weights])
    if args.wild_b is not None:
        _check_wild_args(args)
    return _fit_and_write(args, df)


def _check_wild_args(args: argparse.Namespace) -> None:
    from clusterimpact.errors import SpecError

    if args.wild_b < 1:
        raise SpecError(f"--wild-bootstrap needs a positive number of draws, got {args.wild_b}")
    if len(split_list(args.cluster)) != 1:
        raise SpecError("--wild-bootstrap needs exactly one --cluster column")
    if args.seed is None:
        raise SpecError("--wild-bootstrap needs --seed (every random step is seeded)")


def _wild(args: argparse.Namespace, df: Any, res: Any) -> Any:
    from clusterimpact.estimation.twfe import wild_bootstrap

    term = args.wild_term or str(res.params.index[0])
    return wild_bootstrap(
        args.formula,
        df,
        term,
        cluster=split_list(args.cluster)[0],
        n_boot=args.wild_b,
        weights=args.wild_weights,
        seed=args.seed,
    )


def _fit_and_write(args: argparse.Namespace, df: Any) -> int:
    from clusterimpact.estimation.twfe import feols

    clusters = split_list(args.cluster)
    res = feols(
        args.formula,
        df,
        args.vcov,
        cluster=(clusters[0] if len(clusters) == 1 else clusters) if clusters else None,
        weights=args.weights,
        time=args.time if args.vcov == "driscoll_kraay" else None,
        lag=args.lag,
        engine="auto" if args.engine == "dask" else args.engine,
        **backend_of(args, feols, "feols"),
    )
    wild = _wild(args, df, res) if args.wild_b is not None else None
    if args.json_path:
        payload = {"command": "fe", **res.to_dict()}
        payload["n_units"] = n_unique(df, args.unit) if args.unit in df.columns else None
        payload["options"] = {
            "formula": args.formula,
            "vcov": args.vcov,
            "cluster": clusters or None,
            "weights": args.weights,
            "engine": args.engine,
        }
        if wild is not None:
            payload["wild_bootstrap"] = wild.to_dict()
        write_json(args.json_path, payload)
    else:
        print(res.summary())
        if wild is not None:
            print(wild.summary())
    return 0
