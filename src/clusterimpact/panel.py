"""Firm-year panels from annual accounts and a membership registry: :func:`build_panel` -> :class:`FirmPanel`.

A :class:`FirmPanel` holds one validated row per firm and year with real (deflated) levels, their logs,
and the membership timing every estimator needs (``treat_year``, ``rel_year``, ``member``,
``member_years``). Nothing is dropped silently: every input row is either in ``FirmPanel.data`` or in
``FirmPanel.exclusions`` with its reason (``rows in = rows kept + rows excluded``).

Exclusion reasons (each row gets the first that applies, in this order)
-----------------------------------------------------------------------
``missing_id``          blank firm id
``missing_year``        blank year
``bad_id``              enterprise number fails the KBO/BCE mod-97 check (only with ``id_type="kbo"`` and
                        ``exclude_bad_ids=True``; otherwise bad ids are only reported in ``flags``)
``outside_window``      year before ``PanelSpec.start`` or after ``PanelSpec.end``
``duplicate``           exact copy of an earlier row for the same firm-year (the first copy is kept)
``duplicate_conflict``  same firm-year as another row with different values (only with
                        ``duplicates="first"`` or ``"drop"``; the default ``"error"`` raises
                        :class:`~clusterimpact.errors.PanelError` listing them)
``missing_va``          value added missing (or not finite)
``missing_emp``         employment missing (or not finite)
``nonpositive_va``      value added <= 0 (its log, and labour productivity, are undefined)
``nonpositive_emp``     employment <= 0
``missing_deflator``    deflation requested and no deflator for the row's sector and year (or no NACE
                        code), nor an economy-wide one for that year
``too_few_years``       the firm has fewer than ``PanelSpec.min_years`` usable years

Capital, materials, wages and investment are not required: where they are missing or <= 0 the row is
kept and only the log is NaN (labour productivity does not need capital); ``flags["ln_undefined"]``
counts those rows per variable, and TFP estimators report their own sample.

Membership
----------
A firm is a member in year t iff ``join_year <= t < exit_year`` for some registry spell (the exit year is
not a membership year; a blank exit means still a member). Spells of the same firm in several clusters
are merged in time; ``treat_year`` is the first join year over all clusters and ``cluster`` the cluster of
that first spell (ties broken by join date, then cluster name); the full set is in
``FirmPanel.memberships``. ``member_years`` counts calendar years of membership up to and including t,
whether or not the firm filed accounts in each of them (so a gap in the accounts does not reset it); it
stops growing after an exit and continues on a re-join. A spell that starts and ends in the same
calendar year (joined in March, left in November) counts as one membership year, its join year: the join
year always counts, whatever the month, and ignoring the spell would make a firm that did join a
control. Such spells are listed in ``flags["same_year_spells"]`` (registry rows) and announced with a
:class:`~clusterimpact.errors.DataWarning`.

Firm identifiers
----------------
Registry ids are linked to accounts ids by the one rule of :mod:`clusterimpact.ids` (as written, else
through a key that reads enterprise-number-like ids by their digits; one to one only);
``flags["id_match"]`` records the share of registry firms found in the accounts (summary line, CLI output). Below 90 % a
warning names unmatched ids and the likely fix; none found is a :class:`~clusterimpact.errors.DataError`.
Cluster names that differ only in case or spacing are one cluster (``flags["cluster_names_merged"]``).

Implausible values
------------------
Infinite monetary or employment values, money above 1e15 and employment above 1e7 give a
:class:`~clusterimpact.errors.DataWarning` naming the column and file rows (infinite required values are
also excluded as ``missing_va``/``missing_emp``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from clusterimpact._validation import check_choice, check_values
from clusterimpact.errors import DataWarning, PanelError, SpecError, describe_rows
from clusterimpact.ids import IdMatch, link_registry_ids
from clusterimpact.io import (
    MONEY_ROLES,
    ColumnsArg,
    PathLike,
    read_accounts,
    read_deflators,
    read_registry,
    write_table,
)
from clusterimpact.kbo import validate_kbo
from clusterimpact.presets import NBBPreset

__all__ = [
    "EXCLUSION_COLUMNS",
    "PANEL_COLUMNS",
    "REASONS",
    "DuplicatePolicy",
    "FirmPanel",
    "IdType",
    "PanelSpec",
    "build_panel",
]

IdType = Literal["any", "kbo"]
DuplicatePolicy = Literal["error", "first", "drop"]

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
_CODE = {r: i + 1 for i, r in enumerate(REASONS)}
_NAMES = np.array(["", *REASONS], dtype=object)

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
_LOGGED = ("va", "emp", "capital", "materials", "investment", "wages")
_OPEN = 10**6  # exit year of a spell that is still running
_LIMITS = {"emp": 1e7, **{r: 1e15 for r in MONEY_ROLES}}
"""Largest plausible values (EUR, FTE): above them the builder warns (a unit or typing error)."""


@dataclass(frozen=True)
class PanelSpec:
    """How to build a panel.

    Parameters
    ----------
    start, end
        Study window (inclusive calendar years); rows outside are excluded as ``outside_window``. None:
        no bound.
    deflate
        Divide monetary variables by the sector x year deflator when a deflator table is given.
    deflator_base
        Value of the deflator in the base year (1 or 100). None: 100 when the median deflator exceeds
        10, else 1.
    id_type
        ``"kbo"``: firm ids are Belgian enterprise numbers; they are normalised to 10 digits (so
        '0403.170.701' and 'BE0403170701' match) and checked with mod 97. ``"any"``: ids are opaque
        strings (only surrounding blanks removed).
    exclude_bad_ids
        With ``id_type="kbo"``, exclude rows whose id fails the check (reason ``bad_id``); otherwise they
        are kept and listed in ``flags["bad_ids"]``.
    min_years
        Minimum number of usable years per firm (1 keeps all firms).
    duplicates
        Firm-years that occur more than once with *different* values: ``"error"`` raises
        :class:`~clusterimpact.errors.PanelError` listing them; ``"first"`` keeps the first row and
        excludes the others; ``"drop"`` excludes all of them. Exact copies are always reduced to one row
        (reason ``duplicate``).
    """

    start: int | None = None
    end: int | None = None
    deflate: bool = True
    deflator_base: float | None = None
    id_type: IdType = "any"
    exclude_bad_ids: bool = False
    min_years: int = 1
    duplicates: DuplicatePolicy = "error"

    def __post_init__(self) -> None:
        check_choice("id_type", self.id_type, ("any", "kbo"))
        check_choice("duplicates", self.duplicates, ("error", "first", "drop"))
        for name in ("start", "end"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (int, np.integer)) or isinstance(v, bool)):
                raise SpecError(f"{name} must be a year (int) or None, got {v!r}")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise SpecError(f"start={self.start} is after end={self.end}")
        if not isinstance(self.min_years, (int, np.integer)) or self.min_years < 1:
            raise SpecError(f"min_years must be an integer >= 1, got {self.min_years!r}")
        if self.deflator_base is not None and not self.deflator_base > 0:
            raise SpecError(f"deflator_base must be positive, got {self.deflator_base!r}")
        if self.exclude_bad_ids and self.id_type != "kbo":
            raise SpecError(
                "exclude_bad_ids=True needs id_type='kbo' (ids are otherwise not checked)"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON-able)."""
        return {
            "start": self.start,
            "end": self.end,
            "deflate": self.deflate,
            "deflator_base": self.deflator_base,
            "id_type": self.id_type,
            "exclude_bad_ids": self.exclude_bad_ids,
            "min_years": self.min_years,
            "duplicates": self.duplicates,
        }


@dataclass(frozen=True, eq=False)
class FirmPanel:
    """A validated firm-year panel with its exclusion log and membership registry.

    Attributes
    ----------
    data
        One row per firm_id x year, sorted by (firm_id, year), columns :data:`PANEL_COLUMNS`:
        identifiers and classification (``firm_id`` str, ``year`` int64, ``nace`` 4-digit str, ``sector``
        2-digit NACE division, ``region``, ``founded`` Int64, ``age`` = year - founded as float, NaN
        where unknown or negative); real levels ``va, emp, capital, materials, wages, turnover,
        investment`` (float, deflated when a deflator table was given); logs ``ln_*`` (NaN where the
        level is <= 0 or missing); ``ln_lp = ln_va - ln_emp`` (labour productivity) and ``ln_kl =
        ln_capital - ln_emp``; membership ``cluster`` (first cluster joined, <NA> never), ``treat_year``
        (Int64, first membership year), ``rel_year`` (Int64, year - treat_year), ``member`` (0/1 in this
        year), ``member_years`` (calendar years of membership up to and including this year),
        ``ever_member`` (registered member with at least one membership year, possibly outside the
        window), ``has_pre_year`` (member observed in the panel before treat_year).
    exclusions
        Every excluded input row: ``source`` (file), ``row`` (1-based data row of the file, or index
        label of a frame), ``firm_id``, ``year``, ``reason`` (see :data:`REASONS`), ``detail``.
    memberships
        The normalised registry: ``firm_id, cluster, join_year, exit_year`` (Int64; <NA> = open).
    spec
        The :class:`PanelSpec` used.
    flags
        Diagnostics that are not exclusions: registry ids absent from the accounts, members without a
        pre-joining year, bad enterprise numbers, joins outside the window, empty spells, rows whose
        optional logs are undefined, deflation details.
    rows_in
        Number of input account rows (``rows_in == len(data) + len(exclusions)``).
    sources
        Labels of the inputs (``accounts``, ``registry``, ``deflators``).
    """

    data: pd.DataFrame
    exclusions: pd.DataFrame
    memberships: pd.DataFrame
    spec: PanelSpec = field(default_factory=PanelSpec)
    flags: dict[str, Any] = field(default_factory=dict)
    rows_in: int = 0
    sources: dict[str, str] = field(default_factory=dict)

    # -- sizes -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.data)

    @property
    def n_obs(self) -> int:
        """Number of firm-years kept."""
        return len(self.data)

    @property
    def n_firms(self) -> int:
        """Number of firms kept."""
        return int(self.data["firm_id"].nunique())

    @property
    def years(self) -> tuple[int, int] | None:
        """(first, last) year in the panel, None when empty."""
        if self.data.empty:
            return None
        return int(self.data["year"].min()), int(self.data["year"].max())

    # -- exclusions and members --------------------------------------------------------------------
    def exclusion_counts(self) -> dict[str, int]:
        """Number of excluded rows by reason, in the order of :data:`REASONS` (reasons with 0 omitted)."""
        counts = self.exclusions["reason"].value_counts()
        return {r: int(counts[r]) for r in REASONS if r in counts.index and counts[r] > 0}

    def members(self, cluster: str | None = None) -> pd.DataFrame:
        """One row per member firm in the panel.

        Parameters
        ----------
        cluster
            Only firms with a spell in this cluster (at any time).

        Returns
        -------
        pandas.DataFrame
            ``firm_id``, ``cluster`` (first), ``clusters`` (all, ``;``-separated), ``treat_year``,
            ``first_year``/``last_year`` observed, ``n_years`` observed, ``has_pre_year``, ``n_spells``.
        """
        d = self.data[self.data["ever_member"]]
        g = d.groupby("firm_id", sort=True)
        out = pd.DataFrame(
            {
                "cluster": g["cluster"].first(),
                "treat_year": g["treat_year"].first(),
                "first_year": g["year"].min(),
                "last_year": g["year"].max(),
                "n_years": g["year"].size(),
                "has_pre_year": g["has_pre_year"].first(),
            }
        )
        m = self.memberships[self.memberships["firm_id"].isin(out.index)]
        mg = m.groupby("firm_id")
        out["clusters"] = mg["cluster"].agg(lambda s: ";".join(sorted(set(s))))
        out["n_spells"] = mg.size()
        if cluster is not None:
            keep = m.loc[m["cluster"] == cluster, "firm_id"].unique()
            out = out[out.index.isin(keep)]
        out = out.reset_index()
        return out[
            [
                "firm_id",
                "cluster",
                "clusters",
                "treat_year",
                "first_year",
                "last_year",
                "n_years",
                "has_pre_year",
                "n_spells",
            ]
        ]

    def cohorts(self) -> pd.Series:
        """Number of member firms by treat_year (cohort), among firms in the panel."""
        firms = self.data.drop_duplicates("firm_id")
        return firms.loc[firms["ever_member"], "treat_year"].value_counts().sort_index()

    # -- presentation ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary: sizes, exclusion counts, flags (lists truncated to 50) and the spec."""
        firms = self.data.drop_duplicates("firm_id")
        flags = {k: (v[:50] if isinstance(v, list) else v) for k, v in self.flags.items()}
        return {
            "rows_in": self.rows_in,
            "nobs": self.n_obs,
            "n_firms": self.n_firms,
            "n_members": int(firms["ever_member"].sum()),
            "years": list(self.years) if self.years else None,
            "exclusions": self.exclusion_counts(),
            "flags": flags,
            "spec": self.spec.to_dict(),
            "sources": dict(self.sources),
        }

    def summary(self) -> str:
        """A short plain-text description: sizes, members, cohorts and the exclusion counts."""
        firms = self.data.drop_duplicates("firm_id")
        yrs = self.years
        lines = [
            "FirmPanel",
            f"Rows in: {self.rows_in:,}; kept: {self.n_obs:,} firm-years of {self.n_firms:,} firms"
            + (f", {yrs[0]}-{yrs[1]}" if yrs else ""),
            f"Members: {int(firms['ever_member'].sum()):,} "
            f"({int(firms['has_pre_year'].sum()):,} observed before joining)",
        ]
        coh = self.cohorts()
        if len(coh):
            lines.append("Cohorts: " + ", ".join(f"{k}: {int(v)}" for k, v in coh.items()))
        counts = self.exclusion_counts()
        lines.append(
            "Excluded: "
            + (", ".join(f"{k}={v:,}" for k, v in counts.items()) if counts else "nothing")
        )
        match = self.flags.get("id_match")
        if match:
            lines.append(IdMatch(**_match_fields(match)).summary())
        rew = self.flags.get("accounts_ids_rewritten")
        if rew and rew.get("count"):
            ex = ", ".join(f"{a!r} -> {b!r}" for a, b in rew["examples"][:3])
            lines.append(
                f"Accounts ids rewritten as 10-digit enterprise numbers: {rew['count']:,} (e.g. {ex})"
            )
        for key in ("same_year_spells", "cluster_names_merged"):
            if self.flags.get(key):
                lines.append(f"{key}: {_brief(self.flags[key])}")
        for key in ("registry_ids_absent", "members_without_pre_year", "bad_ids"):
            v = self.flags.get(key)
            if v:
                lines.append(f"{key}: {len(v):,} ({describe_rows(v, 5)})")
        und = self.flags.get("ln_undefined", {})
        if und:
            lines.append(
                "Logs undefined (rows kept): " + ", ".join(f"{k}={v:,}" for k, v in und.items())
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"FirmPanel({self.n_obs:,} firm-years, {self.n_firms:,} firms, "
            f"{len(self.exclusions):,} rows excluded)"
        )

    def write(self, path: PathLike, *, exclusions: PathLike | None = None) -> None:
        """Write ``data`` (Parquet or CSV by extension) and optionally the exclusion log."""
        write_table(self.data, path)
        if exclusions is not None:
            write_table(self.exclusions, exclusions)


def _match_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    keep: tuple[str, ...] = ("registry_firms", "found", "by_key", "examples_by_key", "unmatched")
    keep += ("ambiguous", "collisions")  # "collisions" is absent from older records
    return {k: record[k] for k in keep if k in record}


def _brief(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k!r} <- {', '.join(map(repr, v))}" for k, v in value.items())
    return describe_rows(value, 5)


# -------------------------------------------------------------------------------------------------


def build_panel(
    accounts: PathLike | pd.DataFrame,
    registry: PathLike | pd.DataFrame | None = None,
    spec: PanelSpec | None = None,
    deflators: PathLike | pd.DataFrame | None = None,
    *,
    columns: ColumnsArg = None,
    registry_columns: ColumnsArg = None,
    deflator_columns: ColumnsArg = None,
    preset: str | NBBPreset | None = None,
    extra: Sequence[str] = (),
    accounts_source: str | None = None,
    registry_source: str | None = None,
    deflators_source: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> FirmPanel:
    """Build a validated firm-year panel from annual accounts and a membership registry.

    Parameters
    ----------
    accounts
        Accounts file or frame (roles: firm_id, year, va, emp required; nace, region, founded,
        capital, materials, wages, turnover, investment optional). Monetary values nominal.
    registry
        Membership registry (firm_id, cluster, join_date, exit_date), file or frame; None: no members.
    spec
        :class:`PanelSpec` (window, deflation, id checks, duplicate policy). Default ``PanelSpec()``.
    deflators
        Sector x year deflator table (sector, year, deflator[, deflator_<var>]); monetary variables are
        divided by ``deflator / base``. None: values stay nominal.
    columns, registry_columns, deflator_columns
        Column maps for the three inputs, ``{role: column}`` (``{"firm_id": "ondernemingsnummer"}``;
        deflators: ``sector``, ``year``, ``deflator``, ``deflator_<var>``).
    preset
        ``"nbb"`` to derive the account roles from NBB rubric columns.
    extra
        Further account columns (e.g. user covariates) carried into ``data`` unchanged, after the
        contract columns.
    accounts_source, registry_source, deflators_source
        Labels used in messages and in the exclusion log (default: file names / ``attrs["source"]``).
    decimal, encoding, sheet
        Reading options for every input file (:class:`~clusterimpact.io.ReadOptions`): decimal mark
        (``"."`` or ``","``), text encoding, Excel sheet. None: detected / the first sheet.

    Returns
    -------
    FirmPanel
        ``data`` with the columns of :data:`PANEL_COLUMNS`, the exclusion log, the normalised registry
        and the diagnostics (see the module docstring for the rules).

    Raises
    ------
    DataError
        Unreadable inputs, missing required columns, non-numeric values, years out of range, no
        registry firm found in the accounts.
    PanelError
        Conflicting duplicate firm-years (with ``duplicates="error"``), join after exit.

    Notes
    -----
    Vectorised throughout (no loop over firms): ~1e6 firm-years build in a few seconds.
    """
    spec = spec if spec is not None else PanelSpec()
    if not isinstance(spec, PanelSpec):
        raise SpecError(f"spec must be a PanelSpec, got {type(spec).__name__}")
    acc = read_accounts(
        accounts,
        columns,
        preset,
        source=accounts_source,
        extra=extra,
        decimal=decimal,
        encoding=encoding,
        sheet=sheet,
    )
    src = str(acc.attrs.get("source", "accounts"))
    reg = (
        read_registry(
            registry,
            registry_columns,
            source=registry_source,
            decimal=decimal,
            encoding=encoding,
            sheet=sheet,
        )
        if registry is not None
        else None
    )
    defl = (
        read_deflators(
            deflators,
            deflator_columns,
            source=deflators_source,
            decimal=decimal,
            encoding=encoding,
            sheet=sheet,
        )
        if deflators is not None and spec.deflate
        else None
    )
    check_values(acc, list(_LIMITS), source=src, limits=_LIMITS)
    flags: dict[str, Any] = {}
    n = len(acc)
    code = np.zeros(n, dtype=np.int8)
    extra_detail: dict[int, np.ndarray] = {}

    def mark(mask: np.ndarray, reason: str) -> np.ndarray:
        m = mask & (code == 0)
        code[m] = _CODE[reason]
        return m

    # ids ------------------------------------------------------------------------------------------
    ids = acc["firm_id"]
    if spec.id_type == "kbo":
        norm, valid = validate_kbo(ids)
        flags["accounts_ids_rewritten"] = _rewritten(ids, norm)
        ids = norm
        bad = ids.notna().to_numpy() & ~valid
        flags["bad_ids"] = sorted(pd.unique(ids[bad]).tolist())
        flags["bad_id_rows"] = [_jsonable(r) for r in acc.index[bad]]
        if spec.exclude_bad_ids:
            code[bad] = _CODE["bad_id"]
    ids_arr = ids
    # integer firm codes in sorted id order: sorting, grouping and lookups run on ints
    fcode, funiq = pd.factorize(ids_arr, sort=True, use_na_sentinel=True)
    fcode = fcode.astype(np.int64)
    year = acc["year"].to_numpy(dtype=float)
    blank_id = fcode < 0
    blank_year = ~np.isfinite(year)
    # a blank id or year outranks a bad id (the documented order): move those rows back
    code[blank_id] = _CODE["missing_id"]
    code[~blank_id & blank_year] = _CODE["missing_year"]
    out_win = np.zeros(n, dtype=bool)
    if spec.start is not None:
        out_win |= year < spec.start
    if spec.end is not None:
        out_win |= year > spec.end
    mark(out_win & np.isfinite(year), "outside_window")

    # duplicates -----------------------------------------------------------------------------------
    work = acc.assign(firm_id=ids_arr)
    cand = code == 0
    cand_pos = np.flatnonzero(cand)
    key = fcode[cand] * 4096 + (year[cand].astype(np.int64) - 1700)
    dupmask = _duplicated_any(key)
    conflicts: list[tuple[str, int, list[Any]]] = []
    if dupmask.any():
        pos = cand_pos[dupmask]
        sub = work.iloc[pos].reset_index(drop=True)
        sub["_pos"] = pos
        cols = list(work.columns)
        exact = sub.duplicated(cols, keep="first").to_numpy()
        first_pos = (
            sub.groupby(cols, dropna=False, sort=False)["_pos"].transform("first").to_numpy()
        )
        m = mark(np.isin(np.arange(n), pos[exact]), "duplicate")
        if m.any():
            extra_detail[_CODE["duplicate"]] = _pos_to_label(acc, first_pos[exact])
        rest = sub[~exact]
        conf = rest.duplicated(["firm_id", "year"], keep=False).to_numpy()
        if conf.any():
            cr = rest[conf]
            for (fid, yr), grp in cr.groupby(["firm_id", "year"], sort=True):
                conflicts.append((str(fid), int(yr), list(acc.index[grp["_pos"].to_numpy()])))
            if spec.duplicates == "error":
                shown = "; ".join(
                    f"firm {f} year {y}: rows {describe_rows(r, 5)}" for f, y, r in conflicts[:10]
                )
                more = f" ... ({len(conflicts)} firm-years in all)" if len(conflicts) > 10 else ""
                raise PanelError(
                    f"{len(conflicts)} firm-year(s) occur more than once with different values: "
                    f"{shown}{more}. Fix the file, or pass PanelSpec(duplicates='first'|'drop')",
                    source=src,
                    column="firm_id, year",
                    rows=[r for _, _, rows in conflicts for r in rows],
                )
            if spec.duplicates == "first":
                drop = rest.duplicated(["firm_id", "year"], keep="first").to_numpy()
            else:
                drop = conf
            cpos = rest["_pos"].to_numpy()[drop]
            cfirst = (
                rest.groupby(["firm_id", "year"], sort=False)["_pos"].transform("first").to_numpy()
            )
            m = mark(np.isin(np.arange(n), cpos), "duplicate_conflict")
            if m.any():
                extra_detail[_CODE["duplicate_conflict"]] = _pos_to_label(acc, cfirst[drop])
            flags["conflicting_duplicates"] = [
                {"firm_id": f, "year": y, "rows": [_jsonable(r) for r in r_]}
                for f, y, r_ in conflicts
            ]

    # required values ------------------------------------------------------------------------------
    va = acc["va"].to_numpy(dtype=float)
    emp = acc["emp"].to_numpy(dtype=float)
    mark(~np.isfinite(va), "missing_va")
    mark(~np.isfinite(emp), "missing_emp")
    mark(va <= 0, "nonpositive_va")
    mark(emp <= 0, "nonpositive_emp")

    # deflation ------------------------------------------------------------------------------------
    sector = acc["nace"].str.slice(0, 2)
    levels = {r: acc[r].to_numpy(dtype=float) for r in MONEY_ROLES}
    if defl is not None:
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
        mark(where < 0, "missing_deflator")
        general = defl["deflator"].to_numpy(dtype=float)
        safe = np.maximum(where, 0)
        for r in MONEY_ROLES:
            d = general
            col = f"deflator_{r}"
            if col in defl.columns:
                d = np.where(
                    np.isnan(defl[col].to_numpy(dtype=float)), general, defl[col].to_numpy()
                )
            factor = np.where(where >= 0, d[safe] / base, np.nan)
            levels[r] = levels[r] / factor
        flags["deflated"] = True
        flags["deflator_base"] = base
    else:
        flags["deflated"] = False

    # min years ------------------------------------------------------------------------------------
    if spec.min_years > 1:
        ok = code == 0
        per_firm = np.bincount(fcode[ok], minlength=len(funiq))
        mark((fcode >= 0) & (per_firm[np.maximum(fcode, 0)] < spec.min_years), "too_few_years")

    # exclusion log --------------------------------------------------------------------------------
    exclusions = _exclusion_log(acc, ids_arr, year, code, extra_detail, sector, spec, src)

    # kept rows ------------------------------------------------------------------------------------
    keep = code == 0
    kcode = fcode[keep]
    kyear = year[keep].astype("int64")
    order = np.lexsort((kyear, kcode))
    kcode = kcode[order]
    data = pd.DataFrame({"firm_id": _str_array(funiq.take(kcode)), "year": kyear[order]})
    take = np.flatnonzero(keep)[order]
    data["nace"] = _take_str(acc["nace"], take)
    data["sector"] = _take_str(sector, take)
    data["region"] = _take_str(acc["region"], take)
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
    for r in _LOGGED:
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

    # membership -----------------------------------------------------------------------------------
    memberships = _membership(data, kcode, pd.Index(funiq), reg, spec, flags, src)
    for c in extra:
        data[str(c)] = acc[str(c)].take(take).to_numpy()
    data = data[[*PANEL_COLUMNS, *(str(c) for c in extra)]]
    sources = {"accounts": src}
    if reg is not None:
        sources["registry"] = str(reg.attrs.get("source", "registry"))
    if defl is not None:
        sources["deflators"] = str(defl.attrs.get("source", "deflators"))
    if acc.attrs.get("preset_notes"):
        flags["preset"] = dict(acc.attrs["preset_notes"])
    return FirmPanel(
        data=data,
        exclusions=exclusions,
        memberships=memberships,
        spec=spec,
        flags=flags,
        rows_in=n,
        sources=sources,
    )


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


def _take_str(s: pd.Series, pos: np.ndarray) -> Any:
    """``s`` at positions ``pos`` as a string array (Arrow take, no Python objects)."""
    return pd.array(s.take(pos).array, dtype="str")


def _str_array(values: Any) -> Any:
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


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    return v


def _pos_to_label(acc: pd.DataFrame, pos: np.ndarray) -> np.ndarray:
    return np.asarray(acc.index.to_numpy()[pos], dtype=object)


def _exclusion_log(
    acc: pd.DataFrame,
    ids: pd.Series,
    year: np.ndarray,
    code: np.ndarray,
    extra: Mapping[int, np.ndarray],
    sector: pd.Series,
    spec: PanelSpec,
    src: str,
) -> pd.DataFrame:
    excl = np.flatnonzero(code != 0)
    c = code[excl]
    yr = year[excl]
    detail = np.full(len(excl), "", dtype=object)

    def fmt(values: np.ndarray) -> np.ndarray:
        return np.array([f"{v:g}" for v in values], dtype=object)

    for reason, k in _CODE.items():
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
            "firm_id": _take_str(ids, excl),
            "year": pd.array(yint, dtype="Int64"),
            "reason": pd.array(_NAMES[c], dtype="str"),
            "detail": pd.array(detail, dtype="str"),
        }
    )
    out.loc[~np.isfinite(yr), "year"] = pd.NA
    return out


def _membership(
    data: pd.DataFrame,
    kcode: np.ndarray,
    funiq: pd.Index,
    reg: pd.DataFrame | None,
    spec: PanelSpec,
    flags: dict[str, Any],
    accounts_source: str = "accounts",
) -> pd.DataFrame:
    """Add cluster, treat_year, rel_year, member, member_years, ever_member, has_pre_year in place.

    ``kcode`` are the integer firm codes of ``data``'s rows (sorted by code, then year) into
    ``funiq``, the sorted distinct firm ids of the whole accounts input.
    """
    n = len(data)
    empty_members = pd.DataFrame(
        {
            "firm_id": pd.array([], dtype="str"),
            "cluster": pd.array([], dtype="str"),
            "join_year": pd.array([], dtype="Int64"),
            "exit_year": pd.array([], dtype="Int64"),
        }
    )
    if reg is None or reg.empty:
        data["cluster"] = pd.array([pd.NA] * n, dtype="str")
        data["treat_year"] = pd.array([pd.NA] * n, dtype="Int64")
        data["rel_year"] = pd.array([pd.NA] * n, dtype="Int64")
        data["member"] = np.zeros(n, dtype="int64")
        data["member_years"] = np.zeros(n, dtype="int64")
        data["ever_member"] = np.zeros(n, dtype=bool)
        data["has_pre_year"] = np.zeros(n, dtype=bool)
        for k in ("registry_ids_absent", "registry_ids_all_excluded", "members_without_pre_year"):
            flags[k] = []
        return empty_members

    reg = reg.copy()
    src = str(reg.attrs.get("source", "registry"))
    if spec.id_type == "kbo":
        norm, valid = validate_kbo(reg["firm_id"])
        reg["firm_id"] = norm
        if (~valid).any():
            flags["bad_registry_ids"] = sorted(pd.unique(norm[~valid]).tolist())
    linked, match = link_registry_ids(
        reg["firm_id"], funiq, registry_source=src, accounts_source=accounts_source
    )
    reg["firm_id"] = linked
    flags["id_match"] = match.to_dict()
    if reg.attrs.get("cluster_merges"):
        flags["cluster_names_merged"] = dict(reg.attrs["cluster_merges"])
    exact = reg.duplicated(["firm_id", "cluster", "join_date", "exit_date"], keep="first")
    if exact.any():
        flags["duplicate_registry_rows"] = [_jsonable(r) for r in reg.index[exact.to_numpy()]]
        reg = reg[~exact.to_numpy()]
    j = reg["join_year"].to_numpy(dtype="int64")
    e_raw = reg["exit_year"].to_numpy(dtype=float)
    e = np.where(np.isfinite(e_raw), e_raw, _OPEN).astype("int64")
    same = e == j
    if same.any():  # joined and left in one calendar year: the join year counts (module docstring)
        spell_rows = [_jsonable(r) for r in reg.index[same]]
        flags["same_year_spells"] = spell_rows
        warnings.warn(
            f"{src}, rows {describe_rows(spell_rows)}: {len(spell_rows):,} membership spell(s) "
            "start and end "
            "in the same calendar year; each counts as one membership year (its join year)",
            DataWarning,
            stacklevel=3,
        )
        e = np.where(same, j + 1, e)
    nonempty = e > j
    memberships = pd.DataFrame(
        {
            "firm_id": pd.array(reg["firm_id"].to_numpy(), dtype="str"),
            "cluster": pd.array(reg["cluster"].to_numpy(), dtype="str"),
            "join_year": pd.array(j, dtype="Int64"),
            "exit_year": pd.array(
                np.where(np.isfinite(e_raw), e_raw, 0).astype("int64"), dtype="Int64"
            ),
        }
    )
    memberships.loc[~np.isfinite(e_raw), "exit_year"] = pd.NA
    memberships = memberships.sort_values(["firm_id", "join_year", "cluster"], kind="stable")
    memberships = memberships.reset_index(drop=True)
    memberships.attrs["source"] = src

    n_codes = len(funiq)
    rcode = funiq.get_indexer(pd.Index(reg["firm_id"])).astype(np.int64)
    kept_code = np.zeros(n_codes + 1, dtype=bool)  # last slot: ids absent from the accounts
    kept_code[kcode] = True
    reg_ids = reg["firm_id"].to_numpy()
    flags["registry_ids_absent"] = sorted({str(i) for i in reg_ids[rcode < 0]})
    inside = rcode >= 0
    flags["registry_ids_all_excluded"] = sorted(
        {str(i) for i in reg_ids[inside & ~kept_code[np.where(inside, rcode, n_codes)]]}
    )

    use = nonempty & inside
    spells = pd.DataFrame(
        {
            "code": rcode[use],
            "cluster": reg["cluster"].to_numpy()[use],
            "join_date": reg["join_date"].to_numpy()[use],
            "j": j[use],
            "e": e[use],
        }
    ).sort_values(["code", "j", "join_date", "cluster"], kind="stable")
    sc = spells["code"].to_numpy()
    first = np.r_[True, sc[1:] != sc[:-1]] if len(sc) else np.zeros(0, dtype=bool)
    treat_by = np.full(n_codes, np.nan)
    cl_codes, cl_uniq = pd.factorize(spells["cluster"], use_na_sentinel=True)
    cluster_by = np.full(n_codes, -1, dtype=np.int64)
    treat_by[sc[first]] = spells["j"].to_numpy()[first]
    cluster_by[sc[first]] = cl_codes[first]
    # merge overlapping spells of a firm (several clusters, overlapping re-registrations)
    se = spells["e"].to_numpy()
    sj = spells["j"].to_numpy()
    run_max = spells.groupby("code", sort=False)["e"].cummax().to_numpy()
    prev_max = np.r_[-1, run_max[:-1]] if len(sc) else run_max
    new_block = first | (sj > prev_max)
    intervals = pd.DataFrame(
        {
            "code": sc[new_block],
            "j": sj[new_block],
            "e": np.maximum.reduceat(se, np.flatnonzero(new_block)) if len(sc) else se,
        }
    )
    flags["rejoining_firms"] = int((np.bincount(intervals["code"], minlength=1) > 1).sum())
    flags["multi_cluster_firms"] = int((spells.groupby("code")["cluster"].nunique() > 1).sum())

    yr = data["year"].to_numpy(dtype="int64")
    treat = treat_by[kcode]
    is_mem = np.isfinite(treat)
    treat_i = np.where(is_mem, treat, 0).astype("int64")
    data["cluster"] = _str_array(_str_array(cl_uniq).take(cluster_by[kcode], allow_fill=True))
    data["treat_year"] = pd.array(treat_i, dtype="Int64")
    data["rel_year"] = pd.array(yr - treat_i, dtype="Int64")
    data.loc[~is_mem, ["treat_year", "rel_year"]] = pd.NA

    member = np.zeros(n, dtype="int64")
    member_years = np.zeros(n, dtype="int64")
    rows = np.flatnonzero(is_mem)
    if rows.size:
        left = pd.DataFrame({"pos": rows, "code": kcode[rows], "year": yr[rows]})
        m = left.merge(intervals, on="code", how="inner")
        y = m["year"].to_numpy()
        jj = m["j"].to_numpy()
        ee = m["e"].to_numpy()
        contrib = np.clip(np.minimum(y + 1, ee) - jj, 0, None)
        in_spell = ((jj <= y) & (y < ee)).astype("int64")
        pos = m["pos"].to_numpy()
        member_years = np.bincount(pos, weights=contrib, minlength=n).astype("int64")
        member = (np.bincount(pos, weights=in_spell, minlength=n) > 0).astype("int64")
    data["member"] = member
    data["member_years"] = member_years
    data["ever_member"] = is_mem
    # rows are sorted by firm then year: the first row of a firm holds its first observed year
    starts = np.r_[True, kcode[1:] != kcode[:-1]] if n else np.zeros(0, dtype=bool)
    first_year = np.full(n_codes, np.iinfo(np.int64).max, dtype=np.int64)
    first_year[kcode[starts]] = yr[starts]
    has_pre = is_mem & (first_year[kcode] < treat_i)
    data["has_pre_year"] = has_pre

    firm_rows = starts & is_mem
    ids_first = data["firm_id"].to_numpy()[firm_rows]
    flags["members_without_pre_year"] = sorted(str(i) for i in ids_first[~has_pre[firm_rows]])
    lo = spec.start if spec.start is not None else (int(yr.min()) if n else None)
    hi = spec.end if spec.end is not None else (int(yr.max()) if n else None)
    if lo is not None and hi is not None:
        tf = treat_i[firm_rows]
        flags["joins_before_window"] = int((tf < lo).sum())
        flags["joins_after_window"] = int((tf > hi).sum())
    return memberships
