"""`clusterimpact build`: accounts + membership registry -> validated firm-year panel + exclusion log.

Usage::

    clusterimpact build --accounts P --registry P [--preset nbb] [--deflators P]
                        [--start Y --end Y] [--id-type any|kbo] [--exclude-bad-ids]
                        [--duplicates error|first|drop] [--min-years N]
                        [--columns role=column,...] [--registry-columns role=column,...]
                        [--deflator-columns role=column,...] [--keep a,b]
                        [--decimal .|,] [--encoding ENC] [--sheet NAME]
                        --out PANEL.parquet|.csv [--exclusions P] [--json P]
                        [--engine dask [--scheduler ADDRESS|local] [--n-workers N] [--npartitions N]]

Inputs may be CSV/TSV (gzipped or not), Parquet, Excel (.xlsx) or Stata (.dta). Column maps are written
role=column (``--columns firm_id=ondernemingsnummer,emp=fte``), as in the study TOML and in Python.
Writes the panel (Parquet or CSV by the extension of ``--out``) and its exclusion log (default: beside
the panel as ``<stem>.exclusions.csv``), then prints the exclusion counts and the share of registry
firms found in the accounts. Bad input exits with status 2 and a message naming the file, column and
rows (so does a registry none of whose firms is in the accounts); nothing is written unless the whole
build succeeded (files are written to temporary names and renamed).

With ``--engine dask`` the build runs on a Dask cluster (:func:`clusterimpact.panel_dask.build_panel_dask`):
``--accounts`` may be a folder or glob of Parquet (or CSV) files, ``--out`` and the exclusion log
(default ``<stem>.exclusions.parquet``) are Parquet folders with one file per partition.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clusterimpact.cli._common import (
    add_engine_args,
    add_read_args,
    compute_of,
    engine_session,
    read_options,
    split_list,
    write_json,
)
from clusterimpact.errors import SpecError


def add_input_args(p: argparse.ArgumentParser) -> None:
    """Flags shared by `build` and `validate`."""
    p.add_argument(
        "--accounts", required=True, help="accounts file (CSV, Parquet, Excel .xlsx or Stata .dta)"
    )
    p.add_argument("--registry", default=None, help="membership registry (same formats)")
    p.add_argument("--deflators", default=None, help="sector x year deflator table")
    p.add_argument("--preset", default=None, choices=["nbb"], help="column preset")
    p.add_argument("--start", type=int, default=None, help="first year of the study window")
    p.add_argument("--end", type=int, default=None, help="last year of the study window")
    p.add_argument(
        "--id-type",
        default=None,
        choices=["any", "kbo"],
        help="'kbo': firm ids are Belgian enterprise numbers, checked mod 97 "
        "(default: kbo with --preset nbb, else any)",
    )
    p.add_argument(
        "--exclude-bad-ids",
        action="store_true",
        help="exclude rows failing the mod-97 check (implies --id-type kbo)",
    )
    p.add_argument(
        "--duplicates",
        default="error",
        choices=["error", "first", "drop"],
        help="firm-years reported twice with different values",
    )
    p.add_argument("--min-years", type=int, default=1, help="minimum usable years per firm")
    p.add_argument(
        "--no-deflate", action="store_true", help="ignore --deflators (keep nominal values)"
    )
    p.add_argument(
        "--columns", default=None, help="accounts column map: role=column,... (e.g. firm_id=vat)"
    )
    p.add_argument("--registry-columns", default=None, help="registry column map: role=column,...")
    p.add_argument(
        "--deflator-columns",
        default=None,
        help="deflator column map: role=column,... (roles sector, year, deflator, deflator_<var>)",
    )
    p.add_argument(
        "--keep", default=None, help="further account columns to carry into the panel: a,b,..."
    )
    p.add_argument("--json", dest="json_path", default=None, help="write a JSON summary here")
    add_read_args(p)


def parse_map(value: str | None, flag: str) -> dict[str, str] | None:
    """``"firm_id=vat,emp=fte"`` -> ``{"firm_id": "vat", "emp": "fte"}`` (role=column pairs)."""
    if not value:
        return None
    out: dict[str, str] = {}
    for item in value.split(","):
        if not item.strip():
            continue
        if "=" not in item:
            raise SpecError(f"{flag}: expected role=column pairs separated by commas, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def panel_from_args(args: argparse.Namespace, out: dict[str, Any] | None = None) -> Any:
    """Build the FirmPanel described by the parsed flags (on Dask, ``out``: the folders to stream the
    panel and its exclusion log to, :func:`~clusterimpact.panel_dask.build_panel_dask`'s ``out`` and
    ``exclusions_out``)."""
    from clusterimpact.panel import PanelSpec, build_panel

    id_type: Any = args.id_type or (
        "kbo" if args.preset == "nbb" or args.exclude_bad_ids else "any"
    )
    spec = PanelSpec(
        start=args.start,
        end=args.end,
        deflate=not args.no_deflate,
        id_type=id_type,
        exclude_bad_ids=args.exclude_bad_ids,
        min_years=args.min_years,
        duplicates=args.duplicates,
    )
    maps = {
        "columns": parse_map(args.columns, "--columns"),
        "registry_columns": parse_map(args.registry_columns, "--registry-columns"),
        "deflator_columns": parse_map(args.deflator_columns, "--deflator-columns"),
        "preset": args.preset,
        "extra": split_list(args.keep),
    }
    if getattr(args, "engine", "memory") == "dask":
        from clusterimpact.panel_dask import build_panel_dask

        opts = {k: v for k, v in read_options(args).items() if k != "sheet"}
        return build_panel_dask(
            args.accounts, args.registry, spec, args.deflators, **maps,
            npartitions=args.npartitions, **opts, **(out or {}),
        )  # fmt: skip
    return build_panel(
        args.accounts, args.registry, spec, args.deflators, **maps, **read_options(args)
    )


def collect_warnings(fn: Callable[[], Any]) -> tuple[Any, list[str]]:
    """Run ``fn``; return its result and its warning messages (the warnings are issued again, so the
    CLI still prints them)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fn()
        finally:
            pending = list(caught)
    for w in pending:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result, [str(w.message) for w in pending]


def report_lines(panel: Any) -> list[str]:
    """The human summary printed by `build` and `validate`."""
    lines = [panel.summary()]
    counts = panel.exclusion_counts()
    if counts:
        width = max(len(k) for k in counts)
        lines.append("Exclusions by reason:")
        lines += [f"  {k:<{width}}  {v:>10,}" for k, v in counts.items()]
    return lines


def payload(panel: Any, command: str) -> dict[str, Any]:
    """The JSON summary (DESIGN.md shape: command, nobs, n_units, exclusions, ...)."""
    d = panel.to_dict()
    return {
        "command": command,
        "nobs": d["nobs"],
        "n_units": d["n_firms"],
        "rows_in": d["rows_in"],
        "n_members": d["n_members"],
        "years": d["years"],
        "options": d["spec"],
        "exclusions": d["exclusions"],
        "id_match": d["flags"].get("id_match"),
        "flags": d["flags"],
        "sources": d["sources"],
        "warnings": [],
    }


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `build` subcommand."""
    p = sub.add_parser(
        "build",
        help="accounts + registry -> validated firm-year panel and exclusion log",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    add_input_args(p)
    add_engine_args(p)
    p.add_argument(
        "--out",
        required=True,
        help="panel file to write (.parquet or .csv; with --engine dask a Parquet folder)",
    )
    p.add_argument(
        "--exclusions",
        default=None,
        help="exclusion log to write (default: <out stem>.exclusions.csv beside --out)",
    )
    p.set_defaults(func=_run, dask_folders=("out", "exclusions"))


def _exclusions_path(out: str, given: str | None, dask: bool = False) -> Path:
    if given:
        return Path(given)
    p = Path(out)
    name = p.name
    for ext in (".parquet", ".csv.gz", ".csv", ".pq", ".tsv", ".txt"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
            break
    return p.with_name(name + (".exclusions.parquet" if dask else ".exclusions.csv"))


def _run(args: argparse.Namespace) -> int:
    from clusterimpact._outputs import check_output
    from clusterimpact.cli._common import input_paths
    from clusterimpact.io import writable_format, write_table

    compute = compute_of(args)
    dask = compute.engine == "dask"
    excl_path = _exclusions_path(args.out, args.exclusions, dask)
    for path in (args.out, excl_path):  # an extension we cannot write: fail before any work
        if dask and writable_format(path) != "parquet":
            raise SpecError(
                f"with --engine dask the outputs are Parquet folders (*.parquet): {path}"
            )
        writable_format(path)
    if not args.exclusions:  # the derived name: checked like the flags (cli._common.check_outputs)
        check_output(
            excl_path,
            kind="swap" if dask else "file",
            inputs=input_paths(args),
            label="the exclusion log (beside --out)",
        )
    with engine_session(compute):
        # on Dask each partition is written as it is built (no worker holds the panel)
        folders = {"out": args.out, "exclusions_out": excl_path} if dask else None
        panel, caught = collect_warnings(lambda: panel_from_args(args, folders))
        if not dask:
            write_table(panel.data, args.out)
            write_table(panel.exclusions, excl_path)
    if args.json_path:
        out = payload(panel, "build")
        out["warnings"] = caught
        out["outputs"] = {"panel": str(args.out), "exclusions": str(excl_path)}
        if dask:
            out["engine"] = {"engine": "dask", "scheduler": compute.scheduler,
                             "npartitions": panel.data.npartitions}  # fmt: skip
        write_json(args.json_path, out)
    print("\n".join(report_lines(panel)))
    print(f"Wrote {panel.n_obs:,} firm-years to {args.out} and the exclusion log to {excl_path}")
    return 0
