"""Statistics behind the descriptive and matching figures, computed here so that plotting only draws.

* :func:`members_vs_sector_series`: yearly statistic of members (staying / new / leaving) and their sector;
* :func:`selection_table`: who joins, pre-joining characteristics as standardized differences;
* :func:`trajectories_series`: mean outcome by event time of members and matched controls, with CIs;
* :func:`truth_fit`: which confidence intervals cover the known truth, and the RMSE (synthetic data);
* :func:`overlap_density`: density histograms of the propensity score of treated and controls
  (logit or score scale).

Each returns a tidy frame (or arrays) that the matching ``plot_*`` function in
:mod:`clusterimpact.plotting` draws; the figures accept these precomputed inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from scipy import stats

from clusterimpact._cohort import cohort_years
from clusterimpact._validation import as_frame, check_choice, require_columns
from clusterimpact.balance import pooled_sd, standardized_difference
from clusterimpact.errors import DataError, SpecError

__all__ = [
    "GROUPS",
    "SELECTION_VARS",
    "OverlapDensity",
    "OverlapScale",
    "cohort_mean_smd",
    "truth_fit",
    "SectorStat",
    "SectorVar",
    "members_vs_sector_series",
    "overlap_density",
    "overlap_histograms",
    "overlap_inputs",
    "selection_table",
    "stacked_sample",
    "trajectories_series",
]

SectorVar = Literal["va_per_fte", "emp", "va"]
SectorStat = Literal["median", "mean", "aggregate"]

#: Groups of :func:`members_vs_sector_series`, in drawing order.
GROUPS = ("sector", "staying", "new", "leaving")


def members_vs_sector_series(
    panel: Any,
    var: SectorVar = "va_per_fte",
    *,
    stat: SectorStat = "median",
    min_firms: int = 1,
    index_year: int | None = None,
) -> pd.DataFrame:
    """Yearly statistic of ``var`` for members (staying / new / leaving) and their sector.

    The Flemish cluster monitoring's view: in each year ``t``, member firms are split by their status
    change from ``t-1`` to ``t``:

    - **staying**: member in ``t-1`` and in ``t``;
    - **new**: member in ``t`` but not in ``t-1`` (the join year; a firm first observed in ``t`` counts
      as new when ``member_years == 1``, else as staying);
    - **leaving**: member in ``t-1``, observed in ``t`` and no longer a member (the first year after
      exit);
    - **sector**: never-members in the 2-digit sectors (``sector``) where any member is observed in ``t``.

    Parameters
    ----------
    panel
        A FirmPanel or a frame with ``firm_id, year, sector, member, member_years, ever_member`` and
        ``va`` / ``emp``.
    var
        ``"va_per_fte"`` (``va / emp``), ``"emp"`` or ``"va"``.
    stat
        ``"median"`` (default; robust to the skewed size distribution), ``"mean"`` over firms, or
        ``"aggregate"`` (ratio of sums ``Σva / Σemp`` for ``va_per_fte``; mean for the others).
    min_firms
        Cells with fewer firms are reported with ``value`` NaN (confidentiality / noise).
    index_year
        Report each group's series as an index, ``100 * value / value[index_year]`` (the monitoring's
        growth view); a group without a value in that year is all NaN.

    Returns
    -------
    DataFrame
        Tidy: ``year, group, value, n_firms`` with ``group`` in :data:`GROUPS`, sorted by group order
        then year. Rows with non-positive or missing ``emp`` (for ``va_per_fte``) or missing ``var`` are
        left out of the statistic.

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.descriptive import members_vs_sector_series
    >>> series = members_vs_sector_series(example_panel(), "va_per_fte")
    >>> sorted(series["group"].unique())
    ['leaving', 'new', 'sector', 'staying']
    """
    check_choice("var", var, ("va_per_fte", "emp", "va"))
    check_choice("stat", stat, ("median", "mean", "aggregate"))
    df = as_frame(panel)
    need = ["firm_id", "year", "sector", "member", "member_years", "ever_member"]
    need += ["va", "emp"] if var == "va_per_fte" else [var]
    require_columns(df, need, what="members vs sector")
    d = df[need].copy()
    d["member"] = d["member"].astype(int)
    d["ever_member"] = d["ever_member"].astype(bool)
    d = d.sort_values(["firm_id", "year"], kind="mergesort")
    prev = d[["firm_id", "year", "member"]].copy()
    prev["year"] = prev["year"] + 1
    prev = prev.rename(columns={"member": "member_prev"})
    d = d.merge(prev, on=["firm_id", "year"], how="left")
    had_prev = d["member_prev"].notna()
    mprev = d["member_prev"].fillna(0).astype(int)
    group = pd.Series(pd.NA, index=d.index, dtype="object")
    is_m = d["member"] == 1
    first_obs_new = ~had_prev & (d["member_years"].astype(float) <= 1)
    group[is_m & (mprev == 1)] = "staying"
    group[is_m & ~had_prev & ~first_obs_new] = "staying"
    group[is_m & (mprev == 0) & had_prev] = "new"
    group[is_m & first_obs_new] = "new"
    group[~is_m & (mprev == 1) & had_prev] = "leaving"
    member_sectors = d.loc[is_m, ["year", "sector"]].drop_duplicates()
    member_sectors["_in"] = True
    d = d.merge(member_sectors, on=["year", "sector"], how="left")
    group = group.reindex(d.index)
    group[~d["ever_member"] & d["_in"].fillna(False).astype(bool)] = "sector"
    d["group"] = group
    d = d[d["group"].notna()].copy()

    if var == "va_per_fte":
        ok = d["emp"].astype(float) > 0
        d = d[ok & d["va"].notna()].copy()
        d["value"] = d["va"].astype(float) / d["emp"].astype(float)
    else:
        d = d[d[var].notna()].copy()
        d["value"] = d[var].astype(float)

    g = d.groupby(["group", "year"], sort=True)
    if stat == "median":
        val = g["value"].median()
    elif stat == "mean" or var != "va_per_fte":
        val = g["value"].mean()
    else:
        sums = g[["va", "emp"]].sum()
        val = sums["va"].astype(float) / sums["emp"].astype(float)
    n = g["firm_id"].nunique()
    out = pd.DataFrame({"value": val.astype(float), "n_firms": n.astype("int64")}).reset_index()
    out.loc[out["n_firms"] < min_firms, "value"] = np.nan
    out["year"] = out["year"].astype("int64")
    if index_year is not None:
        if int(index_year) not in set(out["year"]):
            raise DataError(
                f"index_year={index_year} is not among the series' years "
                f"({int(out['year'].min())}-{int(out['year'].max())})",
                column="year",
            )
        base = out[out["year"] == int(index_year)].set_index("group")["value"]
        out["value"] = 100.0 * out["value"] / out["group"].map(base).astype(float)
    out["group"] = out["group"].astype(str)
    order = {g_: i for i, g_ in enumerate(GROUPS)}
    out["_o"] = out["group"].map(order)
    out = out.sort_values(["_o", "year"], kind="mergesort").drop(columns="_o")
    return out[["year", "group", "value", "n_firms"]].reset_index(drop=True)


# -- selection ---------------------------------------------------------------------------------------

#: Pre-joining characteristics shown by :func:`plot_selection`: column → label.
SELECTION_VARS: dict[str, str] = {
    "ln_emp": "Size (ln FTE)",
    "age": "Age (years)",
    "ln_kl": "Capital intensity (ln K/L)",
    "ln_lp": "Productivity level (ln VA/FTE)",
    "lp_trend": "Productivity trend (Δ ln VA/FTE p.a.)",
}


def selection_table(
    panel: Any,
    *,
    variables: dict[str, str] | None = None,
    trend_years: int = 2,
    weighting: Literal["cohort", "none"] = "cohort",
) -> pd.DataFrame:
    """Pre-joining characteristics of members against never-members, as standardized differences.

    Members are measured in the year before they join (``treat_year - 1``). Never-members are measured
    in the same calendar years, weighted so that each year counts as much as its cohort of joiners
    (cohort ``g`` has ``n_g`` members → never-member rows in ``g - 1`` get weight ``n_g / N_{g-1}``);
    ``weighting="none"`` pools those never-member rows unweighted.
    ``lp_trend`` is ``(ln_lp_t - ln_lp_{t-k}) / k`` with ``k = trend_years``.

    Returns
    -------
    DataFrame
        ``variable, label, mean_members, mean_nonmembers, sd_members, sd_nonmembers, smd, n_members,
        n_nonmembers``; ``smd = (mean_m - mean_n) / sqrt((sd_m² + sd_n²) / 2)``
        (:func:`clusterimpact.balance.standardized_difference` with the pooled SD).

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.descriptive import selection_table
    >>> table = selection_table(example_panel())
    >>> list(table.columns[:4])
    ['variable', 'label', 'mean_members', 'mean_nonmembers']
    >>> bool(table.set_index("variable").loc["ln_emp", "smd"] > 0)  # members are larger before joining
    True
    """
    check_choice("weighting", weighting, ("cohort", "none"))
    variables = dict(SELECTION_VARS if variables is None else variables)
    df = as_frame(panel)
    base = ["firm_id", "year", "treat_year", "ever_member"]
    cols = [c for c in variables if c != "lp_trend"]
    need = base + cols + (["ln_lp"] if "lp_trend" in variables else [])
    require_columns(df, list(dict.fromkeys(need)), what="selection figure")
    d = df[list(dict.fromkeys(need))].copy()
    d["_g"] = cohort_years(d["treat_year"], column="treat_year", never=np.nan)
    if "lp_trend" in variables:
        lag = d[["firm_id", "year", "ln_lp"]].copy()
        lag["year"] = lag["year"] + trend_years
        lag = lag.rename(columns={"ln_lp": "_lp_lag"})
        d = d.merge(lag, on=["firm_id", "year"], how="left")
        d["lp_trend"] = (d["ln_lp"].astype(float) - d["_lp_lag"].astype(float)) / trend_years
    ty = d["_g"]
    members = d[ty.notna() & (d["year"].astype(float) == ty - 1)]
    if members.empty:
        raise DataError(
            "no member is observed in the year before joining (treat_year - 1); the selection "
            "figure needs pre-joining rows",
            column="treat_year",
        )
    cohort_n = members.groupby("year")["firm_id"].nunique()
    never = d[~d["ever_member"].astype(bool) & d["year"].isin(cohort_n.index)].copy()
    if never.empty:
        raise DataError(
            "no never-member is observed in the pre-joining years of the members",
            column="ever_member",
        )
    per_year = never.groupby("year")["firm_id"].transform("size").astype(float)
    never["_w"] = (
        never["year"].map(cohort_n).astype(float) / per_year if weighting == "cohort" else 1.0
    )
    rows = []
    for var, label in variables.items():
        m = members[var].astype(float).dropna()
        nv = never[[var, "_w"]].dropna()
        x, w = nv[var].astype(float).to_numpy(), nv["_w"].to_numpy()
        mm, sm = float(m.mean()), float(m.std(ddof=1)) if len(m) > 1 else np.nan
        if w.sum() > 0:
            mn = float(np.average(x, weights=w))
            sn = float(np.sqrt(np.average((x - mn) ** 2, weights=w)))
        else:
            mn = sn = np.nan
        smd = standardized_difference(mm - mn, float(pooled_sd(sm, sn)))
        rows.append(
            {
                "variable": var,
                "label": label,
                "mean_members": mm,
                "mean_nonmembers": mn,
                "sd_members": sm,
                "sd_nonmembers": sn,
                "smd": smd,
                "n_members": int(len(m)),
                "n_nonmembers": int(len(x)),
            }
        )
    return pd.DataFrame(rows)


# -- trajectories ------------------------------------------------------------------------------------


def stacked_sample(data: Any, weight: str | None) -> tuple[pd.DataFrame, str | None]:
    """A MatchResult's matched panel (with its ``weight`` column by default) or the frame itself.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> matched = ci.match_panel(example_panel(), design="trends", control="notyet", replace=True,
    ...                          outcome="ln_lp", seed=1)
    >>> from clusterimpact.descriptive import stacked_sample
    >>> sample, weight = stacked_sample(matched, None)
    >>> weight, len(sample) == len(matched.matched_panel)
    ('weight', True)
    """
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

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> matched = ci.match_panel(example_panel(), design="trends", control="notyet", replace=True,
    ...                          outcome="ln_lp", seed=1)
    >>> from clusterimpact.descriptive import trajectories_series
    >>> series = trajectories_series(matched, outcome="ln_lp")
    >>> list(series.columns[:3]), sorted(series["group"].unique())
    (['event', 'group', 'mean'], ['controls', 'members'])
    """
    df, weight = stacked_sample(data, weight)
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


# -- propensity-score overlap --------------------------------------------------------------------------


def overlap_inputs(pscores: Any, treated: Any) -> tuple[np.ndarray, np.ndarray]:
    """Scores and 0/1 treatment indicators from what :func:`overlap_histograms` accepts.

    ``pscores`` is an array-like with ``treated`` beside it, or (``treated=None``) a frame, or an
    object with a ``propensity`` frame (a MatchResult), holding ``pscore`` (or ``score``) and
    ``treated`` columns.

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.descriptive import overlap_inputs
    >>> frame = pd.DataFrame({"pscore": [0.2, 0.7], "treated": [0, 1]})
    >>> scores, treated = overlap_inputs(frame, None)
    >>> scores.tolist(), treated.tolist()
    ([0.2, 0.7], [0.0, 1.0])
    """
    if treated is None:
        frame = None
        if isinstance(pscores, pd.DataFrame):
            frame = pscores
        else:
            for name in ("propensity", "pscores", "pscore", "propensity_scores"):
                obj = getattr(pscores, name, None)
                if isinstance(obj, pd.DataFrame):
                    frame = obj
                    break
        if frame is None:
            raise SpecError(
                "plot_overlap needs `treated` unless `pscores` is a frame with pscore and treated columns"
            )
        pcol = next(
            (c for c in ("pscore", "score", "propensity", "ps") if c in frame.columns), None
        )
        tcol = next((c for c in ("treated", "treat", "d") if c in frame.columns), None)
        if pcol is None or tcol is None:
            raise SpecError(
                "propensity-score frame needs a 'pscore' and a 'treated' column "
                f"(have {', '.join(map(str, frame.columns))})"
            )
        return frame[pcol].to_numpy(dtype=float), frame[tcol].to_numpy(dtype=float)
    p = np.asarray(pscores, dtype=float)
    t = np.asarray(treated, dtype=float)
    if p.shape != t.shape:
        raise SpecError(f"pscores and treated differ in length ({p.shape[0]} vs {t.shape[0]})")
    return p, t


OverlapScale = Literal["logit", "score"]


@dataclass(frozen=True)
class OverlapDensity:
    """Density histograms of the propensity score of treated and controls, on one set of bins.

    Attributes
    ----------
    edges
        Bin edges: scores on ``[0, 1]`` (``scale="score"``) or logits ``ln(p / (1 − p))``
        (``scale="logit"``) spanning the bulk of both groups (see :func:`overlap_density`).
    treated, control
        Density of each group over the bins (each integrates to 1).
    n_treated, n_control
        Units with a finite score in each group.
    n_clamped
        Scores beyond the drawn logit range (the far tails, and scores of exactly 0 or 1), counted
        in the outermost bins.
    n_missing
        Rows without a finite score or treatment indicator, left out.
    scale
        ``"logit"`` or ``"score"``.

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.descriptive import overlap_density
    >>> dens = overlap_density(np.array([0.0, 0.2, 0.5, 0.9]), [0, 0, 1, 1])  # logit scale
    >>> dens.scale, dens.n_clamped  # a score of exactly 0 has an infinite logit: clamped
    ('logit', 1)
    """

    edges: np.ndarray
    treated: np.ndarray
    control: np.ndarray
    n_treated: int
    n_control: int
    n_clamped: int
    n_missing: int
    scale: OverlapScale


def overlap_density(
    pscores: Any,
    treated: Any = None,
    *,
    bins: int = 30,
    scale: OverlapScale = "logit",
    tail: float = 0.025,
) -> OverlapDensity:
    """Density histograms of the propensity score by group, on the logit or the score scale.

    Parameters
    ----------
    pscores, treated
        Scores with 0/1 indicators, a frame with ``pscore`` and ``treated`` columns, or a
        MatchResult (its ``propensity``); see :func:`overlap_inputs`.
    bins
        Number of equal-width bins.
    scale
        ``"logit"`` (default): bins of equal width in ``ln(p / (1 − p))`` over the observed range,
        which spreads out the mass that a score scale piles into the first bin when few firms join;
        ``"score"``: bins of equal width on ``[0, 1]``.
    tail
        Logit scale: the range drawn runs from the lowest to the highest ``tail`` quantile of
        either group, widened by a tenth on each side (within the observed range), so that a far
        tail of near-zero scores (quasi-separation) does not squeeze the bulk into a few bins;
        scores beyond it are counted in the outermost bins (``n_clamped``). 0 draws the full range.

    Returns
    -------
    OverlapDensity

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.descriptive import overlap_density
    >>> scores = np.array([0.1, 0.2, 0.2, 0.6, 0.7, 0.9])
    >>> dens = overlap_density(scores, [0, 0, 0, 1, 1, 1], bins=5, scale="score")
    >>> dens.edges.round(2).tolist(), dens.n_treated, dens.n_control
    ([0.0, 0.2, 0.4, 0.6, 0.8, 1.0], 3, 3)
    """
    check_choice("scale", scale, ("logit", "score"))
    p, t = overlap_inputs(pscores, treated)
    ok = np.isfinite(p) & np.isfinite(t)
    n_missing = int((~ok).sum())
    p, t = p[ok], t[ok]
    if not 0.0 <= tail < 0.5:
        raise SpecError(f"tail must be in [0, 0.5), got {tail!r}")
    outside = (p < 0) | (p > 1)
    if outside.any():
        raise DataError(
            f"propensity scores must lie in [0, 1]; {int(outside.sum())} do not "
            f"(first positions {np.flatnonzero(outside)[:5].tolist()})",
            column="pscore",
        )
    n_clamped = 0
    if scale == "score":
        edges = np.linspace(0.0, 1.0, bins + 1)
        x = p
    else:
        with np.errstate(divide="ignore"):
            x = np.log(p) - np.log1p(-p)
        lo, hi = _logit_range(x, t, tail)
        n_clamped = int(((x < lo) | (x > hi)).sum())
        x = np.clip(x, lo, hi)
        edges = np.linspace(lo, hi, bins + 1)
    ht, _ = np.histogram(x[t == 1], bins=edges, density=True)
    hc, _ = np.histogram(x[t == 0], bins=edges, density=True)
    return OverlapDensity(
        edges=edges,
        treated=ht,
        control=hc,
        n_treated=int((t == 1).sum()),
        n_control=int((t == 0).sum()),
        n_clamped=n_clamped,
        n_missing=n_missing,
        scale=scale,
    )


def _logit_range(x: np.ndarray, t: np.ndarray, tail: float) -> tuple[float, float]:
    """The drawn logit range: the groups' ``tail`` quantiles, widened by a tenth, within the data."""
    finite = np.isfinite(x)
    if not finite.any():
        return -1.0, 1.0
    xmin, xmax = float(x[finite].min()), float(x[finite].max())
    groups = [x[finite & (t == g)] for g in (0, 1)]
    lo_q = min(float(np.quantile(v, tail)) for v in groups if len(v))
    hi_q = max(float(np.quantile(v, 1 - tail)) for v in groups if len(v))
    pad = 0.1 * (hi_q - lo_q)
    lo, hi = max(xmin, lo_q - pad), min(xmax, hi_q + pad)
    return (lo - 0.5, hi + 0.5) if hi <= lo else (lo, hi)


def overlap_histograms(
    pscores: Any,
    treated: Any = None,
    *,
    bins: int = 30,
    scale: OverlapScale = "logit",
    tail: float = 0.025,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin edges and the treated / control density histograms that
    :func:`~clusterimpact.plotting.plot_overlap` draws (see :func:`overlap_density`).

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.descriptive import overlap_histograms
    >>> scores = np.array([0.1, 0.2, 0.2, 0.6, 0.7, 0.9])
    >>> edges, treated, control = overlap_histograms(scores, [0, 0, 0, 1, 1, 1], bins=5, scale="score")
    >>> # bin edges on [0, 1], and each group's density (area 1)
    >>> edges.round(2).tolist(), float(treated.sum() * 0.2), float(control.sum() * 0.2)
    ([0.0, 0.2, 0.4, 0.6, 0.8, 1.0], 1.0, 1.0)
    """
    d = overlap_density(pscores, treated, bins=bins, scale=scale, tail=tail)
    return d.edges, d.treated, d.control


# -- balance summaries -----------------------------------------------------------------------------------


def cohort_mean_smd(long: pd.DataFrame) -> pd.DataFrame:
    """Mean SMD over cohorts per covariate and stage, for a balance table without a pooled row.

    Parameters
    ----------
    long
        Long balance rows ``covariate, stage, smd`` (one per cohort), as
        :func:`clusterimpact.plotting.balance_long` returns them.

    Returns
    -------
    DataFrame
        ``covariate, stage, smd`` in first-appearance order.

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.descriptive import cohort_mean_smd
    >>> long = pd.DataFrame({"covariate": ["age", "age", "age", "age"],
    ...                      "stage": ["before", "before", "after", "after"],
    ...                      "smd": [0.4, 0.2, 0.1, -0.1]})
    >>> cohort_mean_smd(long)
      covariate   stage  smd
    0       age  before  0.3
    1       age   after  0.0
    """
    return long.groupby(["covariate", "stage"], sort=False)["smd"].mean().reset_index()


# -- estimates against a known truth ---------------------------------------------------------------


def truth_fit(
    estimate: np.ndarray, truth: np.ndarray, conf_low: np.ndarray, conf_high: np.ndarray
) -> tuple[np.ndarray, float]:
    """Which intervals cover the true value, and the root-mean-square error of the estimates.

    Parameters
    ----------
    estimate, truth, conf_low, conf_high
        One entry per term, on the same scale.

    Returns
    -------
    tuple
        ``covers`` (bool per term: ``conf_low <= truth <= conf_high``) and
        ``rmse = sqrt(mean((estimate - truth)^2))``.

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.descriptive import truth_fit
    >>> covers, rmse = truth_fit(np.array([0.1, 0.2]), np.array([0.12, 0.5]),
    ...                          np.array([0.0, 0.1]), np.array([0.2, 0.3]))
    >>> covers.tolist(), round(rmse, 4)
    ([True, False], 0.2126)
    """
    est, tru = np.asarray(estimate, dtype=float), np.asarray(truth, dtype=float)
    covers = (np.asarray(conf_low, dtype=float) <= tru) & (
        tru <= np.asarray(conf_high, dtype=float)
    )
    return covers, float(np.sqrt(np.mean((est - tru) ** 2)))
