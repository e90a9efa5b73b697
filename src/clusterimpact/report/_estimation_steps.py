"""Report steps that estimate: TFP, matching, the premium (TWFE, event studies, duration), its
heterogeneity, the estimator comparison, matched DiD, and truth vs estimate.

Each step calls the package's public front doors; the figures come from :mod:`clusterimpact.plotting`
and regression tables from :mod:`clusterimpact.tables` where they exist (a plain tidy table otherwise).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.errors import SpecError
from clusterimpact.report._study import Skipped, Study, Unavailable, need
from clusterimpact.report._truth_step import step_truth

__all__ = ["STEPS"]

log = logging.getLogger("clusterimpact.report")

_LABELS = {
    "ln_lp": "ln labour productivity (VA per FTE)",
    "ln_tfp_ols": "ln TFP (OLS)",
    "ln_tfp_fe": "ln TFP (within FE)",
    "ln_tfp_op": "ln TFP (Olley-Pakes)",
    "ln_tfp_lp": "ln TFP (Levinsohn-Petrin)",
    "ln_tfp_acf": "ln TFP (ACF)",
    "ln_tfp_wooldridge": "ln TFP (Wooldridge)",
}
_EST_NAMES = {
    "twfe": "TWFE",
    "cs": "Callaway-Sant'Anna",
    "sa": "Sun-Abraham",
    "imputation": "Imputation (BJS)",
    "matched_did": "Matched DiD",
}


def label(outcome: str) -> str:
    """Reader-facing name of an outcome column."""
    return _LABELS.get(outcome, outcome)


def call(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``func``; an option it does not accept is a bug in the study wiring, not something to drop.

    Raises
    ------
    TypeError
        Naming the function and the keyword arguments its signature lacks.
    """
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return func(*args, **kwargs)
    params = sig.parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = sorted(k for k in kwargs if k not in params)
        if unknown:
            raise TypeError(
                f"{getattr(func, '__qualname__', func)} does not accept {', '.join(unknown)}"
            )
    return func(*args, **kwargs)


def _frame(study: Study) -> pd.DataFrame:
    if study.frame is None:
        raise Skipped("needs the panel, which was not built")
    return study.frame


def _outcomes(study: Study) -> list[str]:
    """Outcomes that exist as columns (TFP columns only after the tfp step succeeded)."""
    df = _frame(study)
    return [o for o in study.spec.outcome_names if o in df.columns]


def _headline(study: Study) -> str:
    outs = _outcomes(study)
    h = study.spec.outcomes.headline
    if h in outs:
        return h
    if outs:
        study.note(
            "premium",
            f"The headline outcome {h} is not available in this run; the figures use {outs[0]}.",
        )
        return outs[0]
    raise SpecError("no outcome column is available")


def _tidy_table(study: Study, name: str, section: str, title: str, caption: str, res: Any) -> None:
    t = res.tidy()[["term", "estimate", "std_error", "conf_low", "conf_high", "p_value"]]
    study.add_table(name, section, title, caption, t, digits=4)


def _regression_table(
    study: Study, name: str, section: str, title: str, caption: str, models: dict[str, Any]
) -> None:
    """Side-by-side table of several models: tables.regression_table when available."""
    try:
        regression_table = need("clusterimpact.tables", "regression_table")
    except Unavailable:
        rows = []
        for mname, res in models.items():
            t = res.tidy()
            t.insert(0, "model", mname)
            rows.append(t[["model", "term", "estimate", "std_error", "conf_low", "conf_high"]])
        study.add_table(name, section, title, caption, pd.concat(rows, ignore_index=True), 4)
        return
    tab = call(regression_table, models, caption="")
    _add_rendered(study, name, section, title, caption, tab)


def _add_rendered(
    study: Study, name: str, section: str, title: str, caption: str, tab: Any
) -> None:
    """Add a tables.py table object (with to_markdown/to_latex/to_html) or a DataFrame."""
    from clusterimpact.report._artifacts import TableArtifact

    if isinstance(tab, pd.DataFrame):
        study.add_table(name, section, title, caption, tab, 4)
        return
    md = tab.to_markdown() if hasattr(tab, "to_markdown") else str(tab)
    tex = tab.to_latex() if hasattr(tab, "to_latex") else ""
    htm = tab.to_html() if hasattr(tab, "to_html") else f"<pre>{md}</pre>"
    study.add_table_artifact(TableArtifact(name, section, title, caption, md, tex, htm))


def _plot(
    study: Study, section: str, name: str, fig_title: str, plot_name: str, *args: Any, **kw: Any
) -> None:
    """Draw one figure with plotting.<plot_name>; a failure becomes a note, never a failed step."""
    try:
        plot = need("clusterimpact.plotting", plot_name)
        ax = call(plot, *args, **kw)
    except Exception as exc:
        if study.strict and not isinstance(exc, Unavailable):
            raise
        study.note(section, f"Figure '{fig_title}' not available: {exc}")
        log.warning("figure %s not drawn: %s", name, exc)
        return
    study.add_figure(name, section, fig_title, ax)


# -- TFP -------------------------------------------------------------------------------------------
def step_tfp(study: Study) -> str:
    """Estimate the production function by each requested method and add ln_tfp_<method>."""
    methods = study.spec.outcomes.tfp_methods
    if not methods:
        return "no TFP outcome requested"
    estimate_tfp = need("clusterimpact.productivity", "estimate_tfp")
    df = _frame(study)
    done, rows = [], []
    for m in methods:
        proxy = "ln_investment" if m == "op" else "ln_materials"
        res = call(
            estimate_tfp,
            study.panel if study.panel is not None else df,
            method=m,
            output="ln_va",
            free=["ln_emp"],
            state=["ln_capital"],
            proxy=proxy,
            seed=study.seed + 2,
            bootstrap=study.spec.bootstrap.tfp_reps if m in ("op", "lp", "acf") else 0,
            n_jobs=2 if study.spec.bootstrap.tfp_reps and m in ("op", "lp", "acf") else 1,
        )
        study.results[f"tfp:{m}"] = res
        df = res.join(df, name=f"ln_tfp_{m}", resid_name=f"ln_tfp_{m}_resid")
        done.append(m)
        t = res.tidy()
        for r in t.itertuples(index=False):
            rows.append(
                {
                    "method": m,
                    "input": str(r.term),
                    "elasticity": float(r.estimate),
                    "std_error": float(r.std_error),
                    "conf_low": float(r.conf_low),
                    "conf_high": float(r.conf_high),
                }
            )
    study.frame = df
    table = pd.DataFrame(rows)
    if study.truth and "elasticities" in study.truth:
        el = study.truth["elasticities"]
        table["truth"] = [float(el.get(i, np.nan)) for i in table["input"]]
    reps = study.spec.bootstrap.tfp_reps
    se_note = (
        f"Standard errors: firm-block bootstrap with {reps} replications for Olley-Pakes, "
        "Levinsohn-Petrin and ACF; analytic for OLS, FE and Wooldridge (GMM)."
        if reps
        else "Standard errors: analytic where the method has them (OLS, FE, Wooldridge GMM); "
        "Olley-Pakes, Levinsohn-Petrin and ACF need the firm-block bootstrap, which this study "
        "skipped ([bootstrap] tfp_reps = 0)."
    )
    study.add_table(
        "production_functions",
        "productivity",
        "Production-function estimates",
        "Value-added Cobb-Douglas in logs: output ln_va, free input ln_emp, state ln_capital, proxy "
        "ln_materials (ln_investment for Olley-Pakes); log TFP is the estimated productivity term. "
        + se_note
        + " The premium estimates on ln TFP treat TFP as data (first-stage uncertainty not "
        "propagated).",
        table,
        digits=4,
    )
    return f"ln TFP by {', '.join(done)}"


# -- matching --------------------------------------------------------------------------------------
def step_matching(study: Study) -> str:
    """Cohort-wise matching in the year before joining; balance, overlap and trajectories."""
    match_panel = need("clusterimpact.matching", "match_panel")
    m = study.spec.matching
    est = study.spec.estimation
    df = _frame(study)
    y = _headline(study)
    res = call(
        match_panel,
        df,
        **m.variables(),
        exact=list(m.exact),
        control=est.control,
        method=m.method,
        neighbors=m.neighbors,
        caliper=m.caliper,
        replace=m.replace,
        outcome=y,
        window=est.event_window,
        seed=study.seed,
    )
    study.results["matching"] = res
    study.exclusions["matching"] = {
        str(k): int(v) for k, v in sorted(dict(getattr(res, "exclusions", {})).items())
    }
    wide = balance_wide(res.balance)
    pooled = wide[wide["cohort"] == "all"].drop(columns="cohort")
    study.add_table(
        "balance",
        "matching",
        "Balance before and after matching (all cohorts pooled)",
        "Members vs controls in the year before joining, pooled over cohorts with the matching "
        "weights: means after matching, standardised mean differences (SMD) before and after, "
        "variance ratio after; |SMD| < 0.1 is the usual threshold.",
        pooled,
    )
    counts = getattr(res, "counts", None)
    if isinstance(counts, pd.DataFrame):
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
    _plot(study, "matching", "love_plot", "Covariate balance (love plot)", "plot_love", wide)
    ps = getattr(res, "propensity", None)
    if isinstance(ps, pd.DataFrame) and "score" in ps.columns:
        _plot(
            study,
            "matching",
            "overlap",
            "Propensity-score overlap",
            "plot_overlap",
            ps.rename(columns={"score": "pscore"}),
        )
    sample = getattr(res, "matched_panel", None)
    if isinstance(sample, pd.DataFrame):
        _plot(
            study,
            "matching",
            "trajectories",
            f"Members vs matched controls: {label(y)}",
            "plot_trajectories",
            sample,
            outcome=y,
            weight="weight",
            outcome_label=label(y),
        )
    n_t = (
        int(counts.loc[counts["group"] == "treated", "n_matched"].iloc[0])
        if isinstance(counts, pd.DataFrame) and "n_matched" in counts
        else None
    )
    return "matched sample built" + ("" if n_t is None else f"; {n_t:,} members matched")


def _int_columns(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_numeric_dtype(out[c]):
            v = out[c].to_numpy(dtype=float)
            if np.all(np.isnan(v) | (v == np.round(v))):
                out[c] = out[c].astype("Int64")
    return out


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


# -- the premium -----------------------------------------------------------------------------------
def _fit_event_studies(study: Study, y: str) -> dict[str, Any]:
    """CS, SA and imputation event studies of outcome y (those requested and available)."""
    est = study.spec.estimation
    df = _frame(study)
    lo, hi = est.event_window
    out: dict[str, Any] = {}
    # keys every estimator takes; the rest is passed to the estimators that take it
    common = {"outcome": y, "cohort": "treat_year", "unit": "firm_id", "time": "year"}
    missing = []
    if "cs" in est.estimators:
        try:
            att_gt, aggte = need("clusterimpact.estimation.staggered", "att_gt", "aggte")
        except Unavailable as exc:
            missing.append(str(exc))
        else:
            draws = study.spec.bootstrap.did_draws
            gt = call(
                att_gt,
                df,
                bootstrap=draws > 0,
                n_boot=max(draws, 1),
                allow_unbalanced=True,
                control=est.control,
                seed=study.seed + 1,
                cluster=est.cluster,
                **common,
            )
            study.results[f"cs_gt:{y}"] = gt
            out["cs"] = call(aggte, gt, type="dynamic", min_e=lo, max_e=hi)
            study.results[f"cs_simple:{y}"] = call(aggte, gt, type="simple")
            study.results[f"cs_group:{y}"] = call(aggte, gt, type="group")
    if "sa" in est.estimators:
        try:
            sun_abraham = need("clusterimpact.estimation.sunab", "sun_abraham")
        except Unavailable as exc:
            missing.append(str(exc))
        else:
            out["sa"] = call(sun_abraham, df, window=(lo, hi), cluster=est.cluster, **common)
    if "imputation" in est.estimators:
        try:
            imputation_did = need("clusterimpact.estimation.imputation", "imputation_did")
        except Unavailable as exc:
            missing.append(str(exc))
        else:
            if est.cluster != "firm_id":
                study.note(
                    "premium",
                    f"Imputation (BJS) standard errors are clustered by firm, not by {est.cluster}.",
                )
            out["imputation"] = call(
                imputation_did,
                df,
                aggregation="dynamic",
                horizons=list(range(0, hi + 1)),
                leads=abs(lo),
                **common,
            )
    for m in missing:
        study.note("premium", f"Event-study estimator not available: {m}")
    for k, v in out.items():
        study.results[f"{k}:{y}"] = v
    return out


def step_event_study(study: Study) -> str:
    """Event studies around joining (CS, SA, imputation) on the headline outcome."""
    wanted = [e for e in ("cs", "sa", "imputation") if e in study.spec.estimation.estimators]
    if not wanted:
        return "no event-study estimator requested"
    y = _headline(study)
    res = _fit_event_studies(study, y)
    if not res:
        raise Unavailable("no event-study estimator is available")
    named = {_EST_NAMES[k]: v for k, v in res.items()}
    _plot(
        study,
        "premium",
        "event_study",
        f"Event study around joining: {label(y)}",
        "plot_event_study",
        named,
        outcome_label=label(y),
    )
    _regression_table(
        study,
        "event_study",
        "premium",
        f"Event-study estimates, {label(y)}",
        "Effect of membership by years since joining (reference: the year before joining), by "
        "estimator; pointwise standard errors clustered by firm.",
        named,
    )
    return f"{', '.join(named)} on {y}"


def step_twfe(study: Study) -> str:
    """Static premium (member dummy, firm and year FE) on each outcome, and on the headline outcome
    the premium with a linear duration term and with binned durations."""
    if "twfe" not in study.spec.estimation.estimators:
        return "not requested"
    static_premium, linear_duration, binned_duration = need(
        "clusterimpact.estimation.twfe", "static_premium", "linear_duration", "binned_duration"
    )
    est = study.spec.estimation
    df = _frame(study)
    models = {}
    for y in _outcomes(study):
        r = call(static_premium, df, outcome=y, cluster=est.cluster)
        study.results[f"twfe:{y}"] = r
        models[label(y)] = r
    _regression_table(
        study,
        "twfe",
        "premium",
        "Static premium (two-way fixed effects), by outcome",
        "ln outcome on the membership dummy with firm and year fixed effects; standard errors "
        "clustered by firm. Biased when effects vary by cohort and grow with duration: see the "
        "robustness section.",
        models,
    )
    y = _headline(study)
    bins: list[int | str] = [*est.duration_bins[:-1], f"{est.duration_bins[-1]}+"]
    dur_models = {
        "static": study.results[f"twfe:{y}"],
        "linear duration": call(linear_duration, df, outcome=y, cluster=est.cluster),
        "binned duration": call(binned_duration, df, outcome=y, bins=bins, cluster=est.cluster),
    }
    study.results[f"twfe_linear:{y}"] = dur_models["linear duration"]
    study.results[f"twfe_binned:{y}"] = dur_models["binned duration"]
    _regression_table(
        study,
        "twfe_duration",
        "premium",
        f"Membership and duration models (two-way fixed effects), {label(y)}",
        "Firm and year fixed effects; (1) the membership dummy; (2) plus years of membership; "
        "(3) dummies for years of membership. Standard errors clustered by firm.",
        dur_models,
    )
    return f"{len(models)} outcome(s); duration models on {y}"


def step_duration(study: Study) -> str:
    """The premium by years of membership (imputation), its slope and the test of no growth."""
    if "duration" not in study.spec.estimation.estimators:
        return "not requested"
    duration_effects = need("clusterimpact.estimation.duration", "duration_effects")
    est = study.spec.estimation
    df = _frame(study)
    y = _headline(study)
    bins: list[int | str] = [*est.duration_bins[:-1], f"{est.duration_bins[-1]}+"]
    res = call(duration_effects, df, outcome=y, bins=bins, leads=abs(est.event_window[0]))
    study.results["duration"] = res
    study.results[f"duration:{y}"] = res
    truth = _duration_truth(study, bins)
    key = "att_lp" if y == "ln_lp" else "att"
    _plot(
        study,
        "premium",
        "duration_premium",
        f"The premium by years of membership: {label(y)}",
        "plot_duration_premium",
        res,
        outcome_label=label(y),
        truth=truth,
        truth_key=key,
    )
    _tidy_table(
        study,
        "duration",
        "premium",
        f"Premium by years of membership, {label(y)}",
        "Imputation estimator: untreated outcomes from firm and year effects fitted on not-yet and "
        "never-member firm-years; members' gaps averaged by years of membership; the slope across "
        "durations tests for growth.",
        res,
    )
    return f"duration profile on {y}"


def _duration_truth(study: Study, bins: list[int | str]) -> dict[str, Any] | None:
    """The duration profile's own estimand by bin (firm-years in membership), when the truth file
    has it for these bins."""
    t = study.truth or {}
    labels = [str(b) for b in bins]
    est = t.get("estimands") or {}
    if t.get("estimand_bins") != labels:
        return None
    out = {b: est.get(f"duration:member_years::{b}") for b in labels}
    return out if all(v is not None for v in out.values()) else None


def step_heterogeneity(study: Study) -> str:
    """Premium by cluster and by joining cohort (forest plots)."""
    est = study.spec.estimation.estimators
    done = []
    y = _headline(study)
    if "by_cohort" in est:
        gr = study.results.get(f"cs_group:{y}")
        if gr is None:
            att_gt, aggte = need("clusterimpact.estimation.staggered", "att_gt", "aggte")
            gt = call(
                att_gt,
                _frame(study),
                outcome=y,
                cohort="treat_year",
                control=study.spec.estimation.control,
                seed=study.seed + 1,
                allow_unbalanced=True,
            )
            gr = call(aggte, gt, type="group")
        study.results["by_cohort"] = gr
        _plot(
            study,
            "heterogeneity",
            "by_cohort",
            f"Premium by joining cohort: {label(y)}",
            "plot_forest",
            gr,
            terms="group:",
            title=f"Premium by joining cohort: {label(y)}",
            xlabel=f"Effect on {label(y)} (log points)",
            caption=f"Average effect of membership on {label(y)} over each joining cohort's "
            "post-joining years (Callaway-Sant'Anna group aggregation of ATT(g,t), "
            f"{'not-yet and never' if study.spec.estimation.control == 'notyet' else 'never'} "
            "members as controls), with 95 % confidence intervals.",
        )
        _tidy_table(
            study,
            "by_cohort",
            "heterogeneity",
            f"Premium by joining cohort, {label(y)}",
            "Callaway-Sant'Anna group aggregation: the average effect over each cohort's post-joining years.",
            gr,
        )
        done.append("cohort")
    if "by_cluster" in est:
        res = _by_cluster(study, y)
        study.results["by_cluster"] = res
        _plot(
            study,
            "heterogeneity",
            "by_cluster",
            f"Premium by cluster: {label(y)}",
            "plot_forest",
            res,
            title=f"Premium by cluster: {label(y)}",
            xlabel=f"Effect on {label(y)} (log points)",
            caption=f"Average effect of membership on {label(y)} over the member firm-years of each "
            "cluster (the firm's first cluster), imputation estimator (Borusyak, Jaravel and "
            "Spiess) with firm and year effects fitted on untreated firm-years; 95 % confidence "
            "intervals clustered by firm.",
        )
        study.add_table(
            "by_cluster",
            "heterogeneity",
            f"Premium by cluster, {label(y)}",
            "Average effect on the member firm-years of each cluster (the firm's first cluster), "
            "imputation estimator (Borusyak, Jaravel and Spiess); standard errors clustered by firm.",
            res[["term", "estimate", "std_error", "conf_low", "conf_high", "p_value"]],
            4,
        )
        done.append("cluster")
    return f"by {' and '.join(done)}" if done else "not requested"


def _by_cluster(study: Study, y: str) -> pd.DataFrame:
    """Premium by (first) cluster: the imputation estimator averaged over each cluster's member
    firm-years (a tidy frame with terms ``cluster:<name>`` and the overall ``simple``)."""
    imputation_did = need("clusterimpact.estimation.imputation", "imputation_did")
    df = _frame(study)
    names = sorted(df["cluster"].dropna().astype(str).unique().tolist())
    code = {n: float(i + 1) for i, n in enumerate(names)}
    work = df.assign(_cluster_code=df["cluster"].astype("object").map(code).astype(float))
    res = call(
        imputation_did,
        work,
        outcome=y,
        cohort="treat_year",
        unit="firm_id",
        time="year",
        by="_cluster_code",
    )
    t = res.tidy()
    back = {f"_cluster_code::{v:g}": f"cluster:{n}" for n, v in code.items()}
    back.update({f"_cluster_code::{int(v)}": f"cluster:{n}" for n, v in code.items()})
    t["term"] = [back.get(str(term), str(term)) for term in t["term"]]
    rows = t[t["term"].str.startswith("cluster:")]
    return rows.reset_index(drop=True)


def _overall(res: Any) -> pd.Series:
    """The overall-effect row of a result's tidy frame (``simple``/``ATT``/``member``/first term)."""
    t = res.tidy()
    for term in ("simple", "ATT", "member", "overall"):
        hit = t[t["term"] == term]
        if len(hit):
            return hit.iloc[0]
    return t.iloc[0]


def _comparison_rows(study: Study, y: str) -> list[dict[str, Any]]:
    """TWFE, CS, SA, imputation and matched DiD overall effects on outcome y (reusing results)."""
    df = _frame(study)
    est = study.spec.estimation
    fits: dict[str, Any] = {}
    if f"twfe:{y}" in study.results:
        fits["TWFE"] = study.results[f"twfe:{y}"]
    if "cs" in est.estimators:
        r = study.results.get(f"cs_simple:{y}")
        if r is None:
            try:
                att_gt, aggte = need("clusterimpact.estimation.staggered", "att_gt", "aggte")
                gt = call(
                    att_gt,
                    df,
                    outcome=y,
                    cohort="treat_year",
                    control=est.control,
                    allow_unbalanced=True,
                    seed=study.seed + 1,
                )
                r = call(aggte, gt, type="simple")
            except Unavailable:
                r = None
        if r is not None:
            fits["Callaway-Sant'Anna"] = r
    if "sa" in est.estimators:
        r = study.results.get(f"sa:{y}")
        if r is None:
            try:
                sun_abraham = need("clusterimpact.estimation.sunab", "sun_abraham")
                r = call(sun_abraham, df, outcome=y, cohort="treat_year", window=est.event_window)
            except Unavailable:
                r = None
        if r is not None:
            fits["Sun-Abraham"] = r
    if "imputation" in est.estimators:
        try:
            imputation_did = need("clusterimpact.estimation.imputation", "imputation_did")
            fits["Imputation (BJS)"] = call(imputation_did, df, outcome=y, aggregation="simple")
        except Unavailable:
            pass
    if f"matched_did:{y}" in study.results:
        fits["Matched DiD"] = study.results[f"matched_did:{y}"]
    return [_overall_row(y, name, r) for name, r in fits.items()]


def _overall_row(y: str, name: str, res: Any) -> dict[str, Any]:
    """One row of the estimator comparison: the overall effect of ``res`` on outcome ``y``."""
    o = _overall(res)
    return {
        "outcome": label(y),
        "estimator": name,
        "term": str(o["term"]),
        "estimate": float(o["estimate"]),
        "std_error": float(o["std_error"]),
        "conf_low": float(o["conf_low"]),
        "conf_high": float(o["conf_high"]),
        "nobs": int(res.nobs),
    }


def _compare_rows(study: Study, y: str, compare_estimators: Any) -> list[dict[str, Any]]:
    """Overall effects on y from compare_estimators (TWFE on 1{t >= G}, CS, SA, imputation), plus
    the static premium on the membership dummy and matched DiD from this report's results."""
    est = study.spec.estimation
    wanted = [e for e in ("twfe", "cs", "sa", "imputation") if e in est.estimators]
    if not wanted:
        return []
    headline = y == _headline(study)
    reuse: dict[str, Any] = {}
    if headline:
        # the event-study step already fitted CS, SA and imputation on the headline outcome
        for k, res_key in (
            ("cs", f"cs_simple:{y}"),
            ("sa", f"sa:{y}"),
            ("imputation", f"imputation:{y}"),
        ):
            if k in wanted and study.results.get(res_key) is not None:
                reuse[k] = study.results[res_key]
    run = [e for e in wanted if e not in reuse]
    if headline and "twfe" not in run:
        run.append("twfe")  # for the Bacon decomposition
    cmp = call(
        compare_estimators,
        _frame(study),
        outcome=y,
        cohort="treat_year",
        estimators=run,
        terms="simple",
        control=est.control,
        cluster=est.cluster,
        window=est.event_window,
        bacon=headline,
        allow_unbalanced=True,
    )
    study.results[f"compare:{y}"] = cmp
    for k, why in dict(getattr(cmp, "failures", {}) or {}).items():
        study.note("robustness", f"{label(y)}: {k} could not run: {why}")
    if headline and getattr(cmp, "bacon", None) is not None:
        study.results["bacon"] = cmp.bacon
    rows = []
    overall = cmp.overall()
    for k, res in reuse.items():
        o = _overall(res)
        extra = pd.DataFrame(
            [
                {
                    "estimator": k,
                    "label": _EST_NAMES[k],
                    "term": str(o["term"]),
                    "estimate": float(o["estimate"]),
                    "std_error": float(o["std_error"]),
                    "conf_low": float(o["conf_low"]),
                    "conf_high": float(o["conf_high"]),
                    "nobs": int(res.nobs),
                }
            ]
        )
        overall = pd.concat([overall, extra], ignore_index=True)
    order = {k: i for i, k in enumerate(("twfe", "cs", "sa", "imputation"))}
    overall = overall[overall["estimator"].isin(wanted)]
    overall = overall.sort_values("estimator", key=lambda c: c.map(order), kind="mergesort")
    for r in overall.to_dict("records"):
        name = str(r.get("label", r["estimator"]))
        if name == "TWFE":
            name = "TWFE (1{t >= G})"
        rows.append(
            {
                "outcome": label(y),
                "estimator": name,
                "term": str(r["term"]),
                "estimate": float(r["estimate"]),
                "std_error": float(r["std_error"]),
                "conf_low": float(r["conf_low"]),
                "conf_high": float(r["conf_high"]),
                "nobs": int(r["nobs"]) if pd.notna(r.get("nobs")) else 0,
            }
        )
    for key, name in ((f"twfe:{y}", "TWFE (member dummy)"), (f"matched_did:{y}", "Matched DiD")):
        res = study.results.get(key)
        if res is not None:
            rows.append(_overall_row(y, name, res))
    return rows


def step_compare(study: Study) -> str:
    """TWFE vs CS vs SA vs imputation vs matched DiD, on every outcome."""
    if "compare" not in study.spec.estimation.estimators:
        return "not requested"
    try:
        compare_estimators = need("clusterimpact.estimation.compare", "compare_estimators")
    except Unavailable:
        compare_estimators = None
    rows = []
    for y in _outcomes(study):
        if compare_estimators is not None:
            rows += _compare_rows(study, y, compare_estimators)
        else:
            rows += _comparison_rows(study, y)
    if not rows:
        raise Unavailable("no estimator result to compare")
    table = pd.DataFrame(rows)
    study.results["comparison"] = table
    truth: dict[str, float] | None = None
    if study.truth:
        truth = {}
        for o in _outcomes(study):
            v = study.truth.get("att_overall_lp" if o == "ln_lp" else "att_overall")
            if v is not None:
                truth[label(o)] = float(v)
    try:
        comparison_table = need("clusterimpact.tables", "comparison_table")
        tab = call(comparison_table, table, truth=truth or None, digits=4)
        _add_rendered(
            study,
            "comparison",
            "robustness",
            "Estimators and outcomes compared",
            _COMPARE_CAPTION,
            tab,
        )
    except Unavailable:
        study.add_table(
            "comparison",
            "robustness",
            "Estimators and outcomes compared",
            _COMPARE_CAPTION,
            table,
            4,
        )
    _plot(
        study,
        "robustness",
        "comparison",
        "Estimators and outcomes compared",
        "plot_estimator_comparison",
        table,
        truth=truth or None,
    )
    _bacon_table(study)
    return f"{table['estimator'].nunique()} estimators on {table['outcome'].nunique()} outcome(s)"


def _bacon_table(study: Study) -> None:
    bacon = study.results.get("bacon")
    if bacon is None:
        return
    w = getattr(bacon, "weights_by_type", None)
    comps = getattr(bacon, "comparisons", None)
    if not isinstance(w, pd.Series) or not isinstance(comps, pd.DataFrame):
        return
    est_by_type = {}
    for typ, g in comps.groupby("type", sort=False):
        ww = g["weight"].to_numpy(dtype=float)
        est_by_type[typ] = (
            float((ww * g["estimate"].to_numpy(dtype=float)).sum() / ww.sum())
            if ww.sum() > 0
            else np.nan
        )
    t = pd.DataFrame(
        {
            "comparison": [str(k) for k in w.index],
            "weight": w.to_numpy(dtype=float),
            "average 2x2 estimate": [est_by_type.get(k, np.nan) for k in w.index],
        }
    )
    y = _headline(study)
    study.add_table(
        "bacon",
        "robustness",
        f"Goodman-Bacon decomposition of the TWFE estimate, {label(y)}",
        f"The TWFE coefficient ({float(getattr(bacon, 'twfe', np.nan)):.4f}) is a weighted average of "
        "2x2 DiD comparisons; comparisons that use already-treated firms as controls ('forbidden') "
        "bias it when effects grow with time since joining.",
        t,
        4,
    )


_COMPARE_CAPTION = (
    "Overall effect of membership on each outcome: TWFE (the static coefficient on 1{t >= G}, and on "
    "the membership dummy, which switches off after exit; firm and year FE), "
    "Callaway-Sant'Anna (simple aggregation of ATT(g,t)), Sun-Abraham, the imputation estimator "
    "(average over all member firm-years) and matched DiD (members vs matched controls). The "
    "estimands differ in their weighting of cohorts and years; TWFE can be biased when effects "
    "grow with duration."
)


def step_matched_did(study: Study) -> str:
    """Matched DiD on every outcome: weighted (mean post - g-1) of members minus matched controls."""
    if "matched_did" not in study.spec.estimation.estimators:
        return "not requested"
    res = study.results.get("matching")
    if res is None:
        raise Skipped("needs the matched sample, which was not built")
    from clusterimpact.provenance import make_provenance
    from clusterimpact.results import EstimateResult

    matched_did = need("clusterimpact.matching.panel", "_matched_did")
    sample = res.matched_panel
    window = study.spec.estimation.event_window
    models = {}
    for y in _outcomes(study):
        est, se, n_missing = matched_did(sample, y, "firm_id", window)
        r = EstimateResult(
            params=pd.Series({"ATT": float(est)}),
            std_errors=pd.Series({"ATT": float(se)}),
            nobs=int(len(sample)),
            method="matched_did",
            provenance=make_provenance("matched_did", None, study.seed, outcome=y),
            exclusions={"firm_stacks_missing_outcome": int(n_missing)} if n_missing else {},
        )
        study.results[f"matched_did:{y}"] = r
        models[label(y)] = r
    _regression_table(
        study,
        "matched_did",
        "matching",
        "Matched difference-in-differences, by outcome",
        "Members vs their matched controls (cohort-stacked, matching weights): mean outcome over "
        f"event times 0..{window[1]} minus the outcome in g-1; standard errors clustered by firm.",
        models,
    )
    return f"matched DiD on {', '.join(_outcomes(study))}"


STEPS: list[tuple[str, Callable[[Study], str | None]]] = [
    ("tfp", step_tfp),
    ("matching", step_matching),
    ("matched_did", step_matched_did),
    ("event_study", step_event_study),
    ("twfe", step_twfe),
    ("duration", step_duration),
    ("heterogeneity", step_heterogeneity),
    ("compare", step_compare),
    ("truth", step_truth),
]
