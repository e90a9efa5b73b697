"""`clusterimpact report [--spec study.toml] [--out reports/] [--json P] [--strict]`.

Runs a whole study (see :func:`clusterimpact.report.report`) and prints its progress step by step:
which step, its status, how long it took and how many firms are in the sample after it. With ``--json``
a summary (steps, outputs, slowest step) is written to P as well. Exit status 2 on bad input (a bad spec,
data that cannot be read or built into a panel) or an output that cannot be written (nothing is written
then); 1 when any step failed; 0 otherwise. The report is built beside the output folder and swapped in
when complete: a failed or killed run keeps the previous report, and files you add to the folder stay.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from clusterimpact.cli._common import write_json


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `report` subcommand."""
    p = sub.add_parser(
        "report",
        help="run a whole study: figures, tables, report.html, manifest.json",
        description="Run a study end to end (default: the synthetic data in data/synthetic/) and "
        "write figures, tables, report.html, manifest.json and report.log to the output folder.",
    )
    p.add_argument("--spec", default=None, help="study spec (TOML); default: the synthetic study")
    p.add_argument(
        "--out", default=None, help="output folder (default: the spec's [output] folder, 'reports')"
    )
    p.add_argument(
        "--json", dest="json_path", default=None, help="write a run summary as JSON here"
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first step that fails (with its traceback)",
    )
    p.add_argument("--quiet", action="store_true", help="do not print step progress")
    p.set_defaults(func=_run, out_kind="swap")


class _StepPrinter(logging.Handler):
    """Print the report's INFO lines to stderr while it runs (the library itself never prints)."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:  # tracebacks go to report.log only
            return
        msg = record.getMessage()
        if record.levelno >= logging.WARNING:
            msg = f"{record.levelname.lower()}: {msg}"
        print(msg, file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> int:
    from clusterimpact.report import report
    from clusterimpact.spec import load_spec

    spec = load_spec(args.spec)
    out = Path(args.out) if args.out else spec.out
    logger = logging.getLogger("clusterimpact.report")
    handler: logging.Handler | None = None
    if not args.quiet:
        handler = _StepPrinter(level=logging.INFO)
        logger.addHandler(handler)
    try:
        result = report(spec, out=out, progress=not args.quiet, strict=args.strict)
    finally:
        if handler is not None:
            logger.removeHandler(handler)
    print(result.summary())
    if args.json_path:
        vol = result.manifest["volatile"]
        write_json(
            args.json_path,
            {
                "command": "report",
                "out": result.out.as_posix(),
                "html": result.html.as_posix(),
                "steps": [s.to_dict() for s in result.steps],
                "figures": list(result.figures),
                "tables": list(result.tables),
                "total_seconds": vol["total_seconds"],
                "slowest_step": vol["slowest_step"],
                "manifest": (result.out / "manifest.json").as_posix(),
            },
        )
    return 1 if result.failed else 0
