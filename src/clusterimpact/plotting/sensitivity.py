"""Sensitivity figures: Rambachan-Roth robust sets against the bound (the original interval first)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clusterimpact.errors import SpecError
from clusterimpact.plotting._core import GREY, PALETTE, new_axes, set_caption, style_context

__all__ = ["plot_sensitivity", "sensitivity_frame"]


def sensitivity_frame(result: Any) -> pd.DataFrame:
    """What :func:`plot_sensitivity` draws: ``x``, ``term``, ``conf_low``, ``conf_high``, ``kind``.

    The original interval sits one grid step left of the smallest bound (at ``-step`` when the grid
    starts at 0), the robust sets at their bound.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.estimation.honest import honest_did
    >>> from clusterimpact.plotting import sensitivity_frame
    >>> es = ci.event_study(example_panel(), outcome="ln_lp", window=(-3, 3), bin_endpoints=False)
    >>> frame = sensitivity_frame(honest_did(es, grid=[0.5, 1.0]))
    >>> frame["term"].tolist(), frame["x"].tolist()
    (['original', 'Mbar=0.5', 'Mbar=1'], [0.0, 0.5, 1.0])
    """
    if not hasattr(result, "sets") or not hasattr(result, "original"):
        raise SpecError(
            f"plot_sensitivity needs a HonestResult (honest_did(...)), got {type(result).__name__}"
        )
    sets = result.sets
    bounds = sets["bound"].to_numpy(dtype=float)
    step = float(np.min(np.diff(np.unique(bounds)))) if np.unique(bounds).size > 1 else 1.0
    step = step if step > 0 else 1.0
    terms = result.tidy()["term"].tolist()
    return pd.DataFrame(
        {
            "x": [float(bounds.min()) - step, *bounds],
            "term": terms,
            "conf_low": [result.original[0], *sets["conf_low"].to_numpy(dtype=float)],
            "conf_high": [result.original[1], *sets["conf_high"].to_numpy(dtype=float)],
            "kind": ["original", *["robust"] * len(bounds)],
        }
    )


def plot_sensitivity(result: Any, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Robust confidence sets against ``Mbar`` (relative magnitudes) or ``M`` (smoothness).

    The original interval (parallel trends exact) is the grey whisker at the left, labelled
    ``Original``; each robust set is a whisker at its bound (``ErrorbarContainer`` labelled with the
    method, C-LF or FLCI); a horizontal line marks 0 and a dotted vertical line the breakdown value
    where one was computed and lies inside the grid. The caption states the target, level and method.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.estimation.honest import honest_did
    >>> from clusterimpact.plotting import plot_sensitivity
    >>> es = ci.event_study(example_panel(), outcome="ln_lp", window=(-3, 3), bin_endpoints=False)
    >>> ax = plot_sensitivity(honest_did(es, grid=[0.5, 1.0]))
    >>> ax.get_xlabel()  # doctest: +ELLIPSIS
    '...'
    """
    frame = sensitivity_frame(result)
    orig, rob = frame.iloc[:1], frame.iloc[1:]
    label = getattr(result, "grid_label", "M")
    method = "C-LF" if getattr(result, "restriction", "") == "rm" else "FLCI"
    with style_context():
        ax = new_axes(ax)
        for part, color, name in ((orig, GREY, "Original"), (rob, PALETTE[0], method)):
            mid = 0.5 * (part["conf_low"].to_numpy() + part["conf_high"].to_numpy())
            half = 0.5 * (part["conf_high"].to_numpy() - part["conf_low"].to_numpy())
            ax.errorbar(
                part["x"].to_numpy(),
                mid,
                yerr=half,
                fmt="none",
                ecolor=color,
                capsize=4,
                linewidth=2,
                label=name,
            )
        ax.axhline(0.0, color="black", linewidth=0.8)
        bd = getattr(result, "breakdown", None)
        if bd is not None and np.isfinite(bd) and rob["x"].min() <= bd <= rob["x"].max():
            ax.axvline(bd, color=PALETTE[1], linestyle=":", label=f"breakdown {label} = {bd:.3g}")
        ticks = frame["x"].to_numpy()
        ax.set_xticks(ticks)
        ax.set_xticklabels(["Original", *[f"{v:g}" for v in rob["x"]]])
        ax.set_xlabel(label)
        level = getattr(result, "level", 0.95)
        target = getattr(result, "target", "")
        ax.set_ylabel(f"{100 * level:g}% robust CI for theta ({target})")
        ax.legend(loc="upper left")
        if title:
            ax.set_title(title)
        kind = "relative magnitudes" if method == "C-LF" else "smoothness"
        set_caption(
            ax,
            f"Rambachan-Roth sensitivity of theta = {target}: {100 * level:g}% robust confidence sets "
            f"under {kind} bounds ({method}) against {label}; the original interval assumes exact "
            "parallel trends.",
        )
    return ax
