"""`clusterimpact validate`: check accounts, registry and deflators without writing a panel.

Usage::

    clusterimpact validate --accounts P [--registry P] [--deflators P] [--preset nbb] [...same flags as
                           build...] [--json P]

Each input is read and checked on its own first (so problems in several files are all reported), then the
panel is built in memory. Errors (missing columns, non-numeric values, years out of range, join after
exit, conflicting duplicate firm-years, unreadable files) are printed with the file, column and rows and
the exit status is 2. Without errors the exclusion counts and diagnostics are printed and the status is
0. Nothing is written except the optional JSON report.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

from clusterimpact.cli._common import read_options, write_json
from clusterimpact.cli.build import (
    add_input_args,
    collect_warnings,
    panel_from_args,
    parse_map,
    payload,
    report_lines,
)
from clusterimpact.errors import ClusterImpactError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `validate` subcommand."""
    p = sub.add_parser(
        "validate",
        help="check input files and report problems without writing a panel",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    add_input_args(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from clusterimpact.io import read_accounts, read_deflators, read_registry

    problems: list[str] = []
    opts = read_options(args)
    checks: list[tuple[str, Any]] = [
        (
            "accounts",
            lambda: read_accounts(
                args.accounts, parse_map(args.columns, "--columns"), args.preset, **opts
            ),
        )
    ]
    if args.registry:
        checks.append(
            (
                "registry",
                lambda: read_registry(
                    args.registry, parse_map(args.registry_columns, "--registry-columns"), **opts
                ),
            )
        )
    if args.deflators:
        checks.append(
            (
                "deflators",
                lambda: read_deflators(
                    args.deflators, parse_map(args.deflator_columns, "--deflator-columns"), **opts
                ),
            )
        )
    with warnings.catch_warnings():  # the panel build below reads the files again and warns
        warnings.simplefilter("ignore")
        for _name, fn in checks:
            try:
                fn()
            except (ClusterImpactError, FileNotFoundError) as exc:
                problems.append(str(exc))
    panel = None
    caught: list[str] = []
    if not problems:
        try:
            panel, caught = collect_warnings(lambda: panel_from_args(args))
        except (ClusterImpactError, FileNotFoundError) as exc:
            problems.append(str(exc))
    if args.json_path:
        out: dict[str, Any] = (
            payload(panel, "validate") if panel is not None else {"command": "validate"}
        )
        out["warnings"] = caught
        out["ok"] = not problems
        out["errors"] = problems
        write_json(args.json_path, out)
    if problems:
        for msg in problems:
            print(f"clusterimpact validate: error: {msg}", file=sys.stderr)
        return 2
    assert panel is not None
    print("\n".join(report_lines(panel)))
    print("OK: the inputs build a valid panel (nothing written)")
    return 0
