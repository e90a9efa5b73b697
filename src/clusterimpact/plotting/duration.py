"""The headline figure: the productivity premium by years of membership."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes

from clusterimpact.errors import SpecError
from clusterimpact.plotting._core import (
    PALETTE,
    fmt_p,
    new_axes,
    profile_frame,
    result_name,
    set_caption,
    style_context,
    term_label,
)
from clusterimpact.plotting._format import (
    PERCENT_CAPTION,
    axis_outcome,
    effect_axis_label,
    pct,
    to_percent,
)
from clusterimpact.plotting.truth import truth_frame
from clusterimpact.results import EstimateResult

__all__ = ["plot_duration_premium"]


def _slope_info(result: Any) -> tuple[float, float, float] | None:
    """The duration profile's ``slope`` term (estimate, standard error, p-value), if it has one."""
    if not isinstance(result, EstimateResult) or "slope" not in result.params.index:
        return None
    return (
        float(result.params["slope"]),
        float(result.std_errors["slope"]),
        float(result.pvalues["slope"]),
    )


def plot_duration_premium(
    result: Any,
    *,
    kind: str = "points",
    level: float = 0.95,
    truth: Any = None,
    truth_key: str = "att",
    outcome_label: str = "ln TFP",
    percent: bool = True,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """The headline: the productivity premium by years of membership with confidence intervals.

    Parameters
    ----------
    result
        A duration :class:`~clusterimpact.results.ProfileResult` (terms ``member_years::1`` …
        ``member_years::5+``), or a profile frame. A slope (a ``slope`` attribute, or an off-axis term
        whose name contains ``slope``) and its test go into the caption.
    kind
        ``"points"`` (an ``ErrorbarContainer``) or ``"bars"`` (a ``BarContainer`` plus the whiskers).
    truth
        Optional true premium per year of membership (mapping / Series / synthetic ``member_years``
        truth, see :func:`truth_frame`), drawn as crosses (``gid="truth"``).
    percent
        Draw the premium on the log outcome in percent, ``100·(exp(b) − 1)`` (default; estimates,
        interval limits and the truth converted one by one, the caption says so), or as the
        estimated difference in logs (``False``). The slope stays in log points per year.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_data
    >>> from clusterimpact.plotting import plot_duration_premium
    >>> sim = example_data()
    >>> duration = ci.duration_effects(sim.panel(), outcome="ln_lp")
    >>> ax = plot_duration_premium(duration, truth=sim.truth["member_years"], truth_key="att_lp")
    >>> len(ax.containers[0].lines[0].get_xdata())  # five bins: 1, 2, 3, 4, 5+
    5
    """
    if kind not in ("points", "bars"):
        raise SpecError(f"kind={kind!r} is not valid; choose one of 'points', 'bars'")
    prof = profile_frame(result, level)
    x = prof["x"].to_numpy(dtype=float)
    unit = to_percent if percent else _as_array
    est = unit(prof["estimate"].to_numpy(dtype=float))
    lo, hi = (
        unit(prof["conf_low"].to_numpy(dtype=float)),
        unit(prof["conf_high"].to_numpy(dtype=float)),
    )
    labels = [term_label(t) for t in prof["term"]]
    with style_context():
        ax = new_axes(ax)
        if kind == "bars":
            ax.bar(x, est, width=0.6, color=PALETTE[0], alpha=0.85, label="Premium", gid="premium")
            ax.errorbar(
                x,
                est,
                yerr=np.vstack([est - lo, hi - est]),
                fmt="none",
                ecolor="black",
                elinewidth=1.1,
            )
        else:
            ax.errorbar(
                x,
                est,
                yerr=np.vstack([est - lo, hi - est]),
                fmt="o",
                color=PALETTE[0],
                markersize=6,
                elinewidth=1.4,
                label="Premium",
            )
        if truth is not None:
            tx, ty = _truth_points(truth, truth_key, x, list(prof["term"]), labels)
            ax.plot(
                tx,
                unit(ty),
                linestyle="none",
                marker="x",
                markersize=8,
                mew=2,
                color=PALETTE[1],
                label="Truth",
                gid="truth",
            )
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(x, labels)
        ax.set_xlabel(getattr(result, "x_label", "") or "Years of membership")
        ax.set_ylabel(
            effect_axis_label(f"Premium in {axis_outcome(outcome_label, percent)}", percent)
        )
        ax.set_title(title or "Productivity premium by years of membership")
        hs, labs = ax.get_legend_handles_labels()
        order = sorted(range(len(labs)), key=lambda i: labs[i] != "Premium")  # estimates first
        ax.legend([hs[i] for i in order], [labs[i] for i in order], loc="upper left")
        slope = _slope_info(result)
        slope_txt = (
            f" Linear trend in years of membership: {slope[0]:+.4f} log points per year "
            f"(SE {slope[1]:.4f}, {fmt_p(slope[2])})."
            if slope is not None
            else ""
        )
        nobs = getattr(result, "nobs", None)
        method = result_name(result, "")
        set_caption(
            ax,
            f"Effect of cluster membership on {outcome_label} by completed years of membership "
            f"(ATT by membership duration){f', {method}' if method else ''}"
            f"{f', N = {int(nobs):,} firm-years' if nobs is not None else ''}. {'Bars' if kind == 'bars' else 'Points'}: "
            f"estimates; whiskers: {pct(level)} confidence intervals.{slope_txt}"
            f"{' Crosses: the true effect in the synthetic data.' if truth is not None else ''}"
            + (f" {PERCENT_CAPTION}" if percent else ""),
        )
    return ax


def _as_array(v: Any) -> np.ndarray:
    return np.asarray(v, dtype=float)


def _truth_points(
    truth: Any, truth_key: str, x: np.ndarray, terms: list[Any], labels: list[str]
) -> tuple[list[float], list[float]]:
    """Axis positions and true values of the terms the truth covers (by term, label or number)."""
    t = truth_frame(truth, truth_key, open_bins=labels)
    tx: list[float] = []
    ty: list[float] = []
    for xi, term, lab in zip(x, terms, labels, strict=True):
        keys: list[Any] = [term, lab]
        if not str(lab).endswith("+"):  # an open bin "5+" is not the value at 5
            keys += [xi, f"{xi:g}"] + ([int(xi)] if float(xi).is_integer() else [])
        for key in keys:
            if key in t.index:
                tx.append(xi)
                ty.append(float(t[key]))
                break
    return tx, ty
