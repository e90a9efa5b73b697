"""Figure of subgroup effects: estimates with confidence intervals, multiplicity-adjusted markers, the
pooled effect and the joint test of equal effects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from matplotlib.axes import Axes

from clusterimpact._validation import check_choice
from clusterimpact.errors import SpecError
from clusterimpact.plotting._core import (
    GREY,
    PALETTE,
    fmt_p,
    new_axes,
    set_caption,
    style_context,
    term_label,
)
from clusterimpact.plotting._format import (
    PERCENT_CAPTION,
    axis_outcome,
    check_axis_label,
    effect_axis_label,
    to_percent,
    to_percent_frame,
)

__all__ = ["plot_subgroup_effects"]

Adjustment = Literal["romano_wolf", "holm"]
_ADJ_NAMES = {"romano_wolf": "Romano-Wolf", "holm": "Holm"}


def plot_subgroup_effects(
    result: Any,
    *,
    level: float = 0.95,
    adjusted: Adjustment = "romano_wolf",
    uniform: bool = False,
    pooled: bool = True,
    outcome_label: str = "the outcome",
    percent: bool = True,
    xlabel: str | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Forest plot of a :class:`~clusterimpact.estimation.heterogeneity.SubgroupResult`.

    One row per subgroup, top to bottom in the result's order, labelled ``class (n = firms)``: the
    estimate and its ``level`` confidence interval (pointwise, or the sup-t uniform band with
    ``uniform=True``; an ``ErrorbarContainer`` labelled ``"estimates"``). Markers are filled where the
    ``adjusted`` p-value (``"romano_wolf"`` or ``"holm"``) is below ``1 - level`` (``gid``
    ``"adjusted_significant"``) and hollow otherwise (``"adjusted_not_significant"``). A dashed line marks
    the pooled ATT (``gid="pooled"``); the title carries the joint Wald test of equal effects.
    ``percent=True`` (default) draws effects on the log outcome in percent, ``100·(exp(b) − 1)``
    (estimates, limits and the pooled line converted one by one; the caption says so); the axis
    reads "Effect on <outcome_label> (%)" unless ``xlabel`` is given (a label naming log points on a
    percent axis is refused).

    Returns
    -------
    matplotlib.axes.Axes
        With a caption (:func:`~clusterimpact.plotting.figure_caption`) stating the estimand, sample
        and methods.

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.estimation.heterogeneity import subgroup_effects
    >>> from clusterimpact.plotting import plot_subgroup_effects
    >>> by_size = subgroup_effects(example_panel(), "ln_lp", "size", n_boot=99, seed=1, min_treated=5)
    >>> ax = plot_subgroup_effects(by_size)
    >>> len(ax.get_yticklabels())
    3
    """
    check_choice("adjusted", adjusted, tuple(_ADJ_NAMES))
    for attr in ("p_romano_wolf", "p_holm", "n_firms", "equal_effects", "by"):
        if not hasattr(result, attr):
            raise SpecError(
                f"plot_subgroup_effects needs a SubgroupResult, got {type(result).__name__}"
            )
    check_axis_label(xlabel, percent, argument="xlabel")
    t = result.tidy(level, uniform=uniform)
    if percent:
        t = to_percent_frame(t, ("estimate", "conf_low", "conf_high"))
    est = t["estimate"].to_numpy(dtype=float)
    lo, hi = t["conf_low"].to_numpy(dtype=float), t["conf_high"].to_numpy(dtype=float)
    padj = t[f"p_{adjusted}"].to_numpy(dtype=float)
    sig = padj < 1 - level
    y = -np.arange(len(t), dtype=float)
    labels = [
        f"{term_label(term)} (n = {int(n):,})"
        for term, n in zip(t["term"], t["n_firms"], strict=True)
    ]
    ee = result.equal_effects
    with style_context():
        ax = new_axes(ax, figsize=(6.4, 0.35 * len(t) + 1.6))
        ax.errorbar(
            est,
            y,
            xerr=np.vstack([est - lo, hi - est]),
            fmt="none",
            ecolor=PALETTE[0],
            label="estimates",
        )
        name = _ADJ_NAMES[adjusted]
        pct = f"{100 * (1 - level):g} %"
        ax.plot(
            est[sig],
            y[sig],
            "o",
            color=PALETTE[0],
            gid="adjusted_significant",
            label=f"{name} p < {pct}",
        )
        ax.plot(
            est[~sig],
            y[~sig],
            "o",
            color=PALETTE[0],
            markerfacecolor="white",
            gid="adjusted_not_significant",
            label=f"{name} p >= {pct}",
        )
        ax.axvline(0, color="black", linewidth=0.8)
        pooled_txt = ""
        if pooled and result.pooled is not None:
            pv = float(result.pooled.params.iloc[0])
            pv = float(to_percent(pv)) if percent else pv
            pv_txt = f"{pv:+.1f} %" if percent else f"{pv:+.3f}"
            ax.axvline(
                pv,
                color=GREY,
                linestyle="--",
                linewidth=1,
                gid="pooled",
                label=f"Pooled ({pv_txt})",
            )
            pooled_txt = f" Dashed line: the pooled ATT over all treated firms ({pv_txt})."
        ax.set_yticks(y, labels)
        ax.set_ylim(y[-1] - 0.6, 0.6)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel(
            xlabel
            or effect_axis_label(f"Effect on {axis_outcome(outcome_label, percent)}", percent)
        )
        wald = _wald_text(ee)
        ax.set_title(title or f"Effect by {result.by}; {wald}")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        interval = "sup-t uniform band" if uniform else "confidence intervals"
        set_caption(
            ax,
            f"Callaway-Sant'Anna average effect on the treated (simple aggregation) by {result.by} "
            f"({result.rule_text}), every subgroup against the same {result.control}-treated "
            f"comparison firms; N = {result.nobs:,} firm-years. Whiskers: {100 * level:g} % "
            f"{interval}. Filled markers: {name} family-wise adjusted p < {pct} "
            f"({result.n_boot} multiplier-bootstrap draws shared by all subgroups). Joint Wald "
            f"test of {wald}.{pooled_txt}" + (f" {PERCENT_CAPTION}" if percent else ""),
        )
    return ax


def _wald_text(ee: Mapping[str, Any]) -> str:
    """The joint Wald test of equal effects as title text."""
    if not np.isfinite(ee.get("stat", np.nan)):
        return "equal effects: not testable"
    if np.isfinite(ee.get("p_value_f", np.nan)):  # the verdict: stat / df against F
        return (
            f"equal effects: F({int(ee['df'])}, {int(ee['df_denom'])}) = {ee['f_stat']:.2f}, "
            f"{fmt_p(ee['p_value_f'])}"
        )
    return f"equal effects: chi2({int(ee['df'])}) = {ee['stat']:.2f}, {fmt_p(ee['p_value'])}"
