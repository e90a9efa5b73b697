"""Reading and writing tables: the only module that reads raw input files.

Readers return frames in the role vocabulary of DESIGN.md, with the *row labels* of the source kept as
the index so that every later error and exclusion can name them: for a file the index holds the 1-based
data row numbers (the header is not counted: row 1 is the first data line, Excel's row 2), for a frame
the caller's index labels. The file (or frame label) is kept in ``frame.attrs["source"]``. Files are only
read, never changed.

Accepted formats (by extension, checked against the content): delimited text ``.csv``, ``.tsv``,
``.txt`` (gzip-compressed or not, whatever the name; delimiter ``,`` ``;`` tab or ``|`` from the header;
UTF-8, or cp1252/Latin-1 detected with a warning, or ``encoding=``; decimal comma and thousands
separators detected, or ``decimal=``), ``.parquet``/``.pq``, Excel ``.xlsx``/``.xlsm`` (first sheet, or
``sheet=`` / ``book.xlsx#Sheet``) and Stata ``.dta`` (value labels kept as categories for names). See
:mod:`clusterimpact._readers` and :mod:`clusterimpact._textnum` for the rules. Duplicate column names are
an error. Tables are written as Parquet or CSV only.

Column maps are written role = column everywhere (:class:`~clusterimpact.presets.ColumnMap`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact._io_values import (
    _decimal_of,
    _rename,
    _require,
    _to_code,
    _to_date,
    _to_float,
    _to_id,
    _to_year,
    _unify_clusters,
)
from clusterimpact._readers import FORMATS, ReadOptions, file_kind, read_file, split_sheet
from clusterimpact.errors import DataError, PanelError, SpecError
from clusterimpact.presets import (
    ACCOUNT_ROLES,
    DEFLATOR_ROLES,
    DEFLATOR_VARIABLE_ROLES,
    REGISTRY_ROLES,
    ColumnMap,
    NBBPreset,
    get_preset,
)

__all__ = [
    "FORMATS",
    "MONEY_ROLES",
    "TEXT_COLUMNS",
    "NUMERIC_ACCOUNT_ROLES",
    "REQUIRED_ACCOUNT_ROLES",
    "ReadOptions",
    "read_accounts",
    "read_deflators",
    "read_registry",
    "read_table",
    "table_format",
    "writable_format",
    "write_table",
]

PathLike = str | os.PathLike[str]
ColumnsArg = ColumnMap | Mapping[str, str] | None
OptionsArg = ReadOptions | Mapping[str, Any] | None

REQUIRED_ACCOUNT_ROLES: tuple[str, ...] = ("firm_id", "year", "va", "emp")
NUMERIC_ACCOUNT_ROLES: tuple[str, ...] = (
    "founded",
    "va",
    "emp",
    "capital",
    "materials",
    "wages",
    "turnover",
    "investment",
)
MONEY_ROLES: tuple[str, ...] = ("va", "capital", "materials", "wages", "turnover", "investment")
"""Monetary roles (deflated by the sector x year deflators)."""

TEXT_COLUMNS: tuple[str, ...] = ("firm_id", "nace", "sector", "region", "cluster")
"""Columns read as strings from text files by default (identifiers and codes keep leading zeros)."""

_WRITABLE = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "csv",
}


def table_format(path: PathLike) -> str:
    """``"csv"``, ``"parquet"``, ``"excel"`` or ``"stata"`` from a file name.

    Raises
    ------
    DataError
        An extension that is none of :data:`FORMATS` (or the old Excel ``.xls``).

    Examples
    --------
    >>> from clusterimpact.io import table_format
    >>> table_format("accounts.csv.gz"), table_format("panel.parquet"), table_format("nbb.xlsx")
    ('csv', 'parquet', 'excel')
    """
    kind = file_kind(path)
    return "csv" if kind == "text" else kind


def writable_format(path: PathLike) -> str:
    """``"csv"`` or ``"parquet"``: the format :func:`write_table` writes to ``path``; DataError for
    any other extension (tables are not written as Excel or Stata).

    Examples
    --------
    >>> from clusterimpact.io import writable_format
    >>> writable_format("panel.parquet"), writable_format("panel.csv")
    ('parquet', 'csv')
    """
    name = Path(path).name.lower()
    for ext in sorted(_WRITABLE, key=len, reverse=True):
        if name.endswith(ext):
            return _WRITABLE[ext]
    if name.endswith((".xlsx", ".xlsm", ".dta", ".xls")):
        raise DataError(
            "tables are written as .parquet or .csv (.csv.gz), not as Excel or Stata files",
            source=str(path),
        )
    raise DataError(
        "unknown file type for writing; write tables as .parquet or .csv (.csv.gz)",
        source=str(path),
    )


def read_table(
    path: PathLike,
    *,
    dtype: Mapping[str, Any] | None = None,
    columns: list[str] | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    options: OptionsArg = None,
    text_columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read a table from any accepted format (see the module docstring).

    Parameters
    ----------
    path
        The file. Its extension decides the format; the content is checked (gzip is recognised by its
        bytes, whatever the name).
    dtype
        Column types for text files. When None, the identifier and code columns (``text_columns``)
        are read as strings so that leading zeros survive ('0403170701', NACE '0111', sector '01').
    columns
        Read only these columns (all when None).
    decimal, encoding, sheet
        Reading options (see :class:`ReadOptions`); None: detected (decimal mark, encoding) or the first
        sheet. They override ``options``.
    options
        A :class:`ReadOptions` or dict with the same fields.
    text_columns
        Columns kept as strings (default :data:`TEXT_COLUMNS`); for Stata files the columns whose
        value labels are kept (default: all labelled columns).

    Returns
    -------
    pandas.DataFrame
        With a default 0-based index and ``attrs["source"]`` set to the file name
        (``attrs["decimal"]`` the decimal mark used for text, ``attrs["sheet"]`` the Excel sheet).

    Raises
    ------
    DataError
        The file does not exist, has an unknown extension, duplicate column names, bytes that do not
        decode, mixed decimal marks, or cannot be parsed (the message names it and the fix).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> import clusterimpact as ci
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "firms.parquet"
    ...     pd.DataFrame({"firm_id": ["0403170701"], "emp": [3.5]}).to_parquet(path)
    ...     table = ci.read_table(path)
    >>> table.to_dict("records")
    [{'firm_id': '0403170701', 'emp': 3.5}]
    """
    opts = _options(options, decimal=decimal, encoding=encoding, sheet=sheet)
    text_cols = TEXT_COLUMNS if text_columns is None else tuple(text_columns)
    labels = None if text_columns is None else text_cols
    return _read(path, opts, text_cols, dtype, columns, labels)


def _options(options: OptionsArg, **given: Any) -> ReadOptions:
    base = ReadOptions.coerce(options)
    changes = {k: v for k, v in given.items() if v is not None}
    if not changes:
        return base
    return ReadOptions(
        **{**{k: getattr(base, k) for k in ("decimal", "encoding", "sheet")}, **changes}
    )


def write_table(frame: pd.DataFrame, path: PathLike) -> Path:
    """Write ``frame`` as Parquet or CSV (by extension) atomically: temp file, then rename.

    The index is not written. Nothing is left behind if writing fails.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> from clusterimpact.io import read_table, write_table
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_table(pd.DataFrame({"x": [1, 2]}), Path(folder) / "out.csv")
    ...     print(path.name, read_table(path)["x"].tolist())
    out.csv [1, 2]
    """
    from clusterimpact._outputs import atomic_path

    target = Path(path)
    fmt = writable_format(target)
    with atomic_path(target) as tmp:
        out = frame.reset_index(drop=True)
        out.attrs = {}
        if fmt == "parquet":
            out.to_parquet(tmp, index=False)
        else:
            out.to_csv(tmp, index=False)
    return target


# -------------------------------------------------------------------------------------------------
# shared coercion helpers (all name source, column and rows in their errors)


def _read(
    path: PathLike,
    options: ReadOptions,
    text_columns: Sequence[str],
    dtype: Mapping[str, Any] | None = None,
    columns: list[str] | None = None,
    stata_labels: Sequence[str] | None = None,
) -> pd.DataFrame:
    p, _ = split_sheet(path)
    file_kind(path)
    if not p.exists():
        raise DataError("file not found", source=str(p))
    if p.is_dir():
        raise DataError("is a directory, expected a file", source=str(p))
    try:
        return read_file(
            Path(path),
            options,
            text_columns=text_columns,
            dtype=dtype,
            columns=columns,
            stata_labels=stata_labels,
        )
    except (DataError, SpecError):
        raise
    except Exception as exc:  # pyarrow / parser errors: name the file
        raise DataError(f"cannot read file ({type(exc).__name__}: {exc})", source=str(p)) from exc


def _load(
    path_or_frame: PathLike | pd.DataFrame,
    source: str | None,
    text_columns: set[str],
    options: ReadOptions,
    labels: set[str],
) -> tuple[pd.DataFrame, str]:
    """Frame + source label; files get 1-based row labels and their text columns read as strings
    (``labels``: Stata columns whose value labels are wanted; the others keep their codes)."""
    if isinstance(path_or_frame, pd.DataFrame):
        label = source or str(path_or_frame.attrs.get("source") or "data frame")
        dup = path_or_frame.columns[path_or_frame.columns.duplicated()]
        if len(dup):
            raise DataError(
                f"duplicate column names: {', '.join(map(repr, pd.unique(dup)))}; rename or drop "
                "the copies",
                source=label,
                column=str(dup[0]),
            )
        return path_or_frame, label
    if not isinstance(path_or_frame, (str, os.PathLike)):
        raise DataError(
            f"expected a file path or a pandas DataFrame, got {type(path_or_frame).__name__}"
        )
    df = _read(path_or_frame, options, sorted(text_columns), stata_labels=sorted(labels))
    df.index = pd.RangeIndex(1, len(df) + 1, name="row")
    return df, source or str(df.attrs.get("source", path_or_frame))


# -------------------------------------------------------------------------------------------------
# readers


def read_accounts(
    path_or_frame: PathLike | pd.DataFrame,
    columns: ColumnsArg = None,
    preset: str | NBBPreset | None = None,
    *,
    source: str | None = None,
    extra: Sequence[str] = (),
    decimal: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> pd.DataFrame:
    """Read firm accounts and return them in the account roles of DESIGN.md.

    Parameters
    ----------
    path_or_frame
        A file in any accepted format (see the module docstring) or a DataFrame (not modified).
    columns
        Column map ``{role: column}`` (or a :class:`~clusterimpact.presets.ColumnMap`). Columns named
        after their role need no entry; every entry must name a column of the data.
    preset
        ``"nbb"`` to derive the roles from NBB rubric columns (see :mod:`clusterimpact.presets`).
    source
        Label used in messages (default: the file name, or ``frame.attrs["source"]``).
    extra
        Further columns to carry through unchanged (after the roles), e.g. user covariates.
    decimal, encoding, sheet
        Reading options (:class:`ReadOptions`); None: detected / the first sheet.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`~clusterimpact.presets.ACCOUNT_ROLES` (optional roles absent from the input are
        added empty), then ``extra``: ``firm_id`` (str), ``year`` (float, NaN when blank), ``nace`` (str,
        digits), ``region`` (str), numeric roles as float. Index: the source row labels (1-based data
        rows for files). ``attrs["source"]`` names the source; ``attrs["preset_notes"]`` says how a
        preset derived each role.

    Raises
    ------
    DataError
        Missing required columns (firm_id, year, va, emp), a map entry naming an absent column,
        duplicate column names, non-numeric values, years that are not whole numbers or out of range;
        the message names the file, column and rows.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> import clusterimpact as ci
    >>> raw = pd.DataFrame({"vat": ["0403.170.701"], "jaar": [2019], "va": ["1.234,5"], "fte": ["3,5"]})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "accounts.csv"
    ...     raw.to_csv(path, sep=";", index=False)
    ...     accounts = ci.read_accounts(path, columns={"firm_id": "vat", "year": "jaar", "emp": "fte"})
    >>> row = accounts.iloc[0]
    >>> row["firm_id"], float(row["va"]), float(row["emp"])  # decimal commas read as such
    ('0403.170.701', 1234.5, 3.5)
    """
    cmap = ColumnMap.coerce(columns, ACCOUNT_ROLES)
    opts = ReadOptions(decimal=decimal, encoding=encoding, sheet=sheet)
    raw, src = _load(
        path_or_frame,
        source,
        _role_columns(cmap, ("firm_id", "nace", "region")),
        opts,
        _role_columns(cmap, ("region",)),
    )
    df = _rename(raw, cmap, src)
    preset_obj = get_preset(preset)
    notes: dict[str, str] = {}
    if preset_obj is not None:
        df, notes = preset_obj.apply(df)
    _require(df, REQUIRED_ACCOUNT_ROLES, src, "accounts")
    num_roles = [r for r in NUMERIC_ACCOUNT_ROLES if r in df.columns]
    dec = _decimal_of(
        raw, opts, {r: df[r] for r in num_roles if not pd.api.types.is_numeric_dtype(df[r])}
    )
    out: dict[str, Any] = {
        "firm_id": _to_id(df["firm_id"]),
        "year": _to_year(df["year"], src, cmap.column_for("year"), dates=True),
    }
    out["nace"] = (
        _to_code(df["nace"], 4)
        if "nace" in df.columns
        else pd.Series(pd.NA, index=df.index, dtype="str")
    )
    out["region"] = (
        df["region"].astype("str").str.strip()
        if "region" in df.columns
        else pd.Series(pd.NA, index=df.index, dtype="str")
    )
    if "region" in df.columns:
        out["region"] = out["region"].where(df["region"].notna(), None).astype("str")
    problems: list[DataError] = []  # every bad column is reported, not only the first
    for role in NUMERIC_ACCOUNT_ROLES:
        out[role] = np.full(len(df), np.nan)
        if role in df.columns:
            col = cmap.column_for(role)
            try:
                if role == "founded":
                    out[role] = _to_year(df[role], src, col, dates=True)
                else:
                    out[role] = _to_float(df[role], src, col, dec)
            except DataError as exc:
                problems.append(exc)
    if problems:
        raise DataError.combine(problems)
    extra = [str(c) for c in extra]
    clash = [c for c in extra if c in ACCOUNT_ROLES]
    if clash:
        raise DataError(f"extra column(s) {', '.join(clash)} are roles already", source=src)
    _require(df, tuple(extra), src, "the requested extra columns")
    frame = pd.DataFrame(out, index=df.index)[list(ACCOUNT_ROLES)]
    for c in extra:
        frame[c] = df[c].to_numpy()
    frame.attrs["source"] = src
    frame.attrs["preset_notes"] = notes
    return frame


def _role_columns(cmap: ColumnMap, roles: tuple[str, ...]) -> set[str]:
    """The file's names of these roles' columns (mapped or named after the role)."""
    return set(roles) | {c for r, c in cmap.roles.items() if r in roles}


def read_registry(
    path_or_frame: PathLike | pd.DataFrame,
    columns: ColumnsArg = None,
    *,
    source: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> pd.DataFrame:
    """Read a membership registry: one row per membership spell of a firm in a cluster.

    Parameters
    ----------
    path_or_frame
        File or frame with ``firm_id``, ``cluster``, ``join_date`` and optionally ``exit_date``
        (``join_year``/``exit_year`` are accepted as names too). Dates may be years (2017), ISO dates
        ('2017-03-01') or day-first dates ('01/03/2017', '1.3.2017': never read month-first); a blank
        exit means the membership is still running.
    columns
        Column map ``{role: column}``, as for :func:`read_accounts`.
    source
        Label for messages.
    decimal, encoding, sheet
        Reading options (:class:`ReadOptions`).

    Returns
    -------
    pandas.DataFrame
        ``firm_id`` (str), ``cluster`` (str), ``join_date``/``exit_date`` (datetime64; a year alone
        means 1 January), ``join_year`` (int64), ``exit_year`` (float, NaN when open). Index: source rows.
        Cluster names lose surrounding blanks, runs of blanks become one space, and names that then
        differ only in case are one cluster, spelt as most rows spell it (a :class:`DataWarning`
        lists the spellings and rows; ``attrs["cluster_merges"]`` maps each kept name to the others).

    Raises
    ------
    DataError
        Missing columns, blank firm_id/cluster/join date, dates that do not parse (naming rows).
    PanelError
        A spell whose join date is after its exit date (naming rows).

    Notes
    -----
    Membership rule (DESIGN.md): a firm is a member in year t iff ``join_year <= t < exit_year`` for some
    spell; the exit year itself is not a membership year.

    Examples
    --------
    >>> import pandas as pd
    >>> import clusterimpact as ci
    >>> registry = ci.read_registry(pd.DataFrame({"firm_id": ["A", "B"], "cluster": ["VIL", "Flux50"],
    ...                                           "join_date": [2017, "2018-03-01"]}))
    >>> registry[["firm_id", "cluster"]].values.tolist()
    [['A', 'VIL'], ['B', 'Flux50']]
    """
    cmap = ColumnMap.coerce(columns, REGISTRY_ROLES)
    names = _role_columns(cmap, ("firm_id", "cluster"))
    opts = ReadOptions(decimal=decimal, encoding=encoding, sheet=sheet)
    raw, src = _load(path_or_frame, source, names, opts, _role_columns(cmap, ("cluster",)))
    df = _rename(raw, cmap, src)
    _require(df, ("firm_id", "cluster", "join_date"), src, "the membership registry")
    ids = _to_id(df["firm_id"])
    cluster = df["cluster"].astype("str").str.strip().str.replace(r"\s+", " ", regex=True)
    cluster = cluster.where(df["cluster"].notna() & (cluster != ""), None).astype("str")
    for name, s in (("firm_id", ids), ("cluster", cluster)):
        blank = s.isna().to_numpy()
        if blank.any():
            raise DataError(
                "blank values; every membership spell needs a firm and a cluster",
                source=src,
                column=cmap.column_for(name),
                rows=list(df.index[blank]),
            )
    cluster, merges = _unify_clusters(cluster, df["cluster"], src, cmap.column_for("cluster"))
    join = _to_date(df["join_date"], src, cmap.column_for("join_date"))
    if join.isna().any():
        rows = list(df.index[join.isna().to_numpy()])
        raise DataError(
            "blank join dates; every membership spell needs one",
            source=src,
            column=cmap.column_for("join_date"),
            rows=rows,
        )
    if "exit_date" in df.columns:
        exit_ = _to_date(df["exit_date"], src, cmap.column_for("exit_date"))
    else:
        exit_ = pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]")
    after = (exit_.notna() & (join > exit_)).to_numpy()
    if after.any():
        rows = list(df.index[after])
        first = np.flatnonzero(after)[0]
        raise PanelError(
            f"join date after exit date (e.g. firm {ids.iloc[first]}: joined "
            f"{join.iloc[first].date()}, left {exit_.iloc[first].date()}); fix the dates or the order",
            source=src,
            column=f"{cmap.column_for('join_date')}, {cmap.column_for('exit_date')}",
            rows=rows,
        )
    out = pd.DataFrame(
        {
            "firm_id": ids,
            "cluster": cluster,
            "join_date": join,
            "exit_date": exit_,
            "join_year": join.dt.year.astype("int64"),
            "exit_year": exit_.dt.year.astype("float64"),
        },
        index=df.index,
    )
    out.attrs["source"] = src
    out.attrs["cluster_merges"] = merges
    return out


def read_deflators(
    path_or_frame: PathLike | pd.DataFrame,
    columns: ColumnsArg = None,
    *,
    source: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> pd.DataFrame:
    """Read a sector x year deflator table.

    Parameters
    ----------
    path_or_frame
        File or frame with ``sector`` (NACE division, 2 digits; longer codes are cut to 2), ``year`` and
        ``deflator`` (a price index, > 0). Optional ``deflator_<var>`` columns (``deflator_capital``,
        ``deflator_materials``, ...) give variable-specific deflators; where absent or blank the general
        ``deflator`` is used. Without a ``sector`` column the deflators are economy-wide (one per
        year); rows with sector ``*`` (or ``all``/``total``) are the economy-wide fallback for sectors
        the table does not list.
    columns
        Column map ``{role: column}``; roles ``sector``, ``year``, ``deflator`` and
        ``deflator_<var>`` (``{"deflator": "ppi", "deflator_capital": "ppi_equipment"}``).
    source
        Label for messages.
    decimal, encoding, sheet
        Reading options (:class:`ReadOptions`).

    Returns
    -------
    pandas.DataFrame
        ``sector`` (str; ``"*"`` = all sectors), ``year`` (int64), ``deflator`` and any
        ``deflator_<var>`` (float).

    Raises
    ------
    DataError
        Missing columns, non-numeric or non-positive deflators, duplicate sector-years (naming rows).

    Examples
    --------
    >>> import pandas as pd
    >>> import clusterimpact as ci
    >>> deflators = ci.read_deflators(pd.DataFrame({"sector": ["2611", "26"], "year": [2015, 2016],
    ...                                             "deflator": [1.0, 1.02]}))
    >>> deflators["sector"].tolist()  # NACE codes cut to the 2-digit division
    ['26', '26']
    """
    cmap = ColumnMap.coerce(columns, DEFLATOR_ROLES)
    opts = ReadOptions(decimal=decimal, encoding=encoding, sheet=sheet)
    raw, src = _load(path_or_frame, source, _role_columns(cmap, ("sector",)), opts, set())
    df = _rename(raw, cmap, src)
    _require(df, ("year", "deflator"), src, "the deflator table")
    out = pd.DataFrame(index=df.index)
    if "sector" in df.columns:
        text = df["sector"].astype("string").str.strip().str.lower()
        wild = text.isin(["*", "all", "total"]).fillna(False).to_numpy(dtype=bool)
        out["sector"] = _to_code(df["sector"], 2).where(~wild, "*")
    else:
        out["sector"] = pd.Series("*", index=df.index, dtype="str")
    years = _to_year(df["year"], src, cmap.column_for("year"), dates=False)
    blank = ~np.isfinite(years) | out["sector"].isna().to_numpy()
    if blank.any():
        raise DataError(
            "blank sector or year in the deflator table",
            source=src,
            column="sector, year",
            rows=list(df.index[blank]),
        )
    out["year"] = years.astype("int64")
    defl_cols = ["deflator"] + [c for c in df.columns if str(c) in DEFLATOR_VARIABLE_ROLES]
    dec = _decimal_of(
        raw, opts, {c: df[c] for c in defl_cols if not pd.api.types.is_numeric_dtype(df[c])}
    )
    for c in defl_cols:
        v = _to_float(df[c], src, cmap.column_for(c), dec)
        bad = ~(v > 0) & ~np.isnan(v) if c != "deflator" else ~(v > 0)
        if bad.any():
            raise DataError(
                "deflators must be positive numbers (blank only in deflator_<var> columns)",
                source=src,
                column=cmap.column_for(c),
                rows=list(df.index[bad]),
            )
        out[c] = v
    dup = out.duplicated(["sector", "year"], keep=False).to_numpy()
    if dup.any():
        raise DataError(
            "duplicate sector-years in the deflator table; keep one row per sector and year",
            source=src,
            column="sector, year",
            rows=list(df.index[dup]),
        )
    out.attrs["source"] = src
    return out
