"""Known-truth figures (synthetic data): the truth lookup every figure uses, and estimates against it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clusterimpact.descriptive import truth_fit
from clusterimpact.errors import SpecError
from clusterimpact.plotting._core import (
    GREY,
    PALETTE,
    new_axes,
    profile_frame,
    result_name,
    set_caption,
    style_context,
    term_label,
    tidy_input,
)
from clusterimpact.plotting._format import (
    PERCENT_CAPTION,
    effect_axis_label,
    pct,
    to_percent,
)
from clusterimpact.results import ProfileResult

__all__ = ["match_truth", "plot_truth_vs_estimate", "truth_frame"]


def truth_frame(truth: Any, key: str = "att", *, open_bins: Sequence[str] = ()) -> pd.Series:
    """True values indexed by axis value (or term) from a mapping, Series or synthetic-truth dict.

    Accepts ``{x: value}``, ``{x: {"att": ..., "att_lp": ...}}`` (the synthetic ``member_years`` /
    ``event_time`` entries; ``key`` picks the field), a Series, or a frame with ``x``/``term`` and
    ``truth``/``value``/``key`` columns.

    ``open_bins`` (labels like ``"5+"``) missing from a synthetic-truth mapping are filled with the
    ``n``-weighted mean of the entries at or above the bin's lower end (what the synthetic truth's
    ``member_years_bins`` holds), when the entries carry ``n``.

    Examples
    --------
    >>> from clusterimpact.datasets import example_data
    >>> from clusterimpact.plotting import truth_frame
    >>> truth = truth_frame(example_data().truth["member_years"], key="att_lp", open_bins=["5+"])
    >>> "5+" in truth.index, bool(truth.notna().all())
    (True, True)
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


def match_truth(terms: pd.Series, truth: pd.Series) -> np.ndarray:
    """True value of each term: by term, by its axis label (``dynamic:2`` ↔ ``2``), or numerically
    (``2`` ↔ ``2.0``); open bins (``5+``) match only their own label.

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.plotting.truth import match_truth
    >>> truth = pd.Series({"0": 0.01, "1": 0.02, "5+": 0.04})
    >>> match_truth(pd.Series(["dynamic:0", "dynamic:1", "dynamic:2"]), truth).tolist()
    [0.01, 0.02, nan]
    """
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
    percent: bool = True,
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
    percent
        Draw effects on the log outcome in percent, ``100·(exp(b) − 1)`` (default; estimates,
        limits and truth converted one by one), or as differences in logs (``False``). Coverage is
        the same on both scales; the caption's RMSE is in log points.

    Returns
    -------
    Axes
        Covering intervals (truth inside the CI) are one ``ErrorbarContainer`` labelled
        ``"CI covers truth"``, the others ``"CI misses truth"``; the caption reports coverage and RMSE.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_data
    >>> from clusterimpact.plotting import plot_truth_vs_estimate
    >>> sim = example_data()
    >>> duration = ci.duration_effects(sim.panel(), outcome="ln_lp")
    >>> ax = plot_truth_vs_estimate(duration, sim.truth["member_years"], truth_key="att_lp")
    >>> ax.get_xlabel()
    'Years of membership'
    """
    t, kind = _matched_rows(estimates, truth, kind=kind, level=level, truth_key=truth_key)
    est = t["estimate"].to_numpy(dtype=float)
    tru = t["truth"].to_numpy(dtype=float)
    lo, hi = t["conf_low"].to_numpy(dtype=float), t["conf_high"].to_numpy(dtype=float)
    cover, rmse = truth_fit(est, tru, lo, hi)
    if percent:
        est, tru, lo, hi = (to_percent(v) for v in (est, tru, lo, hi))
    pos = t["x"].to_numpy(dtype=float) if kind == "profile" else tru
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
            ax.set_ylabel(effect_axis_label("Effect", percent))
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
            ax.set_xlabel(f"True effect{' (%)' if percent else ''}")
            ax.set_ylabel(f"Estimate{' (%)' if percent else ''}")
            ax.legend(loc="upper left")
            lines = "Dashed: estimate = truth."
        ax.set_title(title or "Estimates against the known truth")
        method = result_name(estimates, "")
        set_caption(
            ax,
            f"Estimated effects{f' ({method})' if method else ''} against the true effects in the "
            f"synthetic data ({len(t)} terms). Whiskers: {pct(level)} confidence intervals; "
            f"{int(np.count_nonzero(cover))} of {len(t)} cover the truth. RMSE {rmse:.4f} log points. {lines}"
            + (f" {PERCENT_CAPTION}" if percent else ""),
        )
    return ax


def _matched_rows(
    estimates: Any, truth: Any, *, kind: str, level: float, truth_key: str
) -> tuple[pd.DataFrame, str]:
    """The estimates' rows that a true value matches (with a ``truth`` column), and the kind drawn."""
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
    t["truth"] = match_truth(t["term"], truth_frame(truth, truth_key, open_bins=opens))
    t = t[np.isfinite(t["truth"].to_numpy(dtype=float))]
    if t.empty:
        raise SpecError("no estimate could be matched to a true value (check term names)")
    return t, kind
