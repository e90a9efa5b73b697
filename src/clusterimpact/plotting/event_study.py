"""Event-study figure: estimates of several estimators by event time, side by side."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clusterimpact.errors import SpecError
from clusterimpact.plotting._core import (
    GREY,
    PALETTE,
    fmt_p,
    new_axes,
    pretrend_pvalue,
    profile_frame,
    result_name,
    set_caption,
    style_context,
)
from clusterimpact.plotting._format import (
    MARKERS,
    PERCENT_CAPTION,
    axis_outcome,
    effect_axis_label,
    pct,
    to_percent_frame,
)
from clusterimpact.results import EstimateResult

__all__ = ["plot_event_study"]

#: Columns of a profile frame that hold effects (converted to percent together).
_EFFECT_COLUMNS = ("estimate", "conf_low", "conf_high", "band_low", "band_high")


#: Keys of a ComparisonResult's ``results`` drawn by :func:`plot_event_study`, in order.
_COMPARISON_EVENT_KEYS = {
    "cs_dynamic": "Callaway-Sant'Anna",
    "sa": "Sun-Abraham",
    "imputation": "Imputation (BJS)",
    "twfe_event_study": "TWFE event study",
}


def _as_named(results: Any) -> dict[str, Any]:
    inner = getattr(results, "results", None)
    if isinstance(inner, Mapping) and not isinstance(results, EstimateResult):
        # a ComparisonResult: its event-time profiles
        named = {lab: inner[k] for k, lab in _COMPARISON_EVENT_KEYS.items() if k in inner}
        if not named:
            raise SpecError(
                "the comparison holds no event-time profile (run it with terms='dynamic')"
            )
        return named
    if isinstance(results, Mapping):
        if not results:
            raise SpecError("no results to plot")
        return {str(k): v for k, v in results.items()}
    if isinstance(results, (list, tuple)):
        out: dict[str, Any] = {}
        for i, r in enumerate(results):
            out[result_name(r, f"model {i + 1}")] = r
        return out
    return {result_name(results, "estimate"): results}


def plot_event_study(
    results: Any,
    *,
    level: float = 0.95,
    uniform: bool = True,
    window: tuple[float, float] | None = None,
    pretrend: Mapping[str, float] | None = None,
    dodge: float = 0.12,
    reference_line: float | None = -0.5,
    outcome_label: str = "ln productivity",
    percent: bool = True,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Event-study estimates of several estimators side by side.

    Each estimator (a :class:`~clusterimpact.results.ProfileResult`, or a profile frame) is an
    ``ErrorbarContainer`` labelled with its name: points at ``x + offset`` (offsets spread by ``dodge``
    and centred), whiskers the pointwise ``level`` CI. Where the result carries a uniform band
    (``crit_value`` at ``level``) and ``uniform`` is True, the band is drawn as a thicker, lighter bar
    behind the whisker (``LineCollection`` with ``gid="band:<name>"``). A horizontal line at 0 and a
    dotted vertical line at ``reference_line`` (−0.5: between the last pre-period and joining) are
    added; the omitted reference period, where a result declares one, is an open marker at 0.
    A pre-trend test p-value carried by a result appears in its legend entry and the caption.

    ``results`` may be one result, a list, a dict ``{legend name: result}``, or a
    :class:`~clusterimpact.estimation.compare.ComparisonResult` (its CS, SA, imputation and TWFE
    event-study profiles). ``window=(lo, hi)`` keeps event times in ``[lo, hi]`` only.
    ``pretrend={name: p_value}`` supplies pre-trend p-values a result does not carry itself (e.g. the
    CS pre-test, which lives on the ATT(g,t) result rather than on its dynamic aggregation).
    ``percent=True`` (default) draws effects on a log outcome in percent, ``100·(exp(b) − 1)``
    (estimates, interval limits and bands converted one by one; the caption says so);
    ``percent=False`` draws the estimated differences in logs as they are.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.plotting import plot_event_study
    >>> df = example_panel()
    >>> twfe = ci.event_study(df, outcome="ln_lp", window=(-3, 3))
    >>> cs = ci.aggte(ci.att_gt(df, outcome="ln_lp", control="notyet", allow_unbalanced=True),
    ...               "dynamic", min_e=-3, max_e=3)
    >>> ax = plot_event_study({"TWFE": twfe, "CS": cs}, outcome_label="ln VA per FTE")
    >>> [c.get_label().split(" (")[0] for c in ax.containers]  # labels carry the pre-trend p-value
    ['TWFE', 'CS']
    """
    named = _as_named(results)
    k = len(named)
    offsets = (np.arange(k) - (k - 1) / 2) * dodge
    caption_parts = []
    any_band = False
    refs: set[float] = set()
    with style_context():
        ax = new_axes(ax)
        for i, (name, res) in enumerate(named.items()):
            prof = _windowed_profile(name, res, level, window)
            if percent:
                prof = to_percent_frame(prof, _EFFECT_COLUMNS)
            p = (pretrend or {}).get(name)
            p = pretrend_pvalue(res) if p is None else float(p)
            label = name if p is None else f"{name} (pre-trend {fmt_p(p)})"
            any_band |= _draw_estimator(
                ax, prof, i=i, offset=offsets[i], name=name, label=label, uniform=uniform
            )
            ref = getattr(res, "reference", None)
            if (
                ref is not None
                and np.isfinite(float(ref))
                and (window is None or window[0] <= float(ref) <= window[1])
            ):
                refs.add(float(ref))
            caption_parts.append(_caption_part(name, getattr(res, "nobs", None), p))
        for r in sorted(refs):
            ax.plot(
                [r],
                [0.0],
                marker="o",
                mfc="white",
                mec="black",
                linestyle="none",
                gid="reference",
                zorder=5,
            )
        ax.axhline(0, color="black", linewidth=0.8)
        if reference_line is not None:
            ax.axvline(reference_line, color=GREY, linestyle=":", linewidth=0.9)
        ax.xaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
        xl = next(
            (getattr(r, "x_label", "") for r in named.values() if getattr(r, "x_label", "")), ""
        )
        ax.set_xlabel(xl or "Years since joining")
        ax.set_ylabel(
            effect_axis_label(f"Effect on {axis_outcome(outcome_label, percent)}", percent)
        )
        ax.set_title(title or "Event study: effect of joining by years since joining")
        ax.legend(loc="upper left")
        band_txt = (
            f" Thick light bars: {pct(level)} uniform (simultaneous) bands where computed."
            if any_band
            else ""
        )
        ref_txt = (
            f" Open marker: reference period {', '.join(f'{r:g}' for r in sorted(refs))}, normalised to 0."
            if refs
            else ""
        )
        set_caption(
            ax,
            f"Average effect of cluster membership on {outcome_label} by years since joining (ATT by "
            f"event time) from {'; '.join(caption_parts)}. Whiskers: pointwise {pct(level)} confidence "
            f"intervals.{band_txt}{ref_txt} Points are offset horizontally for legibility."
            + (f" {PERCENT_CAPTION}" if percent else ""),
        )
    return ax


def _windowed_profile(
    name: str, res: Any, level: float, window: tuple[float, float] | None
) -> pd.DataFrame:
    """The profile frame of one estimator, restricted to ``window``; an error when nothing is left."""
    prof = profile_frame(res, level)
    if window is not None:
        prof = prof[(prof["x"] >= window[0]) & (prof["x"] <= window[1])]
    if prof.empty:
        raise SpecError(
            f"{name}: no event-time terms to plot (pass an event-time profile, e.g. the "
            "'dynamic' aggregation, not ATT(g,t) cells; check window)"
        )
    return prof


def _draw_estimator(
    ax: Axes,
    prof: pd.DataFrame,
    *,
    i: int,
    offset: float,
    name: str,
    label: str,
    uniform: bool,
) -> bool:
    """Draw one estimator's uniform band (if any, and wanted) and its points with pointwise whiskers.

    Returns whether a band was drawn.
    """
    color = PALETTE[i % len(PALETTE)]
    x = prof["x"].to_numpy(dtype=float) + offset
    est = prof["estimate"].to_numpy(dtype=float)
    band = bool(uniform and prof["band_low"].notna().any())
    if band:
        ax.vlines(
            x,
            prof["band_low"].to_numpy(dtype=float),
            prof["band_high"].to_numpy(dtype=float),
            color=color,
            alpha=0.3,
            linewidth=4,
            gid=f"band:{name}",
        )
    lo, hi = prof["conf_low"].to_numpy(dtype=float), prof["conf_high"].to_numpy(dtype=float)
    ax.errorbar(
        x,
        est,
        yerr=np.vstack([est - lo, hi - est]),
        fmt=MARKERS[i % len(MARKERS)],
        color=color,
        markersize=4.5,
        elinewidth=1.1,
        label=label,
    )
    return band


def _caption_part(name: str, nobs: Any, p: float | None) -> str:
    """``name (N = 1,234, pre-trend test p = 0.456)`` for the caption's list of estimators."""
    part = f"{name}" + (f" (N = {int(nobs):,}" if nobs is not None else "")
    if p is not None:
        part += f"{', ' if nobs is not None else ' ('}pre-trend test {fmt_p(p)}"
    part += ")" if (nobs is not None or p is not None) else ""
    return part
