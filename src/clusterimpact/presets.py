"""Column maps: which user column plays which role, and the NBB preset for Belgian annual accounts.

The roles are the vocabulary of DESIGN.md. A column map is written the same way everywhere: **role =
column**, our role name on the left, the name in your file on the right:

* Python: ``columns={"firm_id": "ondernemingsnummer", "emp": "fte"}`` or
  ``ColumnMap.from_roles(firm_id="ondernemingsnummer")``;
* CLI: ``--columns firm_id=ondernemingsnummer,emp=fte``;
* TOML: ``[data.columns]`` with ``firm_id = "ondernemingsnummer"``.

Columns already named after their role need no entry. A map entry naming a column that is not in the
file is an error, as is a column given two roles. The old direction (``{"ondernemingsnummer":
"firm_id"}``, column -> role) is still read when only its right-hand side holds role names, with a
``FutureWarning``; when both sides are role names (``{"va": "turnover"}``) the map is read as role =
column.

NBB preset (Belgian annual accounts filed with the Central Balance Sheet Office)
--------------------------------------------------------------------------------
Accounts downloaded from the National Bank of Belgium (NBB) carry one column per *rubric code* of the
standard filing models. The preset :data:`NBB` recognises rubric columns named by the bare code (``70``,
``22/27``) or with a prefix (``c70``, ``rubric_70``, ``code 22/27``, ``22_27``) and derives the roles:

==============  =========================================================================================
role            rubrics (full model / abbreviated model)
==============  =========================================================================================
``turnover``    ``70`` turnover (full model; in the abbreviated model only when the company discloses it)
``materials``   ``60`` goods for resale, raw materials and consumables + ``61`` services and other goods;
                when only the combined ``60/61`` is present (abbreviated model) that is used
``wages``       ``62`` remuneration, social security costs and pensions
``emp``         ``1003`` average number of employees in full-time equivalents (social balance sheet);
                where ``1003`` is missing, ``9087`` (average FTE in the explanatory notes)
``capital``     ``22/27`` tangible fixed assets (same code in both models)
``va``          value added, see below
``investment``  not mapped (map it yourself with ``columns=``; we could not verify the rubric of
                acquisitions of tangible fixed assets for both models)
==============  =========================================================================================

Value added follows the "added value" definition used for Belgian filings by Trends Top
(https://trendstop.levif.be/en/key-figure/added-value--r070, consulted 2026), which is computed from the
NBB rubrics:

* full model: ``va = 70/76A - 76A - 740 - 60 - 61``, i.e. operating income without non-recurring
  operating income (76A) and without operating subsidies (740), minus purchases of goods (60) and of
  services and other goods (61). When ``70/76A`` is absent it is rebuilt as ``70 + 71 + 72 + 74 + 76A``
  (turnover, change in stocks of finished goods and work in progress, own work capitalised, other
  operating income, non-recurring operating income).
* abbreviated (and micro) model: ``va = 9900 - 76A``, where ``9900`` is the gross operating margin.
  Since the filing protocol of 1 April 2017 the models define ``9900 = 76A + 70/74 - 60/61``
  (non-recurring operating income plus operating income 70 to 74, minus goods for resale, raw
  materials, consumables, services and other goods), as documented by the Belgian annual-accounts
  software First Jaarrekeningen (http://help.firstsoftware.be/display/FJ/Brutomarge); so
  ``9900 - 76A = 70/74 - 60/61`` is the same quantity as the full-model formula except that operating
  subsidies (740, inside 74) cannot be removed because the abbreviated model does not report them.
  Filings before that protocol had no 76A (counted as 0 here).

Trends Top additionally adds the cost of hired temporary staff from the social balance sheet (``1521 +
1522``) for full-model filers, to treat agency workers as labour; the preset does **not** do this (set
``temp_staff=True`` in :func:`nbb_preset` to add them when those columns are present). Employment
follows Trends Top's "workforce" key figure (https://trendstop.knack.be/en/key-figure/workforce--ra25):
item 1003 of the social balance sheet or, in its absence, item 9087 of the notes. Rubric
meanings (60, 61, 62 and their sub-accounts) were checked against the Belgian Accounting Standards
Board's minimum chart of accounts (https://www.cnc-cbn.be, multilingual comparison). We could not
consult the NBB's own methodological note on value added with the tools available: treat the formula as
the Trends Top convention, check it against your data supplier's definition, and override ``va`` with
``columns=`` if you need another one. Blank sub-rubrics (71, 72, 74, 740, 76A) count as zero, as they are
not reported when zero; the main rubrics of each formula (70/76A or 70, and 60 and 61; or 9900) must be
present, otherwise ``va`` is missing and the firm-year is excluded as ``missing_va``.

A row uses the full-model formula when its ``60`` and ``61`` and (``70/76A`` or ``70``) are present, and
the abbreviated formula otherwise.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.errors import SpecError

__all__ = [
    "ACCOUNT_ROLES",
    "DEFLATOR_ROLES",
    "DEFLATOR_VARIABLE_ROLES",
    "NBB",
    "REGISTRY_ROLES",
    "ColumnMap",
    "NBBPreset",
    "get_preset",
    "nbb_preset",
    "rubric_key",
]

ACCOUNT_ROLES: tuple[str, ...] = (
    "firm_id",
    "year",
    "nace",
    "region",
    "founded",
    "va",
    "emp",
    "capital",
    "materials",
    "wages",
    "turnover",
    "investment",
)
"""Roles of an accounts file (DESIGN.md, column roles)."""

REGISTRY_ROLES: tuple[str, ...] = ("firm_id", "cluster", "join_date", "exit_date")
"""Roles of a membership registry: one row per membership spell."""

DEFLATOR_ROLES: tuple[str, ...] = ("sector", "year", "deflator")
"""Roles of a deflator table (optional per-variable columns ``deflator_<var>`` are kept as they are)."""

# accepted alternative spellings of roles (lower-case user column -> role), used when no map is given
_ALIASES: dict[str, str] = {
    "join_year": "join_date",
    "exit_year": "exit_date",
    "entry_date": "join_date",
    "start_date": "join_date",
    "end_date": "exit_date",
}


DEFLATOR_VARIABLE_ROLES: tuple[str, ...] = tuple(
    f"deflator_{r}" for r in ("va", "capital", "materials", "wages", "turnover", "investment")
)
"""Per-variable deflator columns of a deflator table (used where present instead of ``deflator``)."""


@dataclass(frozen=True)
class ColumnMap:
    """Which file column plays which role: ``{role: column}``.

    Parameters
    ----------
    roles
        ``{role: column in the file}``. Columns already named after their role need no entry.

    Examples
    --------
    >>> ColumnMap({"firm_id": "ondernemingsnummer", "year": "boekjaar"}).rename_map(["boekjaar"])
    {'boekjaar': 'year'}
    """

    roles: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_roles(cls, **role_to_column: str) -> ColumnMap:
        """Build a map from ``role=column`` keywords: ``ColumnMap.from_roles(firm_id="vat")``."""
        return cls(dict(role_to_column))

    @classmethod
    def coerce(
        cls, value: ColumnMap | Mapping[str, str] | None, roles: tuple[str, ...]
    ) -> ColumnMap:
        """A validated map from a ColumnMap, a ``{role: column}`` dict, or None.

        Raises
        ------
        SpecError
            Unknown roles (the message lists the valid ones) or a column given two roles.
        """
        if value is None:
            return cls({})
        if isinstance(value, ColumnMap):
            value = value.roles
        if not isinstance(value, Mapping):
            raise SpecError(f"columns must be a dict {{role: column}}, got {type(value).__name__}")
        known = {r for r in roles} | {a for a, r in _ALIASES.items() if r in roles}
        if "deflator" in roles:
            known |= set(DEFLATOR_VARIABLE_ROLES)
        items = {str(k).strip(): str(v).strip() for k, v in value.items()}
        if items and not all(k in known for k in items):
            if all(v in known for v in items.values()):
                items = _legacy(items)
            else:
                bad = [k for k in items if k not in known]
                raise SpecError(
                    f"unknown role(s) in column map: {', '.join(map(repr, bad))}; a map is written "
                    f"role = column; valid roles: {', '.join(sorted(known))}"
                )
        items = {_ALIASES.get(k, k): v for k, v in items.items()}
        cols = list(items.values())
        dup = sorted({c for c in cols if cols.count(c) > 1})
        if dup:
            raise SpecError(
                f"column(s) {', '.join(map(repr, dup))} given more than one role in the column map; "
                "a column plays one role"
            )
        return cls(items)

    def rename_map(self, columns: Any) -> dict[str, str]:
        """The ``{column: role}`` renames that apply to a frame with these columns."""
        cols = [str(c) for c in columns]
        by_col = {c: r for r, c in self.roles.items()}
        out = {c: by_col[c] for c in cols if c in by_col}
        taken = set(self.roles) | set(cols)
        for c in cols:
            alias = _ALIASES.get(c.lower())
            if c not in out and alias is not None and alias not in taken:
                out[c] = alias
        return out

    def column_for(self, role: str) -> str:
        """The file's name of a role's column (the role itself when unmapped)."""
        return self.roles.get(role, role)


def _legacy(items: dict[str, str]) -> dict[str, str]:
    """Invert an old-style ``{column: role}`` map, with a FutureWarning."""
    inverted: dict[str, str] = {}
    for col, role in items.items():
        if role in inverted:
            raise SpecError(
                f"columns {inverted[role]!r} and {col!r} are both mapped to role {role!r}; "
                "map each role once"
            )
        inverted[role] = col
    new = ", ".join(f"{r}={c}" for r, c in inverted.items())
    warnings.warn(
        f"column map {items} is written column -> role, the old direction; write role = column "
        f"instead ({new}): e.g. columns={inverted!r}, CLI --columns {new}. The old direction will "
        "stop working",
        FutureWarning,
        stacklevel=4,
    )
    return inverted


# -------------------------------------------------------------------------------------------------
# NBB preset


def rubric_key(column: object) -> str | None:
    """The rubric code a column name refers to (``"c70"`` -> ``"70"``, ``"22_27"`` -> ``"22/27"``).

    Returns None when the name does not look like a rubric code.

    Examples
    --------
    >>> from clusterimpact.presets import rubric_key
    >>> rubric_key("c70"), rubric_key("22_27"), rubric_key("firm_id")
    ('70', '22/27', None)
    """
    s = str(column).strip().lower()
    s = re.sub(r"^(rubric|rubriek|rubrique|code|c|r)[\s_\-:]*", "", s)
    s = s.replace("_", "/").replace("-", "/").replace(" ", "")
    if re.fullmatch(r"\d{2,5}[a-z]?(/\d{2,5}[a-z]?)?", s):
        return s.upper()
    return None


@dataclass(frozen=True)
class NBBPreset:
    """Derives the account roles from NBB rubric columns (see the module docstring for the formulas).

    Parameters
    ----------
    temp_staff
        Add the cost of hired temporary staff (social balance sheet 1521 + 1522) to full-model value
        added, as Trends Top does. Default False.

    Examples
    --------
    >>> from clusterimpact.presets import NBBPreset
    >>> preset = NBBPreset()
    >>> preset.name, preset.temp_staff
    ('nbb', False)
    """

    temp_staff: bool = False
    name: str = "nbb"

    def apply(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
        """Return ``frame`` with derived role columns added, and a note of how each role was derived.

        Role columns that already exist (or that a column map produced) are left untouched.
        """
        keys: dict[str, str] = {}
        for c in frame.columns:
            k = rubric_key(c)
            if k is not None and k not in keys:
                keys[k] = c
        n = len(frame)
        notes: dict[str, str] = {}

        def col(code: str) -> np.ndarray | None:
            if code not in keys:
                return None
            return pd.to_numeric(frame[keys[code]], errors="coerce").to_numpy(dtype=float)

        def zero_if_missing(code: str) -> np.ndarray:
            v = col(code)
            return np.zeros(n) if v is None else np.nan_to_num(v, nan=0.0)

        out = frame.copy(deep=False)
        nan = np.full(n, np.nan)
        c60, c61, c70 = col("60"), col("61"), col("70")
        if "turnover" not in out.columns and c70 is not None:
            out["turnover"] = c70
            notes["turnover"] = "70"
        if "wages" not in out.columns and col("62") is not None:
            out["wages"] = col("62")
            notes["wages"] = "62"
        if "capital" not in out.columns and col("22/27") is not None:
            out["capital"] = col("22/27")
            notes["capital"] = "22/27"
        if "materials" not in out.columns:
            mat = nan.copy()
            if c60 is not None and c61 is not None:
                mat = c60 + c61
            combined = col("60/61")
            if combined is not None:
                mat = np.where(np.isnan(mat), combined, mat)
            if c60 is not None or combined is not None:
                out["materials"] = mat
                notes["materials"] = "60 + 61 (else 60/61)"
        if "emp" not in out.columns:
            e1003, e9087 = col("1003"), col("9087")
            if e1003 is not None or e9087 is not None:
                emp = e1003 if e1003 is not None else nan.copy()
                if e9087 is not None:
                    emp = np.where(np.isnan(emp), e9087, emp)
                out["emp"] = emp
                notes["emp"] = "1003 (else 9087)"
        if "va" not in out.columns:
            c76a = zero_if_missing("76A")
            op_income = col("70/76A")
            if op_income is None and c70 is not None:
                op_income = (
                    c70
                    + zero_if_missing("71")
                    + zero_if_missing("72")
                    + zero_if_missing("74")
                    + c76a
                )
            elif op_income is not None and c70 is not None:
                rebuilt = (
                    c70
                    + zero_if_missing("71")
                    + zero_if_missing("72")
                    + zero_if_missing("74")
                    + c76a
                )
                op_income = np.where(np.isnan(op_income), rebuilt, op_income)
            va_full = nan.copy()
            if op_income is not None and c60 is not None and c61 is not None:
                va_full = op_income - c76a - zero_if_missing("740") - c60 - c61
                if self.temp_staff:
                    va_full = va_full + zero_if_missing("1521") + zero_if_missing("1522")
            gm = col("9900")
            va_abbr = gm - c76a if gm is not None else nan
            va = np.where(np.isnan(va_full), va_abbr, va_full)
            if op_income is not None or gm is not None:
                out["va"] = va
                notes["va"] = "70/76A - 76A - 740 - 60 - 61 (full); else 9900 - 76A (abbreviated)"
        return out, notes


NBB = NBBPreset()
"""The NBB preset with default settings."""


def nbb_preset(*, temp_staff: bool = False) -> NBBPreset:
    """An NBB preset; ``temp_staff=True`` adds 1521 + 1522 to full-model value added.

    Examples
    --------
    >>> from clusterimpact.presets import nbb_preset
    >>> nbb_preset(temp_staff=True).temp_staff
    True
    """
    return NBBPreset(temp_staff=temp_staff)


_PRESETS: dict[str, NBBPreset] = {"nbb": NBB}


def get_preset(preset: str | NBBPreset | None) -> NBBPreset | None:
    """Resolve a preset name (``"nbb"``) or object; None means no preset.

    Examples
    --------
    >>> from clusterimpact.presets import get_preset
    >>> get_preset("nbb").name
    'nbb'
    >>> get_preset(None) is None
    True
    """
    if preset is None or isinstance(preset, NBBPreset):
        return preset
    key = str(preset).lower()
    if key not in _PRESETS:
        raise SpecError(f"preset={preset!r} is not valid; choose one of {', '.join(_PRESETS)}")
    return _PRESETS[key]
