"""Shared CLI plumbing: common flags, data loading, JSON output, error handling.

Every analysis command takes ``--data PATH`` (CSV or Parquet), ``--unit COL``, ``--time COL``,
``--seed N`` and ``--json PATH``. Without ``--json`` a readable table goes to stdout; with it, the results
go to PATH as JSON of the shape in DESIGN.md (``command``, ``method``, ``nobs``, ``n_units``, ``options``,
``estimates``, ``warnings``, ``exclusions``, ``provenance``). JSON is written to a temporary file and
renamed, so nothing is written half-way.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from clusterimpact.errors import ClusterImpactError, DataError, SpecError

__all__ = [
    "add_common_args",
    "load_data",
    "run_command",
    "split_list",
    "write_json",
]


def add_common_args(p: argparse.ArgumentParser, *, data_required: bool = True) -> None:
    """Add the flags every analysis command shares."""
    p.add_argument("--data", required=data_required, help="panel file (CSV or Parquet)")
    p.add_argument("--unit", default="firm_id", help="unit (firm) identifier column")
    p.add_argument("--time", default="year", help="time (year) column")
    p.add_argument("--seed", type=int, default=None, help="seed of every random step")
    p.add_argument("--json", dest="json_path", default=None, help="write results as JSON here")


def split_list(value: str | None) -> list[str]:
    """``"a,b, c"`` -> ``["a", "b", "c"]``; None or empty -> ``[]``."""
    if not value:
        return []
    return [v.strip() for v in value.split(",") if v.strip()]


def load_data(path: str) -> pd.DataFrame:
    """Read a CSV or Parquet panel for a CLI command (the file is only read, never changed)."""
    from clusterimpact.io import read_table

    return read_table(path)


def write_json(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Write ``payload`` atomically (temp file + rename); NaN/inf become null."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_clean(payload), indent=2, sort_keys=False)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _clean(obj.item())
    return obj


def run_command(args: argparse.Namespace) -> int:
    """Call ``args.func(args)``; map our errors to exit status 2 with a one-line message."""
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status = func(args)
        for w in caught:
            print(f"warning: {w.message}", file=sys.stderr)
        return int(status or 0)
    except (DataError, SpecError, ClusterImpactError, FileNotFoundError) as exc:
        print(f"clusterimpact {args.command}: error: {exc}", file=sys.stderr)
        return 2
