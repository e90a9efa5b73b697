"""Descriptive figures: members against their sector over time, and who joins (selection).

The series they draw are computed in :mod:`clusterimpact.descriptive` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clusterimpact.descriptive import (
    GROUPS,
    SELECTION_VARS,
    SectorStat,
    SectorVar,
    members_vs_sector_series,
    selection_table,
)
from clusterimpact.errors import SpecError
from clusterimpact.plotting._core import GREY, PALETTE, new_axes, set_caption, style_context

__all__ = [
    "GROUPS",
    "SELECTION_VARS",
    "members_vs_sector_series",
    "plot_members_vs_sector",
    "plot_selection",
    "selection_table",
]

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
    thin: int | None = None,
    show_n: bool | Sequence[str] = False,
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
    thin
        Mark points resting on fewer than ``thin`` firms with hollow markers (``Line2D`` with
        ``gid`` = ``"<group>:thin"``) and say so in the caption; None marks nothing.
    show_n
        Write the number of firms behind each point above it, in the group's colour (text with
        ``gid`` = ``"<group>:n"``): ``True`` for every member group (staying, new, leaving), or the
        groups to annotate (e.g. ``("leaving",)``); the sector's counts stay in the caption.

    Returns
    -------
    Axes
        With a caption (see :func:`~clusterimpact.plotting.figure_caption`).

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.plotting import plot_members_vs_sector
    >>> ax = plot_members_vs_sector(example_panel(), "va_per_fte")
    >>> sorted(line.get_gid() for line in ax.get_lines() if line.get_gid())
    ['leaving', 'new', 'sector', 'staying']
    """
    if series is None:
        series = members_vs_sector_series(
            panel, var, stat=stat, min_firms=min_firms, index_year=index_year
        )
    with style_context():
        ax = new_axes(ax)
        annotate = _annotated_groups(show_n)
        for grp in GROUPS:
            s = series[series["group"] == grp]
            if not s.empty:
                _draw_group(ax, s, grp, thin=thin, show_n=grp in annotate)
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
            "years), new (joined this year), leaving (member the previous year, no longer a member "
            "this year but still observed: the first year after leaving). "
            f"Firms per year: members {int(nm.min()) if len(nm) else 0}-{int(nm.max()) if len(nm) else 0} "
            f"(all groups, smallest and largest cell), sector {int(ns.min()) if len(ns) else 0}-"
            f"{int(ns.max()) if len(ns) else 0}. "
            + (
                f"Hollow markers: fewer than {int(thin)} firms behind the point. "
                if thin is not None
                else ""
            )
            + (
                f"Numbers above the points: firms behind each point ({', '.join(annotate)}). "
                if annotate
                else ""
            )
            + "Descriptive; not a causal estimate.",
        )
    return ax


def _annotated_groups(show_n: bool | Sequence[str]) -> tuple[str, ...]:
    """The member groups whose points carry their number of firms, in drawing order."""
    members = tuple(g for g in GROUPS if g != "sector")
    if isinstance(show_n, bool):
        return members if show_n else ()
    wanted = [str(g) for g in show_n]
    unknown = [g for g in wanted if g not in members]
    if unknown:
        raise SpecError(
            f"show_n names unknown member group(s) {unknown}; choose from {', '.join(members)}"
        )
    return tuple(g for g in members if g in wanted)


def _draw_group(ax: Axes, s: pd.DataFrame, grp: str, *, thin: int | None, show_n: bool) -> None:
    """One group's line; hollow markers on its thin points; its firm counts above the points."""
    st = _GROUP_STYLE[grp]
    x, y = s["year"].to_numpy(dtype=float), s["value"].to_numpy(dtype=float)
    ax.plot(
        x,
        y,
        label=_GROUP_LABELS[grp],
        gid=grp,
        color=st["color"],
        linestyle=st["linestyle"],
        marker=st["marker"],
        markersize=4,
    )
    if thin is not None:
        few = s[s["n_firms"] < int(thin)]
        if len(few):
            ax.plot(
                few["year"].to_numpy(dtype=float),
                few["value"].to_numpy(dtype=float),
                linestyle="none",
                marker=st["marker"] or "o",
                markersize=6,
                markerfacecolor="white",
                markeredgecolor=st["color"],
                gid=f"{grp}:thin",
            )
    if show_n:
        for xi, yi, n in zip(x, y, s["n_firms"].to_numpy(), strict=True):
            if np.isfinite(yi):
                ax.annotate(
                    f"{int(n)}",
                    (xi, yi),
                    xytext=(0, 4),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=6,
                    color=st["color"],
                    gid=f"{grp}:n",
                )


# -- selection ---------------------------------------------------------------------------------------


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

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.plotting import plot_selection
    >>> ax = plot_selection(example_panel())
    >>> [line.get_gid() for line in ax.get_lines() if line.get_gid() == "smd"]
    ['smd']
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
