"""`clusterimpact validate` (not yet implemented: registered so that --help lists it)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `validate` subcommand."""
    p = sub.add_parser("validate", help="(not yet implemented)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    raise NotImplementedError("clusterimpact validate is not implemented yet")
