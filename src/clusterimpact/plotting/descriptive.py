"""Descriptive figures: members against their sector over time, and who joins (selection)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clusterimpact._cohort import cohort_years
from clusterimpact._validation import as_frame, check_choice, require_columns
from clusterimpact.errors import DataError
from clusterimpact.plotting._core import GREY, PALETTE, new_axes, set_caption, style_context

__all__ = [
    "GROUPS",
    "members_vs_sector_series",
    "plot_members_vs_sector",
    "plot_selection",
    "selection_table",
]

SectorVar = Literal["va_per_fte", "emp", "va"]
SectorStat = Literal["median", "mean", "aggregate"]

#: Groups of :func:`members_vs_sector_series`, in drawing order.
GROUPS = ("sector", "staying", "new", "leaving")

_VAR_LABELS = {
    "va_per_fte": "Value added per FTE",
    "emp": "Employment (FTE)",
    "va": "Value added",
}
_GROUP_LABELS = {
    "sector": "Sector (non-members)",
    "staying": "Members: staying",
    "new": "Members: new",
    "leaving": "Members: leaving",
}
_GROUP_STYLE: dict[str, dict[str, Any]] = {
    "sector": {"color": GREY, "linestyle": "--", "marker": None},
    "staying": {"color": PALETTE[0], "linestyle": "-", "marker": "o"},
    "new": {"color": PALETTE[2], "linestyle": "-", "marker": "s"},
    "leaving": {"color": PALETTE[1], "linestyle": "-", "marker": "v"},
}


def members_vs_sector_series(
    panel: Any,
    var: SectorVar = "va_per_fte",
    *,
    stat: SectorStat = "median",
    min_firms: int = 1,
    index_year: int | None = None,
) -> pd.DataFrame:
    """Yearly statistic of ``var`` for members (staying / new / leaving) and their sector.

    The Flemish cluster monitoring's view: in each year ``t``, member firms are split by their status
    change from ``t-1`` to ``t``:

    - **staying**: member in ``t-1`` and in ``t``;
    - **new**: member in ``t`` but not in ``t-1`` (the join year; a firm first observed in ``t`` counts
      as new when ``member_years == 1``, else as staying);
    - **leaving**: member in ``t-1``, observed in ``t`` and no longer a member (the first year after
      exit);
    - **sector**: never-members in the 2-digit sectors (``sector``) where any member is observed in ``t``.

    Parameters
    ----------
    panel
        A FirmPanel or a frame with ``firm_id, year, sector, member, member_years, ever_member`` and
        ``va`` / ``emp``.
    var
        ``"va_per_fte"`` (``va / emp``), ``"emp"`` or ``"va"``.
    stat
        ``"median"`` (default; robust to the skewed size distribution), ``"mean"`` over firms, or
        ``"aggregate"`` (ratio of sums ``Σva / Σemp`` for ``va_per_fte``; mean for the others).
    min_firms
        Cells with fewer firms are reported with ``value`` NaN (confidentiality / noise).
    index_year
        Report each group's series as an index, ``100 * value / value[index_year]`` (the monitoring's
        growth view); a group without a value in that year is all NaN.

    Returns
    -------
    DataFrame
        Tidy: ``year, group, value, n_firms`` with ``group`` in :data:`GROUPS`, sorted by group order
        then year. Rows with non-positive or missing ``emp`` (for ``va_per_fte``) or missing ``var`` are
        left out of the statistic.
    """
    check_choice("var", var, ("va_per_fte", "emp", "va"))
    check_choice("stat", stat, ("median", "mean", "aggregate"))
    df = as_frame(panel)
    need = ["firm_id", "year", "sector", "member", "member_years", "ever_member"]
    need += ["va", "emp"] if var == "va_per_fte" else [var]
    require_columns(df, need, what="members vs sector")
    d = df[need].copy()
    d["member"] = d["member"].astype(int)
    d["ever_member"] = d["ever_member"].astype(bool)
    d = d.sort_values(["firm_id", "year"], kind="mergesort")
    prev = d[["firm_id", "year", "member"]].copy()
    prev["year"] = prev["year"] + 1
    prev = prev.rename(columns={"member": "member_prev"})
    d = d.merge(prev, on=["firm_id", "year"], how="left")
    had_prev = d["member_prev"].notna()
    mprev = d["member_prev"].fillna(0).astype(int)
    group = pd.Series(pd.NA, index=d.index, dtype="object")
    is_m = d["member"] == 1
    first_obs_new = ~had_prev & (d["member_years"].astype(float) <= 1)
    group[is_m & (mprev == 1)] = "staying"
    group[is_m & ~had_prev & ~first_obs_new] = "staying"
    group[is_m & (mprev == 0) & had_prev] = "new"
    group[is_m & first_obs_new] = "new"
    group[~is_m & (mprev == 1) & had_prev] = "leaving"
    member_sectors = d.loc[is_m, ["year", "sector"]].drop_duplicates()
    member_sectors["_in"] = True
    d = d.merge(member_sectors, on=["year", "sector"], how="left")
    group = group.reindex(d.index)
    group[~d["ever_member"] & d["_in"].fillna(False).astype(bool)] = "sector"
    d["group"] = group
    d = d[d["group"].notna()].copy()

    if var == "va_per_fte":
        ok = d["emp"].astype(float) > 0
        d = d[ok & d["va"].notna()].copy()
        d["value"] = d["va"].astype(float) / d["emp"].astype(float)
    else:
        d = d[d[var].notna()].copy()
        d["value"] = d[var].astype(float)

    g = d.groupby(["group", "year"], sort=True)
    if stat == "median":
        val = g["value"].median()
    elif stat == "mean" or var != "va_per_fte":
        val = g["value"].mean()
    else:
        sums = g[["va", "emp"]].sum()
        val = sums["va"].astype(float) / sums["emp"].astype(float)
    n = g["firm_id"].nunique()
    out = pd.DataFrame({"value": val.astype(float), "n_firms": n.astype("int64")}).reset_index()
    out.loc[out["n_firms"] < min_firms, "value"] = np.nan
    out["year"] = out["year"].astype("int64")
    if index_year is not None:
        if int(index_year) not in set(out["year"]):
            raise DataError(
                f"index_year={index_year} is not among the series' years "
                f"({int(out['year'].min())}-{int(out['year'].max())})",
                column="year",
            )
        base = out[out["year"] == int(index_year)].set_index("group")["value"]
        out["value"] = 100.0 * out["value"] / out["group"].map(base).astype(float)
    out["group"] = out["group"].astype(str)
    order = {g_: i for i, g_ in enumerate(GROUPS)}
    out["_o"] = out["group"].map(order)
    out = out.sort_values(["_o", "year"], kind="mergesort").drop(columns="_o")
    return out[["year", "group", "value", "n_firms"]].reset_index(drop=True)


def plot_members_vs_sector(
    panel: Any,
    var: SectorVar = "va_per_fte",
    *,
    stat: SectorStat = "median",
    min_firms: int = 1,
    index_year: int | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    series: pd.DataFrame | None = None,
) -> Axes:
    """Members (staying / new / leaving) against their sector over time.

    One line per group of :func:`members_vs_sector_series` (drawn in the order of :data:`GROUPS`,
    each ``Line2D`` labelled with the group's display name and ``gid`` = group code).

    Parameters
    ----------
    panel
        FirmPanel or frame (see :func:`members_vs_sector_series`); ignored when ``series`` is given.
    var, stat, min_firms, index_year
        Passed to :func:`members_vs_sector_series` (``index_year`` also labels the axis; give it
        with a precomputed indexed ``series`` too).
    ax
        Axes to draw into; a new figure when ``None``.
    title
        Overrides the default title.
    series
        A precomputed :func:`members_vs_sector_series` frame.

    Returns
    -------
    Axes
        With a caption (see :func:`~clusterimpact.plotting.figure_caption`).
    """
    if series is None:
        series = members_vs_sector_series(
            panel, var, stat=stat, min_firms=min_firms, index_year=index_year
        )
    with style_context():
        ax = new_axes(ax)
        for grp in GROUPS:
            s = series[series["group"] == grp]
            if s.empty:
                continue
            st = _GROUP_STYLE[grp]
            ax.plot(
                s["year"].to_numpy(dtype=float),
                s["value"].to_numpy(dtype=float),
                label=_GROUP_LABELS[grp],
                gid=grp,
                color=st["color"],
                linestyle=st["linestyle"],
                marker=st["marker"],
                markersize=4,
            )
        stat_word = {"median": "median", "mean": "mean", "aggregate": "aggregate"}[stat]
        ax.set_title(title or f"{_VAR_LABELS[var]}: members vs their sector")
        ax.set_xlabel("Year")
        ax.set_ylabel(
            f"{_VAR_LABELS[var]} ({stat_word}"
            + (f", index {index_year} = 100)" if index_year is not None else ")")
        )
        if index_year is not None:
            ax.axhline(100, color="black", linewidth=0.6)
        ax.xaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
        ax.legend(loc="best")
        years = series["year"]
        span = f"{int(years.min())}-{int(years.max())}" if len(years) else "no years"
        nm = series.loc[series["group"] != "sector", "n_firms"]
        ns = series.loc[series["group"] == "sector", "n_firms"]
        set_caption(
            ax,
            f"{_VAR_LABELS[var]} ({stat_word} over firms{', Σva/Σemp' if stat == 'aggregate' and var == 'va_per_fte' else ''}) "
            f"of cluster members and of never-members in the same 2-digit NACE sectors, {span}"
            f"{f', each group indexed to {index_year} = 100' if index_year is not None else ''}. "
            "Members are split by their status change from the previous year: staying (member in both "
            "years), new (joined this year), leaving (left the cluster this year, still active). "
            f"Firms per year: members {int(nm.min()) if len(nm) else 0}-{int(nm.max()) if len(nm) else 0} "
            f"(all groups, smallest and largest cell), sector {int(ns.min()) if len(ns) else 0}-"
            f"{int(ns.max()) if len(ns) else 0}. Descriptive; not a causal estimate.",
        )
    return ax


# -- selection ---------------------------------------------------------------------------------------

#: Pre-joining characteristics shown by :func:`plot_selection`: column → label.
SELECTION_VARS: dict[str, str] = {
    "ln_emp": "Size (ln FTE)",
    "age": "Age (years)",
    "ln_kl": "Capital intensity (ln K/L)",
    "ln_lp": "Productivity level (ln VA/FTE)",
    "lp_trend": "Productivity trend (Δ ln VA/FTE p.a.)",
}


def selection_table(
    panel: Any,
    *,
    variables: dict[str, str] | None = None,
    trend_years: int = 2,
    weighting: Literal["cohort", "none"] = "cohort",
) -> pd.DataFrame:
    """Pre-joining characteristics of members against never-members, as standardized differences.

    Members are measured in the year before they join (``treat_year - 1``). Never-members are measured
    in the same calendar years, weighted so that each year counts as much as its cohort of joiners
    (cohort ``g`` has ``n_g`` members → never-member rows in ``g - 1`` get weight ``n_g / N_{g-1}``);
    ``weighting="none"`` pools those never-member rows unweighted.
    ``lp_trend`` is ``(ln_lp_t - ln_lp_{t-k}) / k`` with ``k = trend_years``.

    Returns
    -------
    DataFrame
        ``variable, label, mean_members, mean_nonmembers, sd_members, sd_nonmembers, smd, n_members,
        n_nonmembers``; ``smd = (mean_m - mean_n) / sqrt((sd_m² + sd_n²) / 2)``.
    """
    check_choice("weighting", weighting, ("cohort", "none"))
    variables = dict(SELECTION_VARS if variables is None else variables)
    df = as_frame(panel)
    base = ["firm_id", "year", "treat_year", "ever_member"]
    cols = [c for c in variables if c != "lp_trend"]
    need = base + cols + (["ln_lp"] if "lp_trend" in variables else [])
    require_columns(df, list(dict.fromkeys(need)), what="selection figure")
    d = df[list(dict.fromkeys(need))].copy()
    d["_g"] = cohort_years(d["treat_year"], column="treat_year", never=np.nan)
    if "lp_trend" in variables:
        lag = d[["firm_id", "year", "ln_lp"]].copy()
        lag["year"] = lag["year"] + trend_years
        lag = lag.rename(columns={"ln_lp": "_lp_lag"})
        d = d.merge(lag, on=["firm_id", "year"], how="left")
        d["lp_trend"] = (d["ln_lp"].astype(float) - d["_lp_lag"].astype(float)) / trend_years
    ty = d["_g"]
    members = d[ty.notna() & (d["year"].astype(float) == ty - 1)]
    if members.empty:
        raise DataError(
            "no member is observed in the year before joining (treat_year - 1); the selection "
            "figure needs pre-joining rows",
            column="treat_year",
        )
    cohort_n = members.groupby("year")["firm_id"].nunique()
    never = d[~d["ever_member"].astype(bool) & d["year"].isin(cohort_n.index)].copy()
    if never.empty:
        raise DataError(
            "no never-member is observed in the pre-joining years of the members",
            column="ever_member",
        )
    per_year = never.groupby("year")["firm_id"].transform("size").astype(float)
    never["_w"] = (
        never["year"].map(cohort_n).astype(float) / per_year if weighting == "cohort" else 1.0
    )
    rows = []
    for var, label in variables.items():
        m = members[var].astype(float).dropna()
        nv = never[[var, "_w"]].dropna()
        x, w = nv[var].astype(float).to_numpy(), nv["_w"].to_numpy()
        mm, sm = float(m.mean()), float(m.std(ddof=1)) if len(m) > 1 else np.nan
        if w.sum() > 0:
            mn = float(np.average(x, weights=w))
            sn = float(np.sqrt(np.average((x - mn) ** 2, weights=w)))
        else:
            mn = sn = np.nan
        pooled = np.sqrt((sm**2 + sn**2) / 2)
        smd = (mm - mn) / pooled if pooled > 0 else np.nan
        rows.append(
            {
                "variable": var,
                "label": label,
                "mean_members": mm,
                "mean_nonmembers": mn,
                "sd_members": sm,
                "sd_nonmembers": sn,
                "smd": smd,
                "n_members": int(len(m)),
                "n_nonmembers": int(len(x)),
            }
        )
    return pd.DataFrame(rows)


def plot_selection(
    panel: Any,
    *,
    variables: dict[str, str] | None = None,
    trend_years: int = 2,
    weighting: Literal["cohort", "none"] = "cohort",
    threshold: float = 0.1,
    ax: Axes | None = None,
    title: str | None = None,
    table: pd.DataFrame | None = None,
) -> Axes:
    """Who joins: standardized differences of pre-joining characteristics, members vs never-members.

    One point per characteristic of :func:`selection_table` (top to bottom in its order); the tick
    labels carry both groups' means. Dotted lines mark ``±threshold`` (0.1, the usual balance rule).

    Returns
    -------
    Axes
        The points are a ``Line2D`` with ``gid="smd"``; caption attached.
    """
    if table is None:
        table = selection_table(
            panel, variables=variables, trend_years=trend_years, weighting=weighting
        )
    with style_context():
        ax = new_axes(ax, figsize=(7.2, 0.55 * len(table) + 1.4))
        y = np.arange(len(table))[::-1].astype(float)
        smd = table["smd"].to_numpy(dtype=float)
        for yi, s in zip(y, smd, strict=True):
            ax.plot([0, s], [yi, yi], color=PALETTE[0], linewidth=1.2, alpha=0.6)
        ax.plot(smd, y, linestyle="none", marker="o", color=PALETTE[0], gid="smd", markersize=7)
        ax.axvline(0, color="black", linewidth=0.8)
        for t in (-threshold, threshold):
            ax.axvline(t, color=GREY, linewidth=0.8, linestyle=":")
        labels = [
            f"{r.label}\nmean {r.mean_members:.3g} vs {r.mean_nonmembers:.3g}"
            for r in table.itertuples(index=False)
        ]
        ax.set_yticks(y, labels)
        ax.grid(axis="y", visible=False)
        ax.grid(axis="x", visible=True)
        lim = max(float(np.nanmax(np.abs(smd))) if len(smd) else 0.0, threshold) * 1.15
        ax.set_xlim(-lim, lim)
        ax.set_xlabel("Standardized difference: members − never-members (pooled SD)")
        ax.set_title(title or "Who joins: members before joining vs never-members")
        n_m = int(table["n_members"].max()) if len(table) else 0
        n_n = int(table["n_nonmembers"].max()) if len(table) else 0
        set_caption(
            ax,
            "Standardized mean differences of pre-joining characteristics: members in the year before "
            f"joining (n = {n_m:,}) against never-members in the same years"
            f"{', weighted by cohort size' if weighting == 'cohort' else ''} (n = {n_n:,} firm-years). Positive values: members larger, older, more capital-intensive "
            f"or more productive. Dotted lines at ±{threshold:g}. Productivity trend: change in ln "
            f"value added per FTE over the previous {trend_years} years, per year. Descriptive.",
        )
    return ax
