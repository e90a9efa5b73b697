"""The conditional DiD figure (as in the ECOOM cluster evaluations): matched estimates by outcome and
cohort with their confidence intervals, beside the same effects estimated without matching."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from clusterimpact.errors import SpecError
from clusterimpact.labels import label
from clusterimpact.plotting._core import GREY, PALETTE, new_axes, set_caption, style_context
from clusterimpact.plotting._core import tidy_input as _tidy_input
from clusterimpact.plotting._format import (
    PERCENT_CAPTION,
    axis_outcome,
    effect_axis_label,
    pct,
    to_percent_frame,
)
from clusterimpact.results import EstimateResult

__all__ = ["CONDITIONAL_DID_COLUMNS", "conditional_did_frame", "plot_conditional_did"]

#: Columns of :func:`conditional_did_frame`, in order.
CONDITIONAL_DID_COLUMNS = [
    "outcome",
    "cohort",
    "sample",
    "estimator",
    "estimate",
    "conf_low",
    "conf_high",
    "n",
]
_SAMPLES = ("matched", "unmatched")
_POOLED = "all"
#: Series drawn, top one of a row first: matched, matched resting on few firms, unmatched.
_SERIES = ("matched", "matched_thin", "unmatched")
_STYLE: dict[str, dict[str, Any]] = {
    "matched": {"fmt": "o", "color": PALETTE[0], "mfc": PALETTE[0]},
    "matched_thin": {"fmt": "o", "color": "#8CB9DC", "mfc": "white"},
    "unmatched": {"fmt": "s", "color": GREY, "mfc": "white"},
}


def conditional_did_frame(data: Any, *, level: float = 0.95) -> pd.DataFrame:
    """Rows of the conditional DiD figure: one effect per outcome, cohort and sample.

    Parameters
    ----------
    data
        A tidy frame with ``outcome``, ``sample`` (``"matched"`` or ``"unmatched"``), ``estimate``
        and ``conf_low``/``conf_high`` (or ``std_error``), and optionally ``cohort`` (joining year;
        ``"all"`` or missing for the effect over all cohorts), ``estimator`` (its name, e.g.
        ``"Matched DiD"``, ``"TWFE"``) and ``n`` (member firms behind the estimate). Or a mapping
        ``{outcome: {"matched": result, "unmatched": result}}`` of results with one overall effect
        each (their ``overall_term``, or their only term).
    level
        Confidence level of intervals computed from ``std_error``.

    Returns
    -------
    DataFrame
        :data:`CONDITIONAL_DID_COLUMNS`, cohorts as strings (``"all"`` for the pooled effect).

    Examples
    --------
    >>> import pandas as pd
    >>> tidy = pd.DataFrame({"outcome": ["ln_lp", "ln_lp", "ln_tfp_acf", "ln_tfp_acf"],
    ...                      "sample": ["matched", "unmatched"] * 2,
    ...                      "estimate": [0.02, 0.04, 0.03, 0.05],
    ...                      "std_error": [0.01, 0.01, 0.012, 0.011]})
    >>> from clusterimpact.plotting.conditional_did import conditional_did_frame
    >>> rows = conditional_did_frame(tidy)
    >>> rows[["outcome", "cohort", "sample"]].values.tolist()[:2]
    [['ln_lp', 'all', 'matched'], ['ln_lp', 'all', 'unmatched']]
    >>> bool(((rows["conf_low"] < rows["estimate"]) & (rows["estimate"] < rows["conf_high"])).all())
    True
    """
    if isinstance(data, Mapping):
        frame = pd.DataFrame(
            [
                _overall_row(str(o), str(s), r, level)
                for o, by_sample in data.items()
                for s, r in _as_mapping(o, by_sample).items()
            ]
        )
    elif isinstance(data, pd.DataFrame):
        frame = _tidy_input(data, level)
    else:
        raise SpecError(
            "plot_conditional_did needs a tidy frame or {outcome: {'matched': result, "
            f"'unmatched': result}}, got {type(data).__name__}"
        )
    missing = [c for c in ("outcome", "sample") if c not in frame.columns]
    if missing:
        raise SpecError(f"conditional DiD rows need column(s) {missing}")
    bad = sorted(set(frame["sample"].astype(str)) - set(_SAMPLES))
    if bad:
        rows = frame.index[frame["sample"].astype(str).isin(bad)].tolist()[:5]
        raise SpecError(f"sample must be 'matched' or 'unmatched'; got {bad} (rows {rows})")
    if not (frame["sample"] == "matched").any():
        raise SpecError("no matched estimate to draw (sample == 'matched')")
    out = frame.copy()
    cohort = out["cohort"] if "cohort" in out.columns else pd.Series(np.nan, index=out.index)
    cohort = cohort.astype("object").where(cohort.notna(), _POOLED)
    out["cohort"] = [_cohort_text(c) for c in cohort]
    for c, default in (("estimator", ""), ("n", np.nan)):
        if c not in out.columns:
            out[c] = default
    out["outcome"] = out["outcome"].astype(str)
    out["sample"] = out["sample"].astype(str)
    out["estimator"] = out["estimator"].fillna("").astype(str)
    return out[CONDITIONAL_DID_COLUMNS].reset_index(drop=True)


def plot_conditional_did(
    data: Any,
    *,
    level: float = 0.95,
    percent: bool = True,
    thin: int | None = 30,
    dodge: float = 0.18,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Conditional DiD: matched estimates by outcome (and cohort), beside the unmatched ones.

    The estimand of each row is the average effect of joining a cluster on the members (ATT) for
    one outcome, over all cohorts (``"All cohorts"``) or one joining cohort. The matched estimate
    compares members with their matched controls (a conditional DiD: parallel trends assumed
    given the matching covariates); the unmatched one is the same effect from the full sample
    without matching. A gap between the two says how much the matching changes the answer.

    Parameters
    ----------
    data
        See :func:`conditional_did_frame`.
    level
        Confidence level of intervals computed from standard errors (stated in the caption).
    percent
        Draw effects on log outcomes in percent, ``100·(exp(b) − 1)`` (default; the caption says
        so), or as differences in logs (``False``).
    thin
        Matched rows resting on fewer member firms (``n``) are drawn as a lighter, hollow series
        (its own ``ErrorbarContainer``, "Matched, fewer than <thin> firms") and the caption says so:
        a cohort of a handful of firms gives a noisy estimate and an unreliable interval. None
        marks nothing.
    dodge
        Vertical offset between the matched (above) and unmatched (below) estimate of a row.

    Returns
    -------
    Axes
        One ``ErrorbarContainer`` per sample (labels "Matched (…)", "Unmatched (…)"), rows top to
        bottom by outcome in first-appearance order, the pooled row first within an outcome, then
        cohorts in order; outcome header rows in bold (tick ``gid="header"``).

    Examples
    --------
    >>> import pandas as pd
    >>> tidy = pd.DataFrame({"outcome": ["ln_lp", "ln_lp", "ln_tfp_acf", "ln_tfp_acf"],
    ...                      "sample": ["matched", "unmatched"] * 2,
    ...                      "estimate": [0.02, 0.04, 0.03, 0.05],
    ...                      "std_error": [0.01, 0.01, 0.012, 0.011]})
    >>> from clusterimpact.plotting.conditional_did import plot_conditional_did
    >>> ax = plot_conditional_did(tidy)
    >>> [c.get_label() for c in ax.containers]
    ['Matched', 'Unmatched']
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['Labour productivity (VA per FTE)', 'TFP (ACF)']
    """
    rows = conditional_did_frame(data, level=level)
    if percent:
        rows = to_percent_frame(rows, ("estimate", "conf_low", "conf_high"))
    ypos, ticks, ticklabels, headers = _layout(rows, percent)
    series = rows["sample"].where(
        ~((rows["sample"] == "matched") & (rows["n"] < (thin if thin is not None else -1))),
        "matched_thin",
    )
    drawn = [k for k in _SERIES if (series == k).any()]
    with style_context():
        ax = new_axes(ax, figsize=(7.8, 0.34 * len(ticks) + 1.6))
        for key in drawn:
            s = rows[series == key]
            st = _STYLE[key]
            y = np.array([ypos[(o, c)] for o, c in zip(s["outcome"], s["cohort"], strict=True)])
            top_down = np.argsort(-y, kind="stable")
            s, y = s.iloc[top_down], y[top_down]
            e = s["estimate"].to_numpy(dtype=float)
            lo, hi = s["conf_low"].to_numpy(dtype=float), s["conf_high"].to_numpy(dtype=float)
            ax.errorbar(
                e,
                y + (-dodge / 2 if key == "unmatched" else dodge / 2),
                xerr=np.vstack([e - lo, hi - e]),
                fmt=st["fmt"],
                color=st["color"],
                mfc=st["mfc"],
                markersize=5,
                label=_sample_name(key, s["estimator"], thin),
            )
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(ticks, ticklabels)
        for tick_y, tl in zip(ticks, ax.get_yticklabels(), strict=True):
            if tick_y in headers:
                tl.set_fontweight("bold")
                tl.set_gid("header")
        ax.set_ylim(min(ticks) - 0.6, max(ticks) + 0.6)
        ax.grid(axis="y", visible=False)
        ax.grid(axis="x", visible=True)
        ax.set_xlabel(effect_axis_label("Effect of membership", percent))
        ax.set_title(title or "Conditional DiD: matched against unmatched estimates")
        handles = [
            Line2D([], [], **_legend_style(k), label=c.get_label())
            for k, c in zip(drawn, ax.containers, strict=True)
        ]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        set_caption(ax, _caption(rows, level, percent, thin if "matched_thin" in drawn else None))
    return ax


# -- helpers -------------------------------------------------------------------------------------


def _as_mapping(outcome: Any, by_sample: Any) -> Mapping[str, Any]:
    if not isinstance(by_sample, Mapping):
        raise SpecError(
            f"outcome {outcome!r}: expected {{'matched': result, 'unmatched': result}}, "
            f"got {type(by_sample).__name__}"
        )
    return by_sample


def _overall_row(outcome: str, sample: str, res: Any, level: float) -> dict[str, Any]:
    """The overall effect of one result: its ``overall_term``, or its only term."""
    if not isinstance(res, EstimateResult):
        raise SpecError(
            f"{outcome}/{sample}: expected an estimation result, got {type(res).__name__}"
        )
    t = res.tidy(level).set_index("term")
    term = getattr(res, "overall_term", None)
    if term is None:
        if len(t) != 1:
            raise SpecError(
                f"{outcome}/{sample}: the result has {len(t)} terms and no overall_term; pass a "
                "tidy frame with one row per outcome, cohort and sample"
            )
        term = t.index[0]
    r = t.loc[term]
    return {
        "outcome": outcome,
        "cohort": _POOLED,
        "sample": sample,
        "estimator": str(getattr(res, "method", "") or ""),
        "estimate": float(r["estimate"]),
        "conf_low": float(r["conf_low"]),
        "conf_high": float(r["conf_high"]),
        "n": np.nan,
    }


def _cohort_text(c: Any) -> str:
    s = str(c)
    if s.lower() in ("all", "pooled", "overall", "nan", "<na>"):
        return _POOLED
    try:
        f = float(s)
    except ValueError:
        return s
    return f"{int(f)}" if f.is_integer() else s


def _layout(
    rows: pd.DataFrame, percent: bool
) -> tuple[dict[tuple[str, str], float], list[float], list[str], set[float]]:
    """Row positions top to bottom: per outcome a header (when any outcome has cohort rows), the
    pooled row, then its cohorts in order; returns positions, ticks, tick labels, header ticks."""
    ypos: dict[tuple[str, str], float] = {}
    ticks: list[float] = []
    labels: list[str] = []
    headers: set[float] = set()
    nested = bool((rows["cohort"] != _POOLED).any())  # then every outcome gets a header row
    y = 0.0
    for outcome in dict.fromkeys(rows["outcome"]):
        name = axis_outcome(label(outcome), percent)
        name = name if name.startswith("ln ") else name[:1].upper() + name[1:]
        part = rows[rows["outcome"] == outcome]
        cohorts = list(dict.fromkeys(part["cohort"]))
        by_cohort = [c for c in cohorts if c != _POOLED]
        order = ([_POOLED] if _POOLED in cohorts else []) + sorted(by_cohort, key=_cohort_key)
        if nested:
            headers.add(y)
            ticks.append(y)
            labels.append(name)
            y -= 1
        for c in order:
            ypos[(outcome, c)] = y
            ticks.append(y)
            labels.append(_row_label(name, c, part[part["cohort"] == c], nested))
            y -= 1
    return ypos, ticks, labels, headers


def _cohort_key(c: str) -> tuple[int, float, str]:
    try:
        return (0, float(c), c)
    except ValueError:
        return (1, 0.0, c)


def _row_label(outcome: str, cohort: str, rows: pd.DataFrame, nested: bool) -> str:
    head = ("All cohorts" if cohort == _POOLED else f"Cohort {cohort}") if nested else outcome
    n = rows.loc[rows["sample"] == "matched", "n"].dropna()
    return f"{head} (n = {int(n.iloc[0]):,})" if len(n) else head


def _sample_name(key: str, estimators: pd.Series, thin: int | None) -> str:
    names = [e for e in dict.fromkeys(estimators) if e]
    if key == "matched_thin":
        return f"Matched, fewer than {thin} firms"
    base = "Matched" if key == "matched" else "Unmatched"
    return f"{base} ({', '.join(names)})" if names else base


def _legend_style(sample: str) -> dict[str, Any]:
    st = _STYLE[sample]
    return {
        "marker": st["fmt"],
        "color": st["color"],
        "markerfacecolor": st["mfc"],
        "linestyle": "-",
        "markersize": 5,
    }


def _caption(rows: pd.DataFrame, level: float, percent: bool, thin: int | None) -> str:
    has_unmatched = bool((rows["sample"] == "unmatched").any())
    has_n = bool(rows["n"].notna().any())
    return (
        "Average effect of cluster membership on the members (ATT) for each outcome"
        f"{', over all cohorts and by joining cohort' if (rows['cohort'] != _POOLED).any() else ''}"
        ": the conditional difference-in-differences on members and their matched controls "
        "(filled circles; parallel trends assumed given the matching covariates)"
        + (
            ", beside the same effect estimated on the full sample without matching (open squares)"
            if has_unmatched
            else ""
        )
        + f". Whiskers: {pct(level)} confidence intervals."
        + (" n: member firms behind the matched estimate." if has_n else "")
        + (
            f" Light hollow circles: matched estimates resting on fewer than {thin} member firms,"
            " too few for a reliable estimate or interval."
            if thin is not None
            else ""
        )
        + (f" {PERCENT_CAPTION}" if percent else "")
    )
