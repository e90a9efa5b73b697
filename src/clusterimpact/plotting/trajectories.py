"""Figure of members vs matched controls: mean outcome by event time with confidence bands."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from scipy import stats

from clusterimpact._validation import as_frame, require_columns
from clusterimpact.errors import SpecError
from clusterimpact.plotting._core import GREY, PALETTE, new_axes, set_caption, style_context
from clusterimpact.plotting._format import pct

__all__ = ["plot_trajectories", "trajectories_series"]


def _stacked(data: Any, weight: str | None) -> tuple[pd.DataFrame, str | None]:
    """A MatchResult's matched panel (with its ``weight`` column by default) or the frame itself."""
    mp = getattr(data, "matched_panel", None)
    if isinstance(mp, pd.DataFrame):
        return mp, weight if weight is not None else ("weight" if "weight" in mp.columns else None)
    return as_frame(data), weight


def trajectories_series(
    data: Any,
    *,
    outcome: str = "ln_lp",
    event: str = "rel_year",
    treated: str = "treated",
    weight: str | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Mean outcome by event time for members and their matched controls, with pointwise CIs.

    Parameters
    ----------
    data
        Stacked matched sample: one row per firm-year with the event time relative to the (matched
        member's) join year, a 0/1 treated indicator, the outcome and optionally matching weights;
        or a panel-mode MatchResult (its ``matched_panel``, weighted by its ``weight`` column).
    outcome, event, treated, weight
        Column names.
    level
        Confidence level of the (weighted) mean's normal interval; SE = weighted SD / sqrt(effective n).

    Returns
    -------
    DataFrame
        ``event, group ("members"/"controls"), mean, std_error, conf_low, conf_high, n``.
    """
    df, weight = _stacked(data, weight)
    cols = [outcome, event, treated] + ([weight] if weight else [])
    require_columns(df, cols, what="trajectories")
    d = df[cols].copy()
    d["_w"] = d[weight].astype(float) if weight else 1.0
    d = d[np.isfinite(d[outcome].astype(float)) & d[event].notna() & (d["_w"] > 0)]
    z = float(stats.norm.ppf(0.5 + level / 2))
    rows = []
    for key, g in d.groupby([treated, event], sort=True):
        tr, ev = cast(tuple[Any, Any], key)
        y, w = g[outcome].to_numpy(dtype=float), g["_w"].to_numpy(dtype=float)
        m = float(np.average(y, weights=w))
        n_eff = w.sum() ** 2 / (w**2).sum()
        sd = float(np.sqrt(np.average((y - m) ** 2, weights=w) * len(y) / max(len(y) - 1, 1)))
        se = sd / np.sqrt(n_eff) if len(y) > 1 else np.nan
        rows.append(
            {
                "event": float(ev),
                "group": "members" if int(tr) == 1 else "controls",
                "mean": m,
                "std_error": se,
                "conf_low": m - z * se,
                "conf_high": m + z * se,
                "n": len(y),
            }
        )
    out = pd.DataFrame(rows)
    if out.empty:
        raise SpecError("no rows with a finite outcome and event time to plot")
    out["_o"] = out["group"].map({"members": 0, "controls": 1})
    out = out.sort_values(["_o", "event"], kind="mergesort").drop(columns="_o")
    return out.reset_index(drop=True)


def plot_trajectories(
    data: Any,
    *,
    outcome: str = "ln_lp",
    event: str = "rel_year",
    treated: str = "treated",
    weight: str | None = None,
    level: float = 0.95,
    outcome_label: str | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Members vs matched controls: mean outcome by event time with confidence bands.

    ``data`` is either a stacked matched sample (see :func:`trajectories_series`) or that function's
    output (a frame with ``event, group, mean, conf_low, conf_high``). Each group is a line
    (``gid`` = group) with a shaded band; a dotted vertical line marks joining (event time −0.5).
    """
    frame, weight = _stacked(data, weight)
    if {"event", "group", "mean", "conf_low", "conf_high"}.issubset(frame.columns):
        series = frame
    else:
        series = trajectories_series(
            frame, outcome=outcome, event=event, treated=treated, weight=weight, level=level
        )
    label = outcome_label or {"ln_lp": "ln labour productivity", "tfp": "ln TFP"}.get(
        outcome, outcome
    )
    with style_context():
        ax = new_axes(ax)
        for grp, color, name in (
            ("members", PALETTE[0], "Members"),
            ("controls", GREY, "Matched controls"),
        ):
            s = series[series["group"] == grp]
            if s.empty:
                continue
            x = s["event"].to_numpy(dtype=float)
            ax.fill_between(
                x,
                s["conf_low"].to_numpy(dtype=float),
                s["conf_high"].to_numpy(dtype=float),
                color=color,
                alpha=0.2,
                linewidth=0,
            )
            ax.plot(
                x,
                s["mean"].to_numpy(dtype=float),
                color=color,
                marker="o",
                markersize=4,
                label=name,
                gid=grp,
            )
        ax.axvline(-0.5, color="black", linestyle=":", linewidth=0.9)
        ax.xaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
        ax.set_xlabel("Years since joining (controls: since their member's join year)")
        ax.set_ylabel(f"Mean {label}")
        ax.set_title(title or f"Members vs matched controls: {label}")
        ax.legend(loc="best")
        nm = int(series.loc[series["group"] == "members", "n"].max()) if "n" in series else 0
        nc = int(series.loc[series["group"] == "controls", "n"].max()) if "n" in series else 0
        set_caption(
            ax,
            f"Mean {label} of cluster members and their matched controls by years since joining, with "
            f"pointwise {pct(level)} confidence bands of the means{' (matching-weighted)' if weight else ''}, firm-years treated as independent. Up to "
            f"{nm:,} member and {nc:,} control firm-years per event time. The dotted line marks joining; "
            "the gap after it is the raw (unadjusted) matched difference.",
        )
    return ax
