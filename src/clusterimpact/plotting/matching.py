"""Matching-quality figures: the love plot (balance before/after) and propensity-score overlap."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clusterimpact.descriptive import (
    OverlapDensity,
    OverlapScale,
    cohort_mean_smd,
    overlap_density,
    overlap_histograms,
)
from clusterimpact.errors import SpecError
from clusterimpact.labels import label
from clusterimpact.matching.result import MatchResult
from clusterimpact.plotting._core import GREY, PALETTE, new_axes, set_caption, style_context

__all__ = ["balance_long", "overlap_histograms", "plot_love", "plot_overlap"]

_BEFORE = ("smd_before", "smd_unmatched", "std_diff_before", "smd_raw", "smd_pre")
_AFTER = ("smd_after", "smd_matched", "std_diff_after", "smd_adj", "smd_post")
_COV = ("covariate", "variable", "var", "term")


def _pick(frame: pd.DataFrame, names: tuple[str, ...], what: str) -> str:
    for n in names:
        if n in frame.columns:
            return n
    raise SpecError(
        f"balance table has no {what} column; expected one of {', '.join(names)} "
        f"(have {', '.join(map(str, frame.columns))})"
    )


def _find_balance(balance: Any) -> pd.DataFrame:
    if isinstance(balance, pd.DataFrame):
        return balance
    for name in ("balance", "balance_table", "balance_by_cohort"):
        obj = getattr(balance, name, None)
        if callable(obj):
            obj = obj()
        if isinstance(obj, pd.DataFrame):
            return obj
    raise SpecError(
        f"expected a balance DataFrame or a MatchResult with .balance, got {type(balance).__name__}"
    )


def _balance_frame(balance: Any) -> pd.DataFrame:
    frame = _find_balance(balance).copy()
    if not any(c in frame.columns for c in _COV) and frame.index.name in _COV:
        frame = frame.reset_index()
    return frame


def balance_long(balance: Any, *, absolute: bool = True) -> pd.DataFrame:
    """Balance table in the love plot's long form: ``covariate, cohort, stage, smd``.

    Accepts a MatchResult (its long ``balance``: ``stage``, ``covariate``, ``smd``, cohort in
    ``stack``) or a frame, long like that or wide with a covariate column (``covariate`` /
    ``variable``), SMD before and after matching (``smd_before``/``smd_after`` or
    ``smd_unmatched``/``smd_matched``) and optionally ``cohort``. Rows whose cohort is ``"all"`` /
    ``"pooled"`` / missing are the pooled balance. ``stage`` is ``"before"`` or ``"after"``.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> matched = ci.match_panel(example_panel(), design="trends", control="notyet", replace=True,
    ...                          outcome="ln_lp", seed=1)
    >>> from clusterimpact.plotting import balance_long
    >>> long = balance_long(matched)
    >>> list(long.columns), sorted(long["stage"].unique())
    (['covariate', 'cohort', 'stage', 'smd'], ['after', 'before'])
    """
    frame = _balance_frame(balance)
    if "stage" in frame.columns and "smd" in frame.columns:
        # MatchResult.balance: long already (stage before/after, cohort in ``stack``)
        cov = _pick(frame, _COV, "covariate")
        ccol = next((c for c in ("cohort", "stack") if c in frame.columns), None)
        coh = frame[ccol] if ccol else pd.Series("all", index=frame.index)
        coh = coh.astype("object").where(coh.notna(), "all").astype(str)
        v = frame["smd"].astype(float)
        return pd.DataFrame(
            {
                "covariate": frame[cov].astype(str).to_numpy(),
                "cohort": coh.replace({"pooled": "all", "overall": "all"}).to_numpy(),
                "stage": frame["stage"].astype(str).to_numpy(),
                "smd": (v.abs() if absolute else v).to_numpy(),
            }
        )
    cov = _pick(frame, _COV, "covariate")
    b, a = _pick(frame, _BEFORE, "SMD-before"), _pick(frame, _AFTER, "SMD-after")
    cohort = frame["cohort"] if "cohort" in frame.columns else pd.Series("all", index=frame.index)
    cohort = cohort.astype("object").where(cohort.notna(), "all").astype(str)
    cohort = cohort.replace({"pooled": "all", "overall": "all", "All": "all", "<NA>": "all"})
    parts = []
    for stage, col in (("before", b), ("after", a)):
        v = frame[col].astype(float)
        parts.append(
            pd.DataFrame(
                {
                    "covariate": frame[cov].astype(str).to_numpy(),
                    "cohort": cohort.to_numpy(),
                    "stage": stage,
                    "smd": (v.abs() if absolute else v).to_numpy(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def plot_love(
    balance: Any,
    *,
    absolute: bool = True,
    threshold: float = 0.1,
    labels: bool | Mapping[str, str] = True,
    window: int | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Love plot: standardized mean differences of each covariate before and after matching.

    Pooled balance (cohort ``"all"``, or the mean over cohorts when no pooled row exists) is drawn as
    large markers: open grey circles before matching (``gid="before"``), filled blue after
    (``gid="after"``). Per-cohort SMDs, when the table has a ``cohort`` column with several cohorts,
    are drawn as small translucent markers (``gid="cohort_before"`` / ``"cohort_after"``) so a cohort
    that stays unbalanced is visible. Covariates are listed top to bottom in their table order.

    Parameters
    ----------
    balance
        Balance frame or MatchResult (see :func:`balance_long`).
    absolute
        Plot ``|SMD|`` (default) or signed SMDs.
    threshold
        Dotted reference line(s) at the usual 0.1 rule.
    labels
        ``True`` (default): covariates named for readers with their units
        (:func:`clusterimpact.labels.label`: ``ln_emp_pre_mean`` -> "Size (ln FTE), mean over
        g-4..g-1"); a mapping ``{column: label}`` for your own names (others as ``True``);
        ``False``: the column names.
    window
        The matching design's ``trend_window`` used in those labels (pre-joining means over
        ``g-(window+1)..g-1``, growth from ``g-(window+1)`` to ``g-1``); by default a MatchResult's
        own ``options["trend_window"]``, else 3 (the ``trends`` design).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> matched = ci.match_panel(example_panel(), design="trends", control="notyet", replace=True,
    ...                          outcome="ln_lp", seed=1)
    >>> from clusterimpact.plotting import plot_love
    >>> ax = plot_love(matched)  # or matched.plot()
    >>> sorted({line.get_gid() for line in ax.get_lines()} & {"before", "after"})
    ['after', 'before']
    """
    long = balance_long(balance, absolute=absolute)
    covs = list(dict.fromkeys(long["covariate"]))
    pooled = long[long["cohort"] == "all"]
    cohorts = long[long["cohort"] != "all"]
    if pooled.empty:
        pooled = cohort_mean_smd(cohorts)
        pooled_note = "mean over cohorts"
    else:
        pooled_note = "pooled"
    ypos = {c: float(len(covs) - 1 - i) for i, c in enumerate(covs)}
    n_cohorts = cohorts["cohort"].nunique()
    ticks = _covariate_labels(covs, labels, window, balance)
    # long labels get room of their own: the data area keeps its width
    width = max(7.6, 6.0 + 0.055 * max((len(s) for s in ticks), default=0))
    with style_context():
        ax = new_axes(ax, figsize=(width, 0.38 * len(covs) + 1.5))
        if n_cohorts > 1:
            for stage, color, gid in (
                ("before", GREY, "cohort_before"),
                ("after", PALETTE[0], "cohort_after"),
            ):
                s = cohorts[cohorts["stage"] == stage]
                ax.plot(
                    s["smd"].to_numpy(dtype=float),
                    s["covariate"].map(ypos).to_numpy(dtype=float),
                    linestyle="none",
                    marker="|",
                    markersize=7,
                    color=color,
                    alpha=0.45,
                    gid=gid,
                    label=f"{stage.capitalize()}, by cohort ({n_cohorts} cohorts)",
                )
        styles: tuple[tuple[str, dict[str, Any]], ...] = (
            ("before", {"marker": "o", "mfc": "white", "mec": GREY, "color": GREY}),
            ("after", {"marker": "o", "mfc": PALETTE[0], "mec": PALETTE[0], "color": PALETTE[0]}),
        )
        for stage, kw in styles:
            s = pooled[pooled["stage"] == stage].set_index("covariate").reindex(covs)
            ax.plot(
                s["smd"].to_numpy(dtype=float),
                [ypos[c] for c in covs],
                linestyle="none",
                markersize=7,
                gid=stage,
                label=f"{stage.capitalize()} matching ({pooled_note})",
                **kw,
            )
        ax.axvline(0, color="black", linewidth=0.8)
        ax.axvline(threshold, color=GREY, linestyle=":", linewidth=0.9)
        if not absolute:
            ax.axvline(-threshold, color=GREY, linestyle=":", linewidth=0.9)
        ax.set_yticks([ypos[c] for c in covs], ticks)
        ax.grid(axis="y", visible=True)
        ax.set_xlabel(
            "|Standardized mean difference|" if absolute else "Standardized mean difference"
        )
        ax.set_title(title or "Covariate balance before and after matching")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        after = pooled.loc[pooled["stage"] == "after", "smd"].abs()
        worst = float(after.max()) if len(after) else float("nan")
        set_caption(
            ax,
            f"{'Absolute s' if absolute else 'S'}tandardized mean differences (treated − control, "
            f"over an unweighted SD) of the matching covariates, before and after matching ({pooled_note}"
            f"{f'; ticks: each of {n_cohorts} cohorts' if n_cohorts > 1 else ''}). Dotted line: the "
            f"{threshold:g} rule of thumb. Largest |SMD| after matching: {worst:.3f}.",
        )
    return ax


def _covariate_labels(
    covs: list[str], labels: bool | Mapping[str, str], window: int | None, balance: Any
) -> list[str]:
    """Tick labels of the love plot's covariates (see :func:`plot_love`'s ``labels``)."""
    if labels is False:
        return covs
    if window is None:
        options = balance.options if isinstance(balance, MatchResult) else {}
        window = int(options.get("trend_window") or 3)
    own = labels if isinstance(labels, Mapping) else {}
    return [str(own[c]) if c in own else label(c, window=window) for c in covs]


def _support_bounds(support: Any) -> tuple[float, float] | None:
    """Overlap region [max of minima, min of maxima] from a common-support summary frame."""
    if not isinstance(support, pd.DataFrame) or not {"min", "max"}.issubset(support.columns):
        return None
    if len(support) < 2:
        return None
    lo, hi = float(support["min"].max()), float(support["max"].min())
    return (lo, hi) if lo < hi else None


def plot_overlap(
    pscores: Any,
    treated: Any = None,
    *,
    bins: int = 30,
    scale: OverlapScale = "logit",
    tail: float = 0.025,
    support: tuple[float, float] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Propensity-score overlap: treated above the axis, controls mirrored below (densities).

    Parameters
    ----------
    pscores
        Scores (array-like) with ``treated`` indicators, a frame with ``pscore`` (or ``score``) and
        ``treated`` columns, a MatchResult (its ``propensity``; the common support defaults to the
        overlap of the groups' score ranges in its ``support``), or a precomputed
        :class:`~clusterimpact.descriptive.OverlapDensity` (then ``bins`` and ``scale`` are its own).
    bins
        Number of equal-width bins.
    scale
        ``"logit"`` (default): the x axis is ``ln(p / (1 − p))``, labelled with scores, so the mass
        near 0 (few joiners among many firms) is spread out and visible; ``"score"``: ``[0, 1]``.
    tail
        Logit scale: far tails beyond each group's ``tail`` quantiles are counted in the outermost
        bins (see :func:`~clusterimpact.descriptive.overlap_density`); 0 draws the full range.
    support
        Common-support bounds (scores) to mark with dashed lines (e.g. the trimming bounds).

    Returns
    -------
    Axes
        Two bar containers (labels ``Treated``, ``Controls``; the controls' heights are negative).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> matched = ci.match_panel(example_panel(), design="trends", control="notyet", replace=True,
    ...                          outcome="ln_lp", seed=1)
    >>> from clusterimpact.plotting import plot_overlap
    >>> ax = plot_overlap(matched)
    >>> [c.get_label() for c in ax.containers]
    ['Treated', 'Controls']
    """
    if isinstance(pscores, OverlapDensity):
        dens = pscores
    else:
        if support is None and treated is None:
            support = _support_bounds(getattr(pscores, "support", None))
        dens = overlap_density(pscores, treated, bins=bins, scale=scale, tail=tail)
    edges, logit = dens.edges, dens.scale == "logit"
    width = np.diff(edges)
    with style_context():
        ax = new_axes(ax)
        ax.bar(
            edges[:-1],
            dens.treated,
            width=width,
            align="edge",
            color=PALETTE[0],
            alpha=0.8,
            label="Treated",
        )
        ax.bar(
            edges[:-1],
            -dens.control,
            width=width,
            align="edge",
            color=GREY,
            alpha=0.8,
            label="Controls",
        )
        ax.axhline(0, color="black", linewidth=0.8)
        if support is not None:
            for s in support:
                x = _logit(float(s)) if logit else float(s)
                if np.isfinite(x):
                    ax.axvline(x, color=PALETTE[1], linestyle="--", linewidth=1, gid="support")
        ax.set_xlim(float(edges[0]), float(edges[-1]))
        if logit:
            marks = _spaced_marks(float(edges[0]), float(edges[-1]))
            ax.set_xticks([_logit(v) for v in marks], [f"{v:g}" for v in marks])
        ticks = ax.get_yticks()
        ax.set_yticks(ticks, [f"{abs(v):g}" for v in ticks])
        ax.set_xlabel("Propensity score (logit scale)" if logit else "Propensity score")
        ax.set_ylabel("Density (controls below the axis)")
        ax.set_title(title or "Propensity-score overlap")
        ax.legend(loc="upper right" if logit else "upper center")
        set_caption(ax, _overlap_caption(dens, support))
    return ax


#: Scores marked on the logit axis (those inside the drawn range).
_SCORE_TICKS = (
    1e-8,
    1e-6,
    1e-4,
    0.001,
    0.01,
    0.05,
    0.2,
    0.5,
    0.8,
    0.95,
    0.99,
    0.999,
    0.9999,
)


def _spaced_marks(lo: float, hi: float) -> list[float]:
    """Round scores inside the logit range [lo, hi], at least a twelfth of the range apart."""
    marks: list[float] = []
    for v in _SCORE_TICKS:
        x = _logit(v)
        if lo <= x <= hi and (not marks or x - _logit(marks[-1]) >= (hi - lo) / 12):
            marks.append(v)
    return marks


def _logit(p: float) -> float:
    return float(np.log(p) - np.log1p(-p)) if 0.0 < p < 1.0 else float("nan")


def _overlap_caption(dens: OverlapDensity, support: tuple[float, float] | None) -> str:
    sup = (
        f" Dashed lines: common support [{float(support[0]):.3f}, {float(support[1]):.3f}]."
        if support is not None
        else ""
    )
    bins = len(dens.edges) - 1
    if dens.scale == "logit":
        scale = (
            f"{bins} equal bins of the logit ln(p / (1 − p)), which spreads out the scores near 0 "
            "where most firms lie; tick labels are scores"
        )
    else:
        scale = f"{bins} bins on [0, 1]"
    extra = ""
    if dens.n_clamped:
        extra += (
            f" {dens.n_clamped:,} scores in the far tails (beyond the bulk of either group, or "
            "exactly 0 or 1) are counted in the outermost bins."
        )
    if dens.n_missing:
        extra += f" {dens.n_missing:,} rows without a score are left out."
    return (
        f"Distribution of the estimated propensity score for treated (n = {dens.n_treated:,}, "
        f"above) and potential controls (n = {dens.n_control:,}, below), {scale}.{sup}{extra}"
    )
