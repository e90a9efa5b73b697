"""`clusterimpact tfp` (not yet implemented: registered so that --help lists it)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `tfp` subcommand."""
    p = sub.add_parser("tfp", help="(not yet implemented)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    raise NotImplementedError("clusterimpact tfp is not implemented yet")
