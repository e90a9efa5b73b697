"""Shared CLI plumbing: common flags, data loading, JSON output, error handling.

Every analysis command takes ``--data PATH`` (CSV, Parquet, Excel or Stata), ``--unit COL``,
``--time COL``, ``--seed N`` and ``--json PATH``, and the reading options ``--decimal``, ``--encoding``
and ``--sheet`` (also taken by ``build`` and ``validate``). Without ``--json`` a readable table goes to stdout; with it, the results
go to PATH as JSON of the shape in DESIGN.md (``command``, ``method``, ``nobs``, ``n_units``, ``options``,
``estimates``, ``warnings``, ``exclusions``, ``provenance``). JSON is written to a temporary file and
renamed, so nothing is written half-way.

Every output (``--out``, ``--json``, ``--stacked-out``, ``--exclusions``) is checked before any work
(:func:`check_outputs`): unwritable, of the wrong kind, equal to an input or to another output is exit
status 2 with a message. Rows in messages are 1-based data rows of the named file (:func:`load_data`);
a command checks all the columns it names at once (:func:`check_columns`). Warnings are printed once
each, after the run, with Python option names rewritten as the command's flags (:func:`cli_syntax`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import warnings
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact._validation import PanelKeys
from clusterimpact.errors import ClusterImpactError, DataError, OutputError

__all__ = [
    "add_command",
    "add_common_args",
    "add_engine_args",
    "add_level_arg",
    "add_read_args",
    "add_staggered_args",
    "backend_of",
    "distinct",
    "n_unique",
    "check_level",
    "check_columns",
    "check_outputs",
    "cli_syntax",
    "compute_of",
    "engine_session",
    "load_data",
    "load_partitions",
    "panel_keys",
    "read_options",
    "run_command",
    "split_list",
    "write_json",
]


def add_command(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    *,
    help: str,
    description: str,
) -> argparse.ArgumentParser:
    """An analysis subcommand with the flags every one of them shares (:func:`add_common_args`)."""
    p: argparse.ArgumentParser = sub.add_parser(name, help=help, description=description)
    add_common_args(p)
    return p


def add_common_args(p: argparse.ArgumentParser, *, data_required: bool = True) -> None:
    """Add the flags every analysis command shares."""
    p.add_argument(
        "--data",
        required=data_required,
        help="panel file (CSV, Parquet, Excel .xlsx or Stata .dta)",
    )
    p.add_argument("--unit", default="firm_id", help="unit (firm) identifier column")
    p.add_argument("--time", default="year", help="time (year) column")
    p.add_argument("--seed", type=int, default=None, help="seed of every random step")
    p.add_argument("--json", dest="json_path", default=None, help="write results as JSON here")
    add_read_args(p)


def add_staggered_args(p: argparse.ArgumentParser, *, scope: str = "") -> None:
    """The Callaway-Sant'Anna options shared by ``did`` and ``heterogeneity``.

    ``scope`` (e.g. ``" (cs)"``) is appended to the help of the options only one method uses.
    """
    p.add_argument("--cohort", default="treat_year", help="first-treatment period column")
    p.add_argument(
        "--control",
        choices=("never", "notyet"),
        default="never",
        help=f"comparison units{scope}",
    )
    p.add_argument("--covariates", default=None, help=f"comma-separated covariates{scope}")
    p.add_argument(
        "--est", choices=("reg", "ipw", "dr"), default="dr", help=f"2x2 estimator{scope}"
    )
    p.add_argument("--anticipation", type=int, default=0, help=f"anticipation periods{scope}")
    p.add_argument(
        "--allow-unbalanced",
        dest="allow_unbalanced",
        action="store_true",
        help=f"keep units not observed in every period{scope} (default: drop them, as R did)",
    )
    p.add_argument("--cluster", default=None, help="cluster column (default: the unit)")


def add_engine_args(p: argparse.ArgumentParser, *, engine_flag: bool = True) -> None:
    """``--engine memory|dask``, ``--scheduler ADDRESS|local``, ``--n-workers N``, ``--npartitions N``.

    ``engine_flag=False``: the command has its own ``--engine`` (``fe``), whose choice ``dask`` selects
    the Dask back end.
    """
    g = p.add_argument_group("compute engine (the study TOML's [compute] section)")
    if engine_flag:
        g.add_argument("--engine", choices=("memory", "dask"), default="memory",
                       help="'dask': partitioned Parquet input, computed on a Dask cluster")  # fmt: skip
    g.add_argument("--scheduler", default="local",
                   help="'local' (a LocalCluster started and closed here) or an address "
                   "tcp://host:8786 (credentials and TLS from Dask's own configuration)")  # fmt: skip
    g.add_argument("--n-workers", type=int, default=2, help="workers of the local cluster")
    g.add_argument("--npartitions", type=int, default=None,
                   help="partitions of the panel by firm (default: one per input file)")  # fmt: skip
    g.add_argument("--stream", action="store_true",
                   help="keep nothing in the workers' memory between passes (memory bounded by the "
                   "partitions; every pass reads them again)")  # fmt: skip


def compute_of(args: argparse.Namespace) -> Any:
    """The :class:`~clusterimpact.spec.ComputeSpec` of the parsed engine flags (validated)."""
    from clusterimpact.spec import ComputeSpec

    return ComputeSpec(
        engine="dask" if getattr(args, "engine", "memory") == "dask" else "memory",
        scheduler=getattr(args, "scheduler", "local"),
        n_workers=getattr(args, "n_workers", 2),
        npartitions=getattr(args, "npartitions", None),
        persist=not getattr(args, "stream", False),
    )


def engine_session(compute: Any) -> Any:
    """A context: a Dask client for ``engine = "dask"`` (local cluster or address), else nothing."""
    import logging

    if compute.engine == "dask":  # the cluster's chatter is not the command's output
        logging.getLogger("distributed").setLevel(logging.ERROR)
    return compute.session()


def load_partitions(
    path: str,
    args: argparse.Namespace,
    *,
    required: Sequence[str | None] = (),
    numeric: Sequence[str | None] = (),
) -> Any:
    """``--data`` (a Parquet file, folder or glob) read lazily as firm partitions (``--engine dask``).

    The columns are checked on the data set's schema, as :func:`check_columns` checks a frame: every
    missing and every non-numeric column at once, naming the file.
    """
    from clusterimpact._panel_dask_write import WRITTEN_MARK
    from clusterimpact.dask import FirmPartitions, hold

    compute = compute_of(args)
    try:
        # a folder this package wrote holds whole firms, one partition per file: read without a shuffle
        written = compute.npartitions is None and (Path(path) / WRITTEN_MARK).is_file()
        fp = FirmPartitions.from_parquet(
            path,
            args.unit,
            args.time,
            npartitions=compute.npartitions,
            whole_firms=written and args.unit == "firm_id",
        )
    except (FileNotFoundError, OSError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(
            f"cannot read as Parquet ({type(exc).__name__}: {exc})", source=path
        ) from exc
    check_columns(fp.frame._meta, path, required=required, numeric=numeric)
    return hold(fp)


def backend_of(args: argparse.Namespace, fn: Callable[..., Any], what: str) -> dict[str, Any]:
    """The keywords that run estimator ``fn`` on the command's engine: ``{"backend": "dask"}`` for
    ``--engine dask`` (a :class:`~clusterimpact.errors.SpecError` naming ``what`` when it has no Dask
    path), none in memory."""
    import inspect

    if compute_of(args).engine != "dask":
        return {}
    if "backend" not in inspect.signature(fn).parameters:
        from clusterimpact.errors import SpecError

        raise SpecError(f"{what} has no Dask path; run this command without --engine dask")
    return {"backend": "dask"}


def n_unique(data: Any, column: str) -> int:
    """Distinct values of ``column`` in a frame, or in firm partitions (computed on the cluster)."""
    if isinstance(data, pd.DataFrame):
        return int(data[column].nunique())
    return int(data.frame[column].nunique().compute())


def distinct(data: Any, column: str) -> pd.Series:
    """The distinct values of ``column`` (a frame's, or firm partitions' computed on the cluster)."""
    if isinstance(data, pd.DataFrame):
        return data[column].drop_duplicates().reset_index(drop=True)
    return data.frame[column].drop_duplicates().compute().reset_index(drop=True)


def add_level_arg(p: argparse.ArgumentParser) -> None:
    """``--level``: the confidence level of every interval."""
    p.add_argument("--level", type=float, default=0.95, help="confidence level")


def check_level(level: float) -> None:
    """A confidence level in (0, 1), else a SpecError naming ``--level``."""
    if not 0 < level < 1:
        from clusterimpact.errors import SpecError

        raise SpecError(f"--level must be in (0, 1), got {level}")


def panel_keys(args: argparse.Namespace) -> PanelKeys:
    """``cohort``, ``unit`` and ``time`` of the parsed flags, as estimator keywords."""
    return {"cohort": args.cohort, "unit": args.unit, "time": args.time}


def add_read_args(p: argparse.ArgumentParser) -> None:
    """Reading options for input files (detected when not given)."""
    p.add_argument(
        "--decimal",
        default=None,
        choices=[".", ","],
        help="decimal mark of numbers in text files (default: detected; the other mark may group "
        "thousands)",
    )
    p.add_argument(
        "--encoding", default=None, help="text encoding, e.g. utf-8, cp1252 (default: detected)"
    )
    p.add_argument(
        "--sheet", default=None, help="Excel sheet name (default: the first; or book.xlsx#Sheet)"
    )


def read_options(args: argparse.Namespace) -> dict[str, Any]:
    """The reading options of the parsed flags, as keyword arguments of the readers."""
    return {
        "decimal": getattr(args, "decimal", None),
        "encoding": getattr(args, "encoding", None),
        "sheet": getattr(args, "sheet", None),
    }


def split_list(value: str | None) -> list[str]:
    """``"a,b, c"`` -> ``["a", "b", "c"]``; None or empty -> ``[]``."""
    if not value:
        return []
    return [v.strip() for v in value.split(",") if v.strip()]


def load_data(
    path: str, args: argparse.Namespace | None = None, *, outcome: str | None = None
) -> pd.DataFrame:
    """Read a panel for a CLI command (the file is only read, never changed).

    Row labels are the 1-based data rows of the file (row 1 is the first line after the header), as
    the readers of :mod:`clusterimpact.io` number them, so every error names rows a user can find.
    ``args`` supplies the reading options (``--decimal``, ``--encoding``, ``--sheet``); ``outcome``
    is checked for infinite, overflowing and constant values (a warning naming the column and rows).
    """
    from clusterimpact._validation import check_values
    from clusterimpact.io import read_table

    df = read_table(path, **(read_options(args) if args is not None else {}))
    source = str(df.attrs.get("source", path))
    if len(df.columns) == 0 or len(df) == 0:
        raise DataError("the file holds no data rows", source=source)
    df.index = pd.RangeIndex(1, len(df) + 1, name="row")
    df.attrs["source"] = source
    if outcome:
        check_values(df, [outcome], source=source, constant=[outcome])
    return df


def check_columns(
    df: pd.DataFrame,
    source: str,
    *,
    required: Sequence[str | None] = (),
    numeric: Sequence[str | None] = (),
) -> None:
    """Raise one :class:`DataError` naming every missing column and every non-numeric one (with rows).

    ``numeric`` columns are required too; None entries (options not given) are skipped.
    """
    from clusterimpact._validation import require_numeric

    wanted = list(dict.fromkeys(c for c in [*required, *numeric] if c))
    missing = [c for c in wanted if c not in df.columns]
    problems: list[DataError] = []
    if missing:
        have = ", ".join(map(str, df.columns[:30]))
        problems.append(
            DataError(
                f"missing column(s) {', '.join(missing)}; available: {have}",
                source=source,
                column=", ".join(missing),
            )
        )
    for col in dict.fromkeys(c for c in numeric if c and c in df.columns):
        try:
            require_numeric(df, [col], source=source)
        except DataError as exc:
            problems.append(exc)
            continue
        values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        inf = np.isinf(values)
        if inf.any():
            problems.append(
                DataError(
                    "infinite values; fix them or leave the cells empty for missing",
                    source=source,
                    column=col,
                    rows=list(df.index[inf]),
                )
            )
    if problems:
        raise DataError.combine(problems)


def write_json(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Write ``payload`` atomically (temp file + rename); NaN/inf become null."""
    from clusterimpact._outputs import write_text

    write_text(path, json.dumps(_clean(payload), indent=2, sort_keys=False) + "\n")


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


# -- outputs ------------------------------------------------------------------------------------------
#: Flags naming files a command reads, and files or folders it writes (by argparse ``dest``).
INPUT_FLAGS = {
    "data": "--data",
    "accounts": "--accounts",
    "registry": "--registry",
    "deflators": "--deflators",
    "spec": "--spec",
}
OUTPUT_FLAGS = {
    "out": "--out",
    "json_path": "--json",
    "stacked_out": "--stacked-out",
    "exclusions": "--exclusions",
}


def input_paths(args: argparse.Namespace) -> list[str]:
    """The input files named on the command line."""
    return [str(v) for k in INPUT_FLAGS if (v := getattr(args, k, None))]


def check_outputs(args: argparse.Namespace) -> None:
    """Before any work: every output can be written, none is an input, no two are the same path.

    ``--out`` is a file unless the command sets ``out_kind`` (``folder`` for ``synth``, ``swap`` for
    ``report``). Raises :class:`~clusterimpact.errors.OutputError`.
    """
    from clusterimpact._outputs import OutputKind, check_output

    inputs = input_paths(args)
    seen: dict[Path, str] = {}
    for dest, flag in OUTPUT_FLAGS.items():
        value = getattr(args, dest, None)
        if not value:
            continue
        kind: OutputKind = getattr(args, "out_kind", "file") if dest == "out" else "file"
        if getattr(args, "engine", "memory") == "dask" and dest in getattr(
            args, "dask_folders", ()
        ):
            kind = "swap"  # written on Dask as a Parquet folder (one file per partition)
        check_output(value, kind=kind, inputs=inputs, label=flag)
        real = Path(value).resolve()
        if real in seen:
            raise OutputError(f"{flag} and {seen[real]} name the same path", path=str(value))
        seen[real] = flag


# -- warnings and errors in CLI syntax ----------------------------------------------------------------
#: Library messages name Python options (``allow_unbalanced=True``); on the command line they are
#: flags. Phrases without a one-to-one flag are rewritten by this table (API text, CLI text, and the
#: flag the running command must have for the rewrite to apply; ``--spec``: the report, whose options
#: live in the study TOML); any other ``name=value`` whose ``--name`` is a flag of the running
#: command becomes ``--name value`` (``--name`` alone for True).
CLI_PHRASES: tuple[tuple[str, str, str], ...] = (
    ("aggte(result, 'dynamic').pretest", "the pre-test of the 'dynamic' aggregation", "--outcome"),
    ("(listed in result.unmatched)", "(listed under 'unmatched' in the --json output)", "--json"),
    (
        "PanelSpec(duplicates='first'|'drop')",
        "--duplicates first or --duplicates drop",
        "--duplicates",
    ),
    (
        "PanelSpec(duplicates='first'|'drop')",
        'duplicates = "first" (or "drop") in the [data] section of the study spec',
        "--spec",
    ),
    ("columns={'role': 'your_column'}", "--columns role=your_column", "--columns"),
    (
        "columns={'role': 'your_column'}",
        '[data.columns] role = "your_column" in the study spec',
        "--spec",
    ),
    ("distance='mahalanobis'", "--metric mahalanobis", "--metric"),
    ("distance='covariates'", "--metric mahalanobis", "--metric"),
    ("distance='propensity'", "--metric propensity", "--metric"),
    ("cluster=[COL1, COL2]", "--cluster COL1,COL2", "--cluster"),
    ("cluster=COLUMN", "--cluster COLUMN", "--cluster"),
    ("time=COLUMN", "--time COLUMN", "--time"),
)
_OPTION = re.compile(
    r"(?<![\w.\-])([a-z][a-z0-9_]*)=(True|False|'[^']*'|\"[^\"]*\"|-?\d+(?:\.\d+)?)"
)


def cli_syntax(text: str, flags: Collection[str]) -> str:
    """Rewrite Python option syntax in a library message as the running command's flags."""
    if not flags:
        return text
    for api, cli, needs in CLI_PHRASES:
        if needs in flags:
            text = text.replace(api, cli)

    def flag(m: re.Match[str]) -> str:
        name = "--" + m.group(1).replace("_", "-")
        if name not in flags:
            return m.group(0)
        value = m.group(2)
        if value == "True":
            return name
        if value == "False":
            return f"no {name}"
        return f"{name} {value.strip(chr(39) + chr(34))}"

    return _OPTION.sub(flag, text)


# the labels library functions give a data frame whose file they do not know
_GENERIC_SOURCES = (None, "", "data", "data frame", "panel")


def _error_text(exc: BaseException, args: argparse.Namespace) -> str:
    """The message of an error, with the data file named when the library could not know it."""
    data = getattr(args, "data", None)
    if isinstance(exc, DataError) and data and exc.source in _GENERIC_SOURCES:
        return str(DataError(exc.message, source=str(data), column=exc.column, rows=exc.rows))
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    return str(exc)


def run_command(args: argparse.Namespace, flags: Collection[str] = ()) -> int:
    """Check the outputs, call ``args.func(args)``, print each warning once; errors -> status 2.

    Our errors (bad data, bad options, unwritable outputs) and operating-system errors print one line
    ``clusterimpact COMMAND: error: ...`` on stderr and return 2; warnings are printed after the run,
    each once, in the command's flag syntax.
    """
    func: Callable[[argparse.Namespace], int] = args.func
    caught: list[warnings.WarningMessage] = []
    try:
        check_outputs(args)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status = func(args)
    except (ClusterImpactError, OSError) as exc:
        _print_warnings(caught, flags)
        print(
            f"clusterimpact {args.command}: error: {cli_syntax(_error_text(exc, args), flags)}",
            file=sys.stderr,
        )
        return 2
    _print_warnings(caught, flags)
    return int(status or 0)


def _print_warnings(caught: Sequence[warnings.WarningMessage], flags: Collection[str]) -> None:
    seen: set[str] = set()
    for w in caught:
        msg = cli_syntax(str(w.message), flags)
        if msg not in seen:
            seen.add(msg)
            print(f"warning: {msg}", file=sys.stderr)
