"""Figures of estimates: trajectories, event studies, the duration premium, forests, comparisons, truth."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from scipy import stats

from clusterimpact._validation import as_frame, require_columns
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
    term_label,
    tidy_input,
)
from clusterimpact.results import EstimateResult, ProfileResult

__all__ = [
    "comparison_frame",
    "forest_frame",
    "plot_duration_premium",
    "plot_estimator_comparison",
    "plot_event_study",
    "plot_forest",
    "plot_trajectories",
    "plot_truth_vs_estimate",
    "trajectories_series",
    "truth_frame",
]

_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "h")


def _pct(level: float) -> str:
    return f"{100 * level:g} %"


# -- 4. trajectories -----------------------------------------------------------------------------


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
            f"pointwise {_pct(level)} confidence bands of the means{' (matching-weighted)' if weight else ''}, firm-years treated as independent. Up to "
            f"{nm:,} member and {nc:,} control firm-years per event time. The dotted line marks joining; "
            "the gap after it is the raw (unadjusted) matched difference.",
        )
    return ax


# -- 5. event study -------------------------------------------------------------------------------


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
            prof = profile_frame(res, level)
            if window is not None:
                prof = prof[(prof["x"] >= window[0]) & (prof["x"] <= window[1])]
            if prof.empty:
                raise SpecError(
                    f"{name}: no event-time terms to plot (pass an event-time profile, e.g. the "
                    "'dynamic' aggregation, not ATT(g,t) cells; check window)"
                )
            color = PALETTE[i % len(PALETTE)]
            x = prof["x"].to_numpy(dtype=float) + offsets[i]
            est = prof["estimate"].to_numpy(dtype=float)
            if uniform and prof["band_low"].notna().any():
                any_band = True
                ax.vlines(
                    x,
                    prof["band_low"].to_numpy(dtype=float),
                    prof["band_high"].to_numpy(dtype=float),
                    color=color,
                    alpha=0.3,
                    linewidth=4,
                    gid=f"band:{name}",
                )
            p = (pretrend or {}).get(name)
            p = pretrend_pvalue(res) if p is None else float(p)
            label = name if p is None else f"{name} (pre-trend {fmt_p(p)})"
            lo, hi = prof["conf_low"].to_numpy(dtype=float), prof["conf_high"].to_numpy(dtype=float)
            ax.errorbar(
                x,
                est,
                yerr=np.vstack([est - lo, hi - est]),
                fmt=_MARKERS[i % len(_MARKERS)],
                color=color,
                markersize=4.5,
                elinewidth=1.1,
                label=label,
            )
            ref = getattr(res, "reference", None)
            if (
                ref is not None
                and np.isfinite(float(ref))
                and (window is None or window[0] <= float(ref) <= window[1])
            ):
                refs.add(float(ref))
            nobs = getattr(res, "nobs", None)
            part = f"{name}" + (f" (N = {int(nobs):,}" if nobs is not None else "")
            if p is not None:
                part += f"{', ' if nobs is not None else ' ('}pre-trend test {fmt_p(p)}"
            part += ")" if (nobs is not None or p is not None) else ""
            caption_parts.append(part)
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
        ax.set_ylabel(f"Effect on {outcome_label}")
        ax.set_title(title or "Event study: effect of joining by years since joining")
        ax.legend(loc="upper left")
        band_txt = (
            f" Thick light bars: {_pct(level)} uniform (simultaneous) bands where computed."
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
            f"event time) from {'; '.join(caption_parts)}. Whiskers: pointwise {_pct(level)} confidence "
            f"intervals.{band_txt}{ref_txt} Points are offset horizontally for legibility.",
        )
    return ax


# -- 6. duration premium ---------------------------------------------------------------------------


def truth_frame(truth: Any, key: str = "att", *, open_bins: Sequence[str] = ()) -> pd.Series:
    """True values indexed by axis value (or term) from a mapping, Series or synthetic-truth dict.

    Accepts ``{x: value}``, ``{x: {"att": ..., "att_lp": ...}}`` (the synthetic ``member_years`` /
    ``event_time`` entries; ``key`` picks the field), a Series, or a frame with ``x``/``term`` and
    ``truth``/``value``/``key`` columns.

    ``open_bins`` (labels like ``"5+"``) missing from a synthetic-truth mapping are filled with the
    ``n``-weighted mean of the entries at or above the bin's lower end (what the synthetic truth's
    ``member_years_bins`` holds), when the entries carry ``n``.
    """
    if isinstance(truth, pd.Series):
        return truth.astype(float)
    if isinstance(truth, pd.DataFrame):
        idx = "x" if "x" in truth.columns else "term"
        col = next(c for c in ("truth", "value", key, "estimate") if c in truth.columns)
        return pd.Series(truth[col].to_numpy(dtype=float), index=truth[idx].to_numpy())
    if isinstance(truth, Mapping):
        vals = {}
        for k, v in truth.items():
            if isinstance(v, Mapping):
                if key not in v:
                    raise SpecError(f"truth entry {k!r} has no {key!r} field (has {', '.join(v)})")
                v = v[key]
            vals[k] = float(v) if v is not None else np.nan
        for lab in open_bins:
            if lab in truth or not str(lab).endswith("+"):
                continue
            try:
                lo = float(str(lab)[:-1])
            except ValueError:
                continue
            num, den = 0.0, 0.0
            for k, v in truth.items():
                try:
                    kx = float(k)
                except (TypeError, ValueError):
                    continue
                if kx >= lo and isinstance(v, Mapping) and v.get("n") and v.get(key) is not None:
                    num += float(v[key]) * float(v["n"])
                    den += float(v["n"])
            if den > 0:
                vals[lab] = num / den
        return pd.Series(vals, dtype=float)
    raise SpecError(f"truth must be a mapping, Series or DataFrame, got {type(truth).__name__}")


def _slope_info(result: Any) -> tuple[float, float, float] | None:
    slope = getattr(result, "slope", None)
    if slope is not None and not isinstance(slope, EstimateResult):
        est = getattr(slope, "estimate", None)
        if est is None and isinstance(slope, Mapping):
            est = slope.get("estimate")
        if est is None:
            try:
                est = float(slope)
            except (TypeError, ValueError):
                est = None
        se = getattr(slope, "std_error", None)
        pv = getattr(slope, "p_value", None)
        if isinstance(slope, Mapping):
            se, pv = slope.get("std_error", se), slope.get("p_value", pv)
        if est is not None and se is not None:
            pv = pv if pv is not None else 2 * stats.norm.sf(abs(float(est) / float(se)))
            return float(est), float(se), float(pv)
    if isinstance(result, EstimateResult):
        x = getattr(result, "x", None)
        on_axis = set(x.index) if x is not None else set()
        for term in result.params.index:
            if term not in on_axis and "slope" in str(term).lower():
                return (
                    float(result.params[term]),
                    float(result.std_errors[term]),
                    float(result.pvalues[term]),
                )
    return None


def plot_duration_premium(
    result: Any,
    *,
    kind: str = "points",
    level: float = 0.95,
    truth: Any = None,
    truth_key: str = "att",
    outcome_label: str = "ln TFP",
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
    """
    if kind not in ("points", "bars"):
        raise SpecError(f"kind={kind!r} is not valid; choose one of 'points', 'bars'")
    prof = profile_frame(result, level)
    x = prof["x"].to_numpy(dtype=float)
    est = prof["estimate"].to_numpy(dtype=float)
    lo, hi = prof["conf_low"].to_numpy(dtype=float), prof["conf_high"].to_numpy(dtype=float)
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
            t = truth_frame(truth, truth_key, open_bins=labels)
            tx = []
            ty = []
            for xi, term, lab in zip(x, prof["term"], labels, strict=True):
                keys: list[Any] = [term, lab]
                if not str(lab).endswith("+"):  # an open bin "5+" is not the value at 5
                    keys += [xi, f"{xi:g}"] + ([int(xi)] if float(xi).is_integer() else [])
                for key in keys:
                    if key in t.index:
                        tx.append(xi)
                        ty.append(float(t[key]))
                        break
            ax.plot(
                tx,
                ty,
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
        ax.set_ylabel(f"Premium in {outcome_label} (log points)")
        ax.set_title(title or "Productivity premium by years of membership")
        hs, labs = ax.get_legend_handles_labels()
        order = sorted(range(len(labs)), key=lambda i: labs[i] != "Premium")  # estimates first
        ax.legend([hs[i] for i in order], [labs[i] for i in order], loc="upper left")
        slope = _slope_info(result)
        slope_txt = (
            f" Linear trend in years of membership: {slope[0]:+.4f} per year (SE {slope[1]:.4f}, "
            f"{fmt_p(slope[2])})."
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
            f"estimates; whiskers: {_pct(level)} confidence intervals.{slope_txt}"
            f"{' Crosses: the true effect in the synthetic data.' if truth is not None else ''}",
        )
    return ax


# -- 7. forest -------------------------------------------------------------------------------------


def forest_frame(
    data: Any, *, level: float = 0.95, terms: Sequence[str] | str | None = None
) -> pd.DataFrame:
    """Rows of a forest plot: ``group, term, label, estimate, conf_low, conf_high``.

    ``data`` is a tidy frame (optionally with a ``group`` column), a result, or a dict
    ``{group name: result or tidy frame}``. ``terms``: a list of terms to keep, or a prefix string
    (``"group:"`` keeps ``group:2017``, ``group:2018``…).
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
    xlabel: str = "Effect on ln productivity (log points)",
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
    """
    rows = forest_frame(data, level=level, terms=terms)
    groups = list(dict.fromkeys(rows["group"]))
    with_headers = len(groups) > 1 or groups != [""]
    ypos: list[float] = []
    ticks: list[float] = []
    ticklabels: list[str] = []
    headers: list[tuple[float, str]] = []
    y = 0.0
    for g in groups:
        if with_headers:
            headers.append((y, g))
            ticks.append(y)
            ticklabels.append(g)
            y -= 1
        for lab in rows.loc[rows["group"] == g, "label"]:
            ypos.append(y)
            ticks.append(y)
            ticklabels.append(str(lab))
            y -= 1
    yarr = np.array(ypos)
    est = rows["estimate"].to_numpy(dtype=float)
    lo, hi = rows["conf_low"].to_numpy(dtype=float), rows["conf_high"].to_numpy(dtype=float)
    n_lines = len(ypos) + len(headers)
    with style_context():
        ax = new_axes(ax, figsize=(6.4, 0.3 * n_lines + 1.3))
        ax.errorbar(
            est,
            yarr,
            xerr=np.vstack([est - lo, hi - est]),
            fmt="s",
            color=PALETTE[0],
            markersize=5,
            label="estimates",
        )
        ax.axvline(0, color="black", linewidth=0.8)
        handles = []
        if overall is not None:
            handles.append(
                ax.axvline(
                    overall,
                    color=PALETTE[1],
                    linestyle="--",
                    linewidth=1,
                    label=f"Overall ({overall:+.3f})",
                )
            )
        if truth is not None:
            tv = _match_truth(rows["term"], truth_frame(truth, truth_key))
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
        header_y = {hy for hy, _ in headers}
        for tick_y, tl in zip(ticks, ax.get_yticklabels(), strict=True):
            if tick_y in header_y:
                tl.set_fontweight("bold")
                tl.set_gid("header")
        ax.set_ylim(y + 0.5, 0.5)
        ax.grid(axis="y", visible=False)
        ax.grid(axis="x", visible=True)
        ax.set_xlabel(xlabel)
        ax.set_title(title or "Premium by group")
        set_caption(
            ax,
            caption
            or (
                f"Estimated effects with {_pct(level)} confidence intervals"
                f"{' by ' + ', '.join(g for g in groups if g) if with_headers else ''}"
                f"{f'; dashed line: overall estimate {overall:+.3f}' if overall is not None else ''}."
            )
            + (" Crosses: the true effect in the synthetic data." if truth is not None else ""),
        )
    return ax


# -- 8. estimator comparison -----------------------------------------------------------------------


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
    their overall term (``simple``, ``ATT``, ``overall``, or their only term).
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
            pick = next(
                (c for c in ("simple", "ATT", "overall", "att") if c in set(t["term"])), None
            )
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
    ax: Axes | None = None,
    title: str | None = None,
    caption: str | None = None,
) -> Axes:
    """Estimator and specification comparison: one row per estimator, one series per outcome.

    Rows (estimators) top to bottom in first-appearance order; each outcome (labour productivity,
    TFP by production-function method…) is an ``ErrorbarContainer`` labelled with the outcome name,
    dodged vertically. ``truth`` draws the true overall effect (a number, or one per outcome) as
    dashed vertical lines.
    """
    rows = comparison_frame(data, level=level)
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
                fmt=_MARKERS[i % len(_MARKERS)],
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
        ax.set_xlabel("Overall effect of membership (log points)")
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
                f"{_pct(level)} confidence intervals."
                f"{' Dashed lines: the true effect.' if truth is not None else ''} TWFE is biased "
                "when effects differ across cohorts or grow with time; the heterogeneity-robust "
                "estimators are not."
            ),
        )
    return ax


# -- 9. truth vs estimate ---------------------------------------------------------------------------


def _match_truth(terms: pd.Series, truth: pd.Series) -> np.ndarray:
    """True value of each term: by term, by its axis label (``dynamic:2`` ↔ ``2``), or numerically
    (``2`` ↔ ``2.0``); open bins (``5+``) match only their own label."""
    keys = {str(k): float(v) for k, v in truth.items()}
    for k, v in list(keys.items()):
        try:
            keys.setdefault(f"{float(k):g}", v)
        except ValueError:
            pass
    out = []
    for term in terms.astype(str):
        val = keys.get(term)
        if val is None:
            lab = term_label(term)
            val = keys.get(lab)
            if val is None and not lab.endswith("+"):
                try:
                    val = keys.get(f"{float(lab):g}")
                except ValueError:
                    val = None
        out.append(np.nan if val is None else val)
    return np.asarray(out, dtype=float)


def plot_truth_vs_estimate(
    estimates: Any,
    truth: Any,
    *,
    kind: str = "auto",
    level: float = 0.95,
    truth_key: str = "att",
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Estimates against the known truth (synthetic data).

    Parameters
    ----------
    estimates
        A result (its tidy rows or, for a profile, its profile) or a tidy / profile frame; rows are
        matched to ``truth`` by term, by the term's axis label (``dynamic:2`` ↔ ``2``) or numerically.
    truth
        Mapping / Series / frame of true values (see :func:`truth_frame`).
    kind
        ``"profile"``: estimates with CIs along the result's axis (event time, years of membership)
        and the truth as a line of crosses (``gid="truth"``); ``"scatter"``: estimate (y) against
        truth (x) with the 45° line (``gid="diagonal"``); ``"auto"``: profile for a
        :class:`~clusterimpact.results.ProfileResult` or a frame with ``x``, scatter otherwise.

    Returns
    -------
    Axes
        Covering intervals (truth inside the CI) are one ``ErrorbarContainer`` labelled
        ``"CI covers truth"``, the others ``"CI misses truth"``; the caption reports coverage and RMSE.
    """
    if kind not in ("auto", "profile", "scatter"):
        raise SpecError(f"kind={kind!r} is not valid; choose one of 'auto', 'profile', 'scatter'")
    if kind == "auto":
        is_profile = isinstance(estimates, ProfileResult) or (
            isinstance(estimates, pd.DataFrame) and "x" in estimates.columns
        )
        kind = "profile" if is_profile else "scatter"
    if kind == "profile":
        t = profile_frame(estimates, level)
    else:
        t = tidy_input(estimates, level).copy()
    opens = [term_label(x) for x in t["term"].astype(str) if term_label(x).endswith("+")]
    t["truth"] = _match_truth(t["term"], truth_frame(truth, truth_key, open_bins=opens))
    t = t[np.isfinite(t["truth"].to_numpy(dtype=float))]
    if t.empty:
        raise SpecError("no estimate could be matched to a true value (check term names)")
    est = t["estimate"].to_numpy(dtype=float)
    tru = t["truth"].to_numpy(dtype=float)
    lo, hi = t["conf_low"].to_numpy(dtype=float), t["conf_high"].to_numpy(dtype=float)
    pos = t["x"].to_numpy(dtype=float) if kind == "profile" else tru
    cover = (lo <= tru) & (tru <= hi)
    with style_context():
        ax = new_axes(ax, figsize=(6.4, 4.0) if kind == "profile" else (5.2, 4.6))
        for mask, color, label, marker in (
            (cover, PALETTE[0], "CI covers truth", "o"),
            (~cover, PALETTE[1], "CI misses truth", "D"),
        ):
            if mask.any():
                ax.errorbar(
                    pos[mask],
                    est[mask],
                    yerr=np.vstack([est[mask] - lo[mask], hi[mask] - est[mask]]),
                    fmt=marker,
                    color=color,
                    markersize=5,
                    label=label,
                )
        if kind == "profile":
            ax.plot(
                pos,
                tru,
                color="black",
                linestyle="-",
                linewidth=1,
                marker="x",
                markersize=7,
                mew=1.5,
                label="Truth",
                gid="truth",
                zorder=4,
            )
            ax.axhline(0, color="black", linewidth=0.6)
            ax.xaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
            ax.set_xlabel(getattr(estimates, "x_label", "") or "Event time")
            ax.set_ylabel("Effect (log points)")
            ax.legend(loc="best")
            lines = "Crosses: the true effect in the synthetic data."
        else:
            allv = np.concatenate([tru, lo, hi])
            a, b = float(np.nanmin(allv)), float(np.nanmax(allv))
            pad = 0.05 * (b - a if b > a else 1.0)
            ax.plot(
                [a - pad, b + pad],
                [a - pad, b + pad],
                color=GREY,
                linestyle="--",
                linewidth=1,
                gid="diagonal",
            )
            ax.set_xlim(a - pad, b + pad)
            ax.set_ylim(a - pad, b + pad)
            ax.set_aspect("equal", adjustable="box")
            ax.grid(axis="x", visible=True)
            ax.set_xlabel("True effect")
            ax.set_ylabel("Estimate")
            ax.legend(loc="upper left")
            lines = "Dashed: estimate = truth."
        ax.set_title(title or "Estimates against the known truth")
        rmse = float(np.sqrt(np.mean((est - tru) ** 2)))
        method = result_name(estimates, "")
        set_caption(
            ax,
            f"Estimated effects{f' ({method})' if method else ''} against the true effects in the "
            f"synthetic data ({len(t)} terms). Whiskers: {_pct(level)} confidence intervals; "
            f"{int(cover.sum())} of {len(t)} cover the truth. RMSE {rmse:.4f}. {lines}",
        )
    return ax
