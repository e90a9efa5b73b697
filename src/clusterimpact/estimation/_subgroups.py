"""Assigning treated firms to subgroups by a characteristic measured before joining.

Not public: :mod:`clusterimpact.estimation.heterogeneity` uses it. A subgroup split must not be
affected by the treatment, so a firm's class is measured before it joins (or is a fixed trait):

- ``"pre"``: the firm's value in the ``window`` periods before joining, ``g - a - window .. g - a - 1``
  (``g`` the cohort, ``a`` the anticipation periods): the mean of a numeric column, the latest value of a
  categorical one. With the default ``window = 1`` this is the base period ``g - a - 1`` of every
  post-treatment comparison of Callaway & Sant'Anna, so a treated firm without a value there
  contributes to no post-treatment cell anyway.
- ``"join"``: the first value from the join year on (the cluster a firm joined; it has no value before).
- ``"fixed"``: a trait that must be constant within the firm (sector, region).
- ``"cohort"``: the cohort itself.

Numeric values are cut into classes by ``bins`` (right-open intervals ``[lo, hi)``). Classes with fewer
than ``min_treated`` firms are merged: a bin with its neighbour (the upper one for the first bin, the
lower one otherwise), categories into ``"other"`` (dropped if still too small).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from clusterimpact._validation import check_choice
from clusterimpact.errors import DataError, SpecError

Timing = Literal["pre", "join", "fixed", "cohort"]
TIMINGS = ("pre", "join", "fixed", "cohort")


@dataclass(frozen=True)
class SubgroupRule:
    """How treated firms are assigned to subgroups.

    Attributes
    ----------
    column
        Column holding the characteristic (ignored for ``at="cohort"``).
    at
        ``"pre"``, ``"join"``, ``"fixed"`` or ``"cohort"`` (module docstring).
    bins
        Increasing class edges for a numeric column (``[lo, hi)`` intervals); ``None`` for categories.
    labels
        Class labels, one per bin (default: built from the edges, e.g. ``<10``, ``10 to <50``, ``50+``).
    window
        Periods before joining averaged for ``at="pre"``.
    units
        Unit of the binned values in labels (``"FTE"``, ``"years"``).

    Examples
    --------
    >>> from clusterimpact.estimation.heterogeneity import PRESETS
    >>> rule = PRESETS["size"]  # the named split by pre-joining FTE
    >>> type(rule).__name__, rule.column, rule.at
    ('SubgroupRule', 'emp', 'pre')
    """

    column: str
    at: Timing = "pre"
    bins: tuple[float, ...] | None = None
    labels: tuple[str, ...] | None = None
    window: int = 1
    units: str = ""

    def describe(self, anticipation: int = 0) -> str:
        """One line stating the rule and the class cut points."""
        if self.at == "cohort":
            return "cohort (first year of membership)"
        if self.at == "fixed":
            what = f"{self.column} (constant within firm)"
        elif self.at == "join":
            what = f"{self.column} in the join year (first value from year g on)"
        else:
            lo = f"g-{anticipation + self.window}"
            hi = f"g-{anticipation + 1}"
            span = hi if self.window == 1 else f"{lo}..{hi}"
            stat = "value" if self.window == 1 else "mean"
            what = f"{self.column}: {stat} in {span} (before joining)"
        if self.bins is not None:
            edges = ", ".join(f"{b:g}" for b in self.bins)
            what += f"; classes [lo, hi) at {edges}{' ' + self.units if self.units else ''}"
        return what

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "column": self.column,
            "at": self.at,
            "bins": None if self.bins is None else [float(b) for b in self.bins],
            "labels": None if self.labels is None else list(self.labels),
            "window": int(self.window),
            "units": self.units,
        }


INF = float("inf")
#: The named splits of issue #14. ``size``: FTE employment before joining, EU size classes (micro
#: < 10, small 10-49, medium 50-249, large 250+); ``age``: years since founding before joining.
PRESETS: dict[str, SubgroupRule] = {
    "cluster": SubgroupRule(column="cluster", at="join"),
    "cohort": SubgroupRule(column="", at="cohort"),
    "size": SubgroupRule(column="emp", at="pre", bins=(0.0, 10.0, 50.0, 250.0, INF), units="FTE"),
    "age": SubgroupRule(column="age", at="pre", bins=(0.0, 5.0, 10.0, 20.0, INF), units="years"),
    "sector": SubgroupRule(column="sector", at="fixed"),
    "region": SubgroupRule(column="region", at="fixed"),
}


def make_rule(
    by: str,
    *,
    bins: Sequence[float] | None,
    labels: Sequence[str] | None,
    at: str | None,
    window: int | None,
) -> SubgroupRule:
    """The rule for ``by``: a preset name (options override its settings) or any column."""
    if by in PRESETS:
        rule = PRESETS[by]
    else:
        rule = SubgroupRule(column=by, at="pre" if bins is not None else "fixed")
    if bins is not None:
        edges = tuple(float(b) for b in bins)
        if len(edges) < 3 or not np.all(np.diff(edges) > 0) or np.isnan(edges).any():
            raise SpecError(
                f"bins must be at least 3 increasing edges (2 classes), got {list(bins)}"
            )
        rule = replace(rule, bins=edges, labels=None)
    if labels is not None:
        if rule.bins is None or len(labels) != len(rule.bins) - 1:
            raise SpecError("labels need bins, one label per bin")
        rule = replace(rule, labels=tuple(str(v) for v in labels))
    if at is not None:
        if at not in TIMINGS:
            raise SpecError(f"at must be one of {', '.join(TIMINGS)}; got {at!r}")
        rule = replace(rule, at=at)  # type: ignore[arg-type]
    if window is not None:
        if int(window) != window or window < 1:
            raise SpecError(f"window must be a positive integer, got {window!r}")
        rule = replace(rule, window=int(window))
    return rule


def bin_labels(edges: Sequence[float], units: str = "") -> list[str]:
    """Labels of ``[lo, hi)`` bins: ``<10``, ``10 to <50``, ``50+`` (with ``units`` appended)."""
    out = []
    last = len(edges) - 2
    for i in range(last + 1):
        lo, hi = edges[i], edges[i + 1]
        if i == 0 and lo <= 0:
            s = f"<{hi:g}"
        elif i == last and np.isinf(hi):
            s = f"{lo:g}+"
        else:
            s = f"{lo:g} to <{hi:g}"
        out.append(f"{s} {units}".strip())
    return out


def firm_values(
    df: pd.DataFrame,
    rule: SubgroupRule,
    *,
    unit: str,
    time: str,
    cohorts: pd.Series,
    anticipation: int,
) -> pd.Series:
    """The characteristic of every treated firm (index: the firms of ``cohorts``), NaN if unknown.

    ``cohorts`` maps each treated firm to its cohort. Raises :class:`DataError` when a ``"fixed"``
    characteristic varies within a firm (naming the rows).
    """
    if rule.at == "cohort":
        return cohorts.astype(float)
    col = rule.column
    firms = pd.Index(cohorts.index)
    pos_all = firms.get_indexer(df[unit])
    has = (pos_all >= 0) & df[col].notna().to_numpy()
    sub = df.loc[has, [unit, time, col]]
    pos = pos_all[has]
    g = cohorts.to_numpy(dtype=float)[pos]
    yr = sub[time].to_numpy(dtype=float)
    numeric = rule.bins is not None
    if numeric:
        vals = pd.to_numeric(sub[col], errors="coerce")
        sub = sub.assign(**{col: vals})
    if rule.at == "fixed":
        return _fixed_values(df, sub[col], pos, firms, unit=unit, col=col)
    if rule.at == "join":
        keep = yr >= g
        sub = sub[keep].sort_values([unit, time], kind="mergesort")
        return sub.groupby(unit, sort=False)[col].first().reindex(cohorts.index)
    lo = g - anticipation - rule.window
    hi = g - anticipation - 1
    sub = sub[(yr >= lo) & (yr <= hi)]
    if numeric:
        return sub.groupby(unit, sort=False)[col].mean().reindex(cohorts.index)
    sub = sub.sort_values([unit, time], kind="mergesort")
    return sub.groupby(unit, sort=False)[col].last().reindex(cohorts.index)


COMPARISONS = ("auto", "within", "pooled")
#: Presets compared within class by default (``comparison="auto"``): characteristics every firm has.
WITHIN_BY = ("size", "age", "sector", "region")


def comparison_mode(comparison: str, rule: SubgroupRule, by: str) -> str:
    """``"within"`` or ``"pooled"``: ``"auto"`` is within for the presets in :data:`WITHIN_BY`,
    pooled for the cluster joined, the cohort (members only) and any other column (the comparison
    firms may not have it). ``"within"`` for a characteristic of members only is a SpecError."""
    check_choice("comparison", comparison, COMPARISONS)
    if comparison == "within" and rule.at not in ("pre", "fixed"):
        raise SpecError(
            f"subgroups by {by}: comparison='within' needs a characteristic that comparison firms "
            f"have too (at='pre' or 'fixed'); '{rule.at}' is defined for members only"
        )
    if comparison == "auto":
        return "within" if by in WITHIN_BY and rule.at in ("pre", "fixed") else "pooled"
    return comparison


def comparison_values(
    df: pd.DataFrame,
    rule: SubgroupRule,
    never: pd.Index,
    cohorts: pd.Series,
    *,
    unit: str,
    time: str,
    anticipation: int,
) -> tuple[pd.Series, str]:
    """The characteristic of the never-treated firms ``never`` by the members' rule, with the
    treated firms' median cohort ``g*`` (``cohorts``: treated firm -> cohort) as their join year (a
    fixed trait: its value); and the rule in words (the reason a firm without a value is excluded)."""
    g_star = int(np.floor(np.median(cohorts.to_numpy(dtype=float))))
    ref = pd.Series(float(g_star), index=never)
    values = firm_values(df, rule, unit=unit, time=time, cohorts=ref, anticipation=anticipation)
    if rule.at == "fixed":
        return values, "no value"
    g = g_star - anticipation
    span = f"{g - 1}" if rule.window == 1 else f"{g - rule.window}..{g - 1}"
    return (
        values,
        f"never-treated firms measured in {span}, the treated firms' median cohort minus one",
    )


def _fixed_values(
    df: pd.DataFrame, values: pd.Series, pos: np.ndarray, firms: pd.Index, *, unit: str, col: str
) -> pd.Series:
    """The value of a trait that must be constant within each firm (``pos``: row -> firm)."""
    vcode, vuniq = pd.factorize(values)
    n = len(firms)
    lo = np.full(n, np.iinfo(np.int64).max)
    hi = np.full(n, -1)
    np.minimum.at(lo, pos, vcode)
    np.maximum.at(hi, pos, vcode)
    varying = firms[(hi >= 0) & (lo != hi)]
    if len(varying):
        rows = list(df.index[df[unit].isin(varying) & df[col].notna()][:50])
        raise DataError(
            f"'{col}' changes over time for {len(varying)} treated firm(s), e.g. "
            f"{varying[0]}; a fixed trait must be constant within the firm. Measure it before "
            "joining instead: at='pre'",
            column=col,
            rows=rows,
        )
    out = np.full(n, np.nan, dtype=object)
    seen = hi >= 0
    out[seen] = np.asarray(vuniq, dtype=object)[hi[seen]]
    return pd.Series(out, index=firms)


def classify(
    values: pd.Series,
    rule: SubgroupRule,
    min_treated: int,
    others: pd.Series | None = None,
) -> tuple[pd.Series, list[str], dict[str, int]]:
    """Class label of every firm (NaN: not classified) after merging classes that are too small.

    Returns the labels (ordered categorical), messages for the user and exclusion counts by reason.
    ``others`` (comparison firms' values, index disjoint from ``values``) are given the final
    classes of the treated firms without counting towards their sizes, and appended to the labels:
    a value in a merged bin gets the merged class, a category pooled into ``"other"`` (or absent
    among the treated firms) gets ``"other"`` when that class is kept, and NaN otherwise.
    """
    msgs: list[str] = []
    excl: dict[str, int] = {}
    missing = int(values.isna().sum())
    if missing:
        excl[f"treated firms without a value of {rule.column or 'cohort'} (see rule)"] = missing
    if rule.bins is not None:
        return _classify_bins(values, rule, min_treated, msgs, excl, others)
    known = values.dropna()
    if rule.at == "cohort":
        labels = known.astype(float).astype(int).astype(str).reindex(values.index)
        order = [f"{int(v)}" for v in sorted(known.astype(float).unique())]
    else:
        labels = known.astype(str).reindex(values.index)
        order = sorted(labels.dropna().unique())
    counts = labels.value_counts()
    small = [c for c in order if counts.get(c, 0) < min_treated]
    if small and rule.at != "cohort":
        labels = labels.where(~labels.isin(small), "other")
        order = [c for c in order if c not in small] + ["other"]
        msgs.append(
            f"{len(small)} class(es) of {rule.column} with fewer than {min_treated} treated firms "
            f"pooled into 'other': {', '.join(small[:12])}{' ...' if len(small) > 12 else ''}"
        )
        small = ["other"] if (labels == "other").sum() < min_treated else []
    if small:
        n_drop = int(labels.isin(small).sum())
        labels = labels.where(~labels.isin(small))
        order = [c for c in order if c not in small]
        excl[f"treated firms in classes with fewer than {min_treated} firms"] = n_drop
        if small == ["other"]:
            msgs.append(
                f"the pooled class 'other' has {n_drop} treated firm(s), fewer than {min_treated}, "
                "and is left out of the subgroups"
            )
        else:
            msgs.append(
                f"{len(small)} class(es) with fewer than {min_treated} treated firms left out of the "
                f"subgroups ({n_drop} firm(s)): {', '.join(small[:12])}"
            )
    if others is not None:
        known_o = others.dropna().astype(str)
        fill = "other" if "other" in order else None
        extra = known_o.where(known_o.isin(order), fill).reindex(others.index)
        labels = pd.concat([labels, extra])
    return pd.Series(pd.Categorical(labels, categories=order), index=labels.index), msgs, excl


def _classify_bins(
    values: pd.Series,
    rule: SubgroupRule,
    min_treated: int,
    msgs: list[str],
    excl: dict[str, int],
    others: pd.Series | None = None,
) -> tuple[pd.Series, list[str], dict[str, int]]:
    assert rule.bins is not None
    edges = list(rule.bins)
    labels = list(rule.labels) if rule.labels is not None else bin_labels(edges, rule.units)
    v = values.to_numpy(dtype=float)
    n_t = v.size
    index = values.index
    if others is not None:  # coded with the same edges and merges, never counted
        v = np.concatenate([v, others.to_numpy(dtype=float)])
        index = index.append(others.index)
    inside = np.isfinite(v) & (v >= edges[0]) & (v < edges[-1])
    outside = int((np.isfinite(v[:n_t]) & ~inside[:n_t]).sum())
    if outside:
        excl[f"treated firms with {rule.column} outside the bins"] = outside
        msgs.append(
            f"{outside} treated firm(s) have {rule.column} outside [{edges[0]:g}, {edges[-1]:g}) "
            "and are left out of the subgroups"
        )
    code = np.full(v.size, -1)
    code[inside] = np.searchsorted(edges, v[inside], side="right") - 1
    merged: list[str] = []
    while len(edges) > 2:
        counts = np.bincount(code[:n_t][code[:n_t] >= 0], minlength=len(edges) - 1)
        i = int(np.argmin(counts))
        if counts[i] >= min_treated:
            break
        j = i + 1 if i == 0 else i - 1  # merge with a neighbour
        lo_i, hi_i = min(i, j), max(i, j)
        merged.append(f"{labels[i]} into {labels[j]}")
        new_label = f"{labels[lo_i]} + {labels[hi_i]}" if rule.labels is not None else None
        del edges[hi_i]
        code[code >= hi_i] -= 1
        labels = (
            labels[:lo_i] + [str(new_label)] + labels[hi_i + 1 :]
            if new_label is not None
            else bin_labels(edges, rule.units)
        )
    if merged:
        msgs.append(
            f"classes of {rule.column} with fewer than {min_treated} treated firms merged with a "
            f"neighbour: {'; '.join(merged)}"
        )
    out = np.array([labels[c] if c >= 0 else None for c in code], dtype=object)
    cat = pd.Categorical(out, categories=labels)
    return pd.Series(cat, index=index), msgs, excl
