"""Report steps ``matching`` (cohort-wise matching in the year before joining: balance, overlap and
trajectories) and ``matched_did`` (members vs their matched controls, on every outcome)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from clusterimpact.estimation.matched import matched_did
from clusterimpact.labels import label as var_label
from clusterimpact.labels import matching_window
from clusterimpact.matching import match_panel
from clusterimpact.plotting import plot_love, plot_overlap, plot_trajectories
from clusterimpact.report._common import (
    control,
    frame,
    headline,
    label,
    outcomes,
    plot,
    regression_table_artifact,
)
from clusterimpact.report._study import Skipped, Study
from clusterimpact.units import is_log_outcome

__all__ = ["balance_wide", "step_matched_did", "step_matching"]


def step_matching(study: Study) -> str:
    """Cohort-wise matching in the year before joining; balance, overlap and trajectories."""
    m = study.spec.matching
    est = study.spec.estimation
    df = frame(study)
    y = headline(study)
    res = match_panel(
        df,
        **m.variables(),
        exact=list(m.exact),
        control=control(study),
        method=m.method,
        neighbors=m.neighbors,
        caliper=m.caliper,
        replace=m.replace,
        outcome=y,
        window=est.event_window,
        seed=study.seed,
    )
    study.results["matching"] = res
    study.exclusions["matching"] = {str(k): int(v) for k, v in sorted(res.exclusions.items())}
    window = matching_window(res)
    wide = balance_wide(res.balance)
    wide["covariate"] = [var_label(str(c), window=window) for c in wide["covariate"]]
    pooled = wide[wide["cohort"] == "all"].drop(columns="cohort").rename(columns=_BALANCE_COLUMNS)
    study.add_table(
        "balance",
        "matching",
        "Balance before and after matching (all cohorts pooled)",
        "Members vs controls in the year before joining, pooled over cohorts with the matching "
        "weights: means after matching, standardised mean differences (SMD) before and after, "
        "variance ratio after; |SMD| < 0.1 is the usual threshold. Pre-joining means and growth "
        f"run over the {window + 1} years up to g-1 (g: the joining year).",
        pooled,
    )
    counts = res.counts
    excl = study.exclusions["matching"]
    extra = pd.DataFrame(
        {"group": [f"unmatched: {k}" for k in excl], "n_input": [int(v) for v in excl.values()]}
    )
    study.add_table(
        "matching_counts",
        "matching",
        "Matched and unmatched firms",
        "Members (treated) and candidate controls entering the matching, used, and matched; "
        "members left unmatched, by reason.",
        _int_columns(pd.concat([counts, extra], ignore_index=True)),
    )
    window = int(res.options.get("trend_window") or 3)  # the labels' pre-joining window
    plot(
        study,
        "matching",
        "love_plot",
        "Covariate balance (love plot)",
        plot_love,
        wide,
        window=window,
    )
    ps = res.propensity
    if ps is not None and "score" in ps.columns:
        plot(
            study,
            "matching",
            "overlap",
            "Propensity-score overlap",
            plot_overlap,
            ps.rename(columns={"score": "pscore"}),
        )
    if res.matched_panel is not None:
        plot(
            study,
            "matching",
            "trajectories",
            f"Members vs matched controls: {label(y)}",
            plot_trajectories,
            res.matched_panel,
            outcome=y,
            weight="weight",
            outcome_label=label(y),
        )
    if "n_matched" not in counts:
        return "matched sample built"
    n_t = int(counts.loc[counts["group"] == "treated", "n_matched"].iloc[0])
    return f"matched sample built; {n_t:,} members matched"


def _int_columns(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_numeric_dtype(out[c]):
            v = out[c].to_numpy(dtype=float)
            if np.all(np.isnan(v) | (v == np.round(v))):
                out[c] = out[c].astype("Int64")
    return out


#: Reader-facing headers of the pooled balance table.
_BALANCE_COLUMNS = {
    "covariate": "Covariate",
    "mean_treated": "Mean, members",
    "mean_control": "Mean, matched controls",
    "smd_before": "SMD before",
    "smd_after": "SMD after",
    "var_ratio_after": "Variance ratio after",
}


def balance_wide(balance: pd.DataFrame) -> pd.DataFrame:
    """Matching balance in wide form: cohort ('all' = pooled), covariate, means after, SMD before/after."""
    b = balance.copy()
    b["cohort"] = b["stack"].astype("object").where(b["stack"].notna(), "all").astype(str)
    b["cohort"] = b["cohort"].str.replace(r"\.0$", "", regex=True)
    key = ["cohort", "covariate"]
    before = b[b["stage"] == "before"].set_index(key)
    after = b[b["stage"] == "after"].set_index(key)
    order = list(dict.fromkeys(zip(b["cohort"], b["covariate"], strict=True)))
    idx = pd.MultiIndex.from_tuples(order, names=key)
    out = pd.DataFrame(
        {
            "mean_treated": after["mean_treated"].reindex(idx),
            "mean_control": after["mean_control"].reindex(idx),
            "smd_before": before["smd"].reindex(idx),
            "smd_after": after["smd"].reindex(idx),
            "var_ratio_after": after["var_ratio"].reindex(idx),
        }
    ).reset_index()
    cohorts = sorted(set(out["cohort"]) - {"all"})
    out["_o"] = out["cohort"].map({c: i for i, c in enumerate(["all", *cohorts])})
    out = out.sort_values("_o", kind="mergesort").drop(columns="_o").reset_index(drop=True)
    return out


def step_matched_did(study: Study) -> str:
    """Matched DiD on every outcome: weighted (mean post - g-1) of members minus matched controls."""
    if "matched_did" not in study.spec.estimation.estimators:
        return "not requested"
    res = study.results.get("matching")
    if res is None or res.matched_panel is None:
        raise Skipped("needs the matched sample, which was not built")
    sample = res.matched_panel
    window = study.spec.estimation.event_window
    models = {}
    for y in outcomes(study):
        r = matched_did(sample, y, unit="firm_id", window=window)
        study.results[f"matched_did:{y}"] = r
        models[label(y)] = r
    regression_table_artifact(
        study,
        "matched_did",
        "matching",
        "Matched difference-in-differences, by outcome",
        "Members vs their matched controls (cohort-stacked, matching weights): mean outcome over "
        f"event times 0..{window[1]} minus the outcome in g-1; standard errors clustered by firm.",
        models,
        percent=all(is_log_outcome(o) for o in outcomes(study)),
    )
    return f"matched DiD on {', '.join(outcomes(study))}"
