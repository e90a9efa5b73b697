"""Forest plot: one row per term (cluster, cohort...), estimate with its confidence interval."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clusterimpact.errors import SpecError
from clusterimpact.plotting._core import (
    PALETTE,
    new_axes,
    set_caption,
    style_context,
    term_label,
    tidy_input,
)
from clusterimpact.plotting._format import (
    PERCENT_CAPTION,
    axis_outcome,
    check_axis_label,
    effect_axis_label,
    pct,
    to_percent,
    to_percent_frame,
)
from clusterimpact.plotting.truth import match_truth, truth_frame

__all__ = ["forest_frame", "plot_forest"]


def forest_frame(
    data: Any, *, level: float = 0.95, terms: Sequence[str] | str | None = None
) -> pd.DataFrame:
    """Rows of a forest plot: ``group, term, label, estimate, conf_low, conf_high``.

    ``data`` is a tidy frame (optionally with a ``group`` column), a result, or a dict
    ``{group name: result or tidy frame}``. ``terms``: a list of terms to keep, or a prefix string
    (``"group:"`` keeps ``group:2017``, ``group:2018``…).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.plotting import forest_frame
    >>> cs = ci.att_gt(example_panel(), outcome="ln_lp", control="notyet", allow_unbalanced=True)
    >>> rows = forest_frame(ci.aggte(cs, "group"), terms="group:")
    >>> bool(rows["term"].str.startswith("group:").all())
    True
    """
    if isinstance(data, Mapping):
        parts = []
        for name, obj in data.items():
            t = tidy_input(obj, level)
            t = t.assign(group=str(name))
            parts.append(t)
        frame = pd.concat(parts, ignore_index=True)
    else:
        frame = tidy_input(data, level)
        if "group" not in frame.columns:
            frame = frame.assign(group="")
    if "term" not in frame.columns:
        raise SpecError("forest plot rows need a 'term' column")
    frame["term"] = frame["term"].astype(str)
    if isinstance(terms, str):
        frame = frame[frame["term"].str.startswith(terms)]
    elif terms is not None:
        frame = frame[frame["term"].isin(list(terms))]
    if frame.empty:
        raise SpecError(f"no rows left to plot (terms={terms!r})")
    frame = frame.assign(label=[term_label(t) for t in frame["term"]])
    frame["group"] = frame["group"].astype(str)
    return frame[["group", "term", "label", "estimate", "conf_low", "conf_high"]].reset_index(
        drop=True
    )


def plot_forest(
    data: Any,
    *,
    level: float = 0.95,
    terms: Sequence[str] | str | None = None,
    overall: float | None = None,
    truth: Any = None,
    truth_key: str = "att",
    outcome_label: str = "ln productivity",
    percent: bool = True,
    xlabel: str | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    caption: str | None = None,
) -> Axes:
    """Forest plot: one row per term (cluster, cohort…), estimate with its CI, top to bottom.

    Rows come from :func:`forest_frame`; groups (dict keys or a ``group`` column) are stacked with a
    bold header row each. All rows are one ``ErrorbarContainer`` (``label="estimates"``) with
    horizontal whiskers, in :func:`forest_frame` order from the top. ``overall`` draws a dashed
    vertical line (e.g. the overall ATT). ``truth`` (synthetic data: e.g. ``truth["by_cluster"]`` or
    ``truth["by_cohort"]``, matched by term or label, see :func:`truth_frame`) adds crosses
    (``gid="truth"``) on the rows it covers.

    ``percent=True`` (default) draws effects on the log outcome in percent, ``100·(exp(b) − 1)``
    (estimates, limits, ``overall`` and the truth converted one by one; the caption says so, also
    after a custom ``caption``); the axis reads "Effect on <outcome_label> (%)" unless ``xlabel``
    is given (a label naming log points on a percent axis is refused).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.plotting import plot_forest
    >>> cs = ci.att_gt(example_panel(), outcome="ln_lp", control="notyet", allow_unbalanced=True)
    >>> by_cohort = ci.aggte(cs, "group")
    >>> ax = plot_forest(by_cohort, terms="group:", overall=float(by_cohort.params["group"]))
    >>> ax.containers[0].get_label()
    'estimates'
    """
    check_axis_label(xlabel, percent, argument="xlabel")
    rows = forest_frame(data, level=level, terms=terms)
    if percent:
        rows = to_percent_frame(rows, ("estimate", "conf_low", "conf_high"))
        overall = None if overall is None else float(to_percent(overall))
    groups = list(dict.fromkeys(rows["group"]))
    with_headers = len(groups) > 1 or groups != [""]
    yarr, ticks, ticklabels, header_y = _layout(rows, groups, with_headers)
    est = rows["estimate"].to_numpy(dtype=float)
    lo, hi = rows["conf_low"].to_numpy(dtype=float), rows["conf_high"].to_numpy(dtype=float)
    ov_txt = "" if overall is None else (f"{overall:+.1f} %" if percent else f"{overall:+.3f}")
    with style_context():
        ax = new_axes(ax, figsize=(6.4, 0.3 * len(ticks) + 1.3))
        # A bootstrap percentile interval need not contain its estimate; errorbar only draws
        # offsets from the marker, so such intervals are drawn whole as lines beside it.
        outside = (lo > est) | (hi < est)
        ax.errorbar(
            est,
            yarr,
            xerr=np.vstack([np.clip(est - lo, 0, None), np.clip(hi - est, 0, None)]),
            fmt="s",
            color=PALETTE[0],
            markersize=5,
            label="estimates",
        )
        if outside.any():
            ax.hlines(yarr[outside], lo[outside], hi[outside], color=PALETTE[0], linewidth=1.5)
        ax.axvline(0, color="black", linewidth=0.8)
        handles = []
        if overall is not None:
            handles.append(
                ax.axvline(
                    overall,
                    color=PALETTE[1],
                    linestyle="--",
                    linewidth=1,
                    label=f"Overall ({ov_txt})",
                )
            )
        if truth is not None:
            tv = match_truth(rows["term"], truth_frame(truth, truth_key))
            if percent:
                tv = to_percent(tv)
            ok = np.isfinite(tv)
            handles.append(
                ax.plot(
                    tv[ok],
                    yarr[ok],
                    linestyle="none",
                    marker="x",
                    markersize=7,
                    mew=1.8,
                    color="black",
                    label="Truth",
                    gid="truth",
                    zorder=4,
                )[0]
            )
        if handles:
            ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.set_yticks(ticks, ticklabels)
        for tick_y, tl in zip(ticks, ax.get_yticklabels(), strict=True):
            if tick_y in header_y:
                tl.set_fontweight("bold")
                tl.set_gid("header")
        ax.set_ylim(min(ticks) - 0.5, 0.5)
        ax.grid(axis="y", visible=False)
        ax.grid(axis="x", visible=True)
        ax.set_xlabel(
            xlabel
            or effect_axis_label(f"Effect on {axis_outcome(outcome_label, percent)}", percent)
        )
        ax.set_title(title or "Premium by group")
        set_caption(
            ax,
            (
                caption
                or (
                    f"Estimated effects with {pct(level)} confidence intervals"
                    f"{' by ' + ', '.join(g for g in groups if g) if with_headers else ''}"
                    f"{f'; dashed line: overall estimate {ov_txt}' if overall is not None else ''}."
                )
            )
            + (" Crosses: the true effect in the synthetic data." if truth is not None else "")
            + (f" {PERCENT_CAPTION}" if percent else ""),
        )
    return ax


def _layout(
    rows: pd.DataFrame, groups: list[str], with_headers: bool
) -> tuple[np.ndarray, list[float], list[str], set[float]]:
    """Row positions top to bottom (a bold header row per group when ``with_headers``).

    Returns the rows' y positions, all tick positions and labels, and the header ticks' positions.
    """
    ypos: list[float] = []
    ticks: list[float] = []
    ticklabels: list[str] = []
    header_y: set[float] = set()
    y = 0.0
    for g in groups:
        if with_headers:
            header_y.add(y)
            ticks.append(y)
            ticklabels.append(g)
            y -= 1
        for lab in rows.loc[rows["group"] == g, "label"]:
            ypos.append(y)
            ticks.append(y)
            ticklabels.append(str(lab))
            y -= 1
    return np.array(ypos), ticks, ticklabels, header_y
