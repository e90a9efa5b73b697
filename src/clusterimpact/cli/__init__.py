"""Command-line interface: ``clusterimpact synth | build | validate | tfp | match | fe | duration | did |
heterogeneity | chain | report``.

Each subcommand lives in its own module under ``clusterimpact.cli`` with a ``register(subparsers)``
function that adds its parser and sets ``func`` (a callable taking the parsed arguments and returning an
exit status). This module only dispatches. Bad input exits with status 2 and a message naming the file,
column and rows; nothing is written half-way (see :mod:`clusterimpact.cli._common`).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from clusterimpact.provenance import package_version

# subcommand modules, in the order they appear in --help
COMMANDS = (
    "synth",
    "build",
    "validate",
    "tfp",
    "match",
    "fe",
    "duration",
    "did",
    "heterogeneity",
    "chain",
    "report",
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="clusterimpact",
        description="Cluster membership and firm productivity: panels, TFP, matching, DiD, reports.",
    )
    parser.add_argument("--version", action="version", version=f"clusterimpact {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"clusterimpact.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    from clusterimpact.cli._common import run_command

    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    return run_command(args, _flags(parser, args.command))


def _flags(parser: argparse.ArgumentParser, command: str) -> set[str]:
    """The option strings of one subcommand (to print library messages in its syntax)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            sub = action.choices.get(command)
            if sub is not None:
                return {s for a in sub._actions for s in a.option_strings}
    return set()
