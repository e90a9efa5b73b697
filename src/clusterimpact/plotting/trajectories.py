"""Figure of members vs matched controls: mean outcome by event time with confidence bands.

The series is computed by :func:`clusterimpact.descriptive.trajectories_series` (re-exported here).
"""

from __future__ import annotations

from typing import Any

from matplotlib.axes import Axes

from clusterimpact.descriptive import stacked_sample, trajectories_series
from clusterimpact.plotting._core import GREY, PALETTE, new_axes, set_caption, style_context
from clusterimpact.plotting._format import pct

__all__ = ["plot_trajectories", "trajectories_series"]


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

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> matched = ci.match_panel(example_panel(), design="trends", control="notyet", replace=True,
    ...                          outcome="ln_lp", seed=1)
    >>> from clusterimpact.plotting import plot_trajectories
    >>> ax = plot_trajectories(matched, outcome="ln_lp")
    >>> sorted(line.get_gid() for line in ax.get_lines() if line.get_gid() in ("members", "controls"))
    ['controls', 'members']
    """
    frame, weight = stacked_sample(data, weight)
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
