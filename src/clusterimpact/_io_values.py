"""Column values of the input tables: role renaming, numbers, years, dates, ids, codes, cluster names.

Every parser names the source, the column and the rows in its errors. Used by :mod:`clusterimpact.io`
(the only module that reads raw input files); nothing here reads a file.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact._readers import ReadOptions
from clusterimpact._textnum import detect_decimal, parse_numbers
from clusterimpact.errors import DataError, DataWarning, describe_rows
from clusterimpact.presets import ColumnMap

YEAR_RANGE = (1800, 2200)
"""Years outside this range are input errors (a typo, a date in the wrong unit), not exclusions."""


def _rename(df: pd.DataFrame, cmap: ColumnMap, source: str) -> pd.DataFrame:
    """Rename mapped columns to their roles; every map entry must name a column of ``df``."""
    have = [str(c) for c in df.columns]
    absent = [(r, c) for r, c in cmap.roles.items() if c not in have]
    if absent:
        import difflib

        lower = {h.lower().strip(): h for h in have}
        parts = []
        for role, col in absent:
            near = lower.get(col.lower().strip()) or next(
                iter(difflib.get_close_matches(col, have, n=1)), None
            )
            hint = f"; did you mean '{near}'?" if near else ""
            parts.append(f"'{col}' (for {role}{hint})")
        raise DataError(
            f"the column map names column(s) that are not in the data: {', '.join(parts)}; "
            f"available: {', '.join(have[:30])}",
            source=source,
            column=absent[0][1],
        )
    ren = cmap.rename_map(df.columns)
    clash = [t for t in ren.values() if t in have and t not in ren]
    if clash:
        by_role = {r: c for c, r in ren.items()}
        raise DataError(
            f"column(s) {', '.join(clash)} already exist and the column map also gives their "
            f"role to {', '.join(repr(by_role[t]) for t in clash)}; rename or drop one",
            source=source,
            column=clash[0],
        )
    return df.rename(columns=ren) if ren else df


def _require(df: pd.DataFrame, required: tuple[str, ...], source: str, what: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        have = ", ".join(map(str, df.columns[:30]))
        raise DataError(
            f"missing required column(s) for {what}: {', '.join(missing)}; available: {have}. "
            "Rename them or map them: columns={'role': 'your_column'}",
            source=source,
            column=missing[0],
        )


def _blank_to_na(s: Any) -> Any:
    """Empty strings -> missing (a string Series)."""
    return s.where(s != "")


def _to_float(s: pd.Series, source: str, column: str, decimal: str = ".") -> np.ndarray:
    """Float array; blanks are NaN; anything else non-numeric is a DataError naming the rows.

    Text is parsed strictly with decimal mark ``decimal`` (see :mod:`clusterimpact._textnum`).
    """
    if pd.api.types.is_bool_dtype(s):
        return s.astype(float).to_numpy()
    if pd.api.types.is_numeric_dtype(s):
        return s.astype("float64").to_numpy(dtype=float, na_value=np.nan).copy()
    values, bad, _ = parse_numbers(s.astype("str"), decimal)
    if bad.any():
        text = s.astype("str").str.strip()
        examples = ", ".join(repr(v) for v in pd.unique(text[bad])[:3])
        mark = "comma" if decimal == "," else "point"
        raise DataError(
            f"non-numeric values ({examples}) where numbers with a decimal {mark} are expected; "
            "fix them or leave the cells empty for missing (if the decimal mark is wrong, pass "
            f"decimal='{'.' if decimal == ',' else ','}')",
            source=source,
            column=column,
            rows=list(s.index[bad]),
        )
    return values


def _decimal_of(raw: pd.DataFrame, opts: ReadOptions, text: dict[str, pd.Series]) -> str:
    """The decimal mark for text cells: given, from the file reader, or detected on a frame."""
    if opts.decimal is not None:
        return opts.decimal
    if "decimal" in raw.attrs:
        return str(raw.attrs["decimal"])
    if not text:
        return "."
    try:
        return detect_decimal(text, ",").decimal
    except ValueError:
        return "."


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
    out = out.str.strip().str.replace(r"^([0-9]+)\.0$", r"\1", regex=True)  # 200354785.0 (Excel)
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


def _unify_clusters(
    cluster: pd.Series, raw: pd.Series, source: str, column: str
) -> tuple[pd.Series, dict[str, list[str]]]:
    """One name per cluster whose spellings differ only in case (blanks already normalised)."""
    key = cluster.str.casefold()
    spelt = raw.astype("str")
    merges: dict[str, list[str]] = {}
    notes: list[str] = []
    out = cluster.copy()
    for k, idx in key.groupby(key, sort=False).groups.items():
        variants = spelt.loc[idx]
        if variants.nunique() < 2:
            continue
        counts = cluster.loc[idx].value_counts(sort=True)
        keep = str(counts.index[0])  # most rows; ties: the first spelling in the file
        if (counts == counts.iloc[0]).sum() > 1:
            keep = str(cluster.loc[idx].iloc[0])
        out.loc[idx] = keep
        shown = []
        for v in pd.unique(variants):
            rows = list(variants.index[(variants == v).to_numpy()])
            shown.append(f"{v!r} (rows {describe_rows(rows, 5)})")
        merges[keep] = [str(v) for v in pd.unique(variants) if v != keep]
        notes.append(f"{', '.join(shown)} -> {keep!r}")
        del k
    if notes:
        warnings.warn(
            f"{source}, column '{column}': cluster names that differ only in case or spacing are "
            f"taken as one cluster: {'; '.join(notes)}",
            DataWarning,
            stacklevel=3,
        )
    return out, merges


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
