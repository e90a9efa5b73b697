"""Report steps that ask how robust the premium is (issue #14), each set by ``[robustness]`` of the spec.

- ``honest``: Rambachan-Roth robust confidence sets of the headline event study under relative-magnitude
  (Mbar) and smoothness (M) bounds on the violation of parallel trends, with breakdown values;
- ``rosenbaum``: Rosenbaum bounds (Wilcoxon signed rank, Hodges-Lehmann) of the matched DiD's pairs,
  with the critical Gamma;
- ``subgroups``: the premium by cluster, cohort, size class, ... with the joint test of equal effects and
  Holm / Romano-Wolf adjusted p-values;
- ``chain``: the firm-block bootstrap of the whole chain (production function -> TFP -> matching ->
  DiD / duration): chain standard errors beside the plug-in ones.

Each step calls the package's public functions; every random step is seeded from the study's seed, so
a rerun writes the same tables and figures.
"""

from __future__ import annotations

import logging
import warnings
from types import SimpleNamespace
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from clusterimpact.chain import chain_from_spec
from clusterimpact.errors import EstimationWarning
from clusterimpact.estimation.event_study import event_study
from clusterimpact.estimation.heterogeneity import heterogeneity_effects
from clusterimpact.estimation.honest import Restriction, honest_did
from clusterimpact.estimation.staggered import aggte, att_gt
from clusterimpact.estimation.sunab import sun_abraham
from clusterimpact.matching import match_panel
from clusterimpact.matching.rosenbaum import matched_pair_differences, rosenbaum_bounds
from clusterimpact.matching.rosenbaum_sets import matched_set_outcomes, rosenbaum_sets
from clusterimpact.plotting import plot_sensitivity, plot_subgroup_effects
from clusterimpact.report._common import control, frame, headline, label, plot
from clusterimpact.report._study import Skipped, Study
from clusterimpact.units import PERCENT_NOTE, is_log_outcome, log_to_percent

__all__ = [
    "disjoint_pairs",
    "pair_changes",
    "rosenbaum_differences",
    "step_chain",
    "step_honest",
    "step_rosenbaum",
    "step_subgroups",
]

log = logging.getLogger("clusterimpact.report")

_ES_NAMES = {
    "sa": "Sun-Abraham",
    "cs": "Callaway-Sant'Anna (universal base period)",
    "twfe": "dynamic TWFE",
}
_RESTRICTIONS = {
    "rm": ("relative magnitudes", "Mbar", "C-LF"),
    "sd": ("smoothness", "M", "FLCI"),
}


def _wanted(study: Study, check: str) -> bool:
    return check in study.spec.robustness.checks


def _missing(study: Study, check: str, estimator: str) -> str | None:
    """Why ``check`` does not run: not in ``[robustness] checks``, or the estimator it reads is not
    among ``[estimation] estimators`` (None: it runs)."""
    if check not in study.spec.robustness.checks:
        return "not requested"
    if estimator not in study.spec.estimation.estimators:
        return f"not run: needs the estimator {estimator!r} in [estimation] estimators"
    return None


def _notes_from(study: Study, section: str, caught: list[warnings.WarningMessage]) -> None:
    for w in caught:
        study.note(section, f"{w.category.__name__}: {w.message}")


# -- parallel-trends sensitivity ---------------------------------------------------------------------
def honest_event_study(study: Study, y: str) -> Any:
    """The headline event study the sensitivity sets bound (``[robustness] honest_event_study``)."""
    kind = study.spec.robustness.honest_event_study
    est = study.spec.estimation
    df = frame(study)
    if kind == "sa":
        res = study.results.get(f"sa:{y}")
        if res is None:
            res = sun_abraham(
                df,
                outcome=y,
                window=est.event_window,
                cohort="treat_year",
                unit="firm_id",
                time="year",
                cluster=est.cluster,
            )
        return res
    if kind == "cs":
        gt = att_gt(
            df,
            outcome=y,
            control=control(study),
            base_period="universal",
            n_boot=0,
            allow_unbalanced=True,
            cohort="treat_year",
            unit="firm_id",
            time="year",
            cluster=est.cluster,
        )
        lo, hi = est.event_window
        return aggte(gt, type="dynamic", min_e=lo, max_e=hi)
    return event_study(
        df,
        y,
        window=est.event_window,
        bin_endpoints=False,
        cohort="treat_year",
        unit="firm_id",
        time="year",
        cluster=est.cluster,
    )


def step_honest(study: Study) -> str:
    """Rambachan-Roth sensitivity of the headline event study: sets, figure and breakdown values."""
    r = study.spec.robustness
    why = _missing(study, "honest", r.honest_event_study)
    if why:
        return why
    y = headline(study)
    es = honest_event_study(study, y)
    es_name = _ES_NAMES[r.honest_event_study]
    target = "the average effect over event times 0.." + str(study.spec.estimation.event_window[1])
    if r.honest_target != "average":
        target = f"the effect at event time {r.honest_target}"
    sets, summary = [], []
    for kind in r.honest_restrictions:
        name, bound, method = _RESTRICTIONS[kind]
        grid = list(r.honest_mbar_grid) if kind == "rm" else (list(r.honest_m_grid) or None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = honest_did(  # the spec checked the restriction and the target
                es,
                restriction=cast(Restriction, kind),
                grid=grid,
                target=cast("int | Literal['average']", r.honest_target),
                seed=study.seed,
            )
        _notes_from(study, "sensitivity", caught)
        study.results[f"honest:{kind}"] = res
        plot(
            study,
            "sensitivity",
            f"honest_{kind}",
            f"Sensitivity to parallel-trends violations ({name}): {label(y)}",
            plot_sensitivity,
            res,
            title=f"{es_name}, {label(y)}: {name}",
        )
        if study.figures and study.figures[-1].name == f"honest_{kind}":
            study.figures[-1] = _recaption(
                study.figures[-1],
                f"Robust 95 % confidence sets ({method}, Rambachan and Roth 2023) for {target} on "
                f"{label(y)} in the {es_name} event study, against the bound {bound} on how far the "
                "post-joining violation of parallel trends may go "
                + (
                    "(as a multiple of the largest pre-joining change)"
                    if kind == "rm"
                    else "(the change in the slope of the trend gap per year)"
                )
                + "; the grey interval at the left is the usual one (parallel trends exact), the "
                "dotted line the breakdown value, where the set first includes 0.",
            )
        for b, lo, hi in res.sets[["bound", "conf_low", "conf_high"]].itertuples(index=False):
            sets.append(
                {
                    "restriction": name,
                    "bound": bound,
                    "value": float(b),
                    "conf_low": float(lo),
                    "conf_high": float(hi),
                    "includes 0": "yes" if lo <= 0 <= hi else "no",
                }
            )
        summary.append(
            {
                "restriction": name,
                "method": method,
                "target": res.target,
                "original low": float(res.original[0]),
                "original high": float(res.original[1]),
                "bound": bound,
                "breakdown": np.nan if res.breakdown is None else float(res.breakdown),
            }
        )
    head = f"{es_name} event study of {label(y)}, {target}"
    study.add_table(
        "honest_breakdown",
        "sensitivity",
        "Parallel-trends sensitivity: breakdown values",
        f"{head}: the usual 95 % interval and the breakdown value, the smallest bound (Mbar for "
        "relative magnitudes, M for smoothness) at which the robust set includes 0 (0: the usual "
        "interval already does; inf: no bound up to the search limit does).",
        pd.DataFrame(summary),
        4,
    )
    study.add_table(
        "honest",
        "sensitivity",
        "Parallel-trends sensitivity: robust confidence sets",
        f"{head}: robust 95 % confidence sets by bound (Rambachan and Roth 2023; relative "
        "magnitudes by the conditional least-favourable hybrid, smoothness by the fixed-length "
        "interval).",
        pd.DataFrame(sets),
        4,
    )
    return f"{', '.join(r.honest_restrictions)} sets on {es_name}, {y}"


def _recaption(fig: Any, caption: str) -> Any:
    from dataclasses import replace

    return replace(fig, caption=caption)


# -- hidden selection: Rosenbaum bounds -------------------------------------------------------------
def pair_changes(sample: pd.DataFrame, outcome: str, window: tuple[int, int]) -> pd.DataFrame:
    """Each matched firm-stack's DiD outcome: the mean of ``outcome`` over event times
    ``0..window[1]`` minus its value in ``g-1`` (the matched DiD's own outcome), with ``stack`` and
    ``firm_id``; NaN where either part is missing."""
    y = pd.to_numeric(sample[outcome], errors="coerce")
    frame = pd.DataFrame({"k": sample["stack_unit"].to_numpy(), "rel": sample["rel_year"], "y": y})
    pre = frame[frame["rel"] == -1].groupby("k")["y"].first()
    post = frame[frame["rel"].between(0, window[1])].groupby("k")["y"].mean()
    units = sample.drop_duplicates("stack_unit").set_index("stack_unit")[["stack", "firm_id"]]
    return units.assign(change=(post - pre).reindex(units.index))


def disjoint_pairs(pairs: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The treated units' pairs with every firm in one pair only, across cohorts too (Rosenbaum's
    model needs independent pairs): cohort by cohort (earliest first, then in the matching's order),
    a pair is kept unless its member or its control is already in a kept pair. Returns the kept pairs
    and the number left out."""
    p = pairs[pairs["focal_treated"].astype(bool)].sort_values("stack", kind="mergesort")
    seen: set[Any] = set()
    keep = np.zeros(len(p), dtype=bool)
    for i, (f, m) in enumerate(zip(p["focal"].tolist(), p["match"].tolist(), strict=True)):
        if f not in seen and m not in seen:
            keep[i] = True
            seen.update((f, m))
    return p[keep], int((~keep).sum())


def rosenbaum_differences(
    match: Any, outcome: str, window: tuple[int, int]
) -> tuple[pd.Series, dict[str, int]]:
    """Treated-minus-control DiD outcomes of disjoint 1:1 matched pairs, cohort by cohort
    (:func:`~clusterimpact.matching.rosenbaum.matched_pair_differences` within each stack). Pairs
    sharing a firm with an earlier pair (:func:`disjoint_pairs`) and pairs in which either firm
    lacks the outcome are left out and counted."""
    changes = pair_changes(match.matched_panel, outcome, window)
    pairs, shared = disjoint_pairs(match.pairs)
    parts, missing = [], 0
    for g, pg in pairs.groupby("stack", sort=True):
        data = changes[changes["stack"] == g].set_index("firm_id")["change"]
        ok_firms = data.index[np.isfinite(data.to_numpy(dtype=float))]
        keep = pg["focal"].isin(ok_firms) & pg["match"].isin(ok_firms)
        missing += int((~keep).sum())
        if keep.any():
            d = matched_pair_differences(SimpleNamespace(pairs=pg[keep]), data.to_frame(), "change")
            parts.append(d)
    diffs = pd.concat(parts) if parts else pd.Series(dtype=float)
    return diffs, {"shared": shared, "missing": missing}


def _pairs_matching(study: Study, y: str) -> Any:
    """The study's matching when it is 1:1 without replacement; else the same matching redone
    without replacement (Rosenbaum's pairs must not share controls)."""
    m = study.spec.matching
    if not m.replace:
        return study.results["matching"]
    est = study.spec.estimation
    res = match_panel(
        frame(study),
        **m.variables(),
        exact=list(m.exact),
        control=control(study),
        method=m.method,
        neighbors=m.neighbors,
        caliper=m.caliper,
        replace=False,
        outcome=y,
        window=est.event_window,
        seed=study.seed,
    )
    study.results["rosenbaum_matching"] = res
    return res


def step_rosenbaum(study: Study) -> str:
    """Rosenbaum bounds of the matched DiD on the headline outcome (disjoint 1:1 pairs)."""
    why = _missing(study, "rosenbaum", "matched_did")
    if why:
        return why
    if study.results.get("matching") is None:
        raise Skipped("needs the matched sample, which was not built")
    if study.spec.matching.neighbors != 1:
        return _rosenbaum_sets_step(study)
    y = headline(study)
    window = study.spec.estimation.event_window
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)  # the study's matching reported them
        match = _pairs_matching(study, y)
    diffs, left = rosenbaum_differences(match, y, window)
    res = rosenbaum_bounds(diffs, gammas=list(study.spec.robustness.rosenbaum_gammas))
    study.results["rosenbaum"] = res
    crit = "inf" if np.isinf(res.critical_gamma) else f"{res.critical_gamma:.3f}"
    redo = (
        "the study's matching redone without replacement (1:1, same score, caliper and exact "
        "variables), since the bounds need pairs that share no control"
        if study.spec.matching.replace
        else "the study's 1:1 matching without replacement"
    )
    study.add_table(
        "rosenbaum",
        "sensitivity",
        f"Hidden selection: Rosenbaum bounds of the matched DiD, {label(y)} (critical Gamma {crit})",
        f"Matched pairs, each member and its control cohort by cohort ({redo}); outcome: mean "
        f"{label(y)} over event times 0..{window[1]} minus its value in the year before joining. If "
        "hidden selection multiplied a firm's odds of joining by up to Gamma within a pair: bounds on "
        "the one-sided Wilcoxon signed-rank p-value of no effect (p_lower, p_upper) and on the "
        f"Hodges-Lehmann estimate (hl_lower, hl_upper). Critical Gamma {crit}: the smallest Gamma at "
        f"which p_upper reaches {res.alpha:g}. {res.n_pairs:,} pairs ({res.n_zero} with zero "
        f"difference dropped; {left['shared']} pairs sharing a firm with an earlier cohort's pair and "
        f"{left['missing']} pairs lacking the outcome left out); Hodges-Lehmann estimate without "
        f"hidden bias {float(res.params.iloc[0]):.4f}.",
        res.bounds,
        4,
    )
    return f"{res.n_pairs:,} pairs; critical Gamma {crit}"


def rosenbaum_set_frame(match: Any, outcome: str, window: tuple[int, int]) -> tuple[Any, int]:
    """DiD outcomes of disjoint 1:k matched sets (treated first), cohort by cohort; sets sharing a
    firm with an earlier set, short sets and sets lacking the outcome are left out and counted."""
    changes = pair_changes(match.matched_panel, outcome, window)
    p = match.pairs[match.pairs["focal_treated"].astype(bool)].sort_values(
        "stack", kind="mergesort"
    )
    k = int(p.groupby(["stack", "focal"]).size().max())
    parts: list[pd.DataFrame] = []
    seen: set[Any] = set()
    left = 0
    for (g, f), ps in p.groupby(["stack", "focal"], sort=False):
        data = changes[changes["stack"] == g].set_index("firm_id")["change"]
        firms = [f, *ps["match"].tolist()]
        if len(ps) < k or seen & set(firms) or not np.isfinite(data.reindex(firms)).all():
            left += 1
            continue
        seen.update(firms)
        parts.append(matched_set_outcomes(SimpleNamespace(pairs=ps), data.to_frame(), "change"))
    return (pd.concat(parts) if parts else pd.DataFrame()), left


def _rosenbaum_sets_step(study: Study) -> str:
    """Rosenbaum bounds of a 1:k matched DiD (Huber M-statistic, separable bound)."""
    y, window = headline(study), study.spec.estimation.event_window
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)  # the study's matching reported them
        match = _pairs_matching(study, y)
    sets, left = rosenbaum_set_frame(match, y, window)
    res = rosenbaum_sets(sets, gammas=list(study.spec.robustness.rosenbaum_gammas))
    study.results["rosenbaum"] = res
    crit = "inf" if np.isinf(res.critical_gamma) else f"{res.critical_gamma:.3f}"
    study.add_table(
        "rosenbaum",
        "sensitivity",
        f"Hidden selection: Rosenbaum bounds of the matched DiD, {label(y)} (critical Gamma {crit})",
        f"Matched sets of a member and its {res.n_controls} controls, cohort by cohort (without "
        f"replacement); outcome: mean {label(y)} over event times 0..{window[1]} minus its value in "
        "the year before joining. If hidden selection multiplied a firm's odds of joining by up to "
        "Gamma within a set: bounds on the one-sided p-value of no effect of the Huber M-test "
        "(Rosenbaum 2007; separable approximation) (p_lower, p_upper) and on the M-estimate "
        f"(hl_lower, hl_upper). Critical Gamma {crit}: the smallest Gamma at which p_upper reaches "
        f"{res.alpha:g}. {res.n_pairs:,} sets ({left} sets sharing a firm with an earlier set, short "
        f"of controls or lacking the outcome left out); M-estimate without hidden bias "
        f"{float(res.params.iloc[0]):.4f}.",
        res.bounds,
        4,
    )
    return f"{res.n_pairs:,} matched sets; critical Gamma {crit}"


# -- heterogeneity -----------------------------------------------------------------------------------
def step_subgroups(study: Study) -> str:
    """Subgroup premia with the equal-effects test and Holm / Romano-Wolf adjusted p-values."""
    why = _missing(study, "heterogeneity", "cs")  # Callaway-Sant'Anna by subgroup
    if why:
        return why
    r = study.spec.robustness
    est = study.spec.estimation
    y = headline(study)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EstimationWarning)
        res = heterogeneity_effects(
            frame(study),
            y,
            by=list(r.heterogeneity_by),
            control=control(study),
            allow_unbalanced=True,
            # the firm is the default cluster (heterogeneity_effects rejects cluster == unit)
            cluster=None if est.cluster == "firm_id" else est.cluster,
            n_boot=r.heterogeneity_draws,
            seed=study.seed + 3,
        )
    for w in caught:
        if "skipped" in str(w.message) or "pooled into" in str(w.message):
            study.note("subgroups", str(w.message))
    study.results["subgroups"] = res
    rows, tests = [], []
    for by, sub in res.items():
        plot(
            study,
            "subgroups",
            f"subgroups_{by}",
            f"Premium by {by}: {label(y)}",
            plot_subgroup_effects,
            sub,
            outcome_label=label(y),
        )
        t = sub.tidy()
        t.insert(0, "split", by)
        rows.append(t[["split", "term", "n_firms", "estimate", "std_error", "p_value", "p_holm",
                       "p_romano_wolf"]])  # fmt: skip
        ee = sub.equal_effects
        tests.append(
            {
                "split": by,
                "comparison": sub.comparison,
                "subgroups": len(sub.params),
                "chi2": ee["stat"],
                "df": int(ee["df"]) if np.isfinite(ee["df"]) else np.nan,
                "p_value": ee["p_value"],
                "df2": int(ee["df_denom"]) if np.isfinite(ee.get("df_denom", np.nan)) else np.nan,
                "p_value (F)": ee.get("p_value_f", np.nan),
                "pooled ATT": float(sub.pooled.params.iloc[0])
                if sub.pooled is not None
                else np.nan,
            }
        )
    if not rows:
        raise Skipped("no subgroup split could be estimated")
    ctrl = "not-yet and never members" if est.control == "notyet" else "never members"
    study.add_table(
        "subgroup_tests",
        "subgroups",
        f"Equal effects across subgroups, {label(y)}",
        "Joint Wald test that the premium is the same in every subgroup of the split "
        "(chi-squared with df = subgroups - 1, covariance from the firms' influence functions; "
        "p_value (F), the verdict: chi2 / df against F(df, df2 = the smallest subgroup's members "
        "- 1), as the subgroup variances rest on a few dozen firms). "
        "Comparison 'within': each class against comparison firms of the same class, so the "
        "subgroups share no firm; 'pooled': every subgroup against the same comparison firms. "
        "Last column: the pooled ATT of all members.",
        pd.DataFrame(tests),
        4,
    )
    table = pd.concat(rows, ignore_index=True)
    table["n_firms"] = table["n_firms"].astype(int)
    pct = is_log_outcome(y)
    if pct:
        at = list(table.columns).index("estimate") + 1
        table.insert(at, "effect (%)", log_to_percent(table["estimate"].to_numpy(dtype=float)))
    study.add_table(
        "subgroups",
        "subgroups",
        f"Premium by subgroup, {label(y)}",
        "Callaway-Sant'Anna overall ATT of the members in each subgroup (members' clusters and sizes "
        "measured before joining). Size, age, sector and region classes are compared with "
        f"{ctrl} of the same class (never members classified in the treated firms' median cohort "
        f"minus one year); clusters and cohorts with all {ctrl}. p-values of no effect: "
        "unadjusted, Holm, and Romano-Wolf step-down (multiplier bootstrap with "
        f"{r.heterogeneity_draws} draws, seed {study.seed + 3}), each family being one split."
        + (f" {PERCENT_NOTE}" if pct else ""),
        table,
        4,
    )
    return f"{len(res)} split(s): {', '.join(res)}"


# -- the whole chain's uncertainty -------------------------------------------------------------------
def _chain_terms(terms: pd.Index) -> list[str]:
    """The headline terms of the chain table (event-time rows of CS are left to the API)."""
    return [t for t in terms if not str(t).startswith("cs:dynamic:")]


def step_chain(study: Study) -> str:
    """Chain bootstrap (production function -> TFP -> matching -> DiD / duration) of the study."""
    r = study.spec.robustness
    if not _wanted(study, "chain") or r.chain_reps == 0:
        return "not requested"
    spec = study.spec
    if not spec.outcomes.tfp_methods:
        study.note("chain", "The chain bootstrap needs a TFP outcome ([outcomes] tfp_methods).")
        return "no TFP outcome"
    if not {"cs", "duration", "matched_did"} & set(spec.estimation.estimators):
        study.note(
            "chain", "The chain bootstrap needs cs, duration or matched_did among estimators."
        )
        return "no chain estimator requested"
    if study.panel is None:
        raise Skipped("needs the panel, which was not built")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)  # replications' warnings: counted
        res = chain_from_spec(study.panel, spec, n_boot=r.chain_reps, n_jobs=r.chain_workers)
    study.results["chain"] = res
    t = res.tidy().set_index("term").loc[_chain_terms(res.params.index)]
    table = pd.DataFrame(
        {
            "term": t.index,
            "estimate": t["estimate"].to_numpy(),
            "plug-in SE": t["plugin_std_error"].to_numpy(),
            "fixed-TFP SE": t["fixed_tfp_std_error"].to_numpy(),
            "chain SE": t["std_error"].to_numpy(),
            "ratio": t["se_ratio"].to_numpy(),
            "ratio fixed": t["se_ratio_fixed"].to_numpy(),
            "chain 95% low": t["conf_low"].to_numpy(),
            "chain 95% high": t["conf_high"].to_numpy(),
            "replications": t["n_boot"].to_numpy(dtype=int),
        }
    )
    prod = res.production
    failed = f"; {res.n_failed} failed" if res.n_failed else ""
    study.add_table(
        "chain",
        "chain",
        f"The whole chain's uncertainty: chain vs plug-in standard errors ({res.reps} replications)",
        f"Firm-block bootstrap of the whole chain with {res.reps} replications{failed} (seed "
        f"{spec.seed}): each replication resamples firms, re-estimates the {prod.get('method', '')} "
        "production function and ln TFP, re-runs the matching and the DiD and duration estimators. "
        "Chain SE: standard deviation over the replications (includes the uncertainty of the "
        "estimated TFP); plug-in SE: the estimator's own, treating ln TFP as data (none for the "
        "elasticities); fixed-TFP SE: the same firm draws with ln TFP held at its full-sample "
        "values, so ratio fixed = chain / fixed-TFP isolates what estimating TFP adds (chain / "
        "plug-in also holds the bootstrap-vs-analytic difference); ratio = chain / plug-in; "
        "interval: bootstrap percentiles. Terms: tfp (output "
        "elasticities), cs (Callaway-Sant'Anna simple and dynamic averages), duration (imputation "
        "premium by years of membership, average and slope), matched_did (matched DiD).",
        table,
        4,
    )
    return f"{res.reps} replications, {res.n_failed} failed"
