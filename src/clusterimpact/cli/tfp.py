"""`clusterimpact tfp`: production-function estimates and TFP on any firm-year panel.

Usage::

    clusterimpact tfp --data P --output y --free l1,l2 --state k --proxy m
                      --method ols|fe|op|lp|acf|wooldridge|labour [--logged] [--controls c1,c2]
                      [--function cobb-douglas|translog] [--gross-output] [--exit-correction]
                      [--poly-order N] [--lom-order N] [--n-starts N] [--compat none|prodest]
                      [--bootstrap B] [--n-jobs J] [--seed N] [--json P] [--out P]
                      [--engine dask [--scheduler ADDRESS|local] [--n-workers N] [--npartitions N]]

Without ``--logged`` output, inputs and proxy are levels and are logged here (non-positive values are
excluded and counted). ``--out`` writes the panel with ``ln_tfp`` and ``ln_tfp_resid`` added (CSV or
Parquet by extension). JSON term names are the input column names. Bad input exits with status 2.
``--engine dask`` estimates on a Dask cluster (``--data`` a Parquet file, folder or glob; every method,
without ``--bootstrap``); ``--out`` is then a Parquet folder (``tfp.parquet/``, one file per partition,
written by the workers, staged beside it and swapped in when complete; an existing folder is replaced
only if this package wrote it), never a single file.
"""

from __future__ import annotations

import argparse
import logging
import sys
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
from clusterimpact.errors import SpecError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `tfp` subcommand."""
    p = add_command(
        sub,
        "tfp",
        help="production-function estimates and TFP (OLS, FE, OP, LP, ACF, Wooldridge)",
        description="Estimate a production function and write the elasticities and TFP series.",
    )
    p.add_argument("--output", required=True, help="output column (value added or gross output)")
    p.add_argument("--free", required=True, help="free inputs, comma-separated (e.g. labour)")
    p.add_argument("--state", default="", help="state inputs, comma-separated (e.g. capital)")
    p.add_argument("--proxy", default=None, help="proxy column (investment for op, materials else)")
    p.add_argument("--controls", default="", help="extra exogenous regressors, comma-separated")
    p.add_argument(
        "--method",
        default="acf",
        choices=["ols", "fe", "op", "lp", "acf", "wooldridge", "labour"],
        help="estimator (default acf)",
    )
    p.add_argument(
        "--logged", action="store_true", help="output, inputs and proxy are already logs"
    )
    p.add_argument(
        "--function", default=None, choices=["cobb-douglas", "translog"], help="acf only"
    )
    p.add_argument(
        "--gross-output", action="store_true", help="acf: gross output (proxy is an input)"
    )
    p.add_argument("--exit-correction", action="store_true", help="op/lp: survival correction")
    p.add_argument(
        "--poly-order", type=int, default=None, help="control-function polynomial degree"
    )
    p.add_argument("--lom-order", type=int, default=None, help="law-of-motion polynomial degree")
    p.add_argument("--n-starts", type=int, default=None, help="optimiser starting points")
    p.add_argument("--compat", default="none", choices=["none", "prodest"], help="option preset")
    p.add_argument("--bootstrap", type=int, default=0, help="firm-block bootstrap replications")
    p.add_argument("--n-jobs", type=int, default=1, help="bootstrap worker processes")
    p.add_argument(
        "--out",
        default=None,
        help="write the panel with ln_tfp added here (with --engine dask a Parquet folder)",
    )
    add_engine_args(p)
    p.set_defaults(func=_run, dask_folders=("out",))


def _run(args: argparse.Namespace) -> int:
    from clusterimpact.io import writable_format

    compute = compute_of(args)
    if args.out and compute.engine == "dask":
        _dask_folder(args.out)
    elif args.out:
        writable_format(args.out)  # an unknown extension fails before any work
    names = [args.output, *split_list(args.free), *split_list(args.state), args.proxy]
    numeric = [*names, *split_list(args.controls)]
    if compute.engine == "dask":
        with engine_session(compute):
            data = load_partitions(
                args.data, args, required=[args.unit, args.time], numeric=numeric
            )
            return _fit_and_write(args, data)
    df = load_data(args.data, args, outcome=args.output)
    check_columns(df, args.data, required=[args.unit, args.time], numeric=numeric)
    return _fit_and_write(args, df)


def _dask_folder(out: str) -> None:
    """With ``--engine dask`` ``--out`` names a Parquet folder: ``name.parquet`` or no extension."""
    from pathlib import Path

    name = Path(out).name.lower()
    if Path(out).suffix and not name.endswith(".parquet"):
        raise SpecError(
            f"--out {out}: with --engine dask the panel is written as a Parquet folder (one file "
            "per partition), not a single file; give a folder, e.g. --out tfp.parquet"
        )


def _write_panel(panel: Any, out: str) -> None:
    """The panel with ln TFP: a file from memory, a Parquet folder from Dask partitions."""
    from clusterimpact._panel_dask_write import local_folder, write_folder
    from clusterimpact.io import write_table

    if hasattr(panel, "map_reduce"):
        write_folder(panel.frame, local_folder(out, "--out"))
    else:
        write_table(panel, out)


def _fit_and_write(args: argparse.Namespace, df: Any) -> int:
    from clusterimpact.productivity import estimate_tfp

    free = split_list(args.free)
    state = split_list(args.state)
    if args.method not in ("labour", "ols", "fe") and not state:
        raise SpecError(f"--method {args.method} needs --state (e.g. --state capital)")
    if args.method in ("op", "lp", "acf", "wooldridge") and not args.proxy:
        raise SpecError(f"--method {args.method} needs --proxy (investment for op, materials else)")
    opts: dict[str, Any] = {
        "output": args.output,
        "free": free,
        "state": state,
        "proxy": args.proxy,
        "controls": split_list(args.controls),
        "unit": args.unit,
        "time": args.time,
        "logged": bool(args.logged),
        "poly_order": args.poly_order,
        "lom_order": args.lom_order,
        "n_starts": args.n_starts,
        "n_boot": args.bootstrap,
        "seed": args.seed,
        "n_jobs": args.n_jobs,
        "compat": args.compat,
    }
    if args.method == "acf":
        opts["function"] = args.function
        opts["value_added"] = not args.gross_output
    elif args.function or args.gross_output:
        raise SpecError("--function and --gross-output apply to --method acf only")
    if args.method in ("op", "lp"):
        opts["exit_correction"] = bool(args.exit_correction)
    elif args.exit_correction:
        raise SpecError("--exit-correction applies to --method op or lp only")
    if args.method in ("ols", "fe", "labour"):
        for k in ("poly_order", "lom_order", "n_starts"):
            if opts[k] is not None:
                raise SpecError(f"--{k.replace('_', '-')} does not apply to --method {args.method}")
        opts["proxy"] = None
    if args.method == "wooldridge" and (args.lom_order is not None or args.n_starts is not None):
        raise SpecError("--lom-order and --n-starts do not apply to --method wooldridge")
    if args.bootstrap:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    if args.method == "labour":
        opts["state"] = []
        opts["n_boot"] = 0
    res = estimate_tfp(df, args.method, **opts, **backend_of(args, estimate_tfp, "estimate_tfp"))
    panel_out = res.join(df) if args.out else None
    if args.json_path:
        payload = {"command": "tfp", **res.to_dict()}
        payload["n_units"] = int(res.diagnostics.get("n_firms", 0))
        payload["options"] = res.provenance.options
        write_json(args.json_path, payload)
    else:
        print(res.summary())
    if panel_out is not None:
        _write_panel(panel_out, args.out)
    return 0
