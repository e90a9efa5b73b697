"""File formats as economists hold them: the low-level readers behind :func:`clusterimpact.io.read_table`.

Formats
-------
* Delimited text (``.csv``, ``.tsv``, ``.txt``, optionally ``.gz``): gzip is recognised by its magic bytes
  whatever the file name; the encoding is UTF-8 (with or without BOM), UTF-16 with a BOM, or, when the
  bytes are not valid UTF-8, Windows cp1252 (Latin-1 when a byte undefined in cp1252 occurs), with a
  warning; the delimiter (``,`` ``;`` tab ``|``) is taken from the header line; the decimal mark is
  detected as described in :mod:`clusterimpact._textnum` (decimal comma, thousands separators).
* Parquet (``.parquet``, ``.pq``).
* Excel workbooks (``.xlsx``, ``.xlsm``; needs ``openpyxl``): the first sheet unless a sheet is named
  (``sheet=`` or ``book.xlsx#Sheet``); typed cells are kept (numbers, dates), numbers stored as text are
  parsed like CSV values.
* Stata (``.dta``, pandas' reader): value labels become categories (region and cluster names), while
  identifier, code, year and numeric roles keep their codes.

Duplicate column names are an error (pandas would silently rename the second ``va`` to ``va.1``).
Column names lose surrounding blanks. Files are only read, never changed.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import warnings
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact._textnum import (
    DecimalChoice,
    MixedDecimalError,
    detect_decimal,
    to_numeric_columns,
)
from clusterimpact.errors import DataError, DataWarning, SpecError

__all__ = ["FORMATS", "ReadOptions", "file_kind", "read_file", "split_sheet"]

FORMATS = ".csv, .tsv, .txt (optionally .gz), .parquet, .pq, .xlsx, .xlsm, .dta"
_TEXT = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz", ".gz")
_KINDS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".dta": "stata",
}
_SAMPLE_ROWS = 5000
_CP1252_UNDEFINED = b"\x81\x8d\x8f\x90\x9d"


@dataclass(frozen=True)
class ReadOptions:
    """How to read input files where detection is not wanted or fails.

    Parameters
    ----------
    decimal
        Decimal mark of numbers in text files (and in text cells of workbooks): ``"."`` or ``","``.
        None: detected. The other mark, spaces and ``'`` may then group thousands (``1.234,5``).
    encoding
        Text encoding (``"utf-8"``, ``"cp1252"``, ``"latin-1"``, ...). None: detected.
    sheet
        Excel sheet name (or 0-based position). None: the first sheet.

    Examples
    --------
    >>> from clusterimpact.io import ReadOptions
    >>> ReadOptions(decimal=",", encoding="cp1252")
    ReadOptions(decimal=',', encoding='cp1252', sheet=None)
    """

    decimal: str | None = None
    encoding: str | None = None
    sheet: str | int | None = None

    def __post_init__(self) -> None:
        if self.decimal not in (None, ".", ","):
            raise SpecError(f"decimal={self.decimal!r} is not valid; choose one of '.', ','")
        if self.encoding is not None:
            try:
                codecs.lookup(str(self.encoding))
            except LookupError:
                raise SpecError(
                    f"encoding={self.encoding!r} is not a known text encoding "
                    "(e.g. 'utf-8', 'cp1252', 'latin-1')"
                ) from None
        if self.sheet is not None and (
            isinstance(self.sheet, bool) or not isinstance(self.sheet, (str, int))
        ):
            raise SpecError(f"sheet={self.sheet!r} must be a sheet name or a 0-based position")

    @classmethod
    def coerce(cls, value: ReadOptions | Mapping[str, Any] | None) -> ReadOptions:
        """Accept a ReadOptions, a dict of its fields, or None."""
        if value is None:
            return cls()
        if isinstance(value, ReadOptions):
            return value
        if isinstance(value, Mapping):
            unknown = [k for k in value if k not in ("decimal", "encoding", "sheet")]
            if unknown:
                raise SpecError(
                    f"unknown read option(s) {unknown}; valid: decimal, encoding, sheet"
                )
            return cls(**dict(value))
        raise SpecError(f"read options must be a dict or ReadOptions, got {type(value).__name__}")


def split_sheet(path: Any) -> tuple[Path, str | None]:
    """``"book.xlsx#Registry"`` -> (``book.xlsx``, ``"Registry"``); other paths unchanged."""
    text = str(path)
    if "#" in text and not Path(text).exists():
        base, _, sheet = text.rpartition("#")
        if base.lower().endswith((".xlsx", ".xlsm")) and sheet:
            return Path(base), sheet
    return Path(text), None


def file_kind(path: Any) -> str:
    """``"text"``, ``"parquet"``, ``"excel"`` or ``"stata"`` from a file name; DataError otherwise."""
    name = str(split_sheet(path)[0]).lower()
    for ext, kind in _KINDS.items():
        if name.endswith(ext):
            return kind
    if name.endswith(_TEXT):
        return "text"
    if name.endswith(".xls"):
        raise DataError(
            "old Excel format (.xls) is not supported; save the sheet as .xlsx or CSV",
            source=str(path),
        )
    raise DataError(f"unknown file type; use one of {FORMATS}", source=str(path))


# -------------------------------------------------------------------------------------------------


def read_file(
    path: Path,
    options: ReadOptions,
    *,
    text_columns: Collection[str],
    dtype: Mapping[str, Any] | None,
    columns: list[str] | None,
    stata_labels: Collection[str] | None,
) -> pd.DataFrame:
    """Read one file (see the module docstring). Identifier columns ``text_columns`` stay strings.

    ``dtype`` (text files only) replaces the default typing when given. ``stata_labels``: the Stata
    columns whose value labels are wanted (None: all); the others keep their codes.
    """
    path, sheet_in_name = split_sheet(path)
    source = str(path)
    kind = file_kind(path)
    head = _head(path)
    if head.startswith(b"\x1f\x8b") and kind != "text":
        raise DataError(
            f"a gzip file can only hold delimited text; use one of {FORMATS}", source=source
        )
    sniffed = _sniff(head)
    if sniffed is not None and sniffed != kind:
        warnings.warn(
            f"{source}: the file content is {sniffed} although its name says {kind}; read as {sniffed}",
            DataWarning,
            stacklevel=4,
        )
        kind = sniffed
    if kind == "parquet":
        frame = _read_parquet(path, columns, source)
    elif kind == "excel":
        sheet = sheet_in_name if sheet_in_name is not None else options.sheet
        frame = _read_excel(path, sheet, text_columns, options, source)
    elif kind == "stata":
        frame = _read_stata(path, columns, stata_labels, source)
    else:
        frame = _read_text(path, options, text_columns, dtype, columns, source)
    frame.attrs["source"] = frame.attrs.pop("label", source)
    return frame


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(16)


def _sniff(head: bytes) -> str | None:
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        return "excel"
    if head.startswith(b"<stata_dta>"):
        return "stata"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise DataError("old Excel format (.xls) is not supported; save the sheet as .xlsx or CSV")
    return None


def _check_unique(names: list[str], source: str) -> None:
    seen: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        if n != "":
            seen.setdefault(n, []).append(i + 1)
    dups = {n: pos for n, pos in seen.items() if len(pos) > 1}
    if dups:
        shown = "; ".join(
            f"'{n}' (columns {', '.join(map(str, pos))})" for n, pos in list(dups.items())[:5]
        )
        raise DataError(
            f"duplicate column names: {shown}; rename or delete the copies (which one is meant "
            "cannot be guessed)",
            source=source,
            column=next(iter(dups)),
        )


# -- text ------------------------------------------------------------------------------------------


def _read_bytes(path: Path, source: str) -> bytes:
    raw = path.read_bytes()
    if raw.startswith(b"\x1f\x8b"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"corrupt or truncated gzip file ({exc})", source=source) from exc
    return raw


def _position(raw: bytes, offset: int) -> str:
    line = raw.count(b"\n", 0, offset) + 1
    where = "the header line" if line == 1 else f"data row {line - 1}"
    return f"byte offset {offset}, line {line} ({where})"


def _decode(raw: bytes, encoding: str | None, source: str) -> str:
    if encoding is not None:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError as exc:
            other = "utf-8" if codecs.lookup(encoding).name != "utf-8" else "cp1252"
            raise DataError(
                f"cannot decode byte 0x{raw[exc.start]:02x} at {_position(raw, exc.start)} as "
                f"{encoding}; pass the file's encoding, e.g. encoding='{other}' "
                f'(CLI --encoding {other}, TOML encoding = "{other}")',
                source=source,
            ) from exc
    if raw.startswith(codecs.BOM_UTF8):
        return _decode(raw[3:], "utf-8", source)
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode(raw, "utf-16", source)
    nul = raw.find(b"\x00", 0, 1 << 16)
    if nul >= 0:
        raise DataError(
            f"NUL byte at {_position(raw, nul)}: not a text file (a binary file, or UTF-16 "
            "without a byte-order mark: pass encoding='utf-16')",
            source=source,
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        enc = "latin-1" if any(b in raw for b in _CP1252_UNDEFINED) else "cp1252"
        warnings.warn(
            f"{source}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at "
            f"{_position(raw, exc.start)}); read it as {enc}. If accented letters look wrong, pass "
            "the file's encoding (encoding='...', CLI --encoding, TOML encoding = \"...\")",
            DataWarning,
            stacklevel=6,
        )
        return raw.decode(enc)


def _delimiter(path: Path, header: str) -> str:
    if str(path).lower().endswith((".tsv", ".tsv.gz")):
        return "\t"
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _read_text(
    path: Path,
    options: ReadOptions,
    text_columns: Collection[str],
    dtype: Mapping[str, Any] | None,
    columns: list[str] | None,
    source: str,
) -> pd.DataFrame:
    raw = _read_bytes(path, source)
    text = _decode(raw, options.encoding, source)
    del raw
    if not text.strip():
        raise DataError("the file is empty (no header line)", source=source)
    first = text.split("\n", 1)[0]
    sep = _delimiter(path, first)
    header = next(csv.reader(io.StringIO(text), delimiter=sep))
    names = [h.strip() for h in header]
    _check_unique(names, source)
    names = [n if n else f"Unnamed: {i}" for i, n in enumerate(names)]
    if dtype is not None:
        text_cols = {c for c, t in dtype.items() if t in ("str", str, "string", "object")}
    else:
        text_cols = set(text_columns)
    usecols = [c for c in columns if c in names] if columns is not None else None
    if columns is not None and len(usecols or []) < len(columns):
        missing = [c for c in columns if c not in names]
        raise DataError(f"column(s) not found: {', '.join(missing)}", source=source)
    numeric = [n for n in (usecols or names) if n not in text_cols]
    kw: dict[str, Any] = {
        "sep": sep,
        "header": 0,
        "names": names,
        "usecols": usecols,
        "skipinitialspace": True,
        "low_memory": False,
    }
    fixed = options.decimal is not None
    choice = DecimalChoice(options.decimal or ".", "given" if fixed else "default")
    fast = sep == "," and choice.decimal == "."
    if fast:
        types = dict(dtype) if dtype is not None else {c: "str" for c in text_cols if c in names}
        frame = _csv(text, kw, types or None, source)
        still_text = [c for c in numeric if _is_text(frame[c])]
        if still_text and not fixed:
            choice = _choose({c: frame[c] for c in still_text}, sep, source)
            if choice.decimal == ",":
                fast = False  # decimal commas appear: every number must be re-read as text
        if fast:
            frame = to_numeric_columns(frame, still_text, choice.decimal)
    if not fast:
        frame = _csv(text, kw, "str", source)
        if dtype is not None:
            numeric = [c for c in numeric if c not in dtype]
        if not fixed:
            choice = _choose({c: frame[c] for c in numeric}, sep, source)
        frame = to_numeric_columns(frame, numeric, choice.decimal)
        if dtype is not None:
            frame = frame.astype({c: t for c, t in dtype.items() if c in frame.columns})
    _announce(choice, source)
    frame.attrs["decimal"] = choice.decimal
    frame.attrs["decimal_how"] = choice.how
    frame.attrs["delimiter"] = sep
    return frame


def _csv(text: str, kw: dict[str, Any], dtype: Any, source: str) -> pd.DataFrame:
    """pandas' reader, except that rows with one field more than the header are never shifted: a
    trailing delimiter on every row is dropped, an extra field with values is an error."""
    frame = pd.read_csv(io.StringIO(text), dtype=dtype, **kw)
    if isinstance(frame.index, pd.RangeIndex):
        return frame
    if frame.iloc[:, -1].isna().all():  # 'a;b;c;' rows under an 'a;b;c' header
        with warnings.catch_warnings():  # pandas warns of lost data: the lost field is empty
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
            return pd.read_csv(io.StringIO(text), dtype=dtype, index_col=False, **kw)
    raise DataError(
        f"the data rows have one field more than the header's {len(kw['names'])} (a column "
        "without a name, or a delimiter too many on every row); name the column or remove the "
        "extra delimiter",
        source=source,
    )


def _is_text(s: pd.Series) -> bool:
    return bool(pd.api.types.is_string_dtype(s) or pd.api.types.is_object_dtype(s))


def _choose(columns: Mapping[str, pd.Series], sep: str, source: str) -> DecimalChoice:
    """Detect the decimal mark; example rows are reported 1-based."""
    shifted = {
        c: pd.Series(s.to_numpy(), index=np.arange(1, len(s) + 1)) for c, s in columns.items()
    }
    try:
        return detect_decimal(shifted, sep)
    except MixedDecimalError as exc:
        (cc, cr, cv), (pc, pr, pv) = exc.comma, exc.point
        raise DataError(
            f"numbers use both decimal marks: '{cv}' (column '{cc}', row {cr}) has a decimal comma "
            f"and '{pv}' (column '{pc}', row {pr}) a decimal point; fix the file, or say which mark "
            "it uses: decimal=',' or decimal='.' (CLI --decimal, TOML decimal = \",\")",
            source=source,
            column=cc if cc == pc else f"{cc}, {pc}",
        ) from None


def _announce(choice: DecimalChoice, source: str) -> None:
    if choice.how != "guessed" or choice.example is None:
        return
    col, row, value = choice.example
    meaning = (
        "thousands separated by '.' and a decimal comma"
        if choice.decimal == ","
        else "thousands separated by ',' and a decimal point"
    )
    other = "." if choice.decimal == "," else ","
    warnings.warn(
        f"{source}: numbers such as '{value}' (column '{col}', row {row}) fit both decimal "
        f"conventions; read with {meaning}. If that is wrong pass decimal='{other}' "
        f'(CLI --decimal {other}, TOML decimal = "{other}")',
        DataWarning,
        stacklevel=5,
    )


# -- parquet, Excel, Stata -------------------------------------------------------------------------


def _read_parquet(path: Path, columns: list[str] | None, source: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        names = list(pq.read_schema(path).names)
    except Exception as exc:
        raise DataError(f"cannot read file ({type(exc).__name__}: {exc})", source=source) from exc
    _check_unique([str(n).strip() for n in names], source)
    frame = pd.read_parquet(path, columns=columns)
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _read_excel(
    path: Path,
    sheet: str | int | None,
    text_columns: Collection[str],
    options: ReadOptions,
    source: str,
) -> pd.DataFrame:
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - openpyxl is a dependency
        raise DataError(
            "reading .xlsx needs openpyxl (pip install openpyxl)", source=source
        ) from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise DataError(
            f"cannot read workbook ({type(exc).__name__}: {exc})", source=source
        ) from exc
    try:
        sheets = list(book.sheetnames)
        chosen = _pick_sheet(sheets, sheet, source)
        first = next(book[chosen].iter_rows(min_row=1, max_row=1, values_only=True), ())
    finally:
        book.close()
    names = ["" if v is None else str(v).strip() for v in first]
    if not any(names):
        raise DataError(f"sheet '{chosen}' has no header row (row 1 is empty)", source=source)
    _check_unique(names, source)
    names = [n if n else f"Unnamed: {i}" for i, n in enumerate(names)]
    types = {c: "str" for c in names if c in set(text_columns)}
    frame = pd.read_excel(path, sheet_name=chosen, engine="openpyxl", dtype=types or None)
    frame.columns = names[: frame.shape[1]]
    text = [c for c in frame.columns if c not in types and _is_text(frame[c])]
    if text:
        choice = (
            DecimalChoice(options.decimal, "given")
            if options.decimal
            else _choose({c: frame[c] for c in text}, ",", source)
        )
        _announce(choice, source)
        frame = to_numeric_columns(frame, text, choice.decimal)
        frame.attrs["decimal"] = choice.decimal
    frame.attrs["sheet"] = chosen
    frame.attrs["label"] = f"{source}#{chosen}" if len(sheets) > 1 else source
    return frame


def _pick_sheet(sheets: list[str], sheet: str | int | None, source: str) -> str:
    listed = ", ".join(repr(s) for s in sheets)
    if sheet is None:
        if len(sheets) > 1:
            warnings.warn(
                f"{source}: read the first sheet {sheets[0]!r} of {len(sheets)} ({listed}); "
                "name another with sheet='...' (CLI --sheet, TOML sheet = \"...\", or book.xlsx#Sheet)",
                DataWarning,
                stacklevel=6,
            )
        return sheets[0]
    if isinstance(sheet, int):
        if not 0 <= sheet < len(sheets):
            raise DataError(f"no sheet at position {sheet}; the sheets are {listed}", source=source)
        return sheets[sheet]
    if sheet not in sheets:
        raise DataError(f"no sheet named {sheet!r}; the sheets are {listed}", source=source)
    return sheet


def _read_stata(
    path: Path, columns: list[str] | None, labels: Collection[str] | None, source: str
) -> pd.DataFrame:
    try:
        frame = pd.read_stata(path, columns=columns, convert_categoricals=True)
    except ValueError as exc:
        if "label" not in str(exc).lower():
            raise
        warnings.warn(
            f"{source}: value labels could not be applied ({exc}); the codes are used",
            DataWarning,
            stacklevel=5,
        )
        frame = pd.read_stata(path, columns=columns, convert_categoricals=False)
    labelled = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    want_codes = [c for c in labelled if labels is not None and c not in labels]
    if want_codes:
        codes = pd.read_stata(path, columns=want_codes, convert_categoricals=False)
        for c in want_codes:
            frame[c] = codes[c].to_numpy()
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame
