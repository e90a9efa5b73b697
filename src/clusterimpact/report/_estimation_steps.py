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
    """Call ``func`` with the keyword arguments its signature accepts (the others are dropped)."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return func(*args, **kwargs)
    params = sig.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return func(*args, **kwargs)
    return func(*args, **{k: v for k, v in kwargs.items() if k in params})


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
    study: Study, section: str, name: str, title: str, plot_name: str, *args: Any, **kw: Any
) -> None:
    """Draw one figure with plotting.<plot_name>; a failure becomes a note, never a failed step."""
    try:
        plot = need("clusterimpact.plotting", plot_name)
        ax = call(plot, *args, **kw)
    except Exception as exc:
        if study.strict and not isinstance(exc, Unavailable):
            raise
        study.note(section, f"Figure '{title}' not available: {exc}")
        log.warning("figure %s not drawn: %s", name, exc)
        return
    study.add_figure(name, section, title, ax)


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
            bootstrap=study.spec.bootstrap.tfp_reps,
            reps=study.spec.bootstrap.tfp_reps,
        )
        study.results[f"tfp:{m}"] = res
        df = _join_tfp(df, res, f"ln_tfp_{m}")
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
    study.add_table(
        "production_functions",
        "productivity",
        "Production-function estimates",
        "Value-added Cobb-Douglas in logs: output ln_va, free input ln_emp, state ln_capital, proxy "
        "ln_materials (ln_investment for Olley-Pakes); log TFP is the estimated productivity term.",
        table,
        digits=4,
    )
    return f"ln TFP by {', '.join(done)}"


def _join_tfp(df: pd.DataFrame, res: Any, col: str) -> pd.DataFrame:
    """Join a ProductionResult's TFP series to the panel frame by firm-year."""
    tfp = None
    for attr in ("tfp", "omega", "tfp_series"):
        tfp = getattr(res, attr, None)
        if tfp is not None:
            break
    if callable(tfp):
        tfp = tfp()
    out = df.copy()
    if isinstance(tfp, pd.DataFrame):
        keys = [k for k in ("firm_id", "year") if k in tfp.columns]
        val = next(
            (c for c in ("omega", "ln_tfp", "tfp", "omega_hat") if c in tfp.columns),
            None,
        )
        if len(keys) == 2 and val is not None:
            right = tfp[["firm_id", "year", val]].rename(columns={val: col})
            out = out.drop(columns=[col], errors="ignore").merge(
                right, on=["firm_id", "year"], how="left", validate="one_to_one"
            )
            return out
        if val is not None:
            tfp = tfp[val]
    if isinstance(tfp, pd.Series):
        if isinstance(tfp.index, pd.MultiIndex):
            idx = pd.MultiIndex.from_arrays([out["firm_id"], out["year"]])
            out[col] = tfp.reindex(idx).to_numpy(dtype=float)
        else:
            out[col] = tfp.reindex(out.index).to_numpy(dtype=float)
        return out
    raise SpecError(f"cannot find the TFP series on {type(res).__name__} to build {col}")


# -- matching --------------------------------------------------------------------------------------
def step_matching(study: Study) -> str:
    """Cohort-wise matching in the year before joining; balance and overlap."""
    if "matched_did" not in study.spec.estimation.estimators:
        pass  # matching is still reported: it is the study's quality check
    match_panel = need("clusterimpact.matching", "match_panel")
    m = study.spec.matching
    df = _frame(study)
    res = call(
        match_panel,
        df,
        covariates=list(m.covariates),
        trends=list(m.trends),
        exact=list(m.exact),
        method=m.method,
        neighbors=m.neighbors,
        caliper=m.caliper,
        replace=m.replace,
        pre_years=m.pre_years,
        outcome=_headline(study),
        seed=study.seed,
    )
    study.results["matching"] = res
    study.exclusions["matching"] = {
        k: int(v) for k, v in dict(getattr(res, "exclusions", {})).items()
    }
    bal = _balance(res)
    if bal is not None:
        study.add_table(
            "balance",
            "matching",
            "Balance before and after matching",
            "Standardised mean differences of the matching covariates, members vs controls in the "
            "year before joining; |SMD| < 0.1 is the usual threshold.",
            bal,
        )
    _plot(study, "matching", "love_plot", "Covariate balance (love plot)", "plot_love", res)
    _plot(study, "matching", "overlap", "Propensity-score overlap", "plot_overlap", res)
    sample = _matched_sample(res)
    if sample is not None:
        for y in _outcomes(study)[:1] + (
            [_headline(study)] if _headline(study) not in _outcomes(study)[:1] else []
        ):
            _plot(
                study,
                "matching",
                f"trajectories_{y}",
                f"Members vs matched controls: {label(y)}",
                "plot_trajectories",
                sample,
                outcome=y,
                outcome_label=label(y),
            )
    n_t = getattr(res, "n_treated", None)
    return f"matched sample built{'' if n_t is None else f'; {n_t:,} members matched'}"


def _balance(res: Any) -> pd.DataFrame | None:
    for name in ("balance", "balance_table"):
        b = getattr(res, name, None)
        if callable(b):
            b = b()
        if isinstance(b, pd.DataFrame):
            return b.reset_index(drop=True) if "covariate" in b.columns else b.reset_index()
    return None


def _matched_sample(res: Any) -> pd.DataFrame | None:
    for name in ("matched_panel", "stacked", "sample", "matched"):
        s = getattr(res, name, None)
        if callable(s):
            s = s()
        if isinstance(s, pd.DataFrame):
            return s
    return None


# -- the premium -----------------------------------------------------------------------------------
def _fit_event_studies(study: Study, y: str) -> dict[str, Any]:
    """CS, SA and imputation event studies of outcome y (those requested and available)."""
    est = study.spec.estimation
    df = _frame(study)
    lo, hi = est.event_window
    out: dict[str, Any] = {}
    common = {
        "outcome": y,
        "cohort": "treat_year",
        "unit": "firm_id",
        "time": "year",
        "control": est.control,
        "window": (lo, hi),
        "seed": study.seed + 1,
        "cluster": est.cluster,
    }
    missing = []
    if "cs" in est.estimators:
        try:
            att_gt, aggte = need("clusterimpact.estimation.staggered", "att_gt", "aggte")
        except Unavailable as exc:
            missing.append(str(exc))
        else:
            draws = study.spec.bootstrap.did_draws
            gt = call(att_gt, df, bootstrap=draws > 0, n_boot=max(draws, 1), **common)
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
            out["sa"] = call(sun_abraham, df, **common)
    if "imputation" in est.estimators:
        try:
            imputation_did = need("clusterimpact.estimation.imputation", "imputation_did")
        except Unavailable as exc:
            missing.append(str(exc))
        else:
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
    res = call(
        duration_effects,
        df,
        outcome=y,
        bins=list(est.duration_bins),
        cluster=est.cluster,
        seed=study.seed + 3,
    )
    study.results["duration"] = res
    study.results[f"duration:{y}"] = res
    truth = None
    if study.truth and "member_years" in study.truth:
        truth = study.truth["member_years"]
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
            )
            gr = call(aggte, gt, "group", type="group")
        study.results["by_cohort"] = gr
        _plot(
            study,
            "heterogeneity",
            "by_cohort",
            f"Premium by joining cohort: {label(y)}",
            "plot_forest",
            gr,
            terms="group:",
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
        )
        _tidy_table(
            study,
            "by_cluster",
            "heterogeneity",
            f"Premium by cluster, {label(y)}",
            "Average effect on members of each cluster (their first cluster), imputation estimator.",
            res,
        )
        done.append("cluster")
    return f"by {' and '.join(done)}" if done else "not requested"


def _by_cluster(study: Study, y: str) -> Any:
    """Premium by (first) cluster: the imputation estimator averaged by cluster."""
    imputation_did = need("clusterimpact.estimation.imputation", "imputation_did")
    return call(
        imputation_did,
        _frame(study),
        outcome=y,
        cohort="treat_year",
        unit="firm_id",
        time="year",
        by="cluster",
    )


def step_compare(study: Study) -> str:
    """TWFE vs CS vs SA vs imputation vs matched DiD, on every outcome."""
    if "compare" not in study.spec.estimation.estimators:
        return "not requested"
    df = _frame(study)
    compare_estimators = need("clusterimpact.estimation.compare", "compare_estimators")
    nested: dict[str, dict[str, Any]] = {}
    frames = []
    for y in _outcomes(study):
        res = call(
            compare_estimators,
            df,
            outcome=y,
            cohort="treat_year",
            control=study.spec.estimation.control,
            seed=study.seed + 1,
        )
        study.results[f"compare:{y}"] = res
        t = res.tidy() if hasattr(res, "tidy") else res
        t = t.copy()
        t.insert(0, "outcome", label(y))
        frames.append(t)
        md = study.results.get(f"matched_did:{y}")
        if md is not None:
            nested.setdefault(label(y), {})["Matched DiD"] = md
    table = pd.concat(frames, ignore_index=True)
    study.results["comparison"] = table
    study.add_table(
        "comparison",
        "robustness",
        "Estimator and outcome comparison",
        "Overall effect of membership on each outcome by estimator.",
        table,
        4,
    )
    truth = None
    if study.truth:
        truth = {label("ln_lp"): study.truth.get("att_overall_lp")}
        for o in _outcomes(study):
            if o.startswith("ln_tfp"):
                truth[label(o)] = study.truth.get("att_overall")
    _plot(
        study,
        "robustness",
        "comparison",
        "Estimators and outcomes compared",
        "plot_estimator_comparison",
        table,
        truth=truth,
    )
    return f"{len(frames)} outcome(s)"


def step_matched_did(study: Study) -> str:
    """DiD on the matched, cohort-stacked panel."""
    if "matched_did" not in study.spec.estimation.estimators:
        return "not requested"
    res = study.results.get("matching")
    if res is None:
        raise Unavailable("matching did not run, so there is no matched sample")
    fn = need("clusterimpact.matching", "matched_did")
    out = []
    for y in _outcomes(study):
        r = call(fn, res, outcome=y, data=_frame(study))
        study.results[f"matched_did:{y}"] = r
        out.append(y)
    return f"matched DiD on {', '.join(out)}"


def step_truth(study: Study) -> str:
    """On synthetic data: estimates against the known truth."""
    if not study.truth:
        return "no truth (real data)"
    truth = study.truth
    rows = []
    y = _headline(study)
    key = "att_lp" if y == "ln_lp" else "att"
    overall_truth = truth.get("att_overall_lp" if y == "ln_lp" else "att_overall")
    for name, res_key in (("TWFE", f"twfe:{y}"), ("CS simple", f"cs_simple:{y}")):
        r = study.results.get(res_key)
        if r is None or overall_truth is None:
            continue
        t = r.tidy().iloc[0]
        rows.append(_truth_row(name, str(t["term"]), t, float(overall_truth)))
    dur = study.results.get("duration")
    if dur is not None and "member_years" in truth:
        prof = dur.profile()
        tv = {str(k): v for k, v in truth["member_years"].items()}
        for r in prof.itertuples(index=False):
            k = str(int(r.x)) if float(r.x).is_integer() else str(r.x)
            if k in tv and isinstance(tv[k], dict) and tv[k].get(key) is not None:
                rows.append(_truth_row("duration", r.term, r._asdict(), float(tv[k][key])))
    for m in study.spec.outcomes.tfp_methods:
        r = study.results.get(f"tfp:{m}")
        el = truth.get("elasticities", {})
        if r is None:
            continue
        for t in r.tidy().itertuples(index=False):
            if t.term in el:
                rows.append(_truth_row(f"tfp {m}", t.term, t._asdict(), float(el[t.term])))
    if not rows:
        raise Unavailable("no estimate to compare with the truth")
    table = pd.DataFrame(rows)
    study.results["truth_table"] = table
    study.add_table(
        "truth",
        "truth",
        "Estimates against the known truth",
        f"Synthetic scenario {truth.get('scenario', '?')!r}, seed {truth.get('seed', '?')}; "
        "|error|/SE above 3 flags an estimate that misses the truth.",
        table,
        4,
    )
    if dur is not None and "member_years" in truth:
        _plot(
            study,
            "truth",
            "truth_vs_estimate",
            "Duration profile against the truth",
            "plot_truth_vs_estimate",
            dur,
            truth["member_years"],
            truth_key=key,
        )
    within = int((table["|error|/SE"] <= 3).sum())
    return f"{within} of {len(table)} estimates within 3 SE of the truth"


def _truth_row(estimator: str, term: str, t: Any, truth: float) -> dict[str, Any]:
    get = t.get if hasattr(t, "get") else (lambda k: getattr(t, k))
    est, se = float(get("estimate")), float(get("std_error"))
    return {
        "estimator": estimator,
        "term": term,
        "estimate": est,
        "std_error": se,
        "truth": truth,
        "|error|/SE": abs(est - truth) / se if se > 0 else np.nan,
    }


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
