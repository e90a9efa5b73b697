"""build_panel's membership timing: registry spells -> cluster, treat_year, member, member_years.

The rules are documented in the :mod:`clusterimpact.panel` module docstring (Membership).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clusterimpact._panel_rows import jsonable, str_array
from clusterimpact.errors import DataWarning, describe_rows
from clusterimpact.ids import link_registry_ids
from clusterimpact.kbo import validate_kbo

if TYPE_CHECKING:
    from clusterimpact.panel import PanelSpec

_OPEN = 10**6  # exit year of a spell that is still running


@dataclass(frozen=True)
class LinkedRegistry:
    """The registry linked to the accounts ids: rows (ids rewritten), join and exit years, the table.

    ``exit_years`` are the spells' effective exit years (open spells far in the future, a spell within
    one calendar year ending after its join year); ``memberships`` is ``FirmPanel.memberships``.
    """

    frame: pd.DataFrame
    join_years: np.ndarray
    exit_years: np.ndarray
    memberships: pd.DataFrame


def membership(
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
    ``funiq``, the sorted distinct firm ids of the whole accounts input. Returns the normalised
    registry (``firm_id, cluster, join_year, exit_year``).
    """
    if reg is None or reg.empty:
        return no_registry(data, flags)
    linked = link_registry(reg, funiq, spec, flags, accounts_source)
    apply_registry(data, kcode, funiq, linked, spec, flags)
    return linked.memberships


def link_registry(
    reg: pd.DataFrame,
    funiq: pd.Index,
    spec: PanelSpec,
    flags: dict[str, Any],
    accounts_source: str = "accounts",
) -> LinkedRegistry:
    """The registry's ids linked to the accounts ids ``funiq`` (:mod:`clusterimpact.ids`), its spells.

    ``funiq`` need only hold the accounts ids that can link (written as a registry id, or sharing a
    registry id's key) and the three smallest ones (named in messages): the Dask build passes those.
    """
    reg, src = _linked_registry(reg, funiq, spec, flags, accounts_source)
    j = reg["join_year"].to_numpy(dtype="int64")
    e_raw = reg["exit_year"].to_numpy(dtype=float)
    e = _exit_years(reg, j, e_raw, src, flags)
    return LinkedRegistry(reg, j, e, _memberships_table(reg, j, e_raw, src))


def apply_registry(
    data: pd.DataFrame,
    kcode: np.ndarray,
    funiq: pd.Index,
    linked: LinkedRegistry,
    spec: PanelSpec,
    flags: dict[str, Any],
    *,
    whole: bool = True,
) -> None:
    """The membership columns of ``data`` from the linked registry (in place), and their flags.

    ``whole=False``: ``data`` is one partition of the firms (the Dask build), so the registry ids found
    here are recorded (``registry_ids_inside``) instead of those absent, which only the union over the
    partitions decides (listing the absent ones per partition would cost the whole registry each).
    """
    reg, j, e = linked.frame, linked.join_years, linked.exit_years
    n_codes = len(funiq)
    rcode = funiq.get_indexer(pd.Index(reg["firm_id"])).astype(np.int64)
    kept_code = np.zeros(n_codes + 1, dtype=bool)  # last slot: ids absent from the accounts
    kept_code[kcode] = True
    reg_ids = reg["firm_id"].to_numpy()
    if whole:
        flags["registry_ids_absent"] = sorted({str(i) for i in reg_ids[rcode < 0]})
    else:
        flags["registry_ids_inside"] = {str(i) for i in reg_ids[rcode >= 0]}
    inside = rcode >= 0
    flags["registry_ids_all_excluded"] = sorted(
        {str(i) for i in reg_ids[inside & ~kept_code[np.where(inside, rcode, n_codes)]]}
    )
    use = (e > j) & inside
    spells = pd.DataFrame(
        {
            "code": rcode[use],
            "cluster": reg["cluster"].to_numpy()[use],
            "join_date": reg["join_date"].to_numpy()[use],
            "j": j[use],
            "e": e[use],
        }
    ).sort_values(["code", "j", "join_date", "cluster"], kind="stable")
    is_mem, treat_i = _member_columns(data, kcode, n_codes, spells, flags)
    _pre_year_flags(data, kcode, n_codes, is_mem, treat_i, spec, flags)


def no_registry(data: pd.DataFrame, flags: dict[str, Any]) -> pd.DataFrame:
    """No registry: nobody is a member; an empty memberships table."""
    n = len(data)
    data["cluster"] = pd.array([pd.NA] * n, dtype="str")
    data["treat_year"] = pd.array([pd.NA] * n, dtype="Int64")
    data["rel_year"] = pd.array([pd.NA] * n, dtype="Int64")
    data["member"] = np.zeros(n, dtype="int64")
    data["member_years"] = np.zeros(n, dtype="int64")
    data["ever_member"] = np.zeros(n, dtype=bool)
    data["has_pre_year"] = np.zeros(n, dtype=bool)
    for k in ("registry_ids_absent", "registry_ids_all_excluded", "members_without_pre_year"):
        flags[k] = []
    return pd.DataFrame(
        {
            "firm_id": pd.array([], dtype="str"),
            "cluster": pd.array([], dtype="str"),
            "join_year": pd.array([], dtype="Int64"),
            "exit_year": pd.array([], dtype="Int64"),
        }
    )


def _linked_registry(
    reg: pd.DataFrame,
    funiq: pd.Index,
    spec: PanelSpec,
    flags: dict[str, Any],
    accounts_source: str,
) -> tuple[pd.DataFrame, str]:
    """Registry ids normalised and linked to the accounts ids, exact duplicate rows removed."""
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
        flags["duplicate_registry_rows"] = [jsonable(r) for r in reg.index[exact.to_numpy()]]
        reg = reg[~exact.to_numpy()]
    return reg, src


def _exit_years(
    reg: pd.DataFrame, j: np.ndarray, e_raw: np.ndarray, src: str, flags: dict[str, Any]
) -> np.ndarray:
    """Exit years (open spells far in the future); a spell within one calendar year keeps its join year."""
    e = np.where(np.isfinite(e_raw), e_raw, _OPEN).astype("int64")
    same = e == j
    if same.any():  # joined and left in one calendar year: the join year counts (module docstring)
        spell_rows = [jsonable(r) for r in reg.index[same]]
        flags["same_year_spells"] = spell_rows
        warnings.warn(
            f"{src}, rows {describe_rows(spell_rows)}: {len(spell_rows):,} membership spell(s) "
            "start and end "
            "in the same calendar year; each counts as one membership year (its join year)",
            DataWarning,
            stacklevel=4,  # build_panel's caller (via membership and build_panel)
        )
        e = np.where(same, j + 1, e)
    return e


def _memberships_table(
    reg: pd.DataFrame, j: np.ndarray, e_raw: np.ndarray, src: str
) -> pd.DataFrame:
    """The normalised registry, sorted by firm, join year and cluster."""
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
    return memberships


def _member_columns(
    data: pd.DataFrame,
    kcode: np.ndarray,
    n_codes: int,
    spells: pd.DataFrame,
    flags: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray]:
    """cluster, treat_year, rel_year from the first spell; member, member_years from merged spells.

    Returns which rows are of members and their treat year (0 for the others).
    """
    n = len(data)
    sc = spells["code"].to_numpy()
    first = np.r_[True, sc[1:] != sc[:-1]] if len(sc) else np.zeros(0, dtype=bool)
    treat_by = np.full(n_codes, np.nan)
    cl_codes, cl_uniq = pd.factorize(spells["cluster"], use_na_sentinel=True)
    cluster_by = np.full(n_codes, -1, dtype=np.int64)
    treat_by[sc[first]] = spells["j"].to_numpy()[first]
    cluster_by[sc[first]] = cl_codes[first]
    intervals = _merged_intervals(spells, sc, first)
    flags["rejoining_firms"] = int((np.bincount(intervals["code"], minlength=1) > 1).sum())
    flags["multi_cluster_firms"] = int((spells.groupby("code")["cluster"].nunique() > 1).sum())

    yr = data["year"].to_numpy(dtype="int64")
    treat = treat_by[kcode]
    is_mem = np.isfinite(treat)
    treat_i = np.where(is_mem, treat, 0).astype("int64")
    data["cluster"] = str_array(str_array(cl_uniq).take(cluster_by[kcode], allow_fill=True))
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
    return is_mem, treat_i


def _merged_intervals(spells: pd.DataFrame, sc: np.ndarray, first: np.ndarray) -> pd.DataFrame:
    """Overlapping spells of a firm (several clusters, overlapping re-registrations) merged."""
    se = spells["e"].to_numpy()
    sj = spells["j"].to_numpy()
    run_max = spells.groupby("code", sort=False)["e"].cummax().to_numpy()
    prev_max = np.r_[-1, run_max[:-1]] if len(sc) else run_max
    new_block = first | (sj > prev_max)
    return pd.DataFrame(
        {
            "code": sc[new_block],
            "j": sj[new_block],
            "e": np.maximum.reduceat(se, np.flatnonzero(new_block)) if len(sc) else se,
        }
    )


def _pre_year_flags(
    data: pd.DataFrame,
    kcode: np.ndarray,
    n_codes: int,
    is_mem: np.ndarray,
    treat_i: np.ndarray,
    spec: PanelSpec,
    flags: dict[str, Any],
) -> None:
    """has_pre_year, members without a pre-joining year, joins outside the window."""
    n = len(data)
    yr = data["year"].to_numpy(dtype="int64")
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
