"""Reading and writing tables: the only module that reads raw input files.

Readers return frames in the role vocabulary of DESIGN.md, with the *row labels* of the source kept as
the index so that every later error and exclusion can name them: for a file the index holds the 1-based
data row numbers (the header is not counted: row 1 is the first data line), for a frame the caller's
index labels. The file (or frame label) is kept in ``frame.attrs["source"]``. Files are only read, never
changed.

Supported formats (by extension): ``.csv``, ``.csv.gz``, ``.tsv``, ``.tsv.gz``, ``.txt`` (delimited text;
the delimiter is detected among ``,`` ``;`` and tab), ``.parquet``, ``.pq``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.errors import DataError, PanelError
from clusterimpact.presets import (
    ACCOUNT_ROLES,
    DEFLATOR_ROLES,
    REGISTRY_ROLES,
    ColumnMap,
    NBBPreset,
    get_preset,
)

__all__ = [
    "MONEY_ROLES",
    "TEXT_COLUMNS",
    "NUMERIC_ACCOUNT_ROLES",
    "REQUIRED_ACCOUNT_ROLES",
    "read_accounts",
    "read_deflators",
    "read_registry",
    "read_table",
    "table_format",
    "write_table",
]

PathLike = str | os.PathLike[str]
ColumnsArg = ColumnMap | Mapping[str, str] | None

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

YEAR_RANGE = (1800, 2200)
"""Years outside this range are input errors (a typo, a date in the wrong unit), not exclusions."""

_TEXT = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz")
_PARQUET = (".parquet", ".pq")


def table_format(path: PathLike) -> str:
    """``"csv"`` or ``"parquet"`` from a file name; :class:`DataError` for anything else."""
    name = str(path).lower()
    if name.endswith(_PARQUET):
        return "parquet"
    if name.endswith(_TEXT):
        return "csv"
    raise DataError(
        "unknown file type; use .csv, .csv.gz, .tsv, .txt or .parquet",
        source=str(path),
    )


def _sniff_delimiter(path: Path) -> str:
    if str(path).lower().endswith((".tsv", ".tsv.gz")):
        return "\t"
    import gzip

    opener: Any = gzip.open if str(path).lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        head = fh.readline()
    counts = {d: head.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


TEXT_COLUMNS: tuple[str, ...] = ("firm_id", "nace", "sector", "region", "cluster")
"""Columns read as strings from text files by default (identifiers and codes keep leading zeros)."""


def _default_text_dtype(path: Path) -> dict[str, str] | None:
    try:
        header = pd.read_csv(path, sep=_sniff_delimiter(path), nrows=0).columns
    except Exception:  # the real read reports the problem
        return None
    return {c: "str" for c in header if c in TEXT_COLUMNS} or None


def read_table(
    path: PathLike,
    *,
    dtype: Mapping[str, Any] | None = None,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """Read a CSV (optionally gzipped) or Parquet file into a DataFrame.

    Parameters
    ----------
    path
        The file. Its extension decides the format (see the module docstring).
    dtype
        Column types for text files. When None, the identifier and code columns of our own panels
        (:data:`TEXT_COLUMNS`: firm_id, nace, sector, region, cluster) are read as strings so that
        leading zeros survive a CSV round trip ('0403170701', NACE '0111', sector '01').
    columns
        Read only these columns (all when None).

    Returns
    -------
    pandas.DataFrame
        With a default 0-based index and ``attrs["source"]`` set to the file name.

    Raises
    ------
    DataError
        The file does not exist, has an unknown extension, or cannot be parsed (the message names it).
    """
    p = Path(path)
    fmt = table_format(p)
    if not p.exists():
        raise DataError("file not found", source=str(path))
    if p.is_dir():
        raise DataError("is a directory, expected a file", source=str(path))
    try:
        if fmt == "parquet":
            df = pd.read_parquet(p, columns=columns)
        else:
            df = pd.read_csv(
                p,
                sep=_sniff_delimiter(p),
                dtype=dict(dtype) if dtype is not None else _default_text_dtype(p),
                usecols=columns,
                low_memory=False,
                skipinitialspace=True,
            )
    except DataError:
        raise
    except Exception as exc:  # pyarrow / parser errors: name the file
        raise DataError(
            f"cannot read file ({type(exc).__name__}: {exc})", source=str(path)
        ) from exc
    df.attrs["source"] = str(path)
    return df


def write_table(frame: pd.DataFrame, path: PathLike) -> Path:
    """Write ``frame`` as Parquet or CSV (by extension) atomically: temp file, then rename.

    The index is not written. Nothing is left behind if writing fails.
    """
    from clusterimpact._outputs import atomic_path

    target = Path(path)
    fmt = table_format(target)
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


def _load(
    path_or_frame: PathLike | pd.DataFrame, source: str | None, text_columns: set[str]
) -> tuple[pd.DataFrame, str]:
    """Frame + source label; files get 1-based row labels and their text columns read as strings."""
    if isinstance(path_or_frame, pd.DataFrame):
        label = source or str(path_or_frame.attrs.get("source") or "data frame")
        return path_or_frame, label
    if not isinstance(path_or_frame, (str, os.PathLike)):
        raise DataError(
            f"expected a file path or a pandas DataFrame, got {type(path_or_frame).__name__}"
        )
    p = Path(path_or_frame)
    header_cols: list[str] = []
    if table_format(p) == "csv" and p.exists() and p.is_file():
        try:
            header_cols = list(pd.read_csv(p, sep=_sniff_delimiter(p), nrows=0).columns)
        except Exception:  # reported properly by read_table below
            header_cols = []
    dtype = {c: "str" for c in header_cols if c in text_columns}
    df = read_table(p, dtype=dtype or None)
    df.index = pd.RangeIndex(1, len(df) + 1, name="row")
    return df, source or str(path_or_frame)


def _rename(
    df: pd.DataFrame, columns: ColumnsArg, roles: tuple[str, ...], source: str
) -> pd.DataFrame:
    cmap = ColumnMap.coerce(columns, roles)
    ren = cmap.rename_map(df.columns)
    missing_src = [c for c in cmap.mapping if c not in df.columns and cmap.mapping[c] in roles]
    targets = list(ren.values())
    dup = sorted({t for t in targets if targets.count(t) > 1})
    if dup:
        raise DataError(
            f"several columns mapped to the same role(s) {', '.join(dup)}; map each role once",
            source=source,
        )
    clash = [t for t in targets if t in df.columns and t not in ren]
    if clash:
        raise DataError(
            f"column(s) {', '.join(clash)} already exist and another column is mapped onto them; "
            "rename or drop one",
            source=source,
            column=clash[0],
        )
    out = df.rename(columns=ren) if ren else df
    if missing_src:
        present = set(out.columns)
        gone = [c for c in missing_src if cmap.mapping[c] not in present]
        if gone:
            have = ", ".join(map(str, df.columns[:30]))
            raise DataError(
                f"mapped column(s) not found: {', '.join(gone)}; available: {have}",
                source=source,
                column=gone[0],
            )
    return out


def _require(df: pd.DataFrame, required: tuple[str, ...], source: str, what: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        have = ", ".join(map(str, df.columns[:30]))
        raise DataError(
            f"missing required column(s) for {what}: {', '.join(missing)}; available: {have}. "
            "Rename them or pass columns={'your_column': 'role'}",
            source=source,
            column=missing[0],
        )


def _blank_to_na(s: Any) -> Any:
    """Empty strings -> missing (a string Series)."""
    return s.where(s != "")


def _to_float(s: pd.Series, source: str, column: str) -> np.ndarray:
    """Float array; blanks are NaN; anything else non-numeric is a DataError naming the rows."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype(float).to_numpy()
    if pd.api.types.is_numeric_dtype(s):
        return s.astype("float64").to_numpy(dtype=float, na_value=np.nan).copy()
    text = s.astype("string").str.strip()
    coerced = pd.to_numeric(_blank_to_na(text), errors="coerce")
    bad = (coerced.isna() & text.notna() & (text != "")).to_numpy(dtype=bool)
    if bad.any():
        examples = ", ".join(repr(v) for v in pd.unique(text[bad])[:3])
        raise DataError(
            f"non-numeric values ({examples}); fix them or leave the cells empty for missing",
            source=source,
            column=column,
            rows=list(s.index[bad]),
        )
    return coerced.astype("float64").to_numpy(dtype=float, na_value=np.nan)


def _to_year(s: pd.Series, source: str, column: str, *, dates: bool) -> np.ndarray:
    """Float array of years (NaN missing). Integers, '2015', dates ('2015-12-31') when ``dates``."""
    if pd.api.types.is_datetime64_any_dtype(s):
        years = np.array(s.dt.year.astype("float64").to_numpy(dtype=float, na_value=np.nan))
    elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        years = s.astype("float64").to_numpy(dtype=float, na_value=np.nan).copy()
    else:
        text = s.astype("string").str.strip().pipe(_blank_to_na)
        num = pd.to_numeric(text, errors="coerce")
        years = np.array(num.astype("float64").to_numpy(dtype=float, na_value=np.nan))
        unparsed = (num.isna() & text.notna()).to_numpy(dtype=bool)
        if unparsed.any():
            parsed = _parse_dates(text[unparsed])
            years[unparsed] = parsed.dt.year.astype("float64").to_numpy(
                dtype=float, na_value=np.nan
            )
            still = np.zeros(len(s), dtype=bool)
            still[np.flatnonzero(unparsed)] = parsed.isna().to_numpy()
            if still.any() or not dates and unparsed.any():
                bad = still if dates else unparsed
                examples = ", ".join(repr(v) for v in pd.unique(text[bad])[:3])
                raise DataError(
                    f"not a year{' or date' if dates else ''} ({examples})",
                    source=source,
                    column=column,
                    rows=list(s.index[bad]),
                )
    years = np.array(years, dtype=float, copy=True)
    finite = np.isfinite(years)
    frac = finite & (years != np.round(years))
    if frac.any():
        raise DataError(
            "years must be whole numbers", source=source, column=column, rows=list(s.index[frac])
        )
    out = finite & ((years < YEAR_RANGE[0]) | (years > YEAR_RANGE[1]))
    if out.any():
        examples = ", ".join(str(int(v)) for v in pd.unique(years[out])[:3])
        raise DataError(
            f"years out of range {YEAR_RANGE[0]}-{YEAR_RANGE[1]} ({examples})",
            source=source,
            column=column,
            rows=list(s.index[out]),
        )
    years[np.isinf(years)] = np.nan
    return years


def _to_id(s: pd.Series) -> pd.Series:
    """Identifiers as strings (surrounding blanks removed; integral floats lose their '.0')."""
    if pd.api.types.is_float_dtype(s):
        vals = s.to_numpy(dtype=float, na_value=np.nan)
        integral = np.isfinite(vals) & (vals == np.round(vals))
        if integral[np.isfinite(vals)].all():
            s = s.astype("Int64")
    out = s.astype("str") if not pd.api.types.is_string_dtype(s) else s
    out = out.str.strip()
    out = out.where(out.notna() & (out != "") & (out.str.lower() != "nan"), None)
    return out.astype("str")


def _to_code(s: pd.Series, width: int) -> pd.Series:
    """NACE-like codes: digits only; 1 or 3 digits get their lost leading zero back (int 111 -> '0111');
    cut to ``width`` digits (NACE-BEL '62010' -> '6201')."""
    if pd.api.types.is_float_dtype(s):
        vals = s.to_numpy(dtype=float, na_value=np.nan)
        fin = np.isfinite(vals)
        if (vals[fin] == np.round(vals[fin])).all():
            s = s.astype("Int64")
    text = s.astype("string").str.strip().str.replace(r"[^0-9]", "", regex=True)
    text = text.where(text.str.len() > 0)
    # a lost leading zero (int 111 for '0111', 1 for '01'); 5-digit NACE-BEL codes stay as they are
    odd = text.str.len().isin([1, 3]).fillna(False).astype(bool)
    text = text.where(~odd, "0" + text)
    return text.str.slice(0, width).astype("str")


# -------------------------------------------------------------------------------------------------
# readers


def read_accounts(
    path_or_frame: PathLike | pd.DataFrame,
    columns: ColumnsArg = None,
    preset: str | NBBPreset | None = None,
    *,
    source: str | None = None,
    extra: Sequence[str] = (),
) -> pd.DataFrame:
    """Read firm accounts and return them in the account roles of DESIGN.md.

    Parameters
    ----------
    path_or_frame
        A CSV/Parquet file or a DataFrame (not modified).
    columns
        Column map (:class:`~clusterimpact.presets.ColumnMap` or dict, either direction). Columns named
        after their role need no entry.
    preset
        ``"nbb"`` to derive the roles from NBB rubric columns (see :mod:`clusterimpact.presets`).
    source
        Label used in messages (default: the file name, or ``frame.attrs["source"]``).
    extra
        Further columns to carry through unchanged (after the roles), e.g. user covariates.

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
        Missing required columns (firm_id, year, va, emp), non-numeric values, years that are not
        whole numbers or out of range; the message names the file, column and rows.
    """
    text_cols = {"firm_id", "nace", "region"} | {
        str(k)
        for k, v in ColumnMap.coerce(columns, ACCOUNT_ROLES).mapping.items()
        if v in ("firm_id", "nace", "region")
    }
    raw, src = _load(path_or_frame, source, text_cols)
    df = _rename(raw, columns, ACCOUNT_ROLES, src)
    preset_obj = get_preset(preset)
    notes: dict[str, str] = {}
    if preset_obj is not None:
        df, notes = preset_obj.apply(df)
    _require(df, REQUIRED_ACCOUNT_ROLES, src, "accounts")
    out: dict[str, Any] = {
        "firm_id": _to_id(df["firm_id"]),
        "year": _to_year(df["year"], src, _orig(raw, columns, "year"), dates=True),
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
            col = _orig(raw, columns, role)
            try:
                if role == "founded":
                    out[role] = _to_year(df[role], src, col, dates=True)
                else:
                    out[role] = _to_float(df[role], src, col)
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


def _orig(raw: pd.DataFrame, columns: ColumnsArg, role: str) -> str:
    """The user's name of a role's column, for messages."""
    try:
        cmap = ColumnMap.coerce(columns, ACCOUNT_ROLES + REGISTRY_ROLES + DEFLATOR_ROLES)
    except Exception:
        return role
    for user, r in cmap.mapping.items():
        if r == role and user in raw.columns:
            return user
    return role


def read_registry(
    path_or_frame: PathLike | pd.DataFrame,
    columns: ColumnsArg = None,
    *,
    source: str | None = None,
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
        Column map, as for :func:`read_accounts`.
    source
        Label for messages.

    Returns
    -------
    pandas.DataFrame
        ``firm_id`` (str), ``cluster`` (str), ``join_date``/``exit_date`` (datetime64; a year alone
        means 1 January), ``join_year`` (int64), ``exit_year`` (float, NaN when open). Index: source rows.

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
    """
    raw, src = _load(
        path_or_frame,
        source,
        {"firm_id", "cluster"} | _user_cols(columns, REGISTRY_ROLES, ("firm_id", "cluster")),
    )
    df = _rename(raw, columns, REGISTRY_ROLES, src)
    _require(df, ("firm_id", "cluster", "join_date"), src, "the membership registry")
    ids = _to_id(df["firm_id"])
    cluster = df["cluster"].astype("str").str.strip()
    cluster = cluster.where(df["cluster"].notna() & (cluster != ""), None).astype("str")
    for name, s in (("firm_id", ids), ("cluster", cluster)):
        blank = s.isna().to_numpy()
        if blank.any():
            raise DataError(
                "blank values; every membership spell needs a firm and a cluster",
                source=src,
                column=_orig(raw, columns, name),
                rows=list(df.index[blank]),
            )
    join = _to_date(df["join_date"], src, _orig(raw, columns, "join_date"))
    if join.isna().any():
        rows = list(df.index[join.isna().to_numpy()])
        raise DataError(
            "blank join dates; every membership spell needs one",
            source=src,
            column=_orig(raw, columns, "join_date"),
            rows=rows,
        )
    if "exit_date" in df.columns:
        exit_ = _to_date(df["exit_date"], src, _orig(raw, columns, "exit_date"))
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
            column=f"{_orig(raw, columns, 'join_date')}, {_orig(raw, columns, 'exit_date')}",
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
    return out


def _user_cols(columns: ColumnsArg, roles: tuple[str, ...], wanted: tuple[str, ...]) -> set[str]:
    try:
        cmap = ColumnMap.coerce(columns, roles)
    except Exception:
        return set()
    return {u for u, r in cmap.mapping.items() if r in wanted}


def _parse_dates(text: Any) -> pd.Series:
    """Parse date strings: ISO (YYYY-MM-DD[ time]) first, then day-first DD/MM/YYYY, DD-MM-YYYY or
    DD.MM.YYYY (the Belgian convention; never month-first). Unparseable values become NaT."""
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
    rest = (parsed.isna() & text.notna()).to_numpy()
    if rest.any():
        dmy = text[rest].str.replace(r"[./]", "-", regex=True)
        parsed[rest] = pd.to_datetime(dmy, errors="coerce", format="%d-%m-%Y").to_numpy()
    return parsed


def _to_date(s: pd.Series, source: str, column: str) -> pd.Series:
    """Datetime series from years (-> 1 January) or dates; DataError naming rows that do not parse."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.astype("datetime64[ns]")
    years = None
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        years = _to_year(s, source, column, dates=False)
    else:
        text = s.astype("string").str.strip().pipe(_blank_to_na)
        if text.str.fullmatch(r"\d{4}(\.0+)?").fillna(True).all():
            years = _to_year(text, source, column, dates=False)
    if years is not None:
        fin = np.isfinite(years)
        out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
        if fin.any():
            out[fin] = pd.to_datetime(
                {"year": years[fin].astype(int), "month": 1, "day": 1}
            ).to_numpy()
        return out
    text = s.astype("string").str.strip().pipe(_blank_to_na)
    is_year = text.str.fullmatch(r"\d{4}").fillna(False).astype(bool)
    full = text.where(~is_year, text + "-01-01")
    parsed = _parse_dates(full)
    bad = (parsed.isna() & text.notna()).to_numpy()
    if bad.any():
        examples = ", ".join(repr(v) for v in pd.unique(text[bad])[:3])
        raise DataError(
            f"not a date or year ({examples}); use YYYY, YYYY-MM-DD or DD/MM/YYYY",
            source=source,
            column=column,
            rows=list(s.index[bad]),
        )
    yrs = parsed.dt.year.to_numpy(dtype=float, na_value=np.nan)
    out_of = np.isfinite(yrs) & ((yrs < YEAR_RANGE[0]) | (yrs > YEAR_RANGE[1]))
    if out_of.any():
        raise DataError(
            f"years out of range {YEAR_RANGE[0]}-{YEAR_RANGE[1]}",
            source=source,
            column=column,
            rows=list(s.index[out_of]),
        )
    return parsed.astype("datetime64[ns]")


def read_deflators(
    path_or_frame: PathLike | pd.DataFrame,
    columns: ColumnsArg = None,
    *,
    source: str | None = None,
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
        Column map.
    source
        Label for messages.

    Returns
    -------
    pandas.DataFrame
        ``sector`` (str; ``"*"`` = all sectors), ``year`` (int64), ``deflator`` and any
        ``deflator_<var>`` (float).

    Raises
    ------
    DataError
        Missing columns, non-numeric or non-positive deflators, duplicate sector-years (naming rows).
    """
    raw, src = _load(
        path_or_frame, source, {"sector"} | _user_cols(columns, DEFLATOR_ROLES, ("sector",))
    )
    df = _rename(raw, columns, DEFLATOR_ROLES, src)
    _require(df, ("year", "deflator"), src, "the deflator table")
    out = pd.DataFrame(index=df.index)
    if "sector" in df.columns:
        text = df["sector"].astype("string").str.strip().str.lower()
        wild = text.isin(["*", "all", "total"]).fillna(False).to_numpy(dtype=bool)
        out["sector"] = _to_code(df["sector"], 2).where(~wild, "*")
    else:
        out["sector"] = pd.Series("*", index=df.index, dtype="str")
    years = _to_year(df["year"], src, _orig(raw, columns, "year"), dates=False)
    blank = ~np.isfinite(years) | out["sector"].isna().to_numpy()
    if blank.any():
        raise DataError(
            "blank sector or year in the deflator table",
            source=src,
            column="sector, year",
            rows=list(df.index[blank]),
        )
    out["year"] = years.astype("int64")
    defl_cols = ["deflator"] + [
        c for c in df.columns if str(c).startswith("deflator_") and str(c)[9:] in MONEY_ROLES
    ]
    for c in defl_cols:
        v = _to_float(df[c], src, _orig(raw, columns, c))
        bad = ~(v > 0) & ~np.isnan(v) if c != "deflator" else ~(v > 0)
        if bad.any():
            raise DataError(
                "deflators must be positive numbers (blank only in deflator_<var> columns)",
                source=src,
                column=_orig(raw, columns, c),
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
