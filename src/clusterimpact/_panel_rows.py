"""build_panel's row rules: ids, duplicates, required values, deflation, kept rows, exclusion log.

Each function is one section of :func:`clusterimpact.panel.build_panel`; the rules are documented in
the :mod:`clusterimpact.panel` module docstring. Membership timing is in
:mod:`clusterimpact._panel_members`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clusterimpact.errors import PanelError, describe_rows
from clusterimpact.io import MONEY_ROLES
from clusterimpact.kbo import validate_kbo

if TYPE_CHECKING:
    from clusterimpact.panel import PanelSpec

REASONS: dict[str, str] = {
    "missing_id": "blank firm id",
    "missing_year": "blank year",
    "bad_id": "enterprise number fails the mod-97 check",
    "outside_window": "year outside the study window",
    "duplicate": "exact duplicate of another row",
    "duplicate_conflict": "conflicting duplicate firm-year",
    "missing_va": "value added missing",
    "missing_emp": "employment missing",
    "nonpositive_va": "value added <= 0",
    "nonpositive_emp": "employment <= 0",
    "missing_deflator": "no deflator for sector and year",
    "too_few_years": "fewer usable years than min_years",
}
"""Exclusion reasons, in the order they are applied, with a short description."""
CODE = {r: i + 1 for i, r in enumerate(REASONS)}
NAMES = np.array(["", *REASONS], dtype=object)

PANEL_COLUMNS: tuple[str, ...] = (
    "firm_id",
    "year",
    "nace",
    "sector",
    "region",
    "founded",
    "age",
    "va",
    "emp",
    "capital",
    "materials",
    "wages",
    "turnover",
    "investment",
    "ln_va",
    "ln_emp",
    "ln_capital",
    "ln_materials",
    "ln_investment",
    "ln_wages",
    "ln_lp",
    "ln_kl",
    "cluster",
    "treat_year",
    "rel_year",
    "member",
    "member_years",
    "ever_member",
    "has_pre_year",
)
"""Columns of ``FirmPanel.data``, in order (the FirmPanel contract)."""

EXCLUSION_COLUMNS: tuple[str, ...] = ("source", "row", "firm_id", "year", "reason", "detail")
LOGGED = ("va", "emp", "capital", "materials", "investment", "wages")
LIMITS = {"emp": 1e7, **{r: 1e15 for r in MONEY_ROLES}}
"""Largest plausible values (EUR, FTE): above them the builder warns (a unit or typing error)."""


@dataclass
class Marks:
    """The exclusion code of every input row (0 = kept) and the details some reasons carry."""

    code: np.ndarray
    extra_detail: dict[int, np.ndarray] = field(default_factory=dict)

    def mark(self, mask: np.ndarray, reason: str) -> np.ndarray:
        """Give ``reason`` to the rows in ``mask`` that have none yet; those rows."""
        m = mask & (self.code == 0)
        self.code[m] = CODE[reason]
        return m


@dataclass(frozen=True)
class Ids:
    """Firm ids as used (normalised), their integer codes in sorted id order, and the years."""

    ids: pd.Series
    fcode: np.ndarray
    funiq: Any
    year: np.ndarray


def mark_ids(acc: pd.DataFrame, spec: PanelSpec, marks: Marks, flags: dict[str, Any]) -> Ids:
    """Bad enterprise numbers, blank ids and years, and years outside the window."""
    code = marks.code
    ids = acc["firm_id"]
    if spec.id_type == "kbo":
        norm, valid = validate_kbo(ids)
        flags["accounts_ids_rewritten"] = _rewritten(ids, norm)
        ids = norm
        bad = ids.notna().to_numpy() & ~valid
        flags["bad_ids"] = sorted(pd.unique(ids[bad]).tolist())
        flags["bad_id_rows"] = [jsonable(r) for r in acc.index[bad]]
        if spec.exclude_bad_ids:
            code[bad] = CODE["bad_id"]
    # integer firm codes in sorted id order: sorting, grouping and lookups run on ints
    fcode, funiq = pd.factorize(ids, sort=True, use_na_sentinel=True)
    fcode = fcode.astype(np.int64)
    year = acc["year"].to_numpy(dtype=float)
    blank_id = fcode < 0
    blank_year = ~np.isfinite(year)
    # a blank id or year outranks a bad id (the documented order): move those rows back
    code[blank_id] = CODE["missing_id"]
    code[~blank_id & blank_year] = CODE["missing_year"]
    out_win = np.zeros(len(acc), dtype=bool)
    if spec.start is not None:
        out_win |= year < spec.start
    if spec.end is not None:
        out_win |= year > spec.end
    marks.mark(out_win & np.isfinite(year), "outside_window")
    return Ids(ids=ids, fcode=fcode, funiq=funiq, year=year)


def mark_duplicates(
    acc: pd.DataFrame,
    k: Ids,
    spec: PanelSpec,
    marks: Marks,
    flags: dict[str, Any],
    src: str,
    *,
    raise_conflicts: bool = True,
) -> None:
    """Exact copies (``duplicate``) and conflicting firm-years (error, or ``duplicate_conflict``).

    ``raise_conflicts=False`` (the Dask build, one partition of the firms at a time) lists the
    conflicts in ``flags["conflicting_duplicates"]`` instead of raising, so that the client raises one
    :func:`conflict_error` naming all of them.
    """
    n = len(acc)
    work = acc.assign(firm_id=k.ids)
    cand = marks.code == 0
    cand_pos = np.flatnonzero(cand)
    key = k.fcode[cand] * 4096 + (k.year[cand].astype(np.int64) - 1700)
    dupmask = _duplicated_any(key)
    if not dupmask.any():
        return
    pos = cand_pos[dupmask]
    sub = work.iloc[pos].reset_index(drop=True)
    sub["_pos"] = pos
    cols = list(work.columns)
    exact = sub.duplicated(cols, keep="first").to_numpy()
    first_pos = sub.groupby(cols, dropna=False, sort=False)["_pos"].transform("first").to_numpy()
    m = marks.mark(np.isin(np.arange(n), pos[exact]), "duplicate")
    if m.any():
        marks.extra_detail[CODE["duplicate"]] = _pos_to_label(acc, first_pos[exact])
    rest = sub[~exact]
    conf = rest.duplicated(["firm_id", "year"], keep=False).to_numpy()
    if conf.any():
        _conflicts(acc, rest, conf, spec, marks, flags, src, raise_conflicts)


def conflict_error(conflicts: list[tuple[str, int, list[Any]]], src: str) -> PanelError:
    """The error for conflicting firm-years ``(firm, year, row labels)``, sorted by firm and year."""
    shown = "; ".join(
        f"firm {f} year {y}: rows {describe_rows(r, 5)}" for f, y, r in conflicts[:10]
    )
    more = f" ... ({len(conflicts)} firm-years in all)" if len(conflicts) > 10 else ""
    return PanelError(
        f"{len(conflicts)} firm-year(s) occur more than once with different values: "
        f"{shown}{more}. Fix the file, or pass PanelSpec(duplicates='first'|'drop')",
        source=src,
        column="firm_id, year",
        rows=[r for _, _, rows in conflicts for r in rows],
    )


def _conflicts(
    acc: pd.DataFrame,
    rest: pd.DataFrame,
    conf: np.ndarray,
    spec: PanelSpec,
    marks: Marks,
    flags: dict[str, Any],
    src: str,
    raise_conflicts: bool,
) -> None:
    """Firm-years with different values: a PanelError, or the first / all excluded."""
    conflicts: list[tuple[str, int, list[Any]]] = []
    cr: Any = rest[conf]
    for (fid, yr), grp in cr.groupby(["firm_id", "year"], sort=True):
        conflicts.append((str(fid), int(yr), list(acc.index[grp["_pos"].to_numpy()])))
    if spec.duplicates == "error" and raise_conflicts:
        raise conflict_error(conflicts, src)
    if spec.duplicates == "first":
        drop = rest.duplicated(["firm_id", "year"], keep="first").to_numpy()
    else:
        drop = conf
    cpos = rest["_pos"].to_numpy()[drop]
    cfirst = rest.groupby(["firm_id", "year"], sort=False)["_pos"].transform("first").to_numpy()
    m = marks.mark(np.isin(np.arange(len(acc)), cpos), "duplicate_conflict")
    if m.any():
        marks.extra_detail[CODE["duplicate_conflict"]] = _pos_to_label(acc, cfirst[drop])
    flags["conflicting_duplicates"] = [
        {"firm_id": f, "year": y, "rows": [jsonable(r) for r in r_]} for f, y, r_ in conflicts
    ]


@dataclass(frozen=True)
class Rows:
    """build_panel's rows before membership: kept frame, exclusion log, and how they map to the input.

    ``kcode`` are the kept rows' firm codes into ``ids.funiq``, ``take`` their positions in the
    accounts, ``code`` every input row's exclusion code (0 = kept).
    """

    data: pd.DataFrame
    exclusions: pd.DataFrame
    kcode: np.ndarray
    ids: Ids
    take: np.ndarray
    code: np.ndarray


def build_rows(
    acc: pd.DataFrame,
    defl: pd.DataFrame | None,
    spec: PanelSpec,
    flags: dict[str, Any],
    src: str,
    *,
    raise_conflicts: bool = True,
) -> Rows:
    """The row rules of :func:`~clusterimpact.panel.build_panel` on accounts already read.

    Ids, duplicates, required values, deflation and ``min_years``, in the documented order; then the
    exclusion log and the kept rows sorted by firm and year. The in-memory build runs it on the whole
    input, the Dask build on each partition of whole firms (``raise_conflicts=False``: see
    :func:`mark_duplicates`).
    """
    n = len(acc)
    marks = Marks(code=np.zeros(n, dtype=np.int8))
    k = mark_ids(acc, spec, marks, flags)
    mark_duplicates(acc, k, spec, marks, flags, src, raise_conflicts=raise_conflicts)
    va = acc["va"].to_numpy(dtype=float)
    emp = acc["emp"].to_numpy(dtype=float)
    marks.mark(~np.isfinite(va), "missing_va")
    marks.mark(~np.isfinite(emp), "missing_emp")
    marks.mark(va <= 0, "nonpositive_va")
    marks.mark(emp <= 0, "nonpositive_emp")
    sector = acc["nace"].str.slice(0, 2)
    levels = deflate(acc, defl, sector, k.year, spec, marks, flags)
    if spec.min_years > 1:
        ok = marks.code == 0
        per_firm = np.bincount(k.fcode[ok], minlength=len(k.funiq))
        marks.mark(
            (k.fcode >= 0) & (per_firm[np.maximum(k.fcode, 0)] < spec.min_years), "too_few_years"
        )
    exclusions = exclusion_log(
        acc, k.ids, k.year, marks.code, marks.extra_detail, sector, spec, src
    )
    data, kcode, take = kept_frame(acc, k, marks.code == 0, sector, levels, flags)
    return Rows(data, exclusions, kcode, k, take, marks.code)


def finish_columns(
    data: pd.DataFrame, acc: pd.DataFrame, take: np.ndarray, extra: Sequence[str]
) -> pd.DataFrame:
    """The panel's columns in contract order (:data:`PANEL_COLUMNS`), then the ``extra`` ones."""
    for c in extra:
        data[str(c)] = acc[str(c)].take(take).to_numpy()
    return data[[*PANEL_COLUMNS, *(str(c) for c in extra)]]


def deflate(
    acc: pd.DataFrame,
    defl: pd.DataFrame | None,
    sector: pd.Series,
    year: np.ndarray,
    spec: PanelSpec,
    marks: Marks,
    flags: dict[str, Any],
) -> dict[str, np.ndarray]:
    """Monetary levels divided by their sector x year deflator / base (``missing_deflator`` else)."""
    levels = {r: acc[r].to_numpy(dtype=float) for r in MONEY_ROLES}
    if defl is None:
        flags["deflated"] = False
        return levels
    n = len(acc)
    base = spec.deflator_base
    if base is None:
        base = 100.0 if float(np.median(defl["deflator"])) > 10 else 1.0
    scode, suniq = pd.factorize(sector, use_na_sentinel=True)
    dcode = pd.Index(suniq).get_indexer(defl["sector"])
    yr_int = np.where(np.isfinite(year), year, 0).astype("int64")
    acc_key = np.where(scode >= 0, scode.astype(np.int64) * 4096 + (yr_int - 1700), -1)
    known = np.flatnonzero(dcode >= 0)  # deflator sectors that occur in the accounts
    defl_key = dcode[known].astype(np.int64) * 4096 + (
        defl["year"].to_numpy(dtype=np.int64)[known] - 1700
    )
    hit = pd.Index(defl_key).get_indexer(acc_key)
    where = np.full(n, -1, dtype=np.int64)
    where[hit >= 0] = known[hit[hit >= 0]]
    wild = np.flatnonzero((defl["sector"] == "*").to_numpy(dtype=bool))
    if wild.size:  # economy-wide deflators for sectors the table does not list
        by_year = pd.Index(defl["year"].to_numpy(dtype=np.int64)[wild]).get_indexer(yr_int)
        fallback = np.full(n, -1, dtype=np.int64)
        fallback[by_year >= 0] = wild[by_year[by_year >= 0]]
        where = np.where(where >= 0, where, fallback)
        where = np.where(np.isfinite(year), where, -1)
    marks.mark(where < 0, "missing_deflator")
    general = defl["deflator"].to_numpy(dtype=float)
    safe = np.maximum(where, 0)
    for r in MONEY_ROLES:
        d = general
        col = f"deflator_{r}"
        if col in defl.columns:
            d = np.where(np.isnan(defl[col].to_numpy(dtype=float)), general, defl[col].to_numpy())
        factor = np.where(where >= 0, d[safe] / base, np.nan)
        levels[r] = levels[r] / factor
    flags["deflated"] = True
    flags["deflator_base"] = base
    return levels


def kept_frame(
    acc: pd.DataFrame,
    k: Ids,
    keep: np.ndarray,
    sector: pd.Series,
    levels: Mapping[str, np.ndarray],
    flags: dict[str, Any],
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The kept rows sorted by firm and year with levels, age and logs.

    Returns the frame, the rows' firm codes and their positions in the accounts.
    """
    kcode = k.fcode[keep]
    kyear = k.year[keep].astype("int64")
    order = np.lexsort((kyear, kcode))
    kcode = kcode[order]
    data = pd.DataFrame({"firm_id": str_array(k.funiq.take(kcode)), "year": kyear[order]})
    take = np.flatnonzero(keep)[order]
    data["nace"] = take_str(acc["nace"], take)
    data["sector"] = take_str(sector, take)
    data["region"] = take_str(acc["region"], take)
    founded = acc["founded"].to_numpy(dtype=float)[take]
    data["founded"] = pd.array(
        np.where(np.isfinite(founded), founded, 0).astype("int64"), dtype="Int64"
    )
    data.loc[~np.isfinite(founded), "founded"] = pd.NA
    age = data["year"].to_numpy(dtype=float) - founded
    neg = age < 0
    if neg.any():
        flags["negative_age"] = int(neg.sum())
    data["age"] = np.where(neg, np.nan, age)
    for r in ("va", "emp", "capital", "materials", "wages", "turnover", "investment"):
        v = levels[r][take] if r in levels else acc[r].to_numpy(dtype=float)[take]
        data[r] = v
    und: dict[str, int] = {}
    for r in LOGGED:
        v = data[r].to_numpy()
        ok = np.isfinite(v) & (v > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            data[f"ln_{r}"] = np.where(ok, np.log(np.where(ok, v, 1.0)), np.nan)
        if r not in ("va", "emp"):
            bad_n = int((~ok).sum())
            if bad_n:
                und[f"ln_{r}"] = bad_n
    flags["ln_undefined"] = und
    data["ln_lp"] = data["ln_va"] - data["ln_emp"]
    data["ln_kl"] = data["ln_capital"] - data["ln_emp"]
    return data, kcode, take


def _duplicated_any(key: np.ndarray) -> np.ndarray:
    """True where an int key occurs more than once (sort-based, like duplicated(keep=False))."""
    out = np.zeros(len(key), dtype=bool)
    if len(key) < 2:
        return out
    order = np.argsort(key, kind="stable")
    sk = key[order]
    eq = sk[1:] == sk[:-1]
    out[order] = np.r_[eq, False] | np.r_[False, eq]
    return out


def take_str(s: pd.Series, pos: np.ndarray) -> Any:
    """``s`` at positions ``pos`` as a string array (Arrow take, no Python objects)."""
    return pd.array(s.take(pos).array, dtype="str")


def str_array(values: Any) -> Any:
    """A pandas string array from an Index or array (Arrow-backed values are not copied out)."""
    return pd.array(values, dtype="str")


def _take_obj(s: pd.Series, pos: np.ndarray) -> np.ndarray:
    vals: Any = s.take(pos)
    return np.asarray(vals.to_numpy(dtype=object, na_value=None), dtype=object)


def _rewritten(raw: pd.Series, norm: pd.Series) -> dict[str, Any]:
    """Distinct ids whose written form the KBO normalisation changed: count and examples."""
    changed = (raw.notna() & (raw.astype("str") != norm.astype("str"))).to_numpy(dtype=bool)
    pairs = pd.DataFrame({"raw": raw[changed], "new": norm[changed]}).drop_duplicates("raw")
    return {"count": len(pairs), "examples": pairs.head(5).to_numpy().tolist()}


def jsonable(v: Any) -> Any:
    """A numpy integer as a Python int (JSON-able); other values as they are."""
    if isinstance(v, np.integer):
        return int(v)
    return v


def _pos_to_label(acc: pd.DataFrame, pos: np.ndarray) -> np.ndarray:
    return np.asarray(acc.index.to_numpy()[pos], dtype=object)


def exclusion_log(
    acc: pd.DataFrame,
    ids: pd.Series,
    year: np.ndarray,
    code: np.ndarray,
    extra: Mapping[int, np.ndarray],
    sector: pd.Series,
    spec: PanelSpec,
    src: str,
) -> pd.DataFrame:
    """One row per excluded input row: source, row, firm_id, year, reason and a readable detail."""
    excl = np.flatnonzero(code != 0)
    c = code[excl]
    yr = year[excl]
    detail = np.full(len(excl), "", dtype=object)

    def fmt(values: np.ndarray) -> np.ndarray:
        return np.array([f"{v:g}" for v in values], dtype=object)

    for reason, k in CODE.items():
        sel = c == k
        if not sel.any():
            continue
        rows = excl[sel]
        if reason == "missing_id":
            d = np.full(sel.sum(), "firm_id is blank", dtype=object)
        elif reason == "missing_year":
            d = np.full(sel.sum(), "year is blank", dtype=object)
        elif reason == "bad_id":
            d = "'" + _take_obj(ids, rows).astype(str).astype(object) + "' fails the mod-97 check"
        elif reason == "outside_window":
            d = (
                "year "
                + yr[sel].astype(int).astype(str).astype(object)
                + f" outside {spec.start or '...'}-{spec.end or '...'}"
            )
        elif reason == "duplicate":
            d = "exact copy of row " + extra[k].astype(str).astype(object)
        elif reason == "duplicate_conflict":
            d = "same firm-year as row " + extra[k].astype(str).astype(object) + ", other values"
        elif reason in ("missing_va", "missing_emp"):
            d = np.full(sel.sum(), f"{reason[8:]} is blank or not finite", dtype=object)
        elif reason in ("nonpositive_va", "nonpositive_emp"):
            var = reason[12:]
            d = f"{var} = " + fmt(acc[var].to_numpy(dtype=float)[rows])
        elif reason == "missing_deflator":
            s = _take_obj(sector, rows)
            s = np.where(pd.isna(s), "(no NACE code)", s).astype(object)
            d = (
                "no deflator for sector "
                + s
                + " in "
                + yr[sel].astype(int).astype(str).astype(object)
            )
        else:  # too_few_years
            d = np.full(
                sel.sum(), f"fewer than min_years={spec.min_years} usable years", dtype=object
            )
        detail[sel] = d
    yint = np.where(np.isfinite(yr), yr, 0).astype("int64")
    out = pd.DataFrame(
        {
            "source": pd.array(np.full(len(excl), src, dtype=object), dtype="str"),
            "row": acc.index.to_numpy()[excl],
            "firm_id": take_str(ids, excl),
            "year": pd.array(yint, dtype="Int64"),
            "reason": pd.array(NAMES[c], dtype="str"),
            "detail": pd.array(detail, dtype="str"),
        }
    )
    out.loc[~np.isfinite(yr), "year"] = pd.NA
    return out
