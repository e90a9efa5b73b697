"""Cohort-wise matching for staggered entry, and the cohort-stacked matched panel.

For each joining cohort g (first membership year), the cohort's firms are matched to firms that are not
(yet) members, on their situation in g - 1: levels of the ``covariates`` in g - 1, growth of the
``trends`` columns from g - 1 - w to g - 1 (``trend_window`` w, e.g. ln_lp growth over g-3..g-1), exact
cells (e.g. sector). Controls for cohort g:

* ``control="never"``: firms that never join;
* ``control="notyet"``: also firms that join later, provided they are not members by g + ``horizon``
  (treat_year > g + horizon). Their rows from their own joining year on are removed from the stack, so a
  control is only followed while untreated.

The cross-sectional core (:func:`clusterimpact.matching.match`) does the matching within each cohort.
The matched panel stacks the cohorts: stack g holds the matched treated and their controls, followed
through event time within ``window``, with the matching weights; DiD estimators take it directly
(unit = ``stack_unit``, cohort = ``stack_cohort``, weights = ``weight``).

With an ``outcome``, ``params["ATT"]`` is the matched DiD: the weighted mean over matched treated of
(mean outcome over event times 0..``window[1]`` - outcome in g - 1) minus the same for their controls.
Its standard error clusters by firm over stacks and treats the matches as fixed (it ignores the
matching step's own uncertainty).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from clusterimpact._cohort import cohort_years
from clusterimpact._validation import as_frame, check_choice, require_columns, resolve_rng
from clusterimpact.balance import balance_table, common_support
from clusterimpact.errors import DataError, EstimationError, EstimationWarning, SpecError
from clusterimpact.matching._prepare import prepare
from clusterimpact.matching.core import run_core
from clusterimpact.matching.options import MatchingOptions
from clusterimpact.matching.result import MatchResult
from clusterimpact.provenance import make_provenance

__all__ = ["match_panel"]

Control = Literal["never", "notyet"]
Design = Literal["trends", "levels"]

#: Matching variables of the two documented designs (FirmPanel column names); see match_panel's Notes.
DESIGNS: dict[str, dict[str, Any]] = {
    "trends": {
        "covariates": ["age"],
        "pre_means": ["ln_emp", "ln_kl"],
        "trends": ["ln_lp"],
        "trend_window": 3,
    },
    "levels": {
        "covariates": ["ln_lp", "ln_emp", "age", "ln_kl"],
        "pre_means": [],
        "trends": ["ln_lp"],
        "trend_window": 2,
    },
}


def match_panel(
    panel: Any,
    covariates: Sequence[str] | None = None,
    *,
    design: Design | None = None,
    cohort: str = "treat_year",
    unit: str = "firm_id",
    time: str = "year",
    trends: Sequence[str] | None = None,
    trend_window: int | None = None,
    pre_means: Sequence[str] | None = None,
    exact: Sequence[str] | str | None = None,
    control: Control = "never",
    horizon: int = 0,
    method: str = "nearest",
    neighbors: int = 1,
    replace: bool | None = None,
    caliper: float | None = None,
    distance: str | None = None,
    link: str = "logit",
    metric: str = "inverse-variance",
    cutpoints: dict[str, Any] | None = None,
    outcome: str | None = None,
    window: tuple[int, int] | None = (-5, 5),
    cohorts: Sequence[int] | None = None,
    discard: str = "none",
    order: str = "largest",
    seed: int | np.random.Generator | None = None,
    source: str = "panel",
) -> MatchResult:
    """Match each joining cohort to not-(yet-)members on pre-joining levels and trends.

    The estimand is the ATT of joining (by cohort, pooled with the cohorts' sizes). Identification:
    conditional on the matching variables measured before joining, the matched controls' outcomes
    evolve as the members' would have without joining (conditional parallel trends), plus overlap.

    Parameters
    ----------
    panel
        FirmPanel or DataFrame, one row per ``unit`` x ``time``.
    covariates
        Columns whose level in g - 1 is matched on (e.g. ``["ln_lp", "ln_emp", "age", "ln_kl"]``).
        Give either these (with ``trends`` / ``pre_means`` as wanted) or a ``design``.
    design
        A documented set of matching variables on FirmPanel columns (see Notes):
        ``"trends"`` (recommended when members are selected on persistent firm characteristics):
        age in g - 1, the means of ln_emp and ln_kl over g-4..g-1 and the growth of ln_lp over
        g-4..g-1 (``trend_window=3``); ``"levels"``: ln_lp, ln_emp, age, ln_kl in g - 1 and ln_lp
        growth over g-3..g-1. ``covariates``, ``trends``, ``pre_means`` and ``trend_window`` must
        then be left out.
    cohort, unit, time
        Column names: first membership year (missing or 0 = never), firm id, year.
    trends, trend_window
        Columns whose growth ``x(g-1) - x(g-1-trend_window)`` is matched on too; named
        ``<col>_growth``. Firms without the lagged year are left out (reason ``missing_covariates``).
        ``trend_window`` defaults to 2 (3 with ``design="trends"``).
    pre_means
        Columns whose mean over g-1-trend_window..g-1 (the years observed) is matched on, named
        ``<col>_pre_mean``. Matching a noisy level in g - 1 alone (e.g. ln_lp) picks controls with
        transitory highs that then fall back (regression to the mean biases the DiD upward when members
        are selected on persistent productivity); the pre-period mean is the remedy.
    exact
        Columns matched exactly in g - 1 (e.g. ``"sector"``).
    control, horizon
        Control group: ``"never"`` members, or ``"notyet"`` (treat_year > g + horizon, or never).
    method, neighbors, replace, caliper, distance, link, metric, cutpoints, discard, order, seed
        As in :func:`clusterimpact.matching.match` (estimand ATT).
    outcome
        Optional outcome for the matched DiD summary ``params["ATT"]``.
    window
        Event times (relative to g) kept in the stacked panel; None keeps every year.
    cohorts
        Cohorts to match (default: every cohort with a row in g - 1).
    source
        Label of the data (e.g. its file name) used in error messages.

    Returns
    -------
    MatchResult
        ``matched_panel`` is the cohort-stacked panel; ``balance`` has a ``stack`` column (cohort;
        <NA> rows pool all cohorts with the matching weights); ``pairs``, ``propensity`` and
        ``unmatched`` carry ``stack`` too.

    Notes
    -----
    *Which variables to match on* depends on how members were selected (Chabe-Ferret 2015; Daw &
    Hatfield 2018). If they are selected on **persistent** characteristics (productivity level,
    scale, capital intensity: the firm fixed effects), unconditional DiD is already unbiased and
    matching on pre-joining outcome **levels** harms it: members with a high permanent level are
    paired with controls whose level in g - 1 is as high only because of a transitory shock; the
    shock fades after g - 1 (regression to the mean), the controls fall back, and the matched DiD is
    biased **upward**. Any level in g - 1 with a transitory part does the same in its own direction
    (ln_emp carries an AR(1) wage shock; matching on size and age alone leaves about -0.007). On
    the synthetic ``ecoom``
    panel (selection on fixed types, AR(1) transitory productivity with rho = 0.8) the members'
    matched controls under ``design="levels"`` have a 0.04 higher transitory productivity in g - 1
    than the members and the matched DiD on ln_lp is about 0.02-0.03 (2.3-3.7 SE) above the truth
    (about 0.017), on every seed tried.

    ``design="trends"`` matches on what the fixed effects do not confound: age, multi-year means of
    size and capital intensity (the transitory parts average out) and the pre-joining **trend** of
    the outcome over three years (which DiD needs to be parallel; a two-year trend is dominated by
    the iid shock in g - 1 and over-corrects on ``declining``). It needs a firm row in g - 4, so
    members with fewer pre-years are left unmatched (``missing_covariates``; about 7 % of members
    on the synthetic panel). Matched DiD on ln_lp minus the truth on the matched members (SE about
    0.008; 15,000 firms, seeds 1, 2, 3; exact on sector, 0.2-SD caliper):

    ==========================  ========================  ========================
    scenario (truth)            ``design="trends"``       ``design="levels"``
    ==========================  ========================  ========================
    ``ecoom`` (~0.017)          +0.006, +0.007, +0.009    +0.030, +0.021, +0.018
    ``null`` (0)                +0.006, +0.008, +0.009    +0.030, +0.021, +0.018
    ``declining`` (0)           -0.006, -0.009, -0.015    -0.030, -0.023, -0.037
    ==========================  ========================  ========================

    On ``declining`` (selection on a transitory decline in TFP) matching on size and age alone leaves
    +0.029..+0.036 (the unconditional DiD's spurious effect); the trends design removes most of it
    and leaves a small over-correction (the ln_lp trend carries iid noise the members' decline does
    not). If selection is on the outcome level itself, matching on levels is the right tool; the
    event-time pre-trends of the matched panel help tell the cases apart.
    """
    df = as_frame(panel)
    check_choice("control", control, ("never", "notyet"))
    if design is not None:
        check_choice("design", design, tuple(DESIGNS))
        given = [
            name
            for name, v in (
                ("covariates", covariates),
                ("trends", trends),
                ("pre_means", pre_means),
                ("trend_window", trend_window),
            )
            if v is not None
        ]
        if given:
            raise SpecError(
                f"design={design!r} sets the matching variables; leave out {', '.join(given)} "
                "(or give them without a design)"
            )
        preset = DESIGNS[design]
        covariates = list(preset["covariates"])
        trends = list(preset["trends"])
        pre_means = list(preset["pre_means"])
        trend_window = int(preset["trend_window"])
    elif covariates is None:
        raise SpecError("give the matching covariates (covariates=[...]) or a design")
    if trend_window is None:
        trend_window = 2
    trends = list(trends or [])
    pre_means = list(pre_means or [])
    exact_cols = [exact] if isinstance(exact, str) else list(exact or [])
    require_columns(df, [unit, time, cohort], source=source, what="panel keys")
    require_columns(
        df, list(covariates) + trends + pre_means, source=source, what="matching covariates"
    )
    require_columns(df, exact_cols, source=source, what="exact-matching columns")
    if outcome is not None:
        require_columns(df, [outcome], source=source, what="outcome")
    if int(trend_window) != trend_window or trend_window < 1:
        raise SpecError(f"trend_window must be a positive integer, got {trend_window!r}")
    if int(horizon) != horizon or horizon < 0:
        raise SpecError(f"horizon must be a non-negative integer, got {horizon!r}")
    if window is not None and (len(window) != 2 or window[0] > -1 or window[1] < 0):
        raise SpecError(
            f"window must be (first, last) event times with first <= -1 <= 0 <= last, got {window!r}"
        )
    opts = MatchingOptions(
        method=method,
        estimand="att",
        neighbors=neighbors,
        replace=replace,
        caliper=caliper,
        distance=distance,
        link=link,
        metric=metric,
        discard=discard,
        order=order,
    )
    args = opts.recorded()
    rng = resolve_rng(seed)
    dup = df.duplicated([unit, time])
    if dup.any():
        raise DataError(
            f"duplicate {unit} x {time} rows; the panel must have one row per firm and year",
            source=source,
            rows=list(df.index[dup.to_numpy()]),
        )
    gvals = cohort_years(df[cohort], column=cohort, source=source, never=np.inf)
    years = pd.to_numeric(df[time], errors="coerce").to_numpy(float)

    if np.isnan(years).any():
        raise DataError(
            "missing or non-numeric years",
            source=source,
            column=time,
            rows=list(df.index[np.isnan(years)]),
        )

    # integer (unit, year) keys: lags by hashing int64 instead of merging strings
    ucode, uniq_units = pd.factorize(df[unit])
    y0 = int(years.min())
    key = ucode.astype(np.int64) * 10_000 + (years - y0).astype(np.int64)
    kidx = pd.Index(key)

    def lagged(columns: list[str], k: int) -> np.ndarray:
        pos = kidx.get_indexer(pd.Index(key - k))
        vals = df[columns].to_numpy(dtype=float, na_value=np.nan)[np.maximum(pos, 0)]
        vals[pos < 0] = np.nan
        return vals

    # matching variables in g-1, with growth over the trend window
    cols = list(dict.fromkeys([*covariates, *trends, *exact_cols]))
    base = df[[unit, time, *cols]].copy()
    base["_g"] = gvals
    base["_row"] = np.arange(len(df))
    # exact cells as integer codes once (string columns are slow to group per cohort); missing stays NaN
    exact_codes = []
    for c in exact_cols:
        codes, _ = pd.factorize(df[c], sort=True)
        name = f"_exact_{c}"
        base[name] = np.where(codes < 0, np.nan, codes.astype(float))
        exact_codes.append(name)
    growth_names = [f"{c}_growth" for c in trends]
    if trends:
        now = df[trends].to_numpy(dtype=float, na_value=np.nan)
        past = lagged(trends, trend_window)
        for j, name in enumerate(growth_names):
            base[name] = now[:, j] - past[:, j]
    mean_names = [f"{c}_pre_mean" for c in pre_means]
    if pre_means:
        stack_vals = np.stack([lagged(pre_means, k) for k in range(trend_window + 1)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows stay NaN
            means = np.nanmean(stack_vals, axis=0)
        for j, name in enumerate(mean_names):
            base[name] = means[:, j]
    match_cols = list(dict.fromkeys([*covariates, *growth_names, *mean_names]))

    finite_g = np.unique(gvals[np.isfinite(gvals)])
    if cohorts is not None:
        wanted = np.asarray(list(cohorts), float)
        missing = [int(c) for c in wanted if c not in finite_g]
        if missing:
            raise SpecError(f"cohort(s) {missing} have no firms in column '{cohort}'")
        finite_g = wanted
    if len(finite_g) == 0:
        raise EstimationError(f"no joining cohort in column '{cohort}' (all firms never join)")

    unit_first_g = pd.Series(gvals, index=df[unit]).groupby(level=0).first()
    stacks: list[dict[str, Any]] = []
    unmatched_rows: list[dict[str, Any]] = []
    msgs: list[str] = []
    for g in finite_g:
        g_int = int(g)
        at = base[years[base["_row"].to_numpy()] == g - 1]
        is_t = at["_g"].to_numpy() == g
        if control == "never":
            is_c = ~np.isfinite(at["_g"].to_numpy())
        else:
            is_c = at["_g"].to_numpy() > g + horizon
        cs = at[is_t | is_c].copy()
        cs["_treated"] = is_t[is_t | is_c].astype(int)
        cs.index = pd.Index(cs[unit].to_numpy(), name=unit)
        # cohort members without a row in g-1
        members = unit_first_g.index[unit_first_g.to_numpy() == g]
        no_pre = members.difference(cs.index[cs["_treated"].to_numpy() == 1])
        for u in no_pre:
            unmatched_rows.append(
                {"stack": g_int, "unit": u, "treated": 1, "reason": "no_pre_year_observation"}
            )
        n_t = int(cs["_treated"].sum())
        n_c = int(len(cs) - n_t)
        if n_t == 0:
            msgs.append(f"cohort {g_int}: no member observed in {g_int - 1}; cohort skipped")
            continue
        if n_c == 0:
            msgs.append(
                f"cohort {g_int}: no eligible control observed in {g_int - 1}; cohort skipped"
            )
            for u in cs.index:
                unmatched_rows.append(
                    {"stack": g_int, "unit": u, "treated": 1, "reason": "no_control_in_cohort"}
                )
            continue
        p = prepare(
            cs, "_treated", match_cols, None, exact_codes, None, source=f"{source} (cohort {g_int})"
        )
        for lab, reason, dv in p.dropped:
            if dv == 1:
                unmatched_rows.append({"stack": g_int, "unit": lab, "treated": 1, "reason": reason})
        if (p.d == 1).sum() == 0 or (p.d == 0).sum() == 0:
            msgs.append(
                f"cohort {g_int}: no complete treated or control rows after missing values; skipped"
            )
            continue
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                core = run_core(p, opts, bias_adjust=False, cutpoints=cutpoints, rng=rng)
            # the propensity model's warnings (quasi-separation) name the cohort they concern
            for w in caught:
                if issubclass(w.category, EstimationWarning):
                    msgs.append(f"cohort {g_int}: {w.message}")
                else:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        except EstimationError as exc:
            msgs.append(f"cohort {g_int}: {exc}; cohort skipped")
            for lab in p.frame.index[p.d == 1]:
                unmatched_rows.append(
                    {"stack": g_int, "unit": lab, "treated": 1, "reason": "matching_failed"}
                )
            continue
        labels = p.frame.index
        for i, reason in core.unmatched:
            if p.d[i] == 1:
                unmatched_rows.append(
                    {"stack": g_int, "unit": labels[i], "treated": 1, "reason": reason}
                )
        stacks.append({"g": g_int, "p": p, "core": core})
    if not stacks:
        raise EstimationError("no cohort could be matched: " + "; ".join(msgs))

    # -- assemble per-cohort pieces ----------------------------------------------------------------
    bal_parts: list[pd.DataFrame] = []
    bal_pool_before: list[pd.DataFrame] = []
    pair_parts, ps_parts, matched_parts, weight_parts = [], [], [], []
    for st in stacks:
        g, p, core = st["g"], st["p"], st["core"]
        labels = p.frame.index
        w = core.weights
        X = p.X.copy()
        X["_d"] = p.d
        X["stack"] = g
        X["_w"] = w
        u = core.used
        b = balance_table(X[u], "_d", match_cols, estimand="att")
        a = balance_table(X[u], "_d", match_cols, weights=w[u], estimand="att")
        bal_parts += [b.assign(stage="before", stack=g), a.assign(stage="after", stack=g)]
        bal_pool_before.append(X[u])
        if len(core.focal):
            nm = np.bincount(core.focal, minlength=len(w)).astype(float)
            pair_parts.append(
                pd.DataFrame(
                    {
                        "stack": g,
                        "focal": labels[core.focal],
                        "match": labels[core.match],
                        "focal_treated": True,
                        "distance": core.dist,
                        "weight": 1.0 / nm[core.focal],
                    }
                )
            )
        if core.ps is not None:
            ps_parts.append(
                pd.DataFrame(
                    {
                        "stack": g,
                        unit: labels,
                        "score": core.ps.score,
                        "index": core.ps.index,
                        "treated": p.d.astype(int),
                        "matched": w > 0,
                        "weight": w,
                    }
                )
            )
        m = p.frame[w > 0].copy()
        m = m.drop(columns=[c for c in m.columns if c.startswith("_")])
        m.insert(0, "stack", g)
        m["treated"] = p.d[w > 0].astype(int)
        m["weight"] = w[w > 0]
        if core.subclass is not None:
            m["subclass"] = core.subclass[w > 0]
        matched_parts.append(m.reset_index(drop=True))
        weight_parts.append(
            pd.DataFrame({"stack": g, unit: labels, "treated": p.d.astype(int), "weight": w})
        )
    pooled = pd.concat(bal_pool_before, ignore_index=True)
    # pooled balance: each cohort standardised by its own SD would differ; pool with the pooled SDs
    pb = balance_table(pooled, "_d", match_cols, estimand="att")
    pa = balance_table(pooled, "_d", match_cols, weights=pooled["_w"].to_numpy(), estimand="att")
    na = pd.array([pd.NA] * len(pb), dtype="Int64")
    bal_parts += [pb.assign(stage="before", stack=na), pa.assign(stage="after", stack=na)]
    balance = pd.concat(bal_parts, ignore_index=True)
    balance["stack"] = balance["stack"].astype("Int64")
    balance = balance[
        ["stage", "stack", *[c for c in balance.columns if c not in ("stage", "stack")]]
    ]
    weights_frame = pd.concat(weight_parts, ignore_index=True)
    matched = pd.concat(matched_parts, ignore_index=True)
    pairs = (
        pd.concat(pair_parts, ignore_index=True)
        if pair_parts
        else pd.DataFrame(
            columns=["stack", "focal", "match", "focal_treated", "distance", "weight"]
        )
    )
    propensity = pd.concat(ps_parts, ignore_index=True) if ps_parts else None
    support = None
    if propensity is not None:
        support = common_support(propensity["score"].to_numpy(), propensity["treated"].to_numpy())

    # -- the stacked panel ------------------------------------------------------------------------
    sel = weights_frame[weights_frame["weight"] > 0]
    sel_code = pd.Index(uniq_units).get_indexer(sel[unit].to_numpy())
    row_order = np.argsort(ucode, kind="stable")
    sorted_codes = ucode[row_order]
    first = np.searchsorted(sorted_codes, sel_code, side="left")
    last = np.searchsorted(sorted_codes, sel_code, side="right")
    cnt = last - first
    which = np.repeat(np.arange(len(sel)), cnt)
    rows = row_order[np.repeat(first - np.cumsum(cnt) + cnt, cnt) + np.arange(cnt.sum())]
    long = df.iloc[rows].reset_index(drop=True)
    for c in ("stack", "treated", "weight"):
        long[c] = sel[c].to_numpy()[which]
    long["_g"] = gvals[rows]
    long["_y"] = years[rows]
    rel = long["_y"].to_numpy() - long["stack"].to_numpy()
    keep = np.ones(len(long), bool)
    if window is not None:
        keep &= (rel >= window[0]) & (rel <= window[1])
    own = long["_g"].to_numpy()
    after_own = (long["treated"].to_numpy() == 0) & (long["_y"].to_numpy() >= own)
    n_after_own = int((keep & after_own).sum())
    keep &= ~after_own
    long = long[keep].copy()
    rel = rel[keep]
    if "rel_year" in long.columns:
        long = long.rename(columns={"rel_year": "rel_year_own"})
    long["rel_year"] = rel.astype(np.int64)
    long["stack_cohort"] = np.where(long["treated"].to_numpy() == 1, long["stack"].to_numpy(), 0)
    long["stack_unit"] = long["stack"].astype(str) + ":" + long[unit].astype(str)
    front = ["stack", "stack_unit", unit, time, "rel_year", "treated", "stack_cohort", "weight"]
    long = long[front + [c for c in long.columns if c not in front and c not in ("_g", "_y")]]
    long = long.sort_values(["stack", "stack_unit", time], kind="mergesort").reset_index(drop=True)
    if n_after_own:
        msgs.append(
            f"{n_after_own} rows of not-yet-member controls from their own joining year on were left "
            "out of the stacked panel"
        )

    # -- optional matched DiD --------------------------------------------------------------------
    params = pd.Series(dtype=float, name="estimate")
    ses = pd.Series(dtype=float, name="std_error")
    if outcome is not None:
        est, se, n_missing = _matched_did(long, outcome, unit, window)
        if np.isfinite(est):
            params = pd.Series([est], index=["ATT"], name="estimate")
            ses = pd.Series([se], index=["ATT"], name="std_error")
        if n_missing:
            msgs.append(
                f"{n_missing} matched firm-stacks lack the outcome in g-1 or after joining and are "
                "left out of the matched DiD"
            )

    unmatched = pd.DataFrame(unmatched_rows, columns=["stack", "unit", "treated", "reason"])
    exclusions = {str(k): int(v) for k, v in unmatched["reason"].value_counts().items()}
    if n_after_own:
        exclusions["notyet_control_rows_after_joining"] = n_after_own
    counts = pd.DataFrame(
        [
            {
                "group": name,
                "n_input": int(weights_frame.loc[weights_frame["treated"] == g, unit].nunique()),
                "n_used": int((weights_frame["treated"] == g).sum()),
                "n_matched": int(
                    ((weights_frame["treated"] == g) & (weights_frame["weight"] > 0)).sum()
                ),
            }
            for name, g in (("treated", 1), ("control", 0))
        ]
    )
    n_unmatched_t = len(unmatched)
    if n_unmatched_t:
        reason_counts = unmatched["reason"].value_counts()
        msgs.append(
            "unmatched members: "
            + ", ".join(f"{k}={v}" for k, v in reason_counts.items())
            + " (listed in result.unmatched)"
        )
    for m_ in msgs:
        warnings.warn(m_, EstimationWarning, stacklevel=2)
    options = {
        "design": design,
        "covariates": list(covariates),
        "pre_means": pre_means,
        "trends": trends,
        "trend_window": int(trend_window),
        "exact": exact_cols,
        "control": control,
        "horizon": int(horizon),
        "method": method,
        "caliper": caliper,
        "cutpoints": cutpoints,
        "outcome": outcome,
        "window": list(window) if window is not None else None,
        "cohort": cohort,
        "unit": unit,
        "time": time,
        "estimand": "att",
        **args,
    }
    weights = weights_frame.set_index(["stack", unit])["weight"]
    return MatchResult(
        params=params,
        std_errors=ses,
        nobs=int(len(long)),
        method=f"panel:{method}",
        provenance=make_provenance(
            f"match_panel:{method}",
            weights_frame,
            seed if isinstance(seed, int) else None,
            **{k: v for k, v in options.items() if k != "method"},
        ),
        warnings=tuple(msgs),
        exclusions=exclusions,
        estimand="att",
        pairs=pairs,
        weights=weights,
        matched=matched,
        balance=balance,
        unmatched=unmatched,
        counts=counts,
        propensity=propensity,
        support=support,
        ps_params=None,
        matched_panel=long,
        options=options,
    )


def _matched_did(
    long: pd.DataFrame, outcome: str, unit: str, window: tuple[int, int] | None
) -> tuple[float, float, int]:
    """Weighted DiD of (mean post outcome - outcome in g-1), treated vs matched controls, firm-clustered SE."""
    y = pd.to_numeric(long[outcome], errors="coerce").to_numpy(float)
    rel = long["rel_year"].to_numpy()
    key = long["stack_unit"].to_numpy()
    frame = pd.DataFrame({"k": key, "rel": rel, "y": y})
    pre = frame[(frame["rel"] == -1)].groupby("k")["y"].first()
    post_mask = frame["rel"] >= 0
    if window is not None:
        post_mask &= frame["rel"] <= window[1]
    post = frame[post_mask].groupby("k")["y"].mean()
    units = long.drop_duplicates("stack_unit").set_index("stack_unit")[
        [unit, "stack", "treated", "weight"]
    ]
    dlt = (post - pre).reindex(units.index)
    ok = dlt.notna().to_numpy()
    n_missing = int((~ok).sum())
    u = units[ok]
    dv = dlt.to_numpy()[ok]
    t = u["treated"].to_numpy() == 1
    w = u["weight"].to_numpy(float)
    if t.sum() == 0 or (~t).sum() == 0:
        return np.nan, np.nan, n_missing
    # renormalise control weights within each stack to the stack's treated count
    stk = u["stack"].to_numpy()
    wt = pd.Series(np.where(t, w, 0.0)).groupby(stk).transform("sum").to_numpy()
    wc_sum = pd.Series(np.where(~t, w, 0.0)).groupby(stk).transform("sum").to_numpy()
    w = np.where(t, w, np.where(wc_sum > 0, w * wt / np.where(wc_sum > 0, wc_sum, 1), 0.0))
    # stacks without any control left get no weight
    has_c = pd.Series(~t).groupby(stk).transform("any").to_numpy()
    w = np.where(has_c, w, 0.0)
    WT, WC = w[t].sum(), w[~t].sum()
    mt = (w[t] * dv[t]).sum() / WT
    mc = (w[~t] * dv[~t]).sum() / WC
    psi = np.where(t, w * (dv - mt) / WT, -w * (dv - mc) / WC)
    firm = u[unit].to_numpy()
    s = pd.Series(psi).groupby(firm).sum().to_numpy()
    G = len(s)
    v = (s**2).sum() * G / max(G - 1, 1)
    return float(mt - mc), float(np.sqrt(v)), n_missing
