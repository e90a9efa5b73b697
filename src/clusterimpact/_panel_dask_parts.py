"""The Dask panel build's tasks: one input file read, one partition of whole firms built, flags merged.

Each task calls the in-memory builder's own steps (:func:`~clusterimpact.io.read_accounts`,
:func:`~clusterimpact._panel_rows.build_rows`, :func:`~clusterimpact._panel_members.apply_registry`);
what travels back to the client are small statistics: warnings and errors (re-issued there), the
accounts ids the registry can link to, counts, and the flags of :class:`~clusterimpact.panel.FirmPanel`
merged by :func:`merge_flags` into what the in-memory build records for the whole input.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact._panel_members import LinkedRegistry, apply_registry, no_registry
from clusterimpact._panel_rows import (
    LIMITS,
    LOGGED,
    REASONS,
    build_rows,
    conflict_error,
    finish_columns,
)
from clusterimpact._validation import check_values
from clusterimpact.errors import DataError, SpecError
from clusterimpact.ids import id_key
from clusterimpact.io import read_accounts
from clusterimpact.kbo import validate_kbo

__all__ = ["FileRead", "ReadArgs", "build_part", "merge_flags", "read_part", "string_hashes"]

# bookkeeping columns of the shuffled input: input file, its row label, the normalised firm id
FILE, ROW, FID = "_file", "_row", "_fid"


def string_hashes(values: Any) -> np.ndarray:
    """64-bit hashes of strings, the same in every process (pandas' fixed-key SipHash)."""
    return pd.util.hash_array(np.asarray(values, dtype=object))


def hashed_in(values: Any, table: np.ndarray) -> np.ndarray:
    """Whether each string's hash is in the sorted hash ``table``.

    A hash shared by two different strings (a chance of about n / 2**64) can only add an id that
    then fails the exact comparison of :func:`~clusterimpact._panel_members.link_registry`.
    """
    h = string_hashes(values)
    if not len(table):
        return np.zeros(len(h), dtype=bool)
    at = np.minimum(np.searchsorted(table, h), len(table) - 1)
    return np.asarray(table[at] == h, dtype=bool)


@dataclass(frozen=True)
class ReadArgs:
    """How every accounts file is read (the arguments of :func:`~clusterimpact.io.read_accounts`)."""

    columns: Any
    preset: Any
    extra: tuple[str, ...]
    decimal: str | None
    encoding: str | None
    id_type: str
    #: sorted 64-bit hashes of the registry's ids and of their keys (:func:`string_hashes`): 8 bytes an
    #: id on every worker, looked up in O(log n) (a set of Python strings costs ~100 bytes an id, and
    #: pandas' ``isin`` against it turns the whole set into an array for every file)
    registry_ids: np.ndarray
    registry_keys: np.ndarray
    storage_options: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class FileRead:
    """What a read task returns to the client (the frame itself stays on the worker)."""

    source: str
    rows: int
    warnings: list[tuple[type[Warning], str]]
    error: DataError | None
    linkable: list[str]
    smallest: list[str]
    preset_notes: dict[str, str]
    empty: pd.DataFrame | None
    #: the Arrow type of each column of Python objects (a Parquet decimal, bytes; null: no value)
    objects: dict[str, Any] = field(default_factory=dict)


def _open(path: str, remote: bool, args: ReadArgs, source: str) -> Any:
    """A local path as it is; a remote Parquet file (fsspec URL) read into a frame with 1-based rows."""
    if not remote:
        return path
    if not path.lower().endswith((".parquet", ".pq")):
        raise DataError("remote inputs (fsspec URLs) are read as Parquet only", source=source)
    import fsspec

    with fsspec.open(path, "rb", **dict(args.storage_options or {})) as fh:
        raw = pd.read_parquet(fh)
    raw.columns = [str(c).strip() for c in raw.columns]
    raw.index = pd.RangeIndex(1, len(raw) + 1, name="row")
    return raw


def read_part(
    index: int, path: Any, remote: bool, args: ReadArgs
) -> tuple[pd.DataFrame | None, FileRead]:
    """Read one accounts file (or frame) as the in-memory build does; the frame and its statistics.

    The frame gets the bookkeeping columns ``_file`` (``index``), ``_row`` (the row label) and
    ``_fid`` (the firm id as the panel will write it: the shuffle key, blank ids as ``""``).
    """
    source = path if isinstance(path, str) else "data frame"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            given = _open(path, remote, args, source) if isinstance(path, str) else path
            acc = read_accounts(
                given,
                args.columns,
                args.preset,
                source=source if remote else None,
                extra=args.extra,
                decimal=args.decimal,
                encoding=args.encoding,
            )
            source = str(acc.attrs.get("source", source))
            check_values(acc, list(LIMITS), source=source, limits=LIMITS)
        except (DataError, SpecError) as exc:
            err = exc if isinstance(exc, DataError) else DataError(str(exc), source=source)
            shown = [(w.category, str(w.message)) for w in caught]
            return None, FileRead(source, 0, shown, err, [], [], {}, None)
    objects, error = object_types(acc, source)
    if error is not None:
        return None, FileRead(source, 0, [(w.category, str(w.message)) for w in caught], error, [],
                              [], {}, None)  # fmt: skip
    ids = acc["firm_id"]
    fid = validate_kbo(ids)[0] if args.id_type == "kbo" else ids
    uniq = pd.Index(pd.unique(fid.dropna())).astype("str")
    keys = id_key(pd.Series(uniq, dtype="str"))
    keyed = keys.notna().to_numpy(dtype=bool)
    can_link = hashed_in(uniq, args.registry_ids)
    can_link[keyed] |= hashed_in(keys[keyed], args.registry_keys)
    frame = acc.reset_index(drop=True)
    frame[FILE] = np.int32(index)
    frame[ROW] = acc.index.to_numpy()
    frame[FID] = pd.array(fid.fillna("").to_numpy(), dtype="str")
    stats = FileRead(
        source=source,
        rows=len(acc),
        warnings=[(w.category, str(w.message)) for w in caught],
        error=None,
        linkable=[str(i) for i in uniq[can_link]],
        smallest=[str(i) for i in uniq.sort_values()[:3]],
        preset_notes=dict(acc.attrs.get("preset_notes") or {}),
        empty=no_rows(frame),
        objects=objects,
    )
    return frame, stats


def no_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``'s columns and dtypes, no rows and no reference to its data.

    Not ``frame.iloc[:0].copy()``: an empty slice of an Arrow-backed column (text) still holds the
    column's buffers, and a read task's result waits on its worker until every file is read (at
    5 x 10^7 firm-years that kept about 15 MB a file alive, 1.3 GB a worker).
    """
    return pd.DataFrame(
        {c: pd.Series([], dtype=frame[c].dtype) for c in frame.columns}, columns=frame.columns
    )


def object_types(frame: pd.DataFrame, source: str) -> tuple[dict[str, Any], DataError | None]:
    """The Arrow type of each column of Python objects in ``frame`` (null: no value in it), or the
    error naming the first column the Dask build cannot move unchanged.

    The Dask build moves rows between workers and writes them through Arrow, one type a column. Two
    kinds of object column (possible in a data frame, not read from Parquet) would fail or change on
    the way, so they are refused here, by name: values of no one type (numbers and text), and whole
    numbers or booleans with missing values (Arrow would bring them back as floats).
    """
    import pyarrow as pa

    out: dict[str, Any] = {}
    for name in [c for c in frame.columns if pd.api.types.is_object_dtype(frame[c].dtype)]:
        try:
            arr = pa.array(frame[name].to_numpy(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            return out, DataError(
                f"the values have no one type ({exc}); the Dask build moves and writes every "
                "column with one type: cast it to text or numbers first, or build in memory "
                "(backend='memory')",
                source=source,
                column=str(name),
            )
        if arr.null_count and (pa.types.is_integer(arr.type) or pa.types.is_boolean(arr.type)):
            return out, DataError(
                f"whole numbers or booleans with missing values stored as Python objects ({arr.type} "
                "with nulls): the Dask build would bring them back as floats; cast the column to "
                "'Int64' or 'boolean' first, or build in memory (backend='memory')",
                source=source,
                column=str(name),
            )
        out[str(name)] = arr.type
    return out, None


def build_part(
    part: pd.DataFrame,
    defl: pd.DataFrame | None,
    spec: Any,
    linked: LinkedRegistry | None,
    extra: Sequence[str],
    sources: Sequence[str],
    src: str,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """One partition of whole firms through the in-memory row rules and membership.

    Rows are first put back in input order (file, then row), so "the first copy" of a duplicate is the
    in-memory build's. Returns the kept rows (sorted by firm and year), their exclusion log (``source``
    the file, ``row`` its 1-based row) and the partition's statistics.
    """
    part = part.sort_values([FILE, ROW], kind="stable")
    files = part[FILE].to_numpy(dtype=np.int64)
    rows = part[ROW].to_numpy()
    acc = part.drop(columns=[FILE, ROW, FID])
    if len(sources) == 1:
        acc.index = pd.Index(rows, name="row")
    else:  # several files: a row is named by its file and its row there
        names = pd.Series(np.asarray(sources, dtype=object)[files], dtype="str")
        acc.index = pd.Index(names + ":" + pd.Series(rows).astype("str"), name="row")
    flags: dict[str, Any] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        built = build_rows(acc, defl, spec, flags, src, raise_conflicts=False)
        if linked is None:
            no_registry(built.data, flags)
        else:
            apply_registry(
                built.data, built.kcode, pd.Index(built.ids.funiq), linked, spec, flags, whole=False
            )
    data = finish_columns(built.data, acc, built.take, extra)
    excl = built.exclusions
    pos = np.flatnonzero(built.code != 0)
    excl["source"] = pd.array(np.asarray(sources, dtype=object)[files[pos]], dtype="str")
    excl["row"] = rows[pos]
    bad = flags.pop("bad_id_rows", None)
    if bad is not None:  # ordered over partitions by (file, row), as the input is
        at: Any = acc.index.get_indexer(pd.Index(bad, dtype=acc.index.dtype)) if bad else []
        flags["_bad_id_at"] = [((int(files[i]), rows[i]), b) for i, b in zip(at, bad, strict=True)]
    firms = data.drop_duplicates("firm_id")
    members = firms[firms["ever_member"]]
    stats = {
        "flags": flags,
        "warnings": [(w.category, str(w.message)) for w in caught],
        "nobs": len(data),
        "n_firms": len(firms),
        "n_members": len(members),
        "n_pre": int(firms["has_pre_year"].sum()),
        "years": (int(data["year"].min()), int(data["year"].max())) if len(data) else None,
        "cohorts": Counter(int(y) for y in members["treat_year"]),
        "exclusions": Counter(excl["reason"].tolist()),
    }
    return data, excl, stats


def _window(spec: Any, years: tuple[int, int] | None) -> tuple[int | None, int | None]:
    lo = spec.start if spec.start is not None else (years[0] if years else None)
    hi = spec.end if spec.end is not None else (years[1] if years else None)
    return lo, hi


def merge_flags(
    parts: Sequence[Mapping[str, Any]],
    spec: Any,
    years: tuple[int, int] | None,
    src: str,
    registry_ids: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """The in-memory build's flags from the partitions' (each firm counted in its one partition).

    ``registry_ids``: the linked registry's ids (those no partition found are ``registry_ids_absent``).

    Raises the :class:`~clusterimpact.errors.PanelError` of conflicting firm-years, naming all of them,
    under ``duplicates="error"``.
    """
    fl = [p["flags"] for p in parts]
    out: dict[str, Any] = {}
    conflicts = sorted(
        (c for f in fl for c in f.get("conflicting_duplicates", [])),
        key=lambda c: (c["firm_id"], c["year"]),
    )
    if conflicts and spec.duplicates == "error":
        raise conflict_error([(c["firm_id"], c["year"], c["rows"]) for c in conflicts], src)
    if conflicts:
        out["conflicting_duplicates"] = conflicts
    if any("accounts_ids_rewritten" in f for f in fl):
        rew = [f["accounts_ids_rewritten"] for f in fl if "accounts_ids_rewritten" in f]
        out["accounts_ids_rewritten"] = {
            "count": sum(r["count"] for r in rew),
            "examples": [e for r in rew for e in r["examples"]][:5],
        }
        out["bad_ids"] = sorted({i for f in fl for i in f.get("bad_ids", [])})
        out["bad_id_rows"] = [b for _, b in sorted(x for f in fl for x in f.get("_bad_id_at", []))]
    for key in ("deflated", "deflator_base"):
        if key in fl[0]:
            out[key] = fl[0][key]
    neg = sum(f.get("negative_age", 0) for f in fl)
    if neg:
        out["negative_age"] = neg
    und: Counter[str] = Counter()
    for f in fl:
        und.update(f.get("ln_undefined", {}))
    out["ln_undefined"] = {f"ln_{r}": und[f"ln_{r}"] for r in LOGGED if und.get(f"ln_{r}")}
    inside = [f["registry_ids_inside"] for f in fl if "registry_ids_inside" in f]
    if inside:  # absent: the registry ids found in no partition
        if registry_ids is None:
            raise ValueError(
                "merge_flags needs the registry's ids to tell which were found nowhere"
            )
        found: set[str] = set().union(*inside)
        out["registry_ids_absent"] = sorted({str(i) for i in registry_ids} - found)
    else:
        absent = [set(f.get("registry_ids_absent", [])) for f in fl]
        out["registry_ids_absent"] = sorted(set.intersection(*absent)) if absent else []
    for key in ("registry_ids_all_excluded", "members_without_pre_year"):
        out[key] = sorted({i for f in fl for i in f.get(key, [])})
    for key in ("rejoining_firms", "multi_cluster_firms"):
        if key in fl[0]:
            out[key] = sum(int(f[key]) for f in fl)
    lo, hi = _window(spec, years)
    if "rejoining_firms" in fl[0] and lo is not None and hi is not None:
        cohorts: Counter[int] = Counter()
        for p in parts:
            cohorts.update(p["cohorts"])
        out["joins_before_window"] = sum(n for y, n in cohorts.items() if y < lo)
        out["joins_after_window"] = sum(n for y, n in cohorts.items() if y > hi)
    return out


def exclusion_counts(parts: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Excluded rows by reason over all partitions, in the order of ``REASONS`` (zeros omitted)."""
    total: Counter[str] = Counter()
    for p in parts:
        total.update(p["exclusions"])
    return {r: int(total[r]) for r in REASONS if total.get(r)}
