"""Estimator (and specification) comparison: overall effects, one row per estimator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from clusterimpact.errors import SpecError
from clusterimpact.plotting._core import PALETTE, new_axes, set_caption, style_context, tidy_input
from clusterimpact.plotting._format import (
    MARKERS,
    PERCENT_CAPTION,
    effect_axis_label,
    pct,
    to_percent,
    to_percent_frame,
)
from clusterimpact.results import EstimateResult

__all__ = ["comparison_frame", "plot_estimator_comparison"]


def _is_comparison(obj: Any) -> bool:
    return callable(getattr(obj, "overall", None)) and isinstance(
        getattr(obj, "frame", None), pd.DataFrame
    )


def _comparison_rows(cmp: Any, outcome: str) -> pd.DataFrame:
    """Overall rows of a ComparisonResult (display label as the estimator name)."""
    ov = cmp.overall()
    name = ov["label"] if "label" in ov.columns else ov["estimator"]
    return pd.DataFrame(
        {
            "estimator": name.astype(str).to_numpy(),
            "outcome": outcome,
            "estimate": ov["estimate"].to_numpy(dtype=float),
            "conf_low": ov["conf_low"].to_numpy(dtype=float),
            "conf_high": ov["conf_high"].to_numpy(dtype=float),
        }
    )


def comparison_frame(data: Any, *, level: float = 0.95) -> pd.DataFrame:
    """Rows of the estimator comparison: ``estimator, outcome, estimate, conf_low, conf_high``.

    Accepts a tidy frame with ``estimator`` (or ``method``) and ``outcome`` columns (``outcome``
    optional); a ComparisonResult (its ``overall()`` rows) or ``{outcome: ComparisonResult}``; or a
    nested dict ``{outcome: {estimator: result}}`` / ``{estimator: result}`` whose results contribute
    their ``overall_term`` (a tidy frame, or a result without one, contributes its only term).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.plotting import comparison_frame
    >>> cmp = ci.compare_estimators(example_panel(), "ln_lp", estimators=["twfe", "cs"], bacon=False)
    >>> comparison_frame(cmp)["estimator"].tolist()
    ['TWFE', "Callaway-Sant'Anna"]
    """
    if _is_comparison(data):
        return _comparison_rows(data, "")
    if isinstance(data, Mapping) and data and all(_is_comparison(v) for v in data.values()):
        return pd.concat([_comparison_rows(v, str(k)) for k, v in data.items()], ignore_index=True)
    if isinstance(data, Mapping):
        nested = all(isinstance(v, Mapping) for v in data.values())
        items = (
            [(o, e, r) for o, d in data.items() for e, r in d.items()]
            if nested
            else [("", e, r) for e, r in data.items()]
        )
        rows = []
        for outcome, est_name, res in items:
            t = tidy_input(res, level)
            pick = res.overall_term if isinstance(res, EstimateResult) else None
            if pick is None:
                if len(t) != 1:
                    raise SpecError(
                        f"{est_name}: cannot tell which of {len(t)} terms is the overall effect; "
                        "pass a tidy frame with one row per estimator"
                    )
                r = t.iloc[0]
            else:
                r = t[t["term"] == pick].iloc[0]
            rows.append(
                {
                    "estimator": str(est_name),
                    "outcome": str(outcome),
                    "estimate": float(r["estimate"]),
                    "conf_low": float(r["conf_low"]),
                    "conf_high": float(r["conf_high"]),
                }
            )
        return pd.DataFrame(rows)
    frame = tidy_input(data, level)
    if "estimator" not in frame.columns:
        if "method" not in frame.columns:
            raise SpecError("comparison frame needs an 'estimator' (or 'method') column")
        frame = frame.rename(columns={"method": "estimator"})
    if "outcome" not in frame.columns:
        frame = frame.assign(outcome="")
    frame["estimator"] = frame["estimator"].astype(str)
    frame["outcome"] = frame["outcome"].astype(str)
    return frame[["estimator", "outcome", "estimate", "conf_low", "conf_high"]].reset_index(
        drop=True
    )


def plot_estimator_comparison(
    data: Any,
    *,
    level: float = 0.95,
    truth: float | Mapping[str, float] | None = None,
    dodge: float = 0.16,
    percent: bool = True,
    ax: Axes | None = None,
    title: str | None = None,
    caption: str | None = None,
) -> Axes:
    """Estimator and specification comparison: one row per estimator, one series per outcome.

    Rows (estimators) top to bottom in first-appearance order; each outcome (labour productivity,
    TFP by production-function method…) is an ``ErrorbarContainer`` labelled with the outcome name,
    dodged vertically. ``truth`` draws the true overall effect (a number, or one per outcome) as
    dashed vertical lines. ``percent=True`` (default) draws effects on log outcomes in percent,
    ``100·(exp(b) − 1)`` (estimates, limits and truth converted one by one; the caption says so,
    also after a custom ``caption``); ``percent=False`` draws the differences in logs.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.plotting import plot_estimator_comparison
    >>> cmp = ci.compare_estimators(example_panel(), "ln_lp", estimators=["twfe", "cs"], bacon=False)
    >>> ax = plot_estimator_comparison(cmp, truth=0.02)  # or cmp.plot(truth=0.02)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['TWFE', "Callaway-Sant'Anna"]
    """
    rows = comparison_frame(data, level=level)
    if percent:
        rows = to_percent_frame(rows, ("estimate", "conf_low", "conf_high"))
        if isinstance(truth, Mapping):
            truth = {k: (None if v is None else float(to_percent(v))) for k, v in truth.items()}
        elif truth is not None:
            truth = float(to_percent(truth))
    ests = list(dict.fromkeys(rows["estimator"]))
    outs = list(dict.fromkeys(rows["outcome"]))
    ypos = {e: float(len(ests) - 1 - i) for i, e in enumerate(ests)}
    k = len(outs)
    offsets = (np.arange(k) - (k - 1) / 2) * dodge
    with style_context():
        ax = new_axes(
            ax, figsize=(7.6 if k > 1 else 6.4, max(0.45 * len(ests) * max(1, k / 2) + 1.4, 2.6))
        )
        for i, o in enumerate(outs):
            s = rows[rows["outcome"] == o]
            color = PALETTE[i % len(PALETTE)]
            y = s["estimator"].map(ypos).to_numpy(dtype=float) - offsets[i]
            e = s["estimate"].to_numpy(dtype=float)
            lo, hi = s["conf_low"].to_numpy(dtype=float), s["conf_high"].to_numpy(dtype=float)
            ax.errorbar(
                e,
                y,
                xerr=np.vstack([e - lo, hi - e]),
                fmt=MARKERS[i % len(MARKERS)],
                color=color,
                markersize=5,
                label=o or "estimate",
            )
            if isinstance(truth, Mapping) and truth.get(o) is not None:
                ax.axvline(
                    float(truth[o]), color=color, linestyle="--", linewidth=1, gid=f"truth:{o}"
                )
        if truth is not None and not isinstance(truth, Mapping):
            ax.axvline(float(truth), color="black", linestyle="--", linewidth=1, gid="truth")
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks([ypos[e] for e in ests], ests)
        ax.set_ylim(-0.6, len(ests) - 0.4)
        ax.grid(axis="y", visible=False)
        ax.grid(axis="x", visible=True)
        ax.set_xlabel(effect_axis_label("Overall effect of membership", percent))
        ax.set_title(title or "Estimator comparison")
        handles: list[Any] = [c for c in ax.containers if not str(c.get_label()).startswith("_")]
        if truth is not None:
            handles.append(
                Line2D([], [], color="black", linestyle="--", linewidth=1, label="True effect")
            )
        if k > 1 or outs != [""] or truth is not None:
            ax.legend(
                handles=handles,
                loc="upper left",
                bbox_to_anchor=(1.01, 1.0),
                title="Outcome" if outs != [""] else None,
            )
        set_caption(
            ax,
            caption
            or (
                f"Overall effect of cluster membership (ATT) by estimator"
                f"{' and outcome (' + ', '.join(outs) + ')' if outs != [''] else ''}, with "
                f"{pct(level)} confidence intervals."
                f"{' Dashed lines: the true effect.' if truth is not None else ''} TWFE is biased "
                "when effects differ across cohorts or grow with time; the heterogeneity-robust "
                "estimators are not."
            )
            + (f" {PERCENT_CAPTION}" if percent else ""),
        )
    return ax
