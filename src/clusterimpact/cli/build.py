"""`clusterimpact build` (not yet implemented: registered so that --help lists it)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `build` subcommand."""
    p = sub.add_parser("build", help="(not yet implemented)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    raise NotImplementedError("clusterimpact build is not implemented yet")
